"""uptodate.py and its parts without an engine: the build context's stamp, what a provenance
says the build resolved, which plans are recorded as published, and the registry's answer
(a fake registry over real HTTP) to "did anything change since?"."""

from __future__ import annotations

import json
import marshal
import os
from pathlib import Path
from typing import Any

import attrs
import pytest
from structlog.testing import capture_logs

from buildx_go.engine import early
from buildx_go.engine.stamps import tree_stamp
from buildx_go.planning.plan import Plan
from buildx_go.registry.client import RegistryClient
from buildx_go.run import uptodate
from buildx_go.run.execute import execute
from tests.fakeregistry import OCI_MANIFEST, FakeRegistry
from tests.unit.planning import plan_for


# --- the build context's stamp -------------------------------------------------------------
def test_the_context_stamp_changes_with_any_entry_but_not_with_what_is_left_out(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.go").write_text("package a\n")
    (tmp_path / ".git").mkdir()
    first = tree_stamp(str(tmp_path), [".git"])
    assert first is not None and tree_stamp(str(tmp_path), [".git"]) == first
    (tmp_path / ".git" / "HEAD").write_text("ref\n")  # left out, as the build context leaves it out
    assert tree_stamp(str(tmp_path), [".git"]) == first
    assert tree_stamp(str(tmp_path)) != tree_stamp(str(tmp_path), [".git"])

    seen = {first}
    (tmp_path / "pkg" / "a.go").write_text("package b\n")  # same size, new content (mtime, ctime)
    seen.add(tree_stamp(str(tmp_path), [".git"]))
    os.replace(tmp_path / "pkg" / "a.go", tmp_path / "pkg" / "b.go")  # renamed
    seen.add(tree_stamp(str(tmp_path), [".git"]))
    (tmp_path / "pkg" / "c.txt").write_text("")  # a new empty file
    seen.add(tree_stamp(str(tmp_path), [".git"]))
    (tmp_path / "link").symlink_to("pkg")
    seen.add(tree_stamp(str(tmp_path), [".git"]))
    (tmp_path / "link").unlink()
    (tmp_path / "link").symlink_to("pkg/b.go")  # the same link, another target
    seen.add(tree_stamp(str(tmp_path), [".git"]))
    assert len(seen) == 6


def test_a_context_too_large_or_unreadable_has_no_stamp(tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"f{i}").write_text("")
    assert tree_stamp(str(tmp_path), limit=4) is None
    assert tree_stamp(str(tmp_path), limit=5) is not None
    assert tree_stamp(str(tmp_path / "missing")) is None


# --- what the provenance says the build resolved -----------------------------------------------
@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (
            "pkg:docker/localhost%3A5000/golang@1.27?platform=linux%2Famd64",
            ("localhost:5000/golang:1.27", "linux/amd64"),
        ),
        ("pkg:docker/golang@1.22", ("golang:1.22", None)),
        ("pkg:docker/docker/dockerfile@1?platform=linux%2Farm%2Fv7", ("docker/dockerfile:1", "linux/arm/v7")),
        ("pkg:docker/alpine@sha256%3A" + "a" * 64, ("alpine@sha256:" + "a" * 64, None)),
        ("pkg:docker/alpine@3.20?digest=sha256%3A" + "b" * 64, ("alpine:3.20@sha256:" + "b" * 64, None)),
        ("https://example.com/tool.tar.gz", None),
        ("https://github.com/org/repo.git#main", None),
    ],
)
def test_provenance_materials_name_images_by_purl(uri: str, expected: tuple[str, str | None] | None) -> None:
    assert uptodate.material(uri) == expected


def test_materials_of_slsa_v02_and_v1_and_what_is_not_an_image() -> None:
    sha = "c" * 64
    v02 = {
        "predicate": {
            "materials": [{"uri": "pkg:docker/golang@1.27?platform=linux%2Famd64", "digest": {"sha256": sha}}]
        }
    }
    assert uptodate.materials(v02) == [("golang:1.27", "linux/amd64", f"sha256:{sha}")]
    v1 = {
        "predicate": {
            "buildDefinition": {"resolvedDependencies": [{"uri": "pkg:docker/a@1", "digest": {"sha256": sha}}]}
        }
    }
    assert uptodate.materials(v1) == [("a:1", None, f"sha256:{sha}")]
    with pytest.raises(ValueError, match="the build read https://example.com/x"):
        uptodate.materials({"predicate": {"materials": [{"uri": "https://example.com/x", "digest": {"sha256": sha}}]}})
    with pytest.raises(ValueError, match="no materials"):
        uptodate.materials({"predicate": {}})


# --- which plans are recorded, and what of them ------------------------------------------------
def pushed_plan(workdir: str = "/w", **given: object) -> Plan:
    settings = {"image": "localhost:5000/app", "tag": ["1.2.0"], "platform": ["linux/amd64", "linux/arm64"]}
    return plan_for({**settings, "strategy": "buildx", "push": True, **given}, workdir)


