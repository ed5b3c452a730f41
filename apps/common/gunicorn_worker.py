"""gunicorn's threaded worker, with every request read whole before a thread is given to it.

gunicorn's `gthread` worker hands a connection to one of its threads as soon as the first bytes
arrive, and the thread then reads the rest of the request with blocking reads and no deadline. A
client that declares `Content-Length: 100` and sends 10 bytes holds that thread until it gives up;
a few dozen such connections hold every thread of a worker, and legitimate requests queue behind
them (issue 16, finding 6).

This worker reads in its event loop instead, the way a buffering proxy (nginx's
`proxy_request_buffering`) does: each connection's bytes are collected without blocking until the
request is complete (the head, and the body its Content-Length or chunked framing announces), and
only then is the request given to a thread, which parses it from memory. A request that is not
complete within REQUEST_READ_TIMEOUT_S of its first byte being awaited (10 s by default) is
answered 408 and its connection closed; a body larger than REQUEST_MAX_BODY_BYTES (1 MiB, above
every service's own limit, so the services still answer their own 413 below it) is answered 413
without being read. A stalled connection costs a file descriptor and a few bytes of buffer, never
a thread: gunicorn's `worker_connections` (1000 per worker) bounds how many it holds.

It is also cheaper than the stock path: gunicorn waits for a new connection's first bytes with a
selector created per connection, and its parser reads the request with several small `recv` calls
from a thread; here one `recv` in the event loop usually takes the whole request.
"""

from __future__ import annotations

import errno
import json
import os
import selectors
import socket
import time
from functools import partial
from typing import Any

from gunicorn.workers.gthread import STOP_KEEPALIVE_LINGER, TConn, ThreadWorker

READ_TIMEOUT_VARIABLE = "REQUEST_READ_TIMEOUT_S"
MAX_BODY_VARIABLE = "REQUEST_MAX_BODY_BYTES"
DEFAULT_READ_TIMEOUT_S = 10.0
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# A request head larger than this is handed to gunicorn's parser, which refuses it (its own limits,
# limit_request_line and limit_request_field_size, are smaller).
MAX_HEAD_BYTES = 64 * 1024
_RECV_BYTES = 64 * 1024
NOTIFY_EVERY_S = 1.0

COMPLETE, INCOMPLETE, TOO_LARGE = "complete", "incomplete", "too_large"


def _answer(status: str, code: str, message: str) -> bytes:
    """A final answer written by the worker itself, with the services' JSON error body."""
    body = json.dumps({"error": {"code": code, "message": message, "field": None}}).encode()
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


