"""PromQL as the checks and generators read it: parsed with promql_parser (Prometheus' grammar,
never regexes) and walked once, here, for every question asked of an expression.

`parse` names where a bad expression came from; `walk` visits every node with the path from the
root, so a question about context (is this selector subtracted? is it the argument of rate()?) is a
question about the path. The rest answers what rules, SLO tests and dashboard lints ask: the series
selectors (with the sign each contributes with and the function each is read through), the metric
names, and the range durations.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeAlias

import promql_parser as pp

Expr: TypeAlias = pp.Expr
# From the root down to a node's parent: each ancestor and which of its children leads on.
Path: TypeAlias = tuple[tuple[pp.Expr, int], ...]


class PromQLError(ValueError):
    """An expression that is not valid PromQL: where it came from, the parser's reason, the text."""

    def __init__(self, expr: str, reason: str, where: str | None = None):
        self.expr = expr
        self.reason = reason
        self.where = where
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}not valid PromQL ({reason}); expected a PromQL expression: {expr!r}")


def parse(expr: str, where: str | None = None) -> Expr:
    """The parsed expression; PromQLError naming `where` (a file, rule or panel) when it is invalid."""
    try:
        return pp.parse(expr)
    except (ValueError, RuntimeError) as exc:
        raise PromQLError(expr, str(exc), where) from exc


def _children(node: Expr) -> tuple[Expr, ...]:
    if isinstance(node, pp.MatrixSelector):
        return (node.vector_selector,)
    if isinstance(node, pp.BinaryExpr):
        return (node.lhs, node.rhs)
    if isinstance(node, pp.Call):
        return tuple(node.args)
    if isinstance(node, pp.AggregateExpr):
        # The parameter of topk/quantile/count_values can itself select series.
        return (node.expr,) if node.param is None else (node.param, node.expr)
    if isinstance(node, pp.ParenExpr | pp.SubqueryExpr | pp.UnaryExpr):
        return (node.expr,)
    return ()  # selectors' leaves, number and string literals


def walk(tree: Expr, path: Path = ()) -> Iterator[tuple[Expr, Path]]:
    """Every node of `tree`, parents before children, each with its path from the root."""
    yield tree, path
    for i, child in enumerate(_children(tree)):
        yield from walk(child, (*path, (tree, i)))


def _tree(expr: str | Expr, where: str | None) -> Expr:
    return parse(expr, where) if isinstance(expr, str) else expr


def sign(path: Path) -> int:
    """+1 when more of the node means more of the expression, -1 when it is subtracted or negated."""
    out = 1
    for parent, i in path:
        if isinstance(parent, pp.UnaryExpr) or (
            isinstance(parent, pp.BinaryExpr) and str(parent.op) == "-" and i == 1
        ):
            out = -out
    return out


def argument_of(path: Path) -> pp.Call | None:
    """The call the node is an argument of, through a range selector (rate(x[5m]) for x), if any."""
    for parent, _ in reversed(path):
        if isinstance(parent, pp.MatrixSelector):
            continue
        return parent if isinstance(parent, pp.Call) else None
    return None


@dataclass(frozen=True)
class Selector:
    name: str
    # (label, op, value) with op one of "=", "!=", "=~", "!~"; the metric name is not repeated here
    matchers: tuple[tuple[str, str, str], ...]
    # +1 when more of this series means more of the expression, -1 when it is subtracted
    sign: int = 1
    # the function it is an argument of, through a range (rate for rate(x[5m]))
    function: str | None = None

    @property
    def equal(self) -> dict[str, str]:
        return {n: v for n, op, v in self.matchers if op == "="}


# promql_parser's MatchOp is not hashable; its str() names the member.
_OPS = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}


def _selector(vs: pp.VectorSelector, path: Path) -> Selector:
    name = vs.name or ""
    matchers = []
    for m in vs.matchers.matchers:
        if m.name == "__name__":
            name = name or m.value
        else:
            matchers.append((m.name, _OPS[str(m.op)], m.value))
    call = argument_of(path)
    return Selector(name, tuple(sorted(matchers)), sign(path), call.func.name if call else None)


def selectors(expr: str | Expr, where: str | None = None) -> list[Selector]:
    """Every series selector, in the order written, with the sign it contributes with."""
    tree = _tree(expr, where)
    return [_selector(node, path) for node, path in walk(tree) if isinstance(node, pp.VectorSelector)]


def metric_names(expr: str | Expr, where: str | None = None) -> set[str]:
    """The metric names the expression selects (by name or by a __name__ matcher)."""
    return {s.name for s in selectors(expr, where) if s.name}


@dataclass(frozen=True)
class Range:
    """A range selector `x[5m]` or a subquery `(...)[1h:1m]`, and the call it is an argument of."""

    duration: timedelta | None  # promql_parser types a subquery's range as optional
    function: str | None
    subquery: bool


def ranges(expr: str | Expr, where: str | None = None) -> list[Range]:
    """Every range selector and subquery, in the order written."""
    out = []
    for node, path in walk(_tree(expr, where)):
        if isinstance(node, pp.MatrixSelector | pp.SubqueryExpr):
            call = argument_of(path)
            subquery = isinstance(node, pp.SubqueryExpr)
            out.append(Range(node.range, call.func.name if call else None, subquery))
    return out


_COMPARISONS = ("==", "!=", ">=", "<=", ">", "<")
_OPEN, _CLOSE = "([{", ")]}"


def _top_level_comparisons(text: str) -> list[tuple[int, str]]:
    """Where comparison operators stand outside any parentheses, brackets, braces or strings."""
    found: list[tuple[int, str]] = []
    depth, i, quote = 0, 0, ""
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\" and quote != "`":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'`":
            quote = ch
        elif ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth -= 1
        elif depth == 0:
            op = next((o for o in _COMPARISONS if text.startswith(o, i)), None)
            if op is not None and not text.startswith(("=~", "!~"), i):
                found.append((i, op))
                i += len(op)
                continue
        i += 1
    return found


def _unwrapped(text: str) -> str:
    """`text` without parentheses around all of it."""
    text = text.strip()
    while text.startswith("(") and text.endswith(")"):
        depth = 0
        for i, ch in enumerate(text):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0 and i < len(text) - 1:
                return text
        text = text[1:-1].strip()
    return text


def is_number_filter(tree: Expr) -> bool:
    """The expression keeps the series of its left side whose value compares true against a number
    (`sum(rate(x[5m])) > 0`): a filter, not a `bool` comparison or a comparison of two vectors."""
    while isinstance(tree, pp.ParenExpr):
        tree = tree.expr
    return (
        isinstance(tree, pp.BinaryExpr)
        and str(tree.op) in _COMPARISONS
        and isinstance(tree.rhs, pp.NumberLiteral)
        and not (tree.modifier is not None and tree.modifier.return_bool)
    )


def without_number_filter(text: str, tree: Expr) -> str:
    """`text` (whose parse is `tree`; it may hold template placeholders inside brackets) without
    its filter against a number when `is_number_filter(tree)`, else `text` unchanged."""
    if not is_number_filter(tree):
        return text
    inner = _unwrapped(text)
    comparisons = _top_level_comparisons(inner)
    return inner[: comparisons[-1][0]].strip() if comparisons else text
