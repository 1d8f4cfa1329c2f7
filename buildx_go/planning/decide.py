"""Pure: what to build and how, from the settings, the project's facts and the machine's.

In: ``Settings``, ``ProjectFacts`` (go.mod, sources, the user's Dockerfile, git, version)
and ``MachineFacts`` (builder, host Go, existing tags), gathered by facts.py. Out: a
``Decision``: the Dockerfile BuildKit gets and why, the strategy and why, the refs and the
moving tags, the lints and notes. plan.py turns a Decision into commands. Nothing here
touches docker, a registry, git, a process or a file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, cast

import attrs
from packaging.version import InvalidVersion, Version

from buildx_go.config import Settings
from buildx_go.dockerfile.adapt import Lint, adapt, lint, needs_adapting, toolchain_stages, unbuildable
from buildx_go.dockerfile.generate import CROSS, GO_MODULE_ARGS, GenerateOptions, generate_dockerfile
from buildx_go.dockerfile.parse import Dockerfile
from buildx_go.dockerfile.stages import base_image, go_stages
from buildx_go.dockerfile.stages import style as stages_style
from buildx_go.dockerfile.stages import summary as stages_summary
from buildx_go.engine.builder import DEFAULT_BUILDER_NAME, BuilderCaps, NewBuilder, Placement, Preflight
from buildx_go.errors import EngineError, InputError
from buildx_go.planning.hostgo import HostGo, check_host_go
from buildx_go.planning.tags import as_tag, moving_tags
from buildx_go.platforms import Platform
from buildx_go.project.gitinfo import GIT_TIMEOUT
from buildx_go.project.gomod import GoProject, MainPackage
from buildx_go.refs import valid_tag
from buildx_go.verify.binary import BinaryFacts, binary_problems

StrategyName = Literal["buildx", "manifest", "host"]
Packaging = Literal["buildx", "manifest"]
Source = Literal["generated", "user", "adapted"]
Style = Literal["generated", "buildx", "goarch-recipe", "other", "host"]


@attrs.frozen
class DockerfileChoice:
    """Which Dockerfile BuildKit gets and why."""

    source: Source
    path: str | None  # the user's file; plan.py points it at the workdir copy BuildKit reads
    style: Style
    text: str
    cgo: bool = False  # a generated Dockerfile that compiles cgo (CGO_ENABLED=1, cross toolchains)


@attrs.frozen
class UserDockerfile:
    path: Path
    text: str


@attrs.frozen
class ProjectFacts:
    """What the project is (gathered by facts.py)."""

    go: GoProject
    dockerfile: UserDockerfile | None  # the project's own, if any
    ignore_rules: str | None  # the .dockerignore BuildKit would read
    git: Mapping[str, str]  # revision, created, source, version (gitinfo.git_facts)
    version: str | None  # printed by --version-from, else from git describe
    native: Platform  # the build platform assumed for planning (this host's)
    version_not_run: str | None = None  # a config file's --version-from, not run by plan/--dry-run
    prebuilt: tuple[Prebuilt, ...] = ()  # per-platform binaries the user's Dockerfile copies from the context
    build_files: tuple[tuple[str, str], ...] = ()  # ("make:Makefile", text): what its Go stages run
    work_problem: InputError | None = None  # what go would refuse in the go.work the context carries


@attrs.frozen
class Prebuilt:
    """A binary the Dockerfile copies from the build context for one platform."""

    platform: Platform
    where: str  # Dockerfile:LINE
    source: str  # the COPY's source for that platform, e.g. dist/linux/arm64/app
    found: bool
    facts: BinaryFacts | None  # None: not an ELF binary (or not found)
    undeclared: tuple[str, ...] = ()  # platform ARGs it uses without declaring them (so empty)


@attrs.frozen
class MachineFacts:
    """What the machine offers (gathered by facts.py, each only when the decision needs it)."""

    builder: Preflight | None = None
    host_go: HostGo | None = None
    existing_tags: tuple[str, ...] | None = None
    host_context: str | None = None  # the host strategy's stable context directory
    new_builder: NewBuilder | None = None  # --create-builder: what to create (it does not exist yet)
    host_cc: tuple[tuple[str, str], ...] = ()  # host strategy, cgo: (arch, the host's C compiler for it)
    apt: tuple[tuple[str, bool | None, str], ...] = ()  # (image, has apt-get, how told): cgo toolchain images
    go_image_env: tuple[str, ...] | None = None  # --go-image's config Env (None: not read)


@attrs.frozen
class Needs:
    """Which machine facts the decision depends on for these settings."""

    builder: bool
    host_go: bool
    tags: bool


@attrs.frozen
class Strategy:
    name: StrategyName
    reason: str
    packaging: Packaging  # how images are made: one buildx run, or per platform + manifest list


@attrs.frozen
class Decision:
    settings: Settings
    project: ProjectFacts
    dockerfile: DockerfileChoice
    adaptations: tuple[str, ...]  # what deriving the user's ARG GOARCH Dockerfile changed
    lints: tuple[Lint, ...]
    strategy: Strategy
    refs: tuple[str, ...]
    moving: tuple[str, ...]
    emulated: tuple[Platform, ...]  # targets whose final stage RUNs under QEMU
    caps: BuilderCaps
    builder: str | None  # --builder, or the one --create-builder makes; None: the current one
    new_builder: NewBuilder | None  # created by the plan's setup phase before anything else
    placement: tuple[Placement, ...]  # which builder node builds each platform, and how
    mains: tuple[MainPackage, ...]  # generated Dockerfile and host strategy: the binaries
    host: HostGo | None
    host_context: str | None
    notes: tuple[str, ...]
    network: str | None = None  # RUN steps' network (--network, or host on an engine without a bridge)
    host_cc: tuple[tuple[str, str], ...] = ()  # host strategy with cgo: (arch, its C compiler)

    @property
    def image(self) -> str:
        return self.refs[0].rsplit(":", 1)[0]

    @property
    def version_tag(self) -> str:
        return self.refs[0].rsplit(":", 1)[1]


def needs(settings: Settings) -> Needs:
    """Builder facts for auto/host (the strategy), --create-builder, pushes and cache
    exports (their commands depend on the driver); the host's Go for the host strategy;
    the repository's tags for moving tags."""
    builder = settings.strategy in ("auto", "host") or settings.create_builder or settings.push
    builder = builder or settings.cache != "none" or bool(settings.cache_to)
    host = settings.strategy == "host" or (settings.strategy == "auto" and settings.host_go)
    return Needs(builder, host, settings.latest or settings.floating)


