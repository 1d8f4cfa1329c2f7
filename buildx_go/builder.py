"""What the engine and the buildx builder can do (pure: parsed from machine-readable output).

docker.py gathers the raw JSON (``docker version``, ``docker info``, ``buildx ls``); the
functions here turn it into facts (decide.py picks how to build from them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
from packaging.version import InvalidVersion, Version

from buildx_go.errors import EngineError
from buildx_go.platforms import Platform

MIN_BUILDX = Version("0.13")  # `buildx ls --format json`
BUILDX_PUSHES_ONCE = Version("0.21")  # docker/buildx#3023: no second push through the engine
MIN_ENGINE = Version("23.0")  # BuildKit by default, --provenance/--sbom, --metadata-file digests
MULTI_PLATFORM_DRIVERS = ("docker-container", "kubernetes", "remote")
CONTAINERD_SNAPSHOTTER = "io.containerd.snapshotter.v1"


def parse_version(text: str | None) -> Version | None:
    """The leading dotted number of TEXT (``v0.13.1+ds1``, ``26.1.5+dfsg1``), or None."""
    m = re.search(r"(\d+(?:\.\d+)*)", text or "")
    if not m:
        return None
    try:
        return Version(m.group(1))
    except InvalidVersion:
        return None


@attrs.frozen
class Builder:
    name: str
    driver: str
    status: str
    platforms: tuple[str, ...]
    current: bool = False
    buildkit: str | None = None
    error: str | None = None

    @classmethod
    def from_ls_entry(cls, entry: Mapping[str, Any], current_name: str | None) -> Builder:
        nodes = entry.get("Nodes") or []
        platforms: list[str] = []
        for node in nodes:
            for p in node.get("Platforms") or []:
                if p not in platforms:
                    platforms.append(p)
        statuses = sorted({str(n.get("Status") or "") for n in nodes} - {""})
        errors = [str(n["Err"]) for n in nodes if n.get("Err")]
        if entry.get("Err"):
            errors.insert(0, str(entry["Err"]))
        name = str(entry.get("Name") or "")
        current = bool(entry["Current"]) if "Current" in entry else name == current_name
        return cls(
            name=name,
            driver=str(entry.get("Driver") or "unknown"),
            status=",".join(statuses) or ("error" if errors else "unknown"),
            platforms=tuple(platforms),
            current=current,
            buildkit=next((str(n["Version"]) for n in nodes if n.get("Version")), None),
            error=errors[0] if errors else None,
        )


def parse_builders(ls_json: str, current_name: str | None) -> tuple[Builder, ...]:
    """Builders from ``docker buildx ls --format json`` (one object per line; buildx 0.13
    prints each builder twice, so the first of a name wins)."""
    seen: dict[str, Builder] = {}
    for line in ls_json.splitlines():
        if not line.strip().startswith("{"):
            continue
        builder = Builder.from_ls_entry(json.loads(line), current_name)
        seen.setdefault(builder.name, builder)
    return tuple(seen.values())


@attrs.frozen
class Engine:
    host: str
    error: str | None = None
    client: Version | None = None
    server: Version | None = None
    arch: str | None = None
    storage_driver: str | None = None
    containerd_store: bool = False

    @property
    def reachable(self) -> bool:
        return self.server is not None

    @classmethod
    def from_info(cls, host: str, info_json: str, error: str | None = None) -> tuple[Engine, Version | None]:
        """The engine, and the buildx plugin's version, from ``docker info --format json``
        (which the CLI prints, client part filled, even when the engine is down)."""
        info = json.loads(info_json or "{}")
        client = info.get("ClientInfo") or {}
        status = {str(k): str(v) for k, v in (info.get("DriverStatus") or []) if k}
        buildx = next((p for p in client.get("Plugins") or [] if p.get("Name") == "buildx"), None)
        server = parse_version(info.get("ServerVersion"))
        arch = info.get("Architecture") or None
        engine = cls(
            host=host if host else f"context {client.get('Context') or 'default'}",
            error=None if server else (error or "; ".join(info.get("ServerErrors") or []) or "no answer"),
            client=parse_version(client.get("Version")),
            server=server,
            arch=str(Platform.parse(f"linux/{arch}").arch) if arch and _platform(f"linux/{arch}") else arch,
            storage_driver=info.get("Driver") or None,
            containerd_store=status.get("driver-type") == CONTAINERD_SNAPSHOTTER,
        )
        return engine, parse_version(buildx.get("Version")) if buildx else None


@attrs.frozen
class BuilderCaps:
    """What the chosen builder can do that changes the commands (``Preflight.caps``). The
    defaults are the docker driver's: the safe assumption when the builder is not known."""

    direct_push: bool = False  # BuildKit pushes; buildx must not push again (plan.registry_output)
    push_by_digest: bool = False  # an index can be pushed untagged, verified, then tagged
    cache_export: bool = False  # --cache-to works (not on the docker driver's classic store)


