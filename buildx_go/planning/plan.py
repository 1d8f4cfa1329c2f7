"""Pure planning: a Decision -> a Plan (commands as plain data).

``buildx-go plan`` prints a Plan, ``build --dry-run`` prints its commands, and ``build``
executes exactly those commands: nothing reaches docker that is not in the plan.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import attrs

from buildx_go.dockerfile.generate import GO_MODULE_ARGS
from buildx_go.engine.builder import NewBuilder, Placement, several_nodes
from buildx_go.planning.argv import (
    Build,
    Target,
    buildx_build_argv,
    cache_args,
    context_ignore,
    imagetools_create,
    oci_labels,
)
from buildx_go.planning.decide import Decision, DockerfileChoice, Packaging, StrategyName, runtime_base
from buildx_go.planning.inputs import ANNOTATION, Inputs, inputs_of
from buildx_go.platforms import Platform
from buildx_go.redact import PUBLIC_BUILD_ARGS, redact_argv
from buildx_go.refs import Reference

PLAN_SCHEMA = 1
Phase = Literal["setup", "compile", "build", "publish", "promote"]
PHASES: tuple[Phase, ...] = ("setup", "compile", "build", "publish", "promote")


@attrs.frozen
class Command:
    """One docker (or host go) invocation.

    Phases: ``setup`` (--create-builder: the builder), ``compile`` (host strategy: `go build`
    per platform, side by side), then ``build`` (the manifest packaging's per-platform builds
    side by side); ``publish`` once what was
    built is verified (version tags, or the manifest strategy's lists, from the verified
    digests); ``promote`` once the version's index is verified. ``{digest}`` in argv is the
    version index's digest, ``{digest:PLATFORM}`` a per-platform image's (known at run time).
    """

    purpose: str
    argv: tuple[str, ...]
    phase: Phase = "build"
    passthrough: bool = False  # its progress display goes on to the user's stderr
    env: tuple[tuple[str, str], ...] = ()  # added to the environment
    platform: Platform | None = None  # a per-platform build
    metadata: str | None = None  # its --metadata-file
    may_fail: str | None = None  # stderr text that only means "nothing to do"
    cwd: str | None = None  # runs there (host strategy's `go build`: the module root)
    terminal: str = "never"  # never | auto | always: its stderr gets a terminal (BuildKit's live display)
    moves: str | None = None  # promote: the moving tag it writes (decided again just before)
    shown: tuple[str, ...] = ()  # argv as it may be shown (build-arg values masked): see Plan.redacted
    # the tags buildx-go writes itself, a manifest PUT each of argv's last argument (an index
    # by digest, in the same repository): argv's result, without starting docker
    writes: tuple[str, ...] = ()

    @property
    def displayed(self) -> tuple[str, ...]:
        """ARGV as plans, dry runs and events show it: non-public build-arg values as KEY=***."""
        return self.shown or self.argv

    def shell(self) -> str:
        """The command as a person would type it (for display only: never executed so)."""
        text = shlex.join([f"{k}={v}" for k, v in self.env] + list(self.displayed))
        return f"cd {shlex.quote(self.cwd)} && {text}" if self.cwd else text


@attrs.frozen
class Plan:
    strategy: StrategyName
    reason: str
    project: str
    module: str
    platforms: tuple[Platform, ...]
    refs: tuple[str, ...]
    dockerfile: DockerfileChoice  # its path is the file BuildKit reads (in the workdir)
    user_dockerfile: str | None  # the project's own Dockerfile BuildKit's copy comes from, if any
    commands: tuple[Command, ...]
    metadata_file: str
    verify: bool
    moving_tags: tuple[str, ...]
    notes: tuple[str, ...]
    emulated: tuple[Platform, ...]  # targets whose final stage RUNs under QEMU
    builder: str | None
    packaging: Packaging
    dockerignore: str  # written beside the Dockerfile (<Dockerfile>.dockerignore)
    context: str | None = None  # the build context, when it is not the project (host strategy)
    pin_base: str | None = None  # host strategy: the runtime base, pinned per platform at run time
    push_by_digest: bool = False  # buildx strategy: pushed untagged, tagged by `publish` once verified
    staging: str | None = None  # buildx strategy, no push by digest: the tag pushed, verified, then published
    arch_refs: tuple[tuple[str, str], ...] = ()  # manifest strategy: (platform, per-platform ref)
    docker_config: str | None = None  # manifest strategy: this run's own docker config dir
    clean_tags: tuple[str, ...] = ()  # per-platform refs to delete once all is published
    builder_config: str | None = None  # setup: the new builder's buildkitd.toml (plain-http registries)
    placement: tuple[Placement, ...] = ()  # which builder node builds each platform, and how
    allow_non_go: bool = False  # verification accepts a non-Go entrypoint (--allow-non-go)
    mains: tuple[str, ...] = ()  # generated Dockerfile and host strategy: the main packages built
    adaptations: tuple[str, ...] = ()  # what deriving the user's Dockerfile changed
    private_args: tuple[str, ...] = ()  # build args whose values are not shown (redact.py)
    inputs: Inputs | None = None  # what decides the image, put on the index it pushes (inputs.py)
    inputs_why: str | None = None  # why the build records no inputs (and so never skips)
    check_push: bool = False  # ask the registry whether this account may push, before building

    @property
    def image(self) -> str:
        return self.refs[0].rsplit(":", 1)[0]

    @property
    def tagged_after_verify(self) -> bool:
        """The build writes no version tag: they are written once what it pushed is verified."""
        return self.push_by_digest or self.staging is not None

    @property
    def index_at(self) -> str:
        """Where the build's index is read by its digest: the image, or, when the build writes
        the version tags itself, the first of them."""
        return self.image if self.tagged_after_verify else self.refs[0]

    @property
    def several_nodes(self) -> bool:
        return several_nodes(self.placement)

    def phase(self, name: Phase) -> list[Command]:
        return [c for c in self.commands if c.phase == name]

    def not_recorded(self) -> str | None:
        """Why this plan's build cannot be told from its inputs (so a rerun always builds), or
        None: one buildx build of the project's own context, pushed, verified, with
        provenance (it names the base images the build resolved), no secret or ssh source
        (what they give is not in the context)."""
        builds = self.phase("build")
        if self.packaging != "buildx" or len(builds) != 1:
            return "several builds (the manifest strategy)"
        if self.phase("compile"):
            return "the host strategy compiles the context first"
        argv = builds[0].argv
        if not self.verify:
            return "not pushed and verified (--push, not --no-verify)"
        if "--provenance=true" not in argv:
            return "no provenance: the base images the build resolved are not known"
        if "--secret" in argv or "--ssh" in argv:
            return "--secret or --ssh: what they give the build is not in its context"
        return None

    def with_inputs(self, context: str) -> Plan:
        """This plan with its inputs (the build context's digest CONTEXT) put on the index
        its build pushes: `--annotation index:dev.buildx-go.inputs=...`."""
        (build,) = self.phase("build")
        labels = dict(build.argv[i + 1].split("=", 1) for i, a in enumerate(build.argv[:-1]) if a == "--label")
        found = inputs_of(build.argv, dict(build.env), self.dockerfile.text, context)
        verified = "allow-non-go" if self.allow_non_go else "strict"  # not_recorded: verified, then tagged
        found = attrs.evolve(found, commit=labels.get("org.opencontainers.image.revision"), verified=verified)
        note = ("--annotation", f"index:{ANNOTATION}={found.to_json()}")
        annotated = attrs.evolve(
            build,
            argv=(*build.argv[:-1], *note, build.argv[-1]),
            shown=(*build.displayed[:-1], *note, build.displayed[-1]),
        )
        commands = tuple(annotated if c is build else c for c in self.commands)
        return attrs.evolve(self, commands=commands, inputs=found)

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON form (documented in docs/reference.md, "plan --format json")."""
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
            "mains": list(self.mains),
            "adaptations": list(self.adaptations),
            "commands": [
                {
                    "purpose": c.purpose,
                    "phase": c.phase,
                    "argv": list(c.displayed),
                    "env": dict(c.env),
                    "cwd": c.cwd,
                    "writes": list(c.writes),
                }
                for c in self.commands
            ],
            "verify": self.verify,
            "moving_tags": list(self.moving_tags),
            "arch_refs": dict(self.arch_refs),
            "clean_tags": list(self.clean_tags),
            "pin_base": self.pin_base,
            "push_by_digest": self.push_by_digest,
            "staging": self.staging,
            "placement": [
                {"platform": str(p.platform), "node": p.node, "declared": p.declared, "how": p.how}
                for p in self.placement
            ],
            "notes": list(self.notes),
            "inputs": self.inputs.to_dict() if self.inputs else None,
            "inputs_not_recorded": self.inputs_why,
        }


