"""A local OpenAI-compatible server for tests: it answers chat completions with a reply function.

A test double for a model and for a faulty server (named as one): a test fixes what "the model"
says, or how the server fails, and runs a suite end to end through the real ``openai`` client and
the plugin's ``--mlx-base-url`` path::

    with StubServer(lambda request: "The answer is 4.") as stub:
        run pytest ... --mlx-base-url stub.base_url

``reply(request)`` gets the request body as a dict and returns one of:

- ``str`` or ``(str, finish_reason)``: a chat completion with that text (usage in word counts);
- ``int``: that HTTP status with a JSON error body;
- ``Answer(status, body, content_type, headers)``: exactly these bytes (garbage, HTML, a 503 with
  ``Retry-After``...);
- ``Drop(CLOSE)`` / ``Drop(RESET)``: the request is read, then the connection is closed (FIN) or
  reset (RST) before any byte of a response; ``Drop(RESET_MID_BODY)`` sends the headers and half
  the body first.

``models`` answers ``GET /models`` the same way (default: one model listed). Runs on a free
loopback port in a daemon thread; ``requests`` keeps every chat request received. A reply function
that raises answers 500 with the exception's text.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CLOSE, RESET, RESET_MID_BODY = "close", "reset", "reset_mid_body"


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Drop:
    how: str = CLOSE


Reply = Callable[[dict], "str | tuple[str, str] | int | Answer | Drop"]


def in_turn(replies: Iterable, then=None) -> Reply:
    """A reply function answering with ``replies`` one after another, then always ``then``."""
    pending = iter(replies)
    lock = threading.Lock()

    def reply(request: dict):
        with lock:
            return next(pending, then)

    return reply


class StubServer:
    def __init__(self, reply: Reply, model: str = "stub-model", models: Answer | int | None = None):
        self.reply = reply
        self.model = model
        self.models = models
        self.requests: list[dict] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> StubServer:
        self._server = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def completion(self, request: dict):
        self.requests.append(request)
        try:
            answer = self.reply(request)
        except Exception as error:  # a broken reply function is a server fault, seen by the client
            return Answer(500, json.dumps({"error": {"message": repr(error)}}).encode())
        if isinstance(answer, (Answer, Drop)):
            return answer
        if isinstance(answer, int):
            return _json(answer, {"error": {"message": f"stub server error {answer}", "type": "server_error"}})
        text, finish_reason = (answer, "stop") if isinstance(answer, str) else answer
        prompt_words = sum(len(str(message.get("content", "")).split()) for message in request.get("messages", []))
        completion_words = len(text.split())
        return _json(200, {
            "id": f"chatcmpl-stub-{len(self.requests)}", "object": "chat.completion", "created": int(time.time()),
            "model": self.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": prompt_words, "completion_tokens": completion_words,
                      "total_tokens": prompt_words + completion_words},
        })

    def model_list(self):
        if self.models is None:
            return _json(200, {"object": "list", "data": [{"id": self.model, "object": "model"}]})
        return _json(self.models, {"error": {"message": "stub"}}) if isinstance(self.models, int) else self.models


def _json(status: int, payload: dict) -> Answer:
    return Answer(status, json.dumps(payload).encode())


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:  # dropped connections are the point
        pass


def _handler_for(stub: StubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real servers do

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path.rstrip("/").endswith("/models"):
                self._answer(stub.model_list())
            else:
                self._answer(_json(404, {"error": {"message": f"no route {self.path}"}}))

        def do_POST(self) -> None:  # noqa: N802
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._answer(_json(404, {"error": {"message": f"no route {self.path}"}}))
                return
            self._answer(stub.completion(json.loads(raw or b"{}")))

        def _answer(self, answer: Answer | Drop) -> None:
            if isinstance(answer, Drop):
                self._drop(answer.how)
                return
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(answer.body)

        def _drop(self, how: str) -> None:
            self.close_connection = True
            if how == RESET_MID_BODY:
                body = b'{"id": "chatcmpl-cut", "choices": [{"index": 0, "message": {"role": "assistant", "content": "'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(2 * len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
            if how == CLOSE:
                self.connection.shutdown(socket.SHUT_RDWR)
            else:  # linger 0: close() sends RST instead of FIN
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()

        def log_message(self, *args) -> None:  # keep test output quiet
            pass

    return Handler
