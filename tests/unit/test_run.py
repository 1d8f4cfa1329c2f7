"""Plans for each strategy, and their runs phase by phase against fake docker executors and an
in-process registry (tests/fakeregistry.py): verify before tagging, nothing moved on failure."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version
from structlog.testing import capture_logs

from buildx_go.engine.builder import Builder, Engine, Preflight
from buildx_go.errors import BuildFailed, BuildxGoError, EngineError, Interrupted, PushFailed, VerificationFailed
from buildx_go.planning.hostgo import HostGo
from buildx_go.planning.plan import Command, Plan
from buildx_go.platforms import Platform
from buildx_go.project.gomod import GoProject
from buildx_go.refs import Reference
from buildx_go.registry.client import RegistryClient
from buildx_go.run.execute import execute
from buildx_go.run.steps import check_emulation, fill
from tests.fakeregistry import FakeRegistry
from tests.unit.planning import HELLO, ROOT, plan_for, preflight
from tests.unit.test_binary_registry_log import fake_elf
from tests.unit.test_builder import TWO, two_nodes

RECIPE = ROOT / "tests" / "fixtures" / "recipe"
GO = HostGo("/opt/go/bin/go", Version("1.27.3"), "/opt/go")
AMD64 = fake_elf(64, 62, settings={"GOOS": "linux", "GOARCH": "amd64"})
ARM64 = fake_elf(64, 183, settings={"GOOS": "linux", "GOARCH": "arm64"})


def app_plan(platform: str, workdir: str = "/w", dockerfile: str = "FROM scratch\n", **given: object) -> Plan:
    """A plan for examples/hello with its own (user) Dockerfile DOCKERFILE."""
    settings = {"image": "localhost:5000/app", "tag": ["1.2.0"], "platform": [platform], "strategy": "buildx"}
    settings["preflight"] = False  # the push check before building: test_preflight.py
    return plan_for({**settings, **given}, workdir, dockerfile=dockerfile)


def no_registry() -> RegistryClient:
    raise AssertionError("this run must not read the registry")


def facts(platforms: tuple[str, ...], emulators: tuple[str, ...]) -> Preflight:
    b = Builder("default", "docker", "running", platforms, current=True)
    return Preflight(Engine("h", server=Version("26.1"), arch="amd64"), Version("0.13"), None, (b,), None, emulators)


def test_emulation_present_passes() -> None:
    plan = app_plan("linux/amd64,linux/arm64", dockerfile="FROM scratch\nRUN true\n")
    assert plan.emulated == (Platform("linux", "arm64"),)  # the final stage RUNs on arm64
    with capture_logs() as logs:
        check_emulation(plan, facts(("linux/amd64", "linux/arm64"), ()))
    assert logs[0]["event"] == "emulation.checked" and logs[0]["missing"] == []


def test_emulation_missing_is_exit_3() -> None:
    plan = app_plan("linux/amd64,linux/s390x", dockerfile="FROM scratch\nRUN true\n")
    with pytest.raises(EngineError, match=r"emulation for linux/s390x") as err:
        check_emulation(plan, facts(("linux/amd64",), ("qemu-aarch64",)))
    assert err.value.exit_code == 3


def test_manifest_plan_builds_each_platform_then_lists_pinned_to_digests() -> None:
    plan = app_plan("linux/amd64,linux/arm/v7", push=True, latest=True, strategy="manifest")
    assert plan.strategy == "manifest"
    assert plan.reason == "asked for (--strategy manifest): per-platform builds, then a docker manifest list"
    builds = plan.phase("build")
    assert [c.purpose for c in builds] == ["build linux/amd64", "build linux/arm/v7"]
    arm = builds[1].argv
    assert arm[arm.index("--platform") + 1] == "linux/arm/v7"  # so the image config says arm/v7
    assert arm[arm.index("--tag") + 1] == "localhost:5000/app:1.2.0-armv7"
    assert "--provenance=false" in arm and "--sbom=false" in arm  # else `manifest create` refuses
    assert arm[arm.index("--progress") + 1] == "plain"  # two builds side by side: no tty display
    assert "--no-cache" not in arm
    assert plan.arch_refs == (
        ("linux/amd64", "localhost:5000/app:1.2.0-amd64"),
        ("linux/arm/v7", "localhost:5000/app:1.2.0-armv7"),
    )
    env = "DOCKER_CONFIG=/w/docker-config "
    assert [c.shell() for c in plan.phase("publish")] == [
        env + "docker manifest rm localhost:5000/app:1.2.0",
        env + "docker manifest create --insecure localhost:5000/app:1.2.0 "
        "'localhost:5000/app@{digest:linux/amd64}' 'localhost:5000/app@{digest:linux/arm/v7}'",
        env + "docker manifest annotate localhost:5000/app:1.2.0 'localhost:5000/app@{digest:linux/amd64}' "
        "--os linux --arch amd64",
        env + "docker manifest annotate localhost:5000/app:1.2.0 'localhost:5000/app@{digest:linux/arm/v7}' "
        "--os linux --arch arm --variant v7",
        env + "docker manifest push --insecure --purge localhost:5000/app:1.2.0",
    ]
    assert [c.purpose for c in plan.phase("promote")] == [
        "forget list latest",
        "create list latest",
        "annotate latest linux/amd64",
        "annotate latest linux/arm/v7",
        "push list latest",
    ]
    assert plan.to_dict()["commands"][0]["phase"] == "build"


def test_manifest_plan_passes_goarch_only_to_a_dockerfile_that_declares_it() -> None:
    text = (RECIPE / "docker" / "Dockerfile").read_text()
    given = {"image": "r/app", "tag": ["1"], "push": True, "strategy": "manifest"}
    for adapt, expect in ((False, ["GOARCH=arm64"]), (True, [])):
        plan = plan_for({**given, "adapt": adapt}, root=RECIPE, dockerfile=text)
        assert plan.dockerfile.source == ("adapted" if adapt else "user")
        argv = plan.commands[1].argv
        got = [argv[i + 1] for i, a in enumerate(argv) if a == "--build-arg" and argv[i + 1].startswith("GO")]
        assert got == expect, adapt


def test_manifest_plan_refuses_an_oci_output() -> None:
    with pytest.raises(Exception, match=r"^--output: the manifest strategy"):
        app_plan("linux/amd64,linux/arm64", output="type=oci,dest=x.tar", strategy="manifest")


def test_fill_replaces_digests_and_refuses_unknown_ones() -> None:
    cmd = Command("c", ("x", "r@{digest:linux/arm64}", "r@{digest}"))
    assert fill(cmd, {"": "sha256:i", "linux/arm64": "sha256:a"}).argv == ("x", "r@sha256:a", "r@sha256:i")
    with pytest.raises(BuildFailed, match="no digest"):
        fill(cmd, {"": "sha256:i"})


class FailingArm64:
    """Fails the arm64 build the way a Go compile error does; records everything."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def run(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, **_: object) -> str:
        self.calls.append(tuple(argv))
        if "linux/arm64" in argv:
            raise BuildFailed("docker buildx build (build linux/arm64) failed: undefined: brokenOnArm64")
        md = argv[argv.index("--metadata-file") + 1]
        Path(md).write_text('{"containerimage.digest": "sha256:' + "a" * 64 + '"}')
        return ""

    def probe(self, argv: Sequence[str], **_: object) -> tuple[int, str, str]:
        raise AssertionError("no probes expected")