@attrs.frozen
class Packaged:
    """The commands that make and publish the images, and what the strategy adds to a Plan."""

    commands: tuple[Command, ...]
    push_by_digest: bool = False
    staging: str | None = None
    arch_refs: tuple[tuple[str, str], ...] = ()
    docker_config: str | None = None
    clean_tags: tuple[str, ...] = ()


def make_plan(decision: Decision, workdir: str) -> Plan:
    """The commands that carry DECISION out, their files in WORKDIR."""
    s = decision.settings
    build, compiles = build_inputs(decision, workdir)
    notes = [f"{lint.code}: {lint.message}" for lint in decision.lints] + list(decision.notes)
    if not s.push:
        notes.append("not pushing: the result is not verified in a registry (use --push)")
    if decision.strategy.packaging == "manifest":
        packaged = manifest_plan(decision, build, workdir, notes)
    else:
        packaged = buildx_plan(decision, build, workdir, notes)
    host = decision.strategy.name == "host"
    setup, builder_config = builder_setup(decision, workdir)
    packaging_base = runtime_base(s, decision.dockerfile.cgo)
    commands = without_git_info(decision, (*setup, *compiles, *packaged.commands), notes)
    public = PUBLIC_BUILD_ARGS | frozenset(GO_MODULE_ARGS) | frozenset(s.public_build_arg)
    commands = tuple(attrs.evolve(c, shown=tuple(redact_argv(c.argv, public))) for c in commands)
    notes += secret_looking_args(s.build_args(), public)
    return Plan(
        strategy=decision.strategy.name,
        reason=decision.strategy.reason,
        project=str(decision.project.go.root),
        module=decision.project.go.module.path,
        platforms=s.platform,
        refs=decision.refs,
        dockerfile=build.dockerfile,
        user_dockerfile=decision.dockerfile.path,
        commands=commands,
        metadata_file=f"{workdir}/metadata.json",
        verify=s.verify and s.push,
        moving_tags=decision.moving,
        notes=tuple(notes),
        emulated=decision.emulated,
        builder=decision.builder,
        packaging=decision.strategy.packaging,
        dockerignore="# buildx-go, host strategy: the context holds only the binaries\n"
        if host
        else context_ignore(decision.project.ignore_rules, s.include_git),
        context=build.context if host else None,
        pin_base=packaging_base if host and s.pin_base and packaging_base != "scratch" else None,
        push_by_digest=packaged.push_by_digest,
        staging=packaged.staging,
        arch_refs=packaged.arch_refs,
        docker_config=packaged.docker_config,
        clean_tags=packaged.clean_tags,
        builder_config=builder_config,
        placement=decision.placement,
        allow_non_go=s.allow_non_go,
        mains=tuple(m.path for m in decision.mains),
        adaptations=decision.adaptations,
        private_args=tuple(k for k in s.build_args() if k not in public),
        check_push=s.push and s.preflight,
    )


