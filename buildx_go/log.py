"""structlog setup: events on stderr, JSON lines for machines, readable lines for people."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

SECRET_HINTS = ("password", "token", "secret", "auth", "credential")


def redact_argv(argv: list[str] | tuple[str, ...]) -> list[str]:
    """ARGV with the values of secret-looking options and KEY=VALUE pairs masked."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        low = arg.lower()
        if hide_next:
            out.append("***")
            hide_next = False
        elif "=" in arg and any(h in low.split("=", 1)[0] for h in SECRET_HINTS):
            out.append(arg.split("=", 1)[0] + "=***")
        elif arg.startswith("-") and any(h in low for h in SECRET_HINTS):
            out.append(arg)
            hide_next = True
        else:
            out.append(arg)
    return out


def _redact_event(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if any(h in key.lower() for h in SECRET_HINTS):
            event[key] = "***"
    if isinstance(event.get("argv"), (list, tuple)):
        event["argv"] = redact_argv(event["argv"])
    return event


def configure(fmt: str = "auto", stream: TextIO | None = None, debug: bool = False) -> None:
    """FMT is json, console, or auto (console on a TTY, JSON otherwise)."""
    stream = stream or sys.stderr
    if fmt == "auto":
        fmt = "console" if stream.isatty() else "json"
    renderer: Any
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer(sort_keys=False)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=stream.isatty())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact_event,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG if debug else logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )


def get_logger() -> Any:
    return structlog.get_logger("buildx-go")
