"""Read SLO specs from a file or a directory and validate them.

Formats: Sloth `prometheus/v1`, Sloth's Kubernetes `PrometheusServiceLevel` (`sloth.slok.dev/v1`),
OpenSLO `openslo/v1alpha` (as Sloth reads it), OpenSLO `openslo/v1` (every kind; references
resolve across the input's files) and Pyrra's `ServiceLevelObjective`; several documents per file.
A directory is read recursively (*.yaml, *.yml), filtered like Sloth's `--fs-include` and
`--fs-exclude` (regular expressions searched in each file's path; exclude wins).

Every problem is collected (not only the first: an unknown key does not hide a bad objective next to
it) and names the file, the SLO, the field and what was expected; nothing is generated from a set of
specs with any problem in it. Warnings (style, spellings Sloth ignores) never stop generation.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from catalog.problems import ObjectOf
from obsctl.errors import ObsctlError, Problem, validation_problems
from obsctl.generate import promql
from obsctl.generate.rules import windows as windows_mod
from obsctl.generate.slo import openslo, periods, plugins, pyrra, sloth
from obsctl.generate.slo.model import SLO, WINDOW_PLACEHOLDER, PluginRef
from obsctl.generate.slo.numbers import clean

# The alert name style of this repository's specs (a warning elsewhere, never a refusal).
ALERT_NAME_STYLE = re.compile(r"^[A-Z][A-Za-z0-9]*$")
# Prometheus 2's label names (Prometheus 3 also allows any UTF-8 name).
LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe YAML, libyaml's parser (fast), and timestamps left as the strings they were written as
    (a label value `2024-01-01` is that text, as Sloth reads it)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def spec_files(path: Path, include: str | None = None, exclude: str | None = None) -> list[Path]:
    """The spec files under `path` (recursively when it is a directory), sorted; `include` and
    `exclude` are regular expressions searched in each file's path (exclude wins), as Sloth's."""
    if not path.is_dir():
        return [path]
    inc = re.compile(include) if include else None
    exc = re.compile(exclude) if exclude else None
    found = []
    for p in sorted(path.rglob("*")):
        if not p.is_file() or p.suffix.lower() not in (".yaml", ".yml"):
            continue
        text = str(p)
        if exc is not None and exc.search(text):
            continue
        if inc is not None and not inc.search(text):
            continue
        found.append(p)
    return found


def _object_of(raw: Any) -> ObjectOf:
    """Where in `raw` an error is: the Sloth SLO whose `slos` entry holds it, or the document by
    its metadata.name."""

    def object_of(loc: tuple[Any, ...]) -> str | None:
        if not isinstance(raw, dict):
            return None
        spec = raw.get("spec")
        where: dict[Any, Any] = spec if loc[:1] == ("spec",) and isinstance(spec, dict) else raw
        rest = loc[1:] if where is not raw else loc
        if len(rest) >= 2 and rest[0] == "slos" and isinstance(rest[1], int):
            slos = where.get("slos")
            entry = slos[rest[1]] if isinstance(slos, list) and rest[1] < len(slos) else None
            return f"SLO {entry['name']}" if isinstance(entry, dict) and entry.get("name") else None
        metadata = raw.get("metadata")
        if isinstance(metadata, dict) and metadata.get("name"):
            return f"{raw.get('kind', 'document')} {metadata['name']}"
        return None

    return object_of


def _without(raw: Any, locs: list[tuple[Any, ...]]) -> Any:
    """`raw` without the keys at `locs` (the unknown keys of a failed validation)."""
    out = copy.deepcopy(raw)
    for loc in locs:
        node = out
        for part in loc[:-1]:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                node = None
                break
        if isinstance(node, dict):
            node.pop(loc[-1], None)
    return out


def _parse(model: type[BaseModel], raw: Any, file: str, problems: list[Problem]) -> Any:
    """The validated document; when it fails only on unknown keys, those are problems and the
    document without them is still returned, so the problems of its values are reported too."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems.extend(validation_problems(file, exc, _object_of(raw), model))
        unknown = [tuple(e["loc"]) for e in exc.errors() if e["type"] == "extra_forbidden"]
        if not unknown or len(unknown) != len(exc.errors()):
            return None
        try:
            return model.model_validate(_without(raw, unknown))
        except ValidationError:
            return None


