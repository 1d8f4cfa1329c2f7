"""Where buildx-go keeps what it learnt, and what that depends on, told cheaply: its cache
directory, the docker CLI's config directory, what cached builder facts depend on (their
stamp), the host's QEMU emulators."""

from __future__ import annotations

import contextlib
import hashlib
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

FACTS_TTL = 3600.0
FACTS_KEY_FIELDS = 4  # host, builder, BUILDX_BUILDER, docker config dir: what a facts file is for


def cache_dir(env: Mapping[str, str]) -> str:
    """buildx-go's cache directory: $XDG_CACHE_HOME/buildx-go, else ~/.cache/buildx-go."""
    base = env.get("XDG_CACHE_HOME") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".cache")
    return os.path.join(base, "buildx-go")


def default_workdir() -> str:
    """A new directory in $TMPDIR for one run's files."""
    import tempfile
    import time

    return os.path.join(tempfile.gettempdir(), f"buildx-go-{os.getpid()}-{int(time.time())}")


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