def toolchain_images(settings: Settings, project: ProjectFacts) -> tuple[tuple[str, str], ...]:
    """(image, what it is for) of each image a C cross toolchain will be installed in with
    apt-get: the generated Dockerfile's Go image when cgo is on, the root image of each Go
    stage adaptation gives one."""
    choice, _, _ = choose_dockerfile(settings, project)
    if choice.source == "generated":
        return ((go_image(settings, project.go), "--go-image"),) if choice.cgo else ()
    if choice.source != "adapted" or project.dockerfile is None:
        return ()
    df = Dockerfile.parse(project.dockerfile.text, str(project.dockerfile.path))
    where = os.path.relpath(project.dockerfile.path, project.go.root)
    return tuple(
        (base_image(df, g.root), f"{where}:{g.root.head.line}, stage {g.name}")
        for g in toolchain_stages(df, project.go.cgo_files, dict(project.build_files))
    )


def refuse_without_apt(machine: MachineFacts, used_for: dict[str, str]) -> None:
    """A C cross toolchain cannot be installed in an image without apt-get: exit 2 before
    building, naming the image."""
    for image, has_apt, how in machine.apt:
        if has_apt is False:
            raise InputError(
                f"{used_for.get(image, image)}: cgo needs a C cross toolchain for each target, which buildx-go "
                f"installs with apt-get, and {image} has none ({how})",
                "use a Debian-based Go image (the official golang:<version>, e.g. golang:1.27-bookworm), "
                "or --cgo off (CGO_ENABLED=0)",
            )


