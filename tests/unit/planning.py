"""Decisions and plans for unit tests, made by the real decide() from given facts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
from packaging.version import Version

from buildx_go.config import resolve
from buildx_go.engine.builder import Builder, Engine, Preflight
from buildx_go.planning.decide import Decision, MachineFacts, ProjectFacts, UserDockerfile, decide
from buildx_go.planning.hostgo import HostGo
from buildx_go.planning.plan import Plan, make_plan
from buildx_go.platforms import Platform
from buildx_go.project.gomod import GoProject

ROOT = Path(__file__).parents[2]
HELLO = ROOT / "examples" / "hello"
AMD64 = Platform("linux", "amd64")


DATA = Path(__file__).parent / "data"


def git_question(argv: Sequence[str]) -> list[str]:
    """What a git command asks, after `git [-c ...] -C ROOT` (gitinfo.SAFE_GIT)."""
    args = list(argv)
    return args[args.index("-C") + 2 :]


class FakeDocker:
    """An Executor answering `docker info`, `buildx ls` and `buildx inspect` with output
    captured on the engines scripts/setup starts (tests/unit/data), and recording the
    commands it is asked to run (each answers RUN_OUTPUT, or raises what FAIL maps it to)."""

    def __init__(
        self,
        engine: str = "containerd",
        info_code: int = 0,
        run_output: Mapping[str, str] | None = None,
        fail: Mapping[str, Exception] | None = None,
        on_run: Any = None,
    ) -> None:
        """ON_RUN(argv, purpose) -> stdout: what running a command does (else RUN_OUTPUT)."""
        info = (DATA / f"info-{'down' if info_code else engine}.json").read_text()
        self.answers = {
            "info --format": (info_code, info, "Cannot connect to the Docker daemon" if info_code else ""),
            "buildx ls": (0, (DATA / f"ls-{engine}.jsonl").read_text(), ""),
            "buildx inspect": (0, "Name:          default\nDriver:        docker\n", ""),
            "network ls": (0, "bridge\nhost\nnone\n", ""),
        }
        self.run_output = dict(run_output or {})
        self.fail = dict(fail or {})
        self.on_run = on_run
        self.probes: list[list[str]] = []
        self.runs: list[tuple[str, ...]] = []

    def probe(self, argv: Sequence[str], *, purpose: str = "docker") -> tuple[int, str, str]:
        self.probes.append(list(argv))
        return self.answers[" ".join(argv[1:3])]

    def run(self, argv: Sequence[str], *, purpose: str = "docker", **_: object) -> str:
        self.runs.append(tuple(argv))
        if purpose in self.fail:
            raise self.fail[purpose]
        if self.on_run is not None:
            return str(self.on_run(tuple(argv), purpose))
        return self.run_output.get(purpose, "")


def preflight(driver: str = "docker", containerd_store: bool = True, buildx: str = "0.13.1") -> Preflight:
    """Builder facts: the docker driver on a containerd-store engine by default."""
    builder = Builder("default", driver, "running", ("linux/amd64", "linux/arm64"), current=True)
    engine = Engine("unix:///x", server=Version("26.1"), arch="amd64", containerd_store=containerd_store)
    return Preflight(engine, Version(buildx), None, (builder,), None, ())


def decide_for(
    given: Mapping[str, Any],
    root: Path = HELLO,
    *,
    dockerfile: str | None = None,
    git: Mapping[str, str] | None = None,
    version: str | None = None,
    existing: tuple[str, ...] | None = None,
    builder: Preflight | None = None,
    host: HostGo | None = None,
    host_context: str | None = None,
    host_cc: tuple[tuple[str, str], ...] = (),
    apt: tuple[tuple[str, bool | None, str], ...] = (),
    build_files: tuple[tuple[str, str], ...] = (),
    **evolve: Any,
) -> Decision:
    """decide() for settings GIVEN (as from the command line) and these facts; EVOLVE
    overrides fields of the Decision (e.g. caps=BuilderCaps(...))."""
    settings = resolve(given, {}, {})
    user = UserDockerfile(root / "Dockerfile", dockerfile) if dockerfile is not None else None
    project = ProjectFacts(GoProject.detect(root), user, None, git or {}, version, AMD64, build_files=build_files)
    machine = MachineFacts(builder, host, existing, host_context, host_cc=host_cc, apt=apt)
    decision = decide(settings, project, machine)
    return attrs.evolve(decision, **evolve) if evolve else decision


def plan_for(given: Mapping[str, Any], workdir: str = "/w", **kw: Any) -> Plan:
    return make_plan(decide_for(given, **kw), workdir)
