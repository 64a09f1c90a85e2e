"""Helpers shared by the benchmarks: a hard watchdog, child processes, a throwaway PostgreSQL, /proc reads.

Not a benchmark. Everything here stays on loopback, and every process it starts is registered with the
:class:`Watchdog`, which kills them (and stops PostgreSQL) if a benchmark overruns its time limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.pgserver import PostgresServer, pg_bin

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- the hard time limit ------------------------------------------------------------------------------


class Watchdog:
    """Kills the benchmark, its child processes and its PostgreSQL when the time limit passes.

    A thread, so it fires even while the event loop is stuck in CPU-bound work. The benchmarks also
    use ``asyncio.timeout`` with a slightly shorter limit to stop cleanly; this is the backstop.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._cleanups: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def start(self) -> Watchdog:
        self._timer.start()
        return self

    def add(self, cleanup: Callable[[], None]) -> Callable[[], None]:
        with self._lock:
            self._cleanups.append(cleanup)
        return cleanup

    def remove(self, cleanup: Callable[[], None]) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._cleanups.remove(cleanup)

    def cancel(self) -> None:
        self._timer.cancel()

    def _fire(self) -> None:
        print(f"\nWATCHDOG: over the hard limit of {self.seconds:.0f} s: killing everything", file=sys.stderr)
        with self._lock:
            cleanups = list(reversed(self._cleanups))
        for cleanup in cleanups:
            with contextlib.suppress(Exception):
                cleanup()
        os._exit(3)


def _die_with_parent() -> None:
    # Linux: the child gets SIGKILL if the benchmark process dies, so nothing outlives a crash.
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


# --- child processes ----------------------------------------------------------------------------------


@dataclass
class Child:
    """A process the benchmark started (a fake peer or the hub), stopped by its pid."""

    process: asyncio.subprocess.Process
    name: str
    log: Path
    url: str = ""
    _cleanup: Callable[[], None] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    async def stop(self, watchdog: Watchdog | None = None) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if watchdog is not None and self._cleanup is not None:
            watchdog.remove(self._cleanup)


async def start_child(
    name: str, args: Sequence[str], log_dir: Path, watchdog: Watchdog, *, ready_line: bool = True
) -> Child:
    """Start ``python -m …`` with ``args``; with ``ready_line``, wait for its ``READY <url>`` line."""
    log = log_dir / f"{name}.log"
    stderr = log.open("ab")
    try:
        process = await asyncio.create_subprocess_exec(
            PYTHON,
            *args,
            cwd=REPO,
            stdout=asyncio.subprocess.PIPE if ready_line else stderr,
            stderr=stderr,
            preexec_fn=_die_with_parent,
        )
    finally:
        stderr.close()

    def kill() -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)

    child = Child(process, name, log, _cleanup=watchdog.add(kill))
    if ready_line:
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), 60)
        except TimeoutError:
            line = b""
        if not line.startswith(b"READY "):
            await child.stop(watchdog)
            raise RuntimeError(f"{name} did not start: {log.read_text(errors='replace')[-2000:]}")
        child.url = line.decode().split()[1]
    return child


async def serve_until_stopped(app: web.Application, port: int = 0) -> None:
    """The child's side of :func:`start_child`: serve ``app`` on 127.0.0.1, print ``READY <url>``, then
    serve until SIGTERM or SIGINT."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(f"READY http://127.0.0.1:{bound}", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()


def memory_kib(pid: int | str = "self") -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` (peak RSS) of a process, in KiB, from /proc/PID/status."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU time a process has used so far, from /proc/PID/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def environment() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "load_average": " ".join(f"{v:.2f}" for v in os.getloadavg()),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "kernel": platform.release(),
        "revision": _revision(),
    }


def _revision() -> str:
    """The commit measured, ``+dirty`` when the working tree has uncommitted changes."""
    try:
        run = lambda *cmd: subprocess.run(  # noqa: E731
            ["git", *cmd], cwd=REPO, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        return run("rev-parse", "--short", "HEAD") + (
            "+dirty" if run("status", "--porcelain", "--untracked-files=no") else ""
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"


# --- a throwaway PostgreSQL ---------------------------------------------------------------------------


class Postgres(PostgresServer):
    """The test-suite's throwaway PostgreSQL, stopped by the watchdog if the run overstays its time."""

    def __init__(self, watchdog: Watchdog) -> None:
        bin_dir = pg_bin()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL binaries (initdb, pg_ctl) not found")
        super().__init__(bin_dir)
        self.watchdog = watchdog
        self._cleanup: Callable[[], None] | None = None

    def start(self) -> Postgres:
        self._cleanup = self.watchdog.add(self.stop)
        super().start()
        return self

    def stop(self) -> None:
        super().stop()
        if self._cleanup is not None:
            self.watchdog.remove(self._cleanup)
            self._cleanup = None


# --- hub configuration --------------------------------------------------------------------------------