def test_one_platform_failing_creates_and_moves_nothing(tmp_path: Path) -> None:
    plan = app_plan("linux/amd64,linux/arm64", str(tmp_path), push=True, latest=True, strategy="manifest")
    ex = FailingArm64()
    with capture_logs() as logs, pytest.raises(BuildFailed) as err:
        execute(plan, ex, no_registry, env={"HOME": str(tmp_path)})
    assert err.value.exit_code == 4
    assert err.value.message.startswith("linux/arm64: ")
    assert "localhost:5000/app:1.2.0, localhost:5000/app:latest untouched" in str(err.value.hint)
    assert "left behind: localhost:5000/app:1.2.0-amd64@sha256:aaaa" in str(err.value.hint)
    assert all(c[1] != "manifest" for c in ex.calls)  # no list created, none moved
    failed = next(e for e in logs if e["event"] == "build.failed")
    assert failed["failed"] == ["linux/arm64"]
    assert not (tmp_path / "docker-config").exists()  # the run's private docker config is gone


class RacedPush(FailingArm64):
    """The first arm64 push is refused the way the registry answered it beside the amd64 build
    pushing the layer both share (CI, containerd-store engine)."""

    def run(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, **_: object) -> str:
        if "linux/arm64" in argv and not any("linux/arm64" in c for c in self.calls):
            self.calls.append(tuple(argv))
            raise PushFailed(
                "docker buildx build (build linux/arm64): push failed: failed to push localhost:5000/app:1.2.0-arm64: "
                'failed commit on ref "manifest-sha256:' + "b" * 64 + '": unexpected status from PUT request to '
                "http://localhost:5000/v2/app/manifests/1.2.0-arm64: 400 Bad Request"
            )
        self.calls.append(tuple(argv))
        md = argv[argv.index("--metadata-file") + 1]
        Path(md).write_text('{"containerimage.digest": "sha256:' + "a" * 64 + '"}')
        return ""


def test_a_push_refused_beside_a_build_sharing_its_layers_is_run_again_alone(tmp_path: Path) -> None:
    plan = app_plan("linux/amd64,linux/arm64", str(tmp_path), push=True, strategy="manifest", verify=False)
    ex = RacedPush()
    with capture_logs() as logs:
        execute(plan, ex, no_registry, env={"HOME": str(tmp_path)})
    arm = [i for i, c in enumerate(ex.calls) if "linux/arm64" in c]
    amd = [i for i, c in enumerate(ex.calls) if "linux/amd64" in c]
    assert len(arm) == 2 and len(amd) == 1 and arm[1] > amd[0]  # run again once, after the others
    assert ex.calls[arm[0]] == ex.calls[arm[1]]  # the same command
    (retry,) = [e for e in logs if e["event"] == "build.retry"]
    assert retry["purpose"] == "build linux/arm64" and "400 Bad Request" in retry["reason"]