@dataclass
class Specs:
    """What was read: the SLOs, the files, and the warnings (problems that do not stop generation)."""

    slos: list[SLO]
    files: list[Path]
    warnings: list[Problem] = field(default_factory=list)


def app_plugins(declarations: Sequence[str]) -> tuple[PluginRef, ...]:
    """The `--slo-plugins` of the command line (JSON, Sloth's form: {"id", "priority", "config"})."""
    problems: list[Problem] = []
    decls = []
    for i, text in enumerate(declarations):
        try:
            decls.append(plugins.Declaration.model_validate(json.loads(text)))
        except (json.JSONDecodeError, ValidationError) as exc:
            problems.append(
                Problem(
                    file="--slo-plugins",
                    field=str(i),
                    message=f"got {text!r}: {exc}; expected JSON like "
                    '{"id": "sloth.dev/contrib/rule_intervals/v1", "priority": 0, "config": {...}}',
                )
            )
    refs = plugins.resolve(decls, "slo-plugins", "--slo-plugins", None, problems)
    if problems:
        raise ObsctlError(problems)
    return refs


def load(
    path: Path,
    *,
    include: str | None = None,
    exclude: str | None = None,
    app: Sequence[PluginRef] = (),
    disable_default_plugins: bool = False,
    catalog: windows_mod.Catalog = windows_mod.DEFAULT,
    default_period: str | None = None,
    allow_duplicates: bool = False,
) -> Specs:
    """Every SLO under `path`, validated; raises ObsctlError listing every problem.

    `default_period` is the period of SLOs whose spec sets none; given, it is checked against
    `catalog` with every other problem. `allow_duplicates` accepts several SLOs of one id (their
    rules then go to different outputs)."""
    problems: list[Problem] = []
    warnings: list[Problem] = []
    if not path.exists():
        raise ObsctlError(
            [Problem(file=str(path), message="does not exist; expected an SLO file or directory")]
        )
    files = spec_files(path, include, exclude)
    if not files:
        raise ObsctlError(
            [
                Problem(
                    file=str(path),
                    message="no *.yaml or *.yml files found"
                    + (" (after --fs-include/--fs-exclude)" if include or exclude else "")
                    + "; expected SLO specs",
                )
            ]
        )
    slos: list[SLO] = []
    v1 = openslo.V1Input()
    for f in files:
        file = str(f)
        try:
            docs = [d for d in yaml.load_all(f.read_text(encoding="utf-8"), Loader=_Loader) if d is not None]
        except (OSError, yaml.YAMLError) as exc:
            problems.append(Problem(file=file, message=f"cannot read YAML: {exc}"))
            continue
        for index, doc in enumerate(docs):
            slos.extend(_document(doc, file, index, problems, warnings, v1))
    slos.extend(v1.to_slos(problems))
    if not slos and not problems:
        problems.append(
            Problem(file=str(path), message=f"no SLO in {len(files)} file(s); expected at least one SLO")
        )
    problems.extend(validate(slos, app, disable_default_plugins, catalog, default_period, allow_duplicates))
    if problems:
        raise ObsctlError(problems)
    warnings.extend(style(slos))
    return Specs(slos, files, warnings)


def read(path: Path) -> list[SLO]:
    """Every SLO under `path` (this repository's specs and the built-in windows), validated."""
    return load(path).slos


_FORMATS = (
    "`version: prometheus/v1` (Sloth), `apiVersion: sloth.slok.dev/v1` with `kind: PrometheusServiceLevel` "
    "(Sloth on Kubernetes), `apiVersion: openslo/v1alpha` or `apiVersion: openslo/v1` (OpenSLO), "
    "`apiVersion: pyrra.dev/v1alpha1` with `kind: ServiceLevelObjective` (Pyrra)"
)


