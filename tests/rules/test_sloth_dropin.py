"""`obsctl slo` as a drop-in for Sloth v0.16.0, on Sloth's own suite (its Go module source).

Every example and integration input Sloth generates rules from is accepted, passes promtool (both
versions, with the exceptions Sloth's own output shares), and gives at least Sloth's recording and
alert names, labels and annotations; the inputs that need Go plugins are refused naming the plugin.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.rules import sloth_peer as peer

pytestmark = pytest.mark.built_tools("sloth")  # runs the Sloth binary

# Labels whose value says which tool generated the rules.
TOOL_LABELS = {"sloth_version"}

CASES = [c for c in peer.example_cases() + peer.integration_cases()]
ACCEPTED = [c for c in CASES if c.refused is None]

# Where promtool refuses Sloth's own output for the same input, it refuses ours the same way:
# (case, which promtool) -> the reason, which the failure names.
PROMTOOL_EXCEPTIONS = {
    # MetricsQL (VictoriaMetrics' dialect, validated by its plugin) is not PromQL.
    ("examples/victoria-metrics.yml", "2"): "parse error",
    ("examples/victoria-metrics.yml", "3"): "parse error",
    # The info_labels plugin's label `plug-l1` is a UTF-8 label name: Prometheus 3 only.
    ("examples/contrib-slo-plugins.yml", "2"): "invalid label name",
}


def _docs(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]


def _generated(case: peer.Case) -> list[dict]:
    code, out, err = peer.ours(case)
    assert code == 0, err
    return _docs(out)


def superset_problems(theirs: peer.Index, ours: peer.Index) -> list[str]:
    """What Sloth's rules have that ours lack: a recording or alert (by group and name), or a
    label or annotation value."""
    problems = []
    for key, labels in theirs.records.items():
        if key not in ours.records:
            problems.append(f"recording {key} missing")
            continue
        for k, v in labels.items():
            if k not in TOOL_LABELS and ours.records[key].get(k) != v:
                problems.append(f"recording {key}: label {k}: Sloth {v!r}, ours {ours.records[key].get(k)!r}")
    for key, (labels, notes) in theirs.alerts.items():
        if key not in ours.alerts:
            problems.append(f"alert {key} missing")
            continue
        our_labels, our_annotations = ours.alerts[key]
        for k, v in labels.items():
            if our_labels.get(k) != v:
                problems.append(f"alert {key}: label {k}: Sloth {v!r}, ours {our_labels.get(k)!r}")
        for k, v in notes.items():
            if our_annotations.get(k) != v:
                problems.append(f"alert {key}: annotation {k}: Sloth {v!r}, ours {our_annotations.get(k)!r}")
    return problems


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_accepted_or_refused_naming_the_plugin(case: peer.Case) -> None:
    code, _, err = peer.ours(case)
    if case.refused is None:
        assert code == 0, err
    else:
        assert code == 2
        assert case.refused in err, err
        assert "Traceback" not in err


@pytest.mark.parametrize("case", ACCEPTED, ids=lambda c: c.name)
def test_names_labels_and_annotations_include_sloths(case: peer.Case) -> None:
    theirs, ours = peer.expected(case), _generated(case)
    a, b = peer.index(theirs), peer.index(ours)
    assert a.records or a.alerts, "Sloth's expected output has no rules: the comparison would prove nothing"
    assert superset_problems(a, b) == []
    # A PrometheusServiceLevel becomes a PrometheusRule named, namespaced and labelled as Sloth's.
    theirs_meta = [d["metadata"] for d in theirs if d.get("kind") == "PrometheusRule"]
    ours_meta = [d["metadata"] for d in ours if d.get("kind") == "PrometheusRule"]
    assert len(theirs_meta) == len(ours_meta)
    for t, o in zip(theirs_meta, ours_meta, strict=True):
        assert (o["name"], o.get("namespace")) == (t["name"], t.get("namespace"))
        assert t["labels"].items() <= o["labels"].items()


def _check(promtool: str, groups: list[dict], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    f = tmp_path / "rules.yml"
    f.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return subprocess.run(
        [promtool, "check", "rules", "--lint=all", "--lint-fatal", str(f)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("case", ACCEPTED, ids=lambda c: c.name)
def test_promtool_checks_pass_on_both_versions(case: peer.Case, tmp_path: Path) -> None:
    for tool in peer.promtools():
        promtool = tool.binary()
        exception = PROMTOOL_EXCEPTIONS.get((case.name, tool.version.split(".")[0]))
        # Each PrometheusRule object is a rules file of its own to Prometheus.
        for doc in _generated(case):
            result = _check(promtool, peer.rule_groups([doc]), tmp_path)
            if exception is None:
                assert result.returncode == 0, f"{promtool}: {result.stdout}{result.stderr}"
            else:
                assert exception in result.stdout + result.stderr, (
                    f"{promtool}: {result.stdout}{result.stderr}"
                )
        if exception is not None:
            sloths = _check(promtool, peer.rule_groups(peer.expected(case)), tmp_path)
            assert sloths.returncode != 0 and exception in sloths.stdout + sloths.stderr


@pytest.mark.parametrize("spec", peer.validate_good(), ids=lambda p: p.name)
def test_sloths_valid_inputs_generate_what_sloth_generates(spec: Path) -> None:
    """validate_test.go's good specs, against what the Sloth binary generates from them."""
    code, out, err = peer.run_obsctl(
        "generate",
        "-i",
        str(spec),
        *(("--out-format", "prometheus-rule") if "PrometheusServiceLevel" in spec.read_text() else ()),
    )
    assert code == 0, err
    sloth = peer.run_sloth(["generate", "-i", str(spec)])
    assert sloth.returncode == 0, sloth.stderr
    assert superset_problems(peer.index(_docs(sloth.stdout)), peer.index(_docs(out))) == []