def go_image_too_old(needed: Version | None, env: tuple[str, ...]) -> str | None:
    """Why a Go image whose config has ENV cannot build a go.mod whose go line is NEEDED: its
    Go (GOLANG_VERSION, as the official images say) is older and GOTOOLCHAIN=local keeps go
    from fetching a newer one (go: "go.mod requires go >= ..."); None when it can, or when the
    image does not say."""
    values = dict(item.split("=", 1) for item in env if "=" in item)
    have = values.get("GOLANG_VERSION", "")
    try:
        version = Version(have)
    except InvalidVersion:
        return None
    if needed is None or version >= needed or values.get("GOTOOLCHAIN") != "local":
        return None
    return f"its Go is {have} (GOTOOLCHAIN=local: it fetches no other), but go.mod needs go >= {needed}"


def go_image(settings: Settings, go: GoProject) -> str:
    """--go-image, else the official golang image of go.mod's go version."""
    return settings.go_image or f"golang:{go.module.go_minor or '1'}"


def decide(settings: Settings, project: ProjectFacts, machine: MachineFacts) -> Decision:
    refuse_without_apt(machine, dict(toolchain_images(settings, project)))
    choice, mains, changes = choose_dockerfile(settings, project)
    if choice.source == "generated" and machine.go_image_env is not None:
        older = go_image_too_old(project.go.module.go, machine.go_image_env)
        if older:
            raise InputError(
                f"--go-image {settings.go_image}: {older}", "use a Go image that new, or lower go.mod's go line"
            )
    lints = dockerfile_lints(settings, project, choice, mains)
    strategy, host, host_note = choose_strategy(settings, project, choice, machine)
    refs = image_refs(settings, project.version, project.git)
    moving, why = moving_tags(refs[0].rsplit(":", 1)[1], _listed(machine), settings.latest, settings.floating)
    notes = []
    if settings.latest or settings.floating:
        notes.append(f"moving tags {', '.join(moving) or 'none'}: {why}")
    if host_note:
        notes.append(host_note)
    notes += ignored_flags(settings, choice)
    if choice.source == "generated":
        cgo_note = cgo_choice(settings, project.go, mains)[1]
        notes += [cgo_note] if cgo_note else []
    network, network_note = run_network(settings, machine.builder)
    notes += [network_note] if network_note else []
    if project.version_not_run:
        notes.append(
            f"version: {project.version_not_run!r} comes from the project's config file and plan/--dry-run never "
            f"run a project's commands: the tag {VERSION_PLACEHOLDER!r} stands for what it prints (or pass --tag)"
        )
    emulated: tuple[Platform, ...] = ()
    if any(item.code == "run-needs-emulation" for item in lints):
        emulated = tuple(p for p in settings.platform if p.arch != project.native.arch)
    caps = machine.builder.caps() if machine.builder is not None else BuilderCaps()
    if strategy.name == "host":
        mains = mains or (project.go.main_for(None),)
    return Decision(
        settings=settings,
        project=project,
        dockerfile=choice,
        adaptations=changes,
        lints=lints,
        strategy=strategy,
        refs=refs,
        moving=moving,
        emulated=emulated,
        caps=caps,
        builder=settings.builder or (DEFAULT_BUILDER_NAME if settings.create_builder else None),
        new_builder=machine.new_builder,
        placement=tuple(machine.builder.placement(settings.platform)) if machine.builder else (),
        mains=mains,
        host=host,
        host_context=machine.host_context if strategy.name == "host" else None,
        network=network,
        host_cc=machine.host_cc if strategy.name == "host" else (),
        notes=tuple(notes),
    )


CGO_BASE_IMAGE = "gcr.io/distroless/base-debian12:nonroot"  # glibc, for dynamically linked cgo binaries