def _document(
    doc: Any,
    file: str,
    index: int,
    problems: list[Problem],
    warnings: list[Problem],
    v1: openslo.V1Input,
) -> list[SLO]:
    if isinstance(doc, dict) and "version" in doc:
        if doc.get("version") != "prometheus/v1":
            problems.append(
                Problem(
                    file=file, field="version", message=f"got {doc.get('version')!r}; expected prometheus/v1"
                )
            )
            return []
        spec = _parse(sloth.Spec, sloth.respell(doc, file, False, warnings), file, problems)
        return sloth.to_slos(spec, file, index, problems) if spec is not None else []
    api = doc.get("apiVersion") if isinstance(doc, dict) else None
    kind = openslo.kind_of(doc)
    if api == "sloth.slok.dev/v1" and kind == "PrometheusServiceLevel":
        k8s = _parse(sloth.PrometheusServiceLevel, sloth.respell(doc, file, True, warnings), file, problems)
        return sloth.k8s_to_slos(k8s, file, index, problems) if k8s is not None else []
    if api == "sloth.slok.dev/v1" and kind == "AlertWindows":
        problems.append(
            Problem(
                file=file,
                field="kind",
                message="got AlertWindows, alert windows rather than an SLO; expected them in the directory "
                "given "
                "to --slo-period-windows-path (leave the file out of the SLO input, e.g. with --fs-exclude)",
            )
        )
        return []
    if api == "openslo/v1alpha":
        if kind != "SLO":
            problems.append(
                Problem(file=file, field="kind", message=f"got {kind!r}; expected SLO (openslo/v1alpha)")
            )
            return []
        alpha = _parse(openslo.AlphaSLODoc, doc, file, problems)
        return openslo.alpha_to_slos(alpha, file, index, problems) if alpha is not None else []
    if api == "openslo/v1":
        model = openslo.V1_KINDS.get(kind or "")
        if model is None:
            problems.append(
                Problem(
                    file=file,
                    field="kind",
                    message=f"got {kind!r}; expected one of {', '.join(openslo.V1_KINDS)} (openslo/v1)",
                )
            )
            return []
        parsed = _parse(model, doc, file, problems)
        if parsed is not None:
            v1.add(parsed, file, index, problems)
        else:
            v1.failed(kind or "", doc)
        return []
    if api == pyrra.API_VERSION:
        if kind != pyrra.KIND:
            problems.append(
                Problem(file=file, field="kind", message=f"got {kind!r}; expected {pyrra.KIND} ({api})")
            )
            return []
        slo_doc = _parse(pyrra.ServiceLevelObjective, doc, file, problems)
        return pyrra.to_slos(slo_doc, file, index, problems) if slo_doc is not None else []
    problems.append(Problem(file=file, message=f"not an SLO spec; expected {_FORMATS}"))
    return []


def _check_query(
    slo: SLO, field: str, template: str, parse: bool, problems: list[Problem], optional: bool = False
) -> None:
    p = Problem(file=slo.source, obj=f"SLO {slo.name}", field=field, message="")
    if not template.strip():
        p.message = "empty; expected a query"
        problems.append(p)
        return
    if not optional and not WINDOW_PLACEHOLDER.search(template):
        p.message = "missing {{.window}}; expected every range selector to use it, e.g. rate(x[{{.window}}])"
        problems.append(p)
        return
    if not parse:
        return
    try:
        promql.parse(WINDOW_PLACEHOLDER.sub("5m", template))
    except promql.PromQLError as exc:
        p.message = str(exc)
        problems.append(p)


def _check_labels(
    slo: SLO, field: str, labels: dict[str, str], problems: list[Problem], kind: str = "label"
) -> None:
    for key, value in labels.items():
        if kind == "label" and key in ("", "__name__"):
            problems.append(
                Problem(
                    file=slo.source,
                    obj=f"SLO {slo.name}",
                    field=f"{field}.{key}",
                    message=f"got {key!r}; expected a label name other than __name__",
                )
            )
        if value == "":
            problems.append(
                Problem(
                    file=slo.source,
                    obj=f"SLO {slo.name}",
                    field=f"{field}.{key}",
                    message=f"empty; expected a {kind} value",
                )
            )


