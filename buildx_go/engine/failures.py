"""What a failed docker command's output says went wrong (pure: text in, one error out).

BuildKit's output is read the way a person would: the registry (exit 5), the engine or
its disk (exit 3), an image that cannot be pulled, modules that cannot be downloaded, a
missing bridge network, or the failing step's own error lines (exit 4), never the
Dockerfile excerpt BuildKit prints under them.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Sequence

from buildx_go.config import publishes
from buildx_go.errors import BuildFailed, BuildxGoError, EngineError, PushFailed, RegistryError

ENGINE_DOWN = re.compile(r"Cannot connect to the Docker daemon|error during connect|docker daemon is not running", re.I)
NO_BUILDX = re.compile(r"'buildx' is not a docker command|unknown command: docker buildx", re.I)
PUSH_FAILED = re.compile(
    r"failed to push|push access denied|insufficient_scope|unauthorized|failed to do request|"
    r"failed commit on ref|unexpected status from (PUT|POST|HEAD)|server gave HTTP response to HTTPS client",
    re.I,
)
REGISTRY_FAILED = re.compile(
    r"received unexpected HTTP status: (5\d\d|429)|failed to put manifest|toomanyrequests|429 Too Many Requests|"
    r"unexpected status from (PUT|POST|HEAD|PATCH|GET) request to .*: (5\d\d|429)|"
    r'(Put|Post|Patch|Head|Get) "https?://[^"]*/v2/[^"]*": ',  # Go's HTTP client: EOF, reset, timeout
    re.I,
)
# The registry refused a manifest (400: a blob it names is unknown) while builds side by side
# pushed the layers they share into the same repository: pushes of one blob race (containerd's
# push tracker and the registry's storage); the same push alone succeeds.
PUSH_RACE = re.compile(
    r'failed commit on ref "manifest-sha256:[0-9a-f]+": unexpected status from PUT request to \S+/manifests/\S+: '
    r"400 Bad Request"
)
NETWORK_FAILED = re.compile(
    r"connection reset by peer|broken pipe|connection refused|i/o timeout|no route to host|(^|: )EOF$", re.I | re.M
)
# buildx's gRPC connection to the builder's BuildKit, not a registry: "rpc error: code =
# Unavailable desc = error reading from server: EOF", or as buildx shortens it, "Unavailable: ..."
BUILDER_RPC = re.compile(r"rpc error|^Unavailable: |error reading from server", re.I)
NO_SPACE = re.compile(r"no space left on device|disk quota exceeded", re.I)
AUTH_FAILED = re.compile(
    r"\b401 Unauthorized|\b403 Forbidden|unauthorized: |authentication required|failed to authorize|"
    r"push access denied|insufficient_scope|no basic auth credentials",
    re.I,
)
_REF_IN_ERROR = re.compile(
    r"(?:failed to push|failed to resolve source metadata for|pull access denied for) ([^\s,]+?):? "
)
_HOST_IN_URL = re.compile(r"https?://([^/\s]+)/v2/")
_DOCKERFILE_LINE = re.compile(r"^Dockerfile:(\d+)\s*$", re.M)  # BuildKit's excerpt of the failing line


NO_BRIDGE = re.compile(r"network bridge not found", re.I)
_PULL = re.compile(r"failed to resolve source metadata for (\S+?):? (.*)$")
_STEP_BLOCK = re.compile(r"^-{6}\s*\n\s*> \[(?P<step>[^\]]*)\] (?P<cmd>.*?):\s*\n(?P<body>(?:.*\n)*?)-{6}\s*$", re.M)
_TIMESTAMP = re.compile(r"^\d+(\.\d+)?\s+")
MODULES_FAILED = re.compile(
    r'^go: .*(Get "https?://|dial tcp|no such host|i/o timeout|terminal prompts disabled|could not read '
    r"Username|410 Gone|404 Not Found|connection refused|proxyconnect|TLS handshake|unrecognized import path|"
    r"module lookup disabled|GOPROXY=off|git ls-remote|reading https?://\S+: \d{3})",
    re.M,
)
MODULES_HINT = (
    "vendor them (go mod vendor), make a module proxy reachable (GOPROXY), or pass credentials as a BuildKit secret"
)
_EXCERPT = re.compile(r"^(\s*\d+ \|.*|-+|Dockerfile:\d+)$")  # BuildKit's Dockerfile excerpt


CREDENTIAL_HELPER = re.compile(r"error getting credentials|docker-credential-[\w.-]+[^\n]*executable file not found")


def failing_step(stderr: str) -> tuple[str, list[str]] | None:
    """BuildKit's summary of the failing step: ("[build 3/4] RUN go mod download", the last
    lines it printed, timestamps dropped), or None when no step failed."""
    found = list(_STEP_BLOCK.finditer(stderr))
    if not found:
        return None
    m = found[-1]
    lines = [_TIMESTAMP.sub("", ln).rstrip() for ln in m.group("body").splitlines()]
    return f"[{m.group('step')}] {m.group('cmd').strip()}", [ln for ln in lines if ln.strip()][-8:]


def pull_hint(image: str, own_dockerfile: bool = False) -> str:
    """What to do about an image the build could not pull: in buildx-go's generated Dockerfile
    the options that choose it; in the project's own, its FROM (or --generate)."""
    if "docker/dockerfile" in image:
        return "drop the `# syntax=` line: the built-in Dockerfile frontend needs no image"
    if own_dockerfile:
        return (
            f"point the Dockerfile's FROM at an image this builder can pull (a mirror of {image}), or build "
            "from buildx-go's Dockerfile instead: --generate (its images: --go-image, --base-image)"
        )
    name = image.rsplit("/", 1)[-1]
    if name.startswith("golang") or name.startswith("go:"):
        return "use --go-image with an image this builder can pull (a mirror)"
    return "use --base-image with an image this builder can pull (a mirror)"


