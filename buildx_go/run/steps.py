"""Running planned commands: one with its events, several side by side, digests filled in;
and the files a run writes (its Dockerfile, its private docker config)."""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import attrs

from buildx_go.engine import interrupt
from buildx_go.engine.stamps import docker_config
from buildx_go.errors import BuildFailed, BuildxGoError, EngineError, Interrupted
from buildx_go.log import activate, get_logger
from buildx_go.planning.plan import Command, Phase, Plan
from buildx_go.refs import Reference

if TYPE_CHECKING:
    from buildx_go.engine.builder import Preflight
    from buildx_go.engine.docker import Executor
    from buildx_go.registry.client import RegistryClient


def run_command(
    executor: Executor, cmd: Command, label: str | None = None, on_output: Callable[[str], None] | None = None
) -> str:
    """Run one planned command, with command.start/done/failed events; its stdout (its
    stderr's text given to ON_OUTPUT as it comes)."""
    log = get_logger()
    log.info("command.start", purpose=cmd.purpose, argv=list(cmd.displayed))
    t0 = time.monotonic()
    try:
        out = executor.run(
            cmd.argv,
            stream=cmd.passthrough,
            purpose=cmd.purpose,
            env=dict(cmd.env),
            label=label,
            on_start=_warm_up if cmd.phase == "build" else None,
            cwd=cmd.cwd,
            terminal=cmd.terminal if label is None else "never",
            on_output=on_output,
        )
    except BuildxGoError as exc:
        seconds = round(time.monotonic() - t0, 3)
        if cmd.may_fail and cmd.may_fail in exc.message:
            log.info("command.done", purpose=cmd.purpose, seconds=seconds, note=cmd.may_fail)
            return ""
        log.error("command.failed", purpose=cmd.purpose, seconds=seconds, exit_code=exc.exit_code, error=exc.message)
        raise
    log.info("command.done", purpose=cmd.purpose, seconds=round(time.monotonic() - t0, 3), exit_code=0)
    return out


def _warm_up() -> None:
    """While BuildKit works, finish what startup deferred (structlog) and import what comes
    after the build (verification), in a thread: the main one is only waiting."""

    def work() -> None:
        activate()
        import zstandard  # noqa: F401

        import buildx_go.verify.check  # noqa: F401

    threading.Thread(target=work, daemon=True).start()


def side_by_side(executor: Executor, commands: list[Command], *, labelled: bool) -> list[tuple[Command, BuildxGoError]]:
    """Run per-platform COMMANDS at once (streamed lines prefixed with the platform when
    LABELLED); wait for all; the ones that failed. Unexpected errors are raised as they are."""
    from concurrent.futures import ThreadPoolExecutor  # not on a build's way to its docker call

    with ThreadPoolExecutor(max(1, len(commands))) as pool:
        jobs = [(c, pool.submit(run_command, executor, c, str(c.platform) if labelled else None)) for c in commands]
        failed = []
        for cmd, job in jobs:
            exc = job.exception()
            if isinstance(exc, BuildxGoError):
                failed.append((cmd, exc))
            elif exc is not None:
                raise exc
    return alone_again(executor, failed, labelled) if len(commands) > 1 else failed


def alone_again(
    executor: Executor, failed: list[tuple[Command, BuildxGoError]], labelled: bool
) -> list[tuple[Command, BuildxGoError]]:
    """Run once more, one at a time, the pushes the registry refused because the builds beside
    them were pushing the layers they share (PUSH_RACE): cached, so only the push is repeated.
    Not if anything else failed (the run fails anyway). The ones that failed still."""
    from buildx_go.engine.failures import PUSH_RACE

    if not all(PUSH_RACE.search(exc.message) for _, exc in failed):
        return failed
    still: list[tuple[Command, BuildxGoError]] = []
    for cmd, exc in failed:
        try:
            interrupt.check()
            get_logger().warning("build.retry", attempt=1, purpose=cmd.purpose, reason=exc.message)
            run_command(executor, cmd, str(cmd.platform) if labelled else None)
        except Interrupted as again:  # first: the run ends as interrupted (exit 130)
            still.insert(0, (cmd, again))
        except BuildxGoError as again:
            still.append((cmd, again))
    return still


def raise_first(failed: list[tuple[Command, BuildxGoError]], hint: str) -> NoReturn:
    """The first failure's error, naming every platform that failed, with HINT."""
    names = ", ".join(str(c.platform) for c, _ in failed)
    first = failed[0][1]
    raise type(first)(f"{names}: {first.message}", hint)


