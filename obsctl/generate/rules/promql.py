"""What a PromQL expression selects, read with the promql_parser package (not regexes)."""

from __future__ import annotations

from dataclasses import dataclass

import promql_parser as pp


@dataclass(frozen=True)
class Selector:
    name: str
    # (label, op, value) with op one of "=", "!=", "=~", "!~"; the metric name is not repeated here
    matchers: tuple[tuple[str, str, str], ...]
    # +1 when more of this series means more of the expression, -1 when it is subtracted
    sign: int = 1

    @property
    def equal(self) -> dict[str, str]:
        return {n: v for n, op, v in self.matchers if op == "="}


_OPS = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}


def _selector(vs: pp.VectorSelector, sign: int) -> Selector:
    name = vs.name or ""
    matchers = []
    for m in vs.matchers.matchers:
        if m.name == "__name__":
            name = name or m.value
            continue
        matchers.append((m.name, _OPS[str(m.op)], m.value))
    return Selector(name, tuple(sorted(matchers)), sign)


def _walk(node: object, sign: int, out: list[Selector]) -> None:
    if isinstance(node, pp.VectorSelector):
        out.append(_selector(node, sign))
    elif isinstance(node, pp.MatrixSelector):
        out.append(_selector(node.vector_selector, sign))
    elif isinstance(node, pp.BinaryExpr):
        _walk(node.lhs, sign, out)
        _walk(node.rhs, -sign if str(node.op) == "-" else sign, out)
    elif isinstance(node, pp.Call):
        for arg in node.args:
            _walk(arg, sign, out)
    elif isinstance(node, pp.AggregateExpr | pp.ParenExpr | pp.SubqueryExpr):
        _walk(node.expr, sign, out)
    elif isinstance(node, pp.UnaryExpr):
        _walk(node.expr, -sign, out)


def selectors(expr: str) -> list[Selector]:
    """Every series selector in `expr`, with the sign it contributes with."""
    out: list[Selector] = []
    _walk(pp.parse(expr), 1, out)
    return out


def metric_names(expr: str) -> set[str]:
    return {s.name for s in selectors(expr) if s.name}
