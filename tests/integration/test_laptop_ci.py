"""Where users work. A real terminal (BuildKit's live display), the docker CLI
plugin, a bake file, the Makefile and CI examples run for real, CI log groups and summaries,
plan and --dry-run that change nothing, log formats from every source."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.examples import EXAMPLES, buildx_go_commands
from tests.integration.conftest import BASE_IMAGE, GO_IMAGE, ROOT, buildx_go, events, head_digest, run

pytestmark = pytest.mark.integration
HELLO = ROOT / "examples" / "hello"
GENERATED = ("--go-image", GO_IMAGE, "--base-image", BASE_IMAGE)
COLOUR = re.compile(r"\x1b\[[0-9;]*m")
TERMINAL_CODES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # colours, and BuildKit's cursor codes
CLASSIC_SOCK = "unix:///var/run/buildx-go-classic.sock"
BUILDKIT_IMAGE = "localhost:5000/buildkit:v0.32.2"  # scripts/setup --lab makes it


def in_terminal(argv: list[str], env: dict[str, str], timeout: float = 300) -> tuple[int, str]:
    """Run ARGV with a real pseudo-terminal as stdin, stdout and stderr; (exit code, screen)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env={**os.environ, **env}, close_fds=True)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(master)
    return proc.wait(timeout=30), b"".join(chunks).decode(errors="replace")


def terminal_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("BUILDX_GO_LOG_FORMAT", "NO_COLOR", "FORCE_COLOR")}
    return {**env, "TERM": "xterm-256color", **extra}


@pytest.mark.parametrize("no_color", [False, True])
def test_a_terminal_gets_buildkits_live_display_then_short_events(repo: str, no_color: bool) -> None:
    env = terminal_env(**({"NO_COLOR": "1"} if no_color else {}))
    argv = [sys.executable, "-m", "buildx_go", "build", str(HELLO), "--image", repo, "--tag", "1.0.0", "--push"]
    code, screen = in_terminal([*argv, *GENERATED], env)
    assert code == 0, screen[-3000:]
    assert "[+] Building" in screen  # BuildKit's own TTY display: it got a terminal
    assert "#1 [internal]" not in screen  # not the plain progress of a pipe
    # buildx-go's own lines: after BuildKit's display (which ends with its last step), short
    # present-tense lines, no reprs, at most 8, and the result last
    lines = [TERMINAL_CODES.sub("", ln).rstrip() for ln in screen.replace("\r\n", "\n").split("\n")]
    lines = [ln for ln in lines if ln]
    ours = [ln for ln in lines if re.match(r"^[a-z.]+ +\S", ln) and not ln.startswith(("#", "=>", "[+]"))]
    assert 4 <= len(ours) <= 8, ours
    assert all(len(ln) <= 100 for ln in ours), ours
    assert not [ln for ln in ours if re.search(r"\b(None|True|False)\b|\[['\d]", ln)], ours
    assert ours[0].startswith("project    example.com/hello, go 1.22")
    assert any(ln.startswith("verified   sha256:") for ln in ours) and ours[-1].startswith("published  ")
    assert lines[-1].startswith(f"{repo}:1.0.0@sha256:")  # the result, last
    assert (COLOUR.search(screen) is None) is no_color


def test_quiet_progress_prints_only_the_result(repo: str) -> None:
    argv = [sys.executable, "-m", "buildx_go", "build", str(HELLO), "--image", repo, "--tag", "1.0.0", "--push"]
    code, screen = in_terminal([*argv, *GENERATED, "--progress", "quiet"], terminal_env(NO_COLOR="1"))
    assert code == 0, screen[-3000:]
    lines = [ln for ln in screen.replace("\r\n", "\n").split("\n") if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"{repo}:1.0.0@sha256:"), lines


def test_a_failing_run_step_prints_its_error_once(tmp_path: Path, repo: str) -> None:
    project = tmp_path / "hello"
    shutil.copytree(HELLO, project)
    (project / "Dockerfile").write_text(
        f"FROM {GO_IMAGE}\nRUN echo the-step-broke >&2; exit 3\nFROM {BASE_IMAGE}\nCOPY --from=0 /etc/hostname /x\n"
    )
    argv = [sys.executable, "-m", "buildx_go", "build", str(project), "--image", repo, "--tag", "1.0.0", "--push"]
    code, screen = in_terminal([*argv, "--progress", "plain"], terminal_env(NO_COLOR="1"))
    assert code == 4, screen[-3000:]
    errors = [ln for ln in screen.splitlines() if ln.startswith("ERROR ")]
    assert len(errors) == 1 and "the-step-broke" in errors[0], errors
    assert "command.failed" not in screen and "exit_code=" not in screen


