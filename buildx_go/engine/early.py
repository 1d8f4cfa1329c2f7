"""Early start: a rebuild whose inputs are all as they were starts its build at once.

What a no-op rebuild waits for is mostly buildx-go's own start (the interpreter and its
imports, ~0.1 s), not BuildKit. So after a build that succeeded, buildx-go keeps a record
of what its plan depended on, as it went through the effects (effects.py): each project
file read (by digest) or looked at (its kind, a directory's listing), each git command and
its answer (by digest), the builder facts (their stamp and cache file), the host's
emulators; and the build command it started, with the files it wrote for it. The record
is named by a digest of the command line, the working directory, the environment, the
host's architecture and buildx-go's own code.

The next run of the same name checks all of that with the standard library only (this
module imports nothing heavier: ~10 ms) and, when nothing differs, starts that build
command at once. The run then goes on exactly as always (imports, detection, plan) while
BuildKit works, and takes the running build over only when its planned build is the same
command, word for word, in the same environment (``adopt``); otherwise, or when the run
stops before its build, the early build is interrupted (buildx cancels it) and waited for.

Never recorded (``why_not``): the host strategy, --create-builder, emulation checks,
several builds (manifest packaging), a --version-from command, builder facts that are not
cached (a remote engine or a docker context), BUILDX_GO_WORKDIR, a file that changed while
it was read, a git command that gave no answer; nothing at all with BUILDX_GO_EARLY=off.
The registry's tags (--latest) are not in the record: they only decide the
moving tags, and those, like everything else, the run decides afresh. Records are
0600 in $XDG_CACHE_HOME/buildx-go/early and hold digests, never a file's or a command's
text, except the files buildx-go generated (the Dockerfile and its ignore file) and buildx's
metadata of a published build.

A record can also say what its run published (uptodate.py) and the build context it sent.
When nothing differs and the context's stamp is the one published from, nothing starts
early: the run plans, and builds only if the registry says something moved (--rebuild
always builds).
"""

from __future__ import annotations

import contextlib
import marshal
import os
import sys
import threading
import time

from buildx_go.engine import interrupt
from buildx_go.engine.spawn import PLUGIN_ENV, Started, run_program, spawn
from buildx_go.engine.stamps import FACTS_TTL, digest, facts_stamp, host_emulators, observe, tree_stamp
from buildx_go.tty import isatty

TYPE_CHECKING = False  # typing's import costs the early start ~3 ms
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path
    from typing import Any

FORMAT = 1
KEEP = 64  # records kept; the oldest go first
# Set by shells, or by the docker CLI for its plugin (a new socket each call): no plan reads them.
VOLATILE = frozenset({"_", "SHLVL", "OLDPWD", "PWD", *PLUGIN_ENV})
# What only changes buildx-go's own events: a rerun with --debug finds the same record (and
# says in early.record what it did with it). Were a plan to read them, its build would differ
# from the recorded one, and the run's own checks (adopt, uptodate.identity) would say so.
EVENTS_ONLY_ENV = frozenset({"BUILDX_GO_DEBUG", "BUILDX_GO_LOG_FORMAT"})
EVENTS_ONLY_FLAGS = frozenset({"--debug", "--no-debug"})
EVENTS_ONLY_OPTIONS = ("--log-format",)  # with a value: "--log-format json" or "--log-format=json"


def cache_dir(env: Mapping[str, str]) -> str:
    """buildx-go's cache directory: $XDG_CACHE_HOME/buildx-go, else ~/.cache/buildx-go."""
    base = env.get("XDG_CACHE_HOME") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".cache")
    return os.path.join(base, "buildx-go")


def default_workdir() -> str:
    import tempfile

    return os.path.join(tempfile.gettempdir(), f"buildx-go-{os.getpid()}-{int(time.time())}")