def test_a_pushed_verified_buildx_plan_with_provenance_is_recorded_and_others_are_not() -> None:
    plan = pushed_plan()
    assert uptodate.not_recorded(plan) is None
    context = uptodate.context_of(plan)
    assert context is not None and context[1] == (".git",)
    assert uptodate.context_of(pushed_plan(include_git=True)) == (context[0], ())
    rules = "# comment\nbin/\n/dist\n*.test\n**/tmp\ndocs/*.md\n.git\n"
    assert uptodate.context_of(attrs.evolve(plan, dockerignore=rules)) == (context[0], (".git", "bin", "dist"))
    excepted = attrs.evolve(plan, dockerignore="bin/\n!bin/keep\n.git\n")
    assert uptodate.context_of(excepted) == (context[0], ())  # an exception: nothing is left out
    assert uptodate.not_recorded(pushed_plan(verify=False)) == "--no-verify"
    assert uptodate.not_recorded(pushed_plan(provenance=False)).startswith("no provenance")  # type: ignore[union-attr]
    assert uptodate.not_recorded(pushed_plan(secret=["id=netrc,src=/dev/null"])).startswith("--secret")  # type: ignore[union-attr]
    assert (
        uptodate.not_recorded(
            plan_for(
                {
                    "image": "localhost:5000/app",
                    "tag": ["1"],
                    "load": True,
                    "strategy": "buildx",
                    "platform": ["linux/amd64"],
                }
            )
        )
        == "not pushed"
    )
    assert uptodate.not_recorded(pushed_plan(strategy="manifest")) is not None


def test_the_identity_of_a_build_leaves_out_only_the_workdir() -> None:
    plan = pushed_plan("/tmp/buildx-go-1-1")
    assert uptodate.identity(plan) == uptodate.identity(pushed_plan("/tmp/buildx-go-2-2"))
    assert uptodate.identity(plan) != uptodate.identity(pushed_plan("/w", tag=["1.2.1"]))
    assert uptodate.identity(plan) != uptodate.identity(pushed_plan("/w", build_arg=["X=1"]))
    other_file = attrs.evolve(plan, dockerfile=attrs.evolve(plan.dockerfile, text=plan.dockerfile.text + "# x\n"))
    assert uptodate.identity(plan) != uptodate.identity(other_file)


# --- the registry's answer ----------------------------------------------------------------------
def publish(reg: FakeRegistry, plan: Plan, base: str = "base-v1", provenance: list[str] | None = None) -> str:
    """An index for PLAN's image with one image and its provenance naming the base image."""
    img, size = reg.image("app", [{"app": "x"}])
    base_img, base_size = reg.image("base", [{"etc/os-release": base}])
    base_index = reg.index("base", "1", [(base_img, base_size, {"os": "linux", "architecture": "amd64"})])
    uris = provenance or [f"pkg:docker/{reg.host}/base@1?platform=linux%2Famd64"]
    statement = {"predicate": {"materials": [{"uri": u, "digest": {"sha256": base_index[7:]}} for u in uris]}}
    blob = json.dumps(statement).encode()
    attestation = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": reg.put_blob(b"{}"), "size": 2},
        "layers": [
            {
                "mediaType": "application/vnd.in-toto+json",
                "digest": reg.put_blob(blob),
                "size": len(blob),
                "annotations": {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"},
            }
        ],
    }
    att = reg.put_manifest("app", attestation, OCI_MANIFEST)
    entries = [
        {"mediaType": OCI_MANIFEST, "digest": img, "size": size, "platform": {"os": "linux", "architecture": "amd64"}},
        {
            "mediaType": OCI_MANIFEST,
            "digest": att,
            "size": 1,
            "platform": {"os": "unknown", "architecture": "unknown"},
            "annotations": {"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": img},
        },
    ]
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}
    tag = plan.refs[0].rsplit(":", 1)[1]
    return reg.put_manifest("app", index, "application/vnd.oci.image.index.v1+json", tag)


def test_nothing_changed_until_a_tag_or_a_base_image_moves(tmp_path: Path) -> None:
    with FakeRegistry() as reg:
        plan = pushed_plan(image=f"{reg.host}/app", platform=["linux/amd64"])
        digest = publish(reg, plan)
        record = uptodate.published(plan, digest, "stamp", "{}")
        client = RegistryClient({})
        assert uptodate.why_changed(client, record, plan) is None
        other = pushed_plan(image=f"{reg.host}/app", platform=["linux/amd64"], tag=["1.2.1"])
        assert uptodate.why_changed(client, record, other) == "the planned build differs from the published one"

        reg.image("base", [{"etc/os-release": "base-v2"}], tag="1")  # the base's tag moved
        why = uptodate.why_changed(client, record, plan)
        assert why is not None and why.startswith(f"{reg.host}/base:1 (linux/amd64) resolves to sha256:")

        digest = publish(reg, plan, base="base-v3")
        record = uptodate.published(plan, digest, "stamp", "{}")
        assert uptodate.why_changed(client, record, plan) is None
        reg.image("app", [{"app": "y"}], tag="1.2.0")  # someone else's image under the version tag
        why = uptodate.why_changed(client, record, plan)
        assert why is not None and why.startswith(f"{plan.refs[0]} holds sha256:") and why.endswith(f"not {digest}")


