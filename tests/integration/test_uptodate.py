"""The registry is the record, on the real engine and registry: the same commit builds the
same platform images (from a pruned BuildKit cache, on the docker driver and on a
docker-container builder); a rerun anywhere (another clone, an empty cache directory, another
environment) builds nothing and keeps every tag; a changed Go file, build arg or base image
builds, naming it; `verify --rebuild` tells whether the published image is what the sources
build."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.integration.conftest import (
    BASE_IMAGE,
    GO_IMAGE,
    REGISTRY,
    ROOT,
    buildx_go,
    events,
    head_digest,
    registry_index,
    run,
)

pytestmark = pytest.mark.integration
BUILDKIT_IMAGE = f"{REGISTRY}/buildkit:v0.32.2"  # scripts/setup --lab makes it
REMOTE = "https://example.com/team/hello.git"


def named(stderr: str) -> dict[str, dict[str, object]]:
    return {str(e["event"]): e for e in events(stderr)}


def built(stderr: str) -> bool:
    """Whether the run ran a build (its command.start event)."""
    return any(e["event"] == "command.start" and e.get("purpose") == "build" for e in events(stderr))


def git(root: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_DATE": "2026-11-30T12:00:00Z", "GIT_COMMITTER_DATE": "2026-11-30T12:00:00Z"}
    ident = ["-c", "user.name=dev", "-c", "user.email=dev@example.com", "-c", "commit.gpgsign=false"]
    return subprocess.run(["git", *ident, *args], cwd=root, env=env, check=True, capture_output=True, text=True).stdout


def project(tmp_path: Path, config: str = "") -> Path:
    """examples/hello as a team's checkout: one commit, its origin a URL."""
    root = tmp_path / "hello"
    shutil.copytree(ROOT / "examples" / "hello", root)
    if config:
        (root / ".buildx-go.toml").write_text(config)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "hello")
    git(root, "remote", "add", "origin", REMOTE)
    return root


def images(ref: str) -> dict[str, str]:
    """The platform images of the index REF: platform -> manifest digest."""
    out = {}
    for e in registry_index(ref)["manifests"]:  # type: ignore[index]
        p = e["platform"]
        if p["os"] != "unknown":
            out[f"{p['os']}/{p['architecture']}"] = e["digest"]
    return out


GENERATED = ("--go-image", GO_IMAGE, "--base-image", BASE_IMAGE, "--platform", "linux/amd64,linux/arm64")


@pytest.mark.parametrize("driver", ["docker", "docker-container"])
def test_two_builds_of_one_commit_from_a_pruned_cache_give_the_same_platform_images(
    tmp_path: Path, repo: str, driver: str
) -> None:
    root = project(tmp_path)
    builder = ["--builder", "default"]
    name = f"bxg-it-repro-{uuid.uuid4().hex[:6]}"
    if driver == "docker-container":
        builder = ["--builder", name]
        make = ("build", str(root), "--image", repo, "--tag", "0.0.0", "--push", *GENERATED, "--progress", "quiet")
        buildx_go(*make, "--create-builder", *builder, "--builder-image", BUILDKIT_IMAGE)
    try:
        seen = []
        for _ in range(2):
            run(["docker", "buildx", "prune", "--all", "--force", *builder])
            args = ("build", str(root), "--image", repo, "--tag", "1.0.0", "--push", *GENERATED, *builder)
            proc = buildx_go(*args, "--rebuild", "--progress", "quiet")
            assert built(proc.stderr)
            seen.append(images(f"{repo}:1.0.0"))
        assert seen[0] == seen[1], seen
        assert set(seen[0]) == {"linux/amd64", "linux/arm64"}
    finally:
        if driver == "docker-container":
            run(["docker", "buildx", "rm", name], check=False)


