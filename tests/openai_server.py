"""A real OpenAI-compatible HTTP server on 127.0.0.1 for tests, serving a local transformers model.

It speaks ``/v1/chat/completions`` and ``/v1/completions`` and can be told to misbehave: queue
faults with ``server.faults.extend([...])`` (consumed one per request, in arrival order) or set
``server.fault_mix`` to draw a fault at random per request. Faults:

``400`` (bad request: not retryable), ``401`` (refused key), ``429`` (no Retry-After), ``429-retry``
(Retry-After: 0), ``500``, ``503``, ``hang`` (never answers until the client gives up; a client that
closes its connection is counted in ``disconnects``), ``close`` (drops the connection without a
reply), ``malformed`` (200 with broken JSON), ``empty`` (200 with an empty ``choices``), ``ok``.

Structured output: every request's ``response_format`` is recorded in ``response_formats``; the
types in ``refuse_formats`` are answered 400, the way a server that does not know them does.
``slots`` set → ``GET /props`` answers ``{"total_slots": slots}`` like llama.cpp's server.
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from lengthwise.backends.base import GenerationRequest


class FakeOpenAIServer:
    def __init__(self, generator, model_name: str = "tiny", hang_seconds: float = 30.0, seed: int = 0):
        self.generator = generator
        self.model_name = model_name
        self.hang_seconds = hang_seconds
        self.faults: deque[str] = deque()
        self.fault_mix: dict[str, float] | None = None
        self.served = Counter()
        self.seen_auth: list[str] = []
        self.response_formats: list[dict | None] = []
        self.requests: list[tuple[str, dict]] = []  # (path, body) of every POST
        self.refuse_formats: set[str] = set()
        self.refuse_status = 400
        self.disconnects = 0
        self.slots: int | None = None
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._model_lock = threading.Lock()
        self._stop = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAIServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def next_fault(self) -> str:
        with self._lock:
            if self.faults:
                fault = self.faults.popleft()
            elif self.fault_mix:
                names, weights = zip(*self.fault_mix.items(), strict=True)
                fault = self._rng.choices(names, weights)[0]
            else:
                fault = "ok"
            self.served[fault] += 1
            return fault

    def complete(self, body: dict, chat: bool) -> dict:
        request = GenerationRequest(
            messages=body["messages"] if chat else None,
            prompt=None if chat else body["prompt"],
            max_new_tokens=int(body.get("max_tokens") or 16),
            temperature=float(body.get("temperature", 0.7)),
            top_p=float(body.get("top_p", 1.0)),
            stop=body.get("stop") or (),
            seed=body.get("seed"),
        )
        with self._model_lock:
            result = self.generator.generate([request])[0]
        choice = {"index": 0, "finish_reason": result.finish_reason}
        if chat:
            choice["message"] = {"role": "assistant", "content": result.text}
        else:
            choice["text"] = result.text
        return {
            "id": "cmpl-test", "object": "chat.completion" if chat else "text_completion", "created": int(time.time()),
            "model": self.model_name, "choices": [choice],
            "usage": {"prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens,
                      "total_tokens": result.prompt_tokens + result.completion_tokens},
        }

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def _send(self, status: int, payload: bytes, headers: dict | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self):
                if self.path == "/props" and server.slots is not None:
                    return self._send(200, json.dumps({"total_slots": server.slots}).encode())
                return self._send(404, b'{"error": "not found"}')

            def _wait_or_disconnect(self) -> None:
                """Hang until the client gives up (its connection closes) or the server stops."""
                self.connection.settimeout(0.05)
                deadline = time.monotonic() + server.hang_seconds
                while time.monotonic() < deadline and not server._stop.is_set():
                    try:
                        if self.connection.recv(1, socket.MSG_PEEK) == b"":
                            with server._lock:
                                server.disconnects += 1
                            return
                    except TimeoutError:
                        continue
                    except OSError:
                        with server._lock:
                            server.disconnects += 1
                        return

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                server.seen_auth.append(self.headers.get("Authorization", ""))
                chat = self.path == "/v1/chat/completions"
                if not (chat or self.path == "/v1/completions"):
                    return self._send(404, b'{"error": "not found"}')
                response_format = body.get("response_format")
                with server._lock:
                    server.response_formats.append(response_format)
                    server.requests.append((self.path, body))
                if response_format and response_format.get("type") in server.refuse_formats:
                    # as llama-cpp-python 0.3.36 does: its validation error comes back as a 500
                    return self._send(server.refuse_status,
                                      b'{"error": {"message": "1 validation error: (body, response_format, type)"}}')
                fault = server.next_fault()
                if fault == "429":
                    return self._send(429, b'{"error": {"message": "rate limited"}}')
                if fault == "429-retry":
                    return self._send(429, b'{"error": {"message": "rate limited"}}', {"Retry-After": "0"})
                if fault in ("400", "500", "503"):
                    return self._send(int(fault), b'{"error": {"message": "server error"}}')
                if fault == "401":
                    return self._send(401, b'{"error": {"message": "invalid api key"}}')
                if fault == "hang":
                    self._wait_or_disconnect()
                    self.close_connection = True
                    return None
                if fault == "close":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return None
                if fault == "malformed":
                    return self._send(200, b'{"id": "x", "choices": [ {"index": 0, "mess')
                if fault == "empty":
                    return self._send(200, json.dumps({"id": "x", "object": "chat.completion", "created": 0,
                                                       "model": server.model_name, "choices": []}).encode())
                return self._send(200, json.dumps(server.complete(body, chat)).encode())

        return Handler