def cgo_choice(settings: Settings, go: GoProject, mains: tuple[MainPackage, ...]) -> tuple[bool, str | None]:
    """(cgo on for the generated Dockerfile, a note saying why)."""
    answer = go.cgo_for(mains)
    source = settings.sources.get("cgo", "default")
    if settings.cgo == "on":
        return True, f"cgo on ({source}): C cross-compiled natively with Debian's toolchain for each target"
    if settings.cgo == "off":
        return False, None  # a cgo-disabled lint says so when a main needs it
    if answer.verdict == "yes":
        return True, (
            f'cgo on: {answer.why} imports "C"; C cross-compiled natively with Debian\'s toolchain for each '
            "target (--cgo off to build without it)"
        )
    if answer.verdict == "unknown":
        return False, f"cgo off, as far as can be told: a main {answer.why} (--cgo on if it needs cgo)"
    return False, None


def runtime_base(settings: Settings, cgo: bool) -> str:
    """--base-image; by default a glibc base for a dynamically linked cgo binary."""
    if cgo and not settings.cgo_static and settings.sources.get("base_image", "default") == "default":
        return CGO_BASE_IMAGE
    return settings.base_image


def run_network(settings: Settings, pre: Preflight | None) -> tuple[str | None, str | None]:
    """RUN steps' network: --network as given; else, on a docker-driver builder whose engine
    has no bridge network (daemon.json `"bridge": "none"`), host, with a note saying so
    (BuildKit would fail with "network bridge not found")."""
    if settings.network:
        return settings.network, None
    builder = pre.builder if pre is not None else None
    if pre is not None and builder is not None and builder.driver == "docker" and pre.engine.bridge is False:
        note = "the engine has no bridge network: RUN steps use the host network (--network host); --network overrides"
        return "host", note
    return None, None


GENERATED_ONLY = ("main", "entrypoint", "go_image", "base_image", "version_var", "goprivate")


def ignored_flags(settings: Settings, choice: DockerfileChoice) -> list[str]:
    """Notes for the options only a generated Dockerfile uses, given while the project's own is."""
    if choice.source == "generated":
        return []
    out = []
    for name in GENERATED_ONLY:
        source = settings.sources.get(name, "default")
        if source == "default":
            continue
        what = f"{source}: ignored, the project's own Dockerfile ({choice.path}) is used; --generate uses buildx-go's"
        if name == "version_var":
            passed = "VERSION" in Dockerfile.parse(choice.text).args_declared()
            what += "; the version reaches it as the build arg VERSION" + (
                "" if passed else " only if it declares ARG VERSION"
            )
        out.append(what)
    if settings.tags and settings.sources.get("tags", "default") != "default":
        out.append(
            f"{settings.sources['tags']}: used to find the main packages; the project's own Dockerfile decides "
            "its own go build flags"
        )
    return out


def check_inputs(settings: Settings, project: ProjectFacts, command: str) -> None:
    """Refuse what the settings and the project alone show to be wrong (the Dockerfile, the
    main package, the image and its tags): before any docker call."""
    choice, _, _ = choose_dockerfile(settings, project)
    if project.dockerfile is not None and choice.source != "generated":  # the user's file is built
        from buildx_go.dockerfile.check import check_dockerfile

        path = str(project.dockerfile.path)
        check_dockerfile(Dockerfile.parse(project.dockerfile.text, path), path)
    prebuilt_problems(settings, project.prebuilt)
    compiled_on_host = settings.strategy == "host" or settings.host_go  # go there sees beside the project
    if project.work_problem and choice.source == "generated" and not compiled_on_host:
        raise project.work_problem  # go builds with it in the generated Go stage (COPY . .)
    if command != "dockerfile":
        image_refs(settings, project.version, project.git)


def prebuilt_problems(settings: Settings, prebuilt: tuple[Prebuilt, ...]) -> None:
    """A binary copied from the context must be there, and each platform's must be for it
    (verify's checks, before anything is built): else exit 2 naming it. One file copied for
    every platform can be right for one machine only."""
    hint = "build the binaries for each platform first, or let buildx-go compile the project: --generate"
    for p in prebuilt:
        names = " ".join(p.undeclared)
        why = f" ({names} is empty: the stage does not declare ARG {names})" if names else ""
        if not p.found:
            raise InputError(
                f"{p.where}: COPY {p.source} for {p.platform}: no such file in the build context{why}", hint
            )
        if p.facts is None:
            continue  # not a binary (a script, a config file): nothing to compare
        problems = binary_problems(p.platform, p.facts, allow_non_go=True)
        if not problems:
            continue
        if any(q.source == p.source and q.platform != p.platform for q in prebuilt):
            raise InputError(
                f"{p.where}: COPY {p.source}: every platform gets this one file, {p.facts.describe()}, "
                f"which is wrong for {p.platform}{why}",
                "copy one binary per platform (e.g. bin/$TARGETARCH/app, with ARG TARGETARCH), "
                "or let buildx-go compile the project: --generate",
            )
        raise InputError(f"{p.where}: COPY {p.source} for {p.platform}: {problems[0]}{why}", hint)


