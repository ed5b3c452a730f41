"""Deterministic YAML for generated files: keys in the order we build them, multi-line strings
as literal blocks (readable PromQL), no line folding, the generated-file header on top."""

from __future__ import annotations

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


def dump(data: Any, comment: str = "") -> str:
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=100_000, allow_unicode=True, indent=2)
    header = f"# {paths.GENERATED_HEADER}\n"
    if comment:
        header += "".join(f"# {line}\n".replace("# \n", "#\n") for line in comment.splitlines())
    return header + body
