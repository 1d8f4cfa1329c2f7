"""Settings, resolved once: CLI > BUILDX_GO_* environment > .buildx-go.toml > defaults.

Every option is one field of ``Settings``, declared with ``options.option`` (help, default,
parser, the commands that take it); everything else is generated from these fields. Every
value remembers where it came from (``Settings.sources``), so ``plan`` can say why.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import attrs

from buildx_go import refs
from buildx_go.errors import InputError
from buildx_go.options import BUILD, BUILDING, GLOBAL, config_key, env_name, flag, option, specs
from buildx_go.platforms import Platform, parse_platforms

if TYPE_CHECKING:
    from buildx_go.seams import Files

CONFIG_FILE = ".buildx-go.toml"
DEFAULT_BASE_IMAGE = "gcr.io/distroless/static-debian12:nonroot"
LogFormat = Literal["auto", "json", "console"]
StrategyChoice = Literal["auto", "buildx", "manifest", "host"]
Progress = Literal["auto", "plain", "tty", "quiet", "rawjson"]
LOG_FORMATS: tuple[str, ...] = get_args(LogFormat)
STRATEGIES: tuple[str, ...] = get_args(StrategyChoice)
PROGRESS: tuple[str, ...] = get_args(Progress)
DOCTOR = frozenset({"doctor"})
BUILDER = BUILDING | DOCTOR


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _list(value: Any) -> tuple[str, ...]:
    items = [_text(v) for v in value] if isinstance(value, (list, tuple)) else _text(value).split(",")
    return tuple(i.strip() for i in items if i.strip())


def _text(value: Any) -> str:
    """A string value (a TOML number, table or boolean where text is expected is refused)."""
    if not isinstance(value, str):
        raise ValueError(f"not a string: {value!r}")
    return value


def _list_semicolon(value: Any) -> tuple[str, ...]:
    """Repeated values kept whole (a --node holds commas); from the environment or the file,
    several are separated by spaces or given as a list."""
    items = [_text(v) for v in value] if isinstance(value, (list, tuple)) else _text(value).split()
    return tuple(i.strip() for i in items if i.strip())


def _choice(*allowed: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if not isinstance(value, str) or value not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
        return value

    return parse


def _platforms(value: Any) -> tuple[Platform, ...]:
    return parse_platforms(list(_list(value)))


def _optional_str(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"not a string: {value!r}")
    return value or None


def _str(value: Any) -> str:
    text = _optional_str(value)
    if text is None:
        raise ValueError("must not be empty")
    return text


def _reference(repository_only: bool) -> Callable[[Any], str | None]:
    """An image reference in distribution's grammar (a repository only, for --image)."""

    def parse(value: Any) -> str | None:
        text = _optional_str(value)
        if text is None:
            return None
        why = refs.problem(text, repository_only)
        if why:
            raise ValueError(why)
        return text

    return parse


def _image(value: Any) -> str:
    text = _reference(False)(value)
    if text is None:
        raise ValueError("must not be empty")
    return text


GO_SYMBOL = re.compile(r"[A-Za-z0-9_.~+/-]*[A-Za-z0-9_]\.[A-Za-z_][A-Za-z0-9_]*")


def _matching(pattern: re.Pattern[str], what: str) -> Callable[[Any], str | None]:
    """An optional text value that must match PATTERN whole (else: "'...' is not WHAT")."""

    def parse(value: Any) -> str | None:
        text = _optional_str(value)
        if text is not None and not pattern.fullmatch(text):
            raise ValueError(f"{text[:80]!r} is not {what}")
        return text

    return parse


# an -X target: IMPORTPATH.NAME (ASCII import path, a Go identifier)
_go_symbol = _matching(GO_SYMBOL, "IMPORTPATH.NAME, e.g. main.version or example.com/app/build.Version")


GO_TAG = re.compile(r"[A-Za-z0-9_.]+")
BUILD_ARG = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.S)


