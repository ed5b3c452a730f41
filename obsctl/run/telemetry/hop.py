"""What zero-code instrumentation costs one service hop, measured without the rest of the stack.

`obsctl bench hop` runs the channel service's app in one process and sends it POST /v1/charges
through Flask's test client (no network, no gunicorn, no other service competing for the CPUs),
counting the process's CPU time per request. Three configurations, each in a fresh interpreter:

    plain          python, no opentelemetry-instrument
    unsampled      opentelemetry-instrument, parentbased_always_off: every wrapper runs, no span is kept
    sampled        opentelemetry-instrument, parentbased_always_on: every span is kept and exported

With `--levers`, configuration levers of the zero-code agent, each the unsampled configuration
with one setting changed (LEVERS), and what each one saves or costs a hop against unsampled.

Traces and logs are exported over OTLP/HTTP to an OtlpSink process, with the same OTEL_*
settings as the local stack. The configurations run in rotating order for several rounds and each
reports its lowest figure: the cost of the code, with as little of the machine's other work as a
shared machine allows. The difference between plain and unsampled is what every request pays for
the instrumentation whether or not it is sampled, which bounds what a lower sampling rate saves.

Run as a module (`python -m obsctl.run.telemetry.hop --requests N`) it is the probe itself.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from obsctl.run import internal_secret
from obsctl.run.stack.services import entry_point, service_environment, venv_bin


@dataclass(frozen=True)
class HopConfig:
    sampler: str | None  # None: plain python, no opentelemetry-instrument
    # Service environment over the local stack's (a lever: one setting changed)
    variables: tuple[tuple[str, str], ...] = ()


UNSAMPLED = "unsampled"
CONFIGS: dict[str, HopConfig] = {
    "plain": HopConfig(None),
    UNSAMPLED: HopConfig("parentbased_always_off"),
    "sampled": HopConfig("parentbased_always_on"),
}


def _unsampled_with(*variables: tuple[str, str]) -> HopConfig:
    return HopConfig(CONFIGS[UNSAMPLED].sampler, variables)


# `--levers`: each is the unsampled configuration with one setting of the local stack changed.
LEVERS: dict[str, HopConfig] = {
    # The SDK's meters left enabled (the default configurator): what disabling them saves.
    "unsampled_sdk_meters_on": _unsampled_with(("OTEL_PYTHON_METER_CONFIGURATOR", "")),
    # No OTLP log handler and no log export; the JSON lines on stderr stay (with their trace ids):
    # what shipping logs from those lines instead would save a hop that writes one line.
    "unsampled_no_otlp_logs": _unsampled_with(
        ("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "logging"), ("OTEL_LOGS_EXPORTER", "none")
    ),
}
_RESULT_PREFIX = "hop-cpu-us="


@dataclass(frozen=True)
class HopResult:
    name: str
    cpu_us: list[float]  # per request, one figure per round

    @property
    def best_us(self) -> float:
        return min(self.cpu_us)


def _probe(requests: int) -> float:
    """CPU microseconds per POST /v1/charges through the channel app, in this process: the app is
    loaded from its entry point by gunicorn's own loader, as a worker would load it."""
    from gunicorn.util import import_app

    client = import_app(entry_point("channel")).test_client()
    secret = os.environ[internal_secret.VARIABLE]

    def signed() -> tuple[bytes, dict[str, str]]:
        # Signed as the payment service signs it, before the clock starts: the figure is the
        # channel's own work (verifying the token included), not the caller's.
        body = json.dumps(
            {"payment_id": str(uuid.uuid4()), "amount": 100, "currency": "EUR", "channel": "card"}
        ).encode()
        token = internal_secret.token(secret, "payment", "POST", "/v1/charges", body)
        headers = {"X-Deadline-Ms": "3000", "Content-Type": "application/json", internal_secret.HEADER: token}
        return body, headers

    def one(body: bytes, headers: dict[str, str]) -> None:
        answer = client.post("/v1/charges", data=body, headers=headers)
        if answer.status_code != 200:
            raise SystemExit(f"channel answered {answer.status_code}: {answer.get_data(as_text=True)}")

    for _ in range(max(100, requests // 10)):  # warm-up: imports, first-call caches
        one(*signed())
    calls = [signed() for _ in range(requests)]  # a token stays valid for a minute
    started = time.process_time()
    for call in calls:
        one(*call)
    return (time.process_time() - started) / requests * 1e6


def _environment(config: HopConfig, endpoint: str, multiproc_dir: str) -> dict[str, str]:
    """The channel service's environment as the local stack builds it, without the caller's OTEL_*
    (the configurations differ by the sampler and their own variables alone); plain runs ignore the
    OTEL_* in it."""
    caller = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    settings = {
        "CHANNEL_LATENCY_MS": "0",  # the simulated provider's delay is sleep, not CPU
        "CHANNEL_DECLINE_RATE": "0",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        internal_secret.VARIABLE: secrets.token_hex(16),
    }
    if config.sampler is not None:
        settings["OTEL_TRACES_SAMPLER"] = config.sampler
    env = service_environment(
        "channel", stack_env=settings, multiproc_dir=Path(multiproc_dir), caller_env=caller
    )
    env.pop("OTEL_TRACES_SAMPLER_ARG", None)
    env.update(config.variables)
    return env


def _run_probe(config: HopConfig, requests: int, endpoint: str) -> float:
    bin_dir = venv_bin()
    argv = [str(bin_dir / "opentelemetry-instrument")] if config.sampler is not None else []
    argv += [sys.executable, "-m", "obsctl.run.telemetry.hop", "--requests", str(requests)]
    with tempfile.TemporaryDirectory(prefix="obsctl-hop-") as multiproc:
        done = subprocess.run(
            argv, env=_environment(config, endpoint, multiproc), capture_output=True, text=True, timeout=600
        )
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(_RESULT_PREFIX):
            return float(line[len(_RESULT_PREFIX) :])
    raise RuntimeError(f"the hop probe failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")


def run(
    *, requests: int, rounds: int, progress: Callable[[str], None], levers: bool = False
) -> list[HopResult]:
    from obsctl.run.telemetry.bench import SinkProcess, rotated

    configs = {**CONFIGS, **(LEVERS if levers else {})}
    names = list(configs)
    figures: dict[str, list[float]] = {name: [] for name in names}
    sink = SinkProcess()
    try:
        for number in range(rounds):
            for name in rotated(names, number):
                progress(f"round {number + 1}/{rounds}: {name}, {requests} requests")
                figures[name].append(_run_probe(configs[name], requests, sink.endpoint))
    finally:
        sink.stop()
    return [HopResult(name, figures[name]) for name in names]


def report(results: list[HopResult], requests: int) -> list[str]:
    plain = next(r for r in results if r.name == "plain")
    width = max(14, *(len(r.name) for r in results))
    lines = [
        f"one hop: channel app, POST /v1/charges through Flask's test client, {requests} requests per run,"
        f" lowest of {len(plain.cpu_us)} runs",
        "",
        f"{'configuration':<{width}} {'CPU us/request':>15} {'vs plain':>9}   runs",
    ]
    for r in results:
        ratio = r.best_us / plain.best_us if plain.best_us else float("nan")
        runs = ", ".join(f"{v:.0f}" for v in r.cpu_us)
        lines.append(f"{r.name:<{width}} {r.best_us:>15.0f} {ratio:>8.2f}x   {runs}")
    unsampled = next((r for r in results if r.name == UNSAMPLED), None)
    sampled = next((r for r in results if r.name == "sampled"), None)
    if unsampled and sampled:
        fixed = unsampled.best_us - plain.best_us
        per_kept = sampled.best_us - unsampled.best_us
        lines += [
            "",
            f"paid by every request, sampled or not: {fixed:.0f} us ({fixed / plain.best_us:+.0%} of plain)",
            f"more for a sampled request (spans kept and exported): {per_kept:.0f} us",
            f"so at 10% sampling one hop costs about {fixed + 0.1 * per_kept:.0f} us more than plain"
            f" ({(fixed + 0.1 * per_kept) / plain.best_us:+.0%})",
        ]
    levers = [r for r in results if r.name in LEVERS]
    if unsampled and levers:
        lines += ["", "levers, each against unsampled (lowest runs; + is what the lever adds to a hop):"]
        for r in levers:
            lines.append(f"  {r.name:<26} {r.best_us - unsampled.best_us:+6.0f} us")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    print(f"{_RESULT_PREFIX}{_probe(args.requests):.1f}", flush=True)


if __name__ == "__main__":
    main()