def test_an_interrupt_before_the_push_is_run_again_ends_the_run_as_interrupted(tmp_path: Path) -> None:
    import signal

    from buildx_go.engine import interrupt

    class InterruptedToo(RacedPush):
        def run(self, argv: Sequence[str], **kw: object) -> str:
            if "linux/arm64" in argv:
                interrupt._caught.append(signal.SIGINT)  # arrived while the builds ran
            return super().run(argv, **kw)  # type: ignore[arg-type]

    plan = app_plan("linux/amd64,linux/arm64", str(tmp_path), push=True, strategy="manifest", verify=False)
    ex = InterruptedToo()
    try:
        with pytest.raises(Interrupted) as err:
            execute(plan, ex, no_registry, env={"HOME": str(tmp_path)})
    finally:
        interrupt.reset()
    assert err.value.exit_code == 130
    assert f"this run's files are kept in {tmp_path}" in str(err.value.hint)  # said, not left silently
    assert [("linux/arm64" in c) for c in ex.calls].count(True) == 1  # not run again


def test_a_refused_push_is_not_run_again_when_another_platform_failed_otherwise(tmp_path: Path) -> None:
    class AndBroken(RacedPush):
        def run(self, argv: Sequence[str], **kw: object) -> str:
            if "linux/amd64" in argv:
                self.calls.append(tuple(argv))
                raise BuildFailed("docker buildx build (build linux/amd64) failed: undefined: brokenOnAmd64")
            return super().run(argv, **kw)  # type: ignore[arg-type]

    plan = app_plan("linux/amd64,linux/arm64", str(tmp_path), push=True, strategy="manifest", verify=False)
    ex = AndBroken()
    with capture_logs() as logs, pytest.raises(BuildxGoError):
        execute(plan, ex, no_registry, env={"HOME": str(tmp_path)})
    assert [("linux/arm64" in c) for c in ex.calls].count(True) == 1  # the run fails anyway: nothing more pushed
    assert not [e for e in logs if e["event"] == "build.retry"]


def test_a_compile_error_beside_other_builds_is_not_run_again(tmp_path: Path) -> None:
    plan = app_plan("linux/amd64,linux/arm64", str(tmp_path), push=True, strategy="manifest")
    ex = FailingArm64()
    with capture_logs() as logs, pytest.raises(BuildFailed):
        execute(plan, ex, no_registry, env={"HOME": str(tmp_path)})
    assert [("linux/arm64" in c) for c in ex.calls].count(True) == 1
    assert not [e for e in logs if e["event"] == "build.retry"]


def host_plan(workdir: str, host_context: str | None = None, **given: object) -> Plan:
    settings = {"image": "localhost:5000/app", "tag": ["1.2.0"], "push": True, "strategy": "host", **given}
    return plan_for(settings, workdir, host=GO, host_context=host_context)


def test_host_strategy_compiles_each_platform_then_packages_in_one_run() -> None:
    plan = host_plan("/w", version_var="main.version")
    assert [c.shell() for c in plan.phase("compile")] == [
        f"cd {HELLO} && CGO_ENABLED=0 GOTOOLCHAIN=local GOARCH=amd64 GOOS=linux /opt/go/bin/go build -trimpath "
        "'-ldflags=-s -w -X main.version=1.2.0' -o /w/context/bin/linux/amd64/ .",
        f"cd {HELLO} && CGO_ENABLED=0 GOTOOLCHAIN=local GOARCH=arm64 GOOS=linux /opt/go/bin/go build -trimpath "
        "'-ldflags=-s -w -X main.version=1.2.0' -o /w/context/bin/linux/arm64/ .",
    ]
    build = plan.phase("build")[0]
    assert build.argv[-1] == "/w/context"  # the context is the binaries, nothing else
    assert "--build-arg" not in build.argv
    assert "COPY bin/$TARGETOS/$TARGETARCH$TARGETVARIANT/ /usr/local/bin/" in plan.dockerfile.text
    assert plan.packaging == "buildx" and plan.to_dict()["packaging"] == "buildx"
    classic = plan_for(
        {"image": "localhost:5000/app", "tag": ["1"], "push": True, "strategy": "host"},
        host=GO,
        builder=preflight("docker", containerd_store=False),
    )
    assert classic.packaging == "manifest"  # the host compiles, per-platform packaging + a list


def test_the_host_plan_pins_the_runtime_base_unless_told_not_to() -> None:
    assert host_plan("/w", base_image="localhost:5000/static:1").pin_base == "localhost:5000/static:1"
    assert host_plan("/w", base_image="localhost:5000/static:1").to_dict()["pin_base"] == "localhost:5000/static:1"
    assert host_plan("/w", base_image="localhost:5000/static:1", pin_base=False).pin_base is None
    assert host_plan("/w", base_image="scratch").pin_base is None
    assert app_plan("linux/amd64,linux/arm64", push=True).pin_base is None  # the buildx strategy: BuildKit's