def classify(argv: Sequence[str], code: int, stderr: str, purpose: str) -> BuildxGoError:
    """The BuildxGoError for a failed docker command (message names the command)."""
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    errors = [ln for ln in lines if ln.startswith("ERROR: ")]
    if errors:  # buildx's own summary line says it best
        detail = errors[-1].removeprefix("ERROR: ").removeprefix("failed to solve: ")
    else:
        said = [ln for ln in lines if not _EXCERPT.match(ln)]
        detail = " | ".join(said[-3:]) if said else f"exit code {code}"
    cmd = " ".join([os.path.basename(argv[0]), *argv[1:3]]) if argv else "?"
    if ENGINE_DOWN.search(stderr):
        return EngineError(
            f"{cmd}: no Docker engine reachable: {detail}", "start the Docker engine, or point DOCKER_HOST at one"
        )
    if NO_BUILDX.search(stderr):
        return EngineError(
            f"{cmd}: the buildx plugin is missing",
            "install the buildx plugin (docker-buildx-plugin, or Debian's docker-buildx)",
        )
    if NO_SPACE.search(stderr):
        return EngineError(f"{cmd} ({purpose}): the engine's disk is full: {detail}", "free space: docker system prune")
    if NO_BRIDGE.search(stderr):
        return EngineError(
            f"{cmd} ({purpose}): the engine has no bridge network for RUN steps: {detail}",
            "pass --network host (buildx-go does when it sees an engine without a bridge network)",
        )
    pulled = _PULL.search(detail)
    if pulled:
        image, why = pulled.group(1), pulled.group(2).removeprefix(f"{pulled.group(1)}: ")
        error = BuildFailed(f"cannot pull {image}: {why}", pull_hint(image))
        error.pulled = image
        return error
    step = failing_step(stderr)
    if step is not None and not step[0].startswith("[internal]"):  # a Dockerfile step: its own words
        return _step_failed(argv, cmd, purpose, stderr, step, detail)
    registry = _registry_failure(argv, cmd, purpose, stderr, detail)
    if registry is not None:
        return registry
    if step is not None:
        return _step_failed(argv, cmd, purpose, stderr, step, detail)
    return _located(BuildFailed(f"{cmd} ({purpose}) failed: {detail}", "see the build output above"), argv, stderr)


