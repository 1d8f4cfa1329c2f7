"""Interrupts without processes: the handler, the refusal to start anything afterwards, and
the sweep of credentials copies left by killed runs (the real signals: tests/integration)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from buildx_go.engine import interrupt
from buildx_go.errors import Interrupted
from buildx_go.run.steps import sweep_credentials


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    interrupt.reset()
    yield
    interrupt.reset()


def test_with_no_child_running_the_signal_stops_at_once() -> None:
    with pytest.raises(Interrupted, match="interrupted by SIGTERM") as err:
        interrupt._handle(signal.SIGTERM, None)
    assert err.value.exit_code == 130
    assert interrupt.caught() == "SIGTERM"


def test_nothing_starts_after_an_interrupt() -> None:
    with pytest.raises(Interrupted):
        interrupt._handle(signal.SIGINT, None)
    with pytest.raises(Interrupted, match="nothing more was started"):
        interrupt.popen(["docker", "manifest", "push", "r/app:1"])  # refused before it runs
    with pytest.raises(Interrupted):
        interrupt.check()


def test_a_killed_runs_credentials_copy_is_removed_and_the_rest_kept(tmp_path: Path) -> None:
    dead, mine = tmp_path / "buildx-go-999999-1", tmp_path / f"buildx-go-{os.getpid()}-2"
    for workdir in (dead, mine):
        (workdir / "docker-config").mkdir(parents=True)
        (workdir / "docker-config" / "config.json").write_text('{"auths": {"r": {"auth": "c2VjcmV0"}}}')
        (workdir / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "other-999999-1" / "docker-config").mkdir(parents=True)  # not ours: left alone
    assert sweep_credentials(str(tmp_path)) == [str(dead / "docker-config")]
    assert not (dead / "docker-config").exists() and (dead / "Dockerfile").exists()
    assert (mine / "docker-config" / "config.json").exists()
    assert (tmp_path / "other-999999-1" / "docker-config").exists()