def _go_tags(value: Any) -> tuple[str, ...]:
    """Go build tags (go build -tags a,b): letters, digits, _ and ."""
    tags = tuple(t.strip() for item in _list(value) for t in item.split(",") if t.strip())
    for tag in tags:
        if not GO_TAG.fullmatch(tag):
            raise ValueError(f"{tag!r} is not a Go build tag (letters, digits, _ and .)")
    return tags


def _build_args(value: Any) -> tuple[str, ...]:
    """KEY=VALUE pairs, each kept whole (a value may hold commas and spaces). The
    environment gives one per line; .buildx-go.toml a list of "KEY=VALUE" or a table."""
    if isinstance(value, dict):
        items = [f"{k}={_text(v)}" for k, v in value.items()]
    elif isinstance(value, (list, tuple)):
        items = [_text(v) for v in value]
    else:
        items = [line for line in _text(value).splitlines() if line.strip()]
    for item in items:
        m = BUILD_ARG.fullmatch(item)
        if not m:
            raise ValueError(f"{item.split('=', 1)[0][:40]!r} is not KEY=VALUE with KEY a name like VERSION")
        if "\n" in m.group(2) or "\x00" in m.group(2):
            raise ValueError(f"{m.group(1)}: the value holds a newline or NUL")
    return tuple(items)


def _debian_packages(value: Any) -> tuple[str, ...]:
    names = _list(value)
    for name in names:
        if not re.fullmatch(r"[a-z0-9][a-z0-9+.-]+", name):
            raise ValueError(f"{name!r} is not a Debian package name")
    return names


SECRET_KEYS = {"id", "src", "source", "env", "type", "required"}


def secret_fields(spec: str) -> dict[str, str]:
    """A --secret spec's KEY=VALUE fields: id=netrc,src=~/.netrc -> {"id": "netrc", "src": "~/.netrc"}."""
    return dict(p.partition("=")[::2] for p in spec.split(","))


def _secrets(value: Any) -> tuple[str, ...]:
    """buildx --secret specs: id=NAME[,src=PATH|,env=VAR] (the value itself never passes here)."""
    specs = _list_semicolon(value)
    for spec in specs:
        pairs = secret_fields(spec)
        if not pairs.get("id") or not re.fullmatch(r"[A-Za-z0-9_.-]+", pairs["id"]):
            raise ValueError(f"{spec[:60]!r} is not id=NAME[,src=PATH|,env=VAR]")
        unknown = sorted(set(pairs) - SECRET_KEYS)
        if unknown:
            raise ValueError(f"{pairs['id']}: unknown key {unknown[0]!r} (id, src, env, type)")
    return specs


def _ssh(value: Any) -> tuple[str, ...]:
    """buildx --ssh specs: default, or ID=SOCKET_OR_KEY[,...]."""
    specs = _list_semicolon(value)
    for spec in specs:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+(=[^\s,]+(,[^\s,]+)*)?", spec):
            raise ValueError(f"{spec[:60]!r} is not default or ID=PATH")
    return specs


GOPRIVATE = re.compile(r"[A-Za-z0-9.*/_~-]+(,[A-Za-z0-9.*/_~-]+)*")


_goprivate = _matching(GOPRIVATE, "a comma-separated list of module path patterns")


def _seconds(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"not a number of seconds: {value!r}")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"not a number of seconds: {value!r}") from None
    if not 0 < seconds <= 600:
        raise ValueError(f"{value!r}: must be more than 0 and at most 600 seconds")
    return seconds


def _flag(default: bool, help: str, commands: frozenset[str] = BUILDING, group: str = "build") -> Any:
    return option(default, help, parse=_bool, commands=commands, group=group, kind="flag")


def _choose(default: str, choices: tuple[str, ...], help: str, **kw: Any) -> Any:
    return option(default, help, parse=_choice(*choices), choices=choices, **kw)