def run_phase(
    plan: Plan,
    executor: Executor,
    phase: Phase,
    digests: Mapping[str, str],
    done: list[str] | None = None,
    moves: Collection[str] | None = None,
    client: RegistryClient | None = None,
) -> dict[str, str]:
    """Run PHASE's commands in order with digests filled in; {tag: digest} of the lists pushed.
    DONE gets each tag written, as soon as it is (what an interrupt leaves published); MOVES:
    only the promote commands of these moving tags. With CLIENT, the tags a command writes
    (Command.writes) are written through it (write_tags), docker not started."""
    pushed = {}
    for cmd in plan.phase(phase):
        if moves is not None and cmd.moves not in moves:
            continue
        if cmd.writes and client is not None:
            write_tags(client, fill(cmd, digests), done)
            continue
        out = run_command(executor, fill(cmd, digests))
        kind, _, what = cmd.purpose.partition(" ")
        if cmd.purpose.startswith("push list "):
            tag = cmd.purpose.rsplit(" ", 1)[1]
            pushed[tag] = next((w for w in reversed(out.split()) if w.startswith("sha256:")), "")
            what = f"{plan.image}:{tag}"
        if done is not None and (kind in ("publish", "promote") or cmd.purpose.startswith("push list ")):
            done.extend(what.split(", ") if kind == "publish" else [what if ":" in what else f"{plan.image}:{what}"])
    return pushed


def write_tags(client: RegistryClient, cmd: Command, done: list[str] | None) -> None:
    """CMD's tags (Command.writes), written as its argv would: the index its last argument
    names by digest, read once and PUT under each tag. DONE gets each tag once written; a
    failure says what DONE holds (what this run published before it)."""
    t0 = time.monotonic()
    source = Reference.parse(cmd.argv[-1])
    try:
        media, body = client.manifest_bytes(source)
        for ref in cmd.writes:
            interrupt.check()
            client.put_manifest(Reference.parse(ref), media, body)
            if done is not None:
                done.append(ref)
    except Interrupted:
        raise
    except BuildxGoError as exc:
        said = f"published before it: {', '.join(done)}" if done else "nothing was published"
        exc.message = f"{cmd.purpose}: {exc.message} ({said})"
        raise
    seconds = round(time.monotonic() - t0, 3)
    refs = list(cmd.writes)
    get_logger().info("tags.written", purpose=cmd.purpose, refs=refs, digest=source.digest, seconds=seconds)


def fill(cmd: Command, digests: Mapping[str, str]) -> Command:
    """CMD with ``{digest}`` / ``{digest:PLATFORM}`` replaced by DIGESTS ("" is the index)."""
    argv = []
    for arg in cmd.argv:
        for key, digest in digests.items():
            arg = arg.replace("{digest:" + key + "}" if key else "{digest}", digest)
        if "{digest" in arg:
            raise BuildFailed(f"{cmd.purpose}: no digest for {arg}", "a build wrote no --metadata-file digest")
        argv.append(arg)
    return attrs.evolve(cmd, argv=tuple(argv))


def read_digest(metadata_file: str) -> str | None:
    try:
        data = json.loads(Path(metadata_file).read_text())
    except (OSError, ValueError):
        return None
    digest = data.get("containerimage.digest")
    return str(digest) if digest else None


def write_files(plan: Plan) -> None:
    """The workdir: the Dockerfile BuildKit reads and its ignore file; no stale metadata
    (a reused BUILDX_GO_WORKDIR must not lend an old digest)."""
    workdir = Path(plan.metadata_file).parent
    workdir.mkdir(parents=True, exist_ok=True)
    for stale in [plan.metadata_file] + [c.metadata for c in plan.commands if c.metadata]:
        Path(stale).unlink(missing_ok=True)
    if not plan.dockerfile.path:
        return
    Path(plan.dockerfile.path).write_text(plan.dockerfile.text)
    Path(f"{plan.dockerfile.path}.dockerignore").write_text(plan.dockerignore)


STALE_WORKDIR = re.compile(r"buildx-go-(\d+)-\d+")


def sweep_credentials(tmpdir: str) -> list[str]:
    """Remove the private docker configs (credential copies) that runs killed before their
    clean-up left in TMPDIR's buildx-go-<pid>-<time> workdirs; the rest of each workdir stays
    to look into. The paths removed."""
    from buildx_go.engine.interrupt import pid_alive

    removed = []
    for config in Path(tmpdir).glob("buildx-go-*/docker-config"):
        m = STALE_WORKDIR.fullmatch(config.parent.name)
        if m and int(m[1]) != os.getpid() and not pid_alive(int(m[1])):
            shutil.rmtree(config, ignore_errors=True)
            removed.append(str(config))
    return removed