def test_a_rerun_anywhere_builds_nothing_and_a_changed_input_builds_naming_it(tmp_path: Path, repo: str) -> None:
    root = project(tmp_path)

    def args(where: Path, *more: str) -> tuple[str, ...]:
        return ("build", str(where), "--image", repo, "--tag", "1.0.0", "--latest", "--push", *GENERATED, *more)

    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    first = buildx_go(*args(root), env=cache)
    assert built(first.stderr)
    digest = head_digest(f"{repo}:1.0.0")
    assert digest and head_digest(f"{repo}:latest") == digest
    index = registry_index(f"{repo}:1.0.0")
    record = json.loads(index["annotations"]["dev.buildx-go.inputs"])  # type: ignore[index]
    assert record["commit"] == git(root, "rev-parse", "HEAD").strip()

    def unchanged(proc: subprocess.CompletedProcess[str] | str) -> None:
        stderr = proc if isinstance(proc, str) else proc.stderr
        assert not built(stderr), stderr[-2000:]
        assert named(stderr)["build.unchanged"]["digest"] == digest
        assert head_digest(f"{repo}:1.0.0") == digest and head_digest(f"{repo}:latest") == digest

    # (a) a fresh clone at another path
    clone = tmp_path / "elsewhere" / "hello"
    git(tmp_path, "clone", "-q", str(root), str(clone))
    git(clone, "remote", "set-url", "origin", REMOTE)
    unchanged(buildx_go(*args(clone), env=cache))
    # (b) an empty buildx-go cache directory
    unchanged(buildx_go(*args(root), env={"XDG_CACHE_HOME": str(tmp_path / "empty-cache")}))
    # (c) an unrelated variable, and stderr to a file
    log = tmp_path / "stderr.log"
    with log.open("w") as err:
        env = {**os.environ, **cache, "UNRELATED_SETTING": "1"}
        argv = [sys.executable, "-m", "buildx_go", *args(clone), "--log-format", "json"]
        assert subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=err, check=False).returncode == 0
    unchanged(log.read_text())

    # a Go file changed: built, and the file is named
    main = clone / "main.go"
    main.write_text(main.read_text().replace("hello", "hello again"))
    changed = buildx_go(*args(clone), env=cache)
    assert built(changed.stderr)
    why = str(named(changed.stderr)["build.changed"]["why"])
    assert why.endswith("the build context (main.go)"), why
    second = head_digest(f"{repo}:1.0.0")
    assert second not in (None, digest) and head_digest(f"{repo}:latest") == second
    # a build arg
    arg = buildx_go(*args(clone, "--build-arg", "EXTRA=1"), env=cache)
    assert built(arg.stderr) and str(named(arg.stderr)["build.changed"]["why"]).endswith("build arg EXTRA (new)")
    # the base image's tag
    base = f"{REGISTRY}/it-uptodate-base-{uuid.uuid4().hex[:8]}:1"
    run(["docker", "buildx", "imagetools", "create", "--tag", base, BASE_IMAGE])
    moved = buildx_go(*args(clone, "--build-arg", "EXTRA=1", "--base-image", base), env=cache)
    assert built(moved.stderr)
    assert f"base images {GO_IMAGE} {BASE_IMAGE} -> {GO_IMAGE} {base}" in str(named(moved.stderr)["build.changed"])
    assert not built(buildx_go(*args(clone, "--build-arg", "EXTRA=1", "--base-image", base), env=cache).stderr)

    rebuilt = buildx_go(*args(clone, "--build-arg", "EXTRA=1", "--base-image", base, "--rebuild"), env=cache)
    assert built(rebuilt.stderr)  # --rebuild always builds


def test_a_base_image_whose_tag_moved_is_built_from_again(tmp_path: Path, repo: str) -> None:
    root = project(tmp_path)
    base = f"{REGISTRY}/it-uptodate-base-{uuid.uuid4().hex[:8]}:1"
    run(["docker", "buildx", "imagetools", "create", "--tag", base, BASE_IMAGE])
    args = ("build", str(root), "--image", repo, "--tag", "1.0.0", "--push", "--go-image", GO_IMAGE)
    args += ("--base-image", base, "--platform", "linux/amd64,linux/arm64", "--progress", "quiet")
    buildx_go(*args)
    assert not built(buildx_go(*args).stderr)

    # The base's tag now holds another multi-platform image (this project's own, as good as any).
    run(["docker", "buildx", "imagetools", "create", "--tag", base, f"{repo}:1.0.0"])
    moved = buildx_go(*args)
    assert built(moved.stderr)
    why = str(named(moved.stderr)["build.changed"]["why"])
    assert why.startswith(f"{base} (linux/") and " resolves to sha256:" in why, why
    assert not built(buildx_go(*args).stderr)  # and then nothing changed again


