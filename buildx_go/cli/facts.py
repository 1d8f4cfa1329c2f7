"""The shell's gathering: the facts a decision needs, read through the effect seams.

``project_facts``: go.mod and sources, the user's Dockerfile and ignore rules, git, the
version. ``machine_facts``: the builder (created first with --create-builder), the host's
Go, the repository's tags, each only when ``decide.needs`` says the decision depends on it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Mapping
from pathlib import Path

import attrs
from packaging.version import Version

from buildx_go.cli.effects import Effects, cache_dir
from buildx_go.config import CONFIG_FILE, Settings, secret_fields
from buildx_go.dockerfile.parse import find_dockerfile
from buildx_go.engine.builder import (
    DEFAULT_BUILDER_NAME,
    NewBuilder,
    NodeSpec,
    Preflight,
    parse_version,
    require_usable,
)
from buildx_go.errors import BuildxGoError, InputError
from buildx_go.log import get_logger
from buildx_go.planning.decide import VERSION_PLACEHOLDER, MachineFacts, Prebuilt, ProjectFacts, UserDockerfile, needs
from buildx_go.planning.hostgo import HostGo
from buildx_go.platforms import Platform
from buildx_go.project.constraints import Target
from buildx_go.project.gitinfo import git_facts, version_from
from buildx_go.project.gomod import GoProject
from buildx_go.refs import Reference
from buildx_go.seams import Files


def module_cache(env: Mapping[str, str]) -> Path | None:
    """Where go keeps downloaded modules: GOMODCACHE, else GOPATH's first entry /pkg/mod,
    else ~/go/pkg/mod (read for the cgo import graph, never written)."""
    if env.get("GOMODCACHE"):
        return Path(env["GOMODCACHE"])
    gopath = (env.get("GOPATH") or "").split(os.pathsep)[0]
    home = env.get("HOME")
    base = Path(gopath) if gopath else (Path(home) / "go" if home else None)
    return base / "pkg" / "mod" if base else None


def project_facts(
    settings: Settings, root: Path, effects: Effects, run_commands: bool = True, env: Mapping[str, str] | None = None
) -> ProjectFacts:
    """RUN_COMMANDS false (plan, --dry-run): a --version-from from the project's config file
    is shown, not run (looking at an untrusted clone must not run its code)."""
    targets = tuple(Target(p.os, p.arch, p.variant) for p in settings.platform)
    cache = module_cache(os.environ if env is None else env)
    go = GoProject.detect(root, effects.files, targets, frozenset(settings.tags), cache)
    get_logger().info(
        "project.detected",
        module=go.module.path,
        go=str(go.module.go or ""),
        toolchain=str(go.module.toolchain or ""),
        mains=[m.path for m in go.mains],
        cgo=list(go.cgo_files),
        left_out=[f"{path} {why}" for path, why in go.constrained],
        vendored=go.vendored,
        workspace=go.workspace,
    )
    check_secret_sources(settings, effects.files)
    path = find_dockerfile(root, settings.file, effects.files, settings.sources.get("file", "--file"))
    user = UserDockerfile(path, effects.files.read_text(path)) if path else None
    git = git_facts(root, effects.git)
    epoch = (os.environ if env is None else env).get("SOURCE_DATE_EPOCH", "").strip()
    if epoch and not (epoch.isascii() and epoch.isdigit()):
        raise InputError(f"SOURCE_DATE_EPOCH: {epoch[:40]!r} is not a number of seconds", "unset it, or give seconds")
    if epoch:  # the reproducible-builds convention: the build's time, when given
        git = {**git, "epoch": epoch}
    not_run = None
    if not settings.tag and not run_commands and settings.sources.get("version_from", "").startswith(CONFIG_FILE):
        not_run = settings.version_from
    version = (
        None
        if settings.tag or not_run
        else version_from(settings.version_from, root, effects.program, settings.version_from_timeout)
    )
    rules = ignore_rules(root, path, effects.files)
    return ProjectFacts(
        go=go,
        build_files=read_build_files(root, user, effects.files),
        prebuilt=prebuilt_binaries(settings, root, user, effects.files),
        dockerfile=user,
        ignore_rules=rules,
        work_problem=work_problem(root, go, rules, effects.files),
        git=git,
        version=VERSION_PLACEHOLDER if not_run else version or git.get("version"),
        native=native_platform(),
        version_not_run=not_run,
    )


def work_problem(root: Path, go: GoProject, rules: str | None, files: Files) -> InputError | None:
    """What go would refuse in the project's go.work, when the build context carries one."""
    from buildx_go.project.context import left_out, read_rules
    from buildx_go.project.gowork import check_work

    if rules and left_out("go.work", read_rules(rules)):
        return None
    try:
        check_work(root, files, go.module)
    except InputError as exc:
        return exc
    return None


