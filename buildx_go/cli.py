"""argv -> Settings -> Plan -> run. Maps BuildxGoError to exit codes; holds no logic."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from buildx_go import __version__
from buildx_go.builder import BuilderCaps, Preflight, choose_strategy
from buildx_go.config import LOG_FORMATS, Settings, load_config_file, resolve
from buildx_go.errors import BuildxGoError, InputError, Interrupted
from buildx_go.log import activate, configure, get_logger
from buildx_go.plan import Plan
from buildx_go.platforms import Platform

if TYPE_CHECKING:
    from buildx_go.gomod import GoProject, MainPackage
    from buildx_go.hostgo import HostGo
    from buildx_go.plan import DockerfileChoice

EPILOG = """exit codes: 0 ok, 2 bad input or configuration, 3 environment (engine, buildx,
builder), 4 build failed, 5 push/registry failed, 6 verification failed, 130 interrupted.
Every option can also be set as BUILDX_GO_<OPTION> (e.g. BUILDX_GO_PLATFORM) or in the
project's .buildx-go.toml; the command line wins, then the environment, then the file."""


def _build_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", nargs="?", default=".", help="the Go module root (default: .)")
    g = p.add_argument_group("image")
    g.add_argument("--image", help="repository to publish, e.g. localhost:5000/hello")
    g.add_argument(
        "--tag", action="append", help="tag (repeatable; default: --version-from, else `git describe --tags`)"
    )
    g.add_argument("--platform", action="append", help="platforms, comma-separated (default: linux/amd64,linux/arm64)")
    g = p.add_argument_group("Dockerfile")
    g.add_argument(
        "--file", "-f", help="the project's Dockerfile (default: Dockerfile, docker/Dockerfile, else generated)"
    )
    g.add_argument("--main", action="append", help="main package(s) to build, e.g. ./cmd/app (generated Dockerfile)")
    g.add_argument("--go-image", help="Go builder image (default: golang:<go.mod's go version>)")
    g.add_argument("--base-image", help="runtime base image (default: gcr.io/distroless/static-debian12:nonroot)")
    g.add_argument(
        "--no-adapt",
        dest="adapt",
        action="store_const",
        const=False,
        help="use an `ARG GOARCH` Dockerfile as it is (default: derive a cross-compiling one)",
    )
    g.add_argument("--version-var", help="Go variable set to the version with -ldflags -X, e.g. main.version")
    g = p.add_argument_group("build")
    out = g.add_mutually_exclusive_group()
    out.add_argument("--push", action="store_const", const=True, help="push to the registry (then verify)")
    out.add_argument(
        "--load", action="store_const", const=True, help="load into the engine's image store (one platform)"
    )
    out.add_argument("--output", "-o", help="buildx --output value, e.g. type=oci,dest=app.tar")
    g.add_argument(
        "--latest",
        action="store_const",
        const=True,
        help="also move `latest`, if the version is a final release not older than any existing tag",
    )
    g.add_argument("--floating", action="store_const", const=True, help="also move X and X.Y (same rule as --latest)")
    g.add_argument("--version-from", help="command printing the version, e.g. 'go run ./cmd/app -version'")
    g.add_argument(
        "--strategy",
        choices=("auto", "buildx", "manifest", "host"),
        help="auto (default): one buildx run when the builder can build every platform at once, else "
        "manifest: per-platform builds then a docker manifest list; host: the host's Go compiles every "
        "platform, BuildKit only packages (auto picks host only with host_go set)",
    )
    g.add_argument(
        "--host-go",
        action="store_const",
        const=True,
        help="let auto choose the host strategy when the host's Go satisfies go.mod (usually set in .buildx-go.toml)",
    )
    g.add_argument(
        "--no-pin-base",
        dest="pin_base",
        action="store_const",
        const=False,
        help="host strategy: let BuildKit resolve --base-image itself (default: look up each platform's "
        "digest in the registry while Go compiles, one manifest request per build)",
    )
    g.add_argument(
        "--compression",
        choices=("zstd", "gzip", "uncompressed"),
        help="layer compression of a push (default: zstd, level 1; gzip for runtimes older than Docker 23)",
    )
    g.add_argument(
        "--clean-arch-tags",
        action="store_const",
        const=True,
        help="manifest strategy: delete the per-platform tags (V-amd64 ...) afterwards, if the registry allows",
    )
    g.add_argument(
        "--cache",
        choices=("none", "registry"),
        help="registry: import and export BuildKit's cache at IMAGE:buildcache (mode=max), so a fresh CI "
        "runner starts warm (cache mounts such as Go's build cache are not exported; default: none)",
    )
    g.add_argument("--cache-to", action="append", help="buildx --cache-to value (repeatable), e.g. type=gha")
    g.add_argument("--cache-from", action="append", help="buildx --cache-from value (repeatable)")
    _builder_options(g)
    g.add_argument("--network", help="network mode for RUN steps (buildx --network)")
    g.add_argument(
        "--include-git", action="store_const", const=True, help="send .git in the build context (left out by default)"
    )
    g.add_argument("--progress", help="BuildKit progress display: auto, plain, tty, quiet (default: auto)")
    g.add_argument(
        "--provenance",
        dest="provenance",
        action="store_const",
        const=True,
        help="add provenance attestations (default)",
    )
    g.add_argument(
        "--no-provenance", dest="provenance", action="store_const", const=False, help="no provenance attestations"
    )
    g.add_argument("--sbom", dest="sbom", action="store_const", const=True, help="add an SBOM attestation")
    g.add_argument(
        "--no-verify", dest="verify", action="store_const", const=False, help="do not verify what was pushed"
    )


