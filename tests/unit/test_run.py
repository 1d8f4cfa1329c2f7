from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from buildx_go.config import resolve
from buildx_go.errors import EngineError
from buildx_go.gomod import GoProject
from buildx_go.plan import DockerfileChoice, make_plan
from buildx_go.platforms import Platform
from buildx_go.run import check_emulation

HELLO = Path(__file__).parents[2] / "examples" / "hello"


class FakeExecutor:
    def __init__(self, ls_output: str) -> None:
        self.ls_output = ls_output
        self.calls: list[list[str]] = []

    def run(self, argv: Sequence[str], *, stream: bool = False, purpose: str = "docker") -> str:
        self.calls.append(list(argv))
        return self.ls_output


def emulated_plan(platform: str) -> object:
    settings = resolve({"image": "r/app", "tag": ["1"], "platform": [f"linux/amd64,{platform}"]}, {}, {})
    choice = DockerfileChoice("user", "/x/Dockerfile", "buildx", "")
    return make_plan(
        GoProject.detect(HELLO),
        settings,
        choice,
        version=None,
        git={},
        workdir="/w",
        emulated=(Platform.parse(platform),),
    )


LS = '{"Name":"default","Current":true,"Nodes":[{"Platforms":["linux/amd64","linux/arm64"]}]}\n'


def test_emulation_present_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("buildx_go.run.host_emulators", lambda: set())
    ex = FakeExecutor(LS)
    check_emulation(emulated_plan("linux/arm64"), ex)  # type: ignore[arg-type]
    assert ex.calls == [["docker", "buildx", "ls", "--format", "json"]]


def test_emulation_missing_is_exit_3_before_any_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("buildx_go.run.host_emulators", lambda: {"qemu-aarch64"})
    ex = FakeExecutor(LS)
    with pytest.raises(EngineError, match=r"emulation for linux/s390x") as err:
        check_emulation(emulated_plan("linux/s390x"), ex)  # type: ignore[arg-type]
    assert err.value.exit_code == 3
    assert all(call[:3] != ["docker", "buildx", "build"] for call in ex.calls)