def check_secret_sources(settings: Settings, files: Files) -> None:
    """A --secret's src= file must be there (its content is never read here)."""
    for spec in settings.secret:
        pairs = secret_fields(spec)
        src = pairs.get("src") or pairs.get("source")
        if src and not files.is_file(Path(os.path.expanduser(src))):
            where = settings.sources.get("secret", "--secret")
            raise InputError(f"{where} id={pairs['id']}: src {src} is not a file", "give the file holding the secret")


BUILD_FILE_LIMIT = 1 << 20
_INCLUDE = re.compile(r"^\s*-?s?include\s+(.+)$", re.M)


def read_build_files(root: Path, user: UserDockerfile | None, files: Files) -> tuple[tuple[str, str], ...]:
    """The Makefiles (and what they include, one level), Taskfiles, justfiles and scripts the
    user's Go stages run (stages.build_files), as ("TOOL:path", text); missing ones left out."""
    from buildx_go.dockerfile.parse import Dockerfile
    from buildx_go.dockerfile.stages import build_files

    if user is None:
        return ()
    out: dict[str, str] = {}
    for key in build_files(Dockerfile.parse(user.text, str(user.path))):
        tool, _, rel = key.partition(":")
        text = _small_text(root / rel, files)
        if text is None:
            continue
        out[key] = text
        if tool == "make":  # included files named as they are (no variables, globs or ..), one level
            for name in [w for line in _INCLUDE.findall(text) for w in line.split()][:20]:
                if re.search(r"[$*?\[]", name) or ".." in name.split("/") or name.startswith("/"):
                    continue
                included = _small_text(root / name, files)
                if included is not None:
                    out.setdefault(f"make:{name}", included)
    return tuple(out.items())


def _small_text(path: Path, files: Files) -> str | None:
    if not files.is_file(path):
        return None
    return files.read_bytes(path, BUILD_FILE_LIMIT).decode(errors="replace")


BINARY_LIMIT = 256 << 20  # what is read of a prebuilt binary (verify reads all of it too)


def prebuilt_binaries(
    settings: Settings, root: Path, user: UserDockerfile | None, files: Files
) -> tuple[Prebuilt, ...]:
    """The binaries a Dockerfile without a Go stage copies from the context, for each platform,
    as BuildKit expands their paths (stages.prebuilt_sources); none with --generate."""
    from buildx_go.dockerfile.parse import Dockerfile
    from buildx_go.dockerfile.stages import go_stages, platform_args, prebuilt_sources
    from buildx_go.verify.binary import BinaryFacts

    if user is None or settings.generate:
        return ()
    df = Dockerfile.parse(user.text, str(user.path))
    if go_stages(df):
        return ()
    native = native_platform()
    out = []
    for p in settings.platform:
        automatic = platform_args(p.os, p.arch, p.variant, (native.os, native.arch))
        for src in prebuilt_sources(df, settings.build_args(), automatic):
            path = root / src.path
            if files.is_dir(path):
                continue  # a directory: what in it is a binary is not told here
            found = files.is_file(path)
            facts = BinaryFacts.from_bytes(files.read_bytes(path, BINARY_LIMIT)) if found else None
            where = f"{os.path.relpath(user.path, root)}:{src.copy.line}"
            out.append(Prebuilt(p, where, src.path, found, facts, src.undeclared))
    return tuple(out)


def ignore_rules(root: Path, dockerfile: Path | None, files: Files) -> str | None:
    """The ignore rules BuildKit would apply: <Dockerfile>.dockerignore, else <root>/.dockerignore."""
    candidates = ([Path(f"{dockerfile}.dockerignore")] if dockerfile else []) + [root / ".dockerignore"]
    for candidate in candidates:
        if files.is_file(candidate):
            text = files.read_text(candidate)
            from buildx_go.project.context import bad_pattern_line

            bad = bad_pattern_line(text)
            if bad:
                raise InputError(
                    f"{candidate}:{bad[0]}: {bad[1]!r}: syntax error in pattern (BuildKit refuses it)",
                    "close the [ ] class, or escape [ and \\ with \\",
                )
            return text
        if files.exists(candidate) and not files.is_dir(candidate) and not files.is_link(candidate):
            raise InputError(f"{candidate}: not a regular file", "make it a file of ignore rules, or remove it")
    return None  # a folder or a dangling link is no ignore file, to BuildKit either


def native_platform() -> Platform:
    """The build platform assumed for planning: this host's (the builder's is checked at run)."""
    machine = os.uname().machine
    try:
        return Platform.parse(f"linux/{machine}")
    except InputError:
        return Platform("linux", "amd64")


