"""A small evaluator of the OTTL statements our transform processors use, as rendered in a config.

It reads a generated collector config, undoes the collector's `$$` escape, parses each statement
and applies it to spans and log records represented as plain dicts, the way the transform
processor of the pinned release does. It knows only the functions the redaction uses
(delete_matching_keys, replace_all_patterns, replace_pattern, the SHA256 converter and an
IsString condition) and refuses anything else, so a new kind of rule cannot go untested.

Regexes run with Python's `re` in ASCII mode; `assert_re2` rejects the constructs RE2 (the
collector's engine) lacks, so both engines read the same patterns the same way.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from obsctl.generate.collector.table import component_type

Record = dict[str, Any]


class OttlError(Exception):
    """A statement this evaluator cannot parse or apply (a test failure, not a user error)."""


class OttlRuntimeError(OttlError):
    """A statement that failed on one record (a non-string body, say): error_mode ignore skips it."""


_RE2_UNSUPPORTED = re.compile(r"\(\?[=!]|\(\?<[=!]|\\[1-9]|\(\?P=|\(\?>|[*+?}]\+")


def assert_re2(pattern: str) -> None:
    if _RE2_UNSUPPORTED.search(pattern):
        raise OttlError(f"pattern uses a construct RE2 does not support: {pattern}")


def confmap_unescape(text: str) -> str:
    """What the collector's config loader leaves of a string: `$$` becomes `$`."""
    return text.replace("$$", "$")


# ---------------------------------------------------------------- parsing


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Path:
    parts: tuple[str, ...]


@dataclass(frozen=True)
class Ident:
    name: str


@dataclass(frozen=True)
class Statement:
    call: Call
    condition: Call | None


_TOKEN = re.compile(
    r'\s*(?:(?P<string>"(?:\\.|[^"\\])*")|(?P<ident>[A-Za-z_][A-Za-z0-9_.]*)|(?P<punct>[(),]))'
)


