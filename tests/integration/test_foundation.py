"""A Go project in, a verified two-platform image in the registry out."""

from __future__ import annotations

import gzip
import io
import os
import stat
import struct
import tarfile
import urllib.request
from pathlib import Path

import pytest
import zstandard

from tests.integration.conftest import BASE_IMAGE, GO_IMAGE, ROOT, buildx_go, events, registry_index, run

pytestmark = pytest.mark.integration
HELLO = ROOT / "examples" / "hello"
EM = {"amd64": 62, "arm64": 183}


def blob(repo: str, digest: str) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:5000/v2/{repo}/blobs/{digest}") as resp:
        return resp.read()  # type: ignore[no-any-return]


def elf_machine_of(repo: str, manifest_digest: str, path: str) -> tuple[int, int]:
    """(ELF class byte, e_machine) of PATH in the image, read from its layers (no run)."""
    req = urllib.request.Request(
        f"http://127.0.0.1:5000/v2/{repo}/manifests/{manifest_digest}",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    import json

    with urllib.request.urlopen(req) as resp:
        manifest = json.load(resp)
    for layer in reversed(manifest["layers"]):
        data = blob(repo, layer["digest"])
        if layer["mediaType"].endswith("zstd"):  # buildx-go's default for new layers
            data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
        else:
            data = gzip.decompress(data)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for member in tar:
                if member.name.lstrip("./") == path.lstrip("/"):
                    head = tar.extractfile(member).read(20)  # type: ignore[union-attr]
                    assert head[:4] == b"\x7fELF"
                    return head[4], struct.unpack_from("<H", head, 18)[0]
    raise AssertionError(f"{path} not in any layer")


def test_hello_generated_dockerfile_two_platforms(repo: str) -> None:
    proc = buildx_go(
        "build",
        str(HELLO),
        "--image",
        repo,
        "--tag",
        "0.1.0",
        "--platform",
        "linux/amd64,linux/arm64",
        "--go-image",
        GO_IMAGE,
        "--base-image",
        BASE_IMAGE,
        "--version-var",
        "main.version",
        "--push",
        "--progress",
        "plain",
    )
    ref = f"{repo}:0.1.0"
    digest = proc.stdout.strip().split("@", 1)[1]
    assert proc.stdout.strip() == f"{ref}@{digest}"

    # ONE buildx invocation, and the arm64 Go compile ran on the build platform (cross-compiled).
    # (then, on the docker driver, which cannot push by digest, buildx-go tags the verified
    # index itself: a manifest PUT, no docker command)
    starts = [e for e in events(proc.stderr) if e["event"] == "command.start"]
    builds = [e for e in starts if e["purpose"] == "build"]
    retries = [e for e in events(proc.stderr) if e["event"] == "build.retry"]  # a registry 500, see run.py
    assert len(builds) == 1 + len(retries) and builds[0]["argv"][:3] == ["docker", "buildx", "build"]  # type: ignore[index]
    assert all(s["argv"] == builds[0]["argv"] for s in builds)
    assert starts == builds
    written = [e["refs"] for e in events(proc.stderr) if e["event"] == "tags.written"]
    assert written == [[ref]]
    assert "[linux/amd64->arm64 build" in proc.stderr
    assert "[linux/arm64 build" not in proc.stderr

    index = registry_index(ref)
    entries = index["manifests"]  # type: ignore[index]
    platforms = sorted(
        f"{e['platform']['os']}/{e['platform']['architecture']}"
        for e in entries
        if e["platform"]["os"] != "unknown"  # type: ignore[index]
    )
    assert platforms == ["linux/amd64", "linux/arm64"]
    repo_path = repo.split("/", 1)[1]
    for e in entries:  # type: ignore[attr-defined]
        arch = e["platform"]["architecture"]
        if e["platform"]["os"] == "unknown":
            continue
        elf_class, machine = elf_machine_of(repo_path, e["digest"], "/usr/local/bin/hello")
        assert (elf_class, machine) == (2, EM[arch]), arch

    summary = next(e for e in events(proc.stderr) if e["event"] == "build.summary")
    assert summary["verified"] is True and summary["digest"] == digest

    for platform in ("linux/amd64", "linux/arm64"):
        out = run(
            ["docker", "run", "--rm", "--pull", "always", "--network", "none", "--platform", platform, ref]
        ).stdout
        assert out.startswith(f"hello from {platform} (version 0.1.0"), out


def test_verify_command_reads_the_registry(repo: str) -> None:
    buildx_go(
        "build",
        str(HELLO),
        "--image",
        repo,
        "--tag",
        "1",
        "--go-image",
        GO_IMAGE,
        "--base-image",
        BASE_IMAGE,
        "--push",
        "--no-verify",
        "--progress",
        "quiet",
    )
    ok = buildx_go("verify", f"{repo}:1", "--platform", "linux/amd64,linux/arm64")
    assert "linux/arm64: config linux/arm64, /usr/local/bin/hello: ELF 64-bit LSB aarch64" in ok.stdout
    wrong = buildx_go("verify", f"{repo}:1", "--platform", "linux/amd64,linux/arm64,linux/arm/v7", check=False)
    assert wrong.returncode == 6
    assert "expected linux/amd64, linux/arm/v7, linux/arm64" in wrong.stderr


def test_dry_run_starts_no_docker(tmp_path: Path) -> None:
    marker = tmp_path / "docker-was-called"
    fake = tmp_path / "bin" / "docker"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    proc = buildx_go(
        "build",
        str(HELLO),
        "--image",
        "localhost:5000/x",
        "--tag",
        "1",
        "--push",
        "--dry-run",
        "--strategy",
        "buildx",
        env={"PATH": f"{fake.parent}:{os.environ['PATH']}"},
    )
    assert proc.stdout.startswith("docker buildx build ")
    assert not marker.exists()


def test_setup_rerun_changes_nothing() -> None:
    proc = run([str(ROOT / "scripts" / "setup")])
    assert "(nothing to change)" in proc.stderr, proc.stderr
