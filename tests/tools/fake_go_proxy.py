"""A Go module proxy made of files (GOPROXY=file://) for tests that run the real `go`: two modules,
example.invalid/server/v3, a main package whose go.mod says `replace example.invalid/lib/v3 => ../lib`
(as etcd's server module does), and example.invalid/lib/v3 itself (fixture `go_env`)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

SERVER = "example.invalid/server/v3"
LIB = "example.invalid/lib/v3"
VERSION = "v3.1.4"


def publish(proxy: Path, module: str, files: dict[str, str]) -> None:
    """One module version in GOPROXY's file layout (list, .info, .mod, .zip)."""
    directory = proxy / module / "@v"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "list").write_text(VERSION + "\n")
    (directory / f"{VERSION}.info").write_text(
        json.dumps({"Version": VERSION, "Time": "2026-01-01T00:00:00Z"})
    )
    (directory / f"{VERSION}.mod").write_text(files["go.mod"])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(f"{module}@{VERSION}/{name}", text)
    (directory / f"{VERSION}.zip").write_bytes(buffer.getvalue())