# --- recording a run ---------------------------------------------------------------------
class Recorder:
    """What one run's plan depended on, as the effects were asked; ``why_not`` once
    something makes the run unfit to repeat early."""

    def __init__(self, name: str) -> None:
        self.name = name  # the record's file
        self.watch: dict[tuple[str, str], Any] = {}
        self.git: list[list[Any]] = []
        self.facts: list[list[Any]] = []
        self.written: dict[str, str] = {}
        self.spawned: list[tuple[Any, ...]] = []
        self.why_not: str | None = None
        self.context: list[Any] | None = None  # [the build context, top-level names left out]
        self.published: dict[str, Any] | None = None  # uptodate.published, once verified and tagged
        self.unchanged = False  # nothing was built: the record this run used stays as it is

    def see(self, kind: str, path: str | Path) -> None:
        """Observed BEFORE the effect reads: a file changed in between differs next time."""
        key = (kind, str(path))
        value = observe(kind, key[1])
        if key in self.watch and self.watch[key] != value:
            self.refuse(f"{path} changed while it was read")
        self.watch.setdefault(key, value)

    def refuse(self, why: str) -> None:
        self.why_not = self.why_not or why

    def ran(self, argv: Sequence[str], cwd: Path | None, timeout: float, answer: Any) -> None:
        if answer is None:  # could not run or did not finish: checking it again would wait as long
            self.refuse(f"{' '.join([*argv[:1], *argv[3:4]])} gave no answer")
        self.git.append([list(argv), str(cwd) if cwd else None, timeout, digest(answer)])

    def runner(self, inner: Callable[[Sequence[str], Path | None, float], Any]) -> Any:
        def run(argv: Sequence[str], cwd: Path | None, timeout: float) -> Any:
            answer = inner(argv, cwd, timeout)
            self.ran(argv, cwd, timeout, answer)
            return answer

        return run

    def facts_used(self, builder: str | None, stamp: str | None, path: str | None) -> None:
        if not stamp or not path:
            self.refuse("builder facts are not cached (a remote engine or a docker context)")
            return
        self.facts.append([builder, digest(stamp), path, observe("text", path)])

    def record(self, why_not: str | None, workdir: str) -> dict[str, Any] | None:
        """The record to keep for a run whose files went to WORKDIR, or None (``why_not``
        says why: WHY_NOT, the plan's own reason, or what this recorder saw)."""
        self.refuse(why_not or "")
        if self.unchanged:
            self.refuse("nothing was built: the record stays as it was")
        if len(self.spawned) != 1:
            self.refuse(f"{len(self.spawned)} streamed commands ran")
        files = {os.path.relpath(p, workdir): text for p, text in self.written.items()}
        if any(name.startswith("..") for name in files):
            self.refuse("a file was written outside the workdir")
        if self.why_not:
            return None
        argv, env, cwd, tty, terminal = self.spawned[0]
        watch = [[k, p, v] for (k, p), v in self.watch.items()]
        if os.path.isabs(argv[0]):  # the buildx binary: replaced by an upgrade
            watch.append(["stat", argv[0], observe("stat", argv[0])])
        return {
            "format": FORMAT,
            "watch": watch,
            "git": self.git,
            "facts": self.facts,
            "emulators": sorted(host_emulators()),
            "argv": argv,
            "env": sorted((k, v) for k, v in env.items() if os.environ.get(k) != v),
            "unset": sorted(k for k in os.environ if k not in env),
            "cwd": cwd,
            "tty": tty,
            "terminal": terminal,
            "workdir": workdir,
            "files": files,
            "context": self.context,
            "published": self.published,
        }


_recorder: Recorder | None = None
_started: Started | None = None
_workdir: str | None = None
_skipped: str | None = None  # why this run did not start early (for the debug event)
_candidate: dict[str, Any] | None = None  # what the record published, if nothing changed since (uptodate.py)
_before: list[Any] | None = None  # [context, left out, its stamp] taken before any early start


def recorder() -> Recorder | None:
    return _recorder


def record_name(argv: Sequence[str], env: Mapping[str, str]) -> str:
    """The record for this command line, working directory, environment, host and code."""
    package = os.path.dirname(os.path.abspath(__file__))
    code = sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in os.scandir(package) if e.name[-3:] == ".py")
    seen = sorted((k, v) for k, v in env.items() if k not in VOLATILE and k not in EVENTS_ONLY_ENV)
    key = digest(
        [FORMAT, planned_words(argv), os.getcwd(), seen, os.uname().machine, sys.version, sys.executable, code]
    )
    return os.path.join(cache_dir(env), "early", key[:32] + ".rec")


def planned_words(argv: Sequence[str]) -> list[str]:
    """ARGV without the options that only change buildx-go's events."""
    out: list[str] = []
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word in EVENTS_ONLY_OPTIONS:
            skip = True
        elif word not in EVENTS_ONLY_FLAGS and not word.startswith(tuple(o + "=" for o in EVENTS_ONLY_OPTIONS)):
            out.append(word)
    return out


def begin(argv: Sequence[str], env: Mapping[str, str]) -> None:
    """For `build` (not --dry-run): record this run, and start its build at once if the
    record of the same command line says nothing it depended on has changed."""
    global _recorder, _started, _skipped, _candidate, _before
    words = set(argv)
    if not argv or argv[0] != "build" or words & {"--dry-run", "-h", "--help"} or env.get("BUILDX_GO_WORKDIR"):
        return
    if env.get("BUILDX_GO_EARLY", "").lower() in ("0", "off", "false", "no"):  # neither started early nor recorded
        _skipped = "turned off (BUILDX_GO_EARLY)"
        return
    try:
        _recorder = Recorder(record_name(argv, env))
        with open(_recorder.name, "rb") as f:
            record = marshal.load(f)
        _skipped = changed(record, env)
        if _skipped is None:
            context = record.get("context")
            _before = [*context, tree_stamp(*context)] if context else None
            published = record.get("published")
            rebuild = "--rebuild" in words or env.get("BUILDX_GO_REBUILD", "").lower() in ("1", "true", "yes", "on")
            if published and not rebuild and _before and _before[2] == published["stamp"]:
                _candidate = published
                _skipped = "nothing changed since it was published: the registry is asked after planning"
            else:
                _started = _start(record)
    except Exception as exc:  # no record, or an unreadable one: the run goes on as always
        _skipped = f"no usable record ({type(exc).__name__})"


