from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from packaging.version import Version
from structlog.testing import capture_logs

from buildx_go.builder import Builder, Engine, Preflight
from buildx_go.config import resolve
from buildx_go.errors import BuildFailed, EngineError, PushFailed
from buildx_go.gomod import GoProject
from buildx_go.plan import Command, DockerfileChoice, Plan, make_plan
from buildx_go.platforms import Platform
from buildx_go.run import check_emulation, execute, fill

HELLO = Path(__file__).parents[2] / "examples" / "hello"
RECIPE = Path(__file__).parents[2] / "tests" / "fixtures" / "recipe"
MANIFEST = ("manifest", "the builder cannot build several platforms in one run")


def plan_for(
    platform: str,
    strategy: tuple[str, str] = ("buildx", "test"),
    workdir: str = "/w",
    emulated: str | None = None,
    **settings: object,
) -> Plan:
    given: dict[str, object] = {"image": "localhost:5000/app", "tag": ["1.2.0"], "platform": [platform]}
    given.update(settings)
    choice = DockerfileChoice("user", "/x/Dockerfile", "buildx", "FROM scratch\n")
    return make_plan(
        GoProject.detect(HELLO),
        resolve(given, {}, {}),
        choice,
        version=None,
        git={},
        workdir=workdir,
        strategy=strategy,
        emulated=(Platform.parse(emulated),) if emulated else (),
    )


def facts(platforms: tuple[str, ...], emulators: tuple[str, ...]) -> Preflight:
    b = Builder("default", "docker", "running", platforms, current=True)
    return Preflight(Engine("h", server=Version("26.1"), arch="amd64"), Version("0.13"), None, (b,), None, emulators)


def test_emulation_present_passes() -> None:
    with capture_logs() as logs:
        plan = plan_for("linux/amd64,linux/arm64", emulated="linux/arm64")
        check_emulation(plan, facts(("linux/amd64", "linux/arm64"), ()))
    assert logs[0]["event"] == "emulation.checked" and logs[0]["missing"] == []


def test_emulation_missing_is_exit_3() -> None:
    with pytest.raises(EngineError, match=r"emulation for linux/s390x") as err:
        plan = plan_for("linux/amd64,linux/s390x", emulated="linux/s390x")
        check_emulation(plan, facts(("linux/amd64",), ("qemu-aarch64",)))
    assert err.value.exit_code == 3


def test_manifest_plan_builds_each_platform_then_lists_pinned_to_digests() -> None:
    plan = plan_for("linux/amd64,linux/arm/v7", MANIFEST, push=True, latest=True)
    assert plan.strategy == "manifest" and plan.reason == MANIFEST[1]
    builds = [c for c in plan.commands if c.phase == "build"]
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
    publish = [c.shell() for c in plan.commands if c.phase == "publish"]
    env = "DOCKER_CONFIG=/w/docker-config "
    assert publish == [
        env + "docker manifest rm localhost:5000/app:1.2.0",
        env + "docker manifest create --insecure localhost:5000/app:1.2.0 "
        "'localhost:5000/app@{digest:linux/amd64}' 'localhost:5000/app@{digest:linux/arm/v7}'",
        env + "docker manifest annotate localhost:5000/app:1.2.0 'localhost:5000/app@{digest:linux/amd64}' "
        "--os linux --arch amd64",
        env + "docker manifest annotate localhost:5000/app:1.2.0 'localhost:5000/app@{digest:linux/arm/v7}' "
        "--os linux --arch arm --variant v7",
        env + "docker manifest push --insecure --purge localhost:5000/app:1.2.0",
    ]
    promote = [c.purpose for c in plan.commands if c.phase == "promote"]
    assert promote == [
        "forget list latest",
        "create list latest",
        "annotate latest linux/amd64",
        "annotate latest linux/arm/v7",
        "push list latest",
    ]
    assert plan.to_dict()["commands"][0]["phase"] == "build"


def test_manifest_plan_passes_goarch_only_to_a_dockerfile_that_declares_it() -> None:
    text = (RECIPE / "docker" / "Dockerfile").read_text()
    settings = resolve({"image": "r/app", "tag": ["1"], "push": True}, {}, {})
    for source, expect in (("user", ["GOARCH=arm64"]), ("adapted", [])):
        choice = DockerfileChoice(source, str(RECIPE / "docker" / "Dockerfile"), "goarch-recipe", text)
        plan = make_plan(
            GoProject.detect(RECIPE), settings, choice, version=None, git={}, workdir="/w", strategy=MANIFEST
        )
        argv = plan.commands[1].argv
        got = [argv[i + 1] for i, a in enumerate(argv) if a == "--build-arg" and argv[i + 1].startswith("GO")]
        assert got == expect, source