def private_docker_config(path: str, env: Mapping[str, str]) -> None:
    """A docker config dir for this run only (manifest lists live there): the user's
    config.json (credentials, helpers) copied in, nothing else shared."""
    target = Path(path)
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    source = Path(docker_config(env)) / "config.json"
    if source.is_file():
        shutil.copyfile(source, target / "config.json")
        (target / "config.json").chmod(0o600)


def create_builder(executor: Executor, commands: list[Command], config: str | None) -> None:
    """Run the planned `docker buildx create` commands (CONFIG written where they read it);
    if one fails, remove what was half-made and stop with exit 3 naming the image."""
    import contextlib

    from buildx_go.log import get_logger

    first = list(commands[0].argv)
    name = first[first.index("--name") + 1]
    image = next((a.split("=", 1)[1] for c in commands for a in c.argv if a.startswith("image=")), None)
    config_path = next((a for c in commands for a in c.argv if a.endswith("buildkitd.toml")), None)
    if config and config_path:
        Path(config_path).parent.mkdir(parents=True, exist_ok=True)
        Path(config_path).write_text(config)
    nodes = sum(1 for c in commands if list(c.argv[:3]) == ["docker", "buildx", "create"])  # not the bootstrap
    get_logger().info("builder.create", name=name, image=image, nodes=nodes)
    try:
        for cmd in commands:
            run_command(executor, cmd)
    except BuildxGoError as exc:
        with contextlib.suppress(BuildxGoError):
            executor.run(["docker", "buildx", "rm", name], purpose="remove half-made builder")
        shown = image or "moby/buildkit:buildx-stable-1 (the default)"
        raise EngineError(
            f"--create-builder: could not bootstrap builder {name!r} from image {shown}: {exc.message}",
            "the BuildKit image (or each node's endpoint) must be reachable: --builder-image names a mirror",
        ) from None
    get_logger().info("builder.created", name=name)


def check_emulation(plan: Plan, pre: Preflight) -> None:
    """RUN in the final stage of a foreign platform needs QEMU: refuse before building without it."""
    support = dict(pre.platform_support(plan.emulated))
    missing = [p for p in plan.emulated if support[p].startswith("no emulation")]
    b = pre.builder
    get_logger().info(
        "emulation.checked",
        needed=[str(p) for p in plan.emulated],
        builder_platforms=sorted(b.platforms if b else ()),
        missing=[str(p) for p in missing],
    )
    if missing:
        raise EngineError(
            f"RUN in the final stage needs emulation for {', '.join(map(str, missing))}, and the builder has none",
            "install QEMU/binfmt: docker run --privileged --rm tonistiigi/binfmt --install all (or qemu-user-static)",
        )


PIN_WAIT = 3.0  # seconds the base's lookup may take in all (it runs while Go compiles)


def pin_base_lookup(plan: Plan, client: RegistryClient) -> Callable[[], None]:
    """Host strategy: look up each platform's manifest of the runtime base in the registry
    while the host compiles; the function returned (called after the compile) writes the
    pinned Dockerfile (``hostgo.pin_base``), or logs why the base stays as it is. Never
    fails the build: BuildKit can always resolve the base itself, only slower."""
    base = str(plan.pin_base)
    found: dict[str, Any] = {}

    def look_up() -> None:
        try:
            from buildx_go.platforms import index_platforms
            from buildx_go.registry.client import INDEX_TYPES

            media, _, doc = client.manifest(Reference.parse(base))
            found["pins"] = index_platforms(doc) if media in INDEX_TYPES else {}
        except Exception as exc:  # any failure only means "not pinned"
            found["error"] = f"{type(exc).__name__}: {exc}"

    deadline = time.monotonic() + PIN_WAIT
    thread = threading.Thread(target=look_up, daemon=True)
    thread.start()

    def finish() -> None:
        thread.join(max(0.0, deadline - time.monotonic()))
        _write_pins(plan, base, found)

    return finish


def _write_pins(plan: Plan, base: str, found: Mapping[str, Any]) -> None:
    from buildx_go.planning.hostgo import pin_base

    log = get_logger()
    pins = found.get("pins")
    missing = [str(p) for p in plan.platforms if p not in (pins or {})]
    if pins is None or missing:
        if "error" in found:
            why = found["error"]
        elif pins is None:
            why = f"the registry did not answer within {PIN_WAIT:g} s"
        elif pins:
            why = f"it has no {', '.join(missing)} image (BuildKit picks a compatible one)"
        else:
            why = "it is a single image, not an index"
        log.info("base.unpinned", base=base, reason=why)
        return
    chosen = {p: pins[p] for p in plan.platforms}
    path = Path(str(plan.dockerfile.path))
    path.write_text(pin_base(path.read_text(), base, chosen))
    log.info("base.pinned", base=base, digests={str(p): d for p, d in chosen.items()})
