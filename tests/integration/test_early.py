"""No-op rebuilds: a rebuild whose inputs are all as they were starts its build at
once (early.py; here asked with --rebuild: otherwise such a rerun builds nothing at all, see
test_uptodate.py), and the run, planning meanwhile, takes it over only if its own plan is the
same build; a change the plan depends on starts nothing early; a record that no longer
matches is stopped; an interrupt stops the early build; records are private and hold no
values of the environment."""

from __future__ import annotations

import marshal
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.integration.conftest import (
    BASE_IMAGE,
    CLASSIC_HOST,
    GO_IMAGE,
    ROOT,
    buildx_go,
    events,
    head_digest,
    registry_index,
    run,
)

pytestmark = pytest.mark.integration


def project(tmp_path: Path) -> Path:
    root = tmp_path / "hello"
    shutil.copytree(ROOT / "examples" / "hello", root)
    return root


def setup(tmp_path: Path, repo: str) -> tuple[Path, tuple[str, ...], dict[str, str]]:
    root = project(tmp_path)
    args = ("build", str(root), "--image", repo, "--tag", "1.0.0", "--push", "--go-image", GO_IMAGE)
    args += ("--base-image", BASE_IMAGE, "--platform", "linux/amd64,linux/arm64", "--progress", "quiet")
    args += ("--rebuild",)  # else a rerun with nothing changed builds nothing (test_uptodate.py)
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "BUILDX_GO_DEBUG": "1", "CANARY": f"canary-{uuid.uuid4().hex}"}
    return root, args, env


def named(stderr: str) -> dict[str, dict[str, object]]:
    return {str(e["event"]): e for e in events(stderr)}


