"""structlog setup: events on stderr, JSON lines for machines, short readable lines for people.

JSON: every field, an ISO UTC timestamp. Console: local HH:MM:SS, the event name padded so
that fields line up, empty fields left out, argv shown only with --debug. Colours follow
NO_COLOR (never), then FORCE_COLOR (always), else whether stderr is a terminal.
"""

from __future__ import annotations

import datetime
import sys
import threading
import time
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

from buildx_go.redact import SECRET_HINTS, redact_argv, redact_text
from buildx_go.tty import isatty

DEBUG, INFO = 10, 20  # logging's levels, without importing logging
EVENT_WIDTH = 18


def _redact_event(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if any(h in key.lower() for h in SECRET_HINTS):
            event[key] = "***"
        elif isinstance(value, str):
            event[key] = redact_text(value)
        elif isinstance(value, (list, tuple)) and key != "argv":
            event[key] = [redact_text(v) if isinstance(v, str) else v for v in value]
    if isinstance(event.get("argv"), (list, tuple)):  # a planned command's, build args masked already
        event["argv"] = redact_argv(event["argv"], public=None)
    return event


def _iso_time(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """ISO UTC timestamp, from when the event was logged (replayed ones keep theirs)."""
    at = event.pop("_at", None) or time.time()
    event["timestamp"] = datetime.datetime.fromtimestamp(at, datetime.UTC).isoformat().replace("+00:00", "Z")
    return event


def _clock_time(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    at = event.pop("_at", None) or time.time()
    event["timestamp"] = time.strftime("%H:%M:%S", time.localtime(at))
    return event


def _short(debug: bool) -> Any:
    """For people: no empty fields, no argv (the plan shows commands) unless debugging."""

    def drop(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for key in list(event):
            value = event[key]
            if value is None or value == "" or value == [] or value == {} or value == ():
                del event[key]
        if not debug:
            event.pop("argv", None)
        return event

    return drop


class _Buffer:
    """Collects events, with their time, until structlog is set up (see ``configure``); after
    that, passes them on (callers may hold on to it across ``activate``)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []

    def _add(self, level: str, event: str, **kw: Any) -> None:
        kw.setdefault("_at", time.time())
        with _lock:
            if _pending is not None:
                self.events.append((level, event, kw))
                return
        getattr(get_logger(), level)(event, **kw)

    def debug(self, event: str, **kw: Any) -> None:
        self._add("debug", event, **kw)

    def info(self, event: str, **kw: Any) -> None:
        self._add("info", event, **kw)

    def warning(self, event: str, **kw: Any) -> None:
        self._add("warning", event, **kw)

    def error(self, event: str, **kw: Any) -> None:
        self._add("error", event, **kw)


_lock = threading.Lock()
_pending: dict[str, Any] | None = None  # configure(defer=True) given, structlog not yet set up
_buffer = _Buffer()


def colours(stream: TextIO, env: Mapping[str, str]) -> bool:
    """NO_COLOR (set and not empty) means never, FORCE_COLOR always, else: a terminal?"""
    if env.get("NO_COLOR"):
        return False
    if env.get("FORCE_COLOR"):
        return True
    return isatty(stream)


def configure(
    fmt: str = "auto",
    stream: TextIO | None = None,
    debug: bool = False,
    defer: bool = False,
    env: Mapping[str, str] | None = None,
) -> None:
    """FMT is json, console, or auto (console on a TTY, JSON otherwise).

    DEFER: importing structlog costs ~0.1 s; a build defers it until its docker process runs
    (``activate``), events logged before are buffered with their own times."""
    global _pending
    out = stream or sys.stderr
    _pending = {"fmt": fmt, "stream": out, "debug": debug, "colours": colours(out, env or {})}
    if not defer:
        activate()


def activate() -> None:
    """Set structlog up as configured and replay buffered events (idempotent, thread-safe)."""
    global _pending
    with _lock:
        if _pending is None:
            return
        import structlog

        stream, fmt, debug = _pending["stream"], _pending["fmt"], _pending["debug"]
        if fmt == "auto":
            fmt = "console" if stream.isatty() else "json"
        processors: list[Any] = [structlog.contextvars.merge_contextvars, structlog.processors.add_log_level]
        if fmt == "json":
            processors += [_iso_time, _redact_event, structlog.processors.JSONRenderer(sort_keys=False)]
        else:
            renderer = structlog.dev.ConsoleRenderer(colors=_pending["colours"], pad_event_to=EVENT_WIDTH)
            processors += [_clock_time, _redact_event, _short(debug), renderer]
        structlog.configure(
            processors=processors,
            wrapper_class=structlog.make_filtering_bound_logger(DEBUG if debug else INFO),
            logger_factory=structlog.PrintLoggerFactory(stream),
            cache_logger_on_first_use=False,
        )
        _pending = None
        logger = structlog.get_logger("buildx-go")
        for level, event, kw in _buffer.events:
            getattr(logger, level)(event, **kw)
        _buffer.events.clear()


def get_logger() -> Any:
    if _pending is not None:
        with _lock:
            if _pending is not None:
                return _buffer
    import structlog

    return structlog.get_logger("buildx-go")
