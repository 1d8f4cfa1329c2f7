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


LINE_WIDTH = 100
NAME_WIDTH = 10
# events a person does not need on a terminal: what BuildKit's display, the ERROR line or
# the result line already say, and bookkeeping (all in --debug and in JSON)
QUIET_EVENTS = frozenset(
    [
        "command.start",
        "command.done",
        "command.failed",
        "tags.written",
        "error",
        "build.failed",
        "verify.failed",
        "build.summary",
        "image.pushed",
        "images.verified",
        "verify.image",
        "builder.exists",
        "credentials.removed",
        "tag.deleted",
        "base.pinned",
        "base.unpinned",
        "emulation.checked",
    ]
)


def _words(value: Any) -> str:
    """A field's value as a person reads it: lists joined by spaces, booleans as yes/no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return " ".join(_words(v) for v in value)
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _short_digest(digest: Any) -> str:
    return str(digest)[:19] if str(digest).startswith("sha256:") else str(digest)


def line_for_people(event: Mapping[str, Any]) -> str | None:
    """EVENT as one short line (``NAME  what``), or None when a terminal need not show it."""
    name, e = str(event.get("event", "")), event
    if name in QUIET_EVENTS:
        return None
    text: str | None
    if name == "project.detected":
        extras = [f"toolchain {e['toolchain']}" if e.get("toolchain") else ""]
        extras += [
            w
            for w, on in (("cgo", e.get("cgo")), ("vendored", e.get("vendored")), ("go.work", e.get("workspace")))
            if on
        ]
        mains = e.get("mains") or []
        text = f"{e.get('module')}, go {e.get('go')}, main{'s' if len(mains) > 1 else ''} {_words(mains)}"
        text += "".join(f", {x}" for x in extras if x)
        name = "project"
    elif name == "builder.facts":
        what = "one run for every platform" if e.get("multi_platform") else "one platform a run"
        text, name = f"{e.get('builder')} ({e.get('driver')} driver): {what}", "builder"
    elif name in ("builder.create", "builder.created"):
        text, name = f"{e.get('name')} {'created' if name.endswith('d') else 'being created'}", "builder"
    elif name == "dockerfile.chosen":
        source = {"user": "yours", "adapted": "yours, adapted to cross-compile", "generated": "generated"}
        text, name = source.get(str(e.get("source")), str(e.get("source"))), "dockerfile"
    elif name == "dockerfile.adapted":
        text, name = str(e.get("change")), "adapted"
    elif name in ("bake.written", "bake.unexpressed"):
        text, name = e.get("note") or f"{e.get('dockerfile')} written; save the JSON in {e.get('project')}", "bake"
    elif name == "dockerfile.lint":
        text, name = f"line {e.get('line')}: {e.get('message')} ({e.get('code')})", "lint"
    elif name == "plan.chosen":
        text, name = f"{e.get('strategy')}: {_words(e.get('platforms') or [])}", "plan"
    elif name == "build.changed":
        text, name = str(e.get("why")), "building"
    elif name == "build.unchanged":
        text, name = f"nothing to build: {e.get('why')}", "unchanged"
    elif name == "verify.ok" and e.get("checked") == "published":
        text, name = f"{_short_digest(e.get('digest'))}: when it was published; every layer is still there", "verified"
    elif name == "verify.ok":
        cached = f" ({e['cached']} checked before)" if e.get("cached") else ""
        text, name = f"{_short_digest(e.get('digest'))}: each platform's binary is for it{cached}", "verified"
    elif name in ("tags.published", "tags.moved"):
        tags = e.get("refs") or e.get("tags") or []
        text, name = _words([str(t).rsplit("/", 1)[-1] for t in tags]), name.split(".")[1]
    else:  # anything else: its fields, plainly
        fields = [
            f"{k}={_words(v)}"
            for k, v in e.items()
            if k not in ("event", "level", "timestamp") and v not in (None, "", [], ())
        ]
        text = " ".join(fields)
    line = f"{name:<{NAME_WIDTH}} {text}".rstrip()
    return line if len(line) <= LINE_WIDTH else line[: LINE_WIDTH - 1] + "…"


def _for_people(quiet: bool, colours: bool) -> Any:
    def render(_: Any, level: str, event: MutableMapping[str, Any]) -> str:
        import structlog

        line = line_for_people(event)
        if line is None or (quiet and level not in ("warning", "error")):
            raise structlog.DropEvent
        if level == "warning":
            line = ("\x1b[33m" + line + "\x1b[0m") if colours else line
        elif colours:
            line = "\x1b[2m" + line[:NAME_WIDTH] + "\x1b[0m" + line[NAME_WIDTH:]
        return line

    return render


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


def in_ci(env: Mapping[str, str]) -> bool:
    """A CI job's log: GitHub Actions, GitLab CI, or any CI that sets CI (CircleCI,
    Buildkite, Travis, Bitbucket, Drone, Woodpecker, ...) to something other than false/0."""
    if env.get("GITHUB_ACTIONS") == "true" or env.get("GITLAB_CI") == "true":
        return True
    return env.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def configure(
    fmt: str = "auto",
    stream: TextIO | None = None,
    debug: bool = False,
    defer: bool = False,
    env: Mapping[str, str] | None = None,
    quiet: bool = False,
) -> None:
    """FMT is json, console, or auto (console on a TTY and in a CI job's log, JSON otherwise).

    DEFER: importing structlog costs ~0.1 s; a build defers it until its docker process runs
    (``activate``), events logged before are buffered with their own times. For people (console
    without DEBUG) each event that matters is one short line (``line_for_people``); QUIET
    (--progress quiet) keeps only warnings."""
    global _pending
    out = stream or sys.stderr
    env = env or {}
    ci = in_ci(env)  # logs people read as text
    _pending = {"fmt": fmt, "stream": out, "debug": debug, "colours": colours(out, env), "ci": ci, "quiet": quiet}
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
            fmt = "console" if stream.isatty() or _pending["ci"] else "json"
        processors: list[Any] = [structlog.contextvars.merge_contextvars, structlog.processors.add_log_level]
        if fmt == "json":
            processors += [_iso_time, _redact_event, structlog.processors.JSONRenderer(sort_keys=False)]
        elif debug:  # every event, every field
            renderer = structlog.dev.ConsoleRenderer(colors=_pending["colours"], pad_event_to=EVENT_WIDTH)
            processors += [_clock_time, _redact_event, _short(debug), renderer]
        else:
            processors += [_redact_event, _for_people(_pending["quiet"], _pending["colours"])]
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
