"""Cgo cross-compiled natively in ONE buildx run, on the lab's Debian images:
Debian's cross toolchains on the build platform, the C library installed for each target,
each image run under QEMU, verify reading the interpreter and the libraries."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.integration.conftest import FIXTURES, REGISTRY, buildx_go, events, head_digest, run

pytestmark = pytest.mark.integration
CGO = FIXTURES / "cgo"
DEBIAN_GO = f"{REGISTRY}/golang:1.27-bookworm"
DEBIAN = f"{REGISTRY}/debian:bookworm"
STATIC = f"{REGISTRY}/static:latest"
THREE = "linux/amd64,linux/arm64,linux/arm/v7"
MACHINE = {"amd64": "x86_64", "arm64": "aarch64", "arm": "arm", "386": "i386"}


def first_error(stderr: str) -> str:
    return next(line for line in stderr.splitlines() if line.startswith("ERROR "))


def runs_on(ref: str, platform: str) -> str:
    argv = ["docker", "run", "--rm", "--pull", "always", "--network", "none", "--platform", platform, ref]
    return run(argv).stdout.strip()


def emulated_compiles(stderr: str) -> list[str]:
    """Steps of the Go stage BuildKit ran as a foreign platform (under QEMU)."""
    return re.findall(r"\[linux/(?:arm64|arm/v7) build \d+/\d+\][^\n]*", stderr)


@pytest.mark.parametrize(("fixture", "extra"), [("arch", []), ("zlib", ["--cgo-package", "zlib1g-dev"])])
def test_cgo_for_three_platforms_in_one_run(repo: str, fixture: str, extra: list[str]) -> None:
    proc = buildx_go(
        "build", str(CGO / fixture), "--image", repo, "--tag", "1.0.0", "--push", "--platform", THREE,
        "--go-image", DEBIAN_GO, "--base-image", DEBIAN, "--progress", "plain", *extra,
    )  # fmt: skip
    starts = [e for e in events(proc.stderr) if e["event"] == "command.start" and e["purpose"] == "build"]
    assert all(s["argv"] == starts[0]["argv"] for s in starts)  # one buildx run (repeated only on a 500)
    plan = next(e for e in events(proc.stderr) if e["event"] == "plan.chosen")
    assert any(str(n).startswith("cgo on: ") for n in plan.get("notes", []))  # type: ignore[union-attr]
    # Go and C compiled on the build platform for every target: never a linux/arm* Go stage step
    assert emulated_compiles(proc.stderr) == []
    assert re.search(r"\[linux/amd64->arm/v7 build \d+/\d+\] RUN --mount=type=cache,target=/var/cache/apt", proc.stderr)
    checks = [e for e in events(proc.stderr) if e["event"] == "verify.image"]
    assert len(checks) == 3 and all("dynamically linked (" in str(c["facts"]) for c in checks)
    for platform in THREE.split(","):
        arch = platform.split("/")[1]
        out = runs_on(f"{repo}:1.0.0", platform)
        if fixture == "arch":
            assert out == f"cgo on {'linux/' + arch}, C compiled for {MACHINE[arch]}"
        else:
            assert re.fullmatch(rf"zlib 1\.\d+\.\d+ on linux/{arch}", out), out


def apt_steps(stderr: str) -> dict[str, bool]:
    """BuildKit's plain progress: each toolchain step (apt-get) by name -> whether it was CACHED."""
    names = dict(re.findall(r"^(#\d+) (\[[^\]]+\] RUN --mount=type=cache,target=/var/cache/apt)", stderr, re.M))
    return {name: bool(re.search(rf"^{step} CACHED$", stderr, re.M)) for step, name in names.items()}