def test_verify_rebuild_tells_whether_the_published_image_is_what_the_sources_build(tmp_path: Path, repo: str) -> None:
    config = f'go-image = "{GO_IMAGE}"\nbase-image = "{BASE_IMAGE}"\n'
    root = project(tmp_path, config)
    buildx_go("build", str(root), "--image", repo, "--tag", "1.0.0", "--push", "--platform", "linux/amd64,linux/arm64")
    published = head_digest(f"{repo}:1.0.0")
    same = buildx_go("verify", f"{repo}:1.0.0", "--rebuild", str(root), "--format", "json")
    report = json.loads(same.stdout)
    assert report["same"] is True and {i["platform"] for i in report["images"]} == {"linux/amd64", "linux/arm64"}
    assert all(i["published"] == i["rebuilt"] for i in report["images"])

    main = root / "main.go"
    main.write_text(main.read_text().replace("hello", "hello, changed"))
    differs = buildx_go("verify", f"{repo}:1.0.0", "--rebuild", str(root), check=False)
    assert differs.returncode == 6, differs.stderr[-2000:]
    assert "linux/amd64: layer " in differs.stderr and "linux/arm64: layer " in differs.stderr
    assert "its inputs differ: the build context (main.go)" in differs.stderr
    assert head_digest(f"{repo}:1.0.0") == published  # nothing was pushed or tagged


def test_an_unchanged_index_is_checked_as_published_and_a_lost_layer_fails_it(tmp_path: Path, repo: str) -> None:
    """A rerun with nothing changed does not read the layers again (the record says they were
    verified before any tag was written, by this version of buildx-go), but asks the registry
    for each: one gone from the registry fails verification (exit 6), naming it."""
    root = project(tmp_path)
    argv = ("build", str(root), "--image", repo, "--tag", "1.0.0", "--push", *GENERATED)
    first = buildx_go(*argv)
    assert named(first.stderr)["verify.ok"].get("checked") is None  # built: read in full
    record = json.loads(registry_index(f"{repo}:1.0.0")["annotations"]["dev.buildx-go.inputs"])  # type: ignore[index]
    assert record["verified"] == "strict"

    again = buildx_go(*argv, env={"XDG_CACHE_HOME": str(tmp_path / "empty-cache")})
    assert not built(again.stderr) and named(again.stderr)["verify.ok"]["checked"] == "published"
    notes = {str(e["note"]) for e in events(again.stderr) if e["event"] == "verify.image"}
    assert notes == {"checked when it was published; its layers are all still there"}, notes

    name = repo.split("/", 1)[1]
    amd64 = images(f"{repo}:1.0.0")["linux/amd64"]
    accept = {"Accept": "application/vnd.oci.image.manifest.v1+json"}
    with urllib.request.urlopen(
        urllib.request.Request(f"http://127.0.0.1:5000/v2/{name}/manifests/{amd64}", headers=accept)
    ) as r:
        layer = str(json.load(r)["layers"][-1]["digest"])
    req = urllib.request.Request(f"http://127.0.0.1:5000/v2/{name}/blobs/{layer}", method="DELETE")
    with urllib.request.urlopen(req) as resp:
        assert resp.status == 202
    lost = buildx_go(*argv, env={"XDG_CACHE_HOME": str(tmp_path / "empty-cache")}, check=False)
    assert lost.returncode == 6, lost.stderr[-2000:]
    assert not built(lost.stderr)
    assert f"ERROR {repo}@{amd64}: blob {layer} is missing from the registry" in lost.stderr
