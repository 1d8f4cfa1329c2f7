"""Settings, resolved once: CLI > BUILDX_GO_* environment > .buildx-go.toml > defaults.

Every value remembers where it came from (``Settings.sources``), so ``plan`` can say why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from buildx_go.errors import InputError
from buildx_go.platforms import Platform, parse_platforms

CONFIG_FILE = ".buildx-go.toml"
DEFAULT_BASE_IMAGE = "gcr.io/distroless/static-debian12:nonroot"
LOG_FORMATS = ("auto", "json", "console")


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _list(value: Any) -> tuple[str, ...]:
    items = [str(v) for v in value] if isinstance(value, (list, tuple)) else str(value).split(",")
    return tuple(i.strip() for i in items if i.strip())


def _choice(*allowed: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if str(value) not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
        return str(value)

    return parse


def _platforms(value: Any) -> tuple[Platform, ...]:
    return parse_platforms(list(_list(value)))


def _optional_str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


# name -> (parser, default). The CLI flag is --name-with-dashes, the env var BUILDX_GO_NAME.
OPTIONS: dict[str, tuple[Callable[[Any], Any], Any]] = {
    "platform": (_platforms, "linux/amd64,linux/arm64"),
    "image": (_optional_str, None),
    "tag": (_list, ()),
    "go_image": (_optional_str, None),
    "base_image": (str, DEFAULT_BASE_IMAGE),
    "file": (_optional_str, None),
    "main": (_list, ()),
    "version_var": (_optional_str, None),
    "push": (_bool, False),
    "load": (_bool, False),
    "output": (_optional_str, None),
    "builder": (_optional_str, None),
    "network": (_optional_str, None),
    "progress": (str, "auto"),
    "provenance": (_bool, True),
    "sbom": (_bool, False),
    "verify": (_bool, True),
    "adapt": (_bool, True),
    "latest": (_bool, False),
    "floating": (_bool, False),
    "version_from": (_optional_str, None),
    "strategy": (_choice("auto", "buildx", "manifest", "host"), "auto"),
    "host_go": (_bool, False),
    "include_git": (_bool, False),
    "pin_base": (_bool, True),
    "clean_arch_tags": (_bool, False),
    "compression": (_choice("zstd", "gzip", "uncompressed"), "zstd"),
    "create_builder": (_bool, False),
    "builder_image": (_optional_str, None),
    "cache": (_choice("none", "registry"), "none"),
    "cache_to": (_list, ()),
    "cache_from": (_list, ()),
    "log_format": (_choice(*LOG_FORMATS), "auto"),
}


@attrs.frozen
class Settings:
    platform: tuple[Platform, ...]
    image: str | None
    tag: tuple[str, ...]
    go_image: str | None
    base_image: str
    file: str | None
    main: tuple[str, ...]
    version_var: str | None
    push: bool
    load: bool
    output: str | None
    builder: str | None
    network: str | None
    progress: str
    provenance: bool
    sbom: bool
    verify: bool
    adapt: bool
    latest: bool
    floating: bool
    version_from: str | None
    strategy: str
    host_go: bool
    include_git: bool
    pin_base: bool
    clean_arch_tags: bool
    compression: str
    create_builder: bool
    builder_image: str | None
    cache: str
    cache_to: tuple[str, ...]
    cache_from: tuple[str, ...]
    log_format: str
    sources: Mapping[str, str] = attrs.field(factory=dict, eq=False)


def env_name(option: str) -> str:
    return "BUILDX_GO_" + option.upper()


def flag_name(option: str) -> str:
    return "--" + option.replace("_", "-")


def load_config_file(project: Path) -> dict[str, Any]:
    """The ``[build]`` table (or top level) of PROJECT/.buildx-go.toml, if present."""
    path = project / CONFIG_FILE
    if not path.is_file():
        return {}
    import tomllib  # only when there is a file: keeps the start fast

    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: {exc}", "fix the TOML syntax") from None
    table = data.get("build", data)
    unknown = sorted(k for k in table if k.replace("-", "_") not in OPTIONS)
    if unknown:
        raise InputError(f"{path}: unknown setting {unknown[0]!r}", "known: " + ", ".join(sorted(OPTIONS)))
    return {k.replace("-", "_"): v for k, v in table.items()}


def _given(
    name: str, cli: Mapping[str, Any], env: Mapping[str, str], file_values: Mapping[str, Any]
) -> tuple[str, Any]:
    """(source, raw value) of the first layer that sets NAME, or ("default", None)."""
    for source, table, key in (
        (flag_name(name), cli, name),
        (env_name(name), env, env_name(name)),
        (CONFIG_FILE, file_values, name),
    ):
        raw = table.get(key)
        if raw not in (None, [], ()):
            return source, raw
    return "default", None


def resolve(cli: Mapping[str, Any], env: Mapping[str, str], file_values: Mapping[str, Any]) -> Settings:
    """Settings from CLI values (None = not given), the environment and the config file."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, (parse, default) in OPTIONS.items():
        source, raw = _given(name, cli, env, file_values)
        sources[name] = source
        if source == "default":
            values[name] = parse(default) if default is not None else None
            continue
        try:
            values[name] = parse(raw)
        except InputError as exc:
            raise InputError(exc.message.replace("--platform", source, 1), exc.hint) from None
        except (ValueError, TypeError) as exc:
            raise InputError(f"{source}: {exc}") from None
    settings = Settings(**values, sources=sources)
    check(settings)
    return settings


def check(s: Settings) -> None:
    """Cross-field rules."""
    if (s.latest or s.floating) and not s.push:
        raise InputError("--latest/--floating: moving tags are only written with --push", "add --push")
    outputs = [name for name, on in (("--push", s.push), ("--load", s.load), ("--output", bool(s.output))) if on]
    if len(outputs) > 1:
        raise InputError(f"{' and '.join(outputs)}: choose one destination", "--push, --load or --output")
    if s.load and len(s.platform) > 1:
        raise InputError(
            "--load: a multi-platform image cannot be loaded into the image store of every engine",
            "use --push to a registry, or --platform with one platform",
        )
    from buildx_go.tags import valid_tag

    for tag in s.tag:
        if not valid_tag(tag):
            raise InputError(
                f"--tag: {tag!r} is not a valid tag", "tags are [A-Za-z0-9_.-], at most 128, not starting with . or -"
            )
