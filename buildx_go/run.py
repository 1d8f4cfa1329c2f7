"""Executes a Plan phase by phase, emitting structured events; verifies before it promotes.

buildx strategy: build (BuildKit pushes the version's index) -> verify -> promote moving tags.
manifest strategy: per-platform builds side by side -> verify each image -> docker manifest
list for each version tag -> verify it -> the same for each moving tag -> clean arch tags.
A failure in any phase stops before the next: nothing multi-platform is created or moved.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import attrs

from buildx_go.builder import Preflight
from buildx_go.docker import Executor, gather_preflight
from buildx_go.errors import BuildFailed, BuildxGoError, EngineError, PushFailed, VerificationFailed
from buildx_go.log import activate, get_logger
from buildx_go.plan import Command, Plan
from buildx_go.refs import Reference

if TYPE_CHECKING:  # imported when needed: after the build starts (see _warm_up)
    from buildx_go.registry import RegistryClient
    from buildx_go.verify import Report
    from buildx_go.verifycache import VerifyCache


@attrs.frozen
class Outcome:
    strategy: str
    refs: tuple[str, ...]
    digest: str | None
    platforms: tuple[str, ...]
    verified: bool
    report: Report | None
    moved: tuple[str, ...]
    seconds: float
    arch_refs: tuple[tuple[str, str], ...] = ()  # (platform, ref@digest) of per-platform images kept

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "refs": list(self.refs),
            "digest": self.digest,
            "platforms": list(self.platforms),
            "verified": self.verified,
            "moved_tags": list(self.moved),
            "arch_refs": dict(self.arch_refs),
            "verification": self.report.to_dict() if self.report else None,
            "seconds": round(self.seconds, 3),
        }


def execute(
    plan: Plan,
    executor: Executor,
    registry: RegistryClient | None = None,
    env: Mapping[str, str] | None = None,
    preflight: Preflight | None = None,
    cache_dir: str | None = None,
) -> Outcome:
    """Run PLAN. CACHE_DIR keeps what verification has already checked (verifycache.py)."""
    env = os.environ if env is None else env
    started = time.monotonic()
    Path(plan.metadata_file).parent.mkdir(parents=True, exist_ok=True)
    for stale in [plan.metadata_file] + [c.metadata for c in plan.commands if c.metadata]:
        Path(stale).unlink(missing_ok=True)  # a reused --workdir must not lend an old digest
    if plan.dockerfile.path:
        Path(plan.dockerfile.path).write_text(plan.dockerfile.text)
        if plan.dockerignore is not None:
            Path(f"{plan.dockerfile.path}.dockerignore").write_text(plan.dockerignore)
    if plan.emulated:
        check_emulation(plan, preflight or gather_preflight(executor, env, plan.builder))
    client: RegistryClient = registry or _registry(env)  # type: ignore[assignment]
    from buildx_go.verifycache import VerifyCache

    cache = VerifyCache(cache_dir) if cache_dir else None
    with _context_lock(plan.context):
        return _execute(plan, executor, client, started, env, cache)


@contextlib.contextmanager
def _context_lock(context: str | None) -> Iterator[None]:
    """One run at a time in a shared (host strategy) context directory."""
    if not context:
        yield
        return
    Path(context).mkdir(parents=True, exist_ok=True)
    with open(Path(context).parent / f"{Path(context).name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _execute(
    plan: Plan,
    executor: Executor,
    client: RegistryClient,
    started: float,
    env: Mapping[str, str],
    cache: VerifyCache | None,
) -> Outcome:
    if _phase(plan, "compile"):
        pin = _pin_base(plan, env) if plan.pin_base else None
        _compile(plan, executor)
        if pin:
            pin()
    if plan.packaging == "manifest":
        if plan.docker_config:
            private_docker_config(plan.docker_config, env)
        try:
            return _manifest(plan, executor, client, started, cache)
        finally:
            if plan.docker_config:
                shutil.rmtree(plan.docker_config, ignore_errors=True)
    return _buildx(plan, executor, client, started, cache)


def _buildx(
    plan: Plan, executor: Executor, client: RegistryClient, started: float, cache: VerifyCache | None
) -> Outcome:
    """One buildx run; with PUSH_BY_DIGEST the index is pushed untagged, verified, then tagged
    (publish), else the build writes the version tags and verification follows."""
    log = get_logger()
    (build,) = _phase(plan, "build")
    for attempt in range(1, PUSH_ATTEMPTS + 1):
        try:
            run_command(executor, build)
            digest = read_digest(plan.metadata_file)
            if plan.verify and digest and not plan.push_by_digest:
                _check_tags(client, plan.refs, digest)
            break
        except PushFailed as exc:
            # A registry may answer a push with a 500 (distribution 2.x did so under buildx's
            # second push, see plan.registry_output), or a tag may be left on a child
            # manifest. The cached rebuild only pushes again.
            if attempt == PUSH_ATTEMPTS or not RETRYABLE_PUSH.search(exc.message):
                raise
            log.warning("build.retry", attempt=attempt, reason=exc.message)
    if digest:
        refs = [f"{plan.image}@{digest}"] if plan.push_by_digest else list(plan.refs)
        log.info("image.pushed" if plan.verify else "image.built", refs=refs, digest=digest)
    report = None
    if plan.verify:
        from buildx_go.verify import verify

        if plan.push_by_digest and not digest:
            raise PushFailed("the build pushed by digest but wrote no digest to its metadata file", "see the output")
        target = f"{plan.image if plan.push_by_digest else plan.refs[0]}@{digest}" if digest else plan.refs[0]
        report = _verified(plan, lambda: verify(client, target, plan.platforms, cache=cache))
    if plan.push_by_digest and digest:
        _run_phase(plan, executor, "publish", {"": digest})
        _check_tags(client, plan.refs, digest)
        log.info("tags.published", refs=list(plan.refs), digest=digest)
    moved = _promote(plan, executor, {"": digest} if digest else {})
    return _summary(plan, digest, report, moved, started, ())


def _manifest(
    plan: Plan, executor: Executor, client: RegistryClient, started: float, cache: VerifyCache | None
) -> Outcome:
    log = get_logger()
    arch_ref = dict(plan.arch_refs)
    builds = _phase(plan, "build")
    failed = _side_by_side(executor, builds, labelled=len(builds) > 1)
    digests = {str(c.platform): d for c in builds if c.metadata and (d := read_digest(c.metadata))}
    pushed = [f"{arch_ref[p]}@{d}" for p, d in digests.items() if p in arch_ref]
    if failed:
        untouched = list(plan.refs) + [f"{plan.image}:{t}" for t in plan.moving_tags]
        log.error("build.failed", failed=[str(c.platform) for c, _ in failed], left_behind=pushed, untouched=untouched)
        _raise_first(
            failed,
            "no manifest list was created or moved ("
            + ", ".join(untouched)
            + " untouched)"
            + (f"; left behind: {', '.join(pushed)}" if pushed else ""),
        )
    if not plan.verify:
        return _summary(plan, None, None, (), started, tuple(digests.items()))
    from buildx_go.verify import verify, verify_image

    for platform in plan.platforms:
        p = str(platform)
        if p not in digests:
            raise BuildFailed(f"{p}: the build wrote no image digest to {plan.metadata_file}", "see the build output")
        report = verify_image(client, f"{plan.image}@{digests[p]}", platform, cache)
        _log_report(report)
        if not report.ok:
            log.error("verify.failed", ref=arch_ref.get(p), problems=list(report.problems), left_behind=pushed)
            raise VerificationFailed(
                f"{arch_ref.get(p)}: " + "; ".join(report.problems),
                "no manifest list was created; left behind: " + ", ".join(pushed),
            )
    log.info("images.verified", images=pushed)
    published = _run_phase(plan, executor, "publish", digests)
    digest = published.get(plan.refs[0].rsplit(":", 1)[1])
    if not digest:
        raise BuildFailed(f"{plan.refs[0]}: `docker manifest push` printed no digest", "see the command output")
    log.info("image.pushed", refs=list(plan.refs), digest=digest)
    report = _verified(
        plan,
        lambda: verify(
            client, f"{plan.refs[0]}@{digest}", plan.platforms, check_binaries=False, expected=digests, cache=cache
        ),
    )
    moved = _promote(plan, executor, {"": digest, **digests})
    for ref in plan.clean_tags:
        why = client.delete_tag(Reference.parse(ref))
        if why is None:
            log.info("tag.deleted", ref=ref)
        else:
            log.warning("tag.kept", ref=ref, reason=why)
    kept = tuple((p, f"{arch_ref[p]}@{d}") for p, d in digests.items() if arch_ref[p] not in plan.clean_tags)
    return _summary(plan, digest, report, moved, started, kept)


class _registry:
    """A RegistryClient made on first use, so its imports stay off the way to the build."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.client: RegistryClient | None = None

    def __getattr__(self, name: str) -> Any:
        if self.client is None:
            from buildx_go.registry import RegistryClient

            self.client = RegistryClient(self.env)
        return getattr(self.client, name)


