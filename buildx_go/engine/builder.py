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

from buildx_go.errors import EngineError, InputError
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
class Node:
    """One BuildKit of a builder (a builder may have several, e.g. one per machine)."""

    name: str
    endpoint: str
    status: str
    platforms: tuple[str, ...]  # what it can build (declared ones first, then its worker's)
    declared: tuple[str, ...] = ()  # --platform given when it was added to the builder
    buildkit: str | None = None
    error: str | None = None

    @property
    def native(self) -> str | None:
        """Its own machine's platform: its worker lists that first, after the declared ones."""
        rest = [p for p in self.platforms if p not in self.declared] or list(self.platforms)
        if not rest:
            return None
        own = _platform(rest[0])
        # amd64/v2, /v3 are levels of the same machine: its platform is linux/amd64
        return f"{own.os}/{own.arch}" if own is not None and own.arch == "amd64" else rest[0]

    @property
    def down(self) -> bool:
        """Can this node not be used? (inactive ones are started by buildx when needed)"""
        return bool(self.error) or self.status in ("error", "stopped")

    @classmethod
    def from_ls(cls, node: Mapping[str, Any]) -> Node:
        return cls(
            name=str(node.get("Name") or ""),
            endpoint=str(node.get("Endpoint") or ""),
            status=str(node.get("Status") or ("error" if node.get("Err") else "unknown")),
            platforms=tuple(str(p) for p in node.get("Platforms") or []),
            buildkit=str(node["Version"]) if node.get("Version") else None,
            error=str(node["Err"]) if node.get("Err") else None,
        )


@attrs.frozen
class Builder:
    name: str
    driver: str
    status: str
    platforms: tuple[str, ...]
    current: bool = False
    buildkit: str | None = None
    error: str | None = None
    nodes: tuple[Node, ...] = ()

    @classmethod
    def from_ls_entry(cls, entry: Mapping[str, Any], current_name: str | None) -> Builder:
        nodes = tuple(Node.from_ls(n) for n in entry.get("Nodes") or [])
        platforms: list[str] = []
        for node in nodes:
            platforms += [p for p in node.platforms if p not in platforms]
        statuses = sorted({n.status for n in nodes} - {"", "unknown"})
        errors = [f"node {n.name!r}: {n.error}" for n in nodes if n.error]
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
            buildkit=next((n.buildkit for n in nodes if n.buildkit), None),
            error=errors[0] if errors else None,
            nodes=nodes,
        )

    def with_declared(self, declared: Mapping[str, tuple[str, ...]]) -> Builder:
        """The nodes' declared platforms (from `buildx inspect`, which marks them with *),
        put first in their platform lists as buildx does."""
        nodes = []
        for n in self.nodes:
            mine = declared.get(n.name, ())
            nodes.append(attrs.evolve(n, declared=mine, platforms=(*mine, *(p for p in n.platforms if p not in mine))))
        return attrs.evolve(self, nodes=tuple(nodes))


def parse_inspect(text: str) -> tuple[str | None, dict[str, tuple[str, ...]]]:
    """(builder name, {node name: declared platforms}) from `docker buildx inspect`'s text
    (its JSON form came later than buildx 0.13; python-on-whales reads the text too)."""
    name = None
    declared: dict[str, tuple[str, ...]] = {}
    node = None
    in_nodes = False
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "Nodes" and not value:
            in_nodes = True
        elif key == "Name" and not in_nodes and name is None:
            name = value or None
        elif key == "Name" and in_nodes:
            node = value
            declared[node] = ()
        elif key == "Platforms" and in_nodes and node is not None:
            declared[node] = tuple(p.strip().rstrip("*") for p in value.split(",") if p.strip().endswith("*"))
    return name, declared


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
    bridge: bool | None = None  # the engine has its default bridge network (None: not asked)

    @property
    def reachable(self) -> bool:
        return self.server is not None

    @classmethod
    def from_info(
        cls, host: str, info_json: str, error: str | None = None
    ) -> tuple[Engine, Version | None, str | None]:
        """The engine, and the buildx plugin's version and binary, from ``docker info --format
        json`` (which the CLI prints, client part filled, even when the engine is down)."""
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
        if not buildx:
            return engine, None, None
        path = buildx.get("Path")
        return engine, parse_version(buildx.get("Version")), path if isinstance(path, str) else None


@attrs.frozen
class Placement:
    """Where one platform is built: NODE (declared for it or not) and HOW its Go compiles."""

    platform: Platform
    node: str | None
    declared: bool
    how: str  # native | cross-compiling from its <platform>

    def describe(self) -> str:
        on = f"on node {self.node}" + (" (declared)" if self.declared else "") if self.node else "on the builder"
        return f"{self.platform} {on}: {self.how}"


def several_nodes(placement: Iterable[Placement]) -> bool:
    """Whether PLACEMENT spreads the platforms over more than one builder node."""
    return len({p.node for p in placement}) > 1


