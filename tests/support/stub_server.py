"""A local OpenAI-compatible server for tests: it answers chat completions with a reply function.

A test double for a model (named as one): it lets a test fix what "the model" says, e.g. the
reference answer of every question, so a suite's extraction and scoring can be checked end to end
through the real ``openai`` client and the plugin's ``--mlx-base-url`` path::

    with StubServer(lambda request: "The answer is 4.") as stub:
        run pytest ... --mlx-base-url stub.base_url

``reply(request) -> str | (str, finish_reason) | int`` gets the request body as a dict; an int is an
HTTP error status to answer with (a server fault). ``GET /models``
lists one model. Usage is reported with word counts as token counts. Runs on a free loopback
port in a daemon thread; ``requests`` keeps every chat request received.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

Reply = Callable[[dict], "str | tuple[str, str] | int"]


class StubServer:
    def __init__(self, reply: Reply, model: str = "stub-model"):
        self.reply = reply
        self.model = model
        self.requests: list[dict] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> StubServer:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def completion(self, request: dict) -> tuple[int, dict]:
        self.requests.append(request)
        answer = self.reply(request)
        if isinstance(answer, int):
            return answer, {"error": {"message": f"stub server error {answer}", "type": "server_error"}}
        text, finish_reason = (answer, "stop") if isinstance(answer, str) else answer
        prompt_words = sum(len(str(message.get("content", "")).split()) for message in request.get("messages", []))
        completion_words = len(text.split())
        return 200, {
            "id": f"chatcmpl-stub-{len(self.requests)}", "object": "chat.completion", "created": int(time.time()),
            "model": self.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": prompt_words, "completion_tokens": completion_words,
                      "total_tokens": prompt_words + completion_words},
        }


def _handler_for(stub: StubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path.rstrip("/").endswith("/models"):
                self._send(200, {"object": "list", "data": [{"id": stub.model, "object": "model"}]})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if self.path.rstrip("/").endswith("/chat/completions"):
                self._send(*stub.completion(body))
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def _send(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:  # keep test output quiet
            pass

    return Handler
