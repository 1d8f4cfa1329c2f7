from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest
from packaging.version import Version

from buildx_go import cli
from buildx_go.builder import Builder, BuilderCaps, Engine, Preflight
from buildx_go.config import load_config_file, resolve
from buildx_go.errors import InputError
from buildx_go.gomod import GoProject
from buildx_go.plan import DockerfileChoice, make_plan

HELLO = Path(__file__).parents[2] / "examples" / "hello"


def cli_given(**kw: Any) -> dict[str, Any]:
    return kw


def test_cli_beats_env_beats_file_beats_default() -> None:
    s = resolve(
        cli_given(platform=["linux/arm64"]),
        {"BUILDX_GO_PLATFORM": "linux/386", "BUILDX_GO_IMAGE": "env/img"},
        {"image": "file/img", "base_image": "file-base", "platform": "linux/s390x"},
    )
    assert [str(p) for p in s.platform] == ["linux/arm64"]
    assert s.image == "env/img"
    assert s.base_image == "file-base"
    assert s.progress == "auto"
    assert s.sources["platform"] == "--platform"
    assert s.sources["image"] == "BUILDX_GO_IMAGE"
    assert s.sources["base_image"] == ".buildx-go.toml"
    assert s.sources["progress"] == "default"


@pytest.mark.parametrize(
    ("cli_vals", "env", "fragment"),
    [
        ({"platform": ["linux/mips"]}, {}, "--platform: 'linux/mips'"),
        ({}, {"BUILDX_GO_PLATFORM": "linux/mips"}, "BUILDX_GO_PLATFORM: 'linux/mips'"),
        ({}, {"BUILDX_GO_PUSH": "maybe"}, "BUILDX_GO_PUSH: not a boolean"),
        ({}, {"BUILDX_GO_LOG_FORMAT": "xml"}, "BUILDX_GO_LOG_FORMAT: 'xml' is not one of"),
        ({"tag": ["-bad"]}, {}, "--tag: '-bad'"),
        ({"push": True, "load": True}, {}, "--push and --load"),
        ({"load": True}, {}, "--load: a multi-platform image"),
    ],
)
def test_bad_settings_name_the_field(cli_vals: dict[str, Any], env: dict[str, str], fragment: str) -> None:
    with pytest.raises(InputError) as err:
        resolve(cli_vals, env, {})
    assert fragment in err.value.message
    assert err.value.exit_code == 2


def test_config_file(tmp_path: Path) -> None:
    (tmp_path / ".buildx-go.toml").write_text('[build]\nbase-image = "x"\nplatform = ["linux/amd64"]\n')
    assert load_config_file(tmp_path) == {"base_image": "x", "platform": ["linux/amd64"]}
    (tmp_path / ".buildx-go.toml").write_text("colour = 1\n")
    with pytest.raises(InputError, match="unknown setting 'colour'"):
        load_config_file(tmp_path)


def hello_plan(**kw: Any) -> Any:
    settings = resolve({"image": "localhost:5000/hello", "tag": ["1.2.3"], "push": True, **kw}, {}, {})
    choice = DockerfileChoice("generated", None, "generated", "FROM x\n")
    return make_plan(GoProject.detect(HELLO), settings, choice, version=None, git={"revision": "abc"}, workdir="/w")


def test_plan_is_one_buildx_run_with_every_platform() -> None:
    plan = hello_plan(platform=["linux/amd64,linux/arm64,linux/arm/v7"], network="host")
    assert plan.strategy == "buildx"
    (build,) = plan.commands
    argv = list(build.argv)
    assert argv[:3] == ["docker", "buildx", "build"]
    assert argv[argv.index("--platform") + 1] == "linux/amd64,linux/arm64,linux/arm/v7"
    assert argv[argv.index("--file") + 1] == "/w/Dockerfile"
    assert argv[argv.index("--tag") + 1] == "localhost:5000/hello:1.2.3"
    assert "org.opencontainers.image.revision=abc" in argv
    output = "type=registry,compression=zstd,compression-level=1,oci-mediatypes=true"
    assert argv[argv.index("--output") + 1] == output and argv[-1] == str(HELLO)
    assert plan.verify and not plan.push_by_digest
    assert any("written by the build before verification" in n for n in plan.notes)