@attrs.frozen
class Settings:
    """Every option: its type, default, help and the commands that take it."""

    image: str | None = option(
        None,
        "repository to publish, e.g. localhost:5000/hello",
        parse=_reference(repository_only=True),
        commands=BUILDER,
        group="image",
    )
    tag: tuple[str, ...] = option(
        (),
        "tag; default: --version-from, else `git describe --tags` (v1.2.3 -> 1.2.3)",
        parse=_list,
        group="image",
        kind="list",
    )
    platform: tuple[Platform, ...] = option(
        "linux/amd64,linux/arm64",
        "platforms, comma-separated, e.g. linux/amd64,linux/arm64,linux/arm/v7",
        parse=_platforms,
        commands=BUILDING | DOCTOR | {"verify"},
        group="image",
        kind="list",
    )
    file: str | None = option(
        None,
        "the project's Dockerfile (default: Dockerfile, docker/Dockerfile, else generated)",
        parse=_optional_str,
        group="Dockerfile",
        short="-f",
    )
    main: tuple[str, ...] = option(
        (),
        "main package to build, e.g. ./cmd/app; repeat it (or `all`) to ship several commands in one image "
        "(generated Dockerfile)",
        parse=_list,
        group="Dockerfile",
        kind="list",
    )
    entrypoint: str | None = option(
        None,
        "with several --main: the binary the image starts, e.g. api (default: the first --main)",
        parse=_optional_str,
        group="Dockerfile",
        metavar="NAME",
    )
    go_image: str | None = option(
        None, "Go builder image (default: golang:<go.mod's go version>)", parse=_reference(False), group="Dockerfile"
    )
    base_image: str = option(DEFAULT_BASE_IMAGE, "runtime base image", parse=_image, group="Dockerfile")
    generate: bool = _flag(
        False,
        "use buildx-go's generated Dockerfile even when the project has its own",
        group="Dockerfile",
    )
    adapt: bool = _flag(
        True,
        "derive a cross-compiling Dockerfile when a Go stage would run emulated or unwired (--no-adapt: use it as is)",
        group="Dockerfile",
    )
    version_var: str | None = option(
        None,
        "Go variable set to the version with -ldflags -X, e.g. main.version",
        parse=_go_symbol,
        group="Dockerfile",
    )
    tags: tuple[str, ...] = option(
        (),
        "Go build tags, comma-separated (go build -tags; //go:build lines are read with them)",
        parse=_go_tags,
        group="Dockerfile",
        kind="list",
    )
    cgo: Literal["auto", "on", "off"] = _choose(
        "auto",
        ("auto", "on", "off"),
        "generated Dockerfile: on compiles C too, natively, with Debian's cross toolchain for each target "
        '(a Debian-based --go-image); off: CGO_ENABLED=0; auto: on when a main\'s import graph has import "C"',
        group="Dockerfile",
    )
    cgo_package: tuple[str, ...] = option(
        (),
        "with cgo: a Debian -dev package the C code links, installed for each target (multiarch), e.g. libsqlite3-dev",
        parse=_debian_packages,
        group="Dockerfile",
        kind="list",
        metavar="PACKAGE",
    )
    cgo_static: bool = _flag(
        False, "with cgo: link statically (-extldflags -static): the binary runs on a static base", group="Dockerfile"
    )
    secret: tuple[str, ...] = option(
        (),
        "buildx --secret: id=NAME,src=PATH or id=NAME,env=VAR; the generated Dockerfile mounts id=netrc "
        "at /root/.netrc for Go's module downloads (private modules)",
        parse=_secrets,
        group="Dockerfile",
        kind="list",
        metavar="SPEC",
    )
    ssh: tuple[str, ...] = option(
        (),
        "buildx --ssh: default (the ssh agent) or ID=PATH; the generated Dockerfile fetches --goprivate "
        "modules with git over ssh",
        parse=_ssh,
        group="Dockerfile",
        kind="list",
        metavar="SPEC",
    )
    goprivate: str | None = option(
        None,
        "GOPRIVATE for the generated Dockerfile: module path patterns fetched directly (with --secret "
        "id=netrc or --ssh), e.g. github.com/myorg/*",
        parse=_goprivate,
        group="Dockerfile",
        metavar="PATTERNS",
    )
    build_arg: tuple[str, ...] = option(
        (),
        "KEY=VALUE for the Dockerfile's ARG KEY (buildx --build-arg), every strategy; "
        "VERSION is passed whenever the Dockerfile declares ARG VERSION",
        parse=_build_args,
        group="Dockerfile",
        kind="list",
        metavar="KEY=VALUE",
    )
    public_build_arg: tuple[str, ...] = option(
        (),
        "a --build-arg NAME whose value plans, dry runs and logs may show (others show as NAME=***; "
        "VERSION and Go's GOPROXY-like settings are shown, URL credentials masked)",
        parse=_list,
        group="Dockerfile",
        kind="list",
        metavar="NAME",
    )
    push: bool = _flag(False, "push to the registry, then verify what was pushed")
    load: bool = _flag(False, "load into the engine's image store (one platform)")
    output: str | None = option(
        None, "buildx --output value, e.g. type=oci,dest=app.tar", parse=_optional_str, short="-o", metavar="SPEC"
    )
    latest: bool = _flag(False, "also move `latest`, if the version is a SemVer release not older than any tag")
    floating: bool = _flag(False, "also move X and X.Y (same rule as --latest)")
    version_from: str | None = option(
        None,
        "command printing the version (run without a shell), e.g. 'go run ./cmd/app -version'",
        parse=_optional_str,
        metavar="CMD",
    )
    version_from_timeout: float = option(
        60.0,
        "seconds --version-from may run (its output is capped at 1 MiB)",
        parse=_seconds,
        metavar="SECONDS",
    )
    strategy: Literal["auto", "buildx", "manifest", "host"] = _choose(
        "auto",
        STRATEGIES,
        "auto: one buildx run when the builder can build every platform at once, else manifest: per-platform builds "
        "then a docker manifest list; host: the host's Go compiles, BuildKit only packages",
    )
    host_go: bool = _flag(False, "let auto choose the host strategy when the host's Go satisfies go.mod")
    pin_base: bool = _flag(True, "host strategy: pin --base-image per platform, looked up while Go compiles")
    compression: Literal["zstd", "gzip", "uncompressed"] = _choose(
        "zstd", ("zstd", "gzip", "uncompressed"), "layer compression of a push (zstd: level 1, OCI media types)"
    )
    clean_arch_tags: bool = _flag(False, "manifest strategy: delete the per-platform tags afterwards, if allowed")
    cache: Literal["none", "registry"] = _choose(
        "none",
        ("none", "registry"),
        "registry: import and export BuildKit's cache at IMAGE:buildcache (mode=max), for fresh CI runners",
    )
    cache_to: tuple[str, ...] = option((), "buildx --cache-to value, e.g. type=gha", parse=_list, kind="list")
    cache_from: tuple[str, ...] = option((), "buildx --cache-from value", parse=_list, kind="list")
    builder: str | None = option(
        None, "buildx builder to use (default: the current one)", parse=_optional_str, commands=BUILDER, group="builder"
    )
    create_builder: bool = _flag(
        False,
        "create and bootstrap a docker-container builder (--builder, default buildx-go) and use it",
        commands=BUILDER,
        group="builder",
    )
    node: tuple[str, ...] = option(
        (),
        "--create-builder: a node ENDPOINT[=PLATFORM,...][;KEY=VALUE...] (a docker context or ssh:// host: "
        "docker-container; tcp:// buildkitd: remote, with cacert=, cert=, key=, servername=)",
        parse=_list_semicolon,
        commands=BUILDER,
        group="builder",
        kind="list",
    )
    builder_image: str | None = option(
        None,
        "BuildKit image for --create-builder (a mirror, for air-gapped machines)",
        parse=_reference(False),
        commands=BUILDER,
        group="builder",
    )
    registry_timeout: float = option(
        20.0,
        "seconds one registry request may take (up to 4 tries) when buildx-go reads tags and verifies",
        parse=_seconds,
        commands=BUILDING | DOCTOR | {"verify"},
        metavar="SECONDS",
    )
    credential_helper_timeout: float = option(
        20.0,
        "seconds a docker credential helper may take to answer buildx-go (then exit 5)",
        parse=_seconds,
        commands=BUILDING | DOCTOR | {"verify"},
        metavar="SECONDS",
    )
    network: str | None = option(None, "network mode for RUN steps (buildx --network)", parse=_optional_str)
    include_git: bool = _flag(False, "send .git in the build context (left out by default)")
    progress: Literal["auto", "plain", "tty", "quiet", "rawjson"] = _choose(
        "auto", PROGRESS, "BuildKit's progress display"
    )
    provenance: bool = _flag(True, "provenance attestations")
    sbom: bool = _flag(False, "an SBOM attestation")
    verify: bool = _flag(True, "verify what was pushed (--no-verify: do not)")
    allow_non_go: bool = _flag(
        False,
        "let verification accept an entrypoint that is not a Go binary (its machine still checked) or a script",
        commands=BUILDING | {"verify"},
    )
    dry_run: bool = _flag(False, "print the commands that would run; run nothing", commands=BUILD)
    rebuild: bool = _flag(
        False, "build even if the same build already published its image and nothing changed since", commands=BUILD
    )
    preflight: bool = _flag(
        True,
        "with --push, ask the registry before building whether this account may push to the image "
        "(--no-preflight: do not)",
        commands=BUILD,
    )
    metadata_file: str | None = option(
        None,
        "write the result here as JSON, in buildx's keys (containerimage.digest, image.name, ...) plus buildx-go's",
        parse=_optional_str,
        commands=BUILD,
        group="output",
        metavar="PATH",
    )
    format: Literal["text", "json", "bake"] = _choose(
        "text",
        ("text", "json", "bake"),
        "what stdout carries: text, or JSON for scripts; plan also writes a docker buildx bake file (bake)",
        commands=frozenset({"build", "plan", "doctor", "verify"}),
        group="output",
        aliases=("--output-format",),
    )
    log_format: Literal["auto", "json", "console"] = _choose(
        "auto",
        LOG_FORMATS,
        "events on stderr: console on a terminal or in a CI log (`CI`, `GITHUB_ACTIONS` or `GITLAB_CI` set), else json",
        commands=GLOBAL,
        group="output",
    )
    debug: bool = _flag(False, "debug events, and tracebacks for errors", commands=GLOBAL, group="output")
    sources: Mapping[str, str] = attrs.field(factory=dict, eq=False)

    def secret_ids(self) -> set[str]:
        """The ids of the --secret specs."""
        return {secret_fields(spec).get("id", "") for spec in self.secret}

    def build_args(self) -> dict[str, str]:
        """--build-arg as a mapping (a later KEY wins, as with buildx)."""
        return {key: value for key, _, value in (kv.partition("=") for kv in self.build_arg)}