@pytest.mark.parametrize("spec", list(peer.validate_bad()), ids=lambda p: p.name)
def test_sloths_invalid_inputs_are_refused(spec: Path) -> None:
    code, _, err = peer.run_obsctl("validate", "-i", str(spec))
    assert code == 2
    assert peer.validate_bad()[spec] in err, err


# validate_test.go's directory cases: (arguments under testdata/, valid?).
DISCOVERY = [
    (("validate/good", "--ignore-slo-duplicates"), True),
    (("validate/bad",), False),
    (("validate",), False),
    (("validate", "--fs-exclude", "bad", "--ignore-slo-duplicates"), True),
    (("validate", "--fs-include", "good", "--ignore-slo-duplicates"), True),
    (("validate", "--fs-exclude", ".*"), False),
    (("validate", "--fs-exclude", "bad", "--fs-include", ".*-aa.*", "--ignore-slo-duplicates"), True),
    (("validate_with_duplicates",), False),
    (("validate_with_duplicates", "--ignore-slo-duplicates"), True),
    (("validate_with_duplicates/prom",), False),
    (("validate_with_duplicates/k8s",), False),
    (("validate_with_duplicates/openslo",), False),
    (("validate_with_duplicates/bad-prom-multi-duplicates.yaml",), False),
]


@pytest.mark.parametrize(
    ("args", "valid"), DISCOVERY, ids=lambda v: " ".join(v) if isinstance(v, tuple) else str(v)
)
def test_directories_are_read_recursively_with_include_and_exclude(
    args: tuple[str, ...], valid: bool
) -> None:
    code, out, err = peer.run_obsctl("validate", "-i", str(peer.testdata() / args[0]), *args[1:])
    assert (code == 0) == valid, out + err


def test_a_directory_without_specs_and_a_file_without_slos_are_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, _, err = peer.run_obsctl("validate", "-i", str(tmp_path / "empty"))
    assert code == 2 and "no *.yaml or *.yml files found" in err
    (tmp_path / "comments.yaml").write_text("# nothing here\n---\n")
    code, _, err = peer.run_obsctl("validate", "-i", str(tmp_path / "comments.yaml"))
    assert code == 2 and "no SLO in 1 file(s)" in err