def test_the_docker_cli_plugin(tmp_path: Path, repo: str) -> None:
    config = tmp_path / "docker-config"
    config.mkdir()
    env = {"DOCKER_CONFIG": str(config)}
    link = Path(buildx_go("install-plugin", env=env).stdout.strip())
    assert link == config / "cli-plugins" / "docker-buildxgo" and link.is_symlink()
    help_text = run(["docker", "--help"], env=env).stdout
    assert re.search(r"^\s+buildxgo\*\s+Build a Go project into a verified multi-architecture image", help_text, re.M)
    for argv in (["docker", "buildxgo", "--help"], ["docker", "buildxgo"]):  # as `docker buildx` prints its help
        assert run(argv, env=env).stdout.startswith("usage: docker buildxgo "), argv
    argv = ["docker", "buildxgo", "build", str(HELLO), "--image", repo, "--tag", "1.0.0", "--push", *GENERATED]
    built = run(argv, env={**env, "BUILDX_GO_LOG_FORMAT": "json"})
    assert built.stdout.startswith(f"{repo}:1.0.0@sha256:")
    assert any(e["event"] == "verify.ok" for e in events(built.stderr))
    # Nothing changed: nothing is built (once buildx has made its state in this new
    # DOCKER_CONFIG during the first build, which changes the builder facts' stamp once).
    runs = [run(argv, env={**env, "BUILDX_GO_LOG_FORMAT": "json"}) for _ in range(2)]
    assert {"build.unchanged", "verify.ok"} <= {e["event"] for e in events(runs[1].stderr)}
    assert runs[1].stdout == runs[0].stdout  # the tag holds the digest it held
    # docker's own --context and -H reach the tool (and every docker command it runs)
    run(["docker", "context", "create", "bxg-classic", "--docker", f"host={CLASSIC_SOCK}"], env=env)
    for global_opts in (["--context", "bxg-classic"], ["-H", CLASSIC_SOCK]):
        doctor = run(["docker", *global_opts, "buildxgo", "doctor", "--format", "json"], env=env)
        assert json.loads(doctor.stdout)["engine"]["containerd_store"] is False, global_opts


def test_a_bake_file_builds_what_buildx_go_verifies(tmp_path: Path, repo: str) -> None:
    """The bake file a team commits: paths relative to the project's root (bake runs there),
    IMAGE and TAG variables (a release sets TAG), latest when asked; `TAG=... docker buildx
    bake --push` on the default builder and on a docker-container builder, each verified."""
    project = tmp_path / "hello"
    shutil.copytree(HELLO, project)
    argv = ("--image", repo, "--tag", "3.0.0", "--push", "--latest", *GENERATED)
    plan = buildx_go("plan", str(project), *argv, "--format", "bake")
    baked = json.loads(plan.stdout)
    assert baked["variable"] == {"IMAGE": {"default": repo}, "TAG": {"default": "3.0.0"}}
    assert "network" not in plan.stdout and "no network" not in plan.stderr  # this engine has a bridge
    (project / "docker-bake.json").write_text(plan.stdout)
    moved = shutil.move(project, tmp_path / "checkout")  # committed, then checked out elsewhere
    printed = json.loads(run(["docker", "buildx", "bake", "--print"], cwd=moved, env={"TAG": "3.0.1"}).stdout)
    target = printed["target"]["image"]
    assert target["tags"] == [f"{repo}:3.0.1", f"{repo}:latest"], target
    assert target["context"] == "." and target["dockerfile"] == ".buildx-go/Dockerfile"
    assert target["labels"]["org.opencontainers.image.version"] == "3.0.1"
    assert target["output"][0].startswith("type=registry,")  # for any builder
    builder = "bxg-it-bake"  # a docker-container builder, as a team creates one for a plain-http registry
    config = tmp_path / "buildkitd.toml"
    config.write_text('[registry."localhost:5000"]\n  http = true\n')
    create = ["docker", "buildx", "create", "--name", builder, "--driver", "docker-container", "--bootstrap"]
    create += [
        "--driver-opt",
        f"image={BUILDKIT_IMAGE}",
        "--driver-opt",
        "network=host",
        "--buildkitd-config",
        str(config),
    ]
    run(["docker", "buildx", "rm", "--keep-state", builder], check=False)
    try:
        run(create)
        for tag, where in (("3.0.1", []), ("3.0.2", ["--builder", builder])):
            bake = ["docker", "buildx", "bake", *where, "--push"]
            pushed = run(bake, cwd=moved, env={"TAG": tag}, check=False)
            if pushed.returncode != 0 and "500 Internal Server Error" in pushed.stderr:
                # the lab's registry (distribution 2.x) answers a HEAD beside buildx's second push
                # through the engine with a 500 at times; buildx-go retries it, plain bake does not
                run(bake, cwd=moved, env={"TAG": tag})
            else:
                assert pushed.returncode == 0, pushed.stderr[-4000:]
            report = json.loads(buildx_go("verify", f"{repo}:{tag}", "--format", "json").stdout)
            assert report["ok"] is True, (where, report)
            assert {i["platform"] for i in report["images"]} == {"linux/amd64", "linux/arm64"}
            assert head_digest(f"{repo}:latest") == report["digest"]
    finally:
        run(["docker", "buildx", "rm", "--keep-state", builder], check=False)
    # an engine without a bridge: bake cannot say network host before buildx 0.14, and says so
    classic = buildx_go(
        "plan",
        moved,
        *argv,
        "--platform",
        "linux/amd64",
        "--no-verify",
        "--format",
        "bake",
        env={"DOCKER_HOST": CLASSIC_SOCK},
    )
    assert "no network host: buildx 0.13.1 has no such key; builder: --driver-opt network=host" in classic.stderr


