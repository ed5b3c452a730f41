"""The chart's Prometheus configuration passes `promtool check config` of Prometheus 3.

Our Prometheus 3 build leaves out the cloud service discoveries (tools/versions.yaml, tag
remove_all_sd) and keeps kubernetes_sd: these tests prove the chart needs nothing that was left
out, and that a discovery the build lacks is refused rather than ignored. Debian's promtool 2.42
cannot check this file: Debian builds it without kubernetes_sd (asserted, so that a Debian
package that gains it makes this test say so).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from obsctl.generate.rules import checks

from .conftest import Rendered

WITH_PROMETHEUS = ("default", "production")


def prometheus_yml(ex: Rendered) -> str:
    config_maps = [c for c in ex.of_kind("ConfigMap") if "prometheus.yml" in (c.get("data") or {})]
    assert len(config_maps) == 1, f"{ex.name}: expected one ConfigMap with prometheus.yml"
    return str(config_maps[0]["data"]["prometheus.yml"])


def check_config(promtool: str, path: Path) -> subprocess.CompletedProcess[str]:
    # --syntax-only: the rule files and secrets it names are mounted in the pod, not here
    return subprocess.run(
        [promtool, "check", "config", "--syntax-only", str(path)], capture_output=True, text=True, timeout=60
    )


@pytest.fixture(scope="module")
def promtools() -> dict[str, checks.Tool]:
    """{"debian": promtool 2.42, "ours": Prometheus 3's}."""
    debian, ours = checks.promtools()
    missing = [t.missing for t in (debian, ours) if t.path is None]
    assert not missing, missing
    return {"debian": debian, "ours": ours}


@pytest.mark.parametrize("name", WITH_PROMETHEUS)
def test_prometheus_3_accepts_the_charts_prometheus_config(
    examples: dict[str, Rendered], name: str, promtools: dict[str, checks.Tool], tmp_path: Path
) -> None:
    text = prometheus_yml(examples[name])
    assert any("kubernetes_sd_configs" in job for job in yaml.safe_load(text)["scrape_configs"])
    path = tmp_path / "prometheus.yml"
    path.write_text(text)
    result = check_config(promtools["ours"].binary(), path)
    assert result.returncode == 0, result.stdout + result.stderr

    debian = check_config(promtools["debian"].binary(), path)
    assert debian.returncode != 0
    assert "field kubernetes_sd_configs not found" in debian.stdout + debian.stderr


def test_a_discovery_our_build_leaves_out_is_refused(
    tmp_path: Path, promtools: dict[str, checks.Tool]
) -> None:
    path = tmp_path / "prometheus.yml"
    path.write_text("scrape_configs:\n  - job_name: ec2\n    ec2_sd_configs: [{region: eu-west-1}]\n")
    result = check_config(promtools["ours"].binary(), path)
    assert result.returncode != 0
    assert "field ec2_sd_configs not found" in result.stdout + result.stderr
