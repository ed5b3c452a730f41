"""`obsctl bench payments --profile`: py-spy samples split by OpenTelemetry package. The split of
given stacks, its use in the report and the JSON, and real py-spy recordings of a Flask app run
with and without `opentelemetry-instrument` (no timings)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

from obsctl.run.load.run import LoadResult
from obsctl.run.telemetry import attribution, bench
from obsctl.run.telemetry.attribution import EXPORT_THREADS, NOT_OTEL, Attribution, Profiler

STDLIB = ("/usr/lib/python3.11/",)
SITE = "/venv/lib/python3.11/site-packages"


def f(function: str, path: str, line: int = 1) -> str:
    return f"{function} ({path}:{line})"


THREAD = [
    f("Thread._bootstrap", "/usr/lib/python3.11/threading.py"),
    f("Thread.run", "/usr/lib/python3.11/threading.py"),
]
REQUEST = [
    *THREAD,
    f("ThreadWorker.handle", f"{SITE}/gunicorn/workers/gthread.py"),
    f("Flask.__call__", f"{SITE}/flask/app.py"),
]
FLASK_WRAPPER = f("_wrapped_app", f"{SITE}/opentelemetry/instrumentation/flask/__init__.py")
VIEW = f("create_payment", "/repo/apps/payment/app.py")


def category(*frames: str) -> str:
    return attribution.category(list(frames), STDLIB)


def test_a_sample_belongs_to_the_instrumentation_whose_code_runs_at_its_leaf() -> None:
    # The instrumentation itself, and what it calls in the SDK, the API or the standard library.
    assert category(*REQUEST, FLASK_WRAPPER) == "flask"
    wsgi = f("collect_request_attributes", f"{SITE}/opentelemetry/instrumentation/wsgi/__init__.py")
    assert (
        category(*REQUEST, FLASK_WRAPPER, wsgi, f("urlparse", "/usr/lib/python3.11/urllib/parse.py"))
        == "flask"
    )
    start_span = f("Tracer.start_span", f"{SITE}/opentelemetry/sdk/trace/__init__.py")
    cursor = f("TracedCursorFactory.execute", f"{SITE}/opentelemetry/instrumentation/psycopg/__init__.py")
    dbapi = f("traced_execution", f"{SITE}/opentelemetry/instrumentation/dbapi/__init__.py")
    assert category(*REQUEST, FLASK_WRAPPER, VIEW, cursor, dbapi, start_span) == "psycopg"
    # The work under an instrumentation's wrapper is the application's or the library's.
    assert category(*REQUEST, FLASK_WRAPPER, VIEW) == NOT_OTEL
    execute = f("Cursor.execute", f"{SITE}/psycopg/cursor.py")
    assert category(*REQUEST, FLASK_WRAPPER, VIEW, cursor, dbapi, execute) == NOT_OTEL
    # wrapt is looked through, like the standard library.
    wrapt = f("FunctionWrapper.__call__", f"{SITE}/wrapt/wrappers.py")
    assert category(*REQUEST, FLASK_WRAPPER, VIEW, wrapt, cursor) == "psycopg"
    # The API and the SDK called directly by the application.
    span = f("get_current_span", f"{SITE}/opentelemetry/trace/propagation/__init__.py")
    assert category(*REQUEST, VIEW, span) == "api"
    assert category(*REQUEST, VIEW) == NOT_OTEL
    assert category(*THREAD) == NOT_OTEL


def test_threads_that_opentelemetry_started_are_the_export_threads_whatever_they_call() -> None:
    worker = f("BatchProcessor.worker", f"{SITE}/opentelemetry/sdk/_shared_internal/__init__.py")
    post = f("HTTPConnectionPool.urlopen", f"{SITE}/urllib3/connectionpool.py")
    assert category(*THREAD, worker) == EXPORT_THREADS
    assert (
        category(
            *THREAD,
            worker,
            f("export", f"{SITE}/opentelemetry/exporter/otlp/proto/http/trace_exporter/__init__.py"),
            post,
        )
        == EXPORT_THREADS
    )


def test_raw_profiles_are_read_without_their_process_frames() -> None:
    lines = [
        'process 1:"gunicorn";process 2:"gunicorn";' + ";".join([*REQUEST, FLASK_WRAPPER]) + " 7",
        'process 1:"gunicorn";' + ";".join([*REQUEST, FLASK_WRAPPER, VIEW]) + " 5",
        "",
        "not a profile line",
    ]
    assert attribution.attribute(lines, STDLIB) == Counter({"flask": 7, NOT_OTEL: 5})


def test_each_package_costs_its_share_of_each_services_cpu() -> None:
    found = Attribution(
        {"risk": Counter({"flask": 25, NOT_OTEL: 75}), "payment": Counter({"urllib3": 10, NOT_OTEL: 90})}
    )
    ms = found.ms_per_payment({"risk": 4.0, "payment": 10.0})
    assert ms == {NOT_OTEL: 12.0, "flask": 1.0, "urllib3": 1.0}
    assert found.shares("risk") == {NOT_OTEL: 0.75, "flask": 0.25} and found.shares("absent") == {}


def test_the_report_and_the_json_give_each_package_per_configuration() -> None:
    load = LoadResult(requests=1000, failures=0, rps=20.0, p50_ms=40, p95_ms=80, p99_ms=120)
    plain = bench.Measured(bench.CONFIGS[0], load, {"risk": [50 * 1024]}, cpu_s={"risk": 3.0})
    sampled = bench.Measured(bench.CONFIGS[1], load, {"risk": [60 * 1024]}, cpu_s={"risk": 4.0})
    sampled.attribution = Attribution({"risk": Counter({"flask": 1, "logging": 1, NOT_OTEL: 2})})
    text = "\n".join(
        bench.report_open([[plain, sampled]], bench.OpenLoop(rate=20, duration_s=50, warmup_s=0))
    )
    assert "where the Python time goes" in text
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line.startswith("  ")}
    assert rows["flask"][1:] == ["1.0", "ms"] and rows["logging"][1:] == ["1.0", "ms"]
    assert rows["OpenTelemetry"][1:] == ["2.0", "ms"]
    document = json.loads(json.dumps(bench.to_json([[plain, sampled]], {})))
    assert document["configurations"]["plain"]["otel_ms_per_payment"] is None
    assert document["configurations"]["sampled_10"]["otel_ms_per_payment"] == {
        NOT_OTEL: 2.0,
        "flask": 1.0,
        "logging": 1.0,
    }
    assert document["rounds"][0]["configurations"]["sampled_10"]["profile_samples_by_service"] == {
        "risk": {NOT_OTEL: 2, "flask": 1, "logging": 1}
    }
    # Rounds add their samples up.
    again = bench.Measured(bench.CONFIGS[1], load, {}, cpu_s={"risk": 4.0})
    again.attribution = Attribution({"risk": Counter({"flask": 3, NOT_OTEL: 1})})
    combined = bench.combine([[sampled], [again]])[0]
    assert combined.attribution is not None and combined.attribution.samples["risk"] == Counter(
        {"flask": 4, NOT_OTEL: 3, "logging": 1}
    )


APP = textwrap.dedent(
    """
    import sys, time
    from flask import Flask, jsonify
    app = Flask("profiled")

    @app.get("/work")
    def work():
        return jsonify(total=sum(range(200)))

    client = app.test_client()
    print("ready", flush=True)
    end = time.monotonic() + float(sys.argv[1])
    while time.monotonic() < end:
        client.get("/work")
    """
)


def _profile(tmp_path: Path, instrumented: bool) -> Counter[str]:
    script = tmp_path / "app.py"
    script.write_text(APP, encoding="utf-8")
    env = {**os.environ, "OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none",
           "OTEL_LOGS_EXPORTER": "none", "OTEL_SERVICE_NAME": "profiled"}  # fmt: skip
    prefix = [str(Path(sys.executable).with_name("opentelemetry-instrument"))] if instrumented else []
    app = subprocess.Popen(
        [*prefix, sys.executable, str(script), "30"], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert app.stdout is not None and app.stdout.readline().strip() == "ready"
        out = tmp_path / ("instrumented" if instrumented else "plain")
        out.mkdir()
        profiler = Profiler({"app": app.pid}, out, 3)
        time.sleep(0.5)
        return profiler.finish().samples["app"]
    finally:
        app.kill()
        app.wait()


def test_a_real_profile_finds_the_flask_instrumentation_only_where_it_runs(tmp_path: Path) -> None:
    instrumented = _profile(tmp_path, instrumented=True)
    assert instrumented["flask"] > 0, instrumented
    assert instrumented[NOT_OTEL] > 0, instrumented
    plain = _profile(tmp_path, instrumented=False)
    assert plain[NOT_OTEL] > 0 and set(plain) == {NOT_OTEL}, plain
