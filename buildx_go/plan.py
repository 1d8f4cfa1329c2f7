"""Pure planning: project facts + settings -> a Plan (commands as plain data).

``buildx-go plan`` prints a Plan, ``build --dry-run`` prints its commands, and ``build``
executes exactly those commands: nothing reaches docker that is not in the plan.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from buildx_go.builder import BuilderCaps
from buildx_go.config import Settings
from buildx_go.dockerfile import Dockerfile
from buildx_go.errors import InputError
from buildx_go.gomod import GoProject, MainPackage
from buildx_go.platforms import Platform
from buildx_go.refs import Reference
from buildx_go.tags import as_tag, moving_tags, valid_tag

if TYPE_CHECKING:
    from buildx_go.hostgo import HostGo

PLAN_SCHEMA = 1
DOCKER_DRIVER = BuilderCaps()  # what a plan assumes when the builder was not asked


PHASES = ("compile", "build", "publish", "promote")


@attrs.frozen
class Command:
    """One docker invocation.

    Phases: ``compile`` (host strategy: `go build` per platform, side by side), then ``build``
    (the manifest packaging's per-platform builds side by side);
    ``publish`` once what was built is verified (version tags, or the manifest strategy's
    lists, from the verified digests); ``promote`` once the version's
    index is verified. ``{digest}`` in argv is the version index's digest, ``{digest:PLATFORM}``
    a per-platform image's (known only at run time).
    """

    purpose: str
    argv: tuple[str, ...]
    phase: str = "build"
    passthrough: bool = False  # its progress display goes on to the user's stderr
    env: tuple[tuple[str, str], ...] = ()  # added to the environment
    platform: Platform | None = None  # a per-platform build
    metadata: str | None = None  # its --metadata-file
    may_fail: str | None = None  # stderr text that only means "nothing to do"
    cwd: str | None = None  # runs there (host strategy's `go build`: the module root)

    def shell(self) -> str:
        """The command as a person would type it (for display only: never executed so)."""
        text = shlex.join([f"{k}={v}" for k, v in self.env] + list(self.argv))
        return f"cd {shlex.quote(self.cwd)} && {text}" if self.cwd else text


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
    arch_refs: tuple[tuple[str, str], ...] = ()  # manifest strategy: (platform, per-platform ref)
    docker_config: str | None = None  # manifest strategy: this run's own docker config dir
    clean_tags: tuple[str, ...] = ()  # per-platform refs to delete once all is published
    packaging: str = "buildx"  # how images are made: one buildx run, or per platform + manifest list
    dockerignore: str | None = None  # written beside the Dockerfile (<Dockerfile>.dockerignore)
    context: str | None = None  # the build context, when it is not the project (host strategy)
    pin_base: str | None = None  # host strategy: the runtime base, pinned per platform at run time
    push_by_digest: bool = False  # buildx strategy: pushed untagged, tagged by `publish` once verified

    @property
    def image(self) -> str:
        return self.refs[0].rsplit(":", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON form (documented in README.md, "plan --format json")."""
        return {
            "schema": PLAN_SCHEMA,
            "strategy": self.strategy,
            "packaging": self.packaging,
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
            "commands": [
                {"purpose": c.purpose, "phase": c.phase, "argv": list(c.argv), "env": dict(c.env), "cwd": c.cwd}
                for c in self.commands
            ],
            "verify": self.verify,
            "moving_tags": list(self.moving_tags),
            "arch_refs": dict(self.arch_refs),
            "clean_tags": list(self.clean_tags),
            "pin_base": self.pin_base,
            "push_by_digest": self.push_by_digest,
            "notes": list(self.notes),
        }


def image_refs(settings: Settings, version: str | None) -> tuple[str, ...]:
    if not settings.image:
        raise InputError("--image: no image repository given", "e.g. --image registry.example.com/team/app")
    if any(c.isspace() for c in settings.image) or ":" in settings.image.rsplit("/", 1)[-1] or "@" in settings.image:
        raise InputError(f"--image: {settings.image!r} must be a repository without tag or digest", "put tags in --tag")
    tags = settings.tag or ((as_tag(version),) if version else ())
    if not tags:
        raise InputError("--tag: no tag given and none could be derived", "pass --tag 1.2.3 (or tag the git commit)")
    if not valid_tag(tags[0]):
        raise InputError(
            f"--tag: the version {version!r} (from --version-from or git describe) is not a valid tag",
            "tags are [A-Za-z0-9_.-], at most 128, not starting with . or -: pass --tag",
        )
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
    *,
    attestations: bool = True,
    progress: str | None = None,
    direct_push: bool = False,
    by_digest: str | None = None,
    cache: tuple[str, ...] = (),
) -> tuple[str, ...]:
    """The `docker buildx build` argv. BY_DIGEST (an image name): push untagged, by digest;
    CACHE: its --cache-from/--cache-to arguments."""
    argv = ["docker", "buildx", "build"]
    if settings.builder:
        argv += ["--builder", settings.builder]
    argv += ["--platform", ",".join(str(p) for p in platforms)]
    argv += ["--file", str(dockerfile.path)]
    for ref in refs if not by_digest else ():
        argv += ["--tag", ref]
    for key, value in build_args.items():
        argv += ["--build-arg", f"{key}={value}"]
    for key, value in labels.items():
        argv += ["--label", f"{key}={value}"]
    argv += [
        f"--provenance={'true' if settings.provenance and attestations else 'false'}",
        f"--sbom={'true' if settings.sbom and attestations else 'false'}",
    ]
    if settings.network:
        argv += ["--network", settings.network]
    argv += ["--progress", progress or settings.progress, "--metadata-file", metadata_file]
    argv += cache
    if settings.push:
        argv += ["--output", registry_output(settings.compression, direct_push, by_digest)]
    elif settings.load:
        argv.append("--load")
    elif settings.output:
        argv += ["--output", settings.output]
    argv.append(context)
    return tuple(argv)


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


