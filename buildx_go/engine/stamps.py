"""What the world looks like now, told cheaply and the same way every time: a file's
content digest, kind or listing; what cached builder facts depend on (their stamp); the
host's QEMU emulators. The standard library only (early.py checks records with it)."""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os

TYPE_CHECKING = False  # typing's import costs the early start ~3 ms
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

FILE_LIMIT = 1 << 20  # bytes, as seams.FILE_LIMIT (this module stays light: the early start imports it)
FACTS_TTL = 3600.0
FACTS_KEY_FIELDS = 4  # host, builder, BUILDX_BUILDER, docker config dir: what a facts file is for


def observe(kind: str, path: str) -> Any:
    """What a plan could have learnt from PATH: "text" its content's digest (the first
    FILE_LIMIT + 1 bytes, as read), "kind" link/dir/file/other, "list" its entries, "stat"
    size, mtime and inode; None when nothing is there (or it cannot be read)."""
    try:
        if kind == "text":
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
            with os.fdopen(fd, "rb") as f:
                import stat

                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    return "not a regular file"
                return hashlib.sha256(f.read(FILE_LIMIT + 1)).hexdigest()
        if kind == "kind":
            what = "dir" if os.path.isdir(path) else "file" if os.path.isfile(path) else "-"
            return ("link:" if os.path.islink(path) else "") + what
        if kind == "list":
            return sorted(os.listdir(path))
        st = os.stat(path)
        return [st.st_size, st.st_mtime_ns, st.st_ino]
    except OSError:
        return None


def digest(value: Any) -> str:
    """VALUE's digest (plain data: str, int, float, None, lists, tuples, dicts in a fixed order)."""
    return hashlib.sha256(marshal.dumps(value)).hexdigest()


def docker_config(env: Mapping[str, str]) -> str:
    """The docker CLI's config directory: $DOCKER_CONFIG, else ~/.docker."""
    return env.get("DOCKER_CONFIG") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".docker")


def facts_stamp(env: Mapping[str, str], builder: str | None) -> str | None:
    """What cached builder facts depend on, or None when that cannot be told cheaply.

    Only for a local engine socket: restarting the engine (the only way to change its image
    store) recreates the socket, and creating, removing or switching builders touches the
    buildx config. Remote engines, contexts and tcp hosts are always asked afresh."""
    host = env.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if not host.startswith("unix://") or env.get("DOCKER_CONTEXT"):
        return None
    config = docker_config(env)
    parts = [host, str(builder), env.get("BUILDX_BUILDER", ""), config]
    try:
        sock = os.stat(host.removeprefix("unix://"))
        parts.append(f"{sock.st_ino}:{sock.st_ctime_ns}")
        config_json = os.path.join(config, "config.json")
        if os.path.isfile(config_json):
            with open(config_json) as f:
                if '"currentContext"' in f.read():
                    return None
        buildx_dir = os.path.join(config, "buildx")
        current = os.path.join(buildx_dir, "current")
        if builder or env.get("BUILDX_BUILDER"):
            parts.append("named")  # the builder is named: buildx's current one does not count
        elif os.path.isfile(current):
            with open(current) as f:
                parts.append(current_builder(f.read(), host))
        else:
            parts.append("-")
        instances = os.path.join(buildx_dir, "instances")
        named = sorted(n for n in os.listdir(instances) if not n.startswith(".")) if os.path.isdir(instances) else []
        for path in [config_json, instances, *(os.path.join(instances, n) for n in named)]:
            name = os.path.basename(path)
            parts.append(f"{name}:{os.stat(path).st_mtime_ns}" if os.path.exists(path) else f"{name}:-")
    except OSError:
        return None
    return "|".join(parts)


def current_builder(text: str, host: str) -> str:
    """What buildx's `current` file says about the engine at HOST. Every buildx command
    rewrites that file with the Key of the engine it was run on (and the builder chosen
    there), so its text changes when another engine was used meanwhile, though for HOST
    nothing did: the default builder counts as the default whatever its Key; a builder named
    for HOST (or global) by its name. Anything else (a builder named for another Key, which
    may be this engine spelt otherwise; a file that is not the simple JSON buildx writes)
    counts as the text it is."""
    fields = {}
    for name in ("Key", "Name", "Global"):
        _, found, rest = text.partition(f'"{name}":')
        rest = rest.lstrip()
        if not found:
            return "text:" + text
        if rest.startswith('"'):
            value, closed, _ = rest[1:].partition('"')
            if not closed or "\\" in value:  # an escape: not parsed here
                return "text:" + text
        else:
            value = rest.split(",", 1)[0].split("}", 1)[0].strip()
        fields[name] = value
    if not fields["Name"]:  # the default builder, whichever engine the file is about
        return "current:"
    if fields["Key"] == host or fields["Global"] == "true":
        return "current:" + fields["Name"]
    return "text:" + text  # a builder named for another Key (or this engine spelt otherwise)


def facts_file(cache: str, stamp: str) -> str:
    """One file per engine and builder choice (the stamp's first fields): a restarted engine
    or a changed buildx config overwrites it instead of adding another."""
    key = "|".join(stamp.split("|")[:FACTS_KEY_FIELDS])
    return os.path.join(cache, f"facts-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json")


def host_emulators(binfmt_dir: str = "/proc/sys/fs/binfmt_misc") -> set[str]:
    """QEMU emulators registered with this host's binfmt_misc (qemu-aarch64, qemu-arm, ...)."""
    found = set()
    with contextlib.suppress(OSError):
        for name in os.listdir(binfmt_dir):
            if name.startswith("qemu-"):
                with contextlib.suppress(OSError), open(os.path.join(binfmt_dir, name)) as f:
                    if "enabled" in f.read():
                        found.add(name)
    return found


TREE_LIMIT = 20000  # entries: a larger build context is not stamped (every run builds)


def tree_stamp(root: str, leave_out: Sequence[str] = (), limit: int = TREE_LIMIT) -> str | None:
    """What every entry under ROOT looks like now (path, type, mode, size, mtime, ctime,
    inode; a link's target), as one digest: an edit, a new, removed, renamed or re-checked-out
    file changes it. Top-level LEAVE_OUT names (.git, when the build context leaves it out)
    are skipped. None when ROOT cannot be read or holds more than LIMIT entries."""
    entries: list[tuple[Any, ...]] = []
    todo = [""]
    try:
        while todo:
            rel = todo.pop()
            with os.scandir(os.path.join(root, rel) if rel else root) as it:
                for e in it:
                    path = f"{rel}/{e.name}" if rel else e.name
                    if not rel and e.name in leave_out:
                        continue
                    st = e.stat(follow_symlinks=False)
                    link = os.readlink(e.path) if e.is_symlink() else None
                    entries.append((path, st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, link))
                    if e.is_dir(follow_symlinks=False):
                        todo.append(path)
                    if len(entries) > limit:
                        return None
    except OSError:
        return None
    entries.sort()
    return digest(entries)