def test_a_build_that_read_more_than_images_is_always_built_again() -> None:
    with FakeRegistry() as reg:
        plan = pushed_plan(image=f"{reg.host}/app", platform=["linux/amd64"])
        digest = publish(reg, plan, provenance=["https://example.com/tool.tar.gz"])
        why = uptodate.why_changed(RegistryClient({}), uptodate.published(plan, digest, "s", "{}"), plan)
        assert why == "could not tell: the build read https://example.com/tool.tar.gz"
        reg.faults.append(("/manifests/", 503, {}))
        why = uptodate.why_changed(RegistryClient({}, attempts=1), uptodate.published(plan, digest, "s", "{}"), plan)
        assert why is not None and why.startswith("could not tell: ")


# --- the early start and the run ------------------------------------------------------------------
def saved_record(tmp_path: Path, argv: list[str], env: dict[str, str], context: Path, stamp: str | None) -> None:
    name = early.record_name(argv, env)
    os.makedirs(os.path.dirname(name), exist_ok=True)
    record: dict[str, Any] = {
        "format": early.FORMAT,
        "watch": [],
        "git": [],
        "facts": [],
        "emulators": sorted(early.host_emulators()),
        "tty": False,
        "terminal": "never",
        "argv": ["/bin/sleep", "30"],
        "env": [],
        "unset": [],
        "cwd": None,
        "workdir": "/w",
        "files": {},
        "context": [str(context), [".git"]],
        "published": {"plan": "p", "digest": "sha256:" + "d" * 64, "stamp": stamp, "metadata": "{}"},
    }
    Path(name).write_bytes(marshal.dumps(record))


def test_nothing_starts_early_when_the_context_is_as_published_unless_a_rebuild_is_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = tmp_path / "project"
    context.mkdir()
    (context / "main.go").write_text("package main\n")
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    started: list[object] = []
    monkeypatch.setattr(early, "_start", lambda record: started.append(record) or "started")
    argv = ["build", str(context), "--push"]
    saved_record(tmp_path, argv, env, context, tree_stamp(str(context), [".git"]))
    early.begin(argv, env)
    assert started == [] and early.candidate() is not None
    assert early.context_before(str(context), [".git"]) == tree_stamp(str(context), [".git"])

    for again, extra in (([*argv, "--rebuild"], {}), (argv, {"BUILDX_GO_REBUILD": "1"})):
        early._candidate = None
        saved_record(tmp_path, again, {**env, **extra}, context, tree_stamp(str(context), [".git"]))
        early.begin(again, {**env, **extra})
        assert early.candidate() is None and len(started) == 1
        started.clear()

    early._candidate = None
    saved_record(tmp_path, argv, env, context, tree_stamp(str(context), [".git"]))
    (context / "main.go").write_text("package main // changed\n")
    early.begin(argv, env)
    assert early.candidate() is None and len(started) == 1  # a changed context: started early, as before


class NoBuild:
    """An executor that must not build."""

    def run(self, argv: object, **_: object) -> str:
        raise AssertionError(f"nothing may run: {argv}")

    def probe(self, argv: object, **_: object) -> tuple[int, str, str]:
        raise AssertionError("no probes expected")


def test_a_run_whose_image_is_published_and_unchanged_builds_nothing(tmp_path: Path) -> None:
    with FakeRegistry() as reg:
        plan = pushed_plan(str(tmp_path / "wd"), image=f"{reg.host}/app", platform=["linux/amd64"], verify=False)
        digest = publish(reg, plan)
        metadata = json.dumps({"containerimage.digest": digest, "image.name": plan.refs[0]})
        early._candidate = uptodate.published(plan, digest, "stamp", metadata)
        early._recorder = early.Recorder(str(tmp_path / "x.rec"))
        with capture_logs() as logs:
            outcome = execute(plan, NoBuild(), lambda: RegistryClient({}), env={})  # type: ignore[arg-type]
        assert outcome.digest == digest and outcome.built is False and outcome.to_dict()["built"] is False
        (unchanged,) = [e for e in logs if e["event"] == "build.unchanged"]
        assert unchanged["digest"] == digest
        assert json.loads(Path(plan.metadata_file).read_text())["containerimage.digest"] == digest
        kept = tmp_path / "x.rec"
        kept.write_bytes(b"the record this run used")
        os.utime(kept, (1, 1))
        assert early.save(None, str(tmp_path / "wd")) == "nothing was built: the record stays as it was"
        assert kept.read_bytes() == b"the record this run used" and kept.stat().st_mtime > 1  # newest, kept