def _compile(plan: Plan, executor: Executor) -> None:
    """Host strategy: `go build` for every platform side by side into bin/<os>/<arch><variant>/
    (directories of platforms not asked for are removed; go leaves up-to-date binaries alone)."""
    commands = _phase(plan, "compile")
    if plan.context:
        wanted = {Path(c.argv[c.argv.index("-o") + 1]).resolve() for c in commands}
        for old in Path(plan.context).glob("bin/*/*"):
            if old.resolve() not in wanted:
                shutil.rmtree(old, ignore_errors=True)
    failed = _side_by_side(executor, commands, labelled=False)
    if failed:
        _raise_first(failed, "the host's go build failed: nothing was built or pushed")


PIN_WAIT = 3.0  # seconds the base's lookup may take in all (it runs while Go compiles)


def _pin_base(plan: Plan, env: Mapping[str, str]) -> Callable[[], None]:
    """Host strategy: look up each platform's manifest of the runtime base in the registry
    while the host compiles; the function returned (called after the compile) writes the
    pinned Dockerfile (``hostgo.pin_base``), or logs why the base stays as it is. Never
    fails the build: BuildKit can always resolve the base itself, only slower."""
    base = str(plan.pin_base)
    found: dict[str, Any] = {}

    def look_up() -> None:
        try:
            from buildx_go.platforms import index_platforms
            from buildx_go.registry import INDEX_TYPES, RegistryClient

            media, _, doc = RegistryClient(env, timeout=PIN_WAIT, attempts=1).manifest(Reference.parse(base))
            found["pins"] = index_platforms(doc) if media in INDEX_TYPES else {}
        except Exception as exc:  # any failure only means "not pinned"
            found["error"] = f"{type(exc).__name__}: {exc}"

    deadline = time.monotonic() + PIN_WAIT
    thread = threading.Thread(target=look_up, daemon=True)
    thread.start()

    def finish() -> None:
        from buildx_go.hostgo import pin_base

        thread.join(max(0.0, deadline - time.monotonic()))
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

    return finish