def registry_output(compression: str, direct_push: bool = False, by_digest: str | None = None) -> str:
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
    adds a tag): the index is pushed untagged; tags are written once it is verified."""
    if by_digest:
        out = f"type=image,name={by_digest},push-by-digest=true,push=true"
    else:
        out = "type=image,push=,store=false" if direct_push else "type=registry"
    if compression == "zstd":
        return f"{out},compression=zstd,compression-level=1,oci-mediatypes=true"
    return f"{out},compression={compression}"


CACHE_TAG = "buildcache"


def cache_args(settings: Settings, suffix: str | None, can_export: bool) -> tuple[tuple[str, ...], list[str]]:
    """(--cache-from/--cache-to arguments, notes): --cache registry imports and exports
    IMAGE:buildcache (IMAGE:buildcache-SUFFIX per platform in the manifest strategy, whose
    builds run side by side), with every stage's layers (mode=max); --cache-to/--cache-from
    are passed as given. A builder that cannot export cache only imports it."""
    argv: list[str] = []
    notes: list[str] = []
    if settings.cache == "registry":
        ref = f"{settings.image}:{CACHE_TAG}" + (f"-{suffix}" if suffix else "")
        argv += ["--cache-from", f"type=registry,ref={ref}"]
        if can_export:
            argv += ["--cache-to", f"type=registry,ref={ref},mode=max,oci-mediatypes=true,image-manifest=true"]
        else:
            notes.append(
                f"--cache registry: imported from {ref} only; this builder cannot export cache (the docker "
                "driver on the classic image store): use the containerd image store or a docker-container builder"
            )
    for spec in settings.cache_from:
        argv += ["--cache-from", spec]
    for spec in settings.cache_to if can_export else ():
        argv += ["--cache-to", spec]
    if settings.cache_to and not can_export:
        notes.append("--cache-to: left out, this builder cannot export cache (the docker driver, classic store)")
    return tuple(argv), notes


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
    dockerignore: str | None = None,
    strategy: tuple[str, str] = ("buildx", "one buildx run builds every platform"),
    packaging: str | None = None,
    host: HostGo | None = None,
    mains: tuple[MainPackage, ...] = (),
    host_context: str | None = None,
    caps: BuilderCaps = DOCKER_DRIVER,
) -> Plan:
    """The plan for PROJECT by STRATEGY, (name, why) as ``builder.choose_strategy`` chose it.
    PACKAGING (buildx | manifest) is how images are made, for the host strategy too (HOST is
    its Go toolchain, MAINS the packages it compiles). CAPS: what the builder can do."""
    refs = image_refs(settings, version)
    version_tag = refs[0].rsplit(":", 1)[1]  # the version, or the first --tag
    build_args: dict[str, str] = {}
    if settings.version_var and dockerfile.source == "generated":
        build_args["VERSION"] = version_tag
    labels = oci_labels(version_tag, git)
    # Every Dockerfile goes to the workdir (the user's unchanged), with a Dockerfile-specific
    # ignore file beside it: the user's ignore rules plus .git.
    dockerfile = attrs.evolve(dockerfile, path=f"{workdir}/Dockerfile")
    notes = list(lints)
    if not settings.push:
        notes.append("not pushing: the result is not verified in a registry (use --push)")
    moving, why = moving_tags(version_tag, existing_tags, settings.latest, settings.floating)
    if settings.latest or settings.floating:
        notes.append(f"moving tags {', '.join(moving) or 'none'}: {why}")
    image = str(settings.image)
    packaging = packaging or ("manifest" if strategy[0] == "manifest" else "buildx")
    context = str(project.root)
    compile_commands: list[Command] = []
    if strategy[0] == "host":
        from buildx_go.hostgo import bin_dir, compile_argv, compile_env, packaging_dockerfile

        if host is None or not mains:
            raise ValueError("the host strategy needs the host's Go and the main packages")
        # A stable context (HOST_CONTEXT, one per project) lets an unchanged binary stay
        # unwritten, so BuildKit's context transfer has nothing to send.
        context = host_context or f"{workdir}/context"
        text = packaging_dockerfile(settings.base_image, mains, project.module.path)
        dockerfile = DockerfileChoice("generated", f"{workdir}/Dockerfile", "host", text)
        build_args = {}  # the version is linked in by the host's go build
        for p in settings.platform:
            argv = compile_argv(host.go, mains, bin_dir(context, p), settings.version_var, version_tag)
            compile_commands.append(
                Command(f"compile {p}", argv, "compile", env=compile_env(p), platform=p, cwd=str(project.root))
            )
    common: dict[str, Any] = dict(
        project=str(project.root),
        module=project.module.path,
        platforms=settings.platform,
        refs=refs,
        dockerfile=dockerfile,
        metadata_file=f"{workdir}/metadata.json",
        verify=settings.verify and settings.push,
        moving_tags=moving,
        emulated=emulated,
        builder=settings.builder,
        packaging=packaging,
        context=context if context != str(project.root) else None,
        dockerignore=context_ignore(dockerignore, settings.include_git)
        if strategy[0] != "host"
        else "# buildx-go, host strategy: the context holds only the binaries\n",
        pin_base=settings.base_image
        if strategy[0] == "host" and settings.pin_base and settings.base_image != "scratch"
        else None,
    )
    if packaging == "manifest":
        return _manifest_plan(
            settings,
            context,
            dockerfile,
            refs,
            build_args,
            labels,
            workdir,
            notes,
            strategy,
            common,
            compile_commands,
            caps,
        )
    if settings.clean_arch_tags:
        notes.append("--clean-arch-tags: nothing to clean, the buildx strategy pushes no per-platform tags")
    metadata = common["metadata_file"]
    by_digest = image if settings.push and settings.verify and caps.push_by_digest else None
    cache, cache_notes = cache_args(settings, None, caps.cache_export)
    notes += cache_notes
    build_argv = buildx_build_argv(
        settings,
        context,
        dockerfile,
        refs,
        settings.platform,
        build_args,
        labels,
        metadata,
        direct_push=caps.direct_push,
        by_digest=by_digest,
        cache=cache,
    )
    build = Command(purpose="build", argv=build_argv, passthrough=True)
    commands = [*compile_commands, build]
    if by_digest:
        tags = [arg for ref in refs for arg in ("--tag", ref)]
        commands.append(Command(f"publish {', '.join(refs)}", imagetools_create(settings, tags, refs[0]), "publish"))
    elif settings.push and settings.verify:
        notes.append(
            f"{', '.join(refs)}: written by the build before verification (this builder cannot push by digest)"
        )
    for tag in moving:
        argv = imagetools_create(settings, ["--tag", f"{image}:{tag}"], refs[0])
        commands.append(Command(purpose=f"promote {tag}", argv=argv, phase="promote"))
    return Plan(
        strategy=strategy[0],
        reason=strategy[1],
        commands=tuple(commands),
        notes=tuple(notes),
        push_by_digest=by_digest is not None,
        **common,
    )


def imagetools_create(settings: Settings, tags: list[str], ref: str) -> tuple[str, ...]:
    """`docker buildx imagetools create --tag ... REF@{digest}`: tags an index already verified
    (the registry copies nothing: same repository, same digest)."""
    argv = ["docker", "buildx", "imagetools", "create"]
    if settings.builder:
        argv += ["--builder", settings.builder]
    return (*argv, *tags, f"{ref}@{{digest}}")


def _manifest_plan(
    settings: Settings,
    context: str,
    dockerfile: DockerfileChoice,
    refs: tuple[str, ...],
    build_args: dict[str, str],
    labels: dict[str, str],
    workdir: str,
    notes: list[str],
    strategy: tuple[str, str],
    common: dict[str, Any],
    compile_commands: list[Command],
    caps: BuilderCaps,
) -> Plan:
    """Per-platform builds (side by side), then a docker manifest list per tag."""
    if settings.output:
        raise InputError(
            f"--output: the manifest strategy ({strategy[1]}) publishes to a registry only",
            "use --push, or a builder that builds several platforms in one run",
        )
    image = str(settings.image)
    version_tag = refs[0].rsplit(":", 1)[1]
    declared = Dockerfile.parse(dockerfile.text).args_declared() if dockerfile.source == "user" else set()
    concurrent = len(settings.platform) > 1
    progress = "plain" if concurrent and settings.progress in ("auto", "tty") else settings.progress
    if (settings.provenance and settings.sources.get("provenance") != "default") or settings.sbom:
        notes.append("attestations left out: a docker manifest list cannot hold provenance or SBOM manifests")
    commands = list(compile_commands)
    arch_refs = []
    for p in settings.platform:
        arch_ref = f"{image}:{version_tag}-{p.suffix}"
        arch_refs.append((str(p), arch_ref))
        args = {**build_args, **{k: v for k, v in p.go_env.items() if k in declared}}
        metadata = f"{workdir}/metadata-{p.suffix}.json"
        cache, cache_notes = cache_args(settings, p.suffix, caps.cache_export)
        notes += [n for n in cache_notes if n not in notes]
        argv = buildx_build_argv(
            settings,
            context,
            dockerfile,
            (arch_ref,) if settings.push else (),
            (p,),
            args,
            labels,
            metadata,
            attestations=False,
            progress=progress,
            direct_push=caps.direct_push,
            cache=cache,
        )
        commands.append(Command(f"build {p}", argv, passthrough=True, platform=p, metadata=metadata))
    docker_config = f"{workdir}/docker-config" if settings.push else None
    if settings.push:
        for ref in refs:
            commands += manifest_commands(ref, image, settings.platform, "publish", str(docker_config))
        for tag in common["moving_tags"]:
            commands += manifest_commands(f"{image}:{tag}", image, settings.platform, "promote", str(docker_config))
    clean = tuple(r for _, r in arch_refs) if settings.clean_arch_tags and settings.push else ()
    if settings.push and not clean:
        notes.append(f"per-platform tags kept: {', '.join(r for _, r in arch_refs)} (--clean-arch-tags removes them)")
    return Plan(
        strategy=strategy[0],
        reason=strategy[1],
        commands=tuple(commands),
        notes=tuple(notes),
        arch_refs=tuple(arch_refs),
        docker_config=docker_config,
        clean_tags=clean,
        **common,
    )


def manifest_commands(
    ref: str, image: str, platforms: tuple[Platform, ...], phase: str, docker_config: str
) -> list[Command]:
    """docker manifest rm/create/annotate/push for REF, pinned to the per-platform digests."""
    env = (("DOCKER_CONFIG", docker_config),)
    insecure = ["--insecure"] if Reference.parse(ref).is_loopback else []
    tag = ref.rsplit(":", 1)[1]
    members = [f"{image}@{{digest:{p}}}" for p in platforms]
    out = [
        Command(f"forget list {tag}", ("docker", "manifest", "rm", ref), phase, env=env, may_fail="No such manifest"),
        Command(f"create list {tag}", ("docker", "manifest", "create", *insecure, ref, *members), phase, env=env),
    ]
    for p, member in zip(platforms, members, strict=True):
        argv = ["docker", "manifest", "annotate", ref, member, "--os", p.os, "--arch", p.arch]
        if p.variant:
            argv += ["--variant", p.variant]
        out.append(Command(f"annotate {tag} {p}", tuple(argv), phase, env=env))
    out.append(Command(f"push list {tag}", ("docker", "manifest", "push", *insecure, "--purge", ref), phase, env=env))
    return out