TIMEOUT_ANSWER = _answer("408 Request Timeout", "request_timeout", "the request did not arrive in time")
TOO_LARGE_ANSWER = _answer("413 Payload Too Large", "payload_too_large", "the request body is too large")
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def request_state(data: bytes | bytearray, max_body: int) -> tuple[str, bool]:
    """Whether `data` holds a whole HTTP/1.x request: (COMPLETE, INCOMPLETE or TOO_LARGE, whether
    the head asks for `100 Continue`). Malformed framing counts as complete: gunicorn's parser
    then answers it (400), from the bytes there are."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return (COMPLETE if len(data) > MAX_HEAD_BYTES else INCOMPLETE), False
    length: int | None = None
    chunked = expect_continue = False
    for line in bytes(data[:end]).split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            if length is not None or not value.strip().isdigit():
                return COMPLETE, False  # repeated or not a number: the parser refuses it
            length = int(value.strip())
        elif name == b"transfer-encoding":
            chunked = True
        elif name == b"expect":
            expect_continue = value.strip().lower() == b"100-continue"
    start = end + 4
    if chunked:
        return _chunked_state(data, start, max_body), expect_continue
    if not length:
        return COMPLETE, False
    if length > max_body:
        return TOO_LARGE, False
    return (COMPLETE if len(data) - start >= length else INCOMPLETE), expect_continue


def _chunked_state(data: bytes | bytearray, start: int, max_body: int) -> str:
    pos = start
    while True:
        line_end = data.find(b"\r\n", pos)
        if line_end < 0:
            return COMPLETE if len(data) - pos > MAX_HEAD_BYTES else INCOMPLETE
        size_text = bytes(data[pos:line_end]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return COMPLETE  # the parser refuses the framing
        if size == 0:  # the last chunk; then trailer fields, if any, up to an empty line
            return COMPLETE if data.find(b"\r\n\r\n", line_end) >= 0 else INCOMPLETE
        pos = line_end + 2 + size + 2
        if pos - start > max_body:
            return TOO_LARGE
        if pos > len(data):
            return INCOMPLETE


class BufferedThreadWorker(ThreadWorker):
    """`gthread` with requests buffered in the event loop (see the module's docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_timeout_s = float(os.environ.get(READ_TIMEOUT_VARIABLE, DEFAULT_READ_TIMEOUT_S))
        self.max_body_bytes = int(os.environ.get(MAX_BODY_VARIABLE, DEFAULT_MAX_BODY_BYTES))
        # Connections whose request is still arriving, oldest first (all get the same timeout, so
        # insertion order is deadline order).
        self.buffering: dict[TConn, None] = {}
        self._stopping_at: float | None = None
        self._notified_at = 0.0
        self._parent_checked_at = 0.0

    # -- where connections come from -------------------------------------------------------------

    def accept(self, listener: socket.socket) -> None:
        if self.cfg.is_ssl:  # TLS is read by the thread (the handshake blocks): gunicorn's own path
            super().accept(listener)
            return
        try:
            client_sock, client_addr = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, client_sock, client_addr, listener.getsockname())  # non-blocking
        self._start_buffering(conn, b"", registered=False)

    def on_client_socket_readable(self, conn: TConn, client: socket.socket) -> None:
        """A kept-alive connection has its next request coming."""
        if self.cfg.is_ssl:
            super().on_client_socket_readable(conn, client)
            return
        self.keepalived_conns.remove(conn)
        if self._start_buffering(conn, conn.parser.unreader.take_buffered(), registered=True):
            self._read(conn)

    def _start_buffering(self, conn: TConn, data: bytes, *, registered: bool) -> bool:
        """Buffer the connection's next request (`data` is what has arrived of it already); True
        when it is waiting in the poller for more."""
        conn.request_bytes = bytearray(data)
        conn.read_deadline = time.monotonic() + self.read_timeout_s
        conn.continued = False
        if data and self._consider(conn, registered=registered):
            return False
        self.buffering[conn] = None
        callback = partial(self._on_buffering_readable, conn)
        if registered:
            self.poller.modify(conn.sock, selectors.EVENT_READ, callback)
        else:
            self.poller.register(conn.sock, selectors.EVENT_READ, callback)
        return True

    def _on_buffering_readable(self, conn: TConn, _client: socket.socket) -> None:
        self._read(conn)

    def _read(self, conn: TConn) -> None:
        try:
            chunk = conn.sock.recv(_RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:  # the client went away before its request was complete
            self._forget(conn)
            self._unregister(conn)
            self._close(conn)
            return
        conn.request_bytes += chunk
        self._consider(conn, registered=True)

    def _consider(self, conn: TConn, *, registered: bool) -> bool:
        """Dispatch or refuse the request when that can be decided; True when it was."""
        state, expect_continue = request_state(conn.request_bytes, self.max_body_bytes)
        if state == INCOMPLETE:
            if expect_continue and not conn.continued:
                # The client waits for this before it sends the body (gunicorn would send it from
                # the thread; a second interim answer there is allowed, RFC 9110 section 15.2).
                conn.continued = True
                self._send_quietly(conn, CONTINUE)
            return False
        self._forget(conn)
        if registered:
            self.poller.unregister(conn.sock)
        if state == TOO_LARGE:
            self._refuse(conn, TOO_LARGE_ANSWER)
            return True
        data = bytes(conn.request_bytes)
        conn.request_bytes = None
        conn.init()  # the parser, reading from memory first: what it needs is all there
        conn.parser.unreader.unread(data)
        conn.data_ready = True
        self.enqueue_req(conn)
        return True

    # -- after a request --------------------------------------------------------------------------

    def finish_request(self, conn: TConn, fs: Any) -> None:
        if self.cfg.is_ssl:
            super().finish_request(conn, fs)
            return
        try:
            keepalive = fs.result() if not fs.cancelled() else False
            if keepalive:
                conn.sock.setblocking(False)
                leftover = conn.parser.unreader.take_buffered()
                if leftover:  # the client pipelined its next request: buffer it like any other
                    self._start_buffering(conn, leftover, registered=False)
                    return
                conn.set_timeout()
                if not self.alive:
                    conn.timeout = min(conn.timeout, time.monotonic() + STOP_KEEPALIVE_LINGER)
                self.keepalived_conns.append(conn)
                self.poller.register(
                    conn.sock, selectors.EVENT_READ, partial(self.on_client_socket_readable, conn)
                )
            else:
                self.nr_conns -= 1
                conn.close(graceful=True)
        except Exception:
            self.nr_conns -= 1
            conn.close()

    def notify(self) -> None:
        """The heartbeat the arbiter watches (a change of a temporary file's mode, one syscall):
        gunicorn sends it on every wake-up of the event loop, several times per request under
        load; once a second is plenty against a timeout of 30."""
        now = time.monotonic()
        if now - self._notified_at >= NOTIFY_EVERY_S:
            self._notified_at = now
            super().notify()

    def is_parent_alive(self) -> bool:
        """gunicorn asks (getppid) on every wake-up of the event loop; once a second is as good."""
        now = time.monotonic()
        if now - self._parent_checked_at < NOTIFY_EVERY_S:
            return True
        self._parent_checked_at = now
        alive: bool = super().is_parent_alive()
        return alive

    # -- deadlines ----------------------------------------------------------------------------------

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        if not self.alive and self._stopping_at is None:
            self._stopping_at = now
        # A stopping worker gives a request still arriving as long as a kept-alive connection.
        cap = None if self._stopping_at is None else self._stopping_at + STOP_KEEPALIVE_LINGER
        for conn in list(self.buffering):
            deadline = conn.read_deadline if cap is None else min(conn.read_deadline, cap)
            if deadline > now:
                if cap is None:
                    break  # oldest first: the rest are later
                continue
            self._forget(conn)
            self._unregister(conn)
            self._refuse(conn, TIMEOUT_ANSWER)

    # -- helpers ------------------------------------------------------------------------------------

    def _forget(self, conn: TConn) -> None:
        self.buffering.pop(conn, None)

    def _unregister(self, conn: TConn) -> None:
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass

    def _refuse(self, conn: TConn, answer: bytes) -> None:
        self._send_quietly(conn, answer)
        self._close(conn)

    def _close(self, conn: TConn) -> None:
        self.nr_conns -= 1
        conn.close()

    @staticmethod
    def _send_quietly(conn: TConn, data: bytes) -> None:
        try:
            conn.sock.send(data)  # small, into an empty send buffer; a peer that left is no loss
        except OSError:
            pass
