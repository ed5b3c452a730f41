"""Numbers printed the way a human writes them: 0.001, 14.4, 30 (never 0.0009999999999999432)."""

from __future__ import annotations

from decimal import Decimal

# Enough digits for any objective people write (99.999...) and burn factors like 28d's 0.9333...
_PLACES = Decimal("1e-12")


def clean(value: Decimal | int | float | str) -> str:
    d = value if isinstance(value, Decimal) else Decimal(str(value))
    d = d.quantize(_PLACES).normalize()
    text = format(d, "f")
    return "0" if text in ("-0", "") else text