def records(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache" / "buildx-go" / "early").glob("*.rec"))


def buildx_used_on_the_other_engine() -> None:
    """Every buildx command rewrites ~/.docker/buildx/current with its engine's Key (a Makefile
    or a test that also uses the second engine): for the first engine nothing changed. Done
    before the first run, whose own buildx commands then rewrite the file for this engine:
    the text the record saw is gone by the second run, what it means is not."""
    run(["docker", "buildx", "ls"], env={"DOCKER_HOST": CLASSIC_HOST})


def test_a_rebuild_with_nothing_changed_starts_its_build_at_once(tmp_path: Path, repo: str) -> None:
    root, args, env = setup(tmp_path, repo)
    buildx_used_on_the_other_engine()
    first = named(buildx_go(*args, env=env).stderr)
    assert "early.adopted" not in first and first["early.record"]["kept"] is True, first["early.record"]
    (record,) = records(tmp_path)
    assert stat.S_IMODE(record.stat().st_mode) == 0o600 and stat.S_IMODE(record.parent.stat().st_mode) == 0o700
    data = record.read_bytes()
    assert env["CANARY"].encode() not in data  # the environment only as a digest
    saved = marshal.loads(data)
    assert Path(saved["argv"][0]).name == "docker-buildx"  # buildx run as its own binary
    assert saved["argv"][1:3] == ["build", "--platform"]

    second = named(buildx_go(*args, env=env).stderr)
    assert "early.adopted" in second and "early.discarded" not in second, second.get("early.record")
    assert float(second["early.adopted"]["head_start"]) > 0
    assert second["verify.ok"]["digest"] == head_digest(f"{repo}:1.0.0")

    main = root / "main.go"
    main.write_text(main.read_text().replace("hello", "hello again"))
    third = named(buildx_go(*args, env=env).stderr)
    assert "early.adopted" not in third
    assert "main.go" in str(third["early.record"]["skipped"]), third["early.record"]
    assert third["verify.ok"]["digest"] == head_digest(f"{repo}:1.0.0")

    kept = [(r, r.stat().st_mtime_ns) for r in records(tmp_path)]
    for _ in range(2):  # turned off: nothing started early, nothing recorded
        off = named(buildx_go(*args, env={**env, "BUILDX_GO_EARLY": "off"}).stderr)
        assert "early.adopted" not in off and off["early.record"]["kept"] is False, off["early.record"]
        assert off["early.record"]["skipped"] == "turned off (BUILDX_GO_EARLY)"
    assert [(r, r.stat().st_mtime_ns) for r in records(tmp_path)] == kept


def test_a_record_the_plan_no_longer_matches_is_stopped_and_the_plan_built(tmp_path: Path, repo: str) -> None:
    _, args, env = setup(tmp_path, repo)
    buildx_go(*args, env=env)
    (record,) = records(tmp_path)
    saved = marshal.loads(record.read_bytes())
    saved["argv"] = [a.replace("image.version=1.0.0", "image.version=stale") for a in saved["argv"]]
    record.write_bytes(marshal.dumps(saved))

    run = named(buildx_go(*args, env=env).stderr)
    assert run["early.discarded"]["why"] == "the planned build differs from the recorded one"
    assert "early.adopted" not in run
    index = registry_index(f"{repo}:1.0.0")
    assert run["verify.ok"]["digest"] == head_digest(f"{repo}:1.0.0")
    labels = image_labels(repo, index)
    assert labels["org.opencontainers.image.version"] == "1.0.0"


def image_labels(repo: str, index: dict[str, object]) -> dict[str, str]:
    import json
    import urllib.request

    _, _, name = repo.partition("/")
    first = index["manifests"][0]["digest"]  # type: ignore[index]
    accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"
    req = urllib.request.Request(f"http://127.0.0.1:5000/v2/{name}/manifests/{first}", headers={"Accept": accept})
    with urllib.request.urlopen(req) as resp:
        config = json.load(resp)["config"]["digest"]
    with urllib.request.urlopen(f"http://127.0.0.1:5000/v2/{name}/blobs/{config}") as resp:
        return json.load(resp)["config"]["Labels"]  # type: ignore[no-any-return]


def test_an_interrupt_stops_the_build_started_early(tmp_path: Path, repo: str) -> None:
    _, args, env = setup(tmp_path, repo)
    buildx_go(*args, env=env)
    before = head_digest(f"{repo}:1.0.0")
    base = {"BUILDX_GO_NETWORK": os.environ.get("BUILDX_GO_NETWORK", "host"), "BUILDX_GO_LOG_FORMAT": "json"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "buildx_go", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **base, **env},
    )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not buildx_children(proc.pid):
        time.sleep(0.005)
    assert buildx_children(proc.pid), "no build was started early"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert not buildx_children(proc.pid)
    assert head_digest(f"{repo}:1.0.0") == before  # nothing published after the interrupt


def buildx_children(pid: int) -> list[int]:
    """The docker-buildx processes whose parent is PID."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = next((line.split()[1] for line in status.splitlines() if line.startswith("PPid:")), "")
        if ppid == str(pid) and b"docker-buildx" in cmd:
            found.append(int(entry.name))
    return found


def test_in_a_terminal_the_build_started_early_draws_its_live_display(tmp_path: Path, repo: str) -> None:
    from tests.integration.test_laptop_ci import in_terminal, terminal_env

    root = project(tmp_path)
    argv = [sys.executable, "-m", "buildx_go", "build", str(root), "--image", repo, "--tag", "1.0.0", "--push"]
    argv += ["--go-image", GO_IMAGE, "--base-image", BASE_IMAGE, "--rebuild"]
    env = terminal_env(XDG_CACHE_HOME=str(tmp_path / "cache"), NO_COLOR="1")
    code, first = in_terminal(argv, env)
    assert code == 0 and "early.adopted" not in first, first[-3000:]
    code, second = in_terminal(argv, env)
    assert code == 0, second[-3000:]
    assert "early.adopted" in second and "early.discarded" not in second
    assert "[+] Building" in second  # BuildKit's own display, drawn on the terminal it was started with