def _listed(machine: MachineFacts) -> list[str] | None:
    return list(machine.existing_tags) if machine.existing_tags is not None else None


def choose_dockerfile(
    settings: Settings, project: ProjectFacts
) -> tuple[DockerfileChoice, tuple[MainPackage, ...], tuple[str, ...]]:
    """(choice, the mains a generated Dockerfile builds, the adaptation's changes)."""
    user = project.dockerfile
    go = project.go
    if user is None or settings.generate:
        mains = chosen_mains(settings, go)
        cgo, _ = cgo_choice(settings, go, mains)
        options = GenerateOptions(
            go_image(settings, go),
            runtime_base(settings, cgo),
            mains,
            go.module.path,
            go.vendored,
            settings.version_var,
            settings.tags,
            goprivate=settings.goprivate,
            netrc="netrc" in settings.secret_ids(),
            ssh=bool(settings.ssh),
            go_args=tuple(k for k in settings.build_args() if k in GO_MODULE_ARGS),
            cgo=cgo,
            cgo_packages=settings.cgo_package,
            cgo_static=settings.cgo_static,
        )
        return DockerfileChoice("generated", None, "generated", generate_dockerfile(options), cgo), mains, ()
    parsed = Dockerfile.parse(user.text, str(user.path))
    found = go_stages(parsed)
    style = cast(Style, stages_style(parsed, found))
    relative = os.path.relpath(user.path, go.root)
    stuck = unbuildable(parsed, go.cgo_files, dict(project.build_files)) if settings.adapt else None
    if stuck is not None:
        g, why = stuck
        raise InputError(
            f"{relative}:{g.stage.head.line}: stage {g.name} compiles cgo ({why}) on $BUILDPLATFORM with "
            f"{base_image(parsed, g.root)}, which has no Debian cross toolchain to add: every image would get a "
            "binary for the build platform",
            "use a Debian-based Go image in that stage (golang:<version>, not -alpine), set CGO_ENABLED=0, "
            "or build with --generate",
            location=(str(user.path), g.stage.head.line),
        )
    if settings.adapt and (style == "goarch-recipe" or needs_adapting(found)):
        adaptation = adapt(parsed, relative, go.cgo_files, settings.cgo_package, dict(project.build_files))
        if adaptation.changes:
            return DockerfileChoice("adapted", str(user.path), style, adaptation.text), (), adaptation.changes
    return DockerfileChoice("user", str(user.path), style, parsed.text), (), ()


def chosen_mains(settings: Settings, go: GoProject) -> tuple[MainPackage, ...]:
    """The main packages a generated Dockerfile builds (--main, repeated or `all`; else the
    only one), the one the image starts (--entrypoint, else the first) first."""
    if "all" in settings.main:
        mains = go.mains or (go.main_for(None),)
    else:
        mains = tuple(dict.fromkeys(go.main_for(m) for m in settings.main)) or (go.main_for(None),)
    if settings.entrypoint:
        first = [m for m in mains if m.binary == settings.entrypoint or m.path == settings.entrypoint]
        if not first:
            built = ", ".join(m.binary for m in mains)
            raise InputError(
                f"{settings.sources.get('entrypoint', '--entrypoint')}: {settings.entrypoint!r} is not one of the "
                f"binaries built ({built})",
                "name one of them, or add its package with --main",
            )
        mains = (first[0], *(m for m in mains if m is not first[0]))
    return mains


