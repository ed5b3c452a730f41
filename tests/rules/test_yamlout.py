"""The direct YAML writer gives PyYAML's text, byte for byte, and writes rule files itself."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from obsctl.generate.rules import yamlout
from obsctl.generate.rules.generate import generate
from tests.rules import sloth_peer as peer

AWKWARD = [
    "",
    "2",
    "0.5",
    "yes",
    "no",
    "y",
    "null",
    "~",
    "true",
    "2024-01-01",
    "#alerts-myteam",
    "a: b",
    "a #b",
    "a#b",
    "trailing ",
    " leading",
    "it's",
    'say "hi"',
    "back\\slash",
    "tab\there",
    "ünïcode",
    "emoji 🦥",
    "- dash",
    "-dash",
    "? question",
    ":colon",
    "colon:",
    "slo:sli_error:ratio_rate5m",
    "{{$labels.sloth_service}} x",
    "(page) {{$labels.sloth_service}} fast.",
    "[x]",
    "*star",
    "&anchor",
    "!tag",
    "%percent",
    "@at",
    "`tick",
    "|pipe",
    ">gt",
    "...",
    "---",
    "a\nb\n",
    "a\nb",
    "a\nb\n\n",
    " a\nb\n",
    "a \nb\n",
    "a\n\nb\n",
    "a\n  indented\n",
    "\nleading break\n",
    "a\tb\nc\n",
    "ü\nb\n",
]


def _same(data: Any) -> None:
    assert yamlout._body(data) == yamlout.pyyaml(data)


@pytest.mark.parametrize("text", AWKWARD)
def test_awkward_strings_as_values_keys_and_items(text: str) -> None:
    _same({"k": text, "list": [text, 1, True, None, 1.5], "nested": {"m": {"k": text}}})
    if text and "\n" not in text:
        _same({text: "v"})


def test_empty_and_nested_collections() -> None:
    _same({"a": {}, "b": [], "c": [{"x": 1, "y": [{"z": "w"}]}], "d": [[1, 2]], "e": {"f": {"g": [1]}}})


def test_every_generated_file_of_the_repository() -> None:
    for rel, content in generate().items():
        if rel.endswith(".yml"):
            data = yaml.safe_load(content)
            _same(data)


def _fast(data: Any) -> bool:
    try:
        yamlout._mapping(data, 0, [], "")
        return True
    except yamlout._Unsupported:
        return False


def test_rule_files_take_the_direct_path() -> None:
    for rel, content in generate().items():
        if "/rules/" in rel and rel.endswith(".yml"):
            assert _fast(yaml.safe_load(content)), rel


@pytest.mark.parametrize(
    "case",
    [c for c in peer.example_cases() + peer.integration_cases() if not c.refused],
    ids=lambda c: c.name,
)
def test_the_peer_suites_rules(case: peer.Case) -> None:
    code, out, err = peer.ours(case)
    assert code == 0, err
    for doc in yaml.safe_load_all(out):
        if doc:
            _same(doc)
