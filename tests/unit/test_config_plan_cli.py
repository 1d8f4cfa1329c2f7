from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from buildx_go.cli import main as cli
from buildx_go.cli.effects import Effects
from buildx_go.config import load_config_file, resolve
from buildx_go.engine.builder import BuilderCaps
from buildx_go.errors import InputError
from buildx_go.seams import LocalFiles
from tests.unit.planning import HELLO, FakeDocker, decide_for, plan_for, preflight


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
    assert s.sources["base_image"] == ".buildx-go.toml base-image"
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
    assert load_config_file(tmp_path, LocalFiles()) == {"base_image": "x", "platform": ["linux/amd64"]}
    (tmp_path / ".buildx-go.toml").write_text("colour = 1\n")
    with pytest.raises(InputError, match="unknown setting 'colour'"):
        load_config_file(tmp_path, LocalFiles())


def hello_plan(**kw: Any) -> Any:
    given = {"image": "localhost:5000/hello", "tag": ["1.2.3"], "push": True, "strategy": "buildx", **kw}
    return plan_for(given, git={"revision": "abc"})


def test_plan_is_one_buildx_run_with_every_platform() -> None:
    plan = hello_plan(platform=["linux/amd64,linux/arm64,linux/arm/v7"], network="host")
    assert plan.strategy == "buildx"
    build, publish = plan.commands
    argv = list(build.argv)
    assert argv[:3] == ["docker", "buildx", "build"]
    assert argv[argv.index("--platform") + 1] == "linux/amd64,linux/arm64,linux/arm/v7"
    assert argv[argv.index("--file") + 1] == "/w/Dockerfile"
    # this builder cannot push by digest: it pushes a staging tag, the version tag waits for verification
    assert argv[argv.index("--tag") + 1] == "localhost:5000/hello:buildx-go-staging" and argv.count("--tag") == 1
    assert publish.phase == "publish" and publish.argv[-3:] == (
        "--tag",
        "localhost:5000/hello:1.2.3",
        "localhost:5000/hello:1.2.3@{digest}",
    )
    assert "org.opencontainers.image.revision=abc" in argv
    output = "type=registry,compression=zstd,compression-level=1,oci-mediatypes=true"
    assert argv[argv.index("--output") + 1] == output and argv[-1] == str(HELLO)
    assert plan.verify and not plan.push_by_digest and plan.staging == "localhost:5000/hello:buildx-go-staging"
    assert any(n.startswith("pushed as localhost:5000/hello:buildx-go-staging") for n in plan.notes)


def test_zstd_only_with_oci_media_types() -> None:
    from buildx_go.planning.argv import registry_output

    for direct in (False, True):
        assert registry_output("zstd", direct).endswith(",compression=zstd,compression-level=1,oci-mediatypes=true")
        assert "oci-mediatypes" not in registry_output("gzip", direct)


def test_a_builder_that_pushes_by_digest_tags_only_after_verification() -> None:
    given = {"image": "localhost:5000/hello", "tag": ["1.2.3", "stable"], "push": True, "latest": True}
    remote = preflight("remote")
    assert remote.caps() == BuilderCaps(push_by_digest=True, cache_export=True)
    plan = plan_for(given, builder=remote, existing=())
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
    no_verify = plan_for({**given, "verify": False}, builder=remote, existing=())
    assert not no_verify.push_by_digest and "--tag" in no_verify.commands[0].argv  # nothing to wait for
    docker = plan_for(given, builder=preflight("docker"), existing=())
    assert not docker.push_by_digest and docker.staging == "localhost:5000/hello:buildx-go-staging"
    assert [c.phase for c in docker.commands] == ["build", "publish", "promote"]
    assert docker.commands[0].argv.count("--tag") == 1 and docker.commands[1].argv == publish.argv


