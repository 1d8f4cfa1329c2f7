"""The registry as the record, without an engine: a build's inputs by content (the build
context with docker's ignore rules, the Dockerfile, args, labels, options), what a
provenance says the build resolved, which plans record inputs, and the registry's answer
(a fake registry over real HTTP) to "was this built from the same inputs, and has anything
it used moved since?"."""

from __future__ import annotations

import json
import os
from pathlib import Path

import attrs
import pytest
from structlog.testing import capture_logs

from buildx_go.planning.inputs import ANNOTATION, Inputs, changed
from buildx_go.planning.plan import Plan
from buildx_go.project.context import context_digest, left_out, read_rules
from buildx_go.registry.client import RegistryClient
from buildx_go.run import uptodate
from buildx_go.run.execute import execute
from tests.fakeregistry import OCI_MANIFEST, FakeRegistry
from tests.unit.planning import plan_for


# --- the build context by content ------------------------------------------------------------
def test_the_context_digest_is_its_content_not_its_times_or_inodes(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for root in (a, b):
        (root / "pkg").mkdir(parents=True)
        (root / "pkg" / "a.go").write_text("package a\n")
        (root / "main.go").write_text("package main\n")
        (root / "run.sh").write_text("#!/bin/sh\n")
    (b / "run.sh").chmod(0o755)
    os.utime(a / "main.go", (1, 1))
    rules = ".git\nbin/\n"
    assert context_digest(str(a), rules) != context_digest(str(b), rules)  # the execute bit counts
    (a / "run.sh").chmod(0o755)
    assert context_digest(str(a), rules) == context_digest(str(b), rules)  # times and inodes do not
    (b / ".git").mkdir()
    (b / ".git" / "HEAD").write_text("ref: x\n")
    (b / "bin").mkdir()
    (b / "bin" / "app").write_bytes(b"\x7fELF")
    assert context_digest(str(a), rules) == context_digest(str(b), rules)  # left out by the rules
    (b / "main.go").write_text("package main // changed\n")
    assert context_digest(str(a), rules) != context_digest(str(b), rules)
    (b / "main.go").write_text("package main\n")
    (b / "pkg" / "b.go").symlink_to("a.go")
    assert context_digest(str(a), rules) != context_digest(str(b), rules)  # a new link


@pytest.mark.parametrize(
    ("rules", "path", "out"),
    [
        ("*.md\n", "README.md", True),
        ("*.md\n", "docs/README.md", False),  # * stays within one path element
        ("**/*.md\n", "docs/README.md", True),
        ("docs\n", "docs/a/b.txt", True),  # a parent directory left out leaves out what is in it
        ("docs\n!docs/keep.txt\n", "docs/keep.txt", False),
        ("docs\n!docs/keep.txt\n", "docs/other.txt", True),
        ("/bin\n", "bin/app", True),
        ("./bin\n", "bin/app", True),
        ("bin/\n", "cmd/bin/app", False),
        ("# bin\n", "bin/app", False),
        ("?.go\n", "a.go", True),
        ("?.go\n", "ab.go", False),
        ("**\n!main.go\n", "main.go", False),
        ("**\n!main.go\n", "go.mod", True),
    ],
)
def test_ignore_rules_are_read_as_docker_reads_them(rules: str, path: str, out: bool) -> None:
    assert left_out(path, read_rules(rules)) is out


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


# --- which plans record inputs, and what -----------------------------------------------------
def pushed_plan(workdir: str = "/w", git: dict[str, str] | None = None, **given: object) -> Plan:
    settings = {"image": "localhost:5000/app", "tag": ["1.2.0"], "platform": ["linux/amd64", "linux/arm64"]}
    return plan_for({**settings, "strategy": "buildx", "push": True, **given}, workdir, git=git)


def test_a_pushed_verified_buildx_plan_with_provenance_records_its_inputs_and_others_do_not() -> None:
    assert pushed_plan().not_recorded() is None
    assert "verified" in str(pushed_plan(verify=False).not_recorded())
    assert str(pushed_plan(provenance=False).not_recorded()).startswith("no provenance")
    assert str(pushed_plan(secret=["id=netrc,src=/dev/null"]).not_recorded()).startswith("--secret")
    loaded = plan_for(
        {"image": "localhost:5000/app", "tag": ["1"], "load": True, "platform": ["linux/amd64"], "strategy": "buildx"}
    )
    assert loaded.not_recorded() is not None
    assert pushed_plan(strategy="manifest").not_recorded() is not None


def test_the_inputs_leave_out_what_does_not_change_the_image() -> None:
    plan = pushed_plan("/tmp/buildx-go-1-1").with_inputs("sha256:c")
    same = pushed_plan("/tmp/buildx-go-2-2", progress="plain", cache="registry", latest=True).with_inputs("sha256:c")
    assert plan.inputs is not None and same.inputs is not None
    assert plan.inputs.digest == same.inputs.digest  # workdir, moving tags, progress, cache
    version = pushed_plan(tag=["1.2.1"]).with_inputs("sha256:c").inputs  # the image's version label is its own
    assert version is not None and changed(plan.inputs, version) == "label org.opencontainers.image.version (changed)"
    arg = pushed_plan(build_arg=["X=1"]).with_inputs("sha256:c").inputs
    assert arg is not None and changed(plan.inputs, arg) == "build arg X (new)"
    other = pushed_plan(build_arg=["X=2"]).with_inputs("sha256:c").inputs
    assert other is not None and changed(arg, other) == "build arg X (changed)"
    assert all(v.startswith("sha256:") for k, v in other.parts.items() if k.startswith("build-arg "))
    base = pushed_plan(base_image="localhost:5000/static:v2").with_inputs("sha256:c").inputs
    assert base is not None and changed(plan.inputs, base).startswith("base images ")
    context = pushed_plan().with_inputs("sha256:d").inputs
    assert context is not None and changed(plan.inputs, context, ("cmd/a.go",)) == "the build context (cmd/a.go)"
    sbom = pushed_plan(sbom=True).with_inputs("sha256:c").inputs
    assert sbom is not None and changed(plan.inputs, sbom).startswith("the build options")


def test_the_build_puts_its_inputs_on_the_index_and_reads_them_back() -> None:
    plan = pushed_plan().with_inputs("sha256:c")
    (build,) = plan.phase("build")
    at = build.argv.index("--annotation")
    key, _, value = build.argv[at + 1].partition("=")
    assert key == f"index:{ANNOTATION}" and build.argv[-1] == pushed_plan().phase("build")[0].argv[-1]
    assert Inputs.from_json(value) == plan.inputs
    assert Inputs.from_json(value.replace('"sha256:c"', '"sha256:x"')) is None  # its digest no longer holds
    assert Inputs.from_json("not json") is None and Inputs.from_json(None) is None
    assert plan.to_dict()["inputs"]["digest"] == plan.inputs.digest  # type: ignore[union-attr]


# --- the registry's answer ----------------------------------------------------------------------
def publish(
    reg: FakeRegistry, plan: Plan, base: str = "base-v1", provenance: list[str] | None = None, tag: str | None = None
) -> str:
    """An index for PLAN's image with one image, its provenance naming the base image, and
    PLAN's inputs as its annotation."""
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
    if plan.inputs:
        index["annotations"] = {ANNOTATION: plan.inputs.to_json()}
    return reg.put_manifest(
        "app", index, "application/vnd.oci.image.index.v1+json", tag or plan.refs[0].rsplit(":", 1)[1]
    )


def no_files(commit: str) -> tuple[str, ...]:
    return ()


def test_nothing_changed_until_an_input_a_tag_or_a_base_image_moves() -> None:
    with FakeRegistry() as reg:
        plan = pushed_plan(image=f"{reg.host}/app", platform=["linux/amd64"]).with_inputs("sha256:c")
        digest = publish(reg, plan)
        client = RegistryClient({})
        assert uptodate.published(client, plan, no_files)[0] == digest
        other = pushed_plan(image=f"{reg.host}/app", platform=["linux/amd64"], build_arg=["X=1"]).with_inputs(
            "sha256:c"
        )
        found, why, _ = uptodate.published(client, other, no_files)
        assert found is None and why == f"changed since {plan.refs[0]} was built: build arg X (new)"
        later = pushed_plan(image=f"{reg.host}/app", platform=["linux/amd64"], tag=["1.2.1"]).with_inputs("sha256:c")
        assert uptodate.published(client, later, no_files)[:2] == (None, f"{later.refs[0]} is not published yet")

        reg.image("base", [{"etc/os-release": "base-v2"}], tag="1")  # the base's tag moved
        found, why, _ = uptodate.published(client, plan, no_files)
        assert found is None and why.startswith(f"{reg.host}/base:1 (linux/amd64) resolves to sha256:")

        digest = publish(reg, plan, base="base-v3")
        assert uptodate.published(client, plan, no_files)[0] == digest
        reg.image("app", [{"app": "y"}], tag="1.2.0")  # someone else's image under the version tag
        found, why, _ = uptodate.published(client, plan, no_files)
        assert found is None and why == f"{plan.refs[0]} holds no record of the inputs it was built from"


def test_a_build_that_read_more_than_images_is_always_built_again() -> None:
    with FakeRegistry() as reg:
        plan = pushed_plan(image=f"{reg.host}/app", platform=["linux/amd64"]).with_inputs("sha256:c")
        publish(reg, plan, provenance=["https://example.com/tool.tar.gz"])
        found, why, _ = uptodate.published(RegistryClient({}), plan, no_files)
        assert why == "could not tell: the build read https://example.com/tool.tar.gz"
        reg.faults.append(("/manifests/", 503, {}))
        found, why, _ = uptodate.published(RegistryClient({}, attempts=1), plan, no_files)
        assert found is None and why.startswith("could not tell: ")


class NoBuild:
    """An executor that must not build."""

    def run(self, argv: object, **_: object) -> str:
        raise AssertionError(f"nothing may run: {argv}")

    def probe(self, argv: object, **_: object) -> tuple[int, str, str]:
        raise AssertionError("no probes expected")


def test_a_run_whose_image_is_published_from_the_same_inputs_builds_nothing(tmp_path: Path) -> None:
    with FakeRegistry() as reg:
        settings = {"image": f"{reg.host}/app", "platform": ["linux/amd64"], "verify": False}
        plan = attrs.evolve(pushed_plan(str(tmp_path / "wd"), **settings), verify=True).with_inputs("sha256:c")
        plan = attrs.evolve(plan, verify=False)
        digest = publish(reg, plan)
        with capture_logs() as logs:
            outcome = execute(plan, NoBuild(), lambda: RegistryClient({}), env={})  # type: ignore[arg-type]
        assert outcome.digest == digest and outcome.built is False and outcome.to_dict()["built"] is False
        (unchanged,) = [e for e in logs if e["event"] == "build.unchanged"]
        assert unchanged["digest"] == digest
        with capture_logs() as logs, pytest.raises(AssertionError, match="nothing may run"):
            execute(plan, NoBuild(), lambda: RegistryClient({}), env={}, rebuild=True)  # type: ignore[arg-type]


def test_the_build_is_dated_by_its_commit_for_the_same_image_from_the_same_commit() -> None:
    git = {"revision": "a" * 40, "created": "2026-11-30T12:00:00+01:00"}
    (build,) = pushed_plan(git=git).phase("build")
    assert "SOURCE_DATE_EPOCH=1796036400" in build.argv
    assert "rewrite-timestamp=true" in build.argv[build.argv.index("--output") + 1]
    (given,) = pushed_plan(git={**git, "epoch": "1700000000"}).phase("build")  # $SOURCE_DATE_EPOCH wins
    assert "SOURCE_DATE_EPOCH=1700000000" in given.argv
    (outside,) = pushed_plan().phase("build")  # no commit: no date to give, nothing rewritten
    assert not any("SOURCE_DATE_EPOCH" in a or "rewrite-timestamp" in a for a in outside.argv)


@pytest.mark.parametrize(
    ("remote", "label"),
    [
        ("https://github.com/team/app.git", "https://github.com/team/app.git"),
        ("git@github.com:team/app.git", "git@github.com:team/app.git"),
        ("/home/dev/src/app", None),  # a clone of a directory: a path on one machine
        ("../app", None),
        ("file:///srv/git/app.git", None),
    ],
)
def test_a_local_remote_is_no_source(remote: str, label: str | None) -> None:
    from buildx_go.project.gitinfo import git_facts

    def git(argv: object, cwd: object, timeout: float) -> tuple[int, str, str]:
        asked = list(argv)  # type: ignore[call-overload]
        if "rev-parse" in asked:
            return 0, "true\n" if "--is-inside-work-tree" in asked else "a" * 40 + "\n", ""
        return (0, remote + "\n", "") if "get-url" in asked else (1, "", "")

    assert git_facts(Path("/x"), git).get("source") == label


def test_a_rerun_of_a_published_build_asks_docker_nothing_about_builders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The inputs do not depend on the builder: a rerun tells them with a builder's facts
    assumed (cli/rerun.py), finds them published, and asks docker nothing; a changed input
    asks for the builder's facts and builds."""
    import types

    from tests.unit.planning import HELLO, FakeDocker
    from tests.unit.test_cli_flows import run_cli

    with FakeRegistry() as reg:
        argv = ["build", str(HELLO), "--image", f"{reg.host}/app", "--tag", "1.0.0", "--push"]
        argv += ["--platform", "linux/amd64"]
        code, out, _, planned = run_cli(["plan", *argv[1:], "--format", "json"], tmp_path, capsys=capsys)
        record = Inputs.from_json(json.dumps(json.loads(out)["inputs"]))
        assert code == 0 and record is not None and planned.probes  # plan asked the builder (FakeDocker)
        digest = publish(reg, types.SimpleNamespace(inputs=record), tag="1.0.0")  # type: ignore[arg-type]
        code, out, err, docker = run_cli(argv, tmp_path, FakeDocker(), capsys=capsys)
        assert code == 0 and out.strip() == f"{reg.host}/app:1.0.0@{digest}", err[-2000:]
        assert docker.probes == [] and docker.runs == []  # neither builder facts nor a build
        assert '"event": "build.unchanged"' in err and '"checked": "published"' in err
        code, _, err, docker = run_cli([*argv, "--build-arg", "X=1"], tmp_path, FakeDocker(), capsys=capsys)
        assert '"event": "build.changed"' in err and docker.runs[0][:3] == ("docker", "buildx", "build")
