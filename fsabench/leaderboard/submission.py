"""Submission bundles: the schema, building one from RunResults, and the checks on its text.

A bundle is what `fsabench leaderboard submit` writes to `submissions/<slug>.json` (or, with
`--gzip`, `submissions/<slug>.json.gz`: the same JSON, gzipped) and what the service accepts by POST: the entry's metadata plus every run, each run a RunResult whose examples
are cut down to what a model produced (id, raw output, error, token counts). Gold, parsed
predictions and subsets are deliberately left out: the leaderboard rebuilds them from its own
copy of the task data (see verify.py), so a bundle cannot carry a gold or a prediction of its own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
import zlib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from fsabench import __version__
from fsabench.errors import from_validation
from fsabench.errors import FsabenchError
from fsabench.leaderboard.lookalike import skeleton
from fsabench.leaderboard.spec import SubmissionLimits
from fsabench.jsonstrict import JSONProblem, check_bounds, loads
from fsabench.results import SCHEMA_VERSION, ModelInfo, RunResult, Timing, Usage

BUNDLE_KIND = "fsabench-leaderboard-submission"
BUNDLE_VERSION = 2  # 2: runs carry a `prompts` digest (v1 bundles lack it and are refused)
BUNDLE_SUFFIXES = (".json.gz", ".json")  # longest first: 'x.json.gz' is slug 'x'
GZIP_MAGIC = b"\x1f\x8b"
LINK = re.compile(r"^https?://[^\s<>\"'`\\]+$")


class SubmissionError(FsabenchError):
    """A submission failed validation; the message says exactly which check and where."""


class EntryInfo(BaseModel):
    """Who the entry is: what the leaderboard shows in its table and on the model's page."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="display name, e.g. 'flan-t5-base distilled (ours)'")
    parameters: int | None = Field(None, strict=True, ge=0, le=10**15,
                                   description="parameter count; null when unknown (API models)")
    base_model: str | None = Field(None, description="what it was built from, e.g. google-t5/t5-base")
    link: str | None = Field(None, description="http(s) page describing the model")
    license: str | None = None
    category: str = Field(description="one of the leaderboard's categories")
    date: dt.date = Field(ge=dt.date(2000, 1, 1), description="when the runs were made (YYYY-MM-DD)")
    notes: str = Field("", description="free text shown on the model page")


MAX_COUNT = 2**63 - 1  # SQLite's integer range: a larger count or seed could not even be stored
MAX_COST_USD = 1e9
MAX_SHOTS = 256  # the verifier re-renders every prompt: k shots x n examples x runs is work a bundle orders
Count = Annotated[int, Field(strict=True, ge=0, le=MAX_COUNT)]
Cost = Annotated[float, Field(ge=0, le=MAX_COST_USD, allow_inf_nan=False)]


class SubmittedExample(BaseModel):
    """What the model produced for one test example; everything else is rebuilt by the verifier."""

    model_config = ConfigDict(extra="forbid")

    id: str
    output: str | None
    error: str | None = None
    prompt_tokens: Count | None = None
    completion_tokens: Count | None = None
    cost_usd: Cost | None = None


def _iso_time(value: str) -> str:
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO date-time such as 2026-01-02T10:00:00+00:00") from None
    return value


class SubmittedTiming(Timing):
    """The run's timing as `fsabench run` records it: real times, no negative or endless durations."""

    started: Annotated[str, AfterValidator(_iso_time)]
    finished: Annotated[str, AfterValidator(_iso_time)]
    seconds: float = Field(ge=0, le=10**9, allow_inf_nan=False)
    examples_per_second: float | None = Field(None, ge=0, le=10**9, allow_inf_nan=False)


class SubmittedUsage(Usage):
    """Token counts and cost as recorded; the site shows cost as claimed, so it must at least be a cost."""

    prompt_tokens: Count = 0
    completion_tokens: Count = 0
    cost_usd: Cost = 0.0
    requests: Count = 0
    cached: Count = 0
    failed: Count = 0


