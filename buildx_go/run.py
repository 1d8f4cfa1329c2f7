"""Executes a Plan step by step, emitting structured events; then verifies what it pushed."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import attrs

from buildx_go.docker import Executor, builder_platforms, host_emulators
from buildx_go.errors import BuildFailed, BuildxGoError, EngineError, VerificationFailed
from buildx_go.log import get_logger
from buildx_go.plan import Plan
from buildx_go.registry import RegistryClient
from buildx_go.verify import Report, verify


@attrs.frozen
class Outcome:
    refs: tuple[str, ...]
    digest: str | None
    platforms: tuple[str, ...]
    verified: bool
    report: Report | None
    moved: tuple[str, ...]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "refs": list(self.refs),
            "digest": self.digest,
            "platforms": list(self.platforms),
            "verified": self.verified,
            "moved_tags": list(self.moved),
            "verification": self.report.to_dict() if self.report else None,
            "seconds": round(self.seconds, 3),
        }


def execute(plan: Plan, executor: Executor, registry: RegistryClient | None = None) -> Outcome:
    log = get_logger()
    started = time.monotonic()
    workdir = Path(plan.metadata_file).parent
    workdir.mkdir(parents=True, exist_ok=True)
    if plan.dockerfile.source in ("generated", "adapted") and plan.dockerfile.path:
        Path(plan.dockerfile.path).write_text(plan.dockerfile.text)
    if plan.emulated:
        check_emulation(plan, executor)
    for cmd in plan.commands:
        if not cmd.after_verify:
            _run_one(executor, cmd.argv, cmd.purpose, cmd.passthrough)
    digest = read_digest(plan.metadata_file)
    if digest:
        log.info("image.pushed" if plan.verify else "image.built", refs=list(plan.refs), digest=digest)
    report = None
    if plan.verify:
        t0 = time.monotonic()
        report = verify(
            registry or RegistryClient(), f"{plan.refs[0]}@{digest}" if digest else plan.refs[0], plan.platforms
        )
        for img in report.images:
            log.info(
                "verify.image",
                platform=img.platform,
                config=img.config_platform,
                binary=img.binary,
                facts=img.facts,
                problems=list(img.problems),
            )
        if not report.ok:
            log.error(
                "verify.failed",
                ref=report.ref,
                problems=list(report.problems),
                left_behind=list(plan.refs),
                not_moved=list(plan.moving_tags),
            )
            raise VerificationFailed(
                f"{plan.refs[0]}: " + "; ".join(report.problems),
                "the pushed image is wrong: see verify.image events; moving tags were not touched",
            )
        log.info("verify.ok", ref=report.ref, digest=report.digest, seconds=round(time.monotonic() - t0, 3))
    promoted = []
    for cmd in plan.commands:
        if cmd.after_verify:
            if not digest or (plan.verify and not report):
                raise BuildFailed(f"{cmd.purpose}: no verified digest to promote", "see the build output")
            _run_one(executor, tuple(a.replace("{digest}", digest) for a in cmd.argv), cmd.purpose, False)
            promoted.append(cmd.purpose.split(" ", 1)[1])
    if promoted:
        log.info("tags.moved", tags=promoted, digest=digest)
    moved_refs = tuple(f"{plan.refs[0].rsplit(':', 1)[0]}:{t}" for t in promoted)
    outcome = Outcome(
        plan.refs + moved_refs,
        digest,
        tuple(str(p) for p in plan.platforms),
        bool(report and report.ok),
        report,
        tuple(promoted),
        time.monotonic() - started,
    )
    log.info(
        "build.summary",
        strategy=plan.strategy,
        refs=list(plan.refs),
        digest=digest,
        platforms=list(outcome.platforms),
        verified=outcome.verified,
        seconds=round(outcome.seconds, 3),
    )
    return outcome


QEMU_NAMES = {
    "arm64": "qemu-aarch64",
    "arm": "qemu-arm",
    "386": "qemu-i386",
    "ppc64le": "qemu-ppc64le",
    "s390x": "qemu-s390x",
    "riscv64": "qemu-riscv64",
    "amd64": "qemu-x86_64",
}


def check_emulation(plan: Plan, executor: Executor) -> None:
    """RUN in the final stage of a foreign platform needs QEMU: refuse before building without it."""
    listed = builder_platforms(executor, plan.builder)
    emulators = host_emulators()
    missing = [p for p in plan.emulated if str(p) not in listed and QEMU_NAMES.get(p.arch) not in emulators]
    get_logger().info(
        "emulation.checked",
        needed=[str(p) for p in plan.emulated],
        builder_platforms=sorted(listed),
        missing=[str(p) for p in missing],
    )
    if missing:
        raise EngineError(
            f"RUN in the final stage needs emulation for {', '.join(map(str, missing))}, and the builder has none",
            "install QEMU/binfmt (scripts/setup does; or docker run --privileged tonistiigi/binfmt --install all)",
        )


def _run_one(executor: Executor, argv: tuple[str, ...], purpose: str, stream: bool) -> None:
    log = get_logger()
    log.info("command.start", purpose=purpose, argv=list(argv))
    t0 = time.monotonic()
    try:
        executor.run(argv, stream=stream, purpose=purpose)
    except BuildxGoError as exc:
        log.error(
            "command.failed",
            purpose=purpose,
            seconds=round(time.monotonic() - t0, 3),
            exit_code=exc.exit_code,
            error=exc.message,
        )
        raise
    log.info("command.done", purpose=purpose, seconds=round(time.monotonic() - t0, 3), exit_code=0)


def read_digest(metadata_file: str) -> str | None:
    try:
        data = json.loads(Path(metadata_file).read_text())
    except (OSError, ValueError):
        return None
    digest = data.get("containerimage.digest")
    return str(digest) if digest else None
