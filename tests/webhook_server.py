"""Real HTTP servers on 127.0.0.1 standing in for Slack's incoming webhook."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

SECRET_PATH = "/services/T0TEST/B0TEST/s3cr3t-webhook-token"


class _LocalServer:
    """An HTTP server on a free port of 127.0.0.1 whose POSTs are answered by ``answer``; a context manager."""

    def __init__(self) -> None:
        self._closed = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                server.answer(self, self.rfile.read(int(self.headers.get("Content-Length", 0))))

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_port}{SECRET_PATH}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def answer(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed.set()
        self._httpd.shutdown()
        self._httpd.server_close()


class WebhookServer(_LocalServer):
    """Records every POSTed JSON body; answers from a queue of scripted replies
    ``(status, headers, body, delay_seconds)``, then 200 ``ok``."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict[str, Any]] = []
        self.attempts = 0
        self.replies: deque[tuple[int, dict[str, str], str, float]] = deque()

    def answer(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        self.attempts += 1
        status, headers, text, delay = self.replies.popleft() if self.replies else (200, {}, "ok", 0.0)
        time.sleep(delay)
        if status < 300 and handler.path == SECRET_PATH:
            self.messages.append(json.loads(body))
        elif handler.path != SECRET_PATH:
            status, text = 404, "no_service"
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Type", "text/plain")
        handler.end_headers()
        handler.wfile.write(text.encode())

    def texts(self) -> list[str]:
        """Every delivered message as one string: fallback text plus all block texts."""
        return [json.dumps(m) for m in self.messages]


class DripServer(_LocalServer):
    """Answers one byte every ``interval`` seconds, in the status line and headers (``phase="headers"``) or in
    the body after prompt headers (``phase="body"``). Each answer stops by itself after ``limit`` bytes, or as
    soon as the server is closed."""

    def __init__(self, phase: str = "body", interval: float = 1.0, limit: int = 60) -> None:
        super().__init__()
        self.requests = 0
        self.phase, self.interval, self.limit = phase, interval, limit

    def answer(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        self.requests += 1
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % self.limit
        if self.phase == "body":
            handler.wfile.write(head)
            handler.wfile.flush()
        dripped = head if self.phase == "headers" else b"x" * self.limit
        for byte in dripped[: self.limit]:
            if self._closed.wait(self.interval):
                return
            try:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
            except OSError:
                return