def _unquote(literal: str) -> str:
    body = literal[1:-1]
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            nxt = body[i + 1] if i + 1 < len(body) else ""
            if nxt not in ('"', "\\"):
                raise OttlError(f"unsupported escape \\{nxt} in {literal}")
            out.append(nxt)
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _tokens(text: str) -> list[tuple[str, str]]:
    pos, out = 0, []
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise OttlError(f"cannot parse statement at {text[pos:]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str):
        self.tokens = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise OttlError(f"expected {value or 'a token'}, got {tok}")
        self.i += 1
        return tok

    def call(self) -> Call:
        kind, name = self.take()
        if kind != "ident":
            raise OttlError(f"expected a function name, got {name}")
        self.take("(")
        args: list[Any] = []
        while self.peek() and self.peek() != ("punct", ")"):
            args.append(self.arg())
            if self.peek() == ("punct", ","):
                self.take(",")
        self.take(")")
        return Call(name, tuple(args))

    def arg(self) -> Any:
        kind, value = self.take()
        if kind == "string":
            return _unquote(value)
        if kind == "ident":
            if self.peek() == ("punct", "("):
                self.i -= 1
                return self.call()
            return Path(tuple(value.split("."))) if "." in value else Ident(value)
        raise OttlError(f"unexpected {value}")

    def statement(self) -> Statement:
        call = self.call()
        condition = None
        if self.peek() == ("ident", "where"):
            self.take("where")
            condition = self.call()
        if self.peek() is not None:
            raise OttlError(f"trailing tokens after statement: {self.tokens[self.i :]}")
        return Statement(call, condition)


def parse(statement: str) -> Statement:
    return _Parser(statement).statement()


# ---------------------------------------------------------------- evaluation


def _compile(pattern: str) -> re.Pattern[str]:
    assert_re2(pattern)
    return re.compile(pattern, re.ASCII)


def go_expand(template: str, m: re.Match[str]) -> str:
    """Go's regexp.Expand: $1, ${1}, $name, ${name}; $$ is a literal $; unknown groups expand empty."""
    out, i = [], 0
    while i < len(template):
        ch = template[i]
        if ch != "$":
            out.append(ch)
            i += 1
            continue
        if template.startswith("$$", i):
            out.append("$")
            i += 2
            continue
        if template.startswith("${", i) and "}" in template[i:]:
            end = template.index("}", i)
            name, i = template[i + 2 : end], end + 1
        else:
            j = i + 1
            while j < len(template) and (template[j].isalnum() or template[j] == "_"):
                j += 1
            name, i = template[i + 1 : j], j
            if not name:
                out.append("$")
                continue
        try:
            group = m.group(int(name)) if name.isdigit() else m.group(name)
        except IndexError:  # no such group: Go expands it to nothing
            group = None
        out.append(group or "")
    return "".join(out)


_CONVERTERS = {"SHA256": lambda s: hashlib.sha256(s.encode()).hexdigest()}


def _replace(value: str, pattern: str, replacement: str, fn: Ident | None, fmt: str | None) -> str:
    regex = _compile(pattern)
    if fn is None:
        return regex.sub(lambda m: go_expand(replacement, m), value)
    if fn.name not in _CONVERTERS:
        raise OttlError(f"unsupported converter {fn.name}")
    # As the release does it: each match's expanded replacement goes through the converter, is
    # formatted, and every occurrence of the matched text is replaced.
    updated = value
    for m in regex.finditer(value):
        hashed = _CONVERTERS[fn.name](go_expand(replacement, m))
        updated = updated.replace(m.group(0), (fmt or "%s").replace("%s", hashed))
    return updated


def _resolve(path: Path, context: str, record: Record) -> tuple[Record, str]:
    prefix, *rest = path.parts
    if prefix != context or len(rest) != 1 or rest[0] not in ("attributes", "body"):
        raise OttlError(f"path {'.'.join(path.parts)} not supported in context {context}")
    return record, rest[0]


def _optional(args: tuple[Any, ...], n: int) -> tuple[Ident | None, str | None]:
    fn = args[n] if len(args) > n else None
    fmt = args[n + 1] if len(args) > n + 1 else None
    if fn is not None and not isinstance(fn, Ident):
        raise OttlError(f"expected a converter name, got {fn}")
    return fn, fmt


def _condition_holds(cond: Call | None, context: str, record: Record) -> bool:
    if cond is None:
        return True
    if cond.name == "IsString" and len(cond.args) == 1 and isinstance(cond.args[0], Path):
        holder, field = _resolve(cond.args[0], context, record)
        return isinstance(holder.get(field), str)
    raise OttlError(f"unsupported condition {cond.name}")


def apply(statement: Statement, context: str, record: Record) -> None:
    if not _condition_holds(statement.condition, context, record):
        return
    call = statement.call
    if not call.args or not isinstance(call.args[0], Path):
        raise OttlError(f"{call.name}: first argument must be a path")
    holder, field = _resolve(call.args[0], context, record)
    if call.name == "delete_matching_keys":
        regex = _compile(call.args[1])
        target = holder.setdefault(field, {})
        for key in [k for k in target if regex.search(k)]:
            del target[key]
    elif call.name == "replace_all_patterns":
        mode, pattern, replacement = call.args[1:4]
        if mode != "value":
            raise OttlError("replace_all_patterns: only mode 'value' is used here")
        fn, fmt = _optional(call.args, 4)
        target = holder.setdefault(field, {})
        regex = _compile(pattern)
        for key, value in list(target.items()):
            if isinstance(value, str) and regex.search(value):
                target[key] = _replace(value, pattern, replacement, fn, fmt)
    elif call.name == "replace_pattern":
        pattern, replacement = call.args[1:3]
        fn, fmt = _optional(call.args, 3)
        value = holder.get(field)
        if not isinstance(value, str):
            raise OttlRuntimeError(f"replace_pattern on a {type(value).__name__}")
        holder[field] = _replace(value, pattern, replacement, fn, fmt)
    else:
        raise OttlError(f"unsupported function {call.name}")


# ---------------------------------------------------------------- configs


_GROUPS = {"traces": "trace_statements", "logs": "log_statements"}


def _transforms_for(config: dict[str, Any], signal: str) -> list[dict[str, Any]]:
    """Transform processors a record of `signal` passes from the receiver, in pipeline order."""
    pipelines = (config.get("service") or {}).get("pipelines") or {}
    connectors = set((config.get("connectors") or {}).keys())
    out = []
    for pid, p in pipelines.items():
        if pid.split("/")[0] != signal or any(r in connectors for r in p.get("receivers", [])):
            continue
        for cid in p.get("processors", []):
            if component_type(cid) == "transform":
                out.append(config["processors"][cid])
    return out


def _paths(node: Any) -> Iterator[Path]:
    if isinstance(node, Path):
        yield node
    elif isinstance(node, Call):
        for arg in node.args:
            yield from _paths(arg)


def infer_context(statements: list[Statement], declared: str | None) -> str:
    """The group's context: the declared one, or the single prefix all its paths share."""
    prefixes = {
        p.parts[0] for s in statements for c in (s.call, s.condition) if c is not None for p in _paths(c)
    }
    if declared is not None:
        return declared
    if len(prefixes) != 1:
        raise OttlError(f"cannot infer one context from path prefixes {sorted(prefixes)}")
    return prefixes.pop()


def _run(processor: dict[str, Any], signal: str, record: Record) -> None:
    ignore = processor.get("error_mode", "propagate") != "propagate"
    for group in processor.get(_GROUPS[signal], []):
        statements = [parse(confmap_unescape(raw)) for raw in group["statements"]]
        context = infer_context(statements, group.get("context"))
        targets = record.get("events", []) if context == "spanevent" else [record]
        for statement in statements:
            for target in targets:
                try:
                    apply(statement, context, target)
                except OttlRuntimeError:
                    if not ignore:
                        raise


def _redact(config: dict[str, Any], signal: str, record: Record) -> Record:
    out = copy.deepcopy(record)
    transforms = _transforms_for(config, signal)
    if not transforms:
        raise OttlError(f"no transform processor in the {signal} pipeline fed by a receiver")
    for processor in transforms:
        _run(processor, signal, out)
    return out


def redact_span(config: dict[str, Any], span: Record) -> Record:
    """The span as the exporters would see it: {"attributes": {...}, "events": [{"attributes": {...}}]}."""
    return _redact(config, "traces", span)


def redact_log(config: dict[str, Any], log: Record) -> Record:
    """The log record as the exporters would see it: {"body": ..., "attributes": {...}}."""
    return _redact(config, "logs", log)