def _side_by_side(
    executor: Executor, commands: list[Command], *, labelled: bool
) -> list[tuple[Command, BuildxGoError]]:
    """Run per-platform COMMANDS at once (streamed lines prefixed with the platform when
    LABELLED); wait for all; the ones that failed. Unexpected errors are raised as they are."""
    with ThreadPoolExecutor(max(1, len(commands))) as pool:
        jobs = [(c, pool.submit(run_command, executor, c, str(c.platform) if labelled else None)) for c in commands]
        failed = []
        for cmd, job in jobs:
            exc = job.exception()
            if isinstance(exc, BuildxGoError):
                failed.append((cmd, exc))
            elif exc is not None:
                raise exc
    return failed


def _raise_first(failed: list[tuple[Command, BuildxGoError]], hint: str) -> NoReturn:
    """The first failure's error, naming every platform that failed, with HINT."""
    names = ", ".join(str(c.platform) for c, _ in failed)
    first = failed[0][1]
    raise type(first)(f"{names}: {first.message}", hint)


PUSH_ATTEMPTS = 3
RETRYABLE_PUSH = re.compile(r"500 Internal Server Error|invalid checksum digest format|not the pushed index")


def _check_tags(client: RegistryClient, refs: tuple[str, ...], digest: str) -> None:
    """Each of REFS must resolve to DIGEST (the index BuildKit pushed), else PushFailed."""
    for ref in refs:
        have = client.digest_of(Reference.parse(ref))
        if have != digest:
            raise PushFailed(f"{ref} resolves to {have or 'nothing'}, not the pushed index {digest}")


def _phase(plan: Plan, phase: str) -> list[Command]:
    return [c for c in plan.commands if c.phase == phase]


def _run_phase(plan: Plan, executor: Executor, phase: str, digests: Mapping[str, str]) -> dict[str, str]:
    """Run PHASE's commands in order with digests filled in; {tag: digest} of the lists pushed."""
    pushed = {}
    for cmd in _phase(plan, phase):
        out = run_command(executor, fill(cmd, digests))
        if cmd.purpose.startswith("push list "):
            pushed[cmd.purpose.rsplit(" ", 1)[1]] = next(
                (w for w in reversed(out.split()) if w.startswith("sha256:")), ""
            )
    return pushed