def test_manifest_plan_refuses_an_oci_output() -> None:
    with pytest.raises(Exception, match=r"^--output: the manifest strategy"):
        plan_for("linux/amd64,linux/arm64", MANIFEST, output="type=oci,dest=x.tar")


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
    plan = plan_for("linux/amd64,linux/arm64", MANIFEST, str(tmp_path), push=True, latest=True)
    ex = FailingArm64()
    with capture_logs() as logs, pytest.raises(BuildFailed) as err:
        execute(plan, ex, env={"HOME": str(tmp_path)})
    assert err.value.exit_code == 4
    assert err.value.message.startswith("linux/arm64: ")
    assert "localhost:5000/app:1.2.0, localhost:5000/app:latest untouched" in str(err.value.hint)
    assert "left behind: localhost:5000/app:1.2.0-amd64@sha256:aaaa" in str(err.value.hint)
    assert all(c[1] != "manifest" for c in ex.calls)  # no list created, none moved
    failed = next(e for e in logs if e["event"] == "build.failed")
    assert failed["failed"] == ["linux/arm64"]
    assert not (tmp_path / "docker-config").exists()  # the run's private docker config is gone


def test_host_strategy_compiles_each_platform_then_packages_in_one_run() -> None:
    from buildx_go.hostgo import HostGo

    host = HostGo("/opt/go/bin/go", Version("1.27.3"), "/opt/go")
    project = GoProject.detect(HELLO)
    settings = resolve(
        {"image": "localhost:5000/app", "tag": ["1.2.0"], "push": True, "version_var": "main.version"}, {}, {}
    )
    choice = DockerfileChoice("generated", None, "generated", "unused")
    plan = make_plan(
        project,
        settings,
        choice,
        version=None,
        git={},
        workdir="/w",
        strategy=("host", "test"),
        host=host,
        mains=(project.main_for(None),),
    )
    compiles = [c for c in plan.commands if c.phase == "compile"]
    assert [c.shell() for c in compiles] == [
        f"cd {HELLO} && CGO_ENABLED=0 GOTOOLCHAIN=local GOARCH=amd64 GOOS=linux /opt/go/bin/go build -trimpath "
        "'-ldflags=-s -w -X main.version=1.2.0' -o /w/context/bin/linux/amd64/ .",
        f"cd {HELLO} && CGO_ENABLED=0 GOTOOLCHAIN=local GOARCH=arm64 GOOS=linux /opt/go/bin/go build -trimpath "
        "'-ldflags=-s -w -X main.version=1.2.0' -o /w/context/bin/linux/arm64/ .",
    ]
    build = next(c for c in plan.commands if c.phase == "build")
    assert build.argv[-1] == "/w/context"  # the context is the binaries, nothing else
    assert "--build-arg" not in build.argv
    assert "COPY bin/$TARGETOS/$TARGETARCH$TARGETVARIANT/ /usr/local/bin/" in plan.dockerfile.text
    assert plan.packaging == "buildx" and plan.to_dict()["packaging"] == "buildx"


def host_plan(workdir: str, **given: object) -> Plan:
    from buildx_go.hostgo import HostGo

    project = GoProject.detect(HELLO)
    settings = resolve({"image": "localhost:5000/app", "tag": ["1.2.0"], "push": True, **given}, {}, {})
    choice = DockerfileChoice("generated", None, "generated", "unused")
    host = HostGo("/opt/go/bin/go", Version("1.27.3"), "/opt/go")
    return make_plan(
        project,
        settings,
        choice,
        version=None,
        git={},
        workdir=workdir,
        strategy=("host", "test"),
        host=host,
        mains=(project.main_for(None),),
    )


def test_the_host_plan_pins_the_runtime_base_unless_told_not_to() -> None:
    assert host_plan("/w", base_image="localhost:5000/static:1").pin_base == "localhost:5000/static:1"
    assert host_plan("/w", base_image="localhost:5000/static:1").to_dict()["pin_base"] == "localhost:5000/static:1"
    assert host_plan("/w", base_image="localhost:5000/static:1", pin_base=False).pin_base is None
    assert host_plan("/w", base_image="scratch").pin_base is None
    assert plan_for("linux/amd64,linux/arm64", push=True).pin_base is None  # the buildx strategy: BuildKit's


def test_pin_base_gives_each_platform_its_own_stage_named_like_its_bin_dir() -> None:
    from buildx_go.hostgo import bin_dir, pin_base

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