def machine_facts(
    settings: Settings,
    project: ProjectFacts,
    env: Mapping[str, str],
    effects: Effects,
    workdir: str,
    assumed: Preflight | None = None,
    known: MachineFacts | None = None,
) -> MachineFacts:
    """What the decision needs of this machine; ASSUMED: the builder's facts are not asked
    for (cli/rerun.py); KNOWN: all but the builder's were gathered already (for the assumed
    plan), so only the builder is asked about."""
    need = needs(settings)
    cache = cache_dir(env)
    builder, new = assumed, None
    if need.builder and assumed is None:
        builder, new = builder_facts(settings, env, effects, cache)
        require_usable(builder)
        log_builder(builder)
    if known is not None:
        return attrs.evolve(known, builder=builder, new_builder=new)
    host_go = effects.host_go(env, cache) if need.host_go else None
    host_cc = host_c_compilers(settings, project, env) if need.host_go else ()
    if settings.push and settings.image:  # a credential helper that fails fails now, not after the build
        source = effects.registry(env).check_credentials(Reference.parse(f"{settings.image}:x"))
        get_logger().debug(
            "registry.credentials", registry=Reference.parse(f"{settings.image}:x").registry, source=source
        )
    tags = existing_tags(settings.image, env, effects) if need.tags else None
    context = None
    if need.host_go:
        key = hashlib.sha256(str(project.go.root).encode()).hexdigest()[:16]
        context = os.path.join(cache, "host-context", key)
    apt = toolchain_facts(settings, project, env, effects, cache)
    go_env = go_image_env(settings, project, env, effects, cache)
    return MachineFacts(builder, host_go, tags, context, new, host_cc, apt, go_env)


GO_IMAGE_TTL = 24 * 3600  # s: a Go image's tag moves to newer patch releases, never to an older Go


def go_image_env(
    settings: Settings, project: ProjectFacts, env: Mapping[str, str], effects: Effects, cache: str | None
) -> tuple[str, ...] | None:
    """--go-image's config Env, for the generated Dockerfile (is its Go new enough for
    go.mod? decide.go_image_too_old), read from its registry and kept a day in CACHE; None
    when not asked for or not readable (then it is not checked: said in a debug event)."""
    from buildx_go.planning.decide import choose_dockerfile

    if not settings.go_image or choose_dockerfile(settings, project)[0].source != "generated":
        return None
    key = hashlib.sha256(f"{settings.go_image}|{project.native}".encode()).hexdigest()[:32]
    kept = Path(cache, "go-image", f"{key}.json") if cache else None
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        known = json.loads(kept.read_text()) if kept else None
        if known and time.time() - float(known["time"]) < GO_IMAGE_TTL:
            return tuple(str(item) for item in known["env"])
    from buildx_go.verify.check import image_config

    try:
        found = image_config(effects.registry(env), settings.go_image, project.native)
    except (OSError, ValueError, KeyError, BuildxGoError) as exc:
        found = f"not read: {getattr(exc, 'message', None) or exc}"
    if isinstance(found, str):
        get_logger().debug("go_image.unchecked", image=settings.go_image, why=found)
        return None
    listed = tuple(str(item) for item in (found[1].get("config") or {}).get("Env") or [])
    with contextlib.suppress(OSError):
        if kept:
            kept.parent.mkdir(parents=True, exist_ok=True)
            kept.write_text(json.dumps({"time": time.time(), "env": listed}))
    return listed


def toolchain_facts(
    settings: Settings, project: ProjectFacts, env: Mapping[str, str], effects: Effects, cache: str | None
) -> tuple[tuple[str, bool | None, str], ...]:
    """For each image a C cross toolchain will be installed in: whether it has apt-get (its
    build-platform image, read from its registry; None when that cannot be told)."""
    from buildx_go.planning.decide import toolchain_images

    images = toolchain_images(settings, project)
    if not images:  # the common case: verification's modules stay unloaded until the build runs
        return ()
    from buildx_go.verify.cache import VerifyCache
    from buildx_go.verify.check import apt_get_in

    out = []
    for image, _ in images:
        try:
            answer, how = apt_get_in(
                effects.registry(env), image, project.native, VerifyCache(cache) if cache else None
            )
        except (OSError, ValueError, KeyError, BuildxGoError) as exc:
            answer, how = None, f"not read: {exc}"
        get_logger().debug("toolchain.image", image=image, apt_get=answer, how=how)
        out.append((image, answer, how))
    return tuple(out)


