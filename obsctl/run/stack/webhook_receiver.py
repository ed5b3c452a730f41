"""A local Alertmanager webhook receiver: appends every notification as one JSON line to a file.

Standard library only, run as its own process:
    python webhook_receiver.py --port 9095 --out .local/alerts.jsonl

Each line: {"received_at": <unix seconds>, "path": <request path>, "payload": <Alertmanager's JSON>}.
The path tells receivers apart when Alertmanager posts to <base>/<receiver name>. GET / answers
200 (readiness).
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_LOCK = threading.Lock()


def make_handler(out: Path) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._reply(200, b"ok\n")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            try:
                payload = json.loads(body or b"null")
            except json.JSONDecodeError:
                self._reply(400, b"expected JSON\n")
                return
            line = json.dumps({"received_at": time.time(), "path": self.path, "payload": payload})
            with _LOCK, out.open("a") as fh:
                fh.write(line + "\n")
            self._reply(200, b"ok\n")

        def _reply(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # the JSON lines are the record; no access log noise

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.touch()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args.out))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