@attrs.frozen
class Preflight:
    """Everything ``doctor`` reports and the planner needs from the machine."""

    engine: Engine
    buildx: Version | None
    buildx_error: str | None
    builders: tuple[Builder, ...]
    wanted_builder: str | None  # --builder, else None (the current one)
    emulators: tuple[str, ...]
    cli_error: str | None = None
    cached: bool = False  # the docker answers came from buildx-go's facts cache

    @property
    def builder(self) -> Builder | None:
        """The builder buildx-go would use: --builder NAME, else the current one."""
        for b in self.builders:
            if (self.wanted_builder and b.name == self.wanted_builder) or (not self.wanted_builder and b.current):
                return b
        return None

    @property
    def native(self) -> Platform | None:
        b = self.builder
        if b and b.driver == "docker" and self.engine.arch:
            return _platform(f"linux/{self.engine.arch}")
        return _platform(b.platforms[0]) if b and b.platforms else None

    def multi_platform(self) -> tuple[bool, str]:
        """Can the selected builder build several platforms in ONE run? And why (or why not)."""
        b = self.builder
        if b is None:
            return False, "no usable builder"
        if b.driver in MULTI_PLATFORM_DRIVERS:
            return True, f"builder {b.name!r} uses the {b.driver} driver"
        if b.driver == "docker" and self.engine.containerd_store:
            return True, f"builder {b.name!r} uses the docker driver with the containerd image store"
        if b.driver == "docker":
            store = self.engine.storage_driver or "classic"
            return False, (
                f"builder {b.name!r} uses the docker driver with the classic image store ({store}), "
                "which cannot build several platforms in one run"
            )
        return False, f"builder {b.name!r} uses the unknown driver {b.driver!r}"

    def direct_push(self) -> bool:
        """Does BuildKit push by itself while buildx would push again through the engine? (the
        docker driver on a containerd-store engine, buildx before 0.21, which fixed that:
        docker/buildx#3023; see ``plan.registry_output``)"""
        b = self.builder
        fixed = self.buildx is None or self.buildx >= BUILDX_PUSHES_ONCE
        return b is not None and b.driver == "docker" and self.engine.containerd_store and not fixed

    def caps(self) -> BuilderCaps:
        """The selected builder's capabilities. Only BuildKit's own exporters push by digest:
        the docker driver's engine names every image it exports with a tag (moby's exporter
        wrapper), and buildx refuses ``push-by-digest`` there."""
        b = self.builder
        own_buildkit = b is not None and b.driver in MULTI_PLATFORM_DRIVERS
        cache = own_buildkit or (b is not None and b.driver == "docker" and self.engine.containerd_store)
        return BuilderCaps(self.direct_push(), own_buildkit, cache)

    def platform_support(self, platforms: Iterable[Platform]) -> list[tuple[Platform, str]]:
        """How the builder runs each platform: native, emulated (QEMU), or not at all (then a Go
        cross-compile still works; only RUN in that platform's final stage cannot)."""
        b = self.builder
        listed = set(b.platforms if b else ())
        out = []
        for p in platforms:
            if self.native and p.arch == self.native.arch:
                how = "native"
            elif str(p) in listed:
                how = "emulated (builder lists it)"
            elif QEMU_NAMES.get(p.arch) in self.emulators:
                how = f"emulated ({QEMU_NAMES[p.arch]} in binfmt_misc)"
            else:
                how = "no emulation: cross-compile only"
            out.append((p, how))
        return out

    def problems(self) -> list[str]:
        """What stops buildx-go from building here (doctor exits 3 when there is any)."""
        if self.cli_error:
            return [self.cli_error]
        out = []
        if not self.engine.reachable:
            out.append(f"engine: not reachable at {self.engine.host}: {self.engine.error or 'no answer'}")
        elif self.engine.server and self.engine.server < MIN_ENGINE:
            out.append(f"engine: {self.engine.server} is older than {MIN_ENGINE}")
        if self.buildx is None:
            out.append(f"buildx: {self.buildx_error or 'the docker buildx plugin is missing'}")
        elif self.buildx < MIN_BUILDX:
            out.append(f"buildx: {self.buildx} is older than {MIN_BUILDX} (needed for `buildx ls --format json`)")
        if self.engine.reachable and self.buildx is not None:
            b = self.builder
            if b is None:
                which = repr(self.wanted_builder) if self.wanted_builder else "(current)"
                known = ", ".join(x.name for x in self.builders) or "none"
                out.append(f"builder: {which} not found (builders: {known})")
            elif b.error:
                out.append(f"builder: {b.name!r}: {b.error}")
        return out

    def to_dict(self) -> dict[str, Any]:
        multi, why = self.multi_platform() if self.builder else (False, "no usable builder")
        return {
            "engine": {
                "host": self.engine.host,
                "reachable": self.engine.reachable,
                "error": self.engine.error,
                "client": str(self.engine.client or "") or None,
                "server": str(self.engine.server or "") or None,
                "arch": self.engine.arch,
                "storage_driver": self.engine.storage_driver,
                "containerd_store": self.engine.containerd_store,
            },
            "buildx": str(self.buildx) if self.buildx else None,
            "builders": [attrs.asdict(b) for b in self.builders],
            "selected": self.builder.name if self.builder else None,
            "multi_platform": multi,
            "multi_platform_reason": why,
            "emulators": list(self.emulators),
            "problems": self.problems(),
        }


