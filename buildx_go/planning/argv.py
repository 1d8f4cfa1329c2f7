"""The exact command lines buildx-go gives docker buildx (pure): `buildx build` with its
output, cache and attestation options, and `imagetools create`; plus the labels and the
ignore file that go with a build."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from buildx_go.planning.decide import Decision, DockerfileChoice
from buildx_go.platforms import Platform

CACHE_TAG = "buildcache"


@attrs.frozen
class Build:
    """What every build command of a plan shares."""

    dockerfile: DockerfileChoice  # path: the workdir copy BuildKit reads
    context: str
    build_args: Mapping[str, str]
    labels: Mapping[str, str]


@attrs.frozen
class Target:
    """One `docker buildx build`: what it makes and where it goes."""

    refs: tuple[str, ...]
    platforms: tuple[Platform, ...]
    metadata: str
    attestations: bool = True
    progress: str | None = None
    by_digest: str | None = None  # push untagged to this image name
    cache: tuple[str, ...] = ()  # --cache-from / --cache-to arguments


def buildx_build_argv(decision: Decision, build: Build, target: Target) -> tuple[str, ...]:
    """The `docker buildx build` argv for TARGET."""
    s = decision.settings
    argv = ["docker", "buildx", "build"]
    if decision.builder:
        argv += ["--builder", decision.builder]
    argv += ["--platform", ",".join(str(p) for p in target.platforms)]
    argv += ["--file", str(build.dockerfile.path)]
    for ref in target.refs if not target.by_digest else ():
        argv += ["--tag", ref]
    for key, value in build.build_args.items():
        argv += ["--build-arg", f"{key}={value}"]
    for key, value in build.labels.items():
        argv += ["--label", f"{key}={value}"]
    attest = target.attestations
    argv += [
        f"--provenance={'true' if s.provenance and attest else 'false'}",
        f"--sbom={'true' if s.sbom and attest else 'false'}",
    ]
    if decision.network:
        argv += ["--network", decision.network]
    for spec in s.secret:
        argv += ["--secret", spec]
    for spec in s.ssh:
        argv += ["--ssh", spec]
    argv += ["--progress", target.progress or s.progress, "--metadata-file", target.metadata]
    argv += target.cache
    if s.push:
        rewrite = "SOURCE_DATE_EPOCH" in build.build_args
        argv += ["--output", registry_output(s.compression, decision.caps.direct_push, target.by_digest, rewrite)]
    elif s.load:
        argv.append("--load")
    elif s.output:
        argv += ["--output", s.output]
    argv.append(build.context)
    return tuple(argv)


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


def context_ignore(user_rules: str | None, include_git: bool) -> str:
    """The ignore file BuildKit reads beside buildx-go's Dockerfile: the project's own rules
    (which it would otherwise read), then .git unless asked to send it or the rules keep it."""
    text = "# written by buildx-go: the project's .dockerignore rules, then .git\n" + (user_rules or "")
    if not text.endswith("\n"):
        text += "\n"
    keeps_git = any(line.strip().startswith("!.git") for line in (user_rules or "").splitlines())
    if not include_git and not keeps_git:
        text += ".git\n"
    return text


def registry_output(
    compression: str, direct_push: bool = False, by_digest: str | None = None, rewrite: bool = False
) -> str:
    """--output for a push. zstd at level 1 compresses a Go binary several times faster than
    gzip at its default level, for a similar size; pulling it needs Docker 23+/containerd 1.5+
    (--compression gzip for older runtimes). zstd only ever goes with OCI media types: under
    Docker v2 manifest types engines cannot pull it. Base image layers are reused as they are.

    DIRECT_PUSH (the docker driver on a containerd-store engine, buildx before 0.21): BuildKit
    pushes by itself, but such a buildx then pushes everything again through the engine
    ("pushing ... with docker", docker/buildx#3023) whenever the output says push=true, as
    type=registry does.
    An empty ``push=`` means true to BuildKit and nothing to that check of buildx: one push.
    ``store=false``: the pushed image is not also unpacked into the engine's image store
    (~0.2 s less, and no pile of images there; a docker-container builder keeps none either).

    BY_DIGEST (an image name, for builders other than the docker driver, whose engine always
    adds a tag): the index is pushed untagged; tags are written once it is verified.

    REWRITE (the build has a SOURCE_DATE_EPOCH): rewrite-timestamp=true dates the layers'
    files by it, so that the same commit gives the same layers."""
    if by_digest:
        out = f"type=image,name={by_digest},push-by-digest=true,push=true"
    else:
        out = "type=image,push=,store=false" if direct_push else "type=registry"
    out += ",rewrite-timestamp=true" if rewrite else ""
    if compression == "zstd":
        return f"{out},compression=zstd,compression-level=1,oci-mediatypes=true"
    return f"{out},compression={compression}"


def cache_args(decision: Decision, suffix: str | None) -> tuple[tuple[str, ...], list[str]]:
    """(--cache-from/--cache-to arguments, notes): --cache registry imports and exports
    IMAGE:buildcache (IMAGE:buildcache-SUFFIX per platform in the manifest strategy, whose
    builds run side by side), with every stage's layers (mode=max); --cache-to/--cache-from
    are passed as given. A builder that cannot export cache only imports it."""
    s = decision.settings
    can_export = decision.caps.cache_export
    argv: list[str] = []
    notes: list[str] = []
    if s.cache == "registry":
        ref = f"{s.image}:{CACHE_TAG}" + (f"-{suffix}" if suffix else "")
        argv += ["--cache-from", f"type=registry,ref={ref}"]
        if can_export:
            argv += ["--cache-to", f"type=registry,ref={ref},mode=max,oci-mediatypes=true,image-manifest=true"]
        else:
            notes.append(
                f"--cache registry: imported from {ref} only; this builder cannot export cache (the docker "
                "driver on the classic image store): use the containerd image store or a docker-container builder"
            )
    for spec in s.cache_from:
        argv += ["--cache-from", spec]
    for spec in s.cache_to if can_export else ():
        argv += ["--cache-to", spec]
    if s.cache_to and not can_export:
        notes.append("--cache-to: left out, this builder cannot export cache (the docker driver, classic store)")
    return tuple(argv), notes


def imagetools_create(decision: Decision, tags: list[str], ref: str) -> tuple[str, ...]:
    """`docker buildx imagetools create --tag ... REF@{digest}`: tags an index already verified
    (the registry copies nothing: same repository, same digest)."""
    argv = ["docker", "buildx", "imagetools", "create"]
    if decision.builder:
        argv += ["--builder", decision.builder]
    return (*argv, *tags, f"{ref}@{{digest}}")