def test_zstd_only_with_oci_media_types() -> None:
    from buildx_go.plan import registry_output

    for direct in (False, True):
        assert registry_output("zstd", direct).endswith(",compression=zstd,compression-level=1,oci-mediatypes=true")
        assert "oci-mediatypes" not in registry_output("gzip", direct)


def test_a_builder_that_pushes_by_digest_tags_only_after_verification() -> None:
    settings = resolve(
        {"image": "localhost:5000/hello", "tag": ["1.2.3", "stable"], "push": True, "latest": True}, {}, {}
    )
    choice = DockerfileChoice("generated", None, "generated", "FROM x\n")
    plan = make_plan(
        GoProject.detect(HELLO),
        settings,
        choice,
        version=None,
        git={},
        workdir="/w",
        caps=BuilderCaps(push_by_digest=True, cache_export=True),
        existing_tags=[],
    )
    build, publish, promote = plan.commands
    assert plan.push_by_digest and "--tag" not in build.argv
    assert build.argv[build.argv.index("--output") + 1].startswith(
        "type=image,name=localhost:5000/hello,push-by-digest=true,push=true,compression=zstd"
    )
    assert (publish.phase, promote.phase) == ("publish", "promote")
    assert publish.shell() == (
        "docker buildx imagetools create --tag localhost:5000/hello:1.2.3 --tag localhost:5000/hello:stable "
        "'localhost:5000/hello:1.2.3@{digest}'"
    )
    assert promote.argv[-3:] == ("--tag", "localhost:5000/hello:latest", "localhost:5000/hello:1.2.3@{digest}")
    no_verify = make_plan(
        GoProject.detect(HELLO),
        attrs.evolve(settings, verify=False),
        choice,
        version=None,
        git={},
        workdir="/w",
        caps=BuilderCaps(push_by_digest=True),
    )
    assert not no_verify.push_by_digest and "--tag" in no_verify.commands[0].argv  # nothing to wait for


@pytest.mark.parametrize("exporting", [True, False])
def test_registry_cache_imports_and_exports_where_the_builder_can(exporting: bool) -> None:
    settings = resolve(
        {"image": "localhost:5000/hello", "tag": ["1"], "push": True, "cache": "registry", "cache_from": ["type=gha"]},
        {},
        {},
    )
    caps = BuilderCaps(cache_export=exporting)
    choice = DockerfileChoice("generated", None, "generated", "FROM x\n")
    for strategy, ref in ((("buildx", "t"), "buildcache"), (("manifest", "t"), "buildcache-arm64")):
        plan = make_plan(
            GoProject.detect(HELLO), settings, choice, version=None, git={}, workdir="/w", strategy=strategy, caps=caps
        )
        argv = next(c.argv for c in plan.commands if c.purpose.startswith("build") and "arm64" in " ".join(c.argv))
        pairs = [(a, argv[i + 1]) for i, a in enumerate(argv) if a in ("--cache-from", "--cache-to")]
        want = [("--cache-from", f"type=registry,ref=localhost:5000/hello:{ref}"), ("--cache-from", "type=gha")]
        if exporting:
            want.insert(
                1,
                (
                    "--cache-to",
                    f"type=registry,ref=localhost:5000/hello:{ref},mode=max,oci-mediatypes=true,image-manifest=true",
                ),
            )
        assert pairs == want
        assert any(n.startswith("--cache registry: imported") for n in plan.notes) is not exporting


def test_one_push_on_a_containerd_store_docker_driver() -> None:
    from buildx_go.plan import registry_output

    assert registry_output("gzip", direct_push=True) == "type=image,push=,store=false,compression=gzip"
    settings = resolve({"image": "localhost:5000/hello", "tag": ["1.2.3"], "push": True}, {}, {})
    choice = DockerfileChoice("generated", None, "generated", "")
    for strategy in (("buildx", "test"), ("manifest", "test")):
        plan = make_plan(
            GoProject.detect(HELLO),
            settings,
            choice,
            version=None,
            git={},
            workdir="/w",
            strategy=strategy,
            caps=BuilderCaps(direct_push=True),
        )
        for build in (c for c in plan.commands if c.phase == "build"):
            assert build.argv[build.argv.index("--output") + 1].startswith("type=image,push=,store=false,")