class PromptDigest(BaseModel):
    """What the model was sent, without storing every prompt: the verifier re-renders them all from the
    task, the seed and the number of shots and compares this hash (so the protocol claim is checked)."""

    model_config = ConfigDict(extra="forbid")

    style: Literal["chat", "raw"] = Field(description="chat: instruction (+ shots) messages; raw: the bare sentence")
    sha256: str | None = Field(None, description="sha256 of the JSON list of every prompt, in example order (chat)")
    first: str | list[dict[str, str]] | None = Field(None, description="the first example's prompt, for readers")


class SubmittedModel(ModelInfo):
    parameters: Count | None = None


class SubmittedRun(RunResult):
    """A RunResult whose examples carry only the model's side (ids and raw outputs).

    Fields the verifier acts on are typed strictly here (a RunResult on disk is the user's own file; a
    bundle is someone else's): a seed "7" is not the integer 7, a `meta.limit` of "10" or 10.5 is not a
    limit, and the schema version is the one this fsabench writes."""

    schema_version: Literal[1] = SCHEMA_VERSION  # type: ignore[assignment]
    seed: Count = 0
    model: SubmittedModel  # type: ignore[assignment]
    timing: SubmittedTiming  # type: ignore[assignment]
    usage: SubmittedUsage = Field(default_factory=SubmittedUsage)  # type: ignore[assignment]
    examples: list[SubmittedExample] = Field(fail_fast=True)  # type: ignore[assignment]
    prompts: PromptDigest | None = Field(None, description="bundle v2: the digest of the recorded prompts")

    @field_validator("meta")
    @classmethod
    def _meta_numbers(cls, meta: dict[str, Any]) -> dict[str, Any]:
        """`limit` (first N test examples) and `num_shots` decide what is re-scored and re-rendered."""
        for key, low, high in (("limit", 1, MAX_COUNT), ("num_shots", 0, MAX_SHOTS)):
            value = meta.get(key)
            if value is not None and (type(value) is not int or not low <= value <= high):
                raise ValueError(f"meta.{key} is {value!r}; it must be null or an integer from {low} to {high} "
                                 "(as `fsabench run` records it)")
        return meta


class Submission(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["fsabench-leaderboard-submission"] = BUNDLE_KIND
    bundle_version: int = BUNDLE_VERSION
    leaderboard: str
    fsabench_version: str = Field(__version__, description="the fsabench that built the bundle")
    entry: EntryInfo
    runs: list[SubmittedRun] = Field(fail_fast=True)


def entry_slug(name: str) -> str:
    """The file name stem of an entry: its look-alike skeleton (lookalike.py) in lower case, runs of other
    characters become one '-'.

    NFKC first, so a compatibility look-alike of an existing name (fullwidth 'Ｌｅｘｉｃｏｎ', ligature 'ﬁ',
    superscripts) gets that entry's slug and collides with it (one file, one owner) instead of showing a
    second, identical-looking row; then TR39 look-alikes (Cyrillic 'Lеxicon'), the same way. A name with a
    letter or digit that is not a-z, 0-9 even then (e.g. Japanese) gets a short hash of its skeleton, so
    two such names never share a slug made of their few Latin letters."""
    folded = skeleton(name)
    if any(ch.isalnum() and not ch.isascii() for ch in folded):
        return "entry-" + hashlib.sha256(folded.strip().encode("utf-8")).hexdigest()[:12]
    slug = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:80]
    return slug or "entry-" + hashlib.sha256(folded.strip().encode("utf-8")).hexdigest()[:12]


