"""Start an OpenAI-compatible server as a child process, wait until it answers, and always stop it.

Used by `vllm:MODEL`, `sglang:MODEL` and `openai-compat:NAME --launch "CMD ... {port}"`. The server:

- binds a free loopback port (`{port}` in the command is replaced by it);
- runs in its own process group (a Ctrl-C at the terminal reaches fsabench, which stops the server
  itself), with a parent-death signal (`prctl(PR_SET_PDEATHSIG, SIGTERM)`) and a watchdog process that
  stops the whole group once fsabench is gone, however it went (kill -9 included): the watchdog holds the
  read end of a pipe whose write end only fsabench has; the kernel closes it when fsabench dies;
- writes its output to a log file; when it exits early or does not answer `GET /v1/models` within the
  start timeout, the error is one line plus the tail of that log;
- is stopped (SIGTERM to its group, SIGKILL after a grace period) by `stop()`, at interpreter exit and
  on SIGTERM to fsabench.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from fsabench.errors import ModelError
from fsabench.processes import die_with_parent

log = logging.getLogger("fsabench")

START_TIMEOUT_S = 900.0  # default for FSABENCH_ENGINE_TIMEOUT; vLLM starts in ~45 s on 2 CPU cores
STOP_GRACE_S = 10.0
LOG_TAIL_LINES = 15

# Run by the watchdog process: block until fsabench's end of the pipe closes, then stop the group.
_WATCHDOG = r"""
import os, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
fd, pgid, grace = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
try:
    while os.read(fd, 1):
        pass
except OSError:
    pass
def alive():
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False
if alive():
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    end = time.monotonic() + grace
    while alive() and time.monotonic() < end:
        time.sleep(0.1)
    if alive():
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
"""


def free_port() -> int:
    """A port nothing listens on now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pdeathsig_safe() -> bool:
    """The parent-death signal fires when the *thread* that forked the child ends, so it is only set
    from the main thread (the watchdog covers the rest)."""
    return sys.platform.startswith("linux") and threading.current_thread() is threading.main_thread()


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_bytes()[-20_000:].decode("utf-8", "replace")
    except OSError:
        return "(no log)"
    kept = [line for line in text.splitlines() if line.strip()][-lines:]
    return "\n".join(kept) or "(empty log)"