QEMU_NAMES = {
    "arm64": "qemu-aarch64",
    "arm": "qemu-arm",
    "386": "qemu-i386",
    "ppc64le": "qemu-ppc64le",
    "s390x": "qemu-s390x",
    "riscv64": "qemu-riscv64",
    "amd64": "qemu-x86_64",
}


def _platform(text: str) -> Platform | None:
    try:
        return Platform.parse(text)
    except Exception:
        return None


def require_usable(pre: Preflight) -> None:
    """Raise EngineError (exit 3) for the first thing that stops any build here."""
    problems = pre.problems()
    if problems:
        raise EngineError(problems[0], "run `buildx-go doctor` for the full picture (scripts/setup starts an engine)")


DEFAULT_BUILDER_NAME = "buildx-go"


def buildkitd_config(http_registries: Iterable[str]) -> str:
    """buildkitd.toml letting BuildKit push to plain-http (loopback) registries."""
    return "".join(f'[registry."{host}"]\n  http = true\n  insecure = true\n' for host in http_registries)


@attrs.frozen
class NewBuilder:
    """A docker-container builder --create-builder makes (it does not exist yet)."""

    name: str
    image: str | None  # --builder-image; None: buildx's default (moby/buildkit)
    http_registries: tuple[str, ...]  # loopback registries spoken to in plain http
    network_host: bool

    def argv(self, config_path: str | None) -> tuple[str, ...]:
        """`docker buildx create ... --bootstrap`: a builder that builds multi-platform."""
        argv = ["docker", "buildx", "create", "--name", self.name, "--driver", "docker-container"]
        if self.image:
            argv += ["--driver-opt", f"image={self.image}"]
        if self.network_host:
            argv += ["--driver-opt", "network=host"]
        if config_path:
            argv += ["--buildkitd-config", config_path]
        return (*argv, "--bootstrap")

    def projected(self, pre: Preflight) -> Preflight:
        """PRE with this builder as it will be: a docker-container builder whose platforms are
        the engine's own and those the host emulates (what BuildKit's worker lists)."""
        native = [f"linux/{pre.engine.arch}"] if pre.engine.arch else []
        emulated = [p for p, q in QEMU_PLATFORMS.items() if q in pre.emulators and p not in native]
        builder = Builder(self.name, "docker-container", "inactive", tuple(native + emulated))
        return attrs.evolve(pre, builders=(*pre.builders, builder), wanted_builder=self.name)


QEMU_PLATFORMS = {
    "linux/amd64": "qemu-x86_64",
    "linux/arm64": "qemu-aarch64",
    "linux/arm/v7": "qemu-arm",
    "linux/386": "qemu-i386",
    "linux/ppc64le": "qemu-ppc64le",
    "linux/s390x": "qemu-s390x",
    "linux/riscv64": "qemu-riscv64",
}
