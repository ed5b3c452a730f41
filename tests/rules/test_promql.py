"""The one PromQL reader: what rules, SLO tests and dashboard lints ask of an expression."""

from __future__ import annotations

from datetime import timedelta

import pytest

from obsctl.generate import promql


def test_selectors_carry_their_sign_and_the_function_reading_them() -> None:
    found = promql.selectors('sum(rate(a_total{job="x"}[5m])) - -b + topk(scalar(c), d) - e')
    assert [(s.name, s.sign, s.function) for s in found] == [
        ("a_total", 1, "rate"),
        ("b", 1, None),
        ("c", 1, "scalar"),
        ("d", 1, None),
        ("e", -1, None),
    ]
    assert found[0].matchers == (("job", "=", "x"),) and found[0].equal == {"job": "x"}


def test_metric_names_include_name_matchers() -> None:
    assert promql.metric_names('{__name__="up", job="x"} or absent(b)') == {"up", "b"}


def test_ranges_name_the_function_they_feed() -> None:
    found = promql.ranges("rate(a[5m]) + max_over_time(rate(b[1m])[1h:1m])")
    assert [(r.function, r.duration, r.subquery) for r in found] == [
        ("rate", timedelta(minutes=5), False),
        ("max_over_time", timedelta(hours=1), True),
        ("rate", timedelta(minutes=1), False),
    ]


def test_an_invalid_expression_names_where_it_came_from() -> None:
    with pytest.raises(promql.PromQLError) as exc:
        promql.metric_names("sum(rate((", where="alerts/rules/x.yml: alert X")
    assert str(exc.value).startswith("alerts/rules/x.yml: alert X: not valid PromQL (")
    assert exc.value.expr == "sum(rate((" and isinstance(exc.value, ValueError)
