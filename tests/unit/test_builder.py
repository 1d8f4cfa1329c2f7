"""Builder facts and the strategy choice, from `docker info` / `buildx ls` output captured on
the two engines scripts/setup starts (tests/unit/data)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs
import pytest
from packaging.version import Version

from buildx_go.config import resolve
from buildx_go.engine.builder import (
    Builder,
    Engine,
    NewBuilder,
    NodeSpec,
    Preflight,
    buildkitd_config,
    parse_builders,
    parse_version,
)
from buildx_go.engine.docker import gather_preflight
from buildx_go.errors import EngineError, InputError
from buildx_go.planning.decide import builder_strategy
from buildx_go.platforms import Platform, parse_platforms
from tests.unit.planning import FakeDocker, plan_for
from tests.unit.planning import preflight as planning_preflight

DATA = Path(__file__).parent / "data"


def choose_strategy(
    requested: str, source: str, pre: Preflight | None, platforms: tuple[Platform, ...]
) -> tuple[str, str]:
    """decide.builder_strategy for REQUESTED (set in SOURCE), as (name, reason)."""
    settings = resolve({"strategy": requested, "platform": [",".join(map(str, platforms))]}, {}, {})
    chosen = builder_strategy(attrs.evolve(settings, sources={**settings.sources, "strategy": source}), pre)
    return chosen.name, chosen.reason


TWO = parse_platforms("linux/amd64,linux/arm64")


def read(name: str) -> str:
    return (DATA / name).read_text()


class ProbeExecutor(FakeDocker):
    """Answers `docker info` and `buildx ls` with the ANSWERS given, runs nothing."""

    def __init__(self, answers: Mapping[str, tuple[int, str, str]]) -> None:
        super().__init__()
        self.answers = {"network ls": (0, "bridge\nhost\nnone\n", ""), **answers}
        self.calls = self.probes

    def run(self, argv: Sequence[str], **_: object) -> str:
        raise AssertionError(f"gather_preflight must only probe, ran {argv}")


def preflight(info: str, ls: str, builder: str | None = None, info_code: int = 0) -> Preflight:
    ex = ProbeExecutor(
        {
            "info --format": (info_code, read(info), "Cannot connect to the Docker daemon" if info_code else ""),
            "buildx ls": (0, read(ls), ""),
            "buildx inspect": (0, "Name:          default\nDriver:        docker\n", ""),
        }
    )
    return gather_preflight(ex, {}, builder, emulators={"qemu-aarch64", "qemu-arm"})


def test_versions_are_parsed_leniently() -> None:
    assert parse_version("0.13.1+ds1") == Version("0.13.1")
    assert parse_version("v0.17.1-desktop.1") == Version("0.17.1")
    assert parse_version("26.1.5+dfsg1") == Version("26.1.5")
    assert parse_version("") is None


def test_containerd_store_engine_builds_multi_platform_in_one_run() -> None:
    pre = preflight("info-containerd.json", "ls-containerd.jsonl")
    assert pre.engine.server == Version("26.1.5") and pre.engine.containerd_store
    assert pre.engine.arch == "amd64"
    assert pre.buildx == Version("0.13.1")
    assert [b.name for b in pre.builders] == ["default"]  # buildx 0.13 prints it twice
    assert pre.builder is not None and pre.builder.driver == "docker" and pre.builder.current
    assert pre.multi_platform()[0]
    assert pre.direct_push()  # BuildKit pushes: buildx 0.13 must not push again through the engine
    assert not attrs.evolve(pre, buildx=Version("0.21.0")).direct_push()  # buildx fixed that itself
    assert pre.problems() == []
    strategy, why = choose_strategy("auto", "default", pre, TWO)
    assert strategy == "buildx" and "containerd image store" in why


def test_classic_store_engine_falls_back_to_manifest_and_says_why() -> None:
    pre = preflight("info-classic.json", "ls-classic.jsonl")
    assert not pre.engine.containerd_store and pre.engine.storage_driver == "overlay2"
    multi, why = pre.multi_platform()
    assert not multi and "classic image store (overlay2)" in why
    assert not pre.direct_push()  # there only buildx's push through the engine pushes
    strategy, reason = choose_strategy("auto", "default", pre, TWO)
    assert strategy == "manifest" and "cannot build several platforms in one run" in reason
    assert choose_strategy("auto", "default", pre, TWO[:1])[0] == "buildx"  # one platform: one run


def test_one_platform_pushed_from_a_classic_store_engine_is_a_list_of_one() -> None:
    """The classic store's docker driver pushes one platform as a single manifest and keeps
    no attestations: a verified push needs an index, so auto makes a manifest list of one."""
    pre = preflight("info-classic.json", "ls-classic.jsonl")
    assert not pre.caps().attestations
    assert preflight("info-containerd.json", "ls-containerd.jsonl").caps().attestations
    pushed = resolve({"platform": ["linux/amd64"], "push": True}, {}, {})
    chosen = builder_strategy(pushed, pre)
    assert chosen.name == "manifest" and "pushes one platform as one manifest, not an index" in chosen.reason
    with pytest.raises(EngineError, match=r"^default buildx: builder 'default' \(docker driver, classic") as err:
        builder_strategy(attrs.evolve(pushed, strategy="buildx"), pre)
    assert err.value.exit_code == 3
    assert builder_strategy(attrs.evolve(pushed, verify=False), pre).name == "buildx"  # no index asked for


def test_asking_for_buildx_on_a_builder_that_cannot_is_exit_3() -> None:
    pre = preflight("info-classic.json", "ls-classic.jsonl")
    with pytest.raises(EngineError, match=r"^--strategy buildx: builder 'default' uses the docker driver") as err:
        choose_strategy("buildx", "--strategy", pre, TWO)
    assert err.value.exit_code == 3


def test_explicit_strategies_need_no_facts() -> None:
    assert choose_strategy("buildx", "--strategy", None, TWO)[0] == "buildx"
    assert choose_strategy("manifest", "BUILDX_GO_STRATEGY", None, TWO) == (
        "manifest",
        "asked for (BUILDX_GO_STRATEGY manifest): per-platform builds, then a docker manifest list",
    )


def test_engine_down_is_a_problem_naming_the_host() -> None:
    pre = preflight("info-down.json", "ls-classic.jsonl", info_code=1)
    assert not pre.engine.reachable
    assert pre.buildx == Version("0.13.1")  # the client still reports its plugins
    assert pre.problems()[0].startswith("engine: not reachable at context default: Cannot connect")


def test_missing_buildx_is_a_problem() -> None:
    ex = ProbeExecutor(
        {
            "info --format": (0, read("info-containerd.json").replace('"Name":"buildx"', '"Name":"compose"'), ""),
            "buildx ls": (1, "", "docker: 'buildx' is not a docker command.\nSee 'docker --help'"),
            "buildx inspect": (1, "", "docker: 'buildx' is not a docker command."),
        }
    )
    pre = gather_preflight(ex, {}, None, emulators=set())
    assert pre.buildx is None
    assert pre.problems() == ["buildx: the docker buildx plugin is missing (the docker CLI lists no buildx plugin)"]


def test_unknown_builder_is_a_problem_listing_the_known_ones() -> None:
    pre = preflight("info-containerd.json", "ls-containerd.jsonl", builder="nope")
    assert pre.problems() == ["builder: 'nope' not found (builders: default)"]


def test_platform_support_native_emulated_or_cross_only() -> None:
    pre = preflight("info-containerd.json", "ls-containerd.jsonl")
    support = {str(p): how for p, how in pre.platform_support(parse_platforms("linux/amd64,linux/arm64,linux/arm/v7"))}
    assert support == {
        "linux/amd64": "native",
        "linux/arm64": "emulated (builder lists it)",
        "linux/arm/v7": "emulated (qemu-arm in binfmt_misc)",
    }
    assert dict(pre.platform_support(parse_platforms("linux/s390x")))[parse_platforms("linux/s390x")[0]].startswith(
        "no emulation"
    )


def test_docker_container_builders_are_multi_platform() -> None:
    b = Builder("bx", "docker-container", "running", ("linux/amd64",), current=True)
    pre = Preflight(Engine("h", server=Version("26.1")), Version("0.13"), None, (b,), None, ())
    assert pre.multi_platform() == (True, "builder 'bx' uses the docker-container driver")
    assert not pre.direct_push()  # buildx leaves pushing to BuildKit anyway


def test_current_builder_comes_from_inspect_when_ls_does_not_mark_it() -> None:
    two = read("ls-classic.jsonl").strip() + "\n" + read("ls-classic.jsonl").strip().replace('"default"', '"other"', 1)
    builders = parse_builders(two, "other")
    assert [(b.name, b.current) for b in builders] == [("default", False), ("other", True)]


def test_a_new_builder_for_a_loopback_registry() -> None:
    new = NewBuilder("buildx-go", "mirror.local/moby/buildkit:v0.13", ("localhost:5000",), True)
    assert new.argv("/w/buildkitd.toml") == (
        *("docker", "buildx", "create", "--name", "buildx-go", "--driver", "docker-container"),
        *("--driver-opt", "image=mirror.local/moby/buildkit:v0.13", "--driver-opt", "network=host"),
        *("--buildkitd-config", "/w/buildkitd.toml", "--bootstrap"),
    )
    assert buildkitd_config(["localhost:5000"]) == '[registry."localhost:5000"]\n  http = true\n  insecure = true\n'
    pre = preflight("info-containerd.json", "ls-containerd.jsonl")
    projected = new.projected(pre)
    assert projected.builder is not None and projected.builder.driver == "docker-container"
    assert projected.builder.platforms == ("linux/amd64", "linux/arm64", "linux/arm/v7")  # amd64 + qemu-aarch64/-arm
    assert projected.caps().push_by_digest and projected.multi_platform()[0]


class CountingProbe(ProbeExecutor):
    def __init__(self) -> None:
        super().__init__(
            {
                "info --format": (0, read("info-containerd.json"), ""),
                "buildx ls": (0, read("ls-containerd.jsonl"), ""),
                "buildx inspect": (0, "Name: default\n", ""),
            }
        )


def test_facts_are_cached_until_the_engine_or_the_buildx_config_changes(tmp_path: Path) -> None:
    sock = tmp_path / "docker.sock"
    sock.write_text("")  # stands in for the engine's socket: only its inode and ctime count
    config = tmp_path / "docker-config"
    (config / "buildx" / "instances").mkdir(parents=True)
    (config / "buildx" / "current").write_text('{"Name":""}')
    env = {"DOCKER_HOST": f"unix://{sock}", "DOCKER_CONFIG": str(config)}
    cache = str(tmp_path / "cache")

    def gather() -> tuple[Preflight, int]:
        ex = CountingProbe()
        pre = gather_preflight(ex, env, None, emulators=set(), cache_dir=cache)
        return pre, len(ex.calls)

    first, calls = gather()
    assert not first.cached and calls == 4
    second, calls = gather()
    assert second.cached and calls == 0
    assert second.builder == first.builder and second.engine == first.engine

    (config / "buildx" / "current").write_text('{"Name":"other"}')  # `docker buildx use other`
    third, calls = gather()
    assert not third.cached and calls == 4

    sock.unlink()
    sock.write_text("")  # the engine restarted: a new socket
    fourth, calls = gather()
    assert not fourth.cached and calls == 4
    fifth, calls = gather()
    assert fifth.cached and calls == 0
    assert len(list(Path(cache).glob("facts-*"))) == 1  # one file per engine, rewritten, not one per change


def test_facts_of_remote_engines_are_never_cached(tmp_path: Path) -> None:
    from buildx_go.engine.docker import facts_stamp

    assert facts_stamp({"DOCKER_HOST": "tcp://10.0.0.5:2376"}, None) is None
    assert facts_stamp({"DOCKER_HOST": "unix:///nonexistent.sock"}, None) is None
    assert facts_stamp({"DOCKER_CONTEXT": "remote"}, None) is None


def test_buildx_current_file_counts_only_for_the_engine_it_is_about() -> None:
    """Every buildx command rewrites ~/.docker/buildx/current with the Key of the engine it
    ran on: a build on the second engine must not make the first one's facts (and its early
    start) look changed; a builder chosen for this engine, or a global one, must."""
    from buildx_go.engine.stamps import current_builder

    here, there = "unix:///var/run/docker.sock", "unix:///var/run/buildx-go-classic.sock"

    def current(key: str, name: str = "", glob: bool = False) -> str:
        return json.dumps({"Key": key, "Name": name, "Global": glob}, separators=(",", ":"))

    default = current_builder(current(here), here)
    assert current_builder(current(there), here) == default == "current:"
    assert current_builder(current(here, "mine"), here) == "current:mine"
    other = current(there, "other")  # named for another Key (maybe this engine spelt otherwise)
    assert current_builder(other, here) == "text:" + other
    assert current_builder(current(there, "everywhere", glob=True), here) == "current:everywhere"
    odd = '{"Key":"unix:///x\\"y","Name":"","Global":false}'
    assert current_builder(odd, here) == "text:" + odd  # not parsed: counts as it is
    assert current_builder("garbage", here) == "text:garbage"


def test_the_facts_stamp_follows_the_effective_builder(tmp_path: Path) -> None:
    from buildx_go.engine.stamps import facts_stamp

    sock, config = tmp_path / "docker.sock", tmp_path / "config"
    sock.write_text("")
    (config / "buildx").mkdir(parents=True)
    env = {"DOCKER_HOST": f"unix://{sock}", "DOCKER_CONFIG": str(config)}

    def stamp_with(key: str, name: str = "", builder: str | None = None) -> str | None:
        text = json.dumps({"Key": key, "Name": name, "Global": False})
        (config / "buildx" / "current").write_text(text)
        return facts_stamp(env, builder)

    mine = stamp_with(f"unix://{sock}")
    assert mine is not None and stamp_with("unix:///var/run/other.sock") == mine
    assert stamp_with(f"unix://{sock}", "mine") != mine
    named = stamp_with(f"unix://{sock}", builder="b")
    assert named == stamp_with(f"unix://{sock}", "mine", builder="b")  # --builder: current does not count


INSPECT_TWO_NODES = """Name:          two
Driver:        remote
Last Activity: 2026-11-29 17:48:18 +0000 UTC