OPTION_NAMES = tuple(name for name, _ in specs(Settings))


TOML_KINDS = {"bool": "a boolean", "int": "an integer", "float": "a float", "str": "a string", "list": "an array"}


def load_config_file(project: Path, files: Files) -> dict[str, Any]:
    """The ``[build]`` table (or top level) of PROJECT/.buildx-go.toml, if present."""
    path = project / CONFIG_FILE
    if not files.exists(path):
        return {}
    import tomllib  # only when there is a file: keeps the start fast

    try:
        data = tomllib.loads(files.read_text(path))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: {exc}", "fix the TOML syntax") from None
    table = data.get("build", data)
    if not isinstance(table, dict):
        kind = TOML_KINDS.get(type(table).__name__, "value")
        raise InputError(f"{path}: build must be a table, not {kind}", "write [build], then key = value lines")
    unknown = sorted(k for k in table if k.replace("-", "_") not in OPTION_NAMES)
    if unknown:
        raise InputError(
            f"{path}: unknown setting {unknown[0]!r}", "known: " + ", ".join(map(config_key, OPTION_NAMES))
        )
    return {k.replace("-", "_"): v for k, v in table.items()}


def _given(
    name: str, cli: Mapping[str, Any], env: Mapping[str, str], file_values: Mapping[str, Any]
) -> tuple[str, Any]:
    """(source, raw value) of the first layer that sets NAME, or ("default", None). An empty
    (or blank) environment value is unset, as docker's and Go's own variables are: a stray
    BUILDX_GO_VERIFY=" " leaves verification on."""
    for source, table, key in (
        (flag(name), cli, name),
        (env_name(name), env, env_name(name)),
        (f"{CONFIG_FILE} {config_key(name)}", file_values, name),
    ):
        raw = table.get(key)
        if raw not in (None, [], ()) and not (table is env and not raw.strip()):
            return source, raw
    return "default", None