def fake_registry(monkeypatch: pytest.MonkeyPatch, answer: tuple[str, object] | Exception) -> None:
    """RegistryClient.manifest answers ANSWER: (media type, document), or raises it."""
    import buildx_go.registry

    class Fake:
        def __init__(self, env: object, timeout: float, attempts: int = 4) -> None:
            assert timeout <= 5 and attempts == 1  # the lookup must not hold the build up for long

        def manifest(self, ref: object) -> tuple[str, str, object]:
            if isinstance(answer, Exception):
                raise answer
            return answer[0], "sha256:index", answer[1]

    monkeypatch.setattr(buildx_go.registry, "RegistryClient", Fake)


INDEX = "application/vnd.oci.image.index.v1+json"
BASE_INDEX = {
    "manifests": [
        {"digest": "sha256:" + "a" * 64, "platform": {"os": "linux", "architecture": "amd64"}},
        {"digest": "sha256:" + "b" * 64, "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
    ]
}


def test_the_host_run_pins_the_base_it_found_while_compiling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_registry(monkeypatch, (INDEX, BASE_INDEX))
    plan = host_plan(str(tmp_path), base_image="localhost:5000/static:1", verify=False)
    with capture_logs() as logs:
        execute(plan, Compiles(), env={})
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
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answer: tuple[str, object] | Exception, reason: str
) -> None:
    fake_registry(monkeypatch, answer)
    plan = host_plan(str(tmp_path), base_image="localhost:5000/static:1", verify=False)
    with capture_logs() as logs:
        execute(plan, Compiles(), env={})
    unpinned = next(e for e in logs if e["event"] == "base.unpinned")
    assert reason in unpinned["reason"]
    assert (tmp_path / "Dockerfile").read_text() == plan.dockerfile.text  # as planned


def test_host_go_older_than_go_mod_is_exit_3() -> None:
    from buildx_go.hostgo import HostGo, check_host_go

    project = GoProject.detect(HELLO)  # go 1.22
    with pytest.raises(EngineError, match=r"host Go 1.21 is older than go.mod's go 1.22") as err:
        check_host_go(HostGo("/go/bin/go", Version("1.21"), "/go"), project)
    assert err.value.exit_code == 3
    with pytest.raises(EngineError, match="no Go toolchain found"):
        check_host_go(None, project)


class FlakyPush:
    """The first build fails the way distribution 2.x answers buildx's second push."""

    def __init__(self) -> None:
        self.builds = 0

    def run(self, argv: Sequence[str], **_: object) -> str:
        self.builds += 1
        if self.builds == 1:
            raise PushFailed(
                "docker buildx build (build): push failed: unexpected status from HEAD request to "
                "http://localhost:5000/v2/app/manifests/1.2.0: 500 Internal Server Error"
            )
        return ""

    def probe(self, argv: Sequence[str], **_: object) -> tuple[int, str, str]:
        raise AssertionError("no probes expected")


def test_a_500_from_the_second_push_is_retried_once(tmp_path: Path) -> None:
    plan = plan_for("linux/amd64,linux/arm64", ("buildx", "test"), str(tmp_path), push=True, verify=False)
    ex = FlakyPush()
    with capture_logs() as logs:
        execute(plan, ex, env={})
    assert ex.builds == 2
    assert [e["attempt"] for e in logs if e["event"] == "build.retry"] == [1]


def test_other_push_failures_are_not_retried(tmp_path: Path) -> None:
    class Denied(FlakyPush):
        def run(self, argv: Sequence[str], **_: object) -> str:
            self.builds += 1
            raise PushFailed("docker buildx build (build): push failed: push access denied")

    plan = plan_for("linux/amd64,linux/arm64", ("buildx", "test"), str(tmp_path), push=True, verify=False)
    ex = Denied()
    with pytest.raises(PushFailed):
        execute(plan, ex, env={})
    assert ex.builds == 1


def test_host_context_is_stable_per_project_when_given() -> None:
    from buildx_go.hostgo import HostGo

    project = GoProject.detect(HELLO)
    plan = make_plan(
        project,
        resolve({"image": "localhost:5000/app", "tag": ["1"], "push": True}, {}, {}),
        DockerfileChoice("generated", None, "generated", "unused"),
        version=None,
        git={},
        workdir="/w",
        strategy=("host", "test"),
        host=HostGo("/go/bin/go", Version("1.27"), "/go"),
        mains=(project.main_for(None),),
        host_context="/cache/host-context/abc",
    )
    assert plan.context == "/cache/host-context/abc"
    assert next(c for c in plan.commands if c.phase == "build").argv[-1] == "/cache/host-context/abc"
    assert plan.dockerfile.path == "/w/Dockerfile"  # the Dockerfile stays in the run's workdir
