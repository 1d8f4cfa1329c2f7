"""The world outside the pure core, one seam each, passed in from ``cli.main``.

docker (an Executor per environment), the registry (a RegistryClient per environment),
git, the host's Go toolchain, commands a project names (``--version-from``) and the
filesystem. ``Effects()`` is the real world; tests give fakes for any of them. The decision
and plan modules import none of this: the shell (facts.py, run.py) uses them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import attrs

from buildx_go.engine.spawn import run_program
from buildx_go.engine.stamps import cache_dir as cache_dir  # for the shell
from buildx_go.engine.stamps import default_workdir
from buildx_go.errors import InputError
from buildx_go.seams import Files, LocalFiles, Runner

T = TypeVar("T")

if TYPE_CHECKING:
    from buildx_go.engine.docker import Executor
    from buildx_go.planning.hostgo import HostGo
    from buildx_go.registry.client import RegistryClient


def _docker(env: Mapping[str, str]) -> Executor:
    from buildx_go.engine.docker import DockerExecutor

    return DockerExecutor(env)


def _registry(env: Mapping[str, str]) -> RegistryClient:
    from buildx_go.registry.client import RegistryClient

    return RegistryClient(env)


def _host_go(env: Mapping[str, str], cache: str | None) -> HostGo | None:
    from buildx_go.cli.facts import find_host_go

    return find_host_go(env, cache)


@attrs.frozen
class Effects:
    docker: Callable[[Mapping[str, str]], Executor] = _docker
    registry: Callable[[Mapping[str, str]], RegistryClient] = _registry
    git: Runner = run_program
    program: Runner = run_program  # commands the user names (--version-from)
    host_go: Callable[[Mapping[str, str], str | None], HostGo | None] = _host_go
    files: Files = attrs.field(factory=LocalFiles)


def work_dir(env: Mapping[str, str], root: Path) -> str:
    """BUILDX_GO_WORKDIR, else a new directory in $TMPDIR; never inside the project (the
    generated files would overwrite its own, and be sent in its build context)."""
    given = env.get("BUILDX_GO_WORKDIR")
    if not given:
        return default_workdir()
    from buildx_go.cli.paths import check_workdir

    check_workdir(given)
    resolved, project = Path(given).resolve(), root.resolve()
    if resolved == project or project in resolved.parents:
        raise InputError(
            f"BUILDX_GO_WORKDIR: {given!r} is inside the project {str(project)!r}", "choose a directory outside it"
        )
    return given