def test_the_makefile_targets(repo: str) -> None:
    args = f"--go-image {GO_IMAGE} --base-image {BASE_IMAGE} --progress plain"
    buildx = f"{sys.executable} -m buildx_go"
    listed = run(["make", "-s", "-C", str(EXAMPLES)]).stdout  # `make` alone: help
    assert [line.split()[1] for line in listed.splitlines()] == ["help", "image", "push", "verify", "plan"], listed
    make = ["make", "-C", str(EXAMPLES), "image", "push", "verify", f"IMAGE={repo}", "TAG=4.0.0"]
    proc = run([*make, f"BUILDX_GO={buildx}", f"ARGS={args}"])
    assert f"{repo}:4.0.0@sha256:" in proc.stdout and f"{repo}:latest@sha256:" in proc.stdout  # push
    assert "linux/arm64: config linux/arm64, /usr/local/bin/hello: ELF 64-bit LSB aarch64" in proc.stdout  # verify
    # `make push` again, nothing changed: nothing is built, the tags keep their digests.
    push = [*make[:3], "push", *make[6:], f"BUILDX_GO={buildx}", f"ARGS={args}"]
    again = run(push)
    refs = [line for line in again.stdout.splitlines() if line.startswith(f"{repo}:")]
    assert len(refs) == 2 and set(refs) <= set(proc.stdout.splitlines()), (refs, proc.stdout)
    assert any(e["event"] == "build.unchanged" for e in events(again.stderr)), again.stderr[-2000:]
    assert not any(e["event"] == "tags.moved" for e in events(again.stderr))  # latest held that digest already
    assert not any(e["event"] in ("command.start", "tags.written") for e in events(again.stderr))


def git_project(tmp_path: Path, tag: str) -> Path:
    """examples/hello as a git repository tagged TAG (the examples take the version from git)."""
    project = tmp_path / "hello"
    shutil.copytree(HELLO, project)
    for argv in (["init", "-q"], ["add", "."], ["commit", "-qm", "hello"], ["tag", tag]):
        run(["git", "-C", str(project), "-c", "user.name=t", "-c", "user.email=t@example.com", *argv])
    return project


