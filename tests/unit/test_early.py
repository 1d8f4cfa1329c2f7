"""early.py without processes: what a record observes, when it says something changed, what
it keeps (and does not), and how a build started early is taken over or stopped."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from buildx_go.cli.effects import Effects, recorded
from buildx_go.engine import early, spawn, stamps
from buildx_go.seams import LocalFiles


def test_observations_tell_content_kind_listing_and_absence(tmp_path: Path) -> None:
    f = tmp_path / "go.mod"
    f.write_text("module a\n")
    text = stamps.observe("text", str(f))
    f.write_text("module b\n")
    assert stamps.observe("text", str(f)) != text
    assert stamps.observe("kind", str(f)) == "file" and stamps.observe("kind", str(tmp_path)) == "dir"
    (tmp_path / "link").symlink_to(f)
    assert stamps.observe("kind", str(tmp_path / "link")) == "link:file"
    assert stamps.observe("list", str(tmp_path)) == ["go.mod", "link"]
    assert stamps.observe("text", str(tmp_path / "none")) is None and stamps.observe("kind", str(tmp_path / "x")) == "-"
    os.mkfifo(tmp_path / "fifo")  # never blocks on a FIFO
    assert stamps.observe("text", str(tmp_path / "fifo")) == "not a regular file"


def recorder_with_build(tmp_path: Path, files: dict[str, str] | None = None) -> early.Recorder:
    rec = early.Recorder(str(tmp_path / "cache" / "early" / "x.rec"))
    env = {**os.environ, "BUILDX_GO_REGISTRY_TIMEOUT": "20.0"}
    env.pop("HOME", None)
    rec.spawned.append((["/bin/true", "build", f"--file={tmp_path}/wd/Dockerfile"], env, None, False, "never"))
    rec.written.update(files or {f"{tmp_path}/wd/Dockerfile": "FROM scratch\n"})
    return rec


def test_a_record_keeps_the_command_the_files_and_only_what_the_environment_adds(tmp_path: Path) -> None:
    rec = recorder_with_build(tmp_path)
    (tmp_path / "main.go").write_text("package main\n")
    rec.see("text", tmp_path / "main.go")
    rec.ran(["git", "status"], None, 10.0, (0, "secret-looking output", ""))
    record = rec.record(None, f"{tmp_path}/wd")
    assert record is not None
    assert record["files"] == {"Dockerfile": "FROM scratch\n"}
    assert record["env"] == [("BUILDX_GO_REGISTRY_TIMEOUT", "20.0")] and record["unset"] == ["HOME"]
    assert "secret-looking output" not in repr(record)  # answers only as digests
    assert [str(tmp_path / "main.go")] == [p for k, p, _ in record["watch"] if k == "text"]
    record["git"] = []  # asking git again needs a process: the integration tests do
    assert early.changed(record, os.environ) is None
    (tmp_path / "main.go").write_text("package main // changed\n")
    assert early.changed(record, os.environ) == f"{tmp_path / 'main.go'} (text)"


def test_what_makes_a_run_unfit_to_start_early(tmp_path: Path) -> None:
    rec = recorder_with_build(tmp_path)
    assert rec.record("several builds", str(tmp_path / "wd")) is None and rec.why_not == "several builds"
    rec = recorder_with_build(tmp_path, {"/elsewhere/Dockerfile": ""})
    assert rec.record(None, str(tmp_path / "wd")) is None and rec.why_not == "a file was written outside the workdir"
    rec = recorder_with_build(tmp_path)
    rec.spawned.append(rec.spawned[0])
    assert rec.record(None, str(tmp_path / "wd")) is None and rec.why_not == "2 streamed commands ran"
    rec = recorder_with_build(tmp_path)
    rec.facts_used("default", None, None)
    assert rec.record(None, str(tmp_path / "wd")) is None and "not cached" in str(rec.why_not)
    f = tmp_path / "go.mod"
    f.write_text("module a\n")
    rec = recorder_with_build(tmp_path)
    rec.see("text", f)
    f.write_text("module b\n")
    rec.see("text", f)
    assert rec.record(None, str(tmp_path / "wd")) is None and rec.why_not == f"{f} changed while it was read"


def test_the_effects_seen_through_a_recorder(tmp_path: Path) -> None:
    rec = early.Recorder("x")
    effects = recorded(Effects(files=LocalFiles()), rec)
    (tmp_path / "go.mod").write_text("module a\n")
    assert effects.files.read_text(tmp_path / "go.mod") == "module a\n"
    assert effects.files.is_dir(tmp_path) and [p.name for p in effects.files.iterdir(tmp_path)] == ["go.mod"]
    assert {k for k, _ in rec.watch} == {"text", "kind", "list"}
    calls: list[Any] = []
    effects = recorded(Effects(program=lambda *a: calls.append(a) or (0, "1.2.3", "")), rec)
    assert effects.program(["make", "version"], None, 1.0) == (0, "1.2.3", "")
    assert rec.why_not == "a --version-from command ran"
    slow = early.Recorder("y")  # a git that gave no answer: its check would wait as long again
    slow.runner(lambda *a: None)(["git", "-C", "/p", "describe", "--tags"], None, 10.0)
    assert slow.why_not == "git describe gave no answer"


def test_saved_records_are_private_and_the_oldest_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "cache" / "early"
    directory.mkdir(parents=True)
    for i in range(early.KEEP + 3):
        (directory / f"old{i:03}.rec").write_bytes(b"")
        os.utime(directory / f"old{i:03}.rec", (i, i))
    early._recorder = recorder_with_build(tmp_path)
    assert early.save(None, str(tmp_path / "wd")) is None
    kept = sorted(p.name for p in directory.glob("*.rec"))
    assert len(kept) == early.KEEP and "x.rec" in kept and "old000.rec" not in kept
    assert stat.S_IMODE((directory / "x.rec").stat().st_mode) == 0o600


class FakeProc:
    pid = 2**22 + 7  # no such process: signals to it are ignored

    def __init__(self) -> None:
        self.waited = False

    def poll(self) -> int | None:
        return None if not self.waited else -2

    def wait(self, timeout: float | None = None) -> int:
        self.waited = True
        return -2


def test_a_build_started_early_is_taken_over_only_if_it_is_the_same_command() -> None:
    key = (["docker-buildx", "build", "."], {"A": "1"}, None, False)
    early._started = spawn.Started(FakeProc(), None, key)  # type: ignore[arg-type]
    taken, why = early.adopt((["docker-buildx", "build", "."], {"A": "1"}, None, False))
    assert taken is not None and why is None and early.started() is None
    proc = FakeProc()
    early._started = spawn.Started(proc, None, key)  # type: ignore[arg-type]
    taken, why = early.adopt((["docker-buildx", "build", "."], {"A": "2"}, None, False))
    assert taken is None and why == "the planned build differs from the recorded one" and proc.waited
    proc = FakeProc()
    early._started = spawn.Started(proc, None, key)  # type: ignore[arg-type]
    assert early.discard("the run ended before its build") == "the run ended before its build" and proc.waited
    assert early.discard("again") is None


def test_buildx_runs_as_its_own_binary_when_the_docker_cli_said_where_it_is() -> None:
    argv = ["docker", "buildx", "build", "."]
    assert spawn.direct(argv, "/usr/libexec/docker/cli-plugins/docker-buildx")[0].endswith("docker-buildx")
    assert spawn.direct(argv, None) == argv and spawn.direct(["docker", "info"], "/x/docker-buildx")[0] == "docker"
    env = {"DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND": "docker", "PATH": "/bin"}
    assert spawn.child_env(env, ["/x/docker-buildx", "build"]) == {"PATH": "/bin"}
    assert spawn.child_env(env, ["docker", "buildx"]) == env


def test_only_a_build_is_recorded() -> None:
    for argv in (["plan", "."], ["build", ".", "--dry-run"], ["build", "--help"], []):
        early.begin(argv, {"HOME": "/nonexistent"})
        assert early.recorder() is None
    early.begin(["build", "."], {"BUILDX_GO_WORKDIR": "/tmp/x", "HOME": "/nonexistent"})
    assert early.recorder() is None
    for off in ("off", "0", "False", "no"):  # the switch: not started early, not recorded
        early.begin(["build", "."], {"BUILDX_GO_EARLY": off, "HOME": "/nonexistent"})
        assert early.recorder() is None
    early.begin(["build", "."], {"HOME": "/nonexistent"})
    assert early.recorder() is not None and early.started() is None
    assert str(early.skipped()).startswith("no usable record")


def test_which_plans_a_rerun_may_start_early() -> None:
    from packaging.version import Version

    from tests.unit.planning import HostGo, plan_for, preflight

    base = {"image": "r.example/app", "tag": ["1.0.0"], "push": True, "platform": ["linux/amd64", "linux/arm64"]}
    assert plan_for(base, builder=preflight()).not_early() is None
    manifest = plan_for({**base, "strategy": "manifest"}, builder=preflight())
    assert manifest.not_early() == "several builds"
    classic = plan_for(base, builder=preflight(containerd_store=False))
    assert classic.not_early() == "several builds"  # the fallback: one build per platform
    host = plan_for(
        {**base, "strategy": "host"}, builder=preflight(), host=HostGo("/go/bin/go", Version("1.27.3"), "/go")
    )
    assert host.not_early() == "the host strategy compiles first"


def test_the_workdir_of_a_build_started_early_is_left_as_it_is(tmp_path: Path) -> None:
    from buildx_go.run.steps import write_files
    from tests.unit.planning import plan_for, preflight

    plan = plan_for(
        {"image": "r.example/app", "tag": ["1.0.0"], "push": True}, workdir=str(tmp_path), builder=preflight()
    )
    assert plan.dockerfile.path
    Path(plan.dockerfile.path).write_text(plan.dockerfile.text)
    Path(f"{plan.dockerfile.path}.dockerignore").write_text(plan.dockerignore)
    Path(plan.metadata_file).write_text("{}")  # the early build's, once it ends
    early._workdir, early._started = str(tmp_path), spawn.Started(FakeProc(), None, ())  # type: ignore[arg-type]
    early._recorder = early.Recorder("x")
    before = os.stat(plan.dockerfile.path).st_mtime_ns
    write_files(plan)
    assert Path(plan.metadata_file).exists() and os.stat(plan.dockerfile.path).st_mtime_ns == before
    assert early.started() is not None and set(early._recorder.written) == {
        plan.dockerfile.path,
        f"{plan.dockerfile.path}.dockerignore",
    }
    Path(plan.dockerfile.path).write_text("FROM other\n")
    write_files(plan)  # differs: the early build is stopped, the plan's file written
    assert early.started() is None and Path(plan.dockerfile.path).read_text() == plan.dockerfile.text


def test_options_that_only_change_the_events_do_not_change_the_record(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path), "PATH": "/usr/bin"}
    argv = ["build", ".", "--push", "--tag", "1.0.0"]
    name = early.record_name(argv, env)
    for words, extra in (
        ([*argv, "--debug"], {}),
        ([*argv, "--log-format", "json"], {}),
        (["build", "--log-format=console", ".", "--push", "--tag", "1.0.0", "--no-debug"], {}),
        (argv, {"BUILDX_GO_DEBUG": "1", "BUILDX_GO_LOG_FORMAT": "json"}),
    ):
        assert early.record_name(words, {**env, **extra}) == name, words
    assert early.planned_words(["build", "--log-format", "json", "."]) == ["build", "."]
    for other, extra in (([*argv, "--rebuild"], {}), (argv, {"BUILDX_GO_PLATFORM": "linux/arm64"})):
        assert early.record_name(other, {**env, **extra}) != name
