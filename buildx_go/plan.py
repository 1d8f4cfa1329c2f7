"""Pure planning: project facts + settings -> a Plan (commands as plain data).

``buildx-go plan`` prints a Plan, ``build --dry-run`` prints its commands, and ``build``
executes exactly those commands: nothing reaches docker that is not in the plan.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

import attrs

from buildx_go.config import Settings
from buildx_go.errors import InputError
from buildx_go.gomod import GoProject
from buildx_go.platforms import Platform
from buildx_go.tags import moving_tags

PLAN_SCHEMA = 1


@attrs.frozen
class Command:
    """One docker invocation."""

    purpose: str
    argv: tuple[str, ...]
    passthrough: bool = False  # its progress display goes on to the user's stderr
    after_verify: bool = False  # runs only once the pushed index is verified; {digest} is its digest

    def shell(self) -> str:
        """The command as a person would type it (for display only: never executed so)."""
        return shlex.join(self.argv)


@attrs.frozen
class DockerfileChoice:
    """Which Dockerfile BuildKit gets and why."""

    source: str  # generated | user | adapted
    path: str | None  # the file BuildKit reads (a generated one is written there first)
    style: str  # generated | buildx | goarch-recipe | other
    text: str


@attrs.frozen
class Plan:
    strategy: str
    reason: str
    project: str
    module: str
    platforms: tuple[Platform, ...]
    refs: tuple[str, ...]
    dockerfile: DockerfileChoice
    commands: tuple[Command, ...]
    metadata_file: str
    verify: bool
    moving_tags: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    emulated: tuple[Platform, ...] = ()  # targets whose final stage RUNs under QEMU
    builder: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON form (documented in README.md, "plan --format json")."""
        return {
            "schema": PLAN_SCHEMA,
            "strategy": self.strategy,
            "reason": self.reason,
            "project": self.project,
            "module": self.module,
            "platforms": [str(p) for p in self.platforms],
            "refs": list(self.refs),
            "dockerfile": {
                "source": self.dockerfile.source,
                "path": self.dockerfile.path,
                "style": self.dockerfile.style,
            },
            "commands": [{"purpose": c.purpose, "argv": list(c.argv)} for c in self.commands],
            "verify": self.verify,
            "moving_tags": list(self.moving_tags),
            "notes": list(self.notes),
        }


def image_refs(settings: Settings, version: str | None) -> tuple[str, ...]:
    if not settings.image:
        raise InputError("--image: no image repository given", "e.g. --image registry.example.com/team/app")
    if any(c.isspace() for c in settings.image) or ":" in settings.image.rsplit("/", 1)[-1] or "@" in settings.image:
        raise InputError(f"--image: {settings.image!r} must be a repository without tag or digest", "put tags in --tag")
    tags = settings.tag or ((version,) if version else ())
    if not tags:
        raise InputError("--tag: no tag given and none could be derived", "pass --tag 1.2.3 (or tag the git commit)")
    return tuple(f"{settings.image}:{t}" for t in tags)


def oci_labels(version: str | None, git: Mapping[str, str]) -> dict[str, str]:
    labels = {}
    if git.get("source"):
        labels["org.opencontainers.image.source"] = git["source"]
    if git.get("revision"):
        labels["org.opencontainers.image.revision"] = git["revision"]
    if version:
        labels["org.opencontainers.image.version"] = version
    if git.get("created"):
        labels["org.opencontainers.image.created"] = git["created"]
    return labels


def buildx_build_argv(
    settings: Settings,
    context: str,
    dockerfile: DockerfileChoice,
    refs: tuple[str, ...],
    platforms: tuple[Platform, ...],
    build_args: Mapping[str, str],
    labels: Mapping[str, str],
    metadata_file: str,
) -> tuple[str, ...]:
    argv = ["docker", "buildx", "build"]
    if settings.builder:
        argv += ["--builder", settings.builder]
    argv += ["--platform", ",".join(str(p) for p in platforms)]
    argv += ["--file", str(dockerfile.path)]
    for ref in refs:
        argv += ["--tag", ref]
    for key, value in build_args.items():
        argv += ["--build-arg", f"{key}={value}"]
    for key, value in labels.items():
        argv += ["--label", f"{key}={value}"]
    argv += [
        f"--provenance={'true' if settings.provenance else 'false'}",
        f"--sbom={'true' if settings.sbom else 'false'}",
    ]
    if settings.network:
        argv += ["--network", settings.network]
    argv += ["--progress", settings.progress, "--metadata-file", metadata_file]
    if settings.push:
        # Straight from BuildKit to the registry: with the docker driver, --push also unpacks
        # into the engine and pushes a second time from the engine (racing on the tag).
        argv += ["--output", "type=registry"]
    elif settings.load:
        argv.append("--load")
    elif settings.output:
        argv += ["--output", settings.output]
    argv.append(context)
    return tuple(argv)


def make_plan(
    project: GoProject,
    settings: Settings,
    dockerfile: DockerfileChoice,
    *,
    version: str | None,
    git: Mapping[str, str],
    workdir: str,
    existing_tags: list[str] | None = None,
    lints: tuple[str, ...] = (),
    emulated: tuple[Platform, ...] = (),
) -> Plan:
    """The single-buildx-run plan for PROJECT (strategy choice grows with builder facts)."""
    refs = image_refs(settings, version)
    version_tag = refs[0].rsplit(":", 1)[1]  # the version, or the first --tag
    platforms = settings.platform
    build_args: dict[str, str] = {}
    if settings.version_var and dockerfile.source == "generated":
        build_args["VERSION"] = version_tag
    labels = oci_labels(version_tag, git)
    metadata_file = f"{workdir}/metadata.json"
    if dockerfile.source in ("generated", "adapted"):
        dockerfile = attrs.evolve(dockerfile, path=f"{workdir}/Dockerfile")
    build = Command(
        purpose="build",
        argv=buildx_build_argv(
            settings, str(project.root), dockerfile, refs, platforms, build_args, labels, metadata_file
        ),
        passthrough=True,
    )
    notes = list(lints)
    if not settings.push:
        notes.append("not pushing: the result is not verified in a registry (use --push)")
    moving, why = moving_tags(version_tag, existing_tags, settings.latest, settings.floating)
    if settings.latest or settings.floating:
        notes.append(f"moving tags {', '.join(moving) or 'none'}: {why}")
    commands = [build]
    for tag in moving:
        argv = ["docker", "buildx", "imagetools", "create"]
        if settings.builder:
            argv += ["--builder", settings.builder]
        argv += ["--tag", f"{settings.image}:{tag}", f"{refs[0]}@{{digest}}"]
        commands.append(Command(purpose=f"promote {tag}", argv=tuple(argv), after_verify=True))
    return Plan(
        strategy="buildx",
        reason="one buildx run builds every platform; the Go stage cross-compiles on the build platform",
        project=str(project.root),
        module=project.module.path,
        platforms=platforms,
        refs=refs,
        dockerfile=dockerfile,
        commands=tuple(commands),
        metadata_file=metadata_file,
        verify=settings.verify and settings.push,
        moving_tags=moving,
        notes=tuple(notes),
        emulated=emulated,
        builder=settings.builder,
    )