def resolve(
    cli: Mapping[str, Any], env: Mapping[str, str], file_values: Mapping[str, Any], *, checked: bool = True
) -> Settings:
    """Settings from CLI values (None = not given), the environment and the config file.
    CHECKED: apply the cross-field rules of the commands that build (``check``)."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, spec in specs(Settings):
        source, raw = _given(name, cli, env, file_values)
        sources[name] = source
        try:
            values[name] = spec.parse(spec.default if source == "default" else raw)
        except InputError as exc:
            raise InputError(exc.message.replace("--platform", source, 1), exc.hint) from None
        except (ValueError, TypeError) as exc:
            raise InputError(f"{source}: {exc}") from None
    settings = Settings(**values, sources=sources)
    if checked:
        check(settings)
    return settings


def publishes(spec: str) -> bool:
    """Whether a buildx --output SPEC pushes to a registry (type=registry, or an image
    exporter with push=true; the type may be given alone or as the first field)."""
    fields = dict(p.partition("=")[::2] for p in spec.split(",") if p)
    kind = fields.get("type") or (spec.split(",")[0] if "=" not in spec.split(",")[0] else "")
    push = fields.get("push", "false").strip().lower() in ("true", "1", "")
    return kind == "registry" or (kind == "image" and "push" in fields and push)


def check(s: Settings) -> None:
    """Cross-field rules."""
    if (s.latest or s.floating) and not s.push:
        raise InputError("--latest/--floating: moving tags are only written with --push", "add --push")
    if s.output and publishes(s.output):
        raise InputError(
            f"{s.sources.get('output', '--output')}: {s.output!r} pushes to a registry around verification and tags",
            "use --push: the image is pushed, verified, then tagged (and --latest moved)",
        )
    outputs = [name for name, on in (("--push", s.push), ("--load", s.load), ("--output", bool(s.output))) if on]
    if len(outputs) > 1:
        raise InputError(f"{' and '.join(outputs)}: choose one destination", "--push, --load or --output")
    if s.load and len(s.platform) > 1:
        raise InputError(
            "--load: a multi-platform image cannot be loaded into the image store of every engine",
            "use --push to a registry, or --platform with one platform",
        )
    from buildx_go.refs import valid_tag

    for tag in s.tag:
        if not valid_tag(tag):
            raise InputError(
                f"{s.sources.get('tag', '--tag')}: {tag!r} is not a valid tag",
                "tags are [A-Za-z0-9_.-], at most 128, not starting with . or -",
            )
