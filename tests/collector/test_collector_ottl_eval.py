"""The evaluator itself: it must read OTTL the way the collector does, or the redaction proof is hollow."""

from __future__ import annotations

import re

import pytest

from obsctl.generate.collector import ottl_eval, redaction


def _m(pattern: str, text: str) -> re.Match[str]:
    m = re.search(pattern, text)
    assert m
    return m


def test_go_expand_reads_like_go() -> None:
    m = _m(r"(?P<word>ab)(c)", "abc")
    assert ottl_eval.go_expand("${1}x", m) == "abx"
    assert ottl_eval.go_expand("$1x", m) == ""  # Go: group named "1x" does not exist
    assert ottl_eval.go_expand("$2-$word", m) == "c-ab"
    assert ottl_eval.go_expand("$$1", m) == "$1"


def test_confmap_escape_round_trips() -> None:
    statement = 'replace_pattern(log.body, "a$", "${1}")'
    assert ottl_eval.confmap_unescape(redaction.confmap_escape(statement)) == statement


def test_string_literals_round_trip() -> None:
    regex = r'(?i)("?key"?\s*[:=])\d'
    parsed = ottl_eval.parse(f"delete_matching_keys(span.attributes, {redaction.ottl_string(regex)})")
    assert parsed.call.args[1] == regex


def test_unknown_functions_and_paths_are_refused() -> None:
    with pytest.raises(ottl_eval.OttlError, match="unsupported function"):
        ottl_eval.apply(ottl_eval.parse('truncate_all(span.attributes, "x")'), "span", {"attributes": {}})
    with pytest.raises(ottl_eval.OttlError, match="not supported in context"):
        ottl_eval.apply(ottl_eval.parse('delete_matching_keys(resource.attributes, "x")'), "span", {})
    with pytest.raises(ottl_eval.OttlError, match="cannot parse"):
        ottl_eval.parse("delete_matching_keys(span.attributes, 'single quotes')")


@pytest.mark.parametrize("pattern", [r"(?=x)", r"(?!x)", r"(?<=x)", r"(a)\1", r"a++"])
def test_patterns_re2_cannot_run_are_refused(pattern: str) -> None:
    with pytest.raises(ottl_eval.OttlError, match="RE2"):
        ottl_eval.assert_re2(pattern)


def test_every_rendered_pattern_is_re2_compatible(collector_source) -> None:
    rules = collector_source.file.redaction
    for pattern in [r.key_pattern for r in rules.delete_keys] + [
        r.pattern for r in rules.mask_values + rules.hash_values
    ]:
        ottl_eval.assert_re2(pattern)


def test_delete_matching_keys_searches_anywhere_in_the_key() -> None:
    record = {"attributes": {"a.cvv": "1", "b": "2"}}
    ottl_eval.apply(ottl_eval.parse('delete_matching_keys(span.attributes, "cvv")'), "span", record)
    assert record == {"attributes": {"b": "2"}}


def test_replace_all_patterns_touches_only_strings() -> None:
    record = {"attributes": {"n": 4111111111111111, "s": "4111111111111111", "l": ["4111111111111111"]}}
    statement = ottl_eval.parse(
        r'replace_all_patterns(span.attributes, "value", "[0-9]{12}([0-9]{4})", "****${1}")'
    )
    ottl_eval.apply(statement, "span", record)
    assert record["attributes"] == {"n": 4111111111111111, "s": "****1111", "l": ["4111111111111111"]}