def write_hub_config(folder: Path, database_url: str, tables: str, *, port: int = 8080) -> Path:
    """A config.toml for the benchmark: loopback, no scheduled syncs, WARNING logs (no access log lines).

    ``tables`` follows: the accounts, and any other section the benchmark sets (``[events]``…).
    """
    path = folder / "config.toml"
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = {port}
[database]
url = "{database_url}"
migrate_on_start = false
[logging]
level = "WARNING"
[sync]
scheduled = false
{tables}
""",
        encoding="utf-8",
    )
    return path


def load_hub(path: Path) -> tuple[Any, Any]:
    """The validated config and the loaded plugins, as ``appcast-hub`` itself loads them."""
    from hub.config import bind_plugins, load_config
    from hub.plugins import load_plugins

    config = load_config(path)
    plugins = load_plugins(config.plugins_disabled)
    if plugins.broken:
        raise RuntimeError(f"broken plugins: {plugins.broken}")
    return bind_plugins(config, plugins), plugins


# --- profiling a child process -----------------------------------------------------------------------


async def start_py_spy(pid: int, output: Path, watchdog: Watchdog) -> Child | None:
    """``py-spy record`` of process ``pid`` into ``output`` (collapsed stacks); None if py-spy is missing."""
    executable = Path(PYTHON).parent / "py-spy"
    if not executable.exists():
        found = shutil.which("py-spy")
        if found is None:
            print("py-spy not installed: no profile (pip install py-spy)", file=sys.stderr)
            return None
        executable = Path(found)
    output.parent.mkdir(parents=True, exist_ok=True)
    args = [
        "record",
        "--pid",
        str(pid),
        "--format",
        "raw",
        "--rate",
        "200",
        "--nonblocking",
        "-o",
        str(output),
    ]
    log = output.with_suffix(".log").open("ab")
    try:
        process = await asyncio.create_subprocess_exec(
            str(executable), *args, stdout=log, stderr=log, preexec_fn=_die_with_parent
        )
    finally:
        log.close()

    def kill() -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)

    await asyncio.sleep(1.0)  # let it attach
    return Child(process, "py-spy", output.with_suffix(".log"), _cleanup=watchdog.add(kill))


async def stop_py_spy(spy: Child, watchdog: Watchdog) -> None:
    """Stop recording (SIGINT makes py-spy write its output) and wait for the file."""
    if spy.process.returncode is None:
        spy.process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(spy.process.wait(), 30)
        except TimeoutError:
            spy.process.kill()
            await spy.process.wait()
    if spy._cleanup is not None:
        watchdog.remove(spy._cleanup)


def summarise_collapsed(path: Path, top: int = 15) -> str:
    """The hottest functions of a py-spy ``raw`` (collapsed stacks) profile: the hub's inclusive, all self.

    Shares are of the samples taken while the process was on the CPU (py-spy skips idle samples).
    """
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_frame_name(frame) for frame in stack.split(";")]
        for frame in set(frames):
            if " (hub/" in frame or " (plugins/" in frame:  # the hub's own functions, not the event loop's
                inclusive[frame] = inclusive.get(frame, 0) + count
        own[frames[-1]] = own.get(frames[-1], 0) + count
    if not total:
        return "(no samples)"

    def block(title: str, table: dict[str, int]) -> list[str]:
        ranked = sorted(table.items(), key=lambda item: -item[1])[:top]
        return [title, *(f"  {count / total:6.1%}  {name}" for name, count in ranked)]

    lines = [f"{total} samples"]
    lines += block("the hub's functions, inclusive (their own time and what they call):", inclusive)
    lines += block("self (time in the function's own code):", own)
    return "\n".join(lines)


def _frame_name(frame: str) -> str:
    # "write_feed (hub/feed.py:142)" -> "write_feed (hub/feed.py)": lines would split one function.
    name, _, where = frame.partition(" (")
    location = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in location:
            location = location.split(marker, 1)[1]
    return f"{name} ({location})" if location else name


# --- reporting ----------------------------------------------------------------------------------------


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table, ready to paste into docs/benchmarks.md."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def mib(kib: float) -> str:
    return f"{kib / 1024:,.1f} MiB"


@contextlib.contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """``with stopwatch() as elapsed:`` … ``elapsed()`` is the seconds since the block began."""
    started = time.perf_counter()
    ended: list[float] = []
    yield lambda: (ended[0] if ended else time.perf_counter()) - started
    ended.append(time.perf_counter())


def run_bounded(
    name: str,
    args: Any,
    main_async: Callable[[Any, Watchdog], Any],
    report: Callable[[dict[str, Any], dict[str, Any]], str],
) -> int:
    """Run a benchmark's ``main_async(args, watchdog)`` within ``args.timeout``; print its report.

    Returns the exit code: 0, or 3 when the time limit stopped it (the watchdog has killed what it started).
    With ``args.json``, the results and the environment are also written there as JSON.
    """
    logging.basicConfig(level=logging.WARNING)
    env = environment()
    watchdog = Watchdog(args.timeout).start()

    async def bounded() -> dict[str, Any]:
        # A margin before the watchdog fires, so the run can still stop its children itself.
        async with asyncio.timeout(args.timeout - min(30.0, args.timeout / 10)):
            return await main_async(args, watchdog)

    try:
        out = asyncio.run(bounded())
    except TimeoutError:
        print(f"{name}: stopped at the {args.timeout:.0f} s limit", file=sys.stderr)
        return 3
    finally:
        watchdog.cancel()
    print(report(out, env))
    if args.json:
        args.json.write_text(json.dumps({"environment": env, "results": out}, indent=2, default=str))
    return 0


async def wait_healthy(http: aiohttp.ClientSession, url: str, child: Child, seconds: float = 60) -> None:
    """Wait until the hub ``child`` at ``url`` answers ``/healthz``; raise with its log otherwise."""
    deadline = time.monotonic() + seconds
    while True:
        if child.process.returncode is not None:
            raise RuntimeError(f"{child.name} exited: {child.log.read_text(errors='replace')[-2000:]}")
        try:
            async with http.get(f"{url}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{child.name} not healthy in {seconds:g} s: {child.log.read_text(errors='replace')}"
            )
        await asyncio.sleep(0.1)
