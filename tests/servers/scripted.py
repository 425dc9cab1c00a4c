"""A scripted OpenAI-compatible server on 127.0.0.1 for tests and benchmarks.

Deterministic answers (a label picked by the hash of the prompt, so a re-run gets the same text),
a fixed latency, and injected faults: 429 with Retry-After, 500, hangs past the client's timeout,
dropped connections and malformed JSON. Faults are drawn per attempt from a seeded generator, and a
prompt is faulted at most `max_faults_per_prompt` times in a row, so a client with enough retries
always gets through. `stall_after=N` answers N prompts and then holds every later request until
released (or until its client disconnects: a held request whose client died is never answered),
which is how the kill -9 test pins exactly which prompts were answered.

Plain asyncio streams with a minimal HTTP/1.1 reader (keep-alive, Content-Length bodies), so the
server controls every byte (a drop is a closed socket; malformed JSON is a 200 with a broken body).

    python -m tests.servers.scripted --port 0 --latency 0.2      # prints "PORT <n>" when listening
    GET /stats -> counters;  POST /control {"faults": {"429": 0.1}, "stall_after": 5, "release": true}
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field

FAULT_KINDS = ("429", "500", "timeout", "drop", "malformed")


@dataclass
class Script:
    latency: float = 0.0  # seconds before every answer
    faults: dict[str, float] = field(default_factory=dict)  # kind -> probability per attempt
    retry_after: float = 0.05  # seconds, sent with 429
    hang: float = 30.0  # a 'timeout' fault sleeps this long (longer than the client's timeout)
    max_faults_per_prompt: int = 2
    seed: int = 0
    stall_after: int | None = None
    labels: list[str] = field(default_factory=lambda: ["positive", "negative", "neutral"])
    model: str = "scripted"


def prompt_key(body: dict) -> str:
    """What identifies a prompt: its messages (chat) or prompt (completions) and max tokens."""
    content = body.get("messages") if "messages" in body else body.get("prompt")
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]


class ScriptedServer:
    def __init__(self, script: Script | None = None) -> None:
        self.script = script or Script()
        self.requests = 0
        self.answered: Counter[str] = Counter()  # prompt key -> well-formed answers delivered
        self.faults: Counter[str] = Counter()
        self.abandoned = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._streak: Counter[str] = Counter()
        self._attempts: Counter[str] = Counter()
        self._release: asyncio.Event | None = None
        self.port = 0

    # --- answers ---------------------------------------------------------------------------
    def answer_text(self, body: dict) -> str:
        labels = self.script.labels
        return labels[int(prompt_key(body), 16) % len(labels)]

    def completion_payload(self, body: dict, chat: bool) -> dict:
        text = self.answer_text(body)
        source = body.get("messages") if chat else body.get("prompt")
        prompt_tokens = len(json.dumps(source).split())
        choice = ({"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"} if chat
                  else {"index": 0, "text": text, "finish_reason": "stop", "logprobs": None})
        return {"id": "cmpl-" + prompt_key(body), "object": "chat.completion" if chat else "text_completion",
                "created": int(time.time()), "model": body.get("model", self.script.model), "choices": [choice],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 1, "total_tokens": prompt_tokens + 1}}

    def pick_fault(self, key: str) -> str | None:
        self._attempts[key] += 1
        faults = {k: v for k, v in self.script.faults.items() if v > 0}
        if not faults or self._streak[key] >= self.script.max_faults_per_prompt:
            self._streak[key] = 0
            return None
        rng = random.Random(f"{self.script.seed}:{key}:{self._attempts[key]}")
        draw = rng.random()
        for kind, p in sorted(faults.items()):
            if draw < p:
                self._streak[key] += 1
                return kind
            draw -= p
        self._streak[key] = 0
        return None

    def stats(self) -> dict:
        return {"requests": self.requests, "answered": sum(self.answered.values()), "prompts": len(self.answered),
                "repeated": sum(1 for c in self.answered.values() if c > 1), "faults": dict(self.faults),
                "abandoned": self.abandoned, "max_in_flight": self.max_in_flight, "script": asdict(self.script)}

    def reset_stats(self) -> None:
        self.requests, self.abandoned, self.max_in_flight = 0, 0, 0
        self.answered.clear(), self.faults.clear(), self._streak.clear(), self._attempts.clear()

    # --- HTTP ------------------------------------------------------------------------------
    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                keep = await self.route_full(method, path, headers, body, reader, writer)
                if not keep:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    @staticmethod
    async def send(writer: asyncio.StreamWriter, status: int, payload: bytes, extra: dict | None = None) -> None:
        reason = {200: "OK", 404: "Not Found", 400: "Bad Request", 429: "Too Many Requests",
                  500: "Internal Server Error"}[status]
        head = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/json",
                f"Content-Length: {len(payload)}", "Connection: keep-alive"]
        head += [f"{k}: {v}" for k, v in (extra or {}).items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        await writer.drain()

    async def route_full(self, method: str, path: str, headers: dict, raw: bytes, reader, writer) -> bool:
        """The whole request line and headers (the batch server reads query strings and multipart bodies)."""
        return await self.route(method, path.split("?")[0], raw, reader, writer)

    async def route(self, method: str, path: str, raw: bytes, reader, writer) -> bool:
        if method == "GET" and path == "/stats":
            await self.send(writer, 200, json.dumps(self.stats()).encode())
            return True
        if method == "GET" and path == "/v1/models":
            await self.send(writer, 200, json.dumps({"object": "list", "data": [
                {"id": self.script.model, "object": "model", "owned_by": "scripted"}]}).encode())
            return True
        if method == "POST" and path == "/control":
            self.control(json.loads(raw or b"{}"))
            await self.send(writer, 200, json.dumps(self.stats()).encode())
            return True
        chat = path == "/v1/chat/completions"
        if method != "POST" or not (chat or path == "/v1/completions"):
            await self.send(writer, 404, b'{"error": {"message": "not found"}}')
            return True
        self.requests += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self.complete(json.loads(raw), chat, reader, writer)
        finally:
            self.in_flight -= 1

    async def complete(self, body: dict, chat: bool, reader, writer) -> bool:
        key = prompt_key(body)
        fault = self.pick_fault(key)
        if fault:
            self.faults[fault] += 1
        if self.script.latency:
            await asyncio.sleep(self.script.latency)
        if fault == "429":
            await self.send(writer, 429, b'{"error": {"message": "rate limited", "type": "rate_limit"}}',
                            {"Retry-After": f"{self.script.retry_after:g}"})
            return True
        if fault == "500":
            await self.send(writer, 500, b'{"error": {"message": "scripted failure", "type": "server_error"}}')
            return True
        if fault == "timeout":  # the client gives up: not in flight for it any more
            self.in_flight -= 1
            try:
                await asyncio.sleep(self.script.hang)
            finally:
                self.in_flight += 1
            return False
        if fault == "drop":
            writer.transport.abort()
            return False
        if fault == "malformed":
            await self.send(writer, 200, b'{"id": "cmpl-x", "choices": [{"message": ')
            return True
        if not await self.maybe_stall(reader):
            self.abandoned += 1
            return False
        self.answered[key] += 1
        await self.send(writer, 200, json.dumps(self.completion_payload(body, chat)).encode())
        return True

    async def maybe_stall(self, reader: asyncio.StreamReader) -> bool:
        """Hold the request when past stall_after; False when its client went away meanwhile."""
        limit = self.script.stall_after
        if limit is None or sum(self.answered.values()) < limit:
            return True
        assert self._release is not None
        release = asyncio.ensure_future(self._release.wait())
        gone = asyncio.ensure_future(reader.read(1))  # the client sends nothing more until answered: b'' = EOF
        done, pending = await asyncio.wait({release, gone}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        return release in done and not (gone in done and gone.result() == b"")

    def control(self, update: dict) -> None:
        if update.pop("reset", False):
            self.reset_stats()
        if update.pop("release", False):
            self.script.stall_after = None
            if self._release is not None:
                self._release.set()
                self._release = asyncio.Event()
        for key, value in update.items():
            if not hasattr(self.script, key):
                raise ValueError(f"unknown script field {key}")
            setattr(self.script, key, value)

    async def serve(self, host: str = "127.0.0.1", port: int = 0, ready: threading.Event | None = None) -> None:
        self._release = asyncio.Event()
        server = await asyncio.start_server(self.handle, host, port, limit=2 ** 22, backlog=1024)
        self.port = server.sockets[0].getsockname()[1]
        if ready is not None:
            ready.set()
        async with server:
            await server.serve_forever()


class ServerThread:
    """Run a ScriptedServer on a daemon thread of this process (tests)."""

    def __init__(self, script: Script | None = None) -> None:
        self.server = ScriptedServer(script)
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve(ready=ready))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/v1"

    def control(self, **update) -> dict:
        async def apply() -> dict:
            self.server.control(dict(update))
            return self.server.stats()
        return asyncio.run_coroutine_threadsafe(apply(), self.loop).result(10)

    def stats(self) -> dict:
        async def read() -> dict:
            return self.server.stats()
        return asyncio.run_coroutine_threadsafe(read(), self.loop).result(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--faults", default="{}", help='JSON, e.g. {"429": 0.1, "500": 0.1}')
    args = parser.parse_args()
    server = ScriptedServer(Script(latency=args.latency, faults=json.loads(args.faults)))

    async def run() -> None:
        task = asyncio.ensure_future(server.serve(port=args.port))
        while not server.port:
            await asyncio.sleep(0.01)
        print(f"PORT {server.port}", flush=True)
        await task

    asyncio.run(run())


if __name__ == "__main__":
    main()
