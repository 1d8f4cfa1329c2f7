"""A project just cloned cannot act through buildx-go: names it holds never reach a Dockerfile
unquoted, its writes stay inside it, its git configuration starts no program, and what it
or its user passes as a secret is never printed. Each test makes the attack first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from buildx_go.cli import main as cli
from buildx_go.cli.effects import Effects
from buildx_go.errors import InputError
from buildx_go.project.gomod import GoProject, exec_name
from tests.unit.planning import FakeDocker, decide_for

HOSTILE_NAMES = [
    "$(wget -qO- 127.0.0.1:9)",
    "`id`",
    "a'b",
    'a"b',
    "a b",
    "line\nRUN touch /pwned",
    "caf\u00e9",
    "x;id",
    "$HOME",
    "*",
]


def hostile_project(root: Path, name: str, with_clean: bool = False) -> Path:
    (root / "go.mod").write_text("module example.com/app\n\ngo 1.22\n")
    (root / "cmd" / name).mkdir(parents=True)
    (root / "cmd" / name / "main.go").write_text("package main\n\nfunc main() {}\n")
    if with_clean:
        (root / "cmd" / "ok").mkdir()
        (root / "cmd" / "ok" / "main.go").write_text("package main\n\nfunc main() {}\n")
    return root


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
def test_a_main_package_directory_name_never_reaches_a_dockerfile(tmp_path: Path, name: str) -> None:
    root = hostile_project(tmp_path, name)
    given = {"image": "r/x", "tag": ["1"], "strategy": "buildx"}
    with pytest.raises(InputError, match="its directory name holds characters go does not allow") as err:
        decide_for(given, root=root)
    assert err.value.exit_code == 2
    # the project's other main is built, and the hostile directory is nowhere in the file
    (tmp_path / "two").mkdir()
    other = hostile_project(tmp_path / "two", name, with_clean=True)
    text = decide_for({**given, "main": ["./cmd/ok"]}, root=other).dockerfile.text
    assert f"cmd/{name}" not in text and "./cmd/ok" in text


def test_the_generated_build_line_quotes_what_it_names() -> None:
    from buildx_go.dockerfile.generate import GenerateOptions, generate_dockerfile
    from buildx_go.project.gomod import MainPackage

    text = generate_dockerfile(
        GenerateOptions("golang:1.22", "scratch", (MainPackage("./cmd/a+b", "a+b"),), "ex.com/m")
    )
    assert "-o /out/ ./cmd/a+b\n" in text  # a name go allows needs no quotes; shlex quotes any other
    with pytest.raises(InputError, match="go.mod: module path"):
        generate_dockerfile(GenerateOptions("golang:1.22", "scratch", (MainPackage(".", "m"),), "ex.com/m\nRUN x"))


def test_binaries_are_named_as_go_names_them() -> None:
    assert exec_name("example.com/app/v2") == "app" and exec_name("example.com/app/cmd/tool") == "tool"
    assert exec_name("example.com/v2") == "example.com"  # as cmd/go names it
    assert exec_name("example.com/app/v1") == "v1"  # only v2 and up are version suffixes


def test_the_hostile_directory_is_still_listed_so_the_error_can_name_it(tmp_path: Path) -> None:
    root = hostile_project(tmp_path, "$(id)")
    assert [m.path for m in GoProject.detect(root).mains] == ["./cmd/$(id)"]


def run(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    docker = FakeDocker()
    env = {"HOME": str(tmp_path), "BUILDX_GO_WORKDIR": str(tmp_path / "work")}
    effects = Effects(docker=lambda e: docker, git=lambda argv, cwd, timeout: (128, "", "not a repository"))
    code = cli.main(["--log-format", "json", *argv], env=env, effects=effects)
    out, err = capsys.readouterr()
    assert docker.runs == []
    return code, out, err


def test_the_cli_refuses_before_docker_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "p").mkdir()
    root = hostile_project(tmp_path / "p", "$(touch pwned)")
    code, out, err = run(["build", str(root), "--image", "localhost:5000/x", "--tag", "1", "--push"], tmp_path, capsys)
    assert code == 2 and "ERROR main package './cmd/$(touch pwned)': its directory name" in err
    assert out == "" and not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("shape", ["folder-link", "file-link", "folder-is-file", "file-is-folder", "dockerignore-link"])
def test_plan_format_bake_writes_nothing_outside_the_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], shape: str
) -> None:
    from tests.unit.planning import HELLO

    project = tmp_path / "p"
    project.mkdir()
    for f in HELLO.iterdir():
        if f.is_file():
            (project / f.name).write_bytes(f.read_bytes())
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim"
    victim.write_text("keep me\n")
    bake = project / ".buildx-go"
    if shape == "folder-link":
        bake.symlink_to(outside)
    elif shape == "folder-is-file":
        bake.write_text("a file\n")
    else:
        bake.mkdir()
        if shape == "file-link":
            (bake / "Dockerfile").symlink_to(victim)
        elif shape == "dockerignore-link":
            (bake / "Dockerfile.dockerignore").symlink_to(victim)
        else:
            (bake / "Dockerfile").mkdir()
    argv = [
        "plan",
        str(project),
        "--image",
        "localhost:5000/x",
        "--tag",
        "1",
        "--format",
        "bake",
        "--strategy",
        "buildx",
    ]
    code, _, err = run(argv, tmp_path, capsys)
    assert code == 2, err
    assert victim.read_text() == "keep me\n" and sorted(p.name for p in outside.iterdir()) == ["victim"]
    line = next(x for x in err.splitlines() if x.startswith("ERROR "))
    assert str(bake) in line and "Traceback" not in err


SECRET = "hunter2-s3cr3t"
TOKEN = "ghp_0123456789abcdefABCDEF0123456789abcd"


def secret_argv(tmp_path: Path) -> list[str]:
    from tests.unit.planning import HELLO

    return [
        str(HELLO), "--image", "localhost:5000/x", "--tag", "1", "--push", "--strategy", "buildx",
        "--build-arg", f"DB_PASS={SECRET}", "--build-arg", f"GOPROXY=https://u:{TOKEN}@proxy.example/go",
        "--build-arg", "VERSION=1.2.3", "--no-provenance",  # with provenance such args are refused (below)
    ]  # fmt: skip


def test_a_credential_in_a_build_arg_is_refused_while_provenance_would_record_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [a for a in secret_argv(tmp_path) if a != "--no-provenance"]
    code, out, err = run(["build", *argv], tmp_path, capsys)
    assert code == 2 and "ERROR --build-arg GOPROXY: its value would be recorded in the image's provenance" in err
    assert SECRET not in out + err and TOKEN not in out + err


def test_build_arg_values_are_never_printed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = secret_argv(tmp_path)
    code, plan_out, plan_err = run(["plan", *argv, "--format", "json"], tmp_path, capsys)
    assert code == 0
    shown = json.loads(plan_out)["commands"][0]["argv"]
    assert "DB_PASS=***" in shown and "GOPROXY=https://***@proxy.example/go" in shown and "VERSION=1.2.3" in shown
    code, dry_out, dry_err = run(["build", *argv, "--dry-run"], tmp_path, capsys)
    assert (code == 0 and "DB_PASS='***'" in dry_out) or "DB_PASS=***" in dry_out
    for text in (plan_out, plan_err, dry_out, dry_err):
        assert SECRET not in text and TOKEN not in text
    notes = json.loads(plan_out)["notes"]
    assert any(n.startswith("build arg DB_PASS looks like a secret") for n in notes)
    code, public_out, _ = run(["plan", *argv, "--format", "json", "--public-build-arg", "DB_PASS"], tmp_path, capsys)
    assert f"DB_PASS={SECRET}" in json.loads(public_out)["commands"][0]["argv"]


def test_a_build_logs_and_keeps_no_build_arg_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.fakeregistry import FakeRegistry
    from tests.unit.planning import FakeDocker
    from tests.unit.test_cli_flows import BuildKit

    with FakeRegistry() as reg:
        docker = FakeDocker(on_run=BuildKit(reg))
        argv = secret_argv(tmp_path)
        argv[argv.index("--image") + 1] = f"{reg.host}/app"
        env = {
            "HOME": str(tmp_path),
            "BUILDX_GO_WORKDIR": str(tmp_path / "work"),
            "XDG_CACHE_HOME": str(tmp_path / "c"),
        }
        effects = Effects(docker=lambda e: docker, git=lambda argv, cwd, timeout: (128, "", "no"))
        code = cli.main(["--log-format", "json", "--debug", "build", *argv], env=env, effects=effects)
        out, err = capsys.readouterr()
    assert code == 0, err
    started = [json.loads(x) for x in err.splitlines() if x.startswith("{") and '"command.start"' in x]
    assert started and "DB_PASS=***" in started[0]["argv"]
    assert any(f"DB_PASS={SECRET}" in r for r in docker.runs[0])  # the build itself gets the value
    for text in (out, err):
        assert SECRET not in text and TOKEN not in text
    for path in tmp_path.rglob("*"):  # the workdir (kept: BUILDX_GO_WORKDIR), caches, records
        if path.is_file():
            data = path.read_bytes()
            assert SECRET.encode() not in data and TOKEN.encode() not in data, path


def test_a_token_used_as_the_git_user_reaches_no_label(tmp_path: Path) -> None:
    from buildx_go.project.gitinfo import strip_credentials
    from tests.unit.planning import plan_for

    assert strip_credentials(f"{TOKEN}@github.com:o/r.git") == "github.com:o/r.git"
    assert strip_credentials(f"oauth2:{TOKEN}@gitlab.com:o/r.git") == "gitlab.com:o/r.git"
    assert strip_credentials("git@github.com:o/r.git") == "git@github.com:o/r.git"
    git = {"source": "github.com:o/r.git", "source_redacted": "true", "revision": "abc"}
    plan = plan_for({"image": "r/x", "tag": ["1"], "strategy": "buildx"}, git=git)
    (build,) = plan.phase("build")
    assert "org.opencontainers.image.source=github.com:o/r.git" in build.argv
    assert ("BUILDX_GIT_INFO", "false") in build.env  # buildx's own git info would carry it to the provenance


def test_a_token_given_as_the_version_command_is_not_shown(tmp_path: Path) -> None:
    from buildx_go.project.gitinfo import version_from

    with pytest.raises(InputError) as err:
        version_from(TOKEN, tmp_path, lambda argv, cwd, timeout: None)
    assert TOKEN not in err.value.message and "looks like a secret" in err.value.message
    with pytest.raises(InputError, match="'go' \\(and 2 arguments, not shown\\) could not run"):
        version_from("go run ./cmd/x", tmp_path, lambda argv, cwd, timeout: None)


@pytest.mark.parametrize(
    "spec",
    ["type=registry", "type=registry,name=r/x:1", "registry", "type=image,name=r/x:1,push=true", "type=image,push="],
)
def test_an_output_that_publishes_goes_through_verification_or_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: str
) -> None:
    from tests.unit.planning import HELLO

    argv = ["build", str(HELLO), "--image", "localhost:5000/x", "--tag", "1", "--output", spec]
    code, _, err = run(argv, tmp_path, capsys)
    assert code == 2 and "pushes to a registry around verification and tags" in err and "use --push" in err


def test_outputs_that_publish_nothing_stay_allowed() -> None:
    from buildx_go.config import publishes

    assert not any(publishes(s) for s in ("type=oci,dest=a.tar", "type=image,name=x", "type=image,push=false", "local"))
