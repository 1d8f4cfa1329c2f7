"""The realistic lab's Debian images, made offline (scripts/setup --lab; see
../shared/ENVIRONMENT.md, "Debian-based images offline"):

* ``REGISTRY/debian:bookworm``: a debootstrap minbase root filesystem, linux/amd64,
  linux/arm64 and linux/arm/v7 (a foreign arch's second stage runs under QEMU);
* ``REGISTRY/golang:1.27-bookworm``: that Debian, made the way the official golang image is
  (make, git, gcc, libc6-dev, ca-certificates, then the Go toolchain in /usr/local/go),
  built by BuildKit for both platforms (apt-get for arm64 runs under QEMU).

The root filesystems are kept as tarballs in the cache, so a rerun after a registry wipe
takes seconds; nothing is done when the registry already holds an image with both
platforms. ``localhost:5000/golang:1.27`` stays the small busybox one the demo needs.
Standard library only.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

SUITE = "bookworm"
# Debian arch -> (platform, the QEMU that runs a foreign one's second stage)
ARCHES = {
    "amd64": ("linux/amd64", "qemu-x86_64-static"),
    "arm64": ("linux/arm64", "qemu-aarch64-static"),
    "armhf": ("linux/arm/v7", "qemu-arm-static"),
}
PACKAGES = ["make", "git", "gcc", "libc6-dev", "ca-certificates", "pkg-config"]
GOLANG_DOCKERFILE = """\
FROM {registry}/debian:{suite}
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {packages} \\
 && rm -rf /var/lib/apt/lists/*
ARG TARGETARCH
COPY go-$TARGETARCH/ /usr/local/go/
ENV GOLANG_VERSION={version} GOTOOLCHAIN=local GOPATH=/go \\
    PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN mkdir -p /go/src /go/bin
WORKDIR /go
"""


def rootfs_tarball(cache: Path, arch: str, mirror: str, log: Callable[[str], None]) -> Path:
    """A debootstrap minbase of SUITE for ARCH, as a tarball in CACHE (made once)."""
    out = cache / f"debian-{SUITE}-{arch}.tar"
    if out.exists():
        return out
    if not shutil.which("debootstrap"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "debootstrap"], check=True, stdout=subprocess.DEVNULL)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="debootstrap-", dir=cache) as tmp:
        root = Path(tmp) / "root"
        foreign = arch != host_arch()
        args = ["debootstrap", "--variant=minbase", f"--arch={arch}"] + (["--foreign"] if foreign else [])
        log(f"debootstrap {SUITE} {arch}{' (second stage under QEMU)' if foreign else ''}")
        subprocess.run([*args, SUITE, str(root), mirror], check=True, stdout=subprocess.DEVNULL)
        if foreign:
            name = ARCHES[arch][1]
            shutil.copy(shutil.which(name) or f"/usr/bin/{name}", root / "usr/bin" / name)
            second = ["chroot", str(root), "/debootstrap/debootstrap", "--second-stage"]
            subprocess.run(second, check=True, stdout=subprocess.DEVNULL)
            (root / "usr/bin" / name).unlink()
        for deb in (root / "var/cache/apt/archives").glob("*.deb"):
            deb.unlink()
        (root / "etc/apt/sources.list").write_text(f"deb {mirror} {SUITE} main\n")
        partial = out.with_suffix(".partial")
        subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(partial), "."], check=True)
        partial.rename(out)
    log(f"debian {SUITE} {arch} root filesystem made in {time.monotonic() - t0:.0f}s ({out})")
    return out


def host_arch() -> str:
    import os

    return {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)


def ensure_debian(
    registry: str, cache: Path, mirror: str, have: Callable[[str, str], set[str]], log: Callable[[str], None]
) -> None:
    """REGISTRY/debian:SUITE for linux/amd64, linux/arm64 and linux/arm/v7 (the cgo tests'
    runtime base), from cached tarballs."""
    want = {platform for platform, _ in ARCHES.values()}
    if want <= have("debian", SUITE):
        log(f"{registry}/debian:{SUITE} present ({', '.join(sorted(want))})")
        return
    per_arch = []
    for arch in ARCHES:
        tarball = rootfs_tarball(cache, arch, mirror, log)
        ref = f"{registry}/debian:{SUITE}-{arch}"
        with tarball.open("rb") as f:
            subprocess.run(
                ["docker", "import", "--platform", ARCHES[arch][0], "-c", 'CMD ["bash"]', "-", ref],
                stdin=f,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        subprocess.run(["docker", "push", "-q", ref], check=True, stdout=subprocess.DEVNULL)
        per_arch.append(ref)
    subprocess.run(
        ["docker", "buildx", "imagetools", "create", "-t", f"{registry}/debian:{SUITE}", *per_arch],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    log(f"published {registry}/debian:{SUITE}")


def ensure_golang_debian(
    registry: str,
    cache: Path,
    wheels: dict[str, Path],
    version: str,
    have: Callable[[str, str], set[str]],
    log: Callable[[str], None],
) -> None:
    """REGISTRY/golang:<minor>-SUITE: Debian + build tools + Go, built by BuildKit."""
    minor = ".".join(version.split(".")[:2])
    tag = f"{minor}-{SUITE}"
    want = {f"linux/{a}" for a in wheels}
    if want <= have("golang", tag):
        log(f"{registry}/golang:{tag} present ({', '.join(sorted(want))})")
        return
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="golang-debian-", dir=cache) as tmp:
        ctx = Path(tmp)
        for arch, wheel in wheels.items():
            with zipfile.ZipFile(wheel) as z:
                for zi in z.infolist():
                    if not zi.filename.startswith("go/") or zi.filename == "go/__init__.py":
                        continue
                    target = ctx / f"go-{arch}" / zi.filename.removeprefix("go/")
                    if zi.is_dir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with z.open(zi) as src, target.open("wb") as dst:
                        shutil.copyfileobj(src, dst)
                    target.chmod((zi.external_attr >> 16) & 0o7777 or 0o644)
        (ctx / "Dockerfile").write_text(
            GOLANG_DOCKERFILE.format(registry=registry, suite=SUITE, packages=" ".join(PACKAGES), version=version)
        )
        log(f"building {registry}/golang:{tag} (apt-get for arm64 runs under QEMU)")
        subprocess.run(
            [
                "docker", "buildx", "build", "--platform", ",".join(sorted(want)), "--network", "host",
                "--provenance=false", "--sbom=false", "--progress", "plain",
                "--tag", f"{registry}/golang:{tag}", "--tag", f"{registry}/golang:{version}-{SUITE}",
                "--output", "type=registry", str(ctx),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
    log(f"published {registry}/golang:{tag} in {time.monotonic() - t0:.0f}s")
