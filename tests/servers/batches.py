"""The scripted server with both providers' batch APIs, as their public documentation describes them.

OpenAI (Files + Batches): POST /v1/files (multipart: purpose, file), GET /v1/files/{id}[/content],
POST /v1/batches, GET /v1/batches[?limit&after], GET /v1/batches/{id}, POST /v1/batches/{id}/cancel.
A batch moves validating -> in_progress -> finalizing -> completed after the script's delays (or to
expired / cancelled / failed); the output file has the answered lines, the error file the failed ones
(with `fail_rate`, seeded per prompt) and those left by expiry or cancellation (batch_expired,
batch_cancelled). Anthropic (Message Batches): POST /v1/messages/batches, GET .../{id}, .../{id}/results,
POST .../{id}/cancel, GET /v1/messages/batches[?limit&after_id]; in_progress -> ended.

Answers are the online server's (`answer_text`), so a batch run and an online run score the same; the
shared `answered` counter counts each prompt once per answer, online or batch. `hold` pauses a phase
until `control(batch_release=True)` or until the held client disconnects (kill -9 tests): "upload"
(before the file is stored), "create" (after the batch is created, before its id is sent),
"progress" (batches stay in_progress), "download" (before a result file is sent).

    python -m tests.servers.batches --port 0      # prints "PORT <n>"; GET /stats counts batches and requests
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import threading
import time
import uuid
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

from tests.servers.scripted import Script, ScriptedServer, prompt_key

REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 413: "Payload Too Large"}


class BatchScript:
    """Batch-only knobs (the online ones stay on Script)."""

    def __init__(self) -> None:
        self.delays = (0.05, 0.1, 0.05)  # seconds in validating, in_progress, finalizing
        self.fail_rate = 0.0  # share of requests answered in the error file (seeded by prompt)
        self.expire = False  # batches expire at the end of in_progress: half answered, half batch_expired
        self.hold: list[str] = []


class BatchServer(ScriptedServer):
    def __init__(self, script: Script | None = None) -> None:
        super().__init__(script)
        self.batch = BatchScript()
        self.files: dict[str, dict] = {}
        self.batches: dict[str, dict] = {}  # OpenAI and Anthropic, by id
        self.counts = {"http": 0, "uploads": 0, "batches": 0, "batch_requests": 0, "downloads": 0, "cancels": 0}
        self._held = 0
        self._batch_release: asyncio.Event | None = None

    # --- stats and control ------------------------------------------------------------------------------
    def stats(self) -> dict:
        return {**super().stats(), **self.counts, "held": self._held,
                "pollers": {b["id"]: len(b.get("pollers", ())) for b in self.batches.values()},  # distinct connections
                "batch_states": {b["id"]: self._status(b) for b in self.batches.values()}}

    def reset_stats(self) -> None:
        super().reset_stats()
        self.files.clear(), self.batches.clear()
        self.counts = dict.fromkeys(self.counts, 0)

    def control(self, update: dict) -> None:
        for name in ("delays", "fail_rate", "expire", "hold"):
            if name in update:
                value = update.pop(name)
                setattr(self.batch, name, tuple(value) if name == "delays" else value)
        if update.pop("forget_batches", False):  # the provider lost them (deleted, archived): 404 from now on
            self.batches.clear()
        if update.pop("batch_release", False):
            self.batch.hold = []
            if self._batch_release is not None:
                self._batch_release.set()
                self._batch_release = asyncio.Event()
        super().control(update)

    async def _hold(self, phase: str, reader) -> bool:
        """Wait while `phase` is held; False when the client went away meanwhile."""
        if phase not in self.batch.hold:
            return True
        if self._batch_release is None:
            self._batch_release = asyncio.Event()
        self._held += 1
        try:
            release = asyncio.ensure_future(self._batch_release.wait())
            gone = asyncio.ensure_future(reader.read(1))
            done, pending = await asyncio.wait({release, gone}, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            return release in done and not (gone in done and gone.result() == b"")
        finally:
            self._held -= 1

    # --- HTTP -------------------------------------------------------------------------------------------
    @staticmethod
    async def reply(writer, status: int, payload, content_type: str = "application/json") -> bool:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        head = [f"HTTP/1.1 {status} {REASONS[status]}", f"Content-Type: {content_type}",
                f"Content-Length: {len(body)}", "Connection: keep-alive"]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await writer.drain()
        return True

    async def route_full(self, method: str, path: str, headers: dict, raw: bytes, reader, writer) -> bool:
        url = urlsplit(path)
        if url.path not in ("/stats", "/control"):
            self.counts["http"] += 1  # every request a client made, batch control calls included
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        parts = [p for p in url.path.split("/") if p]
        if parts[:2] == ["v1", "files"] or parts[:2] == ["v1", "batches"]:
            return await self.openai(method, parts[2:], query, headers, raw, reader, writer, parts[1])
        if parts[:3] == ["v1", "messages", "batches"]:
            return await self.anthropic(method, parts[3:], query, raw, reader, writer)
        return await super().route_full(method, path, headers, raw, reader, writer)

    # --- OpenAI -----------------------------------------------------------------------------------------
    async def openai(self, method, rest, query, headers, raw, reader, writer, kind) -> bool:
        if kind == "files" and method == "POST" and not rest:
            if not await self._hold("upload", reader):
                return False
            fields = multipart(headers.get("content-type", ""), raw)
            if "file" not in fields or fields.get("purpose", (None, b""))[1] != b"batch":
                return await self.reply(writer, 400, error("a multipart 'file' and purpose=batch are required"))
            name, data = fields["file"]
            file = {"id": f"file-{uuid.uuid4().hex[:24]}", "object": "file", "bytes": len(data), "created_at": int(time.time()),
                    "filename": name or "input.jsonl", "purpose": "batch", "status": "processed", "data": data}
            self.files[file["id"]] = file
            self.counts["uploads"] += 1
            return await self.reply(writer, 200, public(file))
        if kind == "files" and method == "GET" and rest and rest[0] in self.files:
            file = self.files[rest[0]]
            if rest[1:] == ["content"]:
                if not await self._hold("download", reader):
                    return False
                self.counts["downloads"] += 1
                return await self.reply(writer, 200, file["data"], "application/octet-stream")
            return await self.reply(writer, 200, public(file))
        if kind == "batches" and method == "POST" and not rest:
            return await self.openai_create(json.loads(raw or b"{}"), reader, writer)
        if kind == "batches" and method == "GET" and not rest:
            return await self.reply(writer, 200, page([self.openai_view(b) for b in self._of("batch")], query, "after"))
        if kind == "batches" and rest and rest[0] in self.batches:
            batch = self.batches[rest[0]]
            batch.setdefault("pollers", set()).add(writer.get_extra_info("peername"))
            if method == "POST" and rest[1:] == ["cancel"]:
                self._cancel(batch)
            return await self.reply(writer, 200, self.openai_view(batch))
        return await self.reply(writer, 404, error("not found"))

    async def openai_create(self, body: dict, reader, writer) -> bool:
        file = self.files.get(body.get("input_file_id"))
        if file is None or body.get("endpoint") != "/v1/chat/completions" or body.get("completion_window") != "24h":
            return await self.reply(writer, 400, error("input_file_id, endpoint /v1/chat/completions and "
                                                       "completion_window 24h are required"))
        lines, problems = [], []
        for number, raw in enumerate(file["data"].splitlines(), start=1):
            try:
                line = json.loads(raw)
                assert line["method"] == "POST" and line["url"] == body["endpoint"] and isinstance(line["body"], dict)
                lines.append((line["custom_id"], line["body"]))
            except (ValueError, KeyError, AssertionError, TypeError):
                problems.append({"code": "invalid_request", "line": number, "message": f"line {number} is malformed"})
        if len({c for c, _ in lines}) != len(lines):
            problems.append({"code": "duplicate_custom_id", "line": None, "message": "custom_id values must be unique"})
        batch = self._new("batch", f"batch_{uuid.uuid4().hex[:24]}", lines)
        batch.update(input_file_id=file["id"], metadata=body.get("metadata") or {}, problems=problems)
        if not await self._hold("create", reader):
            return False  # created, but the client never learns its id
        return await self.reply(writer, 200, self.openai_view(batch))

    def openai_view(self, batch: dict) -> dict:
        status = self._status(batch)
        word = {"ended": "completed"}.get(status, status)
        view = {"id": batch["id"], "object": "batch", "endpoint": "/v1/chat/completions", "errors": None,
                "input_file_id": batch["input_file_id"], "completion_window": "24h", "status": word,
                "output_file_id": None, "error_file_id": None, "created_at": int(batch["created"]),
                "expires_at": int(batch["created"]) + 86400, "metadata": batch["metadata"],
                "request_counts": {"total": len(batch["lines"]), "completed": 0, "failed": 0}}
        if batch["problems"]:
            view.update(status="failed", errors={"object": "list", "data": batch["problems"]},
                        request_counts={"total": 0, "completed": 0, "failed": 0})
            return view
        if status in ("completed", "expired", "cancelled"):
            outcome = self._outcome(batch)
            view["output_file_id"] = self._file(batch, "output", [self.openai_line(c, r) for c, r in outcome if r[0] == "ok"])
            view["error_file_id"] = self._file(batch, "error", [self.openai_line(c, r) for c, r in outcome if r[0] != "ok"])
            done = sum(r[0] == "ok" for _, r in outcome)
            view["request_counts"] = {"total": len(outcome), "completed": done, "failed": len(outcome) - done}
        return view

    def openai_line(self, custom_id: str, result: tuple) -> dict:
        kind, payload = result
        line = {"id": f"batch_req_{uuid.uuid4().hex[:16]}", "custom_id": custom_id, "response": None, "error": None}
        if kind == "ok":
            line["response"] = {"status_code": 200, "request_id": uuid.uuid4().hex[:12], "body": payload}
        elif kind == "fail":
            line["response"] = {"status_code": 500, "request_id": uuid.uuid4().hex[:12],
                                "body": {"error": {"message": "scripted batch failure", "type": "server_error"}}}
        else:
            line["error"] = {"code": f"batch_{kind}", "message": f"This request was not executed: the batch {kind}."}
        return line

    def _file(self, batch: dict, which: str, lines: list[dict]) -> str | None:
        if not lines:
            return None
        key = f"{which}_file"
        if key not in batch:
            data = "".join(json.dumps(line) + "\n" for line in lines).encode()
            file = {"id": f"file-{uuid.uuid4().hex[:24]}", "object": "file", "bytes": len(data),
                    "created_at": int(time.time()), "filename": f"{batch['id']}_{which}.jsonl",
                    "purpose": "batch_output", "status": "processed", "data": data}
            self.files[file["id"]] = file
            batch[key] = file["id"]
        return batch[key]

    # --- Anthropic --------------------------------------------------------------------------------------
    async def anthropic(self, method, rest, query, raw, reader, writer) -> bool:
        if method == "POST" and not rest:
            body = json.loads(raw or b"{}")
            requests = body.get("requests")
            if not isinstance(requests, list) or not requests:
                return await self.reply(writer, 400, anthropic_error("requests: a non-empty list is required"))
            lines = [(r["custom_id"], r["params"]) for r in requests]
            if len({c for c, _ in lines}) != len(lines):
                return await self.reply(writer, 400, anthropic_error("custom_id values must be unique"))
            batch = self._new("message_batch", f"msgbatch_{uuid.uuid4().hex[:24]}", lines)
            if not await self._hold("create", reader):
                return False
            return await self.reply(writer, 200, self.anthropic_view(batch))
        if method == "GET" and not rest:
            return await self.reply(writer, 200, page([self.anthropic_view(b) for b in self._of("message_batch")],
                                                      query, "after_id"))
        if rest and rest[0] in self.batches:
            batch = self.batches[rest[0]]
            if method == "POST" and rest[1:] == ["cancel"]:
                self._cancel(batch)
            if method == "GET" and rest[1:] == ["results"]:
                if self._status(batch) not in ("completed", "expired", "cancelled"):
                    return await self.reply(writer, 400, anthropic_error("the batch has not ended"))
                if not await self._hold("download", reader):
                    return False
                self.counts["downloads"] += 1
                data = "".join(json.dumps(self.anthropic_line(c, r, batch)) + "\n" for c, r in self._outcome(batch))
                return await self.reply(writer, 200, data.encode(), "application/x-jsonl")
            return await self.reply(writer, 200, self.anthropic_view(batch))
        return await self.reply(writer, 404, anthropic_error("not found", "not_found_error"))

    def anthropic_view(self, batch: dict) -> dict:
        status = self._status(batch)
        ended = status in ("completed", "expired", "cancelled")
        counts = {"processing": len(batch["lines"]), "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if ended:
            counts["processing"] = 0
            for _, (kind, _) in self._outcome(batch):
                counts[{"ok": "succeeded", "fail": "errored", "cancelled": "canceled"}.get(kind, kind)] += 1
        return {"id": batch["id"], "type": "message_batch",
                "processing_status": "ended" if ended else "canceling" if status == "cancelling" else "in_progress",
                "request_counts": counts, "created_at": rfc3339(batch["created"]),
                "expires_at": rfc3339(batch["created"] + 86400), "archived_at": None,
                "ended_at": rfc3339(time.time()) if ended else None,
                "cancel_initiated_at": rfc3339(batch["cancelled_at"]) if batch.get("cancelled_at") else None,
                "results_url": f"http://127.0.0.1:{self.port}/v1/messages/batches/{batch['id']}/results" if ended else None}

    def anthropic_line(self, custom_id: str, result: tuple, batch: dict) -> dict:
        kind, payload = result
        if kind == "ok":
            text = payload["choices"][0]["message"]["content"]
            usage = payload["usage"]
            message = {"id": f"msg_{uuid.uuid4().hex[:20]}", "type": "message", "role": "assistant",
                       "model": payload["model"], "content": [{"type": "text", "text": text}],
                       "stop_reason": "end_turn", "stop_sequence": None,
                       "usage": {"input_tokens": usage["prompt_tokens"], "output_tokens": usage["completion_tokens"]}}
            return {"custom_id": custom_id, "result": {"type": "succeeded", "message": message}}
        if kind == "fail":
            return {"custom_id": custom_id, "result": {"type": "errored", "error": anthropic_error(
                "scripted batch failure", "api_error")}}
        return {"custom_id": custom_id, "result": {"type": "canceled" if kind == "cancelled" else "expired"}}

    # --- shared batch life ------------------------------------------------------------------------------
    def _new(self, kind: str, batch_id: str, lines: list) -> dict:
        batch = {"kind": kind, "id": batch_id, "lines": lines, "created": time.time(), "metadata": {},
                 "problems": [], "input_file_id": None, "cancelled_at": None}
        self.batches[batch_id] = batch
        self.counts["batches"] += 1
        self.counts["batch_requests"] += len(lines)
        return batch

    def _of(self, kind: str) -> list[dict]:
        return sorted((b for b in self.batches.values() if b["kind"] == kind), key=lambda b: -b["created"])

    def _cancel(self, batch: dict) -> None:
        if batch.get("cancelled_at") is None and self._status(batch) not in ("completed", "expired", "failed"):
            batch["cancelled_at"] = time.time()
            self.counts["cancels"] += 1

    def _status(self, batch: dict) -> str:
        """Where the batch is now, from the time since creation (and held phases, cancel, expiry)."""
        if batch.get("final"):
            return batch["final"]
        if batch["problems"]:
            return "failed"
        validating, progress, finalizing = self.batch.delays
        age = time.time() - batch["created"]
        if batch.get("cancelled_at"):
            if time.time() - batch["cancelled_at"] < finalizing:
                return "cancelling"
            batch["final"] = "cancelled"
        elif age < validating:
            return "validating"
        elif age < validating + progress or "progress" in self.batch.hold:
            return "in_progress"
        elif self.batch.expire:
            batch["final"] = "expired"
        elif age < validating + progress + finalizing:
            return "finalizing"
        else:
            batch["final"] = "completed"
        return batch["final"]

    def _outcome(self, batch: dict) -> list[tuple[str, tuple]]:
        """custom_id -> ("ok", chat completion) | ("fail", None) | ("expired"|"cancelled", None), decided once,
        in shuffled order (results are matched by custom_id, never by position)."""
        if "outcome" not in batch:
            final = self._status(batch)
            outcome = []
            for index, (custom_id, body) in enumerate(batch["lines"]):
                key = prompt_key(body)
                draw = random.Random(f"{self.script.seed}:batch:{key}").random()
                if final == "cancelled" or (final == "expired" and index % 2):
                    outcome.append((custom_id, (final, None)))
                elif draw < self.batch.fail_rate:
                    outcome.append((custom_id, ("fail", None)))
                else:
                    self.answered[key] += 1
                    outcome.append((custom_id, ("ok", self.completion_payload(body, chat=True))))
            random.Random(batch["id"]).shuffle(outcome)
            batch["outcome"] = outcome
        return batch["outcome"]

    async def serve(self, host: str = "127.0.0.1", port: int = 0, ready: threading.Event | None = None) -> None:
        self._batch_release = asyncio.Event()
        await super().serve(host, port, ready)


def multipart(content_type: str, raw: bytes) -> dict[str, tuple[str | None, bytes]]:
    """name -> (filename, bytes) of a multipart/form-data body."""
    boundary = next((p.strip()[9:].strip('"') for p in content_type.split(";") if p.strip().startswith("boundary=")), None)
    fields: dict[str, tuple[str | None, bytes]] = {}
    if not boundary:
        return fields
    for part in raw.split(b"--" + boundary.encode())[1:]:
        if part.startswith(b"--"):
            break
        head, _, body = part.lstrip(b"\r\n").partition(b"\r\n\r\n")
        disposition = next((ln for ln in head.decode("latin-1").split("\r\n")
                            if ln.lower().startswith("content-disposition")), "")
        params = {k.strip(): v.strip().strip('"') for k, _, v in (p.partition("=") for p in disposition.split(";")[1:])}
        if "name" in params:
            fields[params["name"]] = (params.get("filename"), body[:-2] if body.endswith(b"\r\n") else body)
    return fields


def public(file: dict) -> dict:
    return {k: v for k, v in file.items() if k != "data"}


def page(items: list[dict], query: dict, cursor: str) -> dict:
    start = 0
    if query.get(cursor):
        ids = [i["id"] for i in items]
        start = ids.index(query[cursor]) + 1 if query[cursor] in ids else len(items)
    limit = max(1, min(100, int(query.get("limit", 20))))
    data = items[start:start + limit]
    return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None, "has_more": start + limit < len(items)}


def error(message: str) -> dict:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}


def anthropic_error(message: str, kind: str = "invalid_request_error") -> dict:
    return {"type": "error", "error": {"type": kind, "message": message}}


def rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat().replace("+00:00", "Z")


class BatchServerThread:
    """A BatchServer on a daemon thread of this process (tests)."""

    def __init__(self, script: Script | None = None) -> None:
        self.server = BatchServer(script)
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=lambda: self.loop.run_until_complete(self.server.serve(ready=ready)),
                                       daemon=True)
        self.thread.start()
        ready.wait(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/v1"

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def control(self, **update) -> dict:
        async def apply() -> dict:
            self.server.control(dict(update))
            return self.server.stats()
        return asyncio.run_coroutine_threadsafe(apply(), self.loop).result(10)

    def stats(self) -> dict:
        return self.control()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--model", default="scripted")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--delays", default="0.05,0.1,0.05", help="seconds validating, in_progress, finalizing")
    args = parser.parse_args()
    server = BatchServer(Script(latency=args.latency, model=args.model))
    server.batch.delays = tuple(float(x) for x in args.delays.split(","))
    ready = threading.Event()

    async def run() -> None:
        task = asyncio.ensure_future(server.serve(port=args.port, ready=ready))
        while not ready.is_set():
            await asyncio.sleep(0.01)
        print(f"PORT {server.port}", flush=True)
        await task

    asyncio.run(run())


if __name__ == "__main__":
    main()
