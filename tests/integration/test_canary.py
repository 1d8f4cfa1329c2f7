"""Secrets: a canary token in the project's git remote (every URL shape users have)
and in a --version-from command is found nowhere: not in the output of a good run, of a
failing run, of --debug, not in the image's labels, its provenance or any blob pushed."""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

import pytest

from tests.integration.conftest import BASE_IMAGE, GO_IMAGE, ROOT, buildx_go, run

pytestmark = pytest.mark.integration
CANARY = "cAnArY-7f1e9d3b"


def pushed_blobs(repo: str) -> list[bytes]:
    """Every manifest and blob REPO's tags reach in the registry (indexes, attestations, layers)."""
    name = repo.split("/", 1)[1]
    accept = ", ".join(
        [
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.docker.distribution.manifest.v2+json",
        ]
    )

    def get(kind: str, ref: str) -> bytes:
        req = urllib.request.Request(f"http://127.0.0.1:5000/v2/{name}/{kind}/{ref}", headers={"Accept": accept})
        with urllib.request.urlopen(req) as resp:
            return bytes(resp.read())

    with urllib.request.urlopen(f"http://127.0.0.1:5000/v2/{name}/tags/list") as resp:
        tags = json.load(resp)["tags"]
    out, todo, seen = [], [("manifests", t) for t in tags], set()
    while todo:
        kind, ref = todo.pop()
        if (kind, ref) in seen:
            continue
        seen.add((kind, ref))
        data = get(kind, ref)
        out.append(data)
        if kind == "manifests":
            doc = json.loads(data)
            todo += [("manifests", m["digest"]) for m in doc.get("manifests", [])]
            todo += [("blobs", b["digest"]) for b in [doc.get("config") or {}, *doc.get("layers", [])] if b]
    return out


@pytest.mark.parametrize(
    "remote",
    [
        f"https://user:{CANARY}@git.example.com/team/app.git",
        f"git+https://user:{CANARY}@git.example.com/team/app",
        f"https://git.example.com/team/app.git?private_token={CANARY}",
        f"user:{CANARY}@git.example.com:team/app.git",
        f"{CANARY}@git.example.com:team/app.git",  # a token as the scp-like user
    ],
)
def test_a_canary_in_the_git_remote_is_found_nowhere(remote: str, tmp_path: Path, repo: str) -> None:
    project = tmp_path / "app"
    shutil.copytree(ROOT / "examples" / "hello", project)
    git = ["git", "-C", str(project)]
    run([*git, "init", "-q"])
    run([*git, "remote", "add", "origin", remote])
    run([*git, "-c", "user.email=t@e", "-c", "user.name=t", "add", "."])
    run([*git, "-c", "user.email=t@e", "-c", "user.name=t", "commit", "-qm", "x"])
    run([*git, "tag", "v1.0.0"])
    args = (str(project), "--image", repo, "--push", "--latest", "--go-image", GO_IMAGE, "--base-image", BASE_IMAGE)
    good = buildx_go("build", *args, "--debug", "--provenance")
    plan = buildx_go("plan", *args, "--format", "json")
    version_cmd = f"curl -fsS -H 'Authorization: Bearer {CANARY}' https://u:{CANARY}@127.0.0.1:9/v"
    failing = buildx_go("build", *args, "--debug", "--version-from", version_cmd, check=False)
    assert failing.returncode == 2
    token_as_program = buildx_go("plan", *args, "--version-from", f"ghp_{CANARY}0123456789abcdef", check=False)
    assert token_as_program.returncode == 2
    texts = [good.stdout, good.stderr, plan.stdout, plan.stderr, failing.stdout, failing.stderr]
    texts += [token_as_program.stdout, token_as_program.stderr]
    assert not [t for t in texts if CANARY in t]
    blobs = pushed_blobs(repo)
    assert any(b"org.opencontainers.image.source" in b for b in blobs)  # the label is there, without it
    assert any(b"https://in-toto.io/Statement" in b or b"predicateType" in b for b in blobs)  # provenance pushed
    assert not [b[:200] for b in blobs if CANARY.encode() in b]