class LaunchedServer:
    """One server child; `start()` returns the base URL (`http://127.0.0.1:PORT/v1`) once it answers."""

    _live: "set[LaunchedServer]" = set()
    _handler_installed = False

    def __init__(self, command: Sequence[str], label: str, env: dict[str, str] | None = None,
                 start_timeout: float | None = None, ready_path: str = "/v1/models") -> None:
        if not command:
            raise ModelError(f"{label}: empty server command", hint="give the command that starts the server")
        self.template = [str(part) for part in command]
        self.label = label
        self.env = env or {}
        self.start_timeout = start_timeout if start_timeout is not None else \
            float(os.environ.get("FSABENCH_ENGINE_TIMEOUT") or START_TIMEOUT_S)
        self.ready_path = ready_path
        self.process: subprocess.Popen | None = None
        self.watchdog: subprocess.Popen | None = None
        self._pipe_w: int | None = None
        self.port: int | None = None
        self.log_path: Path | None = None
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def argv(self, port: int) -> list[str]:
        has_port = any("{port}" in part for part in self.template)
        if not has_port:
            raise ModelError(f"{self.label}: the server command has no {{port}}",
                             hint='write the port as {port}, e.g. --launch "llama-server -m m.gguf --port {port}"')
        return [part.replace("{port}", str(port)) for part in self.template]

    # --- start ---------------------------------------------------------------------------------
    def start(self) -> str:
        with self._lock:
            if self.process is not None and self.process.poll() is None:
                return self.base_url
            self.port = free_port()
            argv = self.argv(self.port)
            handle, name = tempfile.mkstemp(prefix=f"fsabench-{self.label.split(':')[0]}-", suffix=".log")
            self.log_path = Path(name)
            log.info(f"{self.label}: starting {' '.join(argv)} (log: {self.log_path})")
            with_parent = partial(die_with_parent, signal.SIGTERM) if _pdeathsig_safe() else None
            try:
                self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT,
                                                env={**os.environ, **self.env}, start_new_session=True,
                                                preexec_fn=with_parent)
            except OSError as exc:
                raise ModelError(f"{self.label}: cannot start {argv[0]} ({exc.strerror or exc})",
                                 hint="check --engine-bin / the launch command (the executable must exist)") from None
            finally:
                os.close(handle)
            self._start_watchdog()
            LaunchedServer._live.add(self)
            _install_exit_hooks()
        started = time.monotonic()
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        log.info(f"{self.label}: server pid {self.process.pid} answering at {self.base_url} "
                 f"after {time.monotonic() - started:.1f} s")
        return self.base_url

    def _start_watchdog(self) -> None:
        read_end, write_end = os.pipe()  # both non-inheritable: only the watchdog gets read_end (pass_fds)
        try:
            self.watchdog = subprocess.Popen([sys.executable, "-c", _WATCHDOG, str(read_end), str(self.process.pid),
                                              str(STOP_GRACE_S)], pass_fds=(read_end,), stdin=subprocess.DEVNULL,
                                             start_new_session=True)
        finally:
            os.close(read_end)
        self._pipe_w = write_end

    def _wait_ready(self) -> None:
        url = f"http://127.0.0.1:{self.port}{self.ready_path}"
        deadline = time.monotonic() + self.start_timeout
        delay = 0.1
        while True:
            code = self.process.poll()
            if code is not None:
                raise ModelError(f"{self.label}: the server exited with code {code} before answering\n"
                                 f"--- last lines of {self.log_path} ---\n{log_tail(self.log_path)}",
                                 hint="see the engine log above; pass engine options with --engine-args")
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:
                    if resp.status == 200:
                        json.loads(resp.read() or b"{}")
                        return
            except (urllib.error.URLError, OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise ModelError(f"{self.label}: the server did not answer {url} within {self.start_timeout:g} s\n"
                                 f"--- last lines of {self.log_path} ---\n{log_tail(self.log_path)}",
                                 hint="raise FSABENCH_ENGINE_TIMEOUT or check the engine log above")
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)

    # --- stop ----------------------------------------------------------------------------------
    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL it after a grace period; idempotent."""
        with self._lock:
            process, self.process = self.process, None
            if process is not None:
                _stop_group(process)
            if self._pipe_w is not None:
                os.close(self._pipe_w)  # the watchdog wakes, finds the group gone and exits
                self._pipe_w = None
            if self.watchdog is not None:
                try:
                    self.watchdog.wait(STOP_GRACE_S + 5)
                except subprocess.TimeoutExpired:
                    self.watchdog.kill()
                self.watchdog = None
            LaunchedServer._live.discard(self)


def _stop_group(process: subprocess.Popen) -> None:
    pgid = process.pid  # start_new_session: the server leads its own group
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        process.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        pass
    try:  # engine workers left in the group (or a server that ignored SIGTERM)
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            os.killpg(pgid, 0)
            time.sleep(0.1)
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.poll()


def stop_all() -> None:
    for server in list(LaunchedServer._live):
        server.stop()


def _install_exit_hooks() -> None:
    """Stop every server at interpreter exit, and turn SIGTERM into a normal exit (so `finally` and
    atexit run) when nobody else handles it. Ctrl-C already raises KeyboardInterrupt."""
    if LaunchedServer._handler_installed:
        return
    LaunchedServer._handler_installed = True
    atexit.register(stop_all)
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        def on_term(signum, frame):  # noqa: ARG001
            stop_all()
            raise SystemExit(128 + signum)

        signal.signal(signal.SIGTERM, on_term)


def split_command(command: str | Sequence[str]) -> list[str]:
    """`--launch "llama-server -m 'my model.gguf' --port {port}"` -> argv (shell quoting, no shell)."""
    import shlex

    if isinstance(command, str):
        try:
            return shlex.split(command)
        except ValueError as exc:
            raise ModelError(f"--launch {command!r}: {exc}", hint="check the quoting of the command") from None
    return [str(part) for part in command]
