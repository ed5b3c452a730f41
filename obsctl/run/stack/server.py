"""The shape every component of the local stack shares: start on a free port, wait, stop.

A component lives in a state directory: its data under <state>/<name>/, its log in
<state>/logs/<name>.log, its pid record in <state>/run/<name>.json. Another process (a later
`obsctl down`, the demo, a fault switch) attaches to it through that record. The port a component
last used is remembered in <state>/run/ports.json and reused when free, so a component stopped by
a fault comes back where its clients expect it. A component with more than one listener (the
collector, Jaeger) takes its other ports from `extra_port(key)`: remembered as `<name>.<key>` in
ports.json the same way, and kept in the pid record's `info` for whoever attaches to it.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path

from obsctl.run.stack import process
from obsctl.run.stack.process import ProcessRecord
from obsctl.run.stack.wait import StackError, free_port, log_tail, port_is_free, wait_ready, wait_until

# Services start in parallel threads; they share ports.json.
_PORTS_LOCK = threading.Lock()


class Server(ABC):
    """One long-running process of the stack."""

    name: str = ""
    start_timeout: float = 30.0
    stop_timeout: float = 15.0
    # The signal that asks for a prompt, clean shutdown, and whether the whole process group gets it.
    stop_signal: int = signal.SIGTERM
    signal_group: bool = True

    def __init__(self, state_dir: Path | str, *, name: str | None = None) -> None:
        self.state_dir = Path(state_dir).resolve()
        if name:
            self.name = name
        self.run_dir = self.state_dir / "run"
        self.log_path = self.state_dir / "logs" / f"{self.name}.log"
        self.data_dir = self.state_dir / self.name
        self.record: ProcessRecord | None = None
        self.ready_seconds: float | None = None
        existing = ProcessRecord.load(self.run_dir, self.name)
        if existing and process.is_ours(existing):
            self.record = existing

    # -- what each component says -------------------------------------------------------------

    @abstractmethod
    def launch(self, port: int) -> ProcessRecord:
        """Start the process (the state directory is prepared) and return its record."""

    @abstractmethod
    def ready(self) -> bool:
        """One readiness check; True when the component serves requests."""

    def prepare(self) -> None:
        """Create what the process needs before its first start (data directory, config)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def url_for(self, port: int) -> str:
        return f"http://127.0.0.1:{port}"

    def env(self) -> dict[str, str]:
        """Variables the rest of the stack (and .local/stack.env) gets from this component."""
        return {}

    # -- shared behaviour ---------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._require().port or 0

    @property
    def url(self) -> str:
        return self._require().url or ""

    @property
    def pid(self) -> int:
        return self._require().pid

    def running(self) -> bool:
        return self.record is not None and process.is_ours(self.record)

    def start(self, port: int | None = None, *, timeout: float | None = None) -> bool:
        """Start and wait until ready. False (and nothing done) when it already runs."""
        if self.running():
            return False
        began = time.perf_counter()
        self.prepare()
        chosen = port or self._remembered_port() or free_port()
        record = self.launch(chosen)
        record.port = chosen
        record.url = record.url or self.url_for(chosen)
        self.record = record
        record.save(self.run_dir)
        self._remember_port(chosen)
        try:
            wait_ready(
                self.name,
                self.ready,
                timeout=timeout or self.start_timeout,
                alive=lambda: process.exited(record) is None,
                log=record.log,
            )
            self._check_listens(record, chosen)
        except StackError:
            self.stop()
            raise
        process.settle(record)
        record.save(self.run_dir)
        self.ready_seconds = time.perf_counter() - began
        return True

    def _check_listens(self, record: ProcessRecord, port: int) -> None:
        """The port answered the readiness check: make sure it is our process that listens there
        (free_port() only found the port free; another process may have taken it since)."""
        if wait_until(lambda: process.listens_on(record, port) is not False, timeout=5, interval=0.1):
            return
        raise StackError(
            f"{self.name}: another process listens on port {port} (it answered the readiness check); "
            f"see {record.log}:\n{log_tail(record.log)}"
        )

    def stop(self) -> bool:
        """Stop the process if it is ours and still running; forget its record either way."""
        record = self.record or ProcessRecord.load(self.run_dir, self.name)
        if record is None:
            return False
        was_running = process.stop(
            record, timeout=self.stop_timeout, sig=self.stop_signal, group=self.signal_group
        )
        record.forget(self.run_dir)
        self.record = None
        return was_running

    def extra_port(self, key: str, taken: set[int] | None = None) -> int:
        """Another port of this component (during launch): its last one if free, else a new one.
        Recorded in the pid record's info under `key` once the record is saved."""
        used = set(taken or ())
        path = self._ports_file()
        try:
            remembered = json.loads(path.read_text()).get(f"{self.name}.{key}")
        except (FileNotFoundError, json.JSONDecodeError):
            remembered = None
        port = int(remembered) if remembered and port_is_free(int(remembered)) else None
        while port is None or port in used:
            port = free_port()
        with _PORTS_LOCK:
            self._write_port(port, f"{self.name}.{key}")
        return port

    def info_port(self, key: str) -> int:
        """A port `extra_port` chose, read from the running component's record."""
        record = self._require()
        try:
            return int(record.info[key])
        except (KeyError, ValueError):
            raise StackError(f"{self.name}: its record in {self.run_dir} names no {key} port") from None

    def _require(self) -> ProcessRecord:
        if self.record is None:
            raise StackError(f"{self.name} is not running (no live record in {self.run_dir})")
        return self.record

    def _ports_file(self) -> Path:
        return self.run_dir / "ports.json"

    def _remembered_port(self) -> int | None:
        try:
            port = json.loads(self._ports_file().read_text()).get(self.name)
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return int(port) if port and port_is_free(int(port)) else None

    def _remember_port(self, port: int) -> None:
        with _PORTS_LOCK:
            self._write_port(port)

    def _write_port(self, port: int, key: str | None = None) -> None:
        path = self._ports_file()
        try:
            ports = json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            ports = {}
        ports[key or self.name] = port
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(ports, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, path)
