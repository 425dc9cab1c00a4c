"""Files in and out. Writes are atomic: nothing a user computed is half-written by a crash or a full disk.
Reads of a file someone else wrote (JSON, JSON Lines, YAML, CSV) are strict and bounded: a size cap before
reading, UTF-8 (a BOM allowed), duplicate keys / NaN / runaway nesting refused, and every problem one
FsabenchError (or the caller's subclass) naming the file, the line when there is one, and the fix."""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from fsabench.errors import FsabenchError
from fsabench.jsonstrict import JSONProblem, loads
from fsabench.yamlfile import read_yaml as yaml_file

MAX_FILE_BYTES = 256 * 1024 * 1024  # a JSON / CSV file read whole; callers with a better bound pass their own
MAX_LINE_BYTES = 16 * 1024 * 1024  # one JSON Lines record


def current_umask() -> int:
    """The process umask (reading it means setting it, so set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write bytes to a temp file beside `path`, fsync it, then os.replace it into place.

    The file gets the permissions a plain `open(path, "w")` would (0666 minus the umask), not mkstemp's
    0600: results, reports and exports are meant to be read by others."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """UTF-8 text, `\n` line ends, written atomically (see write_bytes_atomic)."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, payload: Any) -> Path:
    """Write JSON (UTF-8, indented, keys in insertion order) atomically."""
    return write_text_atomic(path, json.dumps(payload, ensure_ascii=False, indent=1) + "\n")


def as_path(value: Any, what: str) -> Path:
    """A path argument from Python: str or os.PathLike, else one FsabenchError naming the argument."""
    from fsabench.errors import FsabenchError

    if isinstance(value, (str, os.PathLike)) and str(value) != "":
        return Path(value)
    raise FsabenchError(f"{what} must be a path (str or pathlib.Path), not {type(value).__name__} {value!r:.40}",
                        hint=f"pass {what} as a string or Path")


def as_paths(values: Any, what: str) -> list[Path]:
    """One path or a list of paths: a lone string is one path, never iterated per character."""
    from fsabench.errors import FsabenchError

    if isinstance(values, (str, os.PathLike)):
        return [as_path(values, what)]
    if isinstance(values, (list, tuple, set, frozenset)) or (hasattr(values, "__iter__") and not isinstance(
            values, (bytes, dict))):
        return [as_path(v, what) for v in values]
    raise FsabenchError(f"{what} must be a path or a list of paths, not {type(values).__name__}",
                        hint=f"e.g. {what}=['runs/'] or {what}='runs/'")


def files_under(paths: list[str | os.PathLike], pattern: str, missing: type[Exception], hint: str) -> list[Path]:
    """The files given plus every `pattern` file below the folders given (sorted; hidden and `_` bases
    skipped); a path that does not exist raises `missing(message, hint=...)`."""
    found: list[Path] = []
    for raw in as_paths(paths, "paths"):
        path = Path(raw)
        if path.is_dir():
            found += sorted(q for q in path.rglob(pattern) if not q.name.startswith((".", "_")))
        elif path.exists():
            found.append(path)
        else:
            raise missing(f"{path}: no such file or folder", hint=hint)
    return found


Error = type[FsabenchError]


def _size_checked(path: Path, what: str, error: Error, max_bytes: int | None, missing: str | None) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise error(f"{path}: {what} not found", hint=missing or "check the path") from None
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror})", hint="check the path and its permissions") from None
    if path.is_dir():
        raise error(f"{path}: is a folder, not a {what}", hint=f"pass the {what} itself")
    if max_bytes is not None and size > max_bytes:
        raise error(f"{path}: {size:,} bytes is larger than a {what} may be ({max_bytes:,})",
                    hint=f"a {what} this large was not written for fsabench; split it or check the path")


def read_text(path: str | os.PathLike, what: str = "file", *, error: Error = FsabenchError,
              max_bytes: int | None = MAX_FILE_BYTES, missing: str | None = None, newline: str | None = None) -> str:
    """A user's text file: size-checked before it is read, UTF-8 with an optional BOM (dropped).
    `newline=""` keeps line ends as they are (CSV's parser needs them: a quoted cell may hold a line break);
    `missing` is the fix named when the file does not exist."""
    path = Path(path)
    _size_checked(path, what, error, max_bytes, missing)
    try:
        with open(path, encoding="utf-8-sig", newline=newline) as handle:
            return handle.read()
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 (byte {exc.start})", hint=f"re-save the {what} as UTF-8") from None
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror})", hint="check the path and its permissions") from None


def parse_json(text: str | bytes, where: str, *, error: Error = FsabenchError, hint: str | None = None,
               line: bool = False, **bounds: Any) -> Any:
    """Strict JSON (see jsonstrict) or one error `where[:line]: invalid JSON[ line] (why)`; `bounds` go to
    jsonstrict.loads (the size bounds it takes, such as max_depth)."""
    try:
        return loads(text, **bounds)
    except JSONProblem as exc:
        at = f":{exc.lineno}" if exc.lineno and not line else ""
        raise error(f"{where}{at}: invalid JSON{' line' if line else ''} ({exc.msg})",
                    hint=hint or "fix the file (it is truncated or hand-edited)") from None


def read_json(path: str | os.PathLike, what: str = "JSON file", *, error: Error = FsabenchError,
              max_bytes: int | None = MAX_FILE_BYTES, hint: str | None = None, missing: str | None = None,
              **bounds: Any) -> Any:
    """A user's JSON file, parsed strictly within `max_bytes`; any problem is one `error` naming the file
    (`hint`: the fix for a file that is not valid JSON, `missing`: for one that does not exist)."""
    text = read_text(path, what, error=error, max_bytes=max_bytes, missing=missing)
    return parse_json(text, str(path), error=error, hint=hint, **bounds)


