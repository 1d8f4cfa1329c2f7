"""A rerun of what is published already asks docker nothing about builders.

A build's inputs (planning/inputs.py) do not depend on the builder: the same project and
settings give the same inputs on the docker driver and on a BuildKit of its own. So before
the builder's facts are asked for (docker info, buildx ls and inspect: most of a rerun's
time on a fresh CI runner), the plan is made with a builder's facts assumed, its inputs
told, and the version tags read (run/uptodate.py). When they hold an image of those inputs,
the run goes on from there: nothing is built, nothing asks the builder. Otherwise (or when
anything about the assumed plan does not hold) the run starts over as usual, with the
builder's facts.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from buildx_go.errors import BuildxGoError

if TYPE_CHECKING:
    from buildx_go.cli.effects import Effects
    from buildx_go.config import Settings
    from buildx_go.planning.decide import MachineFacts, ProjectFacts
    from buildx_go.planning.plan import Plan
    from buildx_go.run.uptodate import Found


@attrs.frozen
class Published:
    plan: Plan
    found: Found  # uptodate.published's answer: the index, why nothing is built, how it was verified


def published_already(
    s: Settings, project: ProjectFacts, env: Mapping[str, str], effects: Effects, workdir: str
) -> tuple[Published | None, MachineFacts | None]:
    """The plan and the published index, when the version tags hold an image of this build's
    inputs, else None (a build may be needed, or this cannot be told without the builder);
    and the machine's facts gathered on the way (all but the builder's, which were assumed)."""
    if s.rebuild or s.dry_run or not s.push or s.create_builder or s.node or s.strategy in ("manifest", "host"):
        return None, None
    from buildx_go.cli.facts import machine_facts
    from buildx_go.engine.builder import Preflight
    from buildx_go.planning.decide import decide
    from buildx_go.planning.plan import make_plan
    from buildx_go.run import uptodate

    host = env.get("DOCKER_HOST") or env.get("DOCKER_CONTEXT") or "default"
    assumed = Preflight.assumed(host, project.native.arch, s.builder, tuple(str(p) for p in s.platform))
    machine = None
    try:
        machine = machine_facts(s, project, env, effects, workdir, assumed=assumed)
        plan = with_inputs(make_plan(decide(s, project, machine), workdir))
        if plan.inputs is None:
            return None, machine
        found = uptodate.published(effects.registry(env), plan, lambda commit: ())
    except (BuildxGoError, OSError, ValueError):  # the usual run says it, with the builder's facts
        return None, None
    return (Published(plan, found) if found[0] else None), machine


def with_inputs(plan: Plan) -> Plan:
    """PLAN with its inputs recorded (planning/inputs.py), when its build can be told by
    them: the build context is read for its content digest (project/context.py)."""
    why = plan.not_recorded()
    if why:
        return attrs.evolve(plan, inputs_why=why)
    (build,) = plan.phase("build")
    return plan.with_inputs(context_digest(build.argv[-1], plan.dockerignore))


@functools.lru_cache(maxsize=4)
def context_digest(root: str, ignore_text: str) -> str:
    """The build context's content digest, read once a run (the assumed plan and the real
    one share it)."""
    from buildx_go.project.context import context_digest as digest

    return digest(os.fspath(Path(root)), ignore_text)