def _builder_options(g: argparse._ActionsContainer) -> None:
    g.add_argument("--builder", help="buildx builder to use (default: the current one)")
    g.add_argument(
        "--create-builder",
        action="store_const",
        const=True,
        help="create and bootstrap a docker-container builder (named by --builder, default buildx-go) and use it",
    )
    g.add_argument("--builder-image", help="BuildKit image for --create-builder (a mirror, for air-gapped machines)")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="buildx-go",
        description="Build a Go project into a correct, verified multi-architecture image with docker buildx.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("--version", action="version", version=f"buildx-go {__version__}")
    top.add_argument(
        "--log-format", choices=LOG_FORMATS, help="event log on stderr (default: console on a TTY, else json)"
    )
    top.add_argument("--debug", action="store_true", help="debug events and tracebacks")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = sub.add_parser(
        "build",
        help="build (and push, and verify) the image",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _build_options(b)
    b.add_argument("--dry-run", action="store_true", help="print the commands that would run; run nothing")
    b.add_argument("--output-format", choices=("text", "json"), default="text", help="stdout summary (default: text)")

    p = sub.add_parser("plan", help="show what build would do, and why")
    _build_options(p)
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")

    d = sub.add_parser("dockerfile", help="print the Dockerfile BuildKit would get")
    _build_options(d)

    doc = sub.add_parser(
        "doctor",
        help="what the engine, buildx and the builder can do here (exit 3 if something is missing)",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _builder_options(doc)
    doc.add_argument("--platform", action="append", help="platforms to check (default: linux/amd64,linux/arm64)")
    doc.add_argument("--image", help="repository you will push to: reports whether its registry is plain http")
    doc.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")

    v = sub.add_parser("verify", help="check a published image: platforms, configs, binaries")
    v.add_argument("image", help="image reference, e.g. localhost:5000/hello:1.0.0")
    v.add_argument("--platform", action="append", help="expected platforms (default: linux/amd64,linux/arm64)")
    v.add_argument("--format", choices=("text", "json"), default="text")
    return top


CLI_OPTIONS = (
    "platform",
    "image",
    "tag",
    "go_image",
    "base_image",
    "file",
    "main",
    "version_var",
    "push",
    "load",
    "output",
    "builder",
    "network",
    "progress",
    "provenance",
    "sbom",
    "verify",
    "adapt",
    "latest",
    "floating",
    "version_from",
    "strategy",
    "clean_arch_tags",
    "host_go",
    "include_git",
    "pin_base",
    "compression",
    "create_builder",
    "builder_image",
    "cache",
    "cache_to",
    "cache_from",
)


def cli_values(ns: argparse.Namespace) -> dict[str, Any]:
    values = {name: getattr(ns, name, None) for name in CLI_OPTIONS}
    values["log_format"] = ns.log_format
    return values


@contextmanager
def reported(debug: bool) -> Iterator[list[int]]:
    """Turn BuildxGoError into `ERROR ...` + hint and its exit code (tracebacks only with --debug)."""
    code = [0]
    try:
        yield code
    except BuildxGoError as exc:
        activate()
        get_logger().error("error", error=exc.message, exit_code=exc.exit_code)
        print(f"ERROR {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  hint: {exc.hint}", file=sys.stderr)
        if debug:
            raise
        code[0] = exc.exit_code
    except KeyboardInterrupt:
        print("ERROR interrupted", file=sys.stderr)
        code[0] = Interrupted.exit_code


def prepare(
    ns: argparse.Namespace, env: Mapping[str, str], *, plan: bool = True
) -> tuple[Settings, Plan | None, str, Preflight | None]:
    """Settings, the Plan (unless PLAN is false), the Dockerfile text BuildKit gets, and the
    builder facts when they were needed (strategy auto, --create-builder)."""
    from buildx_go.adapt import adapt, lint
    from buildx_go.dockerfile import Dockerfile, find_dockerfile
    from buildx_go.generate import GenerateOptions, generate_dockerfile
    from buildx_go.gitinfo import git_facts, version_from
    from buildx_go.gomod import GoProject
    from buildx_go.plan import DockerfileChoice, make_plan

    log = get_logger()
    root = Path(ns.path).resolve()
    settings = resolve(cli_values(ns), env, load_config_file(root) if root.is_dir() else {})
    project = GoProject.detect(root)
    log.info(
        "project.detected",
        module=project.module.path,
        go=str(project.module.go or ""),
        toolchain=str(project.module.toolchain or ""),
        mains=[m.path for m in project.mains],
        cgo=list(project.cgo_files),
        vendored=project.vendored,
        workspace=project.workspace,
    )
    path = find_dockerfile(root, settings.file)
    native = native_platform()
    mains: tuple[MainPackage, ...] = ()
    if path is None:
        mains = tuple(project.main_for(m) for m in settings.main) or (project.main_for(None),)
        go_image = settings.go_image or f"golang:{project.module.go_minor or '1'}"
        text = generate_dockerfile(
            GenerateOptions(
                go_image, settings.base_image, mains, project.module.path, project.vendored, settings.version_var
            )
        )
        choice = DockerfileChoice("generated", None, "generated", text)
        parsed = Dockerfile.parse(text, "generated Dockerfile")
    else:
        parsed = Dockerfile.parse(path.read_text(), str(path))
        rel = os.path.relpath(path, root)
        if parsed.style == "goarch-recipe" and settings.adapt:
            adaptation = adapt(parsed, rel)
            for change in adaptation.changes:
                log.info("dockerfile.adapted", change=change)
            choice = DockerfileChoice("adapted", str(path), parsed.style, adaptation.text)
        else:
            choice = DockerfileChoice("user", str(path), parsed.style, parsed.text)
    lints = lint(
        parsed,
        settings.platform,
        native,
        adapted=choice.source != "user",
        cgo_files=project.cgo_files,
        generated=choice.source == "generated",
    )
    for item in lints:
        log.warning("dockerfile.lint", code=item.code, line=item.line, message=item.message)
    log.info("dockerfile.chosen", source=choice.source, style=choice.style, path=choice.path)
    if not plan:
        return settings, None, choice.text, None
    workdir = env.get("BUILDX_GO_WORKDIR") or os.path.join(
        tempfile.gettempdir(), f"buildx-go-{os.getpid()}-{int(time.time())}"
    )
    settings, pre = builder_facts(settings, env, workdir)
    host, strategy, host_note = host_strategy(settings, env, project, choice)
    if strategy is None:
        strategy = choose_strategy(settings.strategy, settings.sources["strategy"], pre, settings.platform)
    packaging = strategy[0] if strategy[0] != "host" else "buildx"
    if strategy[0] == "host" and pre is not None and len(settings.platform) > 1 and not pre.multi_platform()[0]:
        packaging = "manifest"
    ignore_rules = project_ignore_rules(root, path)
    if ignore_rules is None and choice.source != "generated":
        log.info("context.no_dockerignore", suggestion=f"add {root}/.dockerignore (e.g. .git, bin/, *.test)")
    git = git_facts(root)
    version = settings.tag[0] if settings.tag else version_from(settings.version_from, root) or git.get("version")
    existing = existing_tags(settings.image, env) if settings.latest or settings.floating else None
    the_plan = make_plan(
        project,
        settings,
        choice,
        version=version,
        git=git,
        workdir=workdir,
        existing_tags=existing,
        lints=tuple(f"{i.code}: {i.message}" for i in lints),
        emulated=tuple(p for p in settings.platform if p.arch != native.arch)
        if any(i.code == "run-needs-emulation" for i in lints)
        else (),
        dockerignore=ignore_rules,
        strategy=strategy,
        packaging=packaging,
        host=host,
        mains=mains,
        host_context=os.path.join(
            facts_cache_dir(env), "host-context", hashlib.sha256(str(root).encode()).hexdigest()[:16]
        )
        if host
        else None,
        caps=pre.caps() if pre is not None else BuilderCaps(),
    )
    if host_note:
        the_plan = attrs.evolve(the_plan, notes=(*the_plan.notes, host_note))
    log.info(
        "plan.chosen",
        strategy=the_plan.strategy,
        packaging=the_plan.packaging,
        reason=the_plan.reason,
        platforms=[str(p) for p in the_plan.platforms],
        refs=list(the_plan.refs),
    )
    return settings, the_plan, choice.text, pre


def project_ignore_rules(root: Path, dockerfile: Path | None) -> str | None:
    """The ignore rules BuildKit would apply: <Dockerfile>.dockerignore, else <root>/.dockerignore."""
    candidates = ([Path(f"{dockerfile}.dockerignore")] if dockerfile else []) + [root / ".dockerignore"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.read_text()
    return None


def host_strategy(
    settings: Settings, env: Mapping[str, str], project: GoProject, choice: DockerfileChoice
) -> tuple[HostGo | None, tuple[str, str] | None, str | None]:
    """(host Go, strategy, note) when the host strategy is asked for (--strategy host) or
    allowed (host_go with strategy auto); (None, None, note) leaves the choice to the builder."""
    if settings.strategy != "host" and not (settings.strategy == "auto" and settings.host_go):
        return None, None, None
    from buildx_go.hostgo import check_host_go, find_host_go

    found = find_host_go(env, facts_cache_dir(env))
    if settings.strategy == "host":
        if choice.source != "generated":
            raise InputError(
                f"--strategy host: the project has its own Dockerfile ({choice.path}), which host builds do not use",
                "use --strategy auto, or build from the generated Dockerfile (no Dockerfile in the project)",
            )
        host = check_host_go(found, project)
        why = (
            f"asked for ({settings.sources['strategy']} host): the host's Go {host.version} compiles, BuildKit packages"
        )
        return host, ("host", why), None
    source = settings.sources["host_go"]
    need = project.module.go
    if choice.source != "generated":
        return None, None, f"host_go ({source}): not used, the project has its own Dockerfile"
    if found is None or (need is not None and found.version < need):
        have = f"Go {found.version}" if found else "no Go toolchain"
        return None, None, f"host_go ({source}): not used, the host has {have} (go.mod wants {need})"
    why = f"host_go is set ({source}) and the host's Go {found.version} satisfies go.mod's go {need}"
    return found, ("host", why), None


def builder_facts(settings: Settings, env: Mapping[str, str], workdir: str) -> tuple[Settings, Preflight | None]:
    """Gather builder facts when the plan depends on them (auto strategy, --create-builder, and
    pushes and cache exports, whose commands depend on the driver); create the builder if asked.
    Stops with exit 3 if the engine or buildx is not usable."""
    needed = settings.push or settings.cache != "none" or bool(settings.cache_to)
    if settings.strategy not in ("auto", "host") and not settings.create_builder and not needed:
        return settings, None
    from buildx_go.builder import require_usable

    builder, pre = facts_and_builder(
        env,
        settings.builder,
        create=settings.create_builder,
        image=settings.image,
        builder_image=settings.builder_image,
        network_host=settings.network == "host",
        workdir=workdir,
        cache_dir=facts_cache_dir(env),
    )
    settings = attrs.evolve(settings, builder=builder)
    require_usable(pre)
    b = pre.builder
    multi, why = pre.multi_platform()
    get_logger().info(
        "builder.facts",
        builder=b.name if b else None,
        driver=b.driver if b else None,
        engine=str(pre.engine.server),
        buildx=str(pre.buildx),
        containerd_store=pre.engine.containerd_store,
        multi_platform=multi,
        why=why,
        cached=pre.cached,
    )
    return settings, pre


def facts_and_builder(
    env: Mapping[str, str],
    builder: str | None,
    *,
    create: bool,
    image: str | None,
    builder_image: str | None,
    network_host: bool,
    workdir: str,
    cache_dir: str | None,
) -> tuple[str | None, Preflight]:
    """(builder name, facts) for BUILDER (None: the current one). With CREATE, a docker-container
    builder (BUILDER, else buildx-go) is created first, unless the engine or buildx is unusable."""
    from buildx_go.builder import DEFAULT_BUILDER_NAME
    from buildx_go.docker import DockerExecutor, create_builder, gather_preflight

    executor = DockerExecutor(env)
    pre = gather_preflight(executor, env, None if create else builder, cache_dir=cache_dir)
    if create and not pre.problems():
        builder = builder or DEFAULT_BUILDER_NAME
        create_builder(pre, builder, builder_image, http_registry(image), network_host, workdir, env)
        pre = gather_preflight(executor, env, builder)
    return builder, pre


def facts_cache_dir(env: Mapping[str, str]) -> str:
    """Where builder facts are cached ($XDG_CACHE_HOME/buildx-go, else ~/.cache/buildx-go)."""
    base = env.get("XDG_CACHE_HOME") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".cache")
    return os.path.join(base, "buildx-go")


def http_registry(image: str | None) -> str | None:
    """The registry host of IMAGE if it is spoken to in plain http (loopback), else None."""
    if not image:
        return None
    from buildx_go.refs import Reference

    ref = Reference.parse(f"{image}:x")
    return ref.registry if ref.is_loopback else None


def native_platform() -> Platform:
    """The build platform assumed for planning: this host's (the builder's is checked at run)."""
    machine = os.uname().machine
    try:
        return Platform.parse(f"linux/{machine}")
    except InputError:
        return Platform("linux", "amd64")


def existing_tags(image: str | None, env: Mapping[str, str]) -> list[str] | None:
    """The repository's tags, or None when they cannot be listed (then moving tags still move,
    and the plan says the check was not possible)."""
    if not image:
        return None
    from buildx_go.refs import Reference
    from buildx_go.registry import RegistryClient

    try:
        return RegistryClient(env, timeout=10).tags(Reference.parse(f"{image}:x"))
    except (OSError, BuildxGoError):
        return None


PHASE_NOTES = {
    "compile": "the host's go build, every platform side by side",
    "build": "BuildKit (per-platform builds run side by side)",
    "publish": "once what was built is verified: version tags from the verified digests ({digest:P}: P's image)",
    "promote": "once the version's index is verified; {digest} is its digest",
}


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


def entry() -> None:
    """The console script: main(), then exit without the interpreter's slow teardown (every
    result is written and flushed by then; daemon threads have nothing left to do)."""
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    ns = parser().parse_args(argv)
    deferred = ns.command == "build" and not ns.dry_run  # structlog's import overlaps the build
    configure(ns.log_format or env.get("BUILDX_GO_LOG_FORMAT") or "auto", debug=ns.debug, defer=deferred)
    try:
        return _main(ns, env)
    finally:
        activate()  # flush anything still buffered


def _main(ns: argparse.Namespace, env: Mapping[str, str]) -> int:
    with reported(ns.debug) as code:
        if ns.command == "verify":
            return _verify(ns, env)
        if ns.command == "dockerfile":
            sys.stdout.write(prepare(ns, env, plan=False)[2])
            return 0
        if ns.command == "doctor":
            return _doctor(ns, env)
        _, plan, _, pre = prepare(ns, env)
        assert plan is not None
        if ns.command == "plan":
            print_plan(plan, ns.format)
        elif ns.dry_run:
            for c in plan.commands:
                print(c.shell())
        else:
            from buildx_go.docker import DockerExecutor
            from buildx_go.run import execute

            outcome = execute(plan, DockerExecutor(env), env=env, preflight=pre, cache_dir=facts_cache_dir(env))
            if not env.get("BUILDX_GO_WORKDIR"):  # kept after a failure, to look into
                shutil.rmtree(Path(plan.metadata_file).parent, ignore_errors=True)
            if ns.output_format == "json":
                print(json.dumps(outcome.to_dict(), indent=2))
            elif outcome.digest:
                for ref in outcome.refs:
                    print(f"{ref}@{outcome.digest}")
    return code[0]


def _verify(ns: argparse.Namespace, env: Mapping[str, str]) -> int:
    from buildx_go.errors import VerificationFailed
    from buildx_go.platforms import parse_platforms
    from buildx_go.registry import RegistryClient
    from buildx_go.verify import verify
    from buildx_go.verifycache import VerifyCache

    platforms = parse_platforms(ns.platform or [env.get("BUILDX_GO_PLATFORM", "linux/amd64,linux/arm64")])
    # What was checked before is only trusted for layers (their diff_ids): the command asked
    # for the image as it is now, so every image is read again.
    cache = VerifyCache(facts_cache_dir(env), images=False)
    report = verify(RegistryClient(env), ns.image, platforms, cache=cache)
    if ns.format == "json":
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(f"{report.ref}@{report.digest} ({report.media_type})")
        for img in report.images:
            status = "ok" if not img.problems else "; ".join(img.problems)
            print(f"  {img.platform}: config {img.config_platform}, {img.binary}: {img.facts} -> {status}")
        print(f"  attestations: {report.attestations}")
    if not report.ok:
        raise VerificationFailed(f"{report.ref}: " + "; ".join(report.problems))
    return 0


def _doctor(ns: argparse.Namespace, env: Mapping[str, str]) -> int:
    from buildx_go.errors import EngineError
    from buildx_go.platforms import parse_platforms

    platforms = parse_platforms(ns.platform or [env.get("BUILDX_GO_PLATFORM", "linux/amd64,linux/arm64")])
    workdir = os.path.join(tempfile.gettempdir(), f"buildx-go-doctor-{os.getpid()}")
    try:
        _, pre = facts_and_builder(  # never cached: doctor reports the machine as it is now
            env,
            ns.builder or env.get("BUILDX_GO_BUILDER") or None,
            create=ns.create_builder,
            image=ns.image,
            builder_image=ns.builder_image,
            network_host=False,
            workdir=workdir,
            cache_dir=None,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)  # only --create-builder writes there (buildx copies it)
    strategy = (
        " -> ".join(choose_strategy("auto", "--strategy", pre, platforms))
        if pre.builder and not pre.problems()
        else None
    )
    registry = registry_scheme(ns.image) if ns.image else None
    rows = doctor_rows(pre, platforms, registry, strategy)
    if ns.format == "json":
        data = pre.to_dict()
        data["platforms"] = {str(p): how for p, how in pre.platform_support(platforms)} if pre.builder else {}
        data["strategy"] = strategy
        data["registry"] = registry
        print(json.dumps(data, indent=2))
    else:
        width = max(len(k) for k, _ in rows)
        for key, value in rows:
            print(f"{key:<{width}}  {value}")
    problems = pre.problems()
    if problems:
        raise EngineError(f"doctor: {problems[0]}", "scripts/setup installs and starts what is missing")
    return 0


def registry_scheme(image: str) -> str:
    """How IMAGE's registry is spoken to, for doctor."""
    http = http_registry(image)
    return f"{http}: plain http (loopback)" if http else f"{image.split('/')[0]}: https"


def doctor_rows(
    pre: Preflight, platforms: tuple[Platform, ...], registry: str | None, strategy: str | None
) -> list[tuple[str, str]]:
    """The doctor table: (what, finding) rows for people."""
    e = pre.engine
    rows = [("docker CLI", pre.cli_error or f"{e.client or '?'}")]
    if e.reachable:
        store = "containerd image store" if e.containerd_store else f"classic image store ({e.storage_driver})"
        rows.append(("engine", f"{e.server} at {e.host}, {e.arch}, {store}"))
    else:
        rows.append(("engine", f"MISSING: not reachable at {e.host}: {e.error}"))
    rows.append(("buildx", str(pre.buildx) if pre.buildx else f"MISSING: {pre.buildx_error}"))
    for b in pre.builders:
        mark = "*" if b.current else " "
        state = f"error: {b.error}" if b.error else b.status
        rows.append(("builder", f"{mark}{b.name} ({b.driver} driver, {state}): {', '.join(b.platforms) or '-'}"))
    if pre.builder and e.reachable and not pre.builder.error:
        multi, why = pre.multi_platform()
        can = "multi-platform in one run" if multi else "one platform per run"
        rows.append(("selected", f"{pre.builder.name}: {can} ({why})"))
        for p, how in pre.platform_support(platforms):
            rows.append((str(p), how))
    emus = ", ".join(pre.emulators) or "none registered"
    rows.append(("emulators", emus))
    if registry:
        rows.append(("registry", registry))
    for problem in pre.problems():
        rows.append(("problem", problem))
    if strategy:
        rows.append(("strategy", strategy))
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