def test_the_github_actions_example_under_github_actions(tmp_path: Path, repo: str) -> None:
    (argv,) = buildx_go_commands("github-actions.yml", {"ghcr.io/${{ github.repository }}": repo})
    project = git_project(tmp_path, "v1.3.0")
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(outputs)}
    # offline here: the golang and runtime images come from the local registry
    proc = run(
        [sys.executable, "-m", "buildx_go", *argv[1:], *GENERATED],
        env=env,
        cwd=project,
    )
    assert proc.stdout.startswith(f"{repo}:1.3.0@sha256:")  # the version from git describe
    assert "::group::docker buildx build (build)" in proc.stderr and "::endgroup::" in proc.stderr
    # the job's log reads as text, and what came before the build is not folded into its group
    lines = proc.stderr.splitlines()
    assert not [line for line in lines if line.startswith("{")]
    group = lines.index("::group::docker buildx build (build)")
    assert next(i for i, line in enumerate(lines) if line.startswith("project ")) < group
    assert next(i for i, line in enumerate(lines) if line.startswith("plan ")) < group
    assert any(line.startswith("verified ") for line in lines)
    digest = proc.stdout.split("@", 1)[1].split()[0]
    assert f"| `{repo}:latest` | `{digest}` |" in summary.read_text()
    said = outputs.read_text().splitlines()
    assert f"digest={digest}" in said and "version=1.3.0" in said
    start = next(i for i, line in enumerate(said) if line.startswith("tags<<"))
    delimiter = said[start].removeprefix("tags<<")
    tags = said[start + 1 : said.index(delimiter, start + 1)]  # the version, the floating tags, latest
    assert tags[0] == f"{repo}:1.3.0" and {f"{repo}:1", f"{repo}:1.3", f"{repo}:latest"} <= set(tags)
    liar = [sys.executable, "-m", "buildx_go", "build", str(ROOT / "tests" / "fixtures" / "liar"), "--image", repo]
    failed_env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    failed = run([*liar, "--tag", "9.0.0", "--push"], env=failed_env, check=False)
    assert failed.returncode == 6 and f"::error::{repo}@sha256:" in failed.stderr
    assert f"no tag was written ({repo}:9.0.0 untouched" in failed.stderr
    assert "Failed (exit code 6): " in summary.read_text()  # the job summary says what failed


def test_the_gitlab_example_under_gitlab_ci(tmp_path: Path, repo: str) -> None:
    (argv,) = buildx_go_commands("gitlab-ci.yml", {"$CI_REGISTRY_IMAGE": repo})
    project = git_project(tmp_path, "v2.1.0")
    proc = run(
        [sys.executable, "-m", "buildx_go", *argv[1:], *GENERATED],
        env={"GITLAB_CI": "true"},
        cwd=project,
    )
    assert proc.stdout.startswith(f"{repo}:2.1.0@sha256:")
    assert re.search(r"\x1b\[0Ksection_start:\d+:buildx_go_build\[collapsed=true\]", proc.stderr)
    assert re.search(r"\x1b\[0Ksection_end:\d+:buildx_go_build", proc.stderr)


def test_plan_and_dry_run_create_no_builder(repo: str) -> None:
    before = run(["docker", "buildx", "ls"]).stdout
    name = "bxg-it-never-created"
    common = ("--image", repo, "--tag", "1", "--push", "--create-builder", "--builder", name, *GENERATED)
    plan = json.loads(buildx_go("plan", str(HELLO), *common, "--format", "json").stdout)
    dry = buildx_go("build", str(HELLO), *common, "--dry-run").stdout
    assert plan["commands"][0]["argv"][:5] == ["docker", "buildx", "create", "--name", name]
    assert dry.startswith(f"docker buildx create --name {name} --driver docker-container ")
    assert run(["docker", "buildx", "ls"]).stdout == before


def test_the_log_format_from_every_source(tmp_path: Path) -> None:
    project = tmp_path / "hello"
    shutil.copytree(HELLO, project)
    base = {k: v for k, v in os.environ.items() if k not in ("BUILDX_GO_LOG_FORMAT", "GITHUB_ACTIONS", "GITLAB_CI")}

    def first_event_line(args: list[str], env: dict[str, str]) -> str:
        argv = [sys.executable, "-m", "buildx_go", *args]
        proc = subprocess.run(argv, capture_output=True, text=True, env={**base, **env}, check=True)
        return proc.stderr.splitlines()[0]

    dockerfile = ["dockerfile", str(project)]
    assert first_event_line(dockerfile, {}).startswith("{")  # stderr is no terminal: JSON
    assert first_event_line([*dockerfile, "--log-format", "console"], {}).startswith("project    ")
    for ci in ({"GITHUB_ACTIONS": "true"}, {"GITLAB_CI": "true"}, {"CI": "true"}):  # a CI job's log is read by people
        assert first_event_line(dockerfile, ci).startswith("project    ")
        assert "\x1b[" not in first_event_line(dockerfile, ci)
        assert first_event_line([*dockerfile, "--log-format", "json"], ci).startswith("{")
    assert not first_event_line([*dockerfile], {"BUILDX_GO_LOG_FORMAT": "console"}).startswith("{")
    (project / ".buildx-go.toml").write_text('log-format = "console"\n')
    assert not first_event_line(dockerfile, {}).startswith("{")
    assert first_event_line([*dockerfile, "--log-format", "json"], {}).startswith("{")  # the flag wins