def test_pin_base_gives_each_platform_its_own_stage_named_like_its_bin_dir() -> None:
    from buildx_go.planning.hostgo import bin_dir, pin_base

    text = host_plan("/w", base_image="localhost:5000/static:1").dockerfile.text
    pinned = pin_base(
        text,
        "localhost:5000/static:1",
        {Platform("linux", "arm", "v7"): "sha256:" + "c" * 64, Platform("linux", "amd64"): "sha256:" + "a" * 64},
    )
    assert "FROM localhost:5000/static:1\n" not in pinned
    assert pinned.splitlines()[2:5] == [
        "FROM localhost:5000/static:1@sha256:" + "a" * 64 + " AS base-linux-amd64",
        "FROM localhost:5000/static:1@sha256:" + "c" * 64 + " AS base-linux-armv7",
        "FROM base-${TARGETOS}-${TARGETARCH}${TARGETVARIANT}",
    ]
    # the stage names follow what BuildKit's $TARGETOS-$TARGETARCH$TARGETVARIANT expand to,
    # like the binaries' directories do
    assert bin_dir("", Platform("linux", "arm", "v7")) == "/bin/linux/armv7"
    assert pinned.split("FROM base-", 1)[1].startswith("${TARGETOS}")
    assert "COPY bin/$TARGETOS/$TARGETARCH$TARGETVARIANT/ /usr/local/bin/" in pinned


class Compiles:
    """An executor whose commands all succeed and print nothing."""

    def __init__(self) -> None:
        self.argvs: list[tuple[str, ...]] = []

    def run(self, argv: Sequence[str], **_: object) -> str:
        self.argvs.append(tuple(argv))
        return ""

    def probe(self, argv: Sequence[str], **_: object) -> tuple[int, str, str]:
        raise AssertionError("no probes expected")


class BaseLookup:
    """A registry whose manifest() answers ANSWER: (media type, document), or raises it."""

    def __init__(self, answer: tuple[str, object] | Exception) -> None:
        self.answer = answer

    def manifest(self, ref: object) -> tuple[str, str, object]:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer[0], "sha256:index", self.answer[1]

    def check_push(self, ref: object) -> None:
        """This account may push (the preflight before compiling)."""


INDEX = "application/vnd.oci.image.index.v1+json"
BASE_INDEX: dict[str, Any] = {
    "manifests": [
        {"digest": "sha256:" + "a" * 64, "platform": {"os": "linux", "architecture": "amd64"}},
        {"digest": "sha256:" + "b" * 64, "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
    ]
}


def test_the_host_run_pins_the_base_it_found_while_compiling(tmp_path: Path) -> None:
    plan = host_plan(str(tmp_path), base_image="localhost:5000/static:1", verify=False)
    with capture_logs() as logs:
        execute(plan, Compiles(), lambda: BaseLookup((INDEX, BASE_INDEX)), env={})  # type: ignore[arg-type,return-value]
    pinned = next(e for e in logs if e["event"] == "base.pinned")
    assert pinned["digests"] == {"linux/amd64": "sha256:" + "a" * 64, "linux/arm64": "sha256:" + "b" * 64}
    written = (tmp_path / "Dockerfile").read_text()
    assert "FROM localhost:5000/static:1@sha256:" + "b" * 64 + " AS base-linux-arm64" in written


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (OSError("connection refused"), "OSError: connection refused"),
        ((INDEX, {"manifests": BASE_INDEX["manifests"][:1]}), "it has no linux/arm64 image"),
        (("application/vnd.oci.image.manifest.v1+json", {"layers": []}), "a single image, not an index"),
    ],
)
def test_a_base_that_cannot_be_pinned_is_left_to_buildkit(
    tmp_path: Path, answer: tuple[str, object] | Exception, reason: str
) -> None:
    plan = host_plan(str(tmp_path), base_image="localhost:5000/static:1", verify=False)
    with capture_logs() as logs:
        execute(plan, Compiles(), lambda: BaseLookup(answer), env={})  # type: ignore[arg-type,return-value]
    unpinned = next(e for e in logs if e["event"] == "base.unpinned")
    assert reason in unpinned["reason"]
    assert (tmp_path / "Dockerfile").read_text() == plan.dockerfile.text  # as planned


def test_host_go_older_than_go_mod_is_exit_3() -> None:
    from buildx_go.planning.hostgo import check_host_go

    project = GoProject.detect(HELLO)  # go 1.22
    with pytest.raises(EngineError, match=r"host Go 1.21 is older than go.mod's go 1.22") as err:
        check_host_go(HostGo("/go/bin/go", Version("1.21"), "/go"), project)
    assert err.value.exit_code == 3
    with pytest.raises(EngineError, match="no Go toolchain found"):
        check_host_go(None, project)


SECOND_PUSH_500 = (  # distribution 2.x answering buildx's second push
    "docker buildx build (build): push failed: unexpected status from HEAD request to "
    "http://localhost:5000/v2/app/manifests/1.2.0: 500 Internal Server Error"
)
SHARED_LAYER_400 = (  # a node's manifest PUT while another node pushed the layer both share
    'docker buildx build (build): push failed: failed commit on ref "manifest-sha256:' + "c" * 64 + '": '
    "unexpected status from PUT request to http://localhost:5000/v2/app/manifests/sha256:" + "c" * 64 + ": "
    "400 Bad Request"
)