def dockerfile_lints(
    settings: Settings, project: ProjectFacts, choice: DockerfileChoice, mains: tuple[MainPackage, ...] = ()
) -> tuple[Lint, ...]:
    parsed = Dockerfile.parse(choice.text, choice.path or "generated Dockerfile")
    if choice.source == "adapted" and project.dockerfile is not None:
        parsed = Dockerfile.parse(project.dockerfile.text, str(project.dockerfile.path))
    cgo_files = project.go.cgo_files
    if choice.source == "generated":  # its cgo was chosen from the mains' import graph (choice.cgo)
        answer = project.go.cgo_for(mains)
        cgo_files = (answer.why,) if answer.verdict == "yes" and not choice.cgo else ()
    return lint(
        parsed,
        settings.platform,
        project.native,
        adapted=choice.source != "user" or settings.adapt,
        cgo_files=cgo_files,
        generated=choice.source == "generated",
        build_files=dict(project.build_files),
    )


def choose_strategy(
    settings: Settings, project: ProjectFacts, choice: DockerfileChoice, machine: MachineFacts
) -> tuple[Strategy, HostGo | None, str | None]:
    """(strategy, the host's Go when it compiles, a note on a host strategy left unused)."""
    host, why, note = host_strategy(settings, project, choice, machine)
    if host is not None and why is not None:
        pre = machine.builder
        multi = pre is None or len(settings.platform) == 1 or pre.multi_platform()[0]
        multi = multi and not single_manifest(settings, pre)
        return Strategy("host", why, "buildx" if multi else "manifest"), host, None
    return builder_strategy(settings, machine.builder, go_work(choice)), None, note


def go_work(choice: DockerfileChoice) -> str:
    """How the chosen Dockerfile compiles Go, as found in it."""
    if choice.source == "generated":
        return GENERATED_WORK
    return stages_summary(Dockerfile.parse(choice.text, choice.path or "Dockerfile"))


GENERATED_WORK = "the Go stage cross-compiling natively"


def builder_strategy(settings: Settings, pre: Preflight | None, work: str = GENERATED_WORK) -> Strategy:
    """--strategy manifest or buildx as asked (buildx refused where the builder cannot build
    several platforms in one run: exit 3), or auto's choice from the builder's facts."""
    requested, source = settings.strategy, settings.sources.get("strategy", "default")
    if requested == "manifest":
        return Strategy(
            "manifest", f"asked for ({source} manifest): per-platform builds, then a docker manifest list", "manifest"
        )
    single = single_manifest(settings, pre)
    if requested == "buildx":
        multi, reason = pre.multi_platform() if pre is not None else (True, "")
        if len(settings.platform) > 1 and not multi:
            raise EngineError(f"{source} buildx: {reason}", "use --strategy auto (or manifest), or another --builder")
        if single:
            raise EngineError(f"{source} buildx: {single}", "use --strategy auto (or manifest), or another --builder")
        return Strategy("buildx", f"asked for ({source} buildx): one buildx run builds every platform", "buildx")
    if pre is None:
        raise ValueError("strategy auto needs the builder facts")
    multi, reason = pre.multi_platform()
    if single:
        return Strategy("manifest", f"{single}: a build, then a docker manifest list", "manifest")
    if len(settings.platform) == 1:
        return Strategy("buildx", "one platform: one buildx run", "buildx")
    nodes = pre.builder.nodes if pre.builder else ()
    if multi and len(nodes) > 1:
        where = "; ".join(p.describe() for p in pre.placement(settings.platform))
        why = f"{reason}, {len(nodes)} nodes ({where}): one buildx run, each platform on its node"
        return Strategy("buildx", why, "buildx")
    if multi:
        why = f"{reason}: one buildx run builds every platform; {work}"
        return Strategy("buildx", why, "buildx")
    return Strategy("manifest", f"{reason}: per-platform builds, then a docker manifest list", "manifest")