@attrs.frozen
class BuilderCaps:
    """What the chosen builder can do that changes the commands (``Preflight.caps``). The
    defaults are the docker driver's: the safe assumption when the builder is not known."""

    direct_push: bool = False  # BuildKit pushes; buildx must not push again (plan.registry_output)
    push_by_digest: bool = False  # an index can be pushed untagged, verified, then tagged
    cache_export: bool = False  # --cache-to works (not on the docker driver's classic store)
    attestations: bool = True  # provenance/SBOM can be stored (not on the docker driver's classic store)


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
    buildx_path: str | None = None  # the buildx plugin's binary, as the docker CLI found it

    @classmethod
    def assumed(cls, host: str, arch: str, name: str | None, platforms: tuple[str, ...]) -> Preflight:
        """Facts of a running builder NAME with a BuildKit of its own that builds PLATFORMS in
        one run, on an engine of ARCH: what a rerun tells its inputs with before docker is
        asked (they do not depend on the builder: planning/inputs.py)."""
        name = name or "default"
        node = Node(f"{name}0", "", "running", platforms)
        builder = Builder(name, "docker-container", "running", platforms, current=True, nodes=(node,))
        engine = Engine(host, server=Version("99"), arch=arch, containerd_store=True, bridge=True)
        return cls(engine, Version("99"), None, (builder,), name, ())

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
        containerd_docker = b is not None and b.driver == "docker" and self.engine.containerd_store
        classic_docker = b is not None and b.driver == "docker" and not containerd_docker
        return BuilderCaps(self.direct_push(), own_buildkit, own_buildkit or containerd_docker, not classic_docker)

    def placement(self, platforms: Iterable[Platform]) -> list[Placement]:
        """Which node builds each platform, as buildx picks it: a node that declares it, else
        the first that lists it, else the first node; and how its Go stage gets there (on
        $BUILDPLATFORM, which is the node's own platform)."""
        b = self.builder
        nodes = list(b.nodes) if b else []
        out = []
        for p in platforms:
            text = str(p)
            node = next((n for n in nodes if text in n.declared), None)
            node = node or next((n for n in nodes if text in n.platforms), None) or (nodes[0] if nodes else None)
            if b is not None and b.driver == "docker" and self.engine.arch:
                native: str | None = f"linux/{self.engine.arch}"
            else:
                native = node.native if node else None
            own = _platform(native) if native else None
            how = "native" if own is not None and own.arch == p.arch else f"cross-compiling from its {native or '?'}"
            unknown = node is not None and b is not None and b.driver != "docker"
            if unknown and node and (node.down or (node.status == TO_CREATE and node.declared)):
                # its machine's platform is what its running worker lists; declared ones are claims
                state = "not created yet" if node.status == TO_CREATE else node.status
                how = f"not known while node {node.name} is {state}"
            out.append(Placement(p, node.name if node else None, bool(node and text in node.declared), how))
        return out

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
            else:
                out += [f"builder: {b.name!r}: node {n.name!r} ({n.endpoint}) is {n.status}" for n in self.down_nodes()]
        return out

    def down_nodes(self) -> list[Node]:
        """Nodes that cannot build: in error, stopped, or (the remote driver, which buildx
        cannot start) not running."""
        b = self.builder
        if b is None:
            return []
        return [n for n in b.nodes if n.down or (b.driver == "remote" and n.status not in ("running", TO_CREATE))]

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
        raise EngineError(problems[0], "run `buildx-go doctor` for the full picture")


DEFAULT_BUILDER_NAME = "buildx-go"


def buildkitd_config(http_registries: Iterable[str]) -> str:
    """buildkitd.toml letting BuildKit push to plain-http (loopback) registries."""
    return "".join(f'[registry."{host}"]\n  http = true\n  insecure = true\n' for host in http_registries)


@attrs.frozen
class NodeSpec:
    """A node --node asks for: ENDPOINT[=PLATFORM,...][;KEY=VALUE...] (driver options)."""

    endpoint: str  # a docker context or host (docker-container), or tcp:// buildkitd (remote)
    platforms: tuple[str, ...] = ()
    options: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: str) -> NodeSpec:
        head, *opts = [part.strip() for part in text.split(";")]
        endpoint, _, platforms = head.partition("=")
        if not endpoint:
            raise InputError(f"--node: {text!r} names no endpoint", "ENDPOINT[=PLATFORM,...][;KEY=VALUE...]")
        options = []
        for opt in opts:
            key, eq, value = opt.partition("=")
            if not eq or not key:
                raise InputError(f"--node: {opt!r} in {text!r} is not KEY=VALUE", "e.g. ;cacert=/certs/ca.pem")
            options.append((key, value))
        found = tuple(str(Platform.parse(p)) for p in platforms.split(",") if p.strip())
        return cls(endpoint, found, tuple(options))

    @property
    def driver(self) -> str:
        explicit = dict(self.options).get("driver")
        return explicit or ("remote" if self.endpoint.startswith("tcp://") else "docker-container")


