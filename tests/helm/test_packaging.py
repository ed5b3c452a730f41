"""The chart reads the generated files through symlinks; a packaged chart must carry their contents."""

from __future__ import annotations

import tarfile
from pathlib import Path

import helm_python

from obsctl.generate.helm import chart

from . import generated_inputs as generated


def test_package_holds_the_generated_files_not_links(tmp_path: Path) -> None:
    with helm_python.Chart.load(chart.CHART) as loaded:
        archive = Path(loaded.save(tmp_path))
    with tarfile.open(archive) as tar:
        members = {m.name: m for m in tar.getmembers()}
        for name, text in generated.dashboards().items():
            member = members[f"payment-platform/dashboards/{name}"]
            assert member.isfile()
            extracted = tar.extractfile(member)
            assert extracted is not None and extracted.read().decode() == text
        collector = tar.extractfile(members["payment-platform/collector/kubernetes.yaml"])
        assert collector is not None and collector.read().decode() == generated.collector_config()
        # .helmignore keeps the promtool tests out of the release.
        assert not any("/alerts/tests/" in n or "/alerts/slo-tests/" in n for n in members)
        assert any(n.startswith("payment-platform/alerts/") for n in members)
