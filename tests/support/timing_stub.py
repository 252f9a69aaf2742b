"""A timing stub: an OpenAI-compatible streaming server on loopback whose delays are known.

For every streamed chat completion it sends the first content chunk ``first_ms`` after the request has
arrived, then the remaining ``chunks - 1`` content chunks ``gap_ms`` apart (each carrying
``tokens_per_chunk`` tokens; the last one carries the finish reason), then the usage chunk and
``[DONE]``. It logs its own send times (``GET /stub/log`` drains the log), so a client's measured
TTFT, end-to-end latency and decode rate can be compared with the true ones: the stub's timers run
on asyncio (≈1 ms granularity), so "true" means the logged times, not the configured delays.

It speaks HTTP/1.1 keep-alive with chunked transfer coding, or with ``http10`` HTTP/1.0 and one
connection per response, as ``mlx_lm.server`` does. ``fail_every=K`` answers every K-th chat
request with HTTP 500; ``truncate_every=K`` cuts every K-th stream after half its chunks.
A request that is not streamed gets its whole reply after ``first_ms``: the message ``replies``
(a JSON file) holds for its last user message, else a call of the first tool offered, if any. A request may override any setting with a ``"stub": {...}`` object in
its body.

Run it in its own process (``TimingStub`` below): in the client's process it would share the
client's event loop and distort what it is there to measure. Used by the tests and by
``benchmarks/``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, replace

MODEL = "timing-stub"


@dataclass(frozen=True)
class StubConfig:
    first_ms: float = 5.0
    chunks: int = 16
    gap_ms: float = 2.0
    tokens_per_chunk: int = 1
    http10: bool = False
    fail_every: int = 0
    truncate_every: int = 0
    replies: str = ""  # a JSON file {last user message: assistant message} for non-streamed replies


class StubServer:
    def __init__(self, config: StubConfig):
        self.config = config
        self.log: list[dict] = []
        self.requests = 0
        self.canned = json.loads(open(config.replies).read()) if config.replies else {}

    def next_index(self) -> int:
        self.requests += 1
        return self.requests


class StubConnection(asyncio.Protocol):
    def __init__(self, server: StubServer):
        self.server = server
        self.buffer = b""
        self.busy = False

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        received = time.perf_counter()
        self.buffer += data
        if self.busy:
            return
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        head = self.buffer[:head_end].decode("latin-1").split("\r\n")
        headers = {name.strip().lower(): value.strip()
                   for name, _, value in (line.partition(":") for line in head[1:])}
        length = int(headers.get("content-length", "0"))
        if len(self.buffer) < head_end + 4 + length:
            return
        body = self.buffer[head_end + 4: head_end + 4 + length]
        self.buffer = self.buffer[head_end + 4 + length:]
        method, path = head[0].split(" ")[:2]
        self.busy = True
        asyncio.get_running_loop().create_task(self.answer(method, path, body, received))

    async def answer(self, method: str, path: str, body: bytes, received: float) -> None:
        try:
            if method == "GET" and path.endswith("/models"):
                self.send_json(200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})
            elif method == "GET" and path.endswith("/health"):
                self.send_json(200, {"status": "ok"})
            elif method == "GET" and path.startswith("/stub/log"):
                log, self.server.log = self.server.log, []
                self.send_json(200, log)
            elif method == "POST" and path.endswith("/chat/completions"):
                request = json.loads(body or b"{}")
                await (self.stream(request, received) if request.get("stream") else self.reply(request, received))
            else:
                self.send_json(404, {"error": f"no route {method} {path}"})
        finally:
            self.busy = False
        if self.buffer and not self.transport.is_closing():
            self.data_received(b"")

    def send_json(self, status: int, payload) -> None:
        data = json.dumps(payload).encode()
        self.transport.write(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                             f"Content-Length: {len(data)}\r\n\r\n".encode() + data)

    async def stream(self, request: dict, received: float) -> None:
        config = replace(self.server.config, **request.get("stub", {}))
        index = self.server.next_index()
        response_id = f"stub-{index}"
        if config.fail_every and index % config.fail_every == 0:
            self.send_json(500, {"error": {"message": "stub failure", "type": "server_error"}})
            return
        chunks = min(config.chunks, max(1, int(request.get("max_tokens") or config.chunks) // config.tokens_per_chunk))
        cut_after = chunks // 2 if config.truncate_every and index % config.truncate_every == 0 else None
        self.head(config)
        entry = {"id": response_id, "received": received, "sends": [], "tokens_per_chunk": config.tokens_per_chunk,
                 "config": asdict(config)}
        self.server.log.append(entry)
        for number in range(chunks):
            target = received + (config.first_ms + number * config.gap_ms) / 1000
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            last = number == chunks - 1
            data = self.event(self.chunk(response_id, config.tokens_per_chunk, "length" if last else None))
            if last:
                usage = {"prompt_tokens": prompt_words(request), "completion_tokens": chunks * config.tokens_per_chunk}
                data += self.event({"id": response_id, "object": "chat.completion.chunk", "model": MODEL,
                                    "choices": [], "usage": {**usage, "total_tokens": sum(usage.values())}})
                data += self.event("[DONE]")
            entry["sends"].append(time.perf_counter())
            self.write_body(config, data)
            if cut_after is not None and number + 1 == cut_after:
                entry["truncated"] = True
                self.transport.abort()
                return
        self.end(config)

    async def reply(self, request: dict, received: float) -> None:
        """A non-streamed reply after ``first_ms``: a call of the first tool offered (no
        arguments), else ``chunks × tokens_per_chunk`` tokens of text."""
        config = replace(self.server.config, **request.get("stub", {}))
        index = self.server.next_index()
        delay = received + config.first_ms / 1000 - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if config.fail_every and index % config.fail_every == 0:
            self.send_json(500, {"error": {"message": "stub failure", "type": "server_error"}})
            return
        tokens = config.chunks * config.tokens_per_chunk
        message: dict = {"role": "assistant", "content": "tok " * tokens}
        tools = request.get("tools") or []
        canned = self.server.canned.get(last_user_text(request))
        if canned is not None:
            message = canned
        elif tools:
            message = {"role": "assistant", "content": None, "tool_calls": [{
                "id": f"call-{index}", "type": "function",
                "function": {"name": tools[0]["function"]["name"], "arguments": "{}"}}]}
        self.server.log.append({"id": f"stub-{index}", "received": received, "sends": [time.perf_counter()]})
        self.send_json(200, {
            "id": f"stub-{index}", "object": "chat.completion", "model": MODEL,
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if message.get("tool_calls") else "length"}],
            "usage": {"prompt_tokens": prompt_words(request), "completion_tokens": tokens,
                      "total_tokens": prompt_words(request) + tokens}})

    def head(self, config: StubConfig) -> None:
        if config.http10:
            self.transport.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\n")
        else:
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                                 b"Transfer-Encoding: chunked\r\n\r\n")

    def write_body(self, config: StubConfig, data: bytes) -> None:
        self.transport.write(data if config.http10 else b"%x\r\n%s\r\n" % (len(data), data))

    def end(self, config: StubConfig) -> None:
        if config.http10:
            self.transport.close()
        else:
            self.transport.write(b"0\r\n\r\n")

    @staticmethod
    def chunk(response_id: str, tokens: int, finish_reason: str | None) -> dict:
        return {"id": response_id, "object": "chat.completion.chunk", "model": MODEL,
                "choices": [{"index": 0, "delta": {"content": "tok " * tokens}, "finish_reason": finish_reason}]}

    @staticmethod
    def event(payload) -> bytes:
        text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
        return f"data: {text}\n\n".encode()


def last_user_text(request: dict) -> str:
    users = [message for message in request.get("messages") or [] if message.get("role") == "user"]
    content = users[-1].get("content") if users else ""
    return content if isinstance(content, str) else json.dumps(content)


def prompt_words(request: dict) -> int:
    messages = request.get("messages") or [{}]
    content = messages[-1].get("content") or ""
    return len(content.split()) if isinstance(content, str) else 0


class TimingStub:
    """The stub in its own process: ``with TimingStub(first_ms=5) as stub: stub.base_url``."""

    def __init__(self, **settings):
        self.config = StubConfig(**settings)
        self.process: subprocess.Popen | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> TimingStub:
        arguments = [f"--{key.replace('_', '-')}={value}" for key, value in asdict(self.config).items()]
        self.process = subprocess.Popen([sys.executable, __file__, *arguments], stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            self.process.kill()
            raise RuntimeError(f"the timing stub did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    def __exit__(self, *exc_info) -> None:
        self.process.terminate()
        self.process.wait(10)

    def drain_log(self) -> list[dict]:
        """The stub's log of chat requests since the last drain (send times are its perf_counter)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stub/log", timeout=30) as reply:
            return json.loads(reply.read())


async def serve(config: StubConfig) -> None:
    server = StubServer(config)
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(lambda: StubConnection(server), "127.0.0.1", 0, backlog=1024)
    print(f"PORT {listener.sockets[0].getsockname()[1]}", flush=True)
    await listener.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for key, default in asdict(StubConfig()).items():
        kind = (lambda text: text.lower() == "true") if isinstance(default, bool) else type(default)
        parser.add_argument(f"--{key.replace('_', '-')}", type=kind, default=default)
    try:
        asyncio.run(serve(StubConfig(**vars(parser.parse_args()))))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