def host_c_compilers(settings: Settings, project: ProjectFacts, env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The host's C compiler for each target architecture, where it has one (host strategy, cgo)."""
    from buildx_go.planning.decide import host_c_compiler

    out = []
    for p in settings.platform:
        found = shutil.which(host_c_compiler(p, project.native), path=env.get("PATH"))
        if found:
            out.append((p.arch, found))
    return tuple(out)


def builder_facts(
    settings: Settings, env: Mapping[str, str], effects: Effects, cache: str | None
) -> tuple[Preflight, NewBuilder | None]:
    """The builder's facts (--builder, else the current one). With --create-builder and no
    builder of that name (--builder, else buildx-go) yet: the facts it will have, and what to
    create (a planned command: nothing is created here). CACHE: where answers are kept
    (None: ask afresh, as doctor does)."""
    from buildx_go.engine.docker import gather_preflight

    executor = effects.docker(env)
    if not settings.create_builder:
        return gather_preflight(executor, env, settings.builder, cache_dir=cache, meanwhile=_warm), None
    name = settings.builder or DEFAULT_BUILDER_NAME
    pre = gather_preflight(executor, env, name, cache_dir=cache, meanwhile=_warm)
    http = http_registry(settings.image)
    nodes = tuple(NodeSpec.parse(n) for n in settings.node)
    network_host = settings.network == "host" or bool(http)
    new = NewBuilder(name, settings.builder_image, (http,) if http else (), network_host, nodes)
    existing = next((b for b in pre.builders if b.name == name), None)
    if existing is not None:
        different = new.difference(existing)
        if different:
            hint = f"remove it (docker buildx rm {name}) or use another --builder"
            raise InputError(f"--create-builder: {different}", hint)
        get_logger().info("builder.exists", name=name)
        return pre, None  # reused as it is (require_usable says if it has a problem)
    if not pre.engine.reachable or pre.buildx is None:
        return pre, None  # require_usable says why
    return new.projected(pre), new


# what a build needs after the builder's facts, imported while docker answers (idle time)
NEXT_MODULES = (
    "structlog",
    "buildx_go.project.context",
    "buildx_go.registry.client",
    "buildx_go.verify.check",
    "buildx_go.run.execute",
)


def _warm() -> None:
    import importlib

    for name in NEXT_MODULES:
        importlib.import_module(name)


def log_builder(pre: Preflight) -> None:
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


def http_registry(image: str | None) -> str | None:
    """The registry host of IMAGE if it is spoken to in plain http (loopback), else None."""
    if not image:
        return None
    ref = Reference.parse(f"{image}:x")
    return ref.registry if ref.is_loopback else None


def existing_tags(image: str | None, env: Mapping[str, str], effects: Effects) -> tuple[str, ...] | None:
    """The repository's tags, or None when they cannot be listed (then moving tags still move,
    and the plan says the check was not possible)."""
    if not image:
        return None
    try:
        return tuple(effects.registry(env).tags(Reference.parse(f"{image}:x")))
    except (OSError, BuildxGoError):
        return None


def find_host_go(env: Mapping[str, str], cache: str | None = None) -> HostGo | None:
    """The Go toolchain on PATH (or $BUILDX_GO_GO), None if there is none. With CACHE, its
    facts are kept until the `go` found changes (`go` may be a slow-starting wrapper)."""
    candidate = env.get("BUILDX_GO_GO") or shutil.which("go", path=env.get("PATH"))
    if not candidate:
        return None
    try:
        st = os.stat(candidate)
    except OSError:
        return None
    key = f"{os.path.realpath(candidate)}|{st.st_size}|{st.st_mtime_ns}"
    path = os.path.join(cache, "host-go.json") if cache else None
    if path:
        try:
            with open(path) as f:
                data = json.load(f)
            if data.get("key") == key and os.access(data["go"], os.X_OK):
                return HostGo(data["go"], Version(data["version"]), data["root"])
        except (OSError, ValueError, KeyError):
            pass
    found = _ask_go(candidate, env)
    if found and path:
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                json.dump({"key": key, "go": found.go, "version": str(found.version), "root": found.root}, f)
        except OSError:
            pass
    return found


def _ask_go(candidate: str, env: Mapping[str, str]) -> HostGo | None:
    import subprocess

    try:
        proc = subprocess.run(
            [candidate, "env", "-json", "GOVERSION", "GOROOT"],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, **env, "GOTOOLCHAIN": "local"},
            check=False,
        )
        facts = json.loads(proc.stdout) if proc.returncode == 0 else {}
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None
    version = parse_version(str(facts.get("GOVERSION", "")).removeprefix("go"))
    root = str(facts.get("GOROOT") or "")
    real = os.path.join(root, "bin", "go")
    if version is None or not os.access(real, os.X_OK):
        return None
    return HostGo(real, version, root)
