"""The only module that talks to docker (through python-on-whales).

``Executor`` is the seam: the runner hands it argv lists (never shell strings) and gets
text back or a BuildxGoError; tests replace it. python-on-whales is imported lazily so
that --help, plan and --dry-run never pay for it.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from typing import Protocol, TextIO

from buildx_go.builder import Builder, Engine, Preflight, parse_builders
from buildx_go.errors import BuildFailed, BuildxGoError, EngineError, PushFailed

ENGINE_DOWN = re.compile(r"Cannot connect to the Docker daemon|error during connect|docker daemon is not running", re.I)
NO_BUILDX = re.compile(r"'buildx' is not a docker command|unknown command: docker buildx", re.I)
PUSH_FAILED = re.compile(
    r"failed to push|push access denied|insufficient_scope|unauthorized|failed to do request|"
    r"failed commit on ref|unexpected status from (PUT|POST|HEAD)|server gave HTTP response to HTTPS client",
    re.I,
)
TAIL_LINES = 40


class Executor(Protocol):
    def run(
        self,
        argv: Sequence[str],
        *,
        stream: bool = False,
        purpose: str = "docker",
        env: Mapping[str, str] | None = None,
        label: str | None = None,
    ) -> str:
        """Run ARGV (with ENV added); return its stdout or raise a BuildxGoError.
        STREAM: show its stderr to the user as it comes, each line prefixed with LABEL."""
        ...

    def probe(self, argv: Sequence[str], *, purpose: str = "docker") -> tuple[int, str, str]:
        """Run ARGV; return (exit code, stdout, stderr) whatever the exit code."""
        ...


def classify(argv: Sequence[str], code: int, stderr: str, purpose: str) -> BuildxGoError:
    """The BuildxGoError for a failed docker command (message names the command)."""
    tail = [line for line in stderr.strip().splitlines() if line.strip()][-3:]
    detail = " | ".join(tail) if tail else f"exit code {code}"
    cmd = " ".join(argv[:3])
    if ENGINE_DOWN.search(stderr):
        return EngineError(
            f"{cmd}: no Docker engine reachable: {detail}", "start the engine (scripts/setup) or set DOCKER_HOST"
        )
    if NO_BUILDX.search(stderr):
        return EngineError(f"{cmd}: the buildx plugin is missing", "install docker-buildx (scripts/setup does)")
    if PUSH_FAILED.search(stderr):
        return PushFailed(f"{cmd} ({purpose}): push failed: {detail}", "check the registry address and `docker login`")
    return BuildFailed(f"{cmd} ({purpose}) failed: {detail}", "see the build output above")


class DockerExecutor:
    """Runs docker commands with python-on-whales' runner, with ENV added (DOCKER_HOST...)."""

    def __init__(self, env: Mapping[str, str] | None = None, echo: TextIO | None = None) -> None:
        self.env = dict(env or {})
        self.echo = echo or sys.stderr

    def run(
        self,
        argv: Sequence[str],
        *,
        stream: bool = False,
        purpose: str = "docker",
        env: Mapping[str, str] | None = None,
        label: str | None = None,
    ) -> str:
        from python_on_whales.exceptions import DockerException
        from python_on_whales.utils import run, stream_stdout_and_stderr

        full_env = {**self.env, **(env or {})}
        try:
            if not stream:
                return str(run(list(argv), env=full_env))
            out: list[str] = []
            prefix = f"[{label}] " if label else ""
            for source, line in stream_stdout_and_stderr(list(argv), env=full_env):
                text = line.decode(errors="replace")
                if source == "stdout":
                    out.append(text)
                else:
                    self.echo.write(prefix + text)
                    self.echo.flush()
            return "".join(out)
        except FileNotFoundError:
            raise EngineError("docker: command not found", "install the Docker CLI (scripts/setup does)") from None
        except DockerException as exc:
            raise classify(argv, exc.return_code, exc.stderr or "", purpose) from None

    def probe(self, argv: Sequence[str], *, purpose: str = "docker") -> tuple[int, str, str]:
        from python_on_whales.exceptions import DockerException
        from python_on_whales.utils import run

        try:
            stdout, stderr = run(list(argv), env=self.env, return_stderr=True)
            return 0, str(stdout or ""), str(stderr or "")
        except FileNotFoundError:
            return 127, "", "docker: command not found"
        except DockerException as exc:
            return exc.return_code, exc.stdout or "", exc.stderr or ""