def changed(record: dict[str, Any], env: Mapping[str, str]) -> str | None:
    """What differs from RECORD now (None: nothing)."""
    if record.get("format") != FORMAT:
        return "the record's format"
    tty = record["terminal"] == "always" or (record["terminal"] == "auto" and isatty(sys.stderr))
    if tty != record["tty"]:
        return "stderr is a terminal now" if tty else "stderr is no terminal now"
    for kind, path, value in record["watch"]:
        if observe(kind, path) != value:
            return f"{path} ({kind})"
    for builder, stamp, path, text in record["facts"]:
        now = facts_stamp(env, builder)
        if not now or digest(now) != stamp or observe("text", path) != text:
            return "the builder facts"
        if time.time() - os.stat(path).st_mtime > FACTS_TTL:  # written once, when asked (docker._write_cache)
            return "the builder facts are old"
    if sorted(host_emulators()) != record["emulators"]:
        return "the host's emulators"
    answers: list[str | None] = [None] * len(record["git"])

    def ask(i: int, argv: list[str], cwd: str | None, timeout: float) -> None:
        answers[i] = digest(run_program(argv, cwd, timeout))

    threads = [threading.Thread(target=ask, args=(i, *g[:3])) for i, g in enumerate(record["git"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if answers != [g[3] for g in record["git"]]:
        return "git's answers"
    return None


def _start(record: dict[str, Any]) -> Started:
    global _workdir
    workdir = default_workdir()
    os.makedirs(workdir, exist_ok=True)
    for name, text in record["files"].items():
        with open(os.path.join(workdir, name), "w") as f:
            f.write(text)
    _workdir = workdir
    argv = [a.replace(record["workdir"], workdir) for a in record["argv"]]
    env = {k: v for k, v in os.environ.items() if k not in record["unset"]} | dict(record["env"])
    return spawn(argv, env, record["cwd"], record["tty"])


def candidate() -> dict[str, Any] | None:
    """What the record published, when nothing has changed since (uptodate.py checks the rest)."""
    return _candidate


def forget_candidate() -> None:
    """--rebuild given another way (the config file, the environment): build."""
    global _candidate
    _candidate = None


def context_before(root: str, leave_out: Sequence[str]) -> str | None:
    """The stamp of the build context ROOT before this run's build began: taken before an
    early start, else now; None if a build started early before any stamp was taken."""
    if _before is not None and _before[:2] == [root, list(leave_out)]:
        return _before[2]  # type: ignore[no-any-return]
    if _started is not None:
        return None
    return tree_stamp(root, leave_out)


def workdir() -> str | None:
    """The workdir of the build started early (the run's own), if one was."""
    return _workdir


def skipped() -> str | None:
    return _skipped


def started() -> Started | None:
    return _started


def adopt(key: tuple[Any, ...]) -> tuple[Started | None, str | None]:
    """The build started early, taken over if it is the command KEY (argv, environment,
    cwd, terminal) to run now; else stopped. (what was taken, why nothing was)."""
    global _started
    found, _started = _started, None
    if found is None:
        return None, None
    if found.key == key:
        return found, None
    stop(found)
    return None, "the planned build differs from the recorded one"


def discard(why: str) -> str | None:
    """Stop the build started early if nothing took it over (the run ended before its
    build): WHY, or None when there was none."""
    global _started
    found, _started = _started, None
    if found is None:
        return None
    stop(found)
    return why


def stop(started: Started) -> None:
    """Interrupt STARTED (buildx cancels its build), wait for it, and let it go."""
    interrupt.stop(started.proc)
    if started.master is not None:
        with contextlib.suppress(OSError):
            os.close(started.master)


def save(why_not: str | None, workdir: str) -> str | None:
    """Keep this run's record (it built and verified): None, or why it was not kept."""
    rec = _recorder
    if rec is None:
        return "not recorded"
    record = rec.record(why_not, workdir)
    if record is None:
        if rec.unchanged:  # the record it used stays: newest, as far as pruning goes
            with contextlib.suppress(OSError):
                os.utime(rec.name)
        return rec.why_not
    directory = os.path.dirname(rec.name)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    tmp = f"{rec.name}.{os.getpid()}.tmp"
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
        marshal.dump(record, f)
    os.replace(tmp, rec.name)
    kept = sorted((os.stat(e.path).st_mtime, e.path) for e in os.scandir(directory) if e.name.endswith(".rec"))
    for _, old in kept[:-KEEP]:
        with contextlib.suppress(OSError):
            os.unlink(old)
    return None