@pytest.mark.parametrize("exporting", [True, False])
def test_registry_cache_imports_and_exports_where_the_builder_can(exporting: bool) -> None:
    given = {
        "image": "localhost:5000/hello",
        "tag": ["1"],
        "push": True,
        "cache": "registry",
        "cache_from": ["type=gha"],
    }
    builder = preflight("docker", containerd_store=exporting)  # the classic store cannot export
    strategies = (("buildx", "buildcache"), ("manifest", "buildcache-arm64"))
    for strategy, ref in strategies if exporting else strategies[1:]:  # classic: manifest only
        plan = plan_for({**given, "strategy": strategy}, builder=builder)
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
    from buildx_go.planning.argv import registry_output

    assert registry_output("gzip", direct_push=True) == "type=image,push=,store=false,compression=gzip"
    given = {"image": "localhost:5000/hello", "tag": ["1.2.3"], "push": True}
    assert preflight("docker").caps().direct_push
    for strategy in ("buildx", "manifest"):
        plan = plan_for({**given, "strategy": strategy}, builder=preflight("docker"))
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
        "mains",
        "adaptations",
        "commands",
        "verify",
        "moving_tags",
        "arch_refs",
        "clean_tags",
        "pin_base",
        "push_by_digest",
        "staging",
        "placement",
        "notes",
        "inputs",
        "inputs_not_recorded",
    ]
    assert d["schema"] == 1
    json.dumps(d)


def test_plan_needs_image_and_tag() -> None:
    with pytest.raises(InputError, match="--image"):
        decide_for({"strategy": "buildx"})
    with pytest.raises(InputError, match="--tag"):
        decide_for({"image": "r/app", "strategy": "buildx"})
    with pytest.raises(InputError, match="without :tag"):
        decide_for({"image": "r/app:1", "strategy": "buildx"}, version="1")
    with pytest.raises(InputError, match=r"the version 'latest;rm' .* is not a valid tag"):
        decide_for({"image": "r/app", "strategy": "buildx"}, version="latest;rm")


def test_dry_run_prints_commands_and_runs_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Every effect is the test's own: docker answers its probes with captured output and
    # must run nothing; git says "not a repository".
    docker = FakeDocker("containerd")
    effects = Effects(docker=lambda env: docker, git=lambda argv, cwd, timeout: (128, "", "not a repo"))
    code = cli.main(
        [
            *("--log-format", "json", "build", str(HELLO), "--image", "localhost:5000/hello"),
            *("--tag", "1.0.0", "--push", "--dry-run", "--strategy", "buildx"),
        ],
        env={"BUILDX_GO_WORKDIR": "/tmp/w", "HOME": str(tmp_path)},
        effects=effects,
    )
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("docker buildx build --platform linux/amd64,linux/arm64 --file /tmp/w/Dockerfile ")
    assert out.count("\n") == 2 and out.splitlines()[1].startswith("docker buildx imagetools create --tag ")
    assert docker.runs == []  # facts only: docker info, buildx ls, buildx inspect (the current builder)
    probes = sorted(p[1:3] for p in docker.probes)
    assert probes == [["buildx", "inspect"], ["buildx", "ls"], ["info", "--format"], ["network", "ls"]]


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
    from buildx_go.planning.argv import context_ignore

    assert context_ignore(None, include_git=False).splitlines()[1:] == [".git"]
    assert context_ignore("bin/\n*.test", include_git=False).splitlines()[1:] == ["bin/", "*.test", ".git"]
    assert ".git" not in context_ignore("bin/\n", include_git=True).splitlines()
    assert context_ignore("*\n!.git\n", include_git=False).splitlines()[1:] == ["*", "!.git"]  # the project's call


def test_every_dockerfile_is_written_beside_its_ignore_file() -> None:
    plan = hello_plan()
    assert plan.dockerfile.path is not None and plan.dockerfile.path.endswith("/Dockerfile")
    assert plan.dockerignore is not None and plan.dockerignore.endswith(".git\n")


def _build_args(argv: tuple[str, ...]) -> dict[str, str]:
    return dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "--build-arg")


USER_DOCKERFILE = """\
FROM --platform=$BUILDPLATFORM golang:1.22 AS build
ARG TARGETOS TARGETARCH VERSION BIN_NAME=app
RUN GOOS=$TARGETOS GOARCH=$TARGETARCH go build -ldflags "-X main.version=$VERSION" -o /out/$BIN_NAME .
FROM scratch
COPY --from=build /out/ /
"""