def validate(
    slos: list[SLO],
    app: Sequence[PluginRef] = (),
    disable_default_plugins: bool = False,
    catalog: windows_mod.Catalog = windows_mod.DEFAULT,
    default_period: str | None = None,
    allow_duplicates: bool = False,
) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, SLO] = {}
    for slo in slos:
        where = {"file": slo.source, "obj": f"SLO {slo.name}"}
        chain = plugins.chain(slo, app, disable_default_plugins)
        dialects = plugins.validators(chain)
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
        kinds = [k for k, q in (("events", slo.total_query), ("raw", slo.error_ratio_query)) if q is not None]
        if (
            slo.spec in (sloth.SLOTH_SPEC, sloth.KUBERNETES_SPEC)
            and len(kinds) != 1
            and slo.sli_plugin is None
        ):
            problems.append(
                Problem(
                    **where,
                    field="sli",
                    message=f"got {' and '.join(kinds) or 'neither'}; "
                    "expected exactly one of sli.events or sli.raw",
                )
            )
        if dialects:
            for field_path, template in slo.raw_queries.items():
                _check_query(
                    slo,
                    field_path,
                    template,
                    plugins.VALIDATE in dialects,
                    problems,
                    optional=field_path in slo.optional_window,
                )
            if slo.error_query is not None and slo.error_query == slo.total_query:
                problems.append(
                    Problem(
                        **where,
                        field=slo.fields.get("error"),
                        message="same as the total query; expected the error events only",
                    )
                )
            _check_labels(slo, "labels", slo.labels, problems)
            _check_labels(
                slo, "alerting.labels", {**slo.alert_labels, **slo.page.labels, **slo.ticket.labels}, problems
            )
            annotations = {**slo.alert_annotations, **slo.page.annotations, **slo.ticket.annotations}
            _check_labels(slo, "alerting.annotations", annotations, problems, "annotation")
        if slo.override_plugins and not slo.plugins:
            problems.append(
                Problem(
                    **where,
                    field="plugins.overridePrevious",
                    message="true without plugins; expected a chain (overridePrevious drops the default one)",
                )
            )
        if any(p.id == plugins.DENOMINATOR_CORRECTED for p in chain) and slo.total_query is None:
            problems.append(
                Problem(
                    **where,
                    field="sli",
                    message=f"plugin {plugins.DENOMINATOR_CORRECTED} needs an events SLI (error and total "
                    "queries); expected sli.events",
                )
            )
        period = slo.period or default_period
        if period is not None and periods.lookup(catalog, period) is None:
            problems.append(periods.unknown(catalog, period, slo.source, f"SLO {slo.name}", "period"))
        if slo.id in seen and not allow_duplicates:
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
        if alerts_on and not slo.alert_name:
            problems.append(
                Problem(
                    **where,
                    field="alerting.name",
                    message="missing; expected an alert name (or page_alert and ticket_alert disabled)",
                )
            )
    return problems


def style(slos: list[SLO]) -> list[Problem]:
    """Warnings about what Prometheus 3 and Sloth accept but this repository avoids: alert names
    other than CamelCase, and label names Prometheus 2 refuses (UTF-8 names)."""
    out = []
    for slo in slos:
        for key in sorted({*slo.labels, *slo.alert_labels, *slo.page.labels, *slo.ticket.labels}):
            if not LABEL_NAME.match(key):
                out.append(
                    Problem(
                        file=slo.source,
                        obj=f"SLO {slo.name}",
                        field=f"labels.{key}",
                        message=f"got {key!r}; expected [A-Za-z_][A-Za-z0-9_]* (other label names need "
                        "Prometheus 3's UTF-8 names; Prometheus 2 refuses the rules)",
                    )
                )
        alerts_on = slo.page.enabled is not False or slo.ticket.enabled is not False
        if alerts_on and slo.alert_name and not ALERT_NAME_STYLE.match(slo.alert_name):
            out.append(
                Problem(
                    file=slo.source,
                    obj=f"SLO {slo.name}",
                    field="alerting.name",
                    message=f"got {slo.alert_name!r}; expected a CamelCase alert name (e.g. "
                    "PaymentAvailabilityBudgetBurn), the style of this repository's alerts",
                )
            )
    return out
