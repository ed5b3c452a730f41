"""Render the sensitive-data rules of observability/collector.yaml as OTTL statements.

One transform processor carries them all, for spans, span events and logs. Every `$` is doubled
because the collector expands `${...}` in its config before OTTL sees it (`$$` is the escape), and
regexes are written as OTTL string literals (backslashes and quotes escaped).
"""

from __future__ import annotations

from typing import Any

from obsctl.generate.sources.collector import Redaction


def ottl_string(text: str) -> str:
    """An OTTL string literal for `text`."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def confmap_escape(statement: str) -> str:
    """Protect `$` from the collector's ${env:...} expansion (it turns `$$` back into `$`)."""
    return statement.replace("$", "$$")


def _map_statements(rules: Redaction, target: str) -> list[str]:
    out = [f"delete_matching_keys({target}, {ottl_string(r.key_pattern)})" for r in rules.delete_keys]
    out += [
        f'replace_all_patterns({target}, "value", {ottl_string(r.pattern)}, {ottl_string(r.replacement)})'
        for r in rules.mask_values
    ]
    # The whole match is captured as group 1 and `$1` is the replacement the function receives:
    # the release hashes the expanded replacement of each match and formats it with the last
    # argument, so every match becomes <prefix><sha256 hex of the match>.
    out += [
        f'replace_all_patterns({target}, "value", {ottl_string("(" + r.pattern + ")")}, "$1", SHA256, '
        f"{ottl_string(r.prefix + '%s')})"
        for r in rules.hash_values
    ]
    return out


def _body_statements(rules: Redaction, target: str) -> list[str]:
    only_strings = f" where IsString({target})"
    out = [
        f"replace_pattern({target}, {ottl_string(r.pattern)}, {ottl_string(r.replacement)}){only_strings}"
        for r in rules.mask_values
    ]
    out += [
        f'replace_pattern({target}, {ottl_string("(" + r.pattern + ")")}, "$1", SHA256, '
        f"{ottl_string(r.prefix + '%s')}){only_strings}"
        for r in rules.hash_values
    ]
    return out


def transform_processor(rules: Redaction) -> dict[str, Any]:
    """The transform processor config that applies every rule to traces and logs."""

    # One group per context, the context named: the release cannot infer it for these statements
    # (the function argument SHA256 parses as an enum symbol, which no context defines: "inferred
    # context "span" does not support the enum symbol "SHA256""), and a named context also keeps
    # span statements from running once per span event. Paths still carry their context prefix.
    def group(context: str, statements: list[str]) -> dict[str, Any]:
        return {"context": context, "statements": [confmap_escape(s) for s in statements]}

    return {
        # A statement that cannot apply (a non-string body, say) is skipped, never drops data.
        "error_mode": "ignore",
        "trace_statements": [
            group("span", _map_statements(rules, "span.attributes")),
            group("spanevent", _map_statements(rules, "spanevent.attributes")),
        ],
        "log_statements": [
            group("log", _map_statements(rules, "log.attributes") + _body_statements(rules, "log.body")),
        ],
    }