SECRET_NAME = re.compile(r"(?i)pass|secret|token|credential|private|api_?key|auth")


def secret_looking_args(args: dict[str, str], public: frozenset[str]) -> list[str]:
    """A note for each build arg whose name looks like a secret: build args end up in the
    image's provenance (and its history when a RUN uses them); BuildKit secrets do not."""
    return [
        f"build arg {name} looks like a secret: build args are kept in the image's provenance; pass it as a "
        f"BuildKit secret instead (--secret id={name},env={name}, and RUN --mount=type=secret,id={name})"
        for name in args
        if SECRET_NAME.search(name) and name not in public
    ]


def without_git_info(decision: Decision, commands: tuple[Command, ...], notes: list[str]) -> tuple[Command, ...]:
    """When the git remote holds credentials in a shape buildx does not strip (a query token,
    an scp-like user:token@host), buildx must not put its git info in the provenance
    (BUILDX_GIT_INFO=false); the image's source label has the remote without them."""
    if not decision.project.git.get("source_redacted"):
        return commands
    notes.append("git info left out of the provenance (BUILDX_GIT_INFO=false): the git remote holds credentials")
    off = (("BUILDX_GIT_INFO", "false"),)
    return tuple(attrs.evolve(c, env=c.env + off) if c.argv[1:3] == ("buildx", "build") else c for c in commands)


