"""Executes a Plan phase by phase, emitting structured events; verifies before it tags.

buildx strategy: build -> verify -> (publish: version tags, when pushed by digest) -> promote
(tags written by buildx-go itself: a manifest PUT each, steps.write_tags).
manifest strategy: per-platform builds side by side -> verify each image -> docker manifest
list for each version tag (publish) -> verify it -> the same for each moving tag -> clean.
host strategy: the host's go build per platform first (compile), then either packaging.
A failure in any phase stops before the next: nothing multi-platform is created or moved.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from buildx_go.engine import interrupt
from buildx_go.errors import (
    BuildFailed,
    BuildxGoError,
    EngineError,
    Interrupted,
    PushFailed,
    RegistryError,
    VerificationFailed,
)
from buildx_go.log import get_logger
from buildx_go.planning.plan import Command, Plan
from buildx_go.refs import Reference
from buildx_go.run import uptodate
from buildx_go.run.steps import (
    check_emulation,
    create_builder,
    pin_base_lookup,
    private_docker_config,
    raise_first,
    read_digest,
    run_command,
    run_phase,
    side_by_side,
    sweep_credentials,
    write_files,
)

if TYPE_CHECKING:  # imported when needed: after the build starts (see steps._warm_up)
    from buildx_go.engine.builder import Preflight
    from buildx_go.engine.docker import Executor
    from buildx_go.registry.client import RegistryClient
    from buildx_go.run.early import Early, EarlyCheck
    from buildx_go.verify.cache import VerifyCache
    from buildx_go.verify.check import Report

LOST = re.compile(r"Unavailable|error reading from server|connection reset|broken pipe|\bEOF\b", re.I)
PUSH_ATTEMPTS = 3
RETRYABLE_PUSH = re.compile(r"500 Internal Server Error|invalid checksum digest format|not the pushed index")


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
    now: tuple[tuple[str, str | None], ...] = ()  # releases: what each ref holds as the run ends
    built: bool = True  # False: the version tags hold an image built from the same inputs (uptodate.py)

    def holds(self, ref: str) -> str | None:
        """The digest REF holds as the run ends (this run's, unless another run moved it)."""
        return dict(self.now).get(ref, self.digest)

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "refs": list(self.refs),
            "digest": self.digest,
            "platforms": list(self.platforms),
            "verified": self.verified,
            "moved_tags": list(self.moved),
            "arch_refs": dict(self.arch_refs),
            "now": {ref: self.holds(ref) for ref in self.refs},
            "verification": self.report.to_dict() if self.report else None,
            "seconds": round(self.seconds, 3),
            "built": self.built,
        }


def execute(
    plan: Plan,
    executor: Executor,
    registry: Callable[[], RegistryClient],
    env: Mapping[str, str] | None = None,
    preflight: Preflight | None = None,
    cache_dir: str | None = None,
    rebuild: bool = False,
    known: uptodate.Found | None = None,
) -> Outcome:
    """Run PLAN through EXECUTOR (docker, go) and REGISTRY (made on first use: its imports
    stay off the way to the build). CACHE_DIR keeps what verification already checked.
    Unless REBUILD, an image the version tags hold built from the same inputs is not built
    again (uptodate.py; KNOWN: what it found for PLAN already)."""
    with _disk_errors():
        env = os.environ if env is None else env
        return _execute(plan, executor, registry, env, preflight, cache_dir, rebuild, known)


def _execute(
    plan: Plan,
    executor: Executor,
    registry: Callable[[], RegistryClient],
    env: Mapping[str, str],
    preflight: Preflight | None,
    cache_dir: str | None,
    rebuild: bool,
    known: uptodate.Found | None = None,
) -> Outcome:
    from buildx_go.engine.docker import DockerExecutor, gather_preflight
    from buildx_go.verify.cache import VerifyCache

    started = time.monotonic()
    if preflight is not None and isinstance(executor, DockerExecutor):
        executor.buildx_path = (
            preflight.buildx_path or executor.buildx_path
        )  # buildx run as its own binary (spawn.direct)
    for stale in sweep_credentials(tempfile.gettempdir()):
        get_logger().info("credentials.removed", path=stale, why="left by a run that was killed")
    write_files(plan)
    if plan.phase("setup"):
        create_builder(executor, plan.phase("setup"), plan.builder_config)
        preflight = None  # the new builder's facts are asked afresh where needed
    if plan.emulated:
        check_emulation(plan, preflight or gather_preflight(executor, env, plan.builder))
    cache = VerifyCache(cache_dir) if cache_dir else None
    with _context_lock(plan.context):
        run = _Run(plan, executor, _Lazy(registry), env, cache, started, cache_dir, rebuild, known)  # type: ignore[arg-type]
        return run.go()


