"""Read SLO specs from a file or a directory and validate them.

Every problem is collected (not only the first) and names the file, the SLO, the field and what
was expected; nothing is generated from a set of specs with any problem in it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from catalog.problems import ObjectOf
from obsctl.errors import ObsctlError, Problem, validation_problems
from obsctl.generate import promql
from obsctl.generate.slo import openslo, sloth
from obsctl.generate.slo.model import SLO, WINDOW_PLACEHOLDER
from obsctl.generate.slo.numbers import clean

ALERT_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")


def spec_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    return [path]


def _object_of(raw: Any) -> ObjectOf:
    """Where in `raw` an error is: the Sloth SLO whose `slos` entry holds it, or the OpenSLO
    document by its metadata.name."""

    def object_of(loc: tuple[Any, ...]) -> str | None:
        if not isinstance(raw, dict):
            return None
        if len(loc) >= 2 and loc[0] == "slos" and isinstance(loc[1], int):
            slos = raw.get("slos")
            entry = slos[loc[1]] if isinstance(slos, list) and loc[1] < len(slos) else None
            return f"SLO {entry['name']}" if isinstance(entry, dict) and entry.get("name") else None
        metadata = raw.get("metadata")
        if isinstance(metadata, dict) and metadata.get("name"):
            return f"{raw.get('kind', 'document')} {metadata['name']}"
        return None

    return object_of


def _parse(model: type[BaseModel], raw: Any, file: str, problems: list[Problem]) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems.extend(validation_problems(file, exc, _object_of(raw), model))
        return None


def read(path: Path) -> list[SLO]:
    """Every SLO under `path`, validated; raises ObsctlError listing every problem."""
    problems: list[Problem] = []
    if not path.exists():
        raise ObsctlError(
            [Problem(file=str(path), message="does not exist; expected an SLO file or directory")]
        )
    slos: list[SLO] = []
    openslo_slos: list[tuple[openslo.SLODoc, str]] = []
    slis: dict[str, tuple[openslo.SLIDoc, str]] = {}
    for f in spec_files(path):
        file = str(f)
        try:
            docs = [d for d in yaml.safe_load_all(f.read_text(encoding="utf-8")) if d is not None]
        except (OSError, yaml.YAMLError) as exc:
            problems.append(Problem(file=file, message=f"cannot read YAML: {exc}"))
            continue
        for doc in docs:
            if isinstance(doc, dict) and "version" in doc:
                spec = _parse(sloth.Spec, doc, file, problems)
                if spec is not None:
                    slos.extend(sloth.to_slos(spec, file))
            elif isinstance(doc, dict) and "apiVersion" in doc:
                kind = openslo.kind_of(doc)
                if kind == "SLO":
                    d = _parse(openslo.SLODoc, doc, file, problems)
                    if d is not None:
                        openslo_slos.append((d, file))
                elif kind == "SLI":
                    s = _parse(openslo.SLIDoc, doc, file, problems)
                    if s is not None:
                        slis[s.metadata.name] = (s, file)
                else:
                    problems.append(
                        Problem(
                            file=file, field="kind", message=f"got {kind!r}; expected SLO or SLI (openslo/v1)"
                        )
                    )
            else:
                problems.append(
                    Problem(
                        file=file,
                        message="not an SLO spec; expected `version: prometheus/v1` (Sloth) "
                        "or `apiVersion: openslo/v1` (OpenSLO)",
                    )
                )
    for d, file in openslo_slos:
        if d.spec.indicator is not None:
            slos.append(openslo.to_slo(d, d.spec.indicator.spec, file, "spec.indicator.spec"))
        elif d.spec.indicatorRef in slis:
            sli, sli_file = slis[d.spec.indicatorRef]
            slos.append(openslo.to_slo(d, sli.spec, file, f"SLI {sli.metadata.name} ({sli_file}) spec"))
        else:
            problems.append(
                Problem(
                    file=file,
                    obj=f"SLO {d.metadata.name}",
                    field="spec.indicatorRef",
                    message=f"no SLI named {d.spec.indicatorRef!r}; "
                    "expected the name of a kind: SLI document "
                    "in the same input",
                )
            )
    problems.extend(validate(slos))
    if problems:
        raise ObsctlError(problems)
    return slos


def _check_query(slo: SLO, field: str, template: str, problems: list[Problem]) -> None:
    p = Problem(file=slo.source, obj=f"SLO {slo.name}", field=field, message="")
    if not WINDOW_PLACEHOLDER.search(template):
        p.message = "missing {{.window}}; expected every range selector to use it, e.g. rate(x[{{.window}}])"
        problems.append(p)
        return
    try:
        promql.parse(WINDOW_PLACEHOLDER.sub("5m", template))
    except promql.PromQLError as exc:
        p.message = str(exc)
        problems.append(p)


def validate(slos: list[SLO]) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, SLO] = {}
    alert_names: dict[str, SLO] = {}
    for slo in slos:
        where = {"file": slo.source, "obj": f"SLO {slo.name}"}
        if not (0 < slo.objective < 100):
            problems.append(
                Problem(
                    **where,
                    field="objective",
                    message=f"got {clean(slo.objective)}; "
                    "expected a percentage greater than 0 and less than 100 "
                    "(e.g. 99.9; 100 leaves no error budget)",
                )
            )
        kinds = [
            k
            for k in ("events", "raw")
            if getattr(slo, {"events": "total_query", "raw": "error_ratio_query"}[k])
        ]
        if slo.spec == "prometheus/v1" and len(kinds) != 1:
            problems.append(
                Problem(
                    **where,
                    field="sli",
                    message="expected exactly one of sli.events or sli.raw (sli.plugin is not supported)",
                )
            )
        for field, template in slo.raw_queries.items():
            _check_query(slo, field, template, problems)
        if slo.id in seen:
            problems.append(
                Problem(
                    **where,
                    field="name",
                    message=f"duplicate SLO {slo.id!r} (service {slo.service}); also defined in "
                    f"{seen[slo.id].source}; expected names unique per service",
                )
            )
        seen.setdefault(slo.id, slo)
        alerts_on = slo.page.enabled is not False or slo.ticket.enabled is not False
        if alerts_on and not ALERT_NAME.match(slo.alert_name):
            problems.append(
                Problem(
                    **where,
                    field="alerting.name",
                    message=f"got {slo.alert_name!r}; "
                    "expected a CamelCase alert name (e.g. PaymentAvailabilityBudgetBurn)",
                )
            )
        elif alerts_on:
            other = alert_names.get(slo.alert_name)
            if other is not None and other.id != slo.id:
                problems.append(
                    Problem(
                        **where,
                        field="alerting.name",
                        message=f"alert name {slo.alert_name!r} is also used by SLO {other.id} "
                        f"({other.source}); "
                        "expected one alert name per SLO",
                    )
                )
            alert_names.setdefault(slo.alert_name, slo)
    return problems
