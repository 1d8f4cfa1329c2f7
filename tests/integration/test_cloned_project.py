"""A cloned project cannot act through buildx-go, with the real git and the real engine: its
.git/config starts no program, a directory name is no command in the build."""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import BASE_IMAGE, GO_IMAGE, ROOT, buildx_go, events

pytestmark = pytest.mark.integration
HELLO = ROOT / "examples" / "hello"


def hostile_repository(tmp_path: Path) -> tuple[Path, Path]:
    """examples/hello in a git repository with a signed commit whose .git/config names a
    program (EVIL, which leaves a mark in MARKS) for everything git could start."""
    marks = tmp_path / "marks"
    marks.mkdir()
    evil = tmp_path / "evil"
    evil.write_text(f'#!/bin/sh\ntouch "{marks}/$(basename "$0")-$$"\ncat >/dev/null 2>&1 &\nexit 0\n')
    evil.chmod(0o755)
    signer = tmp_path / "signer"  # signs the commit (git needs a SIG_CREATED status line)
    signer.write_text(
        "#!/bin/sh\ncat >/dev/null\nprintf '\\n[GNUPG:] SIG_CREATED D 1 8 00 1 X\\n' >&2\n"
        "printf -- '-----BEGIN PGP SIGNATURE-----\\n\\nx\\n-----END PGP SIGNATURE-----\\n'\n"
    )
    signer.chmod(0o755)
    project = tmp_path / "project"
    shutil.copytree(HELLO, project)
    env = {**os.environ, "GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "a"}
    env["GIT_COMMITTER_EMAIL"] = "a@x"

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(project), *args], check=True, capture_output=True, env=env)

    git("init", "-q")
    git("add", ".")
    git("-c", f"gpg.program={signer}", "commit", "-q", "-S", "-m", "signed")
    git("tag", "v1.2.3")
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    for hook in ("post-checkout", "pre-commit", "post-index-change", "reference-transaction"):
        shutil.copy(evil, hooks / hook)
    with open(project / ".git" / "config", "a") as f:
        f.write(
            f'[log]\n\tshowSignature = true\n[gpg]\n\tprogram = {evil}\n[gpg "ssh"]\n\tprogram = {evil}\n'
            f"[core]\n\tfsmonitor = {evil}\n\tpager = {evil}\n\tsshCommand = {evil}\n\thooksPath = {hooks}\n"
            f'[diff]\n\texternal = {evil}\n[remote "origin"]\n\turl = https://user:tok3n@example.com/o/r.git\n'
        )
    return project, marks


def test_the_hostile_config_would_start_a_program(tmp_path: Path) -> None:
    """The attack is real: plain `git log -1` in that repository runs the configured program."""
    project, marks = hostile_repository(tmp_path)
    subprocess.run(["git", "-C", str(project), "log", "-1", "--format=%cI"], capture_output=True, check=False)
    assert list(marks.iterdir())


@pytest.mark.parametrize("command", [("plan",), ("dockerfile",), ("build", "--dry-run")])
def test_git_starts_nothing_the_project_names(tmp_path: Path, command: tuple[str, ...]) -> None:
    project, marks = hostile_repository(tmp_path)
    images = ("--go-image", GO_IMAGE, "--base-image", BASE_IMAGE)
    proc = buildx_go(*command[:1], str(project), "--image", "localhost:5000/x", *command[1:], *images)
    assert list(marks.iterdir()) == []
    if command[0] != "dockerfile":  # git still answered: the version is the tag
        assert "localhost:5000/x:1.2.3" in proc.stdout
        assert "tok3n" not in proc.stdout + proc.stderr


@pytest.fixture
def listener() -> Iterator[tuple[int, list[str]]]:
    """A local HTTP server that records every request it gets."""
    got: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            got.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], got
    server.shutdown()


def test_a_directory_name_is_no_command_in_the_build(
    tmp_path: Path, listener: tuple[int, list[str]], repo: str
) -> None:
    port, got = listener
    project = tmp_path / "project"
    shutil.copytree(HELLO, project)
    hostile = project / "cmd" / f"$(wget -qO- 127.0.0.1:{port}/pwned)"
    hostile.mkdir(parents=True)
    shutil.move(project / "main.go", hostile / "main.go")
    proc = buildx_go(
        "build", str(project), "--image", repo, "--tag", "1", "--push", "--go-image", GO_IMAGE,
        "--base-image", BASE_IMAGE, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "its directory name holds characters go does not allow" in proc.stderr
    assert not any(e["event"] == "command.start" for e in events(proc.stderr))
    assert got == []


@pytest.mark.parametrize(
    ("helper", "said"),
    [
        ("#!/bin/sh\necho boom >&2\nexit 3\n", "docker-credential-bxgbad failed (exit 3)"),
        ("#!/bin/sh\ncat >/dev/null\necho 'not json'\n", "its answer for localhost:5000 is not JSON"),
        ("#!/bin/sh\nexec sleep 60\n", "docker-credential-bxgbad did not answer within 2 s"),
        (None, "docker-credential-bxgbad is not on PATH"),
    ],
    ids=["crashes", "garbage", "hangs", "missing"],
)
def test_a_broken_credential_helper_is_exit_5_before_anything_is_built(
    tmp_path: Path, repo: str, helper: str | None, said: str
) -> None:
    import json
    import time

    config = tmp_path / "docker"
    config.mkdir()
    (config / "config.json").write_text(json.dumps({"credHelpers": {"localhost:5000": "bxgbad"}}))
    bindir = tmp_path / "bin"
    bindir.mkdir()
    if helper is not None:
        (bindir / "docker-credential-bxgbad").write_text(helper)
        (bindir / "docker-credential-bxgbad").chmod(0o755)
    env = {"DOCKER_CONFIG": str(config), "PATH": f"{bindir}:{os.environ['PATH']}"}
    t0 = time.monotonic()
    proc = buildx_go(
        "build", str(HELLO), "--image", repo, "--tag", "1", "--push", "--go-image", GO_IMAGE, "--base-image",
        BASE_IMAGE, "--credential-helper-timeout", "2", env=env, check=False,
    )  # fmt: skip
    assert proc.returncode == 5, proc.stderr[-2000:]
    assert said in proc.stderr
    assert not any(e["event"] == "command.start" for e in events(proc.stderr))
    assert time.monotonic() - t0 < 30