def read_json_object(path: str | os.PathLike, what: str = "JSON file", *, error: Error = FsabenchError,
                     max_bytes: int | None = MAX_FILE_BYTES, hint: str | None = None,
                     missing: str | None = None, **bounds: Any) -> dict[str, Any]:
    """read_json that also requires the top level to be an object."""
    data = read_json(path, what, error=error, max_bytes=max_bytes, hint=hint, missing=missing, **bounds)
    if not isinstance(data, dict):
        raise error(f"{path}: a {what} holds a JSON object, not {type(data).__name__}", hint=hint or "check the path")
    return data


class JsonLine(NamedTuple):
    number: int  # 1-based line number (counted from `start`)
    begin: int  # byte offset of the line
    end: int  # byte offset after it
    value: Any


def iter_jsonl(path: str | os.PathLike, what: str = "JSON Lines file", *, error: Error = FsabenchError,
               start: int = 0, max_line_bytes: int = MAX_LINE_BYTES, max_bytes: int | None = None,
               hint: str | None = None, missing: str | None = None) -> Iterator[JsonLine]:
    """The records of a JSON Lines file, streamed, from byte offset `start`; blank lines skipped.

    Lines end at \n only (a \r before it is dropped): U+2028, U+0085 and the other characters
    str.splitlines breaks on are legal inside a JSON string. A BOM at the start is dropped. Each line is
    parsed strictly and bounded by `max_line_bytes`; a bad one is `path:N: invalid JSON line (why)`."""
    path = Path(path)
    _size_checked(path, what, error, max_bytes, missing)
    where = (lambda n, b: f"{path}:{n}") if start == 0 else (lambda n, b: f"{path} (line at byte {b})")
    with open(path, "rb") as handle:
        handle.seek(start)
        number, offset = 0, start
        while True:
            raw = handle.readline(max_line_bytes + 1)
            if not raw:
                return
            begin, number = offset, number + 1
            offset += len(raw)
            if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
                raise error(f"{where(number, begin)}: line longer than {max_line_bytes:,} bytes",
                            hint=hint or "one record per line; check that this is a JSON Lines file")
            if begin == 0 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise error(f"{where(number, begin)}: not UTF-8 (byte {begin + exc.start})",
                            hint=f"re-save the {what} as UTF-8") from None
            yield JsonLine(number, begin, offset, parse_json(text, where(number, begin), error=error,
                                                            hint=hint or "fix that line", line=True))


def read_jsonl(path: str | os.PathLike, what: str = "JSON Lines file", *, error: Error = FsabenchError,
               max_bytes: int | None = MAX_FILE_BYTES, hint: str | None = None,
               missing: str | None = None) -> list[JsonLine]:
    """Every record of a JSON Lines file (see iter_jsonl), the whole file bounded by `max_bytes`."""
    return list(iter_jsonl(path, what, error=error, max_bytes=max_bytes, hint=hint, missing=missing))


def read_yaml(path: str | os.PathLike, what: str = "file", *, error: Error = FsabenchError) -> Any:
    """A user's YAML file: the safe loader, bounded in bytes and in nodes after alias expansion (yamlfile)."""
    try:
        return yaml_file(path, what)[0]
    except FsabenchError as exc:
        if isinstance(exc, error):
            raise
        raise error(exc.message, hint=exc.hint) from None


def iter_csv(path: str | os.PathLike, what: str = "CSV file", *, error: Error = FsabenchError,
             max_bytes: int | None = None, missing: str | None = None) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, {column: cell}) for each row of a CSV file with a header, streamed, parsed by the csv module
    on the file's own line ends (a quoted cell may hold a line break; a BOM is dropped). DictReader quietly
    keeps the last of two equal column names, fills a short row with None and files a long row's extra
    cells under the key None: each is refused with the line, as is a file with no header."""
    path = Path(path)
    _size_checked(path, what, error, max_bytes, missing)
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        try:
            header = reader.fieldnames
            if not header:
                raise error(f"{path}: CSV has no header row", hint="add a header naming the columns")
            twice = sorted({name for name in header if header.count(name) > 1})
            if twice:
                raise error(f"{path}:1: column {twice[0]!r} appears twice in the header",
                            hint="give every column its own name")
            for row in reader:
                if None in row or None in row.values():
                    cells = len(header) + len(row.get(None) or []) - sum(v is None for v in row.values())
                    raise error(f"{path}:{reader.line_num}: row has {cells} cells, the header {len(header)}",
                                hint="quote cells that hold commas, and give every row one cell per column")
                yield reader.line_num, row
        except csv.Error as exc:
            raise error(f"{path}:{reader.line_num}: invalid CSV ({exc})", hint="fix that line") from None
        except UnicodeDecodeError as exc:
            raise error(f"{path}:{reader.line_num + 1}: not UTF-8 (byte {exc.start} of a block)",
                        hint=f"re-save the {what} as UTF-8") from None


def read_csv(path: str | os.PathLike, what: str = "CSV file", *, error: Error = FsabenchError,
             max_bytes: int | None = MAX_FILE_BYTES, missing: str | None = None) -> list[tuple[int, dict[str, str]]]:
    """Every row of a CSV file (see iter_csv), the whole file bounded by `max_bytes`."""
    return list(iter_csv(path, what, error=error, max_bytes=max_bytes, missing=missing))