def _promote(plan: Plan, executor: Executor, digests: Mapping[str, str]) -> tuple[str, ...]:
    if not _phase(plan, "promote"):
        return ()
    if not digests.get(""):
        raise BuildFailed("promote: no verified digest to promote", "see the build output")
    pushed = _run_phase(plan, executor, "promote", digests)
    for tag, digest in pushed.items():
        if digest != digests[""]:
            raise VerificationFailed(f"{plan.image}:{tag} is {digest}, not the verified {digests['']}")
    get_logger().info("tags.moved", tags=list(plan.moving_tags), digest=digests[""])
    return plan.moving_tags


def _verified(plan: Plan, check: Any) -> Report:
    log = get_logger()
    t0 = time.monotonic()
    report: Report = check()
    _log_report(report)
    if not report.ok:
        tagged = () if plan.push_by_digest else plan.refs
        log.error(
            "verify.failed",
            ref=report.ref,
            problems=list(report.problems),
            left_behind=list(tagged),
            not_moved=list(plan.moving_tags),
        )
        problems = "; ".join(report.problems)
        if tagged:  # say first what is now published wrong
            why = "pushed by the build before verification: this builder cannot push by digest"
            message = f"{', '.join(tagged)} left published ({why}), and it failed verification: {problems}"
        else:
            message = f"{report.ref} failed verification; no tag was written ({', '.join(plan.refs)} untouched): "
            message += problems
        raise VerificationFailed(message, "the pushed image is wrong: see verify.image events; moving tags untouched")
    log.info(
        "verify.ok",
        ref=report.ref,
        digest=report.digest,
        seconds=round(time.monotonic() - t0, 3),
        cached=sum(1 for img in report.images if img.cached),
    )
    return report


def _log_report(report: Report) -> None:
    for img in report.images:
        get_logger().info(
            "verify.image",
            platform=img.platform,
            config=img.config_platform,
            binary=img.binary,
            facts=img.facts,
            problems=list(img.problems),
        )


def _summary(
    plan: Plan,
    digest: str | None,
    report: Report | None,
    moved: tuple[str, ...],
    started: float,
    arch_refs: tuple[tuple[str, str], ...],
) -> Outcome:
    outcome = Outcome(
        plan.strategy,
        plan.refs + tuple(f"{plan.image}:{t}" for t in moved),
        digest,
        tuple(str(p) for p in plan.platforms),
        bool(report and report.ok),
        report,
        moved,
        time.monotonic() - started,
        arch_refs,
    )
    get_logger().info(
        "build.summary",
        strategy=plan.strategy,
        refs=list(outcome.refs),
        digest=digest,
        platforms=list(outcome.platforms),
        verified=outcome.verified,
        seconds=round(outcome.seconds, 3),
    )
    return outcome


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


def private_docker_config(path: str, env: Mapping[str, str]) -> None:
    """A docker config dir for this run only (manifest lists live there): the user's
    config.json (credentials, helpers) copied in, nothing else shared."""
    target = Path(path)
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    source = Path(env.get("DOCKER_CONFIG") or Path(env.get("HOME") or Path.home()) / ".docker") / "config.json"
    if source.is_file():
        shutil.copyfile(source, target / "config.json")
        (target / "config.json").chmod(0o600)


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
            "install QEMU/binfmt (scripts/setup does; or docker run --privileged tonistiigi/binfmt --install all)",
        )


def run_command(executor: Executor, cmd: Command, label: str | None = None) -> str:
    """Run one planned command, with command.start/done/failed events; its stdout."""
    log = get_logger()
    log.info("command.start", purpose=cmd.purpose, argv=list(cmd.argv))
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
        )
    except BuildxGoError as exc:
        if cmd.may_fail and cmd.may_fail in exc.message:
            log.info("command.done", purpose=cmd.purpose, seconds=round(time.monotonic() - t0, 3), note=cmd.may_fail)
            return ""
        log.error(
            "command.failed",
            purpose=cmd.purpose,
            seconds=round(time.monotonic() - t0, 3),
            exit_code=exc.exit_code,
            error=exc.message,
        )
        raise
    log.info("command.done", purpose=cmd.purpose, seconds=round(time.monotonic() - t0, 3), exit_code=0)
    return out


def _warm_up() -> None:
    """While BuildKit works, finish what startup deferred (structlog) and import what comes
    after the build (verification), in a thread: the main one is only waiting."""

    def work() -> None:
        activate()
        import zstandard  # noqa: F401

        import buildx_go.verify  # noqa: F401

    threading.Thread(target=work, daemon=True).start()


def read_digest(metadata_file: str) -> str | None:
    try:
        data = json.loads(Path(metadata_file).read_text())
    except (OSError, ValueError):
        return None
    digest = data.get("containerimage.digest")
    return str(digest) if digest else None