def prompts_sha256(prompts: list[Any]) -> str:
    """The canonical hash of a run's prompts (chat messages or strings), in example order."""
    text = json.dumps(prompts, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def prompt_digest(result: RunResult) -> PromptDigest:
    prompts = [r.prompt for r in result.examples]
    if all(p is None for p in prompts):
        return PromptDigest(style="raw")
    return PromptDigest(style="chat", sha256=prompts_sha256(prompts), first=prompts[0] if prompts else None)


def slim_run(result: RunResult) -> SubmittedRun:
    """A RunResult cut down to the model's side of every example, plus the digest of its prompts."""
    examples = [SubmittedExample(id=r.id, output=r.output, error=r.error, prompt_tokens=r.prompt_tokens,
                                 completion_tokens=r.completion_tokens, cost_usd=r.cost_usd)
                for r in result.examples]
    return SubmittedRun(**result.model_dump(exclude={"examples"}), examples=examples, prompts=prompt_digest(result))


def build_bundle(leaderboard: str, entry: EntryInfo, results: list[RunResult]) -> Submission:
    return Submission(leaderboard=leaderboard, entry=entry, runs=[slim_run(r) for r in results])


def _compact(row: dict[str, Any]) -> dict[str, Any]:
    """An example row without its unset optional fields (`output` stays, even when null)."""
    return {k: v for k, v in row.items() if v is not None or k == "output"}


def bundle_json(bundle: Submission) -> str:
    """Canonical text of a bundle file: indented, one line per example (readable pull-request diffs)."""
    payload = bundle.model_dump(mode="json")
    examples = []
    for index, run in enumerate(payload["runs"]):
        examples.append(run["examples"])
        run["examples"] = f"@@examples-{index}@@"
    text = json.dumps(payload, ensure_ascii=False, indent=1)
    for index, rows in enumerate(examples):
        lines = ",\n".join("    " + json.dumps(_compact(row), ensure_ascii=False) for row in rows)
        text = text.replace(f'"@@examples-{index}@@"', "[\n" + lines + "\n   ]" if rows else "[]", 1)
    return text + "\n"


# --- reading and text checks ----------------------------------------------------------------

def bundle_json_bytes(raw: bytes, where: str, limits: SubmissionLimits) -> bytes:
    """The bundle's JSON text: gzip (a `.json.gz` file or a gzipped POST body) is undone here, with the
    size limit applied to what it expands to, so a small gzip bomb stops at `max_submission_bytes`.
    Audits and the service hash these bytes, so gzipping a bundle keeps its audit."""
    cap = limits.max_submission_bytes
    if len(raw) > cap:
        raise SubmissionError(f"{where}: submission is {len(raw):,} bytes, over the limit of {cap:,}",
                              hint="submit fewer runs or shorter outputs")
    if not raw.startswith(GZIP_MAGIC):
        return raw
    inflater = zlib.decompressobj(wbits=31)  # 31: the gzip container, header and CRC checked
    try:
        text = inflater.decompress(raw, cap + 1)
    except zlib.error as exc:
        raise SubmissionError(f"{where}: damaged gzip data ({exc})", hint="re-write it with `fsabench leaderboard "
                              "submit --gzip` or `gzip -n`") from None
    if len(text) > cap or inflater.unconsumed_tail:
        raise SubmissionError(f"{where}: submission expands to over the limit of {cap:,} bytes",
                              hint="submit fewer runs or shorter outputs")
    if not inflater.eof:
        raise SubmissionError(f"{where}: the gzip data is truncated", hint="copy the whole file again")
    if inflater.unused_data:
        raise SubmissionError(f"{where}: bytes after the end of the gzip data (two files joined?)",
                              hint="one bundle per file")
    return text


def bundle_gzip(text: str) -> bytes:
    """A `.json.gz` bundle: deterministic (no file name, mtime 0), so rebuilding gives the same bytes."""
    import gzip

    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


def bundle_slug(path: Path) -> str | None:
    """`x.json` and `x.json.gz` are both the bundle of slug `x`; anything else is not a bundle file."""
    for suffix in BUNDLE_SUFFIXES:
        if path.name.endswith(suffix) and len(path.name) > len(suffix):
            return path.name[: -len(suffix)]
    return None


def bundle_files(folder: Path) -> list[Path]:
    """The bundle files in a folder, `.json` and `.json.gz`, sorted by name."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if bundle_slug(p) is not None and p.is_file())


def read_bundle_bytes(path: Path, limits: SubmissionLimits) -> bytes:
    """A bundle file's JSON bytes (gunzipped when it is `.json.gz`), size-checked before reading."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise SubmissionError(f"{path}: submission file not found", hint="check the path") from None
    if size > limits.max_submission_bytes:
        raise SubmissionError(f"{path}: submission is {size:,} bytes, over the limit of "
                              f"{limits.max_submission_bytes:,}", hint="submit fewer runs or shorter outputs")
    raw = path.read_bytes()
    gzipped = raw.startswith(GZIP_MAGIC)
    if path.name.endswith(".json.gz") and not gzipped:
        raise SubmissionError(f"{path}: named .json.gz but does not hold gzip data (damaged, or plain JSON renamed)",
                              hint="re-write it with `fsabench leaderboard submit --gzip`, or name it .json")
    if path.name.endswith(".json") and gzipped:
        raise SubmissionError(f"{path}: holds gzip data but is named .json", hint="name it .json.gz")
    return bundle_json_bytes(raw, str(path), limits)


def parse_bundle(raw: bytes, where: str, limits: SubmissionLimits) -> Submission:
    """Size limit, gzip, JSON, schema: the checks that need no task data."""
    raw = bundle_json_bytes(raw, where, limits)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SubmissionError(f"{where}: not UTF-8 text", hint="write the bundle with `fsabench leaderboard submit`") from None
    try:  # counted before any object is built: a small gzip of `{},{},...` must not become gigabytes
        check_bounds(raw, limits.max_json_values, limits.max_json_depth)
    except JSONProblem as exc:
        raise SubmissionError(f"{where}: the bundle {exc.msg}", hint="submit only the runs and examples the "
                              "protocol asks for (limits: the leaderboard's max_json_values, max_json_depth)") from None
    try:  # duplicate keys too: two readers must not see two different bundles in one file
        payload = loads(text)
    except JSONProblem as exc:
        line = f" at line {exc.lineno}" if exc.lineno else ""
        raise SubmissionError(f"{where}: not valid JSON ({exc.msg}{line})",
                              hint="the file is truncated or hand-edited") from None
    if not isinstance(payload, dict) or payload.get("kind") != BUNDLE_KIND:
        raise SubmissionError(f"{where}: not a leaderboard submission (kind is not {BUNDLE_KIND!r})",
                              hint="build it with `fsabench leaderboard submit RUNS... --leaderboard NAME`")
    if payload.get("bundle_version") != BUNDLE_VERSION:
        raise SubmissionError(f"{where}: bundle_version {payload.get('bundle_version')!r} is not {BUNDLE_VERSION} "
                              "(older bundles do not record the prompts, so their protocol cannot be checked)",
                              hint="rebuild it from the runs with `fsabench leaderboard submit`")
    check_counts(payload, where, limits)
    check_strings(payload, where, limits)
    try:
        return Submission.model_validate(payload)
    except ValidationError as exc:
        raise from_validation(str(where), exc, "the bundle is damaged or hand-edited", SubmissionError) from None


def check_counts(payload: dict[str, Any], where: str, limits: SubmissionLimits) -> None:
    """Runs and examples per run counted before the schema builds a model (and an error) for each one."""
    runs = payload.get("runs")
    if isinstance(runs, list) and len(runs) > limits.max_runs:
        raise SubmissionError(f"{where}: {len(runs):,} runs, over the limit of {limits.max_runs}",
                              hint="submit only the runs the protocol asks for")
    for index, run in enumerate(runs if isinstance(runs, list) else []):
        examples = run.get("examples") if isinstance(run, dict) else None
        if isinstance(examples, list) and len(examples) > limits.max_examples_per_run:
            raise SubmissionError(f"{where}: run {index} has {len(examples):,} examples, over the limit of "
                                  f"{limits.max_examples_per_run:,}", hint="submit the test split only")


def _bad_char(text: str, allow: str, invisible: bool = False) -> str | None:
    """The first control (or lone surrogate) character; with `invisible`, also format characters:
    zero-width (U+200B..U+200F, U+2060, U+FEFF), bidi embeddings/overrides/isolates (U+202A..U+202E,
    U+2066..U+2069, U+061C) and the rest of category Cf, plus line/paragraph separators."""
    for ch in text:
        if ch in allow:
            continue
        category = unicodedata.category(ch)
        if category in ("Cc", "Cs") or (invisible and category in ("Cf", "Zl", "Zp")):
            return ch
    return None


def describe_char(ch: str) -> str:
    kind = "bidi control" if unicodedata.bidirectional(ch) in ("LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI",
                                                               "FSI", "PDI", "AL") and unicodedata.category(ch) == "Cf" \
        else "zero-width/format character" if unicodedata.category(ch) == "Cf" else "control character"
    return f"{kind} U+{ord(ch):04X} ({unicodedata.name(ch, 'unnamed')})"


def _free_text(path: str) -> bool:
    """Paths whose strings are names or free text a person reads (not model text, not task data)."""
    return not (path.endswith((".output", ".error")) or ".prompts." in path or ".task.definition" in path)


def check_strings(payload: Any, where: str, limits: SubmissionLimits) -> None:
    """Every string is clean: no control characters but tab and newline, bounded length (names: check_entry)."""
    stack: list[tuple[str, Any]] = [("", payload)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            stack += [(f"{path}.{k}" if path else str(k), v) for k, v in value.items()]
            stack += [(f"{path}.<key>", k) for k in value]
        elif isinstance(value, list):
            stack += [(f"{path}.{i}", v) for i, v in enumerate(value)]
        elif isinstance(value, str):
            is_output = path.endswith(".output") or path.endswith(".error")
            cap = limits.max_output_chars if is_output else limits.max_string_chars
            if len(value) > cap:
                raise SubmissionError(f"{where}: field '{path}' is {len(value):,} characters, over the limit of {cap:,}",
                                      hint="shorten it")
            bad = _bad_char(value, "\t\n\r", invisible=_free_text(path))
            if bad is not None:
                raise SubmissionError(f"{where}: field '{path}' holds {describe_char(bad)}",
                                      hint="names and free text must be plain visible text")


def plain_link(link: str) -> bool:
    """http(s), a host, and no user info: `https://huggingface.co@evil.example/x` goes to evil.example."""
    from urllib.parse import urlsplit

    if not LINK.match(link):
        return False
    try:
        parts = urlsplit(link)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    return bool(parts.hostname) and "@" not in parts.netloc


def check_entry(entry: EntryInfo, where: str, limits: SubmissionLimits, categories: list[str]) -> None:
    """Names are plain text: no markup, no invisible formatting characters; links are http(s)."""
    for field in ("name", "base_model", "license"):
        value = getattr(entry, field)
        if value is None:
            continue
        if len(value) > limits.max_name_chars:
            raise SubmissionError(f"{where}: entry.{field} is {len(value)} characters, over {limits.max_name_chars}",
                                  hint="shorten it")
        if "<" in value or ">" in value:
            raise SubmissionError(f"{where}: entry.{field} {value!r} holds HTML markup ('<' or '>')",
                                  hint="use plain text in names")
        bad = _bad_char(value, "", invisible=True)
        if bad is not None:
            raise SubmissionError(f"{where}: entry.{field} {value!r} holds {describe_char(bad)}",
                                  hint="names must be plain visible text")
        if value != value.strip():
            raise SubmissionError(f"{where}: entry.{field} {value!r} has leading or trailing spaces",
                                  hint="use plain printable text")
    if entry.link is not None and not plain_link(entry.link):
        raise SubmissionError(f"{where}: entry.link {entry.link!r} is not a plain http(s) URL (no user info, a host)",
                              hint="e.g. https://example.org/model")
    bad = _bad_char(entry.notes, "\n", invisible=True)
    if bad is not None:
        raise SubmissionError(f"{where}: entry.notes holds {describe_char(bad)}", hint="free text must be plain visible text")
    if len(entry.notes) > limits.max_notes_chars:
        raise SubmissionError(f"{where}: entry.notes is over {limits.max_notes_chars} characters", hint="shorten it")
    if entry.category not in categories:
        raise SubmissionError(f"{where}: entry.category {entry.category!r} is not one of {', '.join(categories)}",
                              hint="pick the leaderboard category that describes the entry")
    if entry.date > dt.date.today() + dt.timedelta(days=1):
        raise SubmissionError(f"{where}: entry.date {entry.date} is in the future", hint="use the date of the runs")


def read_bundle(path: Path, limits: SubmissionLimits) -> Submission:
    return parse_bundle(read_bundle_bytes(path, limits), str(path), limits)
