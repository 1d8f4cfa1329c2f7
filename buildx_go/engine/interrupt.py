"""Interrupts: SIGINT, SIGTERM and SIGHUP stop every child and nothing starts after them.

Each child (docker, go) runs in a process group of its own, started through ``popen``, so
that a signal sent to buildx-go's pid alone (CI cancelling a job, `kill`, a Makefile's
timeout) reaches the children too: the handler sends them SIGINT (buildx cancels its build
and BuildKit stops before it exports), then SIGKILL after GRACE seconds or at a second
signal. The main thread goes on until the children have ended, and their failure becomes
``Interrupted`` (exit 130). With no child running, the handler raises ``Interrupted`` at
once. ``popen`` refuses to start anything after an interrupt: nothing begins publishing
once the user has asked to stop.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading

from buildx_go.errors import Interrupted

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from typing import Any

GRACE = 10.0  # seconds between SIGINT and SIGKILL for children
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_lock = threading.Lock()
_children: set[subprocess.Popen[Any]] = set()
_caught: list[int] = []


def caught() -> str | None:
    """The name of the first signal received (e.g. SIGINT), or None."""
    return signal.Signals(_caught[0]).name if _caught else None


def check() -> None:
    """Raise Interrupted if a signal arrived: called before anything starts."""
    if _caught:
        raise Interrupted(f"interrupted by {caught()}: nothing more was started")


def popen(argv: Sequence[str], **kw: Any) -> subprocess.Popen[Any]:
    """subprocess.Popen in a new process group, tracked until ``release``d; refused after
    an interrupt (one arriving while it starts stops it at once)."""
    check()
    proc: subprocess.Popen[Any] = subprocess.Popen(list(argv), start_new_session=True, **kw)
    with _lock:
        _children.add(proc)
        late = bool(_caught)
    if late:
        _signal(proc, signal.SIGKILL)
    return proc


def release(proc: subprocess.Popen[Any]) -> None:
    with _lock:
        _children.discard(proc)


@contextlib.contextmanager
def tracked(argv: Sequence[str], **kw: Any) -> Iterator[subprocess.Popen[Any]]:
    """``popen`` for a with block: released (and, if still running, killed) at its end."""
    with owned(popen(argv, **kw)) as proc:
        yield proc


@contextlib.contextmanager
def owned(proc: subprocess.Popen[Any]) -> Iterator[subprocess.Popen[Any]]:
    """PROC (from ``popen``) for a with block: released (and, if still running, killed) at its end."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            _signal(proc, signal.SIGKILL)
            proc.wait()
        release(proc)


def stop(proc: subprocess.Popen[Any]) -> None:
    """SIGINT to PROC's group (buildx cancels its build), SIGKILL after GRACE; waited for, released."""
    if proc.poll() is None:
        _signal(proc, signal.SIGINT)
        try:
            proc.wait(GRACE)
        except subprocess.TimeoutExpired:
            _signal(proc, signal.SIGKILL)
            proc.wait()
    release(proc)


def install() -> None:
    """Handle SIGINT, SIGTERM and SIGHUP (only from the main thread: signals go there)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in SIGNALS:
        with contextlib.suppress(OSError, ValueError):
            signal.signal(sig, _handle)


def reset() -> None:
    """Forget a signal received (tests run several commands in one process)."""
    _caught.clear()


def _handle(signum: int, _frame: object) -> None:
    first = not _caught
    _caught.append(signum)
    with _lock:
        running = [p for p in _children if p.poll() is None]
    if not running:
        raise Interrupted(f"interrupted by {caught()}")
    for proc in running:
        _signal(proc, signal.SIGINT if first else signal.SIGKILL)
    if first:
        timer = threading.Timer(GRACE, _kill_all)
        timer.daemon = True
        timer.start()


def _kill_all() -> None:
    with _lock:
        running = [p for p in _children if p.poll() is None]
    for proc in running:
        _signal(proc, signal.SIGKILL)


def kill_group(proc: subprocess.Popen[Any]) -> None:
    """SIGKILL to PROC and everything it started (its process group)."""
    _signal(proc, signal.SIGKILL)


def _signal(proc: subprocess.Popen[Any], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
