"""Processes the local stack starts, and the pid files that let another obsctl run stop them.

A pid file alone cannot prove a process is ours: pids are reused. Each record also keeps the
command line the process runs and its start time (field 22 of /proc/<pid>/stat, in clock ticks
since boot), and a process counts as ours only while both still match. `obsctl down` therefore
never signals a process that merely inherited one of our pids.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from obsctl.run.stack.wait import wait_until

# Popen objects of the processes this interpreter started, so they are reaped (no zombies) when
# stopped from the same process, as in the test harness.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass
class ProcessRecord:
    """What we know about one process we started; persisted as <run_dir>/<name>.json."""

    name: str
    pid: int
    cmdline: list[str]
    start_ticks: int
    log: str
    port: int | None = None
    url: str | None = None
    # identity() of the running process once it was ready (see settle()).
    identity: str = ""
    # Extra facts a component wants to remember (data directory, DSN, ...).
    info: dict[str, str] = field(default_factory=dict)

    def save(self, run_dir: Path) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        path = run_dir / f"{self.name}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(tmp, path)

    @classmethod
    def load(cls, run_dir: Path, name: str) -> ProcessRecord | None:
        path = run_dir / f"{name}.json"
        try:
            return cls(**json.loads(path.read_text()))
        except (FileNotFoundError, json.JSONDecodeError, TypeError):
            return None

    def forget(self, run_dir: Path) -> None:
        (run_dir / f"{self.name}.json").unlink(missing_ok=True)


def proc_cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def proc_start_ticks(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    if fields[0] == "Z":  # a zombie has finished; it only waits to be reaped
        return None
    return int(fields[19])


def identity(cmdline: list[str]) -> str:
    """The program a command line runs: the executable's name, or the script's under an interpreter.

    Servers may rewrite their title ("/usr/bin/redis-server 127.0.0.1:6379"), so only the first
    word counts; opentelemetry-instrument execs gunicorn, so a service's identity changes once.
    """
    words = cmdline[0].split() if cmdline else []
    if not words:
        return ""
    name = Path(words[0]).name.rstrip(":")
    if name.startswith("python") and len(cmdline) > 1:
        return Path(cmdline[1]).name
    return name


def is_ours(record: ProcessRecord) -> bool:
    """True while the recorded pid still runs the process we started (same start time and program)."""
    child = _CHILDREN.get(record.pid)
    if child is not None and child.poll() is None:
        return True  # our own unreaped child: its pid cannot have been reused
    ticks = proc_start_ticks(record.pid)
    if ticks is None or ticks != record.start_ticks:
        return False
    cmdline = proc_cmdline(record.pid)
    if not cmdline:
        return False
    return identity(cmdline) in {record.identity, identity(record.cmdline)}


def settle(record: ProcessRecord) -> None:
    """Remember the program the process runs now that it is ready (after any exec of a wrapper)."""
    cmdline = proc_cmdline(record.pid)
    if cmdline:
        record.identity = identity(cmdline)


def spawn(
    name: str,
    argv: list[str],
    *,
    log: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
) -> ProcessRecord:
    """Start `argv` in its own session (so a terminal's Ctrl-C does not reach it), output to `log`.

    With `user`, the process drops to that system user through setpriv, which execs the command
    in place: the pid we record is the server's own pid, not a wrapper's.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    prefix: list[str] = []
    if user is not None:
        prefix = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--"]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            prefix + argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    # setpriv execs the target; wait until it has, so the recorded command line is the server's.
    ticks = None
    for _ in range(200):
        ticks = proc_start_ticks(proc.pid)
        cmdline = proc_cmdline(proc.pid)
        if ticks is None or proc.poll() is not None:
            break
        if not prefix or (cmdline and Path(cmdline[0]).name != "setpriv"):
            break
        time.sleep(0.01)
    _CHILDREN[proc.pid] = proc
    return ProcessRecord(name=name, pid=proc.pid, cmdline=argv, start_ticks=ticks or -1, log=str(log))


# Indexes into stat_fields(): the fields of /proc/<pid>/stat after the command name.
STATE, PARENT, SESSION = 0, 1, 3


def stat_fields(pid: int | str) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (the state first); None when gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2 :].split()


def processes_where(index: int, value: int) -> list[int]:
    """Every process whose stat field `index` (PARENT, SESSION) is `value`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = stat_fields(entry.name)
        if fields is not None and int(fields[index]) == value:
            found.append(int(entry.name))
    return found


def session_members(sid: int) -> list[int]:
    """Every process of the session `sid` (each server runs in a session of its own)."""
    return processes_where(SESSION, sid)


def _listening_inodes(port: int) -> set[int]:
    """Inodes of the TCP sockets listening on `port` (any address, IPv4 or IPv6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                found.add(int(inode))
    return found


def listens_on(record: ProcessRecord, port: int) -> bool | None:
    """Whether the process (or one of its session) holds the socket listening on `port`: a
    readiness check answered on our port proves nothing if another process took the port first.
    None when that cannot be read (another user's process, without root)."""
    wanted = _listening_inodes(port)
    if not wanted:
        return False
    try:
        for pid in session_members(record.pid):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                link = os.readlink(fd)
                if link.startswith("socket:[") and int(link[8:-1]) in wanted:
                    return True
    except PermissionError:
        return None
    except OSError:
        pass
    return False


def exited(record: ProcessRecord) -> int | None:
    """The exit code if the process has finished (only known for our own children), else None."""
    child = _CHILDREN.get(record.pid)
    if child is not None:
        return child.poll()
    return None if is_ours(record) else -1


def stop(
    record: ProcessRecord, *, timeout: float = 15.0, sig: int = signal.SIGTERM, group: bool = True
) -> bool:
    """Stop the process if it is still ours: `sig`, then SIGKILL after `timeout`. True if it was running.

    With `group`, the whole process group gets the signal (each server runs in its own session, so
    the group is exactly the server and the workers it forked). PostgreSQL wants the signal on the
    postmaster only, which then shuts its backends down in order.
    """
    if not is_ours(record):
        poll_child(record.pid)
        return False
    _signal(record.pid, sig, group)
    if not _wait_gone(record, timeout):
        _signal(record.pid, signal.SIGKILL, True)
        _wait_gone(record, 5.0)
    _reap(record.pid)
    return True


def _signal(pid: int, sig: int, group: bool) -> None:
    try:
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _wait_gone(record: ProcessRecord, timeout: float) -> bool:
    def gone() -> bool:
        poll_child(record.pid)
        return not is_ours(record)

    return wait_until(gone, timeout=timeout, interval=0.05)


def poll_child(pid: int) -> None:
    """Let a child of ours that has exited be reaped (a zombie counts as running until then)."""
    child = _CHILDREN.get(pid)
    if child is not None:
        child.poll()


def _reap(pid: int) -> None:
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