def single_manifest(settings: Settings, pre: Preflight | None) -> str | None:
    """Why one buildx run would publish a single manifest where a verified push needs an
    index: one platform on the docker driver with the classic image store (no attestations,
    no index). None where it would not."""
    if pre is None or pre.builder is None or len(settings.platform) != 1 or not (settings.push and settings.verify):
        return None
    if settings.format == "bake":  # bake does not verify: its file is one buildx run either way
        return None
    if pre.caps().attestations:
        return None
    name = pre.builder.name
    return f"builder {name!r} (docker driver, classic image store) pushes one platform as one manifest, not an index"


def host_c_compiler(platform: Platform, native: Platform) -> str:
    """The C compiler that builds PLATFORM's cgo on this host: gcc for its own architecture,
    Debian's cross gcc (aarch64-linux-gnu-gcc, ...) for the others."""
    if platform.arch == native.arch:
        return "gcc"
    return f"{CROSS[platform.arch][1]}-gcc" if platform.arch in CROSS else f"a {platform.arch} cross gcc"


def host_strategy(
    settings: Settings, project: ProjectFacts, choice: DockerfileChoice, machine: MachineFacts
) -> tuple[HostGo | None, str | None, str | None]:
    """(host Go, reason, None) when the host strategy is asked for (--strategy host) or
    allowed (host_go with strategy auto) and possible; (None, None, note) otherwise."""
    if not needs(settings).host_go:
        return None, None, None
    cgo = choice.cgo
    compilers = dict(machine.host_cc)
    missing = [host_c_compiler(p, project.native) for p in settings.platform if p.arch not in compilers]
    if cgo and missing:
        why = f"cgo is on, and the host lacks the C compilers {', '.join(missing)} (the buildx run brings its own)"
        if settings.strategy == "host":
            wanted = [p.arch for p in settings.platform if p.arch not in compilers and p.arch in CROSS]
            packages = " ".join(CROSS[a][2] for a in wanted) or "a C cross compiler"
            raise EngineError(f"--strategy host: {why}", f"install {packages}, use --strategy auto, or --cgo off")
        return None, None, f"host_go ({settings.sources.get('host_go', 'default')}): not used, {why}"
    if settings.strategy == "host":
        if choice.source != "generated":
            raise InputError(
                f"--strategy host: the project has its own Dockerfile ({choice.path}), which host builds do not use",
                "use --strategy auto, or build from the generated Dockerfile (no Dockerfile in the project)",
            )
        host = check_host_go(machine.host_go, project.go)
        source = settings.sources.get("strategy", "default")
        return host, f"asked for ({source} host): the host's Go {host.version} compiles, BuildKit packages", None
    source = settings.sources.get("host_go", "default")
    need = project.go.module.go
    found = machine.host_go
    if choice.source != "generated":
        return None, None, f"host_go ({source}): not used, the project has its own Dockerfile"
    if found is None or (need is not None and found.version < need):
        have = f"Go {found.version}" if found else "no Go toolchain"
        return None, None, f"host_go ({source}): not used, the host has {have} (go.mod wants {need})"
    return found, f"host_go is set ({source}) and the host's Go {found.version} satisfies go.mod's go {need}", None


VERSION_PLACEHOLDER = "version-from"  # plan's stand-in for a version command it did not run


def image_refs(settings: Settings, version: str | None, git: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """IMAGE:TAG for each --tag, else for the version (from --version-from or git)."""
    if not settings.image:
        raise InputError("--image: no image repository given", "e.g. --image registry.example.com/team/app")
    tags = settings.tag or ((as_tag(version),) if version else ())
    if not tags:
        unanswered = set((git or {}).get("unanswered", "").split()) & {"rev-parse", "describe"}
        why = f" (git could not run, or did not finish within {GIT_TIMEOUT:g} s)" if unanswered else ""
        raise InputError(
            f"--tag: no tag given and none could be derived{why}", "pass --tag 1.2.3 (or tag the git commit)"
        )
    if not valid_tag(tags[0]):
        raise InputError(
            f"--tag: the version {version!r} (from --version-from or git describe) is not a valid tag",
            "tags are [A-Za-z0-9_.-], at most 128, not starting with . or -: pass --tag",
        )
    return tuple(f"{settings.image}:{t}" for t in tags)
