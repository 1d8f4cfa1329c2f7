"""`buildx-go doctor`: what the engine, buildx and the builder can do here.

Facts are always asked afresh (never the facts cache): doctor reports the machine as it is.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping

import attrs

from buildx_go.cli.effects import Effects
from buildx_go.cli.facts import builder_facts, http_registry
from buildx_go.config import Settings
from buildx_go.engine.builder import NewBuilder, Preflight
from buildx_go.errors import EngineError
from buildx_go.planning.decide import builder_strategy
from buildx_go.platforms import Platform


def doctor(settings: Settings, env: Mapping[str, str], effects: Effects) -> int:
    """Print the doctor table (or JSON); exit 3 (EngineError) when something is missing."""
    pre, new = builder_facts(settings, env, effects, None)
    if new is not None:  # doctor --create-builder creates it, then reports it
        create(new, env, effects)
        pre, _ = builder_facts(settings, env, effects, None)
    strategy = None
    if pre.builder and not pre.problems():
        chosen = builder_strategy(attrs.evolve(settings, strategy="auto"), pre)
        strategy = f"{chosen.name} -> {chosen.reason}"
    registry = registry_scheme(settings.image) if settings.image else None
    if settings.format == "json":
        data = pre.to_dict()
        data["platforms"] = {str(p): how for p, how in pre.platform_support(settings.platform)} if pre.builder else {}
        data["placement"] = [
            {"platform": str(p.platform), "node": p.node, "declared": p.declared, "how": p.how}
            for p in pre.placement(settings.platform)
        ]
        data["strategy"] = strategy
        data["registry"] = registry
        print(json.dumps(data, indent=2))
    else:
        rows = doctor_rows(pre, settings.platform, registry, strategy)
        width = max(len(k) for k, _ in rows)
        for key, value in rows:
            print(f"{key:<{width}}  {value}")
    problems = pre.problems()
    if problems:
        hint = "start the engine and install what the lines above say is missing"
        if "context not found" in problems[0]:
            hint = "`docker context ls` lists the contexts there are"
        raise EngineError(f"doctor: {problems[0]}", hint)
    return 0


def create(new: NewBuilder, env: Mapping[str, str], effects: Effects) -> None:
    from buildx_go.planning.plan import setup_commands
    from buildx_go.run.steps import create_builder

    workdir = os.path.join(tempfile.gettempdir(), f"buildx-go-doctor-{os.getpid()}")
    commands, config = setup_commands(new, workdir)
    try:
        create_builder(effects.docker(env), list(commands), config)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)  # buildx keeps its own copy of the config


def registry_scheme(image: str) -> str:
    """How IMAGE's registry is spoken to."""
    http = http_registry(image)
    return f"{http}: plain http (loopback)" if http else f"{image.split('/')[0]}: https"


def doctor_rows(
    pre: Preflight, platforms: tuple[Platform, ...], registry: str | None, strategy: str | None
) -> list[tuple[str, str]]:
    """The doctor table: (what, finding) rows for people."""
    e = pre.engine
    rows = [("docker CLI", pre.cli_error or f"{e.client or '?'}")]
    if e.reachable:
        store = "containerd image store" if e.containerd_store else f"classic image store ({e.storage_driver})"
        rows.append(("engine", f"{e.server} at {e.host}, {e.arch}, {store}"))
    else:
        rows.append(("engine", f"MISSING: not reachable at {e.host}: {e.error}"))
    rows.append(("buildx", str(pre.buildx) if pre.buildx else f"MISSING: {pre.buildx_error}"))
    for b in pre.builders:
        mark = "*" if b.current else " "
        state = f"error: {b.error}" if b.error else b.status
        rows.append(("builder", f"{mark}{b.name} ({b.driver} driver, {state}): {', '.join(b.platforms) or '-'}"))
    if pre.builder and e.reachable and not pre.builder.error:
        multi, why = pre.multi_platform()
        can = "multi-platform in one run" if multi else "one platform per run"
        rows.append(("selected", f"{pre.builder.name}: {can} ({why})"))
        for n in pre.builder.nodes if pre.builder.driver != "docker" else ():
            declared = f"declared {', '.join(n.declared)}; " if n.declared else ""
            version = f", BuildKit {n.buildkit}" if n.buildkit else ""
            rows.append(("node", f"{n.name} ({n.endpoint}, {n.status}{version}): {declared}its own {n.native or '?'}"))
        support = dict(pre.platform_support(platforms))
        for where in pre.placement(platforms):
            node = f" on {where.node}" if len(pre.builder.nodes) > 1 else ""
            rows.append((str(where.platform), f"{support[where.platform]}{node}, Go {where.how}"))
    rows.append(("emulators", ", ".join(pre.emulators) or "none registered"))
    if registry:
        rows.append(("registry", registry))
    for problem in pre.problems():
        rows.append(("problem", problem))
    if strategy:
        rows.append(("strategy", strategy))
    return rows