def builder_setup(decision: Decision, workdir: str) -> tuple[tuple[Command, ...], str | None]:
    """--create-builder: `docker buildx create` first (and the buildkitd.toml it reads)."""
    new = decision.new_builder
    if new is None:
        return (), None
    return setup_commands(new, workdir)


def setup_commands(new: NewBuilder, workdir: str) -> tuple[tuple[Command, ...], str | None]:
    """The commands that make NEW (create, append each node, bootstrap), and its config."""
    from buildx_go.engine.builder import buildkitd_config

    config = buildkitd_config(new.http_registries) if new.http_registries else None
    argvs = new.commands(f"{workdir}/buildkitd.toml" if config else None)
    purposes = [f"create builder {new.name}"] + [f"add node {new.name}{i}" for i in range(1, len(new.nodes))]
    purposes += [f"bootstrap builder {new.name}"] if new.nodes else []
    return tuple(Command(p, argv, "setup") for p, argv in zip(purposes, argvs, strict=True)), config


def build_inputs(decision: Decision, workdir: str) -> tuple[Build, tuple[Command, ...]]:
    """The Dockerfile (every one goes to the workdir, the user's unchanged), the context,
    build args and labels; for the host strategy, its compiles and packaging Dockerfile."""
    s = decision.settings
    version = decision.version_tag
    labels = oci_labels(version, decision.project.git)
    path = f"{workdir}/Dockerfile"
    if decision.strategy.name != "host":
        args = build_args(decision)
        chosen = attrs.evolve(decision.dockerfile, path=path)
        return Build(chosen, str(decision.project.go.root), args, labels), ()
    from buildx_go.planning.hostgo import bin_dir, compile_argv, compile_env, packaging_dockerfile

    if decision.host is None or not decision.mains:
        raise ValueError("the host strategy needs the host's Go and the main packages")
    # A stable context (one per project) lets an unchanged binary stay unwritten, so
    # BuildKit's context transfer has nothing to send.
    context = decision.host_context or f"{workdir}/context"
    ccs = dict(decision.host_cc)
    cgo = decision.dockerfile.cgo
    base = runtime_base(s, cgo)
    text = packaging_dockerfile(base, decision.mains, decision.project.go.module.path)
    compiles = tuple(
        Command(
            f"compile {p}",
            compile_argv(
                decision.host.go,
                decision.mains,
                bin_dir(context, p),
                s.version_var,
                version,
                s.tags,
                cgo and s.cgo_static,
            ),
            "compile",
            env=compile_env(p, ccs.get(p.arch) if cgo else None),
            platform=p,
            cwd=str(decision.project.go.root),
        )
        for p in s.platform
    )
    # the version is linked in by the host's go build; the packaging build gets --build-arg only
    args = with_epoch(s.build_args(), decision.project.git)
    return Build(DockerfileChoice("generated", path, "host", text), context, args, labels), compiles


