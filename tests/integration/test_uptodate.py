"""No-op rebuilds: a build whose image is already published from the same inputs
builds nothing (uptodate.py): the tags keep their digest. A changed file, --rebuild, a tag
someone moved or a base image whose tag moved builds again, on the real engine and registry."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

from tests.integration.conftest import BASE_IMAGE, GO_IMAGE, REGISTRY, ROOT, buildx_go, events, head_digest, run

pytestmark = pytest.mark.integration


def named(stderr: str) -> dict[str, dict[str, object]]:
    return {str(e["event"]): e for e in events(stderr)}


def built(stderr: str) -> bool:
    """Whether the run ran a build (its command.start event)."""
    return any(e["event"] == "command.start" and e.get("purpose") == "build" for e in events(stderr))


def test_an_image_published_from_the_same_inputs_is_not_built_again(tmp_path: Path, repo: str) -> None:
    root = tmp_path / "hello"
    shutil.copytree(ROOT / "examples" / "hello", root)
    args = ("build", str(root), "--image", repo, "--tag", "1.0.0", "--latest", "--push", "--go-image", GO_IMAGE)
    args += ("--base-image", BASE_IMAGE, "--platform", "linux/amd64,linux/arm64", "--progress", "quiet")
    args += ("--metadata-file", str(tmp_path / "meta.json"))
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    first = buildx_go(*args, env=env)
    assert built(first.stderr)
    digest = head_digest(f"{repo}:1.0.0")
    assert digest and head_digest(f"{repo}:latest") == digest

    (tmp_path / "meta.json").unlink()
    again = buildx_go(*args, env=env)
    seen = named(again.stderr)
    assert not built(again.stderr) and "early.adopted" not in seen
    assert seen["build.unchanged"]["digest"] == digest and seen["build.summary"]["built"] is False
    assert seen["verify.ok"]["digest"] == digest  # verified as always (from the cache of what passed)
    assert again.stdout == first.stdout  # the same refs and digest
    assert head_digest(f"{repo}:1.0.0") == digest and head_digest(f"{repo}:latest") == digest
    assert f'"containerimage.digest": "{digest}"' in (tmp_path / "meta.json").read_text()
    debug = named(buildx_go(*args, "--debug", env=env).stderr)  # the same record: it says what it did
    assert debug["build.unchanged"]["digest"] == digest
    assert str(debug["early.record"]["skipped"]).startswith("nothing changed since it was published")
    assert built(buildx_go(*args, env={**env, "BUILDX_GO_EARLY": "off"}).stderr)  # no records: always built

    main = root / "main.go"  # a change in the build context
    main.write_text(main.read_text().replace("hello", "hello again"))
    changed = buildx_go(*args, env=env)
    assert built(changed.stderr) and "build.unchanged" not in named(changed.stderr)
    second = head_digest(f"{repo}:1.0.0")
    assert second not in (None, digest) and head_digest(f"{repo}:latest") == second
    assert not built(buildx_go(*args, env=env).stderr)

    rebuilt = buildx_go(*args, "--rebuild", env=env)
    assert built(rebuilt.stderr)
    third = head_digest(f"{repo}:1.0.0")
    assert third not in (None, second)  # a new build: new provenance, a new index

    # Someone else moved the version tag: the next run builds, and the tag is its own again.
    run(["docker", "buildx", "imagetools", "create", "--tag", f"{repo}:1.0.0", BASE_IMAGE])
    moved = buildx_go(*args, env=env)
    assert built(moved.stderr)
    why = str(named(moved.stderr)["build.changed"]["why"])
    assert why.startswith(f"{repo}:1.0.0 holds sha256:"), why
    assert head_digest(f"{repo}:1.0.0") not in (None, third, head_digest(BASE_IMAGE))


def test_a_base_image_whose_tag_moved_is_built_from_again(tmp_path: Path, repo: str) -> None:
    root = tmp_path / "hello"
    shutil.copytree(ROOT / "examples" / "hello", root)
    base = f"{REGISTRY}/it-uptodate-base-{uuid.uuid4().hex[:8]}:1"
    run(["docker", "buildx", "imagetools", "create", "--tag", base, BASE_IMAGE])
    args = ("build", str(root), "--image", repo, "--tag", "1.0.0", "--push", "--go-image", GO_IMAGE)
    args += ("--base-image", base, "--platform", "linux/amd64,linux/arm64", "--progress", "quiet")
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    buildx_go(*args, env=env)
    assert not built(buildx_go(*args, env=env).stderr)

    # The base's tag now holds another multi-platform image (this project's own, as good as any).
    run(["docker", "buildx", "imagetools", "create", "--tag", base, f"{repo}:1.0.0"])
    moved = buildx_go(*args, env=env)
    assert built(moved.stderr)
    why = str(named(moved.stderr)["build.changed"]["why"])
    assert why.startswith(f"{base} (linux/") and " resolves to sha256:" in why, why
    assert not built(buildx_go(*args, env=env).stderr)  # and then nothing changed again
