"""`obsctl slo generate` of 1,000 SLOs takes under 2 s (`obsctl bench rules` prints the figures).

CPU time, not wall time: the machine's other load does not count. Reading, validating, the plugin
chain, rendering and writing the YAML of 1,000 synthetic SLOs (17,001 rules).
"""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from obsctl.commands.bench import _synthetic_spec
from obsctl.generate.rules import output, slo_rules
from obsctl.generate.slo import load


def test_a_thousand_slos_in_under_two_seconds(tmp_path: Path) -> None:
    spec = tmp_path / "bench.yaml"
    spec.write_text(yaml.safe_dump(_synthetic_spec(1000)))
    best = float("inf")
    for _ in range(2):
        started = time.process_time()
        slos = load.load(spec).slos
        text = output.render(slos, slo_rules.Options(), "prometheus", "bench")
        (tmp_path / "out.yml").write_text(text)
        best = min(best, time.process_time() - started)
    assert text.count("\n- name: ") == 3001
    assert best < 2.0, f"{best:.2f} s of CPU for 1,000 SLOs"