def _registry_failure(argv: Sequence[str], cmd: str, purpose: str, stderr: str, detail: str) -> BuildxGoError | None:
    """The registry's part in a failure, whichever command met it (buildx's push, a per-platform
    push, imagetools' promotion, docker manifest push): refused credentials, an error status,
    or, for a command that writes to a registry, the connection lost or refused."""
    if CREDENTIAL_HELPER.search(stderr):
        named = re.search(r"docker-credential-([\w.-]+)", stderr)
        name = f"docker-credential-{named.group(1)}" if named else "the docker credential helper"
        return RegistryError(
            f"{cmd} ({purpose}): {name} failed: {detail}",
            "check the helper (credsStore/credHelpers in the docker config), or docker login again",
        )
    if AUTH_FAILED.search(stderr):
        registry = registry_in_error(stderr, argv)
        return RegistryError(
            f"not logged in to {registry} (docker login {registry}): {cmd} ({purpose}) was refused: {detail}",
            f"docker login {registry}",
        )
    pushes = tuple(argv[1:3]) in (("manifest", "push"), ("buildx", "imagetools"))
    writes = pushes or "--push" in argv or any(publishes(a) for a in argv if a.startswith("type="))
    lost = writes and NETWORK_FAILED.search(detail) and not BUILDER_RPC.search(detail)  # gRPC: the builder's node
    if REGISTRY_FAILED.search(stderr) or lost:
        registry = registry_in_error(stderr, argv)
        refused = "connection refused" in detail
        return PushFailed(
            f"{cmd} ({purpose}): the registry {registry} failed: {detail}",
            f"is the registry at {registry} running and reachable?"
            if refused
            else "the registry failed, dropped the connection or is rate limiting: rerun later",
        )
    if PUSH_FAILED.search(stderr):
        return PushFailed(f"{cmd} ({purpose}): push failed: {detail}", "check the registry address and `docker login`")
    return None


def _step_failed(
    argv: Sequence[str], cmd: str, purpose: str, stderr: str, step: tuple[str, list[str]], detail: str
) -> BuildxGoError:
    """A RUN step failed: its own last lines say why (modules that could not be downloaded
    are named as such)."""
    where, lines = step
    modules = [ln for ln in lines if MODULES_FAILED.search(ln)]
    if modules:
        error = BuildFailed(f"{cmd} ({purpose}): modules could not be downloaded: {modules[-1]}", MODULES_HINT)
    elif any("build constraints exclude all Go files" in ln for ln in lines):
        error = BuildFailed(
            f'{cmd} ({purpose}) failed at {where}: {lines[-1]} (files that import "C" are left out when cgo '
            "is off, CGO_ENABLED=0)",
            "if the code needs cgo: --cgo on (or auto) cross-compiles it with Debian's toolchains",
        )
    else:
        code = re.search(r"exit code: \d+", detail)
        said = lines[-1] if lines else (f"no output, {code.group(0)}" if code else "no output")
        shown = "\n    ".join(lines[-5:])
        error = BuildFailed(
            f"{cmd} ({purpose}) failed at {where}: {said}",
            f"the step's last lines:\n    {shown}" if len(lines) > 1 else "see the build output above",
        )
    return _located(error, argv, stderr)


def _located(error: BuildFailed, argv: Sequence[str], stderr: str) -> BuildFailed:
    """ERROR pointing at the Dockerfile line BuildKit named (the file it read: --file)."""
    line = _DOCKERFILE_LINE.findall(stderr)
    if line and "--file" in argv:
        error.location = (argv[list(argv).index("--file") + 1], int(line[-1]))
    return error


def registry_in_error(stderr: str, argv: Sequence[str]) -> str:
    """The registry a failed docker command was talking to: named in its error (the image it
    pushed or pulled, or a registry URL), else the first image reference in ARGV."""
    from buildx_go.refs import Reference

    candidates = [m.group(1) for m in _REF_IN_ERROR.finditer(stderr)]
    candidates += [a.split("name=", 1)[1].split(",")[0] for a in argv if "name=" in a]
    candidates += [argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("--tag", "-t")]
    for text in candidates:
        with contextlib.suppress(Exception):
            return Reference.parse(text.split("@")[0]).registry
    m = _HOST_IN_URL.search(stderr)
    return m.group(1) if m else "the registry"