@contextlib.contextmanager
def _disk_errors() -> Iterator[None]:
    """A file buildx-go writes or reads back (workdir, metadata, caches) failing: exit 3."""
    try:
        yield
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        raise EngineError(
            f"file system: {where}{exc.strerror or exc}", "free disk space (or set TMPDIR / XDG_CACHE_HOME elsewhere)"
        ) from None


@contextlib.contextmanager
def repository_lock(lock_dir: str | None, image: str) -> Iterator[None]:
    """One run at a time, on this machine, deciding and moving IMAGE's moving tags."""
    import hashlib

    directory = Path(lock_dir or tempfile.gettempdir()) / "locks"
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / f"{hashlib.sha256(image.encode()).hexdigest()[:16]}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


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


class _Lazy:
    """A RegistryClient made on first use."""

    def __init__(self, make: Callable[[], RegistryClient]) -> None:
        self._make = make
        self._client: RegistryClient | None = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = self._make()
        return getattr(self._client, name)


@attrs.define
class _Run:
    plan: Plan
    executor: Executor
    client: RegistryClient
    env: Mapping[str, str]
    cache: VerifyCache | None
    started: float
    lock_dir: str | None = None  # where the per-repository locks live (the cache directory)
    rebuild: bool = False  # build even when the version tags hold an image of the same inputs
    known: uptodate.Found | None = None  # what uptodate.published found for this plan already
    published: list[str] = attrs.field(factory=list)  # what this run has written, as it goes
    push_checked: bool = False  # the registry said this account may push (may_push)
    # the published index's record says its images were verified as this run would before
    # any version tag was written (unchanged): its layers are not read again
    verified_before: bool = False
    tagging: str | None = None  # the verified digest whose tags this run has begun to write

    def go(self) -> Outcome:
        try:
            if self.plan.phase("compile"):
                self.may_push()
                self.compile()
            if self.plan.packaging == "buildx":
                return self.buildx()
            if self.plan.docker_config:
                private_docker_config(self.plan.docker_config, self.env)
            try:
                return self.manifest()
            finally:
                if self.plan.docker_config:
                    shutil.rmtree(self.plan.docker_config, ignore_errors=True)
        except BuildxGoError as exc:
            if interrupt.caught():
                raise self.kept(self.interrupted()) from None  # its files stay, and it says where
            raise self.kept(self.located(exc)) from None

    def kept(self, exc: BuildxGoError) -> BuildxGoError:
        """EXC whose hint names this run's workdir, kept to look into (the Dockerfile BuildKit
        read, the metadata files)."""
        where = f"this run's files are kept in {os.path.dirname(self.plan.metadata_file)}"
        exc.hint = f"{exc.hint}; {where}" if exc.hint else where
        return exc

    def interrupted(self) -> Interrupted:
        """Interrupted, saying what this run published before it stopped. A builder that
        pushes the version tags itself may have pushed them just before, and a tag being
        written when the signal came may be written: they are looked up."""
        published = list(self.published)
        plan = self.plan
        argv = [a for c in plan.phase("build") for a in c.argv]
        pushes_tags = plan.packaging == "buildx" and not plan.tagged_after_verify
        look: tuple[str, ...] = ()
        match = None  # the digest a tag found must hold to count, if any
        if pushes_tags and any(a == "--push" or "push=" in a or "type=registry" in a for a in argv):
            look, how = plan.refs, "pushed by the build"
        elif self.tagging:
            look, how = (*plan.refs, *(f"{plan.image}:{t}" for t in plan.moving_tags)), "written"
            match = self.tagging
        for ref in look:
            if ref in published:
                continue
            try:
                have = self.client.digest_of(Reference.parse(ref))
            except BuildxGoError:
                have = None
            if have and match in (None, have):
                published.append(f"{ref} (now {have}: {how} before it stopped, or by a previous run)")
        said = "published before it: " + ", ".join(published) if published else "nothing was published"
        return Interrupted(
            f"interrupted by {interrupt.caught()}: {said}", "every command was stopped; nothing started after it"
        )

    def located(self, exc: BuildxGoError) -> BuildxGoError:
        """EXC pointing at the user's Dockerfile line, when BuildKit named a line of the copy it
        read and that copy is the user's file unchanged (generated and derived ones are not
        in the project)."""
        plan = self.plan
        if exc.pulled and plan.dockerfile.source in ("user", "adapted"):
            from buildx_go.engine.failures import pull_hint

            exc.hint = pull_hint(exc.pulled, own_dockerfile=True)
        if exc.location and exc.location[0] == plan.dockerfile.path:
            user = plan.user_dockerfile if plan.dockerfile.source == "user" else None
            exc.location = (user, exc.location[1]) if user else None
        return exc

    # --- the buildx strategy --------------------------------------------------------------
    def buildx(self) -> Outcome:
        """One buildx run; pushed by digest, the index is verified, then tagged (publish);
        else the build wrote the version tags and verification follows."""
        plan, log = self.plan, get_logger()
        digest = self.unchanged()
        built = digest is None
        early = None
        if built:
            self.may_push()
            early = self.early_check()
            try:
                digest = self.build_and_push(early)
            finally:
                if early:
                    early.end()
        if digest and built:
            refs = [f"{plan.image}@{digest}"] if plan.push_by_digest else [plan.staging or ref for ref in plan.refs]
            log.info("image.pushed" if plan.verify else "image.built", refs=sorted(set(refs)), digest=digest)
            if not plan.push_by_digest and plan.verify:
                self.published.extend(sorted(set(refs)))
        report = None
        if plan.verify:
            if plan.tagged_after_verify and not digest:
                raise PushFailed("the build pushed but wrote no digest to its metadata file", "see its output")
            again = built or not self.verified_before  # else: only that it is still whole and pullable
            begun = early.result(digest) if early and digest else None
            report = self.verified(begun.get if begun else lambda: self.check(digest, again), again, begun)
        self.tagging = digest  # verified: the tags follow
        if plan.tagged_after_verify and digest and built:
            run_phase(plan, self.executor, "publish", {"": digest}, self.published, client=self.client)
            self.check_tags(digest)
            log.info("tags.published", refs=list(plan.refs), digest=digest)
        moved = self.promote({"": digest} if digest else {})
        return self.summary(digest, report, moved, (), built)

    def check(self, digest: str | None, again: bool = True) -> Report:
        """Verification of the index DIGEST (else of the first version tag) as published; not
        AGAIN: only that its images are still whole and pullable (verified when published)."""
        from buildx_go.verify.check import verify

        plan = self.plan
        target = f"{plan.index_at}@{digest}" if digest else plan.refs[0]
        return verify(
            self.client,
            target,
            plan.platforms,
            check_binaries=again,
            cache=self.cache,
            allow_non_go=plan.allow_non_go,
            read_layers=again,
        )

    def early_check(self) -> EarlyCheck | None:
        """For a verified build on one node: verification begun as the build pushes its index
        (early.py). Several nodes' indexes are merged by buildx after: none."""
        if not self.plan.verify or self.plan.several_nodes:
            return None
        from buildx_go.run.early import EarlyCheck

        image = self.plan.index_at

        def there(digest: str) -> bool:
            return self.client.digest_of(Reference.parse(f"{image}@{digest}")) == digest

        return EarlyCheck(self.check, there)

    def may_push(self) -> None:
        """Before anything is built (--preflight, on with --push): the registry answers, the
        credentials work, and this account may push to the image (exit 5 otherwise)."""
        if self.plan.check_push and not self.push_checked:
            self.client.check_push(Reference.parse(self.plan.refs[0]))
            self.push_checked = True

    def unchanged(self) -> str | None:
        """The index the version tags hold, when it was built from this plan's inputs and
        nothing it resolved has moved since (uptodate.published): nothing is built."""
        plan, log = self.plan, get_logger()
        if plan.inputs is None or self.rebuild:
            return None
        from buildx_go.engine.spawn import run_program
        from buildx_go.project.gitinfo import changed_files

        digest, why, verified = self.known or uptodate.published(
            self.client, plan, lambda commit: changed_files(Path(plan.project), commit, run_program)
        )
        if digest is None:
            log.info("build.changed", why=why)
            return None
        self.verified_before = verified == "strict" or (verified == "allow-non-go" and plan.allow_non_go)
        log.info("build.unchanged", digest=digest, refs=list(plan.refs), why=why)
        return digest

    def build_and_push(self, early: EarlyCheck | None = None) -> str | None:
        """The build's index digest. A registry may answer a push with a 500 (distribution 2.x
        did so under buildx's second push, see plan.registry_output), refuse a manifest whose
        shared layer another node was still pushing (PUSH_RACE), or a tag may be left on a
        child manifest: the cached rebuild only pushes again. EARLY reads the build's output."""
        (build,) = self.plan.phase("build")
        for attempt in range(1, PUSH_ATTEMPTS + 1):
            try:
                self.build_on_nodes(build, early.feed if early else None)
                digest = read_digest(self.plan.metadata_file)
                if self.plan.verify and digest and not self.plan.tagged_after_verify:
                    self.check_tags(digest)
                return digest
            except PushFailed as exc:
                from buildx_go.engine.failures import PUSH_RACE

                mended = RETRYABLE_PUSH.search(exc.message) or PUSH_RACE.search(exc.message)
                if attempt == PUSH_ATTEMPTS or not mended:
                    raise
                get_logger().warning("build.retry", attempt=attempt, reason=exc.message)
        return None

    def build_on_nodes(self, build: Command, on_output: Callable[[str], None] | None = None) -> None:
        """The build; a failure caused by something that went away says so (buildx does not):
        the engine (exit 3), or a node of a builder with BuildKits of its own that is no longer
        running, however it went (stopped, removed, unreachable: exit 4): they are asked again."""
        try:
            run_command(self.executor, build, on_output=on_output)
        except BuildFailed as exc:
            if not self.plan.several_nodes and not LOST.search(exc.message):
                raise
            from buildx_go.engine.docker import gather_preflight

            facts = gather_preflight(self.executor, self.env, self.plan.builder)
            if facts.engine.error:
                raise EngineError(
                    f"the Docker engine ({facts.engine.host}) went away during the build: {exc.message}",
                    "nothing was tagged by this run after it; start the engine and rerun",
                ) from None
            b = facts.builder
            own = b is not None and b.driver != "docker"  # its nodes are BuildKits of their own, not the engine
            down = [n for n in b.nodes if n.down or n.status != "running"] if b is not None and own else []
            if not down:
                raise
            lost = ", ".join(f"{n.name!r} ({n.endpoint}, now {n.status})" for n in down)
            raise BuildFailed(
                f"builder node {lost} was lost during the build: {exc.message}",
                "nothing was tagged: the index is pushed by digest and tagged only once verified; "
                "start the node again (or remove it from the builder) and rerun",
            ) from None

    def check_tags(self, digest: str) -> None:
        """Each version tag must resolve to DIGEST (the index pushed), else PushFailed."""
        for ref in self.plan.refs:
            have = self.client.digest_of(Reference.parse(ref))
            if have != digest:
                raise PushFailed(f"{ref} resolves to {have or 'nothing'}, not the pushed index {digest}")

    # --- the manifest strategy ------------------------------------------------------------
    def manifest(self) -> Outcome:
        plan, log = self.plan, get_logger()
        self.may_push()
        digests = self.build_each()
        if not plan.verify:
            return self.summary(None, None, (), tuple(digests.items()))
        self.verify_each(digests)
        published = run_phase(plan, self.executor, "publish", digests, self.published)
        digest = published.get(plan.refs[0].rsplit(":", 1)[1])
        if not digest:
            raise BuildFailed(f"{plan.refs[0]}: `docker manifest push` printed no digest", "see the command output")
        log.info("image.pushed", refs=list(plan.refs), digest=digest)
        from buildx_go.verify.check import verify

        ref = f"{plan.refs[0]}@{digest}"
        report = self.verified(
            lambda: verify(self.client, ref, plan.platforms, check_binaries=False, expected=digests, cache=self.cache)
        )
        moved = self.promote({"": digest, **digests})
        self.clean()
        arch_ref = dict(plan.arch_refs)
        kept = tuple((p, f"{arch_ref[p]}@{d}") for p, d in digests.items() if arch_ref[p] not in plan.clean_tags)
        return self.summary(digest, report, moved, kept)

    def build_each(self) -> dict[str, str]:
        """Every platform's build side by side; {platform: image digest}. If any failed,
        nothing multi-platform is made, and the error says what was left behind."""
        plan, arch_ref = self.plan, dict(self.plan.arch_refs)
        builds = plan.phase("build")
        failed = side_by_side(self.executor, builds, labelled=len(builds) > 1)
        digests = {str(c.platform): d for c in builds if c.metadata and (d := read_digest(c.metadata))}
        self.published.extend(f"{arch_ref[p]}" for p in digests if p in arch_ref)
        if failed:
            pushed = [f"{arch_ref[p]}@{d}" for p, d in digests.items() if p in arch_ref]
            untouched = list(plan.refs) + [f"{plan.image}:{t}" for t in plan.moving_tags]
            failed_names = [str(c.platform) for c, _ in failed]
            get_logger().error("build.failed", failed=failed_names, left_behind=pushed, untouched=untouched)
            hint = f"no manifest list was created or moved ({', '.join(untouched)} untouched)"
            raise_first(failed, hint + (f"; left behind: {', '.join(pushed)}" if pushed else ""))
        return digests

    def verify_each(self, digests: Mapping[str, str]) -> None:
        """Each per-platform image, before any list points at it."""
        from buildx_go.verify.check import verify_image

        plan, arch_ref = self.plan, dict(self.plan.arch_refs)
        pushed = [f"{arch_ref[p]}@{d}" for p, d in digests.items() if p in arch_ref]
        for platform in plan.platforms:
            p = str(platform)
            if p not in digests:
                raise BuildFailed(f"{p}: the build wrote no image digest to {plan.metadata_file}", "see the output")
            try:
                image = f"{plan.image}@{digests[p]}"
                report = verify_image(self.client, image, platform, self.cache, plan.allow_non_go)
            except RegistryError as exc:
                left = ", ".join(pushed)
                exc.message += f" (verification could not finish: no manifest list was created; left behind: {left})"
                raise
            _log_report(report)
            if not report.ok:
                get_logger().error(
                    "verify.failed", ref=arch_ref.get(p), problems=list(report.problems), left_behind=pushed
                )
                raise VerificationFailed(
                    f"{arch_ref.get(p)}: " + "; ".join(report.problems),
                    "no manifest list was created; left behind: " + ", ".join(pushed),
                )
        get_logger().info("images.verified", images=pushed)

    def clean(self) -> None:
        for ref in self.plan.clean_tags:
            interrupt.check()
            why = self.client.delete_tag(Reference.parse(ref))
            if why is None:
                get_logger().info("tag.deleted", ref=ref)
            else:
                get_logger().warning("tag.kept", ref=ref, reason=why)

    # --- both -----------------------------------------------------------------------------
    def promote(self, digests: Mapping[str, str]) -> tuple[str, ...]:
        """Move the moving tags, decided again at this moment: under a lock per repository (no
        other run here moves them meanwhile), with the repository's tags read again, so that
        a newer release published since the plan keeps them (runs of N+1 and N in a race
        leave `latest` on N+1). The version tags are already published."""
        plan = self.plan
        if not plan.phase("promote"):
            return ()
        if not digests.get(""):
            raise BuildFailed("promote: no verified digest to promote", "see the build output")
        from buildx_go.planning.tags import moving_tags

        with repository_lock(self.lock_dir, plan.image):
            interrupt.check()
            version = plan.refs[0].rsplit(":", 1)[1]
            existing = self.client.tags(Reference.parse(plan.refs[0]))
            floating = any(t != "latest" for t in plan.moving_tags)
            still, why = moving_tags(version, existing, "latest" in plan.moving_tags, floating)
            moves = tuple(t for t in plan.moving_tags if t in still)
            if len(moves) < len(plan.moving_tags):
                held = [t for t in plan.moving_tags if t not in moves]
                get_logger().warning("tags.held", tags=held, reason=why, since="the plan: another release came first")
            there = [t for t in moves if self.client.digest_of(Reference.parse(f"{plan.image}:{t}")) == digests[""]]
            moved = [t for t in moves if t not in there]
            pushed = run_phase(plan, self.executor, "promote", digests, self.published, moved, self.client)
        for tag, digest in pushed.items():
            if digest != digests[""]:
                raise VerificationFailed(f"{plan.image}:{tag} is {digest}, not the verified {digests['']}")
        if moved:
            get_logger().info("tags.moved", tags=moved, digest=digests[""])
        if there:  # a rerun: nothing to move
            get_logger().debug("tags.unchanged", tags=there, digest=digests[""])
        return moves

    def verified(self, check: Callable[[], Report], read: bool = True, early: Early | None = None) -> Report:
        """CHECK's report, logged; VerificationFailed when it found problems. Not READ: the
        layers were only asked for (an unchanged index verified when it was published).
        EARLY: CHECK hands over a check begun while buildx finished (early.py)."""
        plan, log = self.plan, get_logger()
        t0 = time.monotonic()
        tagged = () if plan.tagged_after_verify else plan.refs
        try:
            report = check()
        except RegistryError as exc:  # verification could not read: say what is published unverified
            if tagged:  # the manifest strategy's lists, of images each verified already
                exc.message = f"{', '.join(tagged)} left published (a list of verified images): {exc.message}"
            else:
                exc.message += f" (verification could not finish: no tag was written, {', '.join(plan.refs)} untouched)"
            raise
        _log_report(report)
        if report.ok:
            cached = sum(1 for img in report.images if img.cached)
            seconds = round(time.monotonic() - t0 if early is None else early.seconds, 3)
            when = None if read else "published"  # then: its layers and binaries, now: that they are there
            log.info(
                "verify.ok",
                ref=report.ref,
                digest=report.digest,
                seconds=seconds,
                cached=cached,
                checked=when,
                **({"overlapped": early.overlapped} if early is not None else {}),
            )
            return report
        log.error(
            "verify.failed",
            ref=report.ref,
            problems=list(report.problems),
            left_behind=list(tagged),
            not_moved=list(plan.moving_tags),
        )
        problems = "; ".join(report.problems)
        if tagged:  # say first what is now published wrong
            message = f"{', '.join(tagged)} left published (a list of verified images) and failed verification: "
            message += problems
        else:
            untouched = ", ".join(plan.refs)
            kept = f"; it stays under {plan.staging}" if plan.staging else ""
            message = f"{report.ref} failed verification; no tag was written ({untouched} untouched{kept}): {problems}"
        raise VerificationFailed(message, "the pushed image is wrong: see verify.image events; moving tags untouched")

    def summary(
        self,
        digest: str | None,
        report: Report | None,
        moved: tuple[str, ...],
        arch_refs: tuple[tuple[str, str], ...],
        built: bool = True,
    ) -> Outcome:
        plan = self.plan
        refs = plan.refs + tuple(f"{plan.image}:{t}" for t in moved)
        now: tuple[tuple[str, str | None], ...] = ()
        if plan.moving_tags and digest:  # a release: other runs may race it, so look again
            now = tuple((ref, self.client.digest_of(Reference.parse(ref))) for ref in refs)
            for ref, held in now:
                if held != digest:
                    get_logger().warning("tag.moved_since", ref=ref, now=held, pushed=digest)
        outcome = Outcome(
            plan.strategy,
            refs,
            digest,
            tuple(str(p) for p in plan.platforms),
            bool(report and report.ok),
            report,
            moved,
            time.monotonic() - self.started,
            arch_refs,
            now,
            built,
        )
        get_logger().info(
            "build.summary",
            strategy=plan.strategy,
            refs=list(outcome.refs),
            digest=digest,
            platforms=list(outcome.platforms),
            verified=outcome.verified,
            seconds=round(outcome.seconds, 3),
            **({} if built else {"built": False}),
        )
        return outcome

    # --- the host strategy's compile ------------------------------------------------------
    def compile(self) -> None:
        """`go build` for every platform side by side into bin/<os>/<arch><variant>/ (directories
        of platforms not asked for are removed; go leaves up-to-date binaries alone), while the
        runtime base's per-platform digests are looked up."""
        plan = self.plan
        pin = pin_base_lookup(plan, self.client) if plan.pin_base else None
        commands = plan.phase("compile")
        if plan.context:
            wanted = {Path(c.argv[c.argv.index("-o") + 1]).resolve() for c in commands}
            for old in Path(plan.context).glob("bin/*/*"):
                if old.resolve() not in wanted:
                    shutil.rmtree(old, ignore_errors=True)
        failed = side_by_side(self.executor, commands, labelled=False)
        if failed:
            raise_first(failed, "the host's go build failed: nothing was built or pushed")
        if pin:
            pin()


def _log_report(report: Report) -> None:
    for img in report.images:
        get_logger().info(
            "verify.image",
            platform=img.platform,
            config=img.config_platform,
            binary=img.binary,
            program=img.program,
            facts=img.facts,
            note=img.note,
            problems=list(img.problems),
        )