def test_build_args_reach_every_strategy_and_version_follows_arg_version() -> None:
    given = {"image": "localhost:5000/hello", "tag": ["1.2.3"], "push": True}
    extra = {"build_arg": ["BIN_NAME=svc", "GIT_COMMIT=abc,def with space"]}
    for strategy in ("buildx", "manifest"):
        plan = plan_for({**given, **extra, "strategy": strategy}, dockerfile=USER_DOCKERFILE)
        builds = [c.argv for c in plan.commands if c.purpose.startswith("build")]
        assert builds and all(
            _build_args(a) == {"VERSION": "1.2.3", "BIN_NAME": "svc", "GIT_COMMIT": "abc,def with space"}
            for a in builds
        ), strategy
    # a user's --build-arg VERSION wins over the version
    plan = plan_for({**given, "strategy": "buildx", "build_arg": ["VERSION=custom"]}, dockerfile=USER_DOCKERFILE)
    assert _build_args(plan.commands[0].argv)["VERSION"] == "custom"
    # a Dockerfile without ARG VERSION gets no VERSION (buildx would warn of an unused arg)
    plain = USER_DOCKERFILE.replace(" VERSION", "")
    plan = plan_for({**given, "strategy": "buildx"}, dockerfile=plain)
    assert "VERSION" not in _build_args(plan.commands[0].argv)


def test_a_committed_generated_dockerfile_keeps_the_version() -> None:
    generated = plan_for(
        {"image": "r/x", "tag": ["2.0.0"], "version_var": "main.version", "strategy": "buildx"}
    ).dockerfile.text
    plan = plan_for({"image": "r/x", "tag": ["2.0.0"], "strategy": "buildx"}, dockerfile=generated)
    assert _build_args(plan.commands[0].argv) == {"VERSION": "2.0.0"}