STAGING_TAG = "buildx-go-staging"


def buildx_plan(decision: Decision, build: Build, workdir: str, notes: list[str]) -> Packaged:
    """ONE buildx run for every platform, pushed untagged (by digest) where the builder can,
    else under IMAGE:buildx-go-staging; once it is verified the version tags are written
    (publish), then the moving tags (promote)."""
    s = decision.settings
    if s.clean_arch_tags:
        notes.append("--clean-arch-tags: nothing to clean, the buildx strategy pushes no per-platform tags")
    verified = s.push and s.verify
    by_digest = decision.image if verified and decision.caps.push_by_digest else None
    staging = f"{decision.image}:{STAGING_TAG}" if verified and not by_digest else None
    cache, cache_notes = cache_args(decision, None)
    notes += cache_notes
    refs = (staging,) if staging else decision.refs
    attest = decision.caps.attestations
    if not attest and ((s.provenance and s.sources.get("provenance") != "default") or s.sbom):
        notes.append("attestations left out: the docker driver with the classic image store cannot store them")
    if not attest and s.format == "bake" and s.push and len(s.platform) == 1:
        notes.append(
            "this builder (docker driver, classic image store) pushes one platform as a single manifest, "
            "not an index: buildx-go verify refuses it (buildx-go build publishes a list of one)"
        )
    # quiet, verified, one node: BuildKit's progress is read, not shown (verification begins
    # as it names the index it pushes: run/early.py; several nodes' indexes are merged after)
    read = s.progress == "quiet" and verified and not several_nodes(decision.placement)
    metadata = f"{workdir}/metadata.json"
    target = Target(refs, s.platform, metadata, attest, "plain" if read else None, by_digest=by_digest, cache=cache)
    terminal = {"auto": "auto", "tty": "always"}.get(s.progress, "never")
    argv = buildx_build_argv(decision, build, target)
    commands = [Command("build", argv, passthrough=not read, terminal=terminal)]
    if by_digest or staging:
        tags = [arg for ref in decision.refs for arg in ("--tag", ref)]
        argv = imagetools_create(decision, tags, decision.refs[0])
        commands.append(Command(f"publish {', '.join(decision.refs)}", argv, "publish", writes=decision.refs))
    if staging:
        notes.append(
            f"pushed as {staging} (this builder cannot push by digest), verified, then tagged "
            f"{', '.join(decision.refs)}: that tag keeps the last build pushed this way"
        )
    for tag in decision.moving:
        argv = imagetools_create(decision, ["--tag", f"{decision.image}:{tag}"], decision.refs[0])
        commands.append(Command(f"promote {tag}", argv, "promote", moves=tag, writes=(f"{decision.image}:{tag}",)))
    return Packaged(tuple(commands), push_by_digest=by_digest is not None, staging=staging)


def manifest_plan(decision: Decision, build: Build, workdir: str, notes: list[str]) -> Packaged:
    """Per-platform builds (side by side), then a docker manifest list per tag."""
    s = decision.settings
    if s.output:
        raise_output_refused(decision)
    if (s.provenance and s.sources.get("provenance") != "default") or s.sbom:
        notes.append("attestations left out: a docker manifest list cannot hold provenance or SBOM manifests")
    commands, arch_refs = per_platform_builds(decision, build, workdir, notes)
    docker_config = f"{workdir}/docker-config" if s.push else None
    if docker_config:
        for ref in decision.refs:
            commands += manifest_commands(ref, decision.image, s.platform, "publish", docker_config)
        for tag in decision.moving:
            listed = manifest_commands(f"{decision.image}:{tag}", decision.image, s.platform, "promote", docker_config)
            commands += [attrs.evolve(c, moves=tag) for c in listed]
    clean = tuple(r for _, r in arch_refs) if s.clean_arch_tags and s.push else ()
    if s.push and not clean:
        notes.append(f"per-platform tags kept: {', '.join(r for _, r in arch_refs)} (--clean-arch-tags removes them)")
    return Packaged(tuple(commands), arch_refs=tuple(arch_refs), docker_config=docker_config, clean_tags=clean)