class FlakyPush:
    """The first build's push fails with SAID."""

    def __init__(self, said: str = SECOND_PUSH_500) -> None:
        self.builds, self.said = 0, said

    def run(self, argv: Sequence[str], **_: object) -> str:
        self.builds += 1
        if self.builds == 1:
            raise PushFailed(self.said)
        return ""

    def probe(self, argv: Sequence[str], **_: object) -> tuple[int, str, str]:
        raise AssertionError("no probes expected")


@pytest.mark.parametrize("said", [SECOND_PUSH_500, SHARED_LAYER_400], ids=["500", "shared-layer-400"])
def test_a_push_refused_the_way_a_rerun_mends_is_retried_once(tmp_path: Path, said: str) -> None:
    plan = app_plan("linux/amd64,linux/arm64", str(tmp_path), push=True, verify=False)
    ex = FlakyPush(said)
    with capture_logs() as logs:
        execute(plan, ex, no_registry, env={})
    assert ex.builds == 2
    assert [e["attempt"] for e in logs if e["event"] == "build.retry"] == [1]


def test_other_push_failures_are_not_retried(tmp_path: Path) -> None:
    class Denied(FlakyPush):
        def run(self, argv: Sequence[str], **_: object) -> str:
            self.builds += 1
            raise PushFailed("docker buildx build (build): push failed: push access denied")

    plan = app_plan("linux/amd64,linux/arm64", str(tmp_path), push=True, verify=False)
    ex = Denied()
    with pytest.raises(PushFailed):
        execute(plan, ex, no_registry, env={})
    assert ex.builds == 1


def test_host_context_is_stable_per_project_when_given() -> None:
    plan = host_plan("/w", host_context="/cache/host-context/abc")
    assert plan.context == "/cache/host-context/abc"
    assert plan.phase("build")[0].argv[-1] == "/cache/host-context/abc"
    assert plan.dockerfile.path == "/w/Dockerfile"  # the Dockerfile stays in the run's workdir


class PushesTo:
    """A docker executor that "builds" by storing images in a FakeRegistry, as BuildKit would
    push them: `build` pushes an index (by digest or tagged); buildx-go writes the tags itself."""

    def __init__(self, reg: FakeRegistry, arm64_binary: bytes = ARM64) -> None:
        self.reg, self.arm64_binary, self.purposes = reg, arm64_binary, []  # type: ignore[var-annotated]

    def run(self, argv: Sequence[str], *, purpose: str = "docker", **_: object) -> str:
        self.purposes.append(purpose)
        if purpose == "build":
            repo = "app"
            images = [
                (*self.reg.image(repo, [{"app": AMD64}]), {"os": "linux", "architecture": "amd64"}),
                (
                    *self.reg.image(repo, [{"app": self.arm64_binary}], arch="arm64"),
                    {"os": "linux", "architecture": "arm64"},
                ),
            ]
            tags = [argv[i + 1].rsplit(":", 1)[1] for i, a in enumerate(argv) if a == "--tag"]
            digest = self.reg.index(repo, tags[0] if tags else "", images, attestations=2)
            for tag in tags[1:]:
                self.reg.manifests[(repo, tag)] = self.reg.manifests[(repo, digest)]
            Path(argv[argv.index("--metadata-file") + 1]).write_text(json.dumps({"containerimage.digest": digest}))
        return ""

    def probe(self, argv: Sequence[str], **_: object) -> tuple[int, str, str]:
        raise AssertionError("no probes expected")


def registry_plan(reg: FakeRegistry, workdir: Path, driver: str) -> Plan:
    given = {"image": f"{reg.host}/app", "tag": ["1.0.0"], "push": True, "latest": True, "strategy": "buildx"}
    return plan_for(given, str(workdir), dockerfile="FROM scratch\n", builder=preflight(driver), existing=())


def test_pushed_by_digest_verified_then_tagged_then_promoted(tmp_path: Path) -> None:
    with FakeRegistry() as reg, capture_logs() as logs:
        plan = registry_plan(reg, tmp_path, "remote")
        ex = PushesTo(reg)
        outcome = execute(plan, ex, lambda: RegistryClient({"HOME": str(tmp_path)}), env={}, cache_dir=str(tmp_path))
        tagged = reg.manifests[("app", "1.0.0")] == reg.manifests[("app", "latest")]
        puts = [path for method, path in reg.requests if method == "PUT"]
    assert ex.purposes == ["build"]  # the tags are written by buildx-go itself: no docker started
    assert puts == ["/v2/app/manifests/1.0.0", "/v2/app/manifests/latest"]
    written = [e for e in logs if e["event"] == "tags.written"]
    assert [(e["purpose"], e["refs"]) for e in written] == [
        (f"publish {reg.host}/app:1.0.0", [f"{reg.host}/app:1.0.0"]),
        ("promote latest", [f"{reg.host}/app:latest"]),
    ]
    assert all(e["digest"] == outcome.digest for e in written)
    order = [e["event"] for e in logs]
    assert order.index("verify.ok") < order.index("tags.published") < order.index("tags.moved")
    assert outcome.verified and outcome.moved == ("latest",) and tagged