def test_go_build_tags_reach_the_generated_dockerfile_and_the_host_compile() -> None:
    plan = plan_for({"image": "r/x", "tag": ["1"], "tags": ["journald,netgo"], "strategy": "buildx"})
    assert "go build -trimpath -tags=journald,netgo " in plan.dockerfile.text
    from buildx_go.planning.hostgo import compile_argv
    from buildx_go.project.gomod import MainPackage

    argv = compile_argv("go", (MainPackage(".", "x"),), "/o", None, None, ("journald",))
    assert argv[:4] == ("go", "build", "-trimpath", "-tags=journald")


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"tags": ["journald,bad tag"]}, "--tags: 'bad tag' is not a Go build tag"),
        ({"tags": ["a;b"]}, "--tags: 'a;b' is not a Go build tag"),
        ({"build_arg": ["NOVALUE"]}, "--build-arg: 'NOVALUE' is not KEY=VALUE"),
        ({"build_arg": ["1X=2"]}, "--build-arg: '1X' is not KEY=VALUE"),
        ({"build_arg": ["X=a\nRUN id"]}, "--build-arg: X: the value holds a newline"),
    ],
)
def test_tags_and_build_args_are_checked(given: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        resolve(given, {}, {})


def test_build_args_from_the_environment_and_the_config_file() -> None:
    s = resolve({}, {"BUILDX_GO_BUILD_ARG": "A=1,2\nB=x y\n"}, {})
    assert s.build_args() == {"A": "1,2", "B": "x y"}
    s = resolve({}, {}, {"build_arg": {"VERSION": "1", "BIN": "svc"}})
    assert s.build_args() == {"VERSION": "1", "BIN": "svc"}
    with pytest.raises(InputError, match="build-arg"):
        resolve({}, {}, {"build_arg": {"X": 1}})


def test_generate_chooses_the_generated_dockerfile_and_ignored_flags_are_noted() -> None:
    given = {"image": "r/x", "tag": ["1"], "strategy": "buildx", "go_image": "localhost:5000/golang:1.27"}
    given |= {"version_var": "main.version", "main": ["."]}
    plan = plan_for(given, dockerfile=USER_DOCKERFILE)
    assert plan.dockerfile.source == "user"
    ignored = [n for n in plan.notes if "ignored, the project's own Dockerfile" in n]
    assert [n.split(":", 1)[0] for n in ignored] == ["--main", "--go-image", "--version-var"]
    assert "the version reaches it as the build arg VERSION;" not in " ".join(ignored)
    assert any(n.endswith("the version reaches it as the build arg VERSION") for n in ignored)
    plan = plan_for({**given, "generate": True}, dockerfile=USER_DOCKERFILE)
    assert plan.dockerfile.source == "generated"
    assert "FROM --platform=$BUILDPLATFORM localhost:5000/golang:1.27 AS build" in plan.dockerfile.text
    assert not [n for n in plan.notes if "ignored" in n]


def test_an_engine_without_a_bridge_network_gets_host_networking_and_a_note() -> None:
    import attrs

    given = {"image": "r/x", "tag": ["1"], "strategy": "buildx"}
    plain = preflight("docker")
    no_bridge = attrs.evolve(plain, engine=attrs.evolve(plain.engine, bridge=False))
    plan = plan_for(given, builder=no_bridge)
    argv = plan.commands[0].argv
    assert argv[argv.index("--network") + 1] == "host"
    assert any(n.startswith("the engine has no bridge network: RUN steps use the host network") for n in plan.notes)
    explicit = plan_for({**given, "network": "default"}, builder=no_bridge)
    assert explicit.commands[0].argv[explicit.commands[0].argv.index("--network") + 1] == "default"
    assert not any("no bridge network" in n for n in explicit.notes)
    with_bridge = plan_for(given, builder=attrs.evolve(plain, engine=attrs.evolve(plain.engine, bridge=True)))
    assert "--network" not in with_bridge.commands[0].argv
    container = preflight("docker-container")
    container = attrs.evolve(container, engine=attrs.evolve(container.engine, bridge=False))
    assert "--network" not in plan_for(given, builder=container).commands[0].argv  # BuildKit's own networking


def test_private_modules_secret_ssh_and_goprivate() -> None:
    given = {"image": "r/x", "tag": ["1"], "strategy": "buildx", "goprivate": "git.corp.example/*,github.com/org/*"}
    given |= {"secret": ["id=netrc,src=/dev/null"], "ssh": ["default"]}
    plan = plan_for(given)
    text = plan.dockerfile.text
    assert "ARG GOPROXY GONOSUMDB GOFLAGS\nENV GOPRIVATE=git.corp.example/*,github.com/org/*\n" in text
    assert 'RUN git config --global url."ssh://git@github.com/".insteadOf "https://github.com/"' in text
    assert (
        "RUN --mount=type=cache,target=/go/pkg/mod --mount=type=secret,id=netrc,target=/root/.netrc "
        "--mount=type=ssh go mod download" in text
    )
    argv = plan.commands[0].argv
    assert argv[argv.index("--secret") + 1] == "id=netrc,src=/dev/null"
    assert argv[argv.index("--ssh") + 1] == "default"
    plain = plan_for({"image": "r/x", "tag": ["1"], "strategy": "buildx"}).dockerfile.text
    assert "GOPRIVATE" not in plain and "type=secret" not in plain


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"secret": ["src=/x"]}, "--secret: 'src=/x' is not id=NAME"),
        ({"secret": ["id=netrc,file=/x"]}, "--secret: netrc: unknown key 'file'"),
        ({"ssh": ["default with space"]}, "--ssh: 'default with space' is not default or ID=PATH"),
        ({"goprivate": "github.com/org/*;rm"}, "--goprivate: 'github.com/org/*;rm' is not a comma-separated"),
    ],
)
def test_secret_ssh_goprivate_are_checked(given: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        resolve(given, {}, {})


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["build", ".", "--pus"], "unrecognized arguments: --pus (did you mean --push?)"),
        (["build", ".", "--dry"], "unrecognized arguments: --dry (did you mean --dry-run?)"),
        (["build", ".", "--imgae", "r/x"], "(did you mean --image?)"),
        (["biuld", "."], "invalid choice: 'biuld'"),
        (["biuld", "."], "(did you mean build?)"),
        (
            ["build", ".", "--version", "1.2.3"],
            "(the image's version is --tag; buildx-go's own is `buildx-go --version`)",
        ),
    ],
)
def test_options_are_spelt_out_and_typos_get_a_suggestion(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv, env={})
    assert exit_.value.code == 2 and said in capsys.readouterr().err


def test_completion_offers_every_choice_options_values() -> None:
    from buildx_go.cli.completion import script

    bash = script("bash", cli.parser())
    assert "--strategy) COMPREPLY=($(compgen -W 'auto buildx manifest host' -- \"$cur\"))" in bash
    assert "--progress) COMPREPLY=($(compgen -W 'auto plain tty quiet rawjson' -- \"$cur\"))" in bash
    assert "'--strategy[" in script("zsh", cli.parser()) and ":value:(auto buildx manifest host)'" in script(
        "zsh", cli.parser()
    )
    assert "-l strategy -xa 'auto buildx manifest host'" in script("fish", cli.parser())