def test_a_directory_generates_one_output_per_spec_as_sloth(tmp_path: Path) -> None:
    """scripts/examplesgen.sh's run (without the Go SLI plugin examples): the same file names."""
    out = tmp_path / "gen"
    out.mkdir()
    exclude = "_gen|windows|/plugin-"
    code, _, err = peer.run_obsctl(
        "generate", "-i", str(peer.examples()), "-o", str(out), "-e", exclude, "-l", "cmd=x"
    )
    assert code == 0, err
    written = sorted(p.name for p in out.rglob("*") if p.is_file())
    expected = sorted(
        p.name for p in (peer.examples() / "_gen").iterdir() if not p.name.startswith("plugin-")
    )
    assert written == expected
    # Each output has its own SLIAbsent, limited to its own SLOs (none fires twice).
    multifile = _docs((out / "multifile.yml").read_text())
    absent = [r for g in peer.rule_groups(multifile) for r in g["rules"] if r.get("alert") == "SLIAbsent"]
    assert (
        len(absent) == 1
        and 'sloth_id=~"myservice-requests-availability|myservice2-requests-availability"'
        in (absent[0]["expr"])
    )


def test_no_runbook_link_unless_asked(tmp_path: Path) -> None:
    spec = str(peer.examples() / "getting-started.yml")
    code, out, _ = peer.run_obsctl("generate", "-i", spec)
    assert code == 0
    alerts = [r for g in peer.rule_groups(_docs(out)) for r in g["rules"] if "alert" in r]
    assert alerts and all("runbook_url" not in a["annotations"] for a in alerts)
    code, out, _ = peer.run_obsctl(
        "generate", "-i", spec, "--runbook-base-url", "https://runbooks.example/slo"
    )
    alerts = [r for g in peer.rule_groups(_docs(out)) for r in g["rules"] if "alert" in r]
    assert {a["annotations"]["runbook_url"] for a in alerts} == {
        "https://runbooks.example/slo#myservicehigherrorrate",
        "https://runbooks.example/slo#sliabsent",
    }


def test_any_alert_name_style_is_a_warning_and_one_name_may_serve_several_slos() -> None:
    code, out, err = peer.run_obsctl("generate", "-i", str(peer.testdata() / "in-multifile.yaml"))
    assert code == 0
    assert "warning:" in err and "'myServiceAlert'" in err and "CamelCase" in err
    names = [r["alert"] for g in peer.rule_groups(_docs(out)) for r in g["rules"] if "alert" in r]
    assert names.count("myServiceAlert") == 4  # page and ticket of two SLOs


def test_label_values_of_any_yaml_scalar_type_are_strings_as_sloth_writes_them() -> None:
    from obsctl.generate.slo.numbers import yaml_string

    assert [yaml_string(v) for v in (2, 0.2, 90, True, False, 1.0, 1e6, 3.14159265, "x")] == [
        "2",
        "0.2",
        "90",
        "true",
        "false",
        "1",
        "1e+06",
        "3.1415927",
        "x",
    ]
    # victoria-metrics.yml: `generated: true`, `actual_le: 0.2`, alert label `objective: 90`.
    case = next(c for c in ACCEPTED if c.name == "examples/victoria-metrics.yml")
    ours = peer.index(_generated(case))
    labels = next(v for (g, r), v in ours.records.items() if r == "slo:objective:ratio")
    assert (labels["generated"], labels["actual_le"]) == ("true", "0.2")