Nodes:
Name:             two0
Endpoint:         tcp://127.0.0.1:54333
Status:           running
BuildKit version: v0.32.2
Platforms:        linux/amd64*, linux/amd64/v2, linux/arm64, linux/386
Labels:
 org.mobyproject.buildkit.worker.executor:         oci

Name:      two1
Endpoint:  tcp://127.0.0.1:37659
Status:    running
Platforms: linux/arm64*, linux/amd64, linux/amd64/v2, linux/386
"""
LS_TWO_NODES = json.dumps(
    {
        "Name": "two",
        "Driver": "remote",
        "Nodes": [
            {
                "Name": "two0",
                "Endpoint": "tcp://127.0.0.1:54333",
                "Status": "running",
                "Version": "v0.32.2",
                "Platforms": ["linux/amd64", "linux/amd64/v2", "linux/arm64", "linux/386"],
            },
            {
                "Name": "two1",
                "Endpoint": "tcp://127.0.0.1:37659",
                "Status": "running",
                "Version": "v0.32.2",
                "Platforms": ["linux/arm64", "linux/amd64", "linux/amd64/v2", "linux/386"],
            },
        ],
    }
)


def two_nodes(status: str = "running") -> Preflight:
    """A remote builder of two buildkitd (the second node's status STATUS), as buildx shows it."""
    ls = json.loads(LS_TWO_NODES)
    ls["Nodes"][1]["Status"] = status
    ex = ProbeExecutor(
        {
            "info --format": (0, read("info-containerd.json"), ""),
            "buildx ls": (0, json.dumps(ls), ""),
            "buildx inspect": (0, INSPECT_TWO_NODES, ""),
        }
    )
    return gather_preflight(ex, {}, "two", emulators={"qemu-aarch64"})


def test_each_node_with_its_declared_and_own_platform_and_where_each_platform_goes() -> None:
    pre = two_nodes()
    assert pre.builder is not None
    a, b = pre.builder.nodes
    assert (a.declared, a.native, b.declared, b.native) == (
        ("linux/amd64",),
        "linux/amd64",
        ("linux/arm64",),
        "linux/amd64",
    )
    placed = {str(p.platform): (p.node, p.declared, p.how) for p in pre.placement(TWO)}
    assert placed == {
        "linux/amd64": ("two0", True, "native"),
        "linux/arm64": ("two1", True, "cross-compiling from its linux/amd64"),  # an amd64 machine declared arm64
    }
    assert pre.problems() == [] and pre.caps().push_by_digest
    strategy, reason = choose_strategy("auto", "default", pre, TWO)
    assert (
        strategy == "buildx"
        and "2 nodes (linux/amd64 on node two0 (declared): native; linux/arm64 on node two1" in reason
    )


def test_a_remote_node_that_is_not_running_is_exit_3_naming_it() -> None:
    pre = two_nodes("inactive")
    assert pre.problems() == ["builder: 'two': node 'two1' (tcp://127.0.0.1:37659) is inactive"]


def test_a_node_that_is_down_or_not_created_has_no_platform_claimed_for_it() -> None:
    placed = {str(p.platform): p.how for p in two_nodes("error").placement(TWO)}
    assert placed == {"linux/amd64": "native", "linux/arm64": "not known while node two1 is error"}
    specs = (NodeSpec.parse("tcp://amd-box:1234=linux/amd64"), NodeSpec.parse("tcp://arm-box:1234=linux/arm64"))
    new = NewBuilder("fleet", None, (), True, specs).projected(two_nodes())
    placed = {str(p.platform): p.how for p in new.placement(TWO)}
    assert placed == {
        "linux/amd64": "not known while node fleet0 is not created yet",
        "linux/arm64": "not known while node fleet1 is not created yet",
    }


def test_nodes_asked_for_become_create_and_append_commands() -> None:
    specs = (
        NodeSpec.parse("default=linux/amd64"),
        NodeSpec.parse("ssh://me@arm-box=linux/arm64,linux/arm/v7"),
    )
    new = NewBuilder("fleet", "localhost:5000/buildkit:v0.32.2", ("localhost:5000",), True, specs)
    assert new.commands("/w/buildkitd.toml") == [
        (
            *("docker", "buildx", "create", "--name", "fleet", "--driver", "docker-container", "--node", "fleet0"),
            *("--platform", "linux/amd64", "--driver-opt", "image=localhost:5000/buildkit:v0.32.2"),
            *("--driver-opt", "network=host", "--buildkitd-config", "/w/buildkitd.toml", "default"),
        ),
        (
            *("docker", "buildx", "create", "--append", "--name", "fleet", "--node", "fleet1"),
            *("--platform", "linux/arm64,linux/arm/v7", "--driver-opt", "image=localhost:5000/buildkit:v0.32.2"),
            *("--driver-opt", "network=host", "--buildkitd-config", "/w/buildkitd.toml", "ssh://me@arm-box"),
        ),
        ("docker", "buildx", "inspect", "--bootstrap", "fleet"),
    ]
    tls = NodeSpec.parse("tcp://10.0.0.5:1234=linux/arm64;cacert=/c/ca.pem;cert=/c/cert.pem;key=/c/key.pem")
    remote = NewBuilder("r", None, (), False, (NodeSpec.parse("tcp://10.0.0.4:1234=linux/amd64"), tls))
    assert remote.driver == "remote"
    assert remote.commands(None)[1][-9:] == (
        *("--platform", "linux/arm64", "--driver-opt", "cacert=/c/ca.pem"),
        *("--driver-opt", "cert=/c/cert.pem", "--driver-opt", "key=/c/key.pem", "tcp://10.0.0.5:1234"),
    )
    with pytest.raises(InputError, match="one builder has one driver"):
        _ = NewBuilder("x", None, (), False, (specs[0], tls)).driver
    with pytest.raises(InputError, match=r"--node: 'nokey' in .* is not KEY=VALUE"):
        NodeSpec.parse("tcp://h:1;nokey")


def test_an_existing_builder_is_reused_only_with_the_nodes_asked_for() -> None:
    pre = two_nodes()
    assert pre.builder is not None
    same = NewBuilder(
        "two",
        None,
        (),
        False,
        (NodeSpec.parse("tcp://127.0.0.1:54333=linux/amd64"), NodeSpec.parse("tcp://127.0.0.1:37659=linux/arm64")),
    )
    assert same.difference(pre.builder) is None
    other = NewBuilder("two", None, (), False, (NodeSpec.parse("tcp://127.0.0.1:54333=linux/amd64"),))
    why = other.difference(pre.builder)
    assert why is not None and why.startswith(
        "builder 'two' exists as remote with nodes [two0 tcp://127.0.0.1:54333 linux/amd64;"
    )
    assert NewBuilder("two", None, (), False).difference(pre.builder) is None  # no --node: any such builder


def test_a_context_that_does_not_exist_is_named_and_buildx_is_not_called_missing() -> None:
    """`docker --context nosuchctx buildxgo doctor`: the docker CLI stops before it prints any
    info (`Failed to initialize`); the context is named, buildx is not said to be missing."""
    failed = 'Failed to initialize: unable to resolve docker endpoint: context "nosuchctx": context not found'
    ex = ProbeExecutor(
        {
            "info --format": (1, "", failed),
            "buildx ls": (1, "", failed),
            "buildx inspect": (1, "", failed),
        }
    )
    pre = gather_preflight(ex, {"DOCKER_CONTEXT": "nosuchctx"}, None, emulators=set())
    assert pre.engine.host == "context nosuchctx" and not pre.engine.reachable
    assert pre.buildx_error == "not checked: the docker CLI did not start (see the engine's line)"
    assert pre.problems()[0].startswith("engine: not reachable at context nosuchctx: Failed to initialize")


def test_a_classic_store_docker_driver_build_asks_for_no_attestations() -> None:
    """It cannot store them: buildx refuses ("Attestation is not supported for the docker driver")."""
    one = {"platform": ["linux/amd64"], "image": "localhost:5000/app", "tag": ["1.0.0"]}
    (build,) = plan_for(one, builder=planning_preflight(containerd_store=False)).phase("build")
    assert "--provenance=false" in build.argv and "--sbom=false" in build.argv
    asked = plan_for({**one, "provenance": True}, builder=planning_preflight(containerd_store=False))
    assert "attestations left out: the docker driver with the classic image store cannot store them" in asked.notes
    (build,) = plan_for(one, builder=planning_preflight()).phase("build")
    assert "--provenance=true" in build.argv  # the containerd store keeps them


def test_a_bake_file_for_one_platform_on_a_classic_store_docker_driver_says_it_pushes_no_index() -> None:
    one = {"platform": ["linux/amd64"], "image": "localhost:5000/app", "tag": ["1.0.0"], "push": True}
    warning = "pushes one platform as a single manifest, not an index: buildx-go verify refuses it"
    baked = plan_for({**one, "format": "bake"}, builder=planning_preflight(containerd_store=False))
    assert baked.strategy == "buildx" and any(warning in n for n in baked.notes)
    two = {**one, "platform": ["linux/amd64", "linux/arm64"], "format": "bake"}
    assert not any(warning in n for n in plan_for(two, builder=planning_preflight()).notes)
    assert not any(warning in n for n in plan_for({**one, "format": "bake"}, builder=planning_preflight()).notes)