def raise_output_refused(decision: Decision) -> None:
    from buildx_go.errors import InputError

    raise InputError(
        f"--output: the manifest strategy ({decision.strategy.reason}) publishes to a registry only",
        "use --push, or a builder that builds several platforms in one run",
    )


def per_platform_builds(
    decision: Decision, build: Build, workdir: str, notes: list[str]
) -> tuple[list[Command], list[tuple[str, str]]]:
    """One build per platform, pushed as V-<arch> (the recipe's names), with GOARCH & co
    as build args when the user's Dockerfile declares them and is used as is."""
    s = decision.settings
    declared = _args_declared(decision.dockerfile)
    progress = "plain" if len(s.platform) > 1 and s.progress in ("auto", "tty") else s.progress
    commands: list[Command] = []
    arch_refs: list[tuple[str, str]] = []
    for p in s.platform:
        arch_ref = f"{decision.image}:{decision.version_tag}-{p.suffix}"
        arch_refs.append((str(p), arch_ref))
        cache, cache_notes = cache_args(decision, p.suffix)
        notes += [n for n in cache_notes if n not in notes]
        args = {**build.build_args, **{k: v for k, v in p.go_env.items() if k in declared}}
        metadata = f"{workdir}/metadata-{p.suffix}.json"
        target = Target((arch_ref,) if s.push else (), (p,), metadata, False, progress, cache=cache)
        argv = buildx_build_argv(decision, attrs.evolve(build, build_args=args), target)
        commands.append(Command(f"build {p}", argv, passthrough=True, platform=p, metadata=metadata))
    return commands, arch_refs


def build_args(decision: Decision) -> dict[str, str]:
    """VERSION whenever the Dockerfile declares ARG VERSION (a generated Dockerfile committed
    to the project keeps --version-var working), then the user's --build-arg (they win)."""
    from buildx_go.dockerfile.parse import Dockerfile

    declared = Dockerfile.parse(decision.dockerfile.text).args_declared()
    args = {"VERSION": decision.version_tag} if "VERSION" in declared else {}
    args.update(decision.settings.build_args())
    return with_epoch(args, decision.project.git)


def with_epoch(args: dict[str, str], git: Mapping[str, str]) -> dict[str, str]:
    """ARGS with SOURCE_DATE_EPOCH (unless given): $SOURCE_DATE_EPOCH, else the commit's
    time. BuildKit then dates the image config and its history by it, and the output's
    rewrite-timestamp=true its layers' files: two builds of one commit give the same
    platform images (the build cache and RUN steps do not see it)."""
    epoch = source_date_epoch(git)
    if epoch is None or "SOURCE_DATE_EPOCH" in args:
        return args
    return {**args, "SOURCE_DATE_EPOCH": epoch}


def source_date_epoch(git: Mapping[str, str]) -> str | None:
    """The build's time, in seconds: "epoch" (from $SOURCE_DATE_EPOCH), else the commit's
    time ("created", ISO 8601); None outside a git checkout."""
    if git.get("epoch", "").isdigit():
        return git["epoch"]
    try:
        return str(int(datetime.fromisoformat(git["created"]).timestamp())) if git.get("created") else None
    except ValueError:
        return None


def _args_declared(choice: DockerfileChoice) -> set[str]:
    from buildx_go.dockerfile.parse import Dockerfile

    return Dockerfile.parse(choice.text).args_declared() if choice.source == "user" else set()


def manifest_commands(
    ref: str, image: str, platforms: tuple[Platform, ...], phase: Phase, docker_config: str
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