def test_a_changed_go_mod_does_not_install_the_cross_toolchains_again(repo: str, tmp_path: Path) -> None:
    project = tmp_path / "arch"
    shutil.copytree(CGO / "arch", project)
    args = ("build", str(project), "--image", repo, "--tag", "1.0.0", "--push", "--platform", "linux/amd64,linux/arm64")
    args += ("--go-image", DEBIAN_GO, "--base-image", DEBIAN, "--progress", "plain")
    assert len(apt_steps(buildx_go(*args).stderr)) == 2  # one toolchain step per target
    with (project / "go.mod").open("a") as f:
        f.write("\n// changed\n")
    again = apt_steps(buildx_go(*args).stderr)
    assert len(again) == 2 and all(again.values()), again


def test_cgo_off_fails_naming_cgo_and_static_runs_on_the_static_base(repo: str) -> None:
    common = ["--image", repo, "--push", "--go-image", DEBIAN_GO]
    off = buildx_go("build", str(CGO / "arch"), *common, "--tag", "1.0.0", "--cgo", "off", "--base-image", DEBIAN,
                    "--platform", "linux/amd64,linux/arm64", check=False)  # fmt: skip
    assert off.returncode == 4
    assert 'files that import "C" are left out when cgo is off' in first_error(off.stderr)
    assert head_digest(f"{repo}:1.0.0") is None
    # linux/386 too: Debian's i686 cross toolchain (386 binaries run on this amd64 host as they are)
    buildx_go("build", str(CGO / "arch"), *common, "--tag", "2.0.0", "--cgo-static", "--base-image", STATIC,
              "--platform", "linux/amd64,linux/arm64,linux/386")  # fmt: skip
    for arch in ("amd64", "arm64", "386"):
        assert runs_on(f"{repo}:2.0.0", f"linux/{arch}") == f"cgo on linux/{arch}, C compiled for {MACHINE[arch]}"


def test_a_dynamic_binary_on_the_static_base_is_exit_6(repo: str) -> None:
    proc = buildx_go(
        "build", str(CGO / "arch"), "--image", repo, "--tag", "1.0.0", "--push", "--go-image", DEBIAN_GO,
        "--base-image", STATIC, "--platform", "linux/amd64,linux/arm64", check=False,
    )  # fmt: skip
    assert proc.returncode == 6, proc.stderr[-2000:]
    assert "its interpreter /lib/ld-linux-aarch64.so.1 is not in the image" in proc.stderr
    assert "its interpreter /lib64/ld-linux-x86-64.so.2 is not in the image" in proc.stderr


def test_a_projects_own_cgo_dockerfile_is_adapted_with_the_cross_toolchain(repo: str) -> None:
    proc = buildx_go(
        "build", str(CGO / "own"), "--image", repo, "--tag", "1.0.0", "--push", "--platform", THREE,
        "--progress", "plain",
    )  # fmt: skip
    chosen = next(e for e in events(proc.stderr) if e["event"] == "dockerfile.chosen")
    assert chosen["source"] == "adapted"
    assert emulated_compiles(proc.stderr) == []  # Go and C on the build platform for every target
    for platform in THREE.split(","):
        arch = platform.split("/")[1]
        assert runs_on(f"{repo}:1.0.0", platform) == f"cgo on linux/{arch}, C compiled for {MACHINE[arch]}"


def test_the_host_strategy_compiles_cgo_with_the_hosts_cross_compiler(repo: str) -> None:
    # scripts/setup --lab installs gcc-aarch64-linux-gnu on the host
    proc = buildx_go(
        "build", str(CGO / "arch"), "--image", repo, "--tag", "1.0.0", "--push", "--strategy", "host",
        "--base-image", DEBIAN, "--platform", "linux/amd64,linux/arm64",
    )  # fmt: skip
    starts = [e for e in events(proc.stderr) if e["event"] == "command.start"]
    arm64 = next(e for e in starts if e["purpose"] == "compile linux/arm64")  # on the host, not in BuildKit
    assert arm64["argv"][1] == "build"  # type: ignore[index]
    for arch in ("amd64", "arm64"):
        assert runs_on(f"{repo}:1.0.0", f"linux/{arch}") == f"cgo on linux/{arch}, C compiled for {MACHINE[arch]}"