def test_plan_json_is_stable() -> None:
    d = hello_plan().to_dict()
    assert list(d) == [
        "schema",
        "strategy",
        "packaging",
        "reason",
        "project",
        "module",
        "platforms",
        "refs",
        "dockerfile",
        "commands",
        "verify",
        "moving_tags",
        "arch_refs",
        "clean_tags",
        "pin_base",
        "push_by_digest",
        "notes",
    ]
    assert d["schema"] == 1
    json.dumps(d)


def test_plan_needs_image_and_tag() -> None:
    settings = resolve({}, {}, {})
    choice = DockerfileChoice("generated", None, "generated", "")
    with pytest.raises(InputError, match="--image"):
        make_plan(GoProject.detect(HELLO), settings, choice, version=None, git={}, workdir="/w")
    settings = resolve({"image": "r/app"}, {}, {})
    with pytest.raises(InputError, match="--tag"):
        make_plan(GoProject.detect(HELLO), settings, choice, version=None, git={}, workdir="/w")
    with pytest.raises(InputError, match="without tag"):
        make_plan(
            GoProject.detect(HELLO), resolve({"image": "r/app:1"}, {}, {}), choice, version="1", git={}, workdir="/w"
        )


def test_dry_run_prints_commands_and_runs_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # git facts and builder facts would start processes: the autouse fixture turns that into a
    # failure, so stub them (a containerd-store docker driver, buildx 0.13).
    monkeypatch.setattr("buildx_go.gitinfo.git_facts", lambda root: {})
    builder = Builder("default", "docker", "running", ("linux/amd64",), current=True)
    engine = Engine("unix:///x", server=Version("26.1"), arch="amd64", containerd_store=True)
    pre = Preflight(engine, Version("0.13.1"), None, (builder,), None, ())
    monkeypatch.setattr("buildx_go.cli.facts_and_builder", lambda *a, **kw: (None, pre))
    code = cli.main(
        [
            "--log-format",
            "json",
            "build",
            str(HELLO),
            "--image",
            "localhost:5000/hello",
            "--tag",
            "1.0.0",
            "--push",
            "--dry-run",
            "--strategy",
            "buildx",
        ],
        env={"BUILDX_GO_WORKDIR": "/tmp/w"},
    )
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("docker buildx build --platform linux/amd64,linux/arm64 --file /tmp/w/Dockerfile ")
    assert out.count("\n") == 1


def test_bad_input_exit_code_and_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["--log-format", "json", "build", str(HELLO), "--platform", "linux/mips", "--dry-run"], env={})
    err = capsys.readouterr().err
    assert code == 2
    assert "ERROR --platform: 'linux/mips': unknown architecture 'mips'" in err


def test_missing_gomod_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["--log-format", "json", "plan", str(tmp_path), "--image", "r/a", "--tag", "1"], env={})
    assert code == 2
    assert "ERROR PATH: no go.mod in" in capsys.readouterr().err


def test_context_ignore_keeps_the_projects_rules_and_leaves_out_git() -> None:
    from buildx_go.plan import context_ignore

    assert context_ignore(None, include_git=False).splitlines()[1:] == [".git"]
    assert context_ignore("bin/\n*.test", include_git=False).splitlines()[1:] == ["bin/", "*.test", ".git"]
    assert ".git" not in context_ignore("bin/\n", include_git=True).splitlines()
    assert context_ignore("*\n!.git\n", include_git=False).splitlines()[1:] == ["*", "!.git"]  # the project's call


def test_every_dockerfile_is_written_beside_its_ignore_file() -> None:
    plan = hello_plan()
    assert plan.dockerfile.path is not None and plan.dockerfile.path.endswith("/Dockerfile")
    assert plan.dockerignore is not None and plan.dockerignore.endswith(".git\n")