def test_a_refused_version_tag_is_exit_5_and_latest_is_not_moved(tmp_path: Path) -> None:
    with FakeRegistry() as reg:
        plan = registry_plan(reg, tmp_path, "remote")
        reg.faults.append(("/manifests/1.0.0", 400, {}))
        with pytest.raises(PushFailed) as err:
            execute(
                plan, PushesTo(reg), lambda: RegistryClient({"HOME": str(tmp_path)}), env={}, cache_dir=str(tmp_path)
            )
        tags = {t for (r, t) in reg.manifests if not t.startswith("sha256:")}
    assert err.value.exit_code == 5 and tags == set()
    assert err.value.message.startswith(
        f"publish {reg.host}/app:1.0.0: the registry {reg.host} failed: HTTP 400 on PUT"
    )
    assert err.value.message.endswith("(nothing was published)")  # pushed by digest: no tag at all


def test_an_interrupt_while_a_tag_is_written_names_the_tag_the_registry_took(tmp_path: Path) -> None:
    """SIGINT with no child running raises in the main thread, here as the registry has just
    stored 1.0.0: the message names it (looked up), and latest is not written."""
    import signal

    from buildx_go.engine import interrupt

    with FakeRegistry() as reg:

        class StoppedAfterPut(RegistryClient):
            def put_manifest(self, ref: Reference, media: str, body: bytes) -> None:
                super().put_manifest(ref, media, body)
                interrupt._caught.append(signal.SIGINT)
                raise Interrupted("interrupted by SIGINT")

        plan = registry_plan(reg, tmp_path, "remote")
        try:
            with pytest.raises(Interrupted) as err:
                execute(plan, PushesTo(reg), lambda: StoppedAfterPut({"HOME": str(tmp_path)}), env={})
        finally:
            interrupt.reset()
        digest = reg.manifests[("app", "1.0.0")]
        latest = ("app", "latest") in reg.manifests
    assert err.value.exit_code == 130 and not latest and digest
    assert err.value.message.startswith(
        f"interrupted by SIGINT: published before it: {reg.host}/app:1.0.0 (now sha256:"
    )
    assert "written before it stopped" in err.value.message


def test_a_release_published_since_the_plan_keeps_latest(tmp_path: Path) -> None:
    """The plan saw no tags; by the time 1.0.0 is verified another run has released 1.1.0
    (and moved latest to it): 1.0.0 is published, latest stays on 1.1.0."""
    with FakeRegistry() as reg, capture_logs() as logs:
        plan = registry_plan(reg, tmp_path, "remote")
        assert plan.moving_tags == ("latest",)
        newer = reg.index("app", "1.1.0", [(*reg.image("app", [{"app": AMD64}]), {"os": "linux"})])
        reg.manifests[("app", "latest")] = reg.manifests[("app", newer)]
        ex = PushesTo(reg)
        outcome = execute(plan, ex, lambda: RegistryClient({"HOME": str(tmp_path)}), env={}, cache_dir=str(tmp_path))
        latest_is_newer = reg.manifests[("app", "latest")] == reg.manifests[("app", "1.1.0")]
        puts = [path for method, path in reg.requests if method == "PUT"]
    assert ex.purposes == ["build"] and puts == ["/v2/app/manifests/1.0.0"]  # latest not written
    held = next(e for e in logs if e["event"] == "tags.held")
    assert held["tags"] == ["latest"] and "held: latest (newer 1.1.0 exists)" in held["reason"]
    assert outcome.moved == () and latest_is_newer
    assert outcome.to_dict()["now"] == {f"{reg.host}/app:1.0.0": outcome.digest}


def test_a_tag_moved_by_another_run_before_the_end_is_said_on_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from buildx_go.cli.report import print_outcome

    with FakeRegistry() as reg, capture_logs() as logs:
        plan = registry_plan(reg, tmp_path, "remote")
        ex = PushesTo(reg)

        class ThenAnotherRun(RegistryClient):
            def put_manifest(self, ref: Reference, media: str, body: bytes) -> None:
                super().put_manifest(ref, media, body)
                if ref.tag == "latest":  # right after this run moved latest, another moves it on
                    other = reg.index("app", "1.2.0", [(*reg.image("app", [{"app": ARM64}]), {"os": "linux"})])
                    reg.manifests[("app", "latest")] = reg.manifests[("app", other)]

        outcome = execute(plan, ex, lambda: ThenAnotherRun({"HOME": str(tmp_path)}), env={}, cache_dir=str(tmp_path))
    print_outcome(outcome, "text")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{reg.host}/app:1.0.0@{outcome.digest}"
    assert lines[1].startswith(f"{reg.host}/app:latest@sha256:")
    assert lines[1].endswith(f"(moved by another run; this run pushed {outcome.digest})")
    assert outcome.moved == ("latest",)
    assert [e["ref"] for e in logs if e["event"] == "tag.moved_since"] == [f"{reg.host}/app:latest"]


