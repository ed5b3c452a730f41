"""Numbers printed the way a human writes them: 0.001, 14.4, 30 (never 0.0009999999999999432),
and YAML scalars turned into strings the way Sloth turns them (label values such as `tier: 2`)."""

from __future__ import annotations

import datetime
import math
import struct
from decimal import Decimal
from typing import Any

# Enough digits for any objective people write (99.999...) and burn factors like 28d's 0.9333...
_PLACES = Decimal("1e-12")


def clean(value: Decimal | int | float | str) -> str:
    d = value if isinstance(value, Decimal) else Decimal(str(value))
    d = d.quantize(_PLACES).normalize()
    text = format(d, "f")
    return "0" if text in ("-0", "") else text


def _float32(x: float) -> float:
    return float(struct.unpack("f", struct.pack("f", x))[0])


def _go_float32(x: float) -> str:
    """Go's strconv.FormatFloat(x, 'g', -1, 32): the shortest digits that read back as the same
    float32, in exponent form when the exponent is below -4 or at least 6."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    f = _float32(x)
    if f == 0:
        return "-0" if math.copysign(1, f) < 0 else "0"
    for precision in range(1, 10):
        text = f"{f:.{precision - 1}e}"
        if _float32(float(text)) == f:
            break
    mantissa, exp_text = text.split("e")
    sign = "-" if mantissa.startswith("-") else ""
    digits = mantissa.lstrip("-").replace(".", "").rstrip("0") or "0"
    exp = int(exp_text)
    if exp < -4 or exp >= 6:
        rest = f".{digits[1:]}" if len(digits) > 1 else ""
        return f"{sign}{digits[0]}{rest}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp < 0:
        return f"{sign}0.{'0' * (-exp - 1)}{digits}"
    whole, frac = digits[: exp + 1], digits[exp + 1 :]
    return f"{sign}{whole.ljust(exp + 1, '0')}{'.' + frac if frac else ''}"


def yaml_string(value: Any) -> Any:
    """A YAML scalar where Sloth expects a string (labels, annotations, names), stringified as
    Sloth's YAML reading does: `2` -> "2", `0.2` -> "0.2" (as a float32), `true` -> "true". Anything
    else (null, a list, a mapping) is returned unchanged for the model to refuse."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float32(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value
