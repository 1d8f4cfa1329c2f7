"""buildx-go's image references (refs.py) against docker's: each name is given to `docker tag`
(docker's reference.ParseNormalizedNamed and its tag store), or, with a digest, to `docker
image inspect` ("invalid reference format" is a refusal, "No such image" an acceptance).
buildx-go must accept exactly the names docker accepts, and read each as the image docker
stored: the full name the engine keeps (`io.containerd.image.name` in `docker save`'s
index) is the reference buildx-go reads, registry, repository and tag."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import uuid
from collections.abc import Iterator

import pytest

from buildx_go.refs import Reference, problem

pytestmark = pytest.mark.integration

H = "a" * 64
NAMES = [
    # Docker Hub's names
    *("bxgref", "docker.io/bxgref", "index.docker.io/bxgref", "docker.io/library/bxgref"),
    *("index.docker.io/library/bxgref", "registry-1.docker.io/bxgref", "registry.hub.docker.com/bxgref"),
    *("Docker.io/bxgref", "Index.docker.io/bxgref", "index.docker.io:443/bxgref", "library/bxgref"),
    *("bxgteam/app", "docker.io/bxgteam/app", "index.docker.io/bxgteam/app", "docker.io/library"),
    # hosts and ports
    *("localhost/bxgref", "LocalHost/bxgref", "localhost:5000/bxg/ref", "127.0.0.1:5000/bxg/ref"),
    *("example.com:443/a/b/c", "a.b/c__d/e-f.g_h", "1.2.3.4/bxg", "localhost:65535/bxg", "localhost:00080/bxg"),
    *("[::1]:5000/bxg", "[::1]/bxg", "[::ffff:127.0.0.1]:5000/bxg", "[::1.2.3.4]/bxg", "[]:5000/bxg"),
    *("[G::1]/bxg", "[::1]:/bxg", "example.com./bxg", ".example.com/bxg", "example-.com/bxg", "-example.com/x"),
    *("ex--ample.com/bxg", "a__b.com/bxg", "ex_ample.com/x", "ex_ample.com:5000/x", "Ex_ample.com/x"),
    *("example.com:/x", "Team/app", "EXAMPLE.COM/bxg", "local_host/bxg"),
    # path components and separators
    *("bxgref_x", "bxgref__x", "bxgref___x", "bxgref-x", "bxgref--x", "bxgref---x", "bxgref.x", "bxgref..x"),
    *("bxg.-x", "bxg-.x", "bxg_-x", "bxg._x", "bxgRef", "docker.io/BxgRef", "bxg//ref", "bxgref/", "/bxgref"),
    *("-bxgref", "bxgref-", "bxg/0/1", "a", "0", "team/Bxg"),
    # lengths: docker counts the normalised path (library/ counted, the host not)
    *("x" * 247, "x" * 248, "x" * 255, "team/" + "x" * 250, "localhost/" + "x" * 246),
    *("registry.example.com/" + "x" * 255, "registry.example.com/" + "x" * 256),
    *("index.docker.io/library/" + "x" * 237, "docker.io/bxgteam/" + "x" * 248),
    # hexadecimal names, and digest algorithms' names
    *(H, "team/" + H, "a" * 63, "sha256", "sha512", "docker.io/sha256"),
]
TAGGED = [f"{n}:t1" for n in NAMES] + [
    *(f"bxgref:{t}" for t in ("T_1.x-y", "_t", ".t", "-t", "t" * 128, "t" * 129, "t:t", "t/x", "")),
    *("bxgref", H + ":t1", ":t1"),
]
DIGESTS = [  # given to docker image inspect
    *(f"bxg@sha256:{H}", f"bxg:t@sha256:{H}", f"bxg@sha256:{'A' * 64}", f"bxg@sha256:{'a' * 63}"),
    *(f"bxg@sha256:{'a' * 65}", f"bxg@sha384:{'a' * 96}", f"bxg@sha512:{'a' * 128}", f"bxg@sha512:{H}"),
    *(f"bxg@md5:{'a' * 32}", f"bxg@SHA256:{H}", f"bxg@sha256:{H}@sha256:{H}", f"localhost:5000/bxg@sha256:{H}"),
    *(f"[::1]:5000/bxg@sha256:{H}", f"bxg:@sha256:{H}", f"@sha256:{H}", "bxg@", "bxg@sha256:"),
    f"{'x' * 248}@sha256:{H}",
]
# Where buildx-go is stricter than docker, on purpose: a port no registry can listen on.
STRICTER = {"localhost:0/bxg:t1", "localhost:99999/bxg:t1", "localhost:123456/bxg:t1"}
TAGGED += sorted(STRICTER)


@pytest.fixture(scope="module")
def source() -> Iterator[str]:
    """A one-file image made on the engine (docker import), to tag under each name."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("hello")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    name = f"bxg-refs-{uuid.uuid4().hex[:8]}:src"
    subprocess.run(["docker", "import", "-", name], input=buf.getvalue(), check=True, capture_output=True)
    yield name
    subprocess.run(["docker", "rmi", "-f", name], check=False, capture_output=True)


def stored_name(name: str) -> str:
    """The full name the engine keeps for the tag NAME (containerd's image name)."""
    saved = subprocess.run(["docker", "save", name], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(saved)) as tar:
        member = tar.extractfile("index.json")
        assert member is not None
        index = json.load(member)
    (entry,) = index["manifests"]
    return str(entry["annotations"]["io.containerd.image.name"])


def dockers_reading(source: str, name: str) -> str | None:
    """The full name docker stored for NAME, or None when docker refuses NAME."""
    tagged = subprocess.run(["docker", "tag", source, name], capture_output=True, text=True)
    if tagged.returncode != 0:
        return None
    try:
        return stored_name(name)
    finally:
        subprocess.run(["docker", "rmi", name], check=True, capture_output=True)


@pytest.mark.parametrize("name", TAGGED)
def test_a_name_is_accepted_as_docker_accepts_it_and_read_as_the_engine_stores_it(source: str, name: str) -> None:
    stored = dockers_reading(source, name)
    ours = problem(name)
    if name in STRICTER:
        assert stored is not None and ours is not None and "out of range" in ours, (name, stored, ours)
        return
    assert (ours is None) == (stored is not None), (name, stored, ours)
    if stored is not None:
        assert str(Reference.parse(name)) == stored, (name, stored)


@pytest.mark.parametrize("name", DIGESTS)
def test_a_reference_with_a_digest_is_accepted_as_docker_accepts_it(name: str) -> None:
    proc = subprocess.run(["docker", "image", "inspect", name], capture_output=True, text=True)
    assert proc.returncode != 0
    refused = "No such image" not in proc.stderr  # invalid reference format, digest format or length, ...
    assert (problem(name) is not None) == refused, (name, proc.stderr, problem(name))