@attrs.frozen
class NewBuilder:
    """A builder --create-builder makes (it does not exist yet): one docker-container node on
    the current engine, or the --node list (docker-container on docker contexts and ssh://
    hosts, remote on tcp:// buildkitd endpoints)."""

    name: str
    image: str | None  # --builder-image; None: buildx's default (moby/buildkit)
    http_registries: tuple[str, ...]  # loopback registries spoken to in plain http
    network_host: bool
    nodes: tuple[NodeSpec, ...] = ()

    @property
    def driver(self) -> str:
        drivers = {n.driver for n in self.nodes} or {"docker-container"}
        if len(drivers) > 1:
            raise InputError(
                f"--node: one builder has one driver, these nodes need {' and '.join(sorted(drivers))}",
                "tcp:// endpoints are remote buildkitd; docker contexts and ssh:// hosts run docker-container",
            )
        return drivers.pop()

    def commands(self, config_path: str | None) -> list[tuple[str, ...]]:
        """`docker buildx create` for the first node, `--append` for each other, then
        `docker buildx inspect --bootstrap` (every node started and checked)."""
        nodes = self.nodes or (NodeSpec(""),)
        out = []
        for i, node in enumerate(nodes):
            argv = ["docker", "buildx", "create", *(["--append"] if i else []), "--name", self.name]
            argv += ["--driver", self.driver] if not i else []
            argv += ["--node", f"{self.name}{i}"] if self.nodes else []
            argv += ["--platform", ",".join(node.platforms)] if node.platforms else []
            for key, value in self.driver_options(node):
                argv += ["--driver-opt", f"{key}={value}"]
            if config_path and self.driver == "docker-container":
                argv += ["--buildkitd-config", config_path]
            argv += [node.endpoint] if node.endpoint else []
            out.append(tuple(argv))
        if self.nodes:
            return [*out, ("docker", "buildx", "inspect", "--bootstrap", self.name)]
        out[0] = (*out[0], "--bootstrap")
        return out

    def argv(self, config_path: str | None) -> tuple[str, ...]:
        """The single command of a one-node builder (the common case)."""
        (only,) = self.commands(config_path)
        return only

    def driver_options(self, node: NodeSpec) -> list[tuple[str, str]]:
        if self.driver == "remote":
            return [(k, v) for k, v in node.options if k != "driver"]
        opts = [("image", self.image)] if self.image else []
        opts += [("network", "host")] if self.network_host else []
        return opts + [(k, v) for k, v in node.options if k != "driver"]

    def projected(self, pre: Preflight) -> Preflight:
        """PRE with this builder as it will be: its nodes with their declared platforms (a
        node declaring none lists what this engine's BuildKit would: its own platform and
        those the host emulates)."""
        native = [f"linux/{pre.engine.arch}"] if pre.engine.arch else []
        emulated = [p for p, q in QEMU_PLATFORMS.items() if q in pre.emulators and p not in native]
        nodes = []
        for i, spec in enumerate(self.nodes or (NodeSpec(""),)):
            platforms = spec.platforms or tuple(native + emulated)
            nodes.append(Node(f"{self.name}{i}", spec.endpoint, TO_CREATE, platforms, spec.platforms))
        builder = Builder(self.name, self.driver, TO_CREATE, tuple(nodes[0].platforms), nodes=tuple(nodes))
        return attrs.evolve(pre, builders=(*pre.builders, builder), wanted_builder=self.name)

    def difference(self, existing: Builder) -> str | None:
        """How EXISTING differs from the builder asked for (None: the same, reuse it).
        Without --node any builder of that name is the one asked for."""
        if not self.nodes:
            return None
        have = [
            (n.endpoint if n.endpoint.startswith("tcp://") else "", tuple(sorted(n.declared))) for n in existing.nodes
        ]
        want = [(n.endpoint if n.endpoint.startswith("tcp://") else "", tuple(sorted(n.platforms))) for n in self.nodes]
        if existing.driver == self.driver and sorted(have) == sorted(want):
            return None
        shown = "; ".join(f"{n.name} {n.endpoint} {','.join(n.declared) or '-'}" for n in existing.nodes)
        asked = "; ".join(f"{n.endpoint} {','.join(n.platforms) or '-'}" for n in self.nodes)
        return (
            f"builder {self.name!r} exists as {existing.driver} with nodes [{shown}], not the nodes asked for [{asked}]"
        )


TO_CREATE = "to be created"  # the status of a --create-builder node in the plan

QEMU_PLATFORMS = {
    "linux/amd64": "qemu-x86_64",
    "linux/arm64": "qemu-aarch64",
    "linux/arm/v7": "qemu-arm",
    "linux/386": "qemu-i386",
    "linux/ppc64le": "qemu-ppc64le",
    "linux/s390x": "qemu-s390x",
    "linux/riscv64": "qemu-riscv64",
}