def gather_preflight(
    executor: Executor, env: Mapping[str, str], builder: str | None, *, emulators: set[str] | None = None
) -> Preflight:
    """Facts about the engine, buildx and its builders: two docker calls, run side by side."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        info_job = pool.submit(executor.probe, ["docker", "info", "--format", "json"], purpose="engine info")
        ls_job = pool.submit(executor.probe, ["docker", "buildx", "ls", "--format", "json"], purpose="builder list")
        info_code, info_out, info_err = info_job.result()
        ls_code, ls_out, ls_err = ls_job.result()
    emus = tuple(sorted(host_emulators() if emulators is None else emulators))
    host = env.get("DOCKER_HOST", "")
    if info_code == 127:
        return Preflight(Engine(host or "?", "docker CLI missing"), None, None, (), builder, emus, info_err.strip())
    try:
        engine, buildx = Engine.from_info(host, info_out, _last_line(info_err) if info_code else None)
    except ValueError:
        engine, buildx = Engine(host or "?", _last_line(info_err) or "unreadable `docker info`"), None
    buildx_error = None
    builders: tuple[Builder, ...] = ()
    if buildx is None:
        buildx_error = "the docker buildx plugin is missing (the docker CLI lists no buildx plugin)"
    elif ls_code != 0:
        buildx, buildx_error = None, ls_err.strip().splitlines()[0] if ls_err.strip() else f"exit code {ls_code}"
    else:
        current = None
        if builder is None and '"Current"' not in ls_out:
            current = env.get("BUILDX_BUILDER") or current_builder_name(executor)
        builders = parse_builders(ls_out, current)
    return Preflight(engine, buildx, buildx_error, builders, builder, emus)


def current_builder_name(executor: Executor) -> str | None:
    """The current builder's name. buildx 0.13's JSON list does not mark it, and `inspect` has no
    JSON: like python-on-whales, take the name from the first line (``Name: default``)."""
    code, out, _ = executor.probe(["docker", "buildx", "inspect"], purpose="current builder")
    first = out.splitlines()[0] if code == 0 and out.strip() else ""
    key, _, value = first.partition(":")
    return value.strip() if key.strip() == "Name" and value.strip() else None


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def host_emulators(binfmt_dir: str = "/proc/sys/fs/binfmt_misc") -> set[str]:
    """QEMU emulators registered with this host's binfmt_misc (qemu-aarch64, qemu-arm, ...)."""
    from pathlib import Path

    try:
        return {p.name for p in Path(binfmt_dir).glob("qemu-*") if "enabled" in p.read_text()}
    except OSError:
        return set()


def create_builder(
    executor: Executor,
    pre: Preflight,
    name: str,
    image: str | None,
    http_registry: str | None,
    network_host: bool,
    workdir: str,
) -> None:
    """Create and bootstrap docker-container builder NAME unless it exists; on failure remove
    what was half-made and raise EngineError (exit 3)."""
    from pathlib import Path

    from buildx_go.builder import buildkitd_config, create_builder_argv
    from buildx_go.log import get_logger

    log = get_logger()
    if any(b.name == name for b in pre.builders):
        log.info("builder.exists", name=name)
        return
    config = None
    if http_registry:
        Path(workdir).mkdir(parents=True, exist_ok=True)
        config = f"{workdir}/buildkitd.toml"
        Path(config).write_text(buildkitd_config([http_registry]))
    argv = create_builder_argv(name, image, network_host or bool(http_registry), config)
    log.info("builder.create", name=name, argv=list(argv))
    code, _, err = executor.probe(argv, purpose="create builder")
    if code != 0:
        executor.probe(["docker", "buildx", "rm", name], purpose="remove half-made builder")
        shown = image or "moby/buildkit:buildx-stable-1 (the default)"
        why = next((ln for ln in reversed(err.splitlines()) if "ERROR" in ln), _last_line(err))
        raise EngineError(
            f"--create-builder: could not bootstrap builder {name!r} from image {shown}: {why.strip()}",
            "the BuildKit image must be pullable by the engine: pass --builder-image for a mirror or a local copy",
        ) from None
    log.info("builder.created", name=name)
