"""A real HTTP server on 127.0.0.1 standing in for Slack's incoming webhook."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECRET_PATH = "/services/T0TEST/B0TEST/s3cr3t-webhook-token"


class WebhookServer:
    """Records every POSTed JSON body; answers from a queue of scripted replies
    ``(status, headers, body, delay_seconds)``, then 200 ``ok``."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.attempts = 0
        self.replies: deque[tuple[int, dict[str, str], str, float]] = deque()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                server.attempts += 1
                status, headers, text, delay = server.replies.popleft() if server.replies else (200, {}, "ok", 0.0)
                time.sleep(delay)
                if status < 300 and self.path == SECRET_PATH:
                    server.messages.append(json.loads(body))
                elif self.path != SECRET_PATH:
                    status, text = 404, "no_service"
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(text.encode())

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_port}{SECRET_PATH}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> WebhookServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def texts(self) -> list[str]:
        """Every delivered message as one string: fallback text plus all block texts."""
        return [json.dumps(m) for m in self.messages]
