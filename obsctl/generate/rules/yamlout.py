"""Deterministic YAML for generated files: keys in the order we build them, multi-line strings
as literal blocks (readable PromQL), no line folding, the generated-file header on top.

The output is PyYAML's (libyaml's emitter, block style, indent 2, sequences in mappings not
indented). Rule files are written by a direct writer that produces the same text for the
shapes rules have (mappings, lists, strings, numbers) ~5x faster than PyYAML's representer, which
is most of the cost of 1,000 SLOs; anything it cannot prove it writes as PyYAML would (a string
PyYAML would quote or escape, a multi-line string that is not a plain literal block, another type)
is handed to PyYAML. tests/rules/test_yamlout.py checks both give the same text.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from obsctl import paths

# libyaml's emitter is ~10x faster (1,000 SLOs); its output is what we commit.
_Base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_Base):  # type: ignore[valid-type,misc]
    def ignore_aliases(self, data: object) -> bool:
        # Repeated expectations are written out in full: test files are read by people.
        return True


def _str(dumper: yaml.representer.SafeRepresenter, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str)


def pyyaml(data: Any) -> str:
    """`data` as PyYAML writes it with this module's settings."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=100_000, allow_unicode=True, indent=2)


class _Unsupported(Exception):
    """A value the direct writer does not write exactly as PyYAML: PyYAML writes the document."""


# A single-line string PyYAML writes plain: no indicator first, no `: ` or ` #` inside, no quote or
# control character, no surrounding space. Strings that would read back as another type (2, true,
# null, 1.5, a date) are quoted by PyYAML and left to it.
_PLAIN = re.compile(r"[A-Za-z_(/$.][^\x00-\x1f\x7f\"'\\#]*")
_PLAIN_BAD = re.compile(r": |:\Z| #|\s\Z|^\.\.\.|^---|[\u0080-\U0010ffff]")
# Plain scalars that a YAML 1.1 reader resolves to bool, null, a number or other types.
_RESOLVES = re.compile(
    r"(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF"
    r"|null|Null|NULL|~|\.inf|\.Inf|\.INF|\.nan|\.NaN|\.NAN|[-+.0-9].*|<<|=)"
)


def _literal(value: str) -> bool:
    """PyYAML writes the multi-line `value` as a plain literal block `|`: it ends with one line
    break, no line ends with a space, it does not start with a space or a break, and it holds
    only printable ASCII."""
    return (
        value[0] not in " \n"
        and value.endswith("\n")
        and not value.endswith("\n\n")
        and " \n" not in value
        and value.isascii()
        and value.replace("\n", "").isprintable()
    )


_scalars: dict[str, str] = {}


def _scalar(value: Any) -> str:
    """A single-line scalar as PyYAML writes it as a mapping value or a list item."""
    if isinstance(value, str):
        text = _scalars.get(value)
        if text is not None:
            return text
        if "\n" in value:
            raise _Unsupported
        if _PLAIN.fullmatch(value) and not _PLAIN_BAD.search(value) and not _RESOLVES.fullmatch(value):
            text = value
        else:
            text = pyyaml([value])[2:-1]
            if "\n" in text:
                raise _Unsupported
        if len(_scalars) < 100_000:
            _scalars[value] = text
        return text
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    text = pyyaml([value])[2:-1]
    if "\n" in text:
        raise _Unsupported
    return text


def _key(key: Any) -> str:
    # (libyaml writes a key of more than 128 characters as a complex key, `? ...`.)
    if not isinstance(key, str) or not key or len(key) > 100:
        raise _Unsupported
    return _scalar(key)


def _mapping(data: dict[Any, Any], indent: int, out: list[str], first: str) -> None:
    """`data` with its keys at column `indent`; `first` is what precedes the first key on its line
    (a list item's dash)."""
    pad = " " * indent
    lead = first
    for key, value in data.items():
        k = _key(key)
        if isinstance(value, dict) and value:
            out.append(f"{lead}{k}:\n")
            _mapping(value, indent + 2, out, " " * (indent + 2))
        elif isinstance(value, list) and value:
            out.append(f"{lead}{k}:\n")
            _sequence(value, indent, out)
        elif isinstance(value, str) and "\n" in value:
            if not _literal(value):
                raise _Unsupported
            body = " " * (indent + 2)
            lines = "".join(f"{body}{line}\n" if line else "\n" for line in value[:-1].split("\n"))
            out.append(f"{lead}{k}: |\n{lines}")
        elif isinstance(value, dict | list):
            out.append(f"{lead}{k}: {'{}' if isinstance(value, dict) else '[]'}\n")
        else:
            out.append(f"{lead}{k}: {_scalar(value)}\n")
        lead = pad


def _sequence(data: list[Any], indent: int, out: list[str]) -> None:
    """`data` with its dashes at column `indent`."""
    dash = " " * indent + "- "
    for item in data:
        if isinstance(item, dict) and item:
            _mapping(item, indent + 2, out, dash)
        elif isinstance(item, dict | list) or (isinstance(item, str) and "\n" in item):
            raise _Unsupported
        else:
            out.append(f"{dash}{_scalar(item)}\n")


def _body(data: Any) -> str:
    if isinstance(data, dict) and data:
        out: list[str] = []
        try:
            _mapping(data, 0, out, "")
            return "".join(out)
        except _Unsupported:
            pass
    return pyyaml(data)


def _header(comment: str, title: str | None = None) -> str:
    header = f"# {title or paths.GENERATED_HEADER}\n"
    if comment:
        header += "".join(f"# {line}\n".replace("# \n", "#\n") for line in comment.splitlines())
    return header


def dump(data: Any, comment: str = "", title: str | None = None) -> str:
    """`data` as YAML under the generated-file header (`title` replaces its first line)."""
    return _header(comment, title) + _body(data)


def dump_all(documents: list[Any], comment: str = "", title: str | None = None) -> str:
    """Several YAML documents in one file, each after a `---`, under one header."""
    return _header(comment, title) + "".join(f"---\n{_body(d)}" for d in documents)
