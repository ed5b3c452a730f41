"""Template-variable substitution as Grafana does it, and the metric names a PromQL query selects."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import promql_parser

# Grafana's built-in interval variables, with the values a 15s scrape interval gives.
BUILTINS = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__interval_ms": "15000",
    "__range": "6h",
    "__range_s": "21600",
    "__range_ms": "21600000",
}
# $name, ${name}, ${name:format} and [[name]]: the syntaxes Grafana interpolates.
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)")


def _regex_escape(value: str) -> str:
    # Grafana's Prometheus datasource escapes regex metacharacters with a doubled backslash, since
    # the value lands inside a PromQL string literal where one backslash would be an escape.
    return re.sub(r"([\\^$.|?*+()\[\]{}])", r"\\\\\1", value)


def substitute(expr: str, values: Mapping[str, str | Sequence[str]]) -> str:
    """Replace template variables as Grafana would: one value verbatim, several as (a|b)."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        if name in values:
            value = values[name]
            if isinstance(value, str):
                return value
            if len(value) == 1:
                return value[0]
            return "(" + "|".join(_regex_escape(v) for v in value) + ")"
        if name in BUILTINS:
            return BUILTINS[name]
        raise KeyError(f"no value for template variable ${name}")

    return _VARIABLE.sub(replace, expr)


def _walk(node: object, out: set[str]) -> None:
    if isinstance(node, promql_parser.VectorSelector):
        if node.name:
            out.add(node.name)
        for matcher in node.matchers.matchers:
            if matcher.name == "__name__":
                out.add(matcher.value)
        return
    for attr in ("expr", "lhs", "rhs", "vector_selector", "param"):
        child = getattr(node, attr, None)
        if child is not None and not isinstance(child, str | int | float):
            _walk(child, out)
    for arg in getattr(node, "args", None) or ():
        _walk(arg, out)


def parse(expr: str) -> object:
    """The parsed expression; ValueError (with the parser's message) when it is not valid PromQL."""
    return promql_parser.parse(expr)


def metric_names(expr: str) -> set[str]:
    out: set[str] = set()
    _walk(parse(expr), out)
    return out
