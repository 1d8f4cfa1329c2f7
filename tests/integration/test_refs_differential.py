"""buildx-go's image references (refs.py) against docker's: each name is given to `docker tag`
(docker's reference.ParseNormalizedNamed); buildx-go must accept exactly the names docker
accepts, and read each as the image docker stored (the tag docker lists, in its familiar
form, must be the same reference)."""

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

NAMES = [
    "bxgref",
    "docker.io/bxgref",
    "index.docker.io/bxgref",
    "docker.io/library/bxgref",
    "index.docker.io/library/bxgref",
    "registry-1.docker.io/bxgref",
    "Docker.io/bxgref",
    "bxgteam/app",
    "docker.io/bxgteam/app",
    "index.docker.io/bxgteam/app",
    "localhost/bxgref",
    "LocalHost/bxgref",
    "localhost:5000/bxg/ref",
    "127.0.0.1:5000/bxg/ref",
    "example.com:443/a/b/c",
    "a.b/c__d/e-f.g_h",
    "Team/app",
    "bxgref_x",
    "bxgref__x",
    "bxgref___x",
    "bxgref-x",
    "bxgref--x",
    "bxgref.x",
    "bxgref..x",
    "bxgRef",
    "docker.io/BxgRef",
    "bxg//ref",
    "bxgref/",
    "/bxgref",
    "-bxgref",
    "bxgref-",
    "example.com:/x",
    "ex_ample.com/x",
    "ex_ample.com:5000/x",
    "Ex_ample.com/x",
    "-example.com/x",
]
TAGS = ["t1", "T_1.x-y", "_t", ".t", "-t", "t" * 128, "t" * 129]


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


def repo_tags(image: str) -> set[str]:
    out = subprocess.run(
        ["docker", "image", "inspect", image, "--format", "{{json .RepoTags}}"],
        check=True,
        capture_output=True,
        text=True,
    )
    return set(json.loads(out.stdout) or [])


def dockers_reading(source: str, name: str) -> str | None:
    """The tag docker stored for NAME (its familiar form), or None when docker refuses NAME."""
    before = repo_tags(source)
    tagged = subprocess.run(["docker", "tag", source, name], capture_output=True, text=True)
    if tagged.returncode != 0:
        return None
    try:
        (added,) = repo_tags(source) - before
        return added
    finally:
        subprocess.run(["docker", "rmi", name], check=True, capture_output=True)


@pytest.mark.parametrize("name", [f"{n}:t1" for n in NAMES] + [f"bxgref:{t}" for t in TAGS] + ["bxgref"])
def test_a_name_docker_accepts_is_accepted_and_read_as_docker_stores_it(source: str, name: str) -> None:
    stored = dockers_reading(source, name)
    ours = problem(name)
    assert (ours is None) == (stored is not None), (name, stored, ours)
    if stored is not None:
        assert Reference.parse(name) == Reference.parse(stored), (name, stored)
