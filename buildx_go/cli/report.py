"""What buildx-go tells people: events for its decisions (stderr), and results (stdout):
the plan, a build's outcome, a verification report."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from buildx_go.ci import CI
from buildx_go.log import get_logger

if TYPE_CHECKING:
    from buildx_go.dockerfile.adapt import Lint
    from buildx_go.errors import BuildxGoError
    from buildx_go.planning.decide import Decision, DockerfileChoice
    from buildx_go.planning.plan import Plan
    from buildx_go.run.execute import Outcome
    from buildx_go.verify.check import Report

PHASE_NOTES = {
    "setup": "--create-builder: the builder, before anything else",
    "compile": "the host's go build, every platform side by side",
    "build": "BuildKit (per-platform builds run side by side)",
    "publish": "once what was built is verified: version tags from the verified digests ({digest:P}: P's image)",
    "promote": "once the version's index is verified; {digest} is its digest",
}


def log_dockerfile(
    choice: DockerfileChoice, adaptations: tuple[str, ...], lints: tuple[Lint, ...], ci: CI | None
) -> None:
    """dockerfile.adapted / dockerfile.lint / dockerfile.chosen; in CI, lints as annotations
    on the user's Dockerfile (generated ones are not in the project)."""
    log = get_logger()
    for change in adaptations:
        log.info("dockerfile.adapted", change=change)
    for item in lints:
        log.warning("dockerfile.lint", code=item.code, line=item.line, message=item.message)
        if ci is not None:
            sys.stderr.write(ci.annotation("warning", f"{item.code}: {item.message}", choice.path, item.line))
    log.info("dockerfile.chosen", source=choice.source, style=choice.style, path=choice.path)


def log_plan(decision: Decision, plan: Plan) -> None:
    log = get_logger()
    if decision.project.ignore_rules is None and decision.dockerfile.source != "generated":
        root = decision.project.go.root
        log.info("context.no_dockerignore", suggestion=f"add {root}/.dockerignore (e.g. .git, bin/, *.test)")
    log.info(
        "plan.chosen",
        strategy=plan.strategy,
        packaging=plan.packaging,
        reason=plan.reason,
        platforms=[str(p) for p in plan.platforms],
        refs=list(plan.refs),
        notes=list(decision.notes),  # moving tags, the host strategy, a version command not run
    )


def print_plan(plan: Plan, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(plan.to_dict(), indent=2))
        return
    print(f"strategy:   {plan.strategy} ({plan.reason})")
    print(f"module:     {plan.module} ({plan.project})")
    print(f"platforms:  {', '.join(str(p) for p in plan.platforms)}")
    print(
        f"dockerfile: {plan.dockerfile.source}, style {plan.dockerfile.style}"
        + (f" ({plan.dockerfile.path})" if plan.dockerfile.path else "")
    )
    print(f"refs:       {', '.join(plan.refs)}")
    for where in plan.placement if plan.several_nodes else ():
        print(f"node:       {where.describe()}")
    print(f"verify:     {'yes' if plan.verify else 'no'}")
    for note in plan.notes:
        print(f"note:       {note}")
    print("commands:")
    phase = None
    for c in plan.commands:
        if c.phase != phase:
            phase = c.phase
            print(f"  # {phase}: {PHASE_NOTES[phase]}")
        print(f"  {c.shell()}")
        if c.writes:
            print("    # written by buildx-go itself, a manifest PUT per tag: this command's result")


def metadata(plan: Plan, outcome: Outcome) -> dict[str, object]:
    """The result in the keys of buildx's --metadata-file (what docker/build-push-action users
    read: containerimage.digest, image.name), plus buildx-go's own."""
    data: dict[str, object] = {}
    with contextlib.suppress(OSError, ValueError):
        data.update(json.loads(Path(plan.metadata_file).read_text()))  # buildx's own, if it wrote one
    if outcome.digest:
        data["containerimage.digest"] = outcome.digest
    data["image.name"] = ",".join(outcome.refs)
    data["buildx-go.refs"] = list(outcome.refs)
    data["buildx-go.platforms"] = list(outcome.platforms)
    data["buildx-go.verified"] = outcome.verified
    data["buildx-go.moved_tags"] = list(outcome.moved)
    data["buildx-go.strategy"] = outcome.strategy
    images = outcome.report.images if outcome.report else ()
    data["buildx-go.images"] = {i.platform: {"digest": i.digest, "config": i.config_digest} for i in images}
    if len(images) == 1 and images[0].config_digest:  # buildx writes it for one platform, whatever ran
        data.setdefault("containerimage.config.digest", images[0].config_digest)
    return data