def test_custom_alert_windows_and_any_period_they_define(tmp_path: Path) -> None:
    """Sloth's examples/windows/ (a custom 30d catalog and 7d): the windows, factors and names
    Sloth generates from them."""
    spec = str(peer.testdata() / "in-base.yaml")
    windows = str(peer.examples() / "windows")
    for period in ("30d", "7d"):
        args = ["-i", spec, "--slo-period-windows-path", windows, "--default-slo-period", period]
        code, out, err = peer.run_obsctl("generate", *args)
        assert code == 0, err
        sloth = peer.run_sloth(["generate", *args])
        assert sloth.returncode == 0, sloth.stderr
        theirs, ours = peer.index(_docs(sloth.stdout)), peer.index(_docs(out))
        assert superset_problems(theirs, ours) == []
        if period == "30d":
            assert ("sloth-slo-sli-recordings-svc01-slo1", "slo:sli_error:ratio_rate1d12h") in ours.records
    # A period the catalog does not define is refused before anything is generated.
    code, _, err = peer.run_obsctl(
        "generate", "-i", spec, "--slo-period-windows-path", windows, "--default-slo-period", "28d"
    )
    assert code == 2 and "got period '28d'" in err and "30d" in err


def test_a_period_of_any_length_from_an_alert_windows_file(tmp_path: Path) -> None:
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "90d.yaml").write_text(
        (peer.examples() / "windows" / "custom-30d.yaml")
        .read_text()
        .replace("sloPeriod: 30d", "sloPeriod: 90d")
    )
    spec = str(peer.examples() / "getting-started.yml")
    code, out, err = peer.run_obsctl(
        "generate",
        "-i",
        spec,
        "--slo-period-windows-path",
        str(tmp_path / "w"),
        "--default-slo-period",
        "90d",
    )
    assert code == 0, err
    ours = peer.index(_docs(out))
    assert (
        "sloth-slo-sli-recordings-myservice-requests-availability",
        "slo:sli_error:ratio_rate90d",
    ) in ours.records
    sloth = peer.run_sloth(
        [
            "generate",
            "-i",
            spec,
            "--slo-period-windows-path",
            str(tmp_path / "w"),
            "--default-slo-period",
            "90d",
        ]
    )
    assert sloth.returncode == 0, sloth.stderr
    assert superset_problems(peer.index(_docs(sloth.stdout)), ours) == []


def test_a_key_without_a_value_means_unset_as_in_sloth(tmp_path: Path) -> None:
    spec = tmp_path / "nulls.yaml"
    spec.write_text(
        """\
version: prometheus/v1
service: svc
labels:
slo_plugins:
slos:
  - name: avail
    objective: 99
    labels:
    sli:
      events:
        error_query: sum(rate(x{c="5"}[{{.window}}]))
        total_query: sum(rate(x[{{.window}}]))
    alerting:
      name: A
      annotations:
      page_alert:
      ticket_alert:
        labels:
"""
    )
    code, out, err = peer.run_obsctl("generate", "-i", str(spec))
    assert code == 0, err
    sloth = peer.run_sloth(["generate", "-i", str(spec)])
    assert sloth.returncode == 0, sloth.stderr
    assert superset_problems(peer.index(_docs(sloth.stdout)), peer.index(_docs(out))) == []


def test_the_other_formats_tier_spelling_is_read_with_a_warning() -> None:
    """validate/good/good-aa.yaml writes `pageAlert` in a prometheus/v1 spec: Sloth ignores it,
    obsctl reads it as page_alert and says so."""
    spec = peer.testdata() / "validate" / "good" / "good-aa.yaml"
    code, out, err = peer.run_obsctl("generate", "-i", str(spec))
    assert code == 0
    assert "warning:" in err and "alerting.pageAlert: got pageAlert" in err
    alerts = peer.index(_docs(out)).alerts
    assert alerts[("sloth-slo-alerts-svc01-slo1", "myServiceAlert", "page")][0]["alert03k1"] == "alert03v1"


def test_a_default_period_without_windows_files_is_derived_from_7d_up() -> None:
    spec = str(peer.examples() / "getting-started.yml")
    code, out, err = peer.run_obsctl("generate", "-i", spec, "--default-slo-period", "14d")
    assert code == 0, err
    assert "slo:sli_error:ratio_rate2w" in out  # Sloth names a 14-day period 2w
    code, out, err = peer.run_obsctl("generate", "-i", spec, "--default-slo-period", "3d")
    assert code != 0
    assert "--default-slo-period" in err and "got period '3d'; expected 7d or longer" in err