def test_a_lie_pushed_by_digest_leaves_no_tag(tmp_path: Path) -> None:
    with FakeRegistry() as reg:
        plan = registry_plan(reg, tmp_path, "remote")
        ex = PushesTo(reg, arm64_binary=AMD64)  # an amd64 binary in the arm64 image
        with pytest.raises(VerificationFailed) as err:
            execute(plan, ex, lambda: RegistryClient({"HOME": str(tmp_path)}), env={}, cache_dir=str(tmp_path))
        tags = {t for (r, t) in reg.manifests if not t.startswith("sha256:")}
    assert err.value.exit_code == 6 and ex.purposes == ["build"]
    assert f"no tag was written ({reg.host}/app:1.0.0 untouched)" in err.value.message
    assert "linux/arm64: binary is ELF 64-bit LSB x86-64" in err.value.message
    assert tags == set()  # pushed untagged: no tag at all


def test_on_the_docker_driver_a_lie_leaves_the_version_tag_where_it_was(tmp_path: Path) -> None:
    """The docker driver cannot push by digest: the build pushes IMAGE:buildx-go-staging, and
    only a verified index gets the version tag (absent before, or on its previous digest)."""
    with FakeRegistry() as reg:
        plan = registry_plan(reg, tmp_path, "docker")
        assert plan.staging == f"{reg.host}/app:buildx-go-staging" and not plan.push_by_digest
        ex = PushesTo(reg, arm64_binary=AMD64)
        with pytest.raises(VerificationFailed) as err:
            execute(plan, ex, lambda: RegistryClient({"HOME": str(tmp_path)}), env={}, cache_dir=str(tmp_path))
        absent = ("app", "1.0.0") not in reg.manifests and ("app", "latest") not in reg.manifests
        previous = execute(plan, PushesTo(reg), lambda: RegistryClient({"HOME": str(tmp_path)}), env={})
        before = reg.manifests[("app", "1.0.0")]
        with pytest.raises(VerificationFailed):
            execute(plan, PushesTo(reg, arm64_binary=AMD64), lambda: RegistryClient({"HOME": str(tmp_path)}), env={})
        kept = reg.manifests[("app", "1.0.0")] == before == reg.manifests[("app", "latest")]
    assert absent and ex.purposes == ["build"]  # no publish, no promote
    assert "failed verification; no tag was written" in err.value.message
    assert f"it stays under {reg.host}/app:buildx-go-staging" in err.value.message
    assert previous.verified and kept


def test_the_engine_going_away_mid_build_is_exit_3(tmp_path: Path) -> None:
    from tests.unit.planning import FakeDocker

    lost = BuildFailed("docker buildx build (build) failed: Unavailable: error reading from server: EOF")
    docker = FakeDocker("containerd", info_code=1, fail={"build": lost})  # asked again: the engine is gone
    plan = app_plan("linux/amd64,linux/arm64", str(tmp_path))
    with pytest.raises(EngineError, match=r"the Docker engine \(.*\) went away during the build") as err:
        execute(plan, docker, no_registry, env={})
    assert err.value.exit_code == 3


def test_a_workdir_that_cannot_be_written_is_exit_3(tmp_path: Path) -> None:
    (tmp_path / "full").write_text("")  # a file where the workdir should be: writes fail
    plan = app_plan("linux/amd64", str(tmp_path / "full" / "w"))
    with pytest.raises(EngineError, match="file system: ") as err:
        execute(plan, PushesTo(FakeRegistry()), no_registry, env={})
    assert err.value.exit_code == 3


def test_every_error_class_has_a_documented_exit_code() -> None:
    import buildx_go.errors as errors
    from buildx_go.errors import BuildxGoError

    def walk(cls: type[BuildxGoError]) -> list[type[BuildxGoError]]:
        return [cls] + [c for sub in cls.__subclasses__() for c in walk(sub)]

    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Exit codes") :].split("\n\n", 2)[1]
    documented = {int(cell) for line in table.splitlines() if (cell := line.split("|")[1].strip()).isdigit()}
    classes = [c for c in walk(BuildxGoError) if c is not BuildxGoError]
    assert {c.__name__ for c in classes} >= {
        n for n in dir(errors) if n.endswith(("Error", "Failed", "Interrupted"))
    } - {"BuildxGoError"}
    assert {c.exit_code for c in classes} <= documented
    assert {c.exit_code for c in classes} == {2, 3, 4, 5, 6, 130}


def test_creating_a_builder_counts_its_nodes_not_its_commands() -> None:
    from buildx_go.engine.builder import NewBuilder, NodeSpec
    from buildx_go.run.steps import create_builder

    new = NewBuilder("two", None, (), False, (NodeSpec.parse("tcp://a:1234"), NodeSpec.parse("tcp://b:1234")))
    argvs = new.commands(None)
    assert len(argvs) == 3 and argvs[-1][:3] == ("docker", "buildx", "inspect")  # two creates, one bootstrap

    class Ran:
        def run(self, argv: Sequence[str], **_: Any) -> str:
            return ""

    with capture_logs() as logs:
        create_builder(Ran(), [Command("builder", a) for a in argvs], None)  # type: ignore[arg-type]
    (created,) = [e for e in logs if e["event"] == "builder.create"]
    assert created["nodes"] == 2 and created["name"] == "two"