def failed_results(plan: Plan, exc: BuildxGoError, metadata_file: str | None) -> None:
    """--metadata-file after a failed run: what failed, its exit code, what was asked for."""
    if not metadata_file:
        return
    data = {
        "image.name": ",".join(plan.refs),
        "buildx-go.refs": list(plan.refs),
        "buildx-go.platforms": [str(p) for p in plan.platforms],
        "buildx-go.strategy": plan.strategy,
        "buildx-go.error": exc.message,
        "buildx-go.exit_code": exc.exit_code,
    }
    with contextlib.suppress(OSError):
        Path(metadata_file).write_text(json.dumps(data, indent=2) + "\n")


def publish_results(plan: Plan, outcome: Outcome, metadata_file: str | None, ci: CI | None) -> None:
    """--metadata-file, and in GitHub Actions the job summary and the step outputs."""
    data = metadata(plan, outcome)
    if metadata_file:
        Path(metadata_file).write_text(json.dumps(data, indent=2) + "\n")
    if ci is not None and ci.summary_file:
        with open(ci.summary_file, "a") as f:
            f.write(summary(outcome))
    if ci is not None and ci.output_file:
        with open(ci.output_file, "a") as f:
            f.write(step_outputs(outcome, data))


def print_outcome(outcome: Outcome, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(outcome.to_dict(), indent=2))
    elif outcome.digest:
        for ref in outcome.refs:
            held = outcome.holds(ref)
            if held == outcome.digest:
                print(f"{ref}@{outcome.digest}")
            else:  # another run moved it since: say what it holds, and what this run pushed
                print(f"{ref}@{held or '(no longer exists)'} (moved by another run; this run pushed {outcome.digest})")


def print_report(report: Report, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(report.to_dict(), indent=2))
        return
    print(f"{report.ref}@{report.digest} ({report.media_type})")
    for img in report.images:
        status = "ok" if not img.problems else "; ".join(img.problems)
        print(f"  {img.platform}: config {img.config_platform}, {img.describe()} -> {status}")
        for warning in img.warnings:
            print(f"    warning: {warning}")
    print(f"  attestations: {report.attestations}")


def summary(outcome: Outcome) -> str:
    """The job summary: what was published, its digest, platforms and time."""
    lines = [
        "### buildx-go",
        "",
        "| ref | digest |",
        "| --- | --- |",
        *(f"| `{ref}` | `{outcome.digest}` |" for ref in outcome.refs),
        "",
        f"- platforms: {', '.join(outcome.platforms)}",
        f"- strategy: {outcome.strategy}; verified: {'yes' if outcome.verified else 'no'}",
        f"- time: {outcome.seconds:.1f} s",
        "",
    ]
    return "\n".join(lines)


def step_outputs(outcome: Outcome, metadata: Mapping[str, object]) -> str:
    """GitHub step outputs, named as docker/build-push-action's (digest, imageid, metadata)
    and docker/metadata-action's (tags: one ref a line; version: the version tag)."""
    import uuid

    delimiter = f"ghadelimiter_{uuid.uuid4()}"  # GitHub's form for a value of several lines
    version = outcome.refs[0].rsplit(":", 1)[1] if outcome.refs else ""
    one_line = (
        ("digest", outcome.digest or ""),
        ("imageid", outcome.digest or ""),
        ("metadata", json.dumps(metadata, separators=(",", ":"))),
        ("version", version),
    )
    tags = "\n".join(outcome.refs)
    return "".join(f"{key}={value}\n" for key, value in one_line) + f"tags<<{delimiter}\n{tags}\n{delimiter}\n"