class SaysWhatItPushes(PushesTo):
    """PushesTo, printing the line BuildKit prints as it pushes the index, then finishing
    its build (BuildKit closes the build's record before buildx exits) while verification
    reads the index: the layers read before the build returns are noted."""

    def __init__(self, reg: FakeRegistry, arm64_binary: bytes = ARM64, names: str = "") -> None:
        super().__init__(reg, arm64_binary)
        self.names, self.read_during_build = names, 0

    def run(self, argv: Sequence[str], *, purpose: str = "docker", **kw: Any) -> str:
        out = super().run(argv, purpose=purpose)
        if purpose == "build" and kw.get("on_output"):
            digest = json.loads(Path(argv[argv.index("--metadata-file") + 1]).read_text())["containerimage.digest"]
            kw["on_output"](f"#17 pushing manifest for {self.reg.host}/app@{self.names or digest}\n")
            for _ in range(300):
                self.read_during_build = sum(1 for m, p in self.reg.requests if m == "GET" and "/blobs/" in p)
                if self.read_during_build >= 4 or self.names:
                    break
                time.sleep(0.01)
        return out


def index_reads(reg: FakeRegistry, digest: str | None) -> int:
    return sum(1 for m, p in reg.requests if m == "GET" and p == f"/v2/app/manifests/{digest}")


def test_verification_begins_as_the_build_pushes_its_index(tmp_path: Path) -> None:
    with FakeRegistry() as reg, capture_logs() as logs:
        ex = SaysWhatItPushes(reg)
        plan = registry_plan(reg, tmp_path, "remote")
        outcome = execute(plan, ex, lambda: RegistryClient({"HOME": str(tmp_path)}), env={}, cache_dir=str(tmp_path))
        reads = index_reads(reg, outcome.digest)
    assert ex.read_during_build >= 4  # both platforms' configs and layers, while the build was still running
    (ok,) = [e for e in logs if e["event"] == "verify.ok"]
    assert ok["overlapped"] is True and ok["digest"] == outcome.digest
    assert reads == 3  # verification's, then one for each tag written (1.0.0, latest): not verified twice
    order = [e["event"] for e in logs]
    assert order.index("command.done") < order.index("verify.ok") < order.index("tags.published")


def test_a_wrong_image_found_during_the_build_is_verified_again_and_refused(tmp_path: Path) -> None:
    with FakeRegistry() as reg, capture_logs() as logs:
        ex = SaysWhatItPushes(reg, arm64_binary=AMD64)
        plan = registry_plan(reg, tmp_path, "remote")
        with pytest.raises(VerificationFailed, match="failed verification; no tag was written"):
            execute(plan, ex, lambda: RegistryClient({"HOME": str(tmp_path)}), env={}, cache_dir=str(tmp_path))
        tags = {t for (r, t) in reg.manifests if not t.startswith("sha256:")}
    assert tags == set()
    assert [e["event"] for e in logs].count("verify.failed") == 1


def test_an_index_the_build_did_not_record_is_not_taken_for_its_own(tmp_path: Path) -> None:
    other = "sha256:" + "c" * 64  # a node's index, say, merged into another after it
    with FakeRegistry() as reg, capture_logs() as logs:
        ex = SaysWhatItPushes(reg, names=other)
        plan = registry_plan(reg, tmp_path, "remote")
        outcome = execute(plan, ex, lambda: RegistryClient({"HOME": str(tmp_path)}), env={}, cache_dir=str(tmp_path))
    (ok,) = [e for e in logs if e["event"] == "verify.ok"]
    assert "overlapped" not in ok and ok["digest"] == outcome.digest and outcome.verified


def test_a_quiet_verified_build_on_one_node_reads_buildkits_progress_without_showing_it() -> None:
    given = {"image": "localhost:5000/app", "tag": ["1.0.0"], "push": True, "strategy": "buildx", "progress": "quiet"}
    one = plan_for(given, "/w", dockerfile="FROM scratch\n", builder=preflight("remote"), existing=())
    (build,) = one.phase("build")
    assert build.argv[build.argv.index("--progress") + 1] == "plain" and not build.passthrough
    two = plan_for(
        given,
        "/w",
        dockerfile="FROM scratch\n",
        builder=preflight("remote"),
        existing=(),
        placement=two_nodes().placement(TWO),
    )
    (build,) = two.phase("build")  # several nodes: verified after the build, buildx stays quiet
    assert build.argv[build.argv.index("--progress") + 1] == "quiet" and build.passthrough
    unverified = plan_for({**given, "verify": False}, "/w", dockerfile="FROM scratch\n", builder=preflight("remote"))
    (build,) = unverified.phase("build")
    assert build.argv[build.argv.index("--progress") + 1] == "quiet" and build.passthrough
