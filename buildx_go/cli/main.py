"""argv -> Settings -> facts -> Decision -> Plan -> run. Maps BuildxGoError to exit codes.

No decision is made here: facts.py gathers, decide.py decides, plan.py plans, run.py runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from buildx_go import __version__
from buildx_go.ci import CI, detect
from buildx_go.cli.effects import Effects, cache_dir, work_dir
from buildx_go.cli.inputs import check_before_engine, check_format, named_by_source
from buildx_go.cli.paths import check_cache_folder, check_inside
from buildx_go.config import OPTION_NAMES, Settings, load_config_file, resolve
from buildx_go.engine import interrupt
from buildx_go.engine.builder import BuilderCaps
from buildx_go.errors import BuildxGoError, Interrupted
from buildx_go.log import activate, configure, get_logger
from buildx_go.options import BUILDING, Parser, add_options

if TYPE_CHECKING:
    from buildx_go.engine.builder import Preflight
    from buildx_go.planning.plan import Plan
    from buildx_go.run.uptodate import Found

EPILOG = """exit codes: 0 ok, 2 bad input or configuration, 3 environment (engine, buildx,
builder), 4 build failed, 5 registry (login, push, reads), 6 verification failed,
130 interrupted. Every option can also be set as BUILDX_GO_<OPTION> (e.g. BUILDX_GO_PLATFORM)
or in the project's .buildx-go.toml; the command line wins, then the environment, then the file.
Environment only: BUILDX_GO_WORKDIR=DIR (the run's files go to DIR, kept); SOURCE_DATE_EPOCH
(the image's time; default: the commit's)."""

SUBCOMMANDS = {
    "build": "build (and push, and verify) the image",
    "plan": "show what build would do, and why",
    "dockerfile": "print the Dockerfile BuildKit would get",
    "doctor": "what the engine, buildx and the builder can do here (exit 3 if something is missing)",
    "verify": "check a published image: platforms, configs, layers, binaries",
    "completion": "print a shell completion script (bash, zsh or fish)",
    "install-plugin": "make buildx-go a docker CLI plugin: `docker buildxgo build ...`",
}


def parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    top = Parser(
        prog="docker buildxgo" if os.path.basename(sys.argv[0]) == "docker-buildxgo" else "buildx-go",
        description="Build a Go project into a correct, verified multi-architecture image with docker buildx.",
        epilog=EPILOG,
        formatter_class=fmt,
    )
    top.add_argument("--version", action="version", version=f"buildx-go {__version__}")
    add_options(top, Settings, None)
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    for name, help_text in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=EPILOG, formatter_class=fmt)
        if name in BUILDING:
            p.add_argument("path", nargs="?", default=".", help="the Go module root (default: .)")
        elif name == "verify":
            p.add_argument("ref", metavar="IMAGE", help="image reference, e.g. localhost:5000/hello:1.0.0")
            p.add_argument(
                "--rebuild",
                dest="rebuild_path",
                metavar="PATH",
                help="build the project at PATH for IMAGE's platforms (pushing nothing) and compare each image "
                "with the published one: exit 6 naming what differs (options from its .buildx-go.toml and BUILDX_GO_*)",
            )
        elif name == "completion":
            p.add_argument("shell", choices=("bash", "zsh", "fish"), help="the shell")
        elif name == "install-plugin":
            p.add_argument("dir", nargs="?", help="docker's plugin directory (default: ~/.docker/cli-plugins)")
        add_options(p, Settings, name)
    return top


@contextmanager
def reported(debug: list[bool], ci: CI | None) -> Iterator[list[int]]:
    """Turn BuildxGoError into `ERROR ...` + hint and its exit code (tracebacks only with
    --debug, which DEBUG[0] holds: the config file may set it later); in CI, an annotation too
    (on the Dockerfile line when known)."""
    code = [0]
    try:
        yield code
    except BuildxGoError as exc:
        activate()
        if interrupt.caught() and not isinstance(exc, Interrupted):  # a child stopped by the interrupt
            exc = Interrupted(f"interrupted by {interrupt.caught()}: {exc.message}", "nothing started after it")
        get_logger().error("error", error=exc.message, exit_code=exc.exit_code)
        print(f"ERROR {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  hint: {exc.hint}", file=sys.stderr)
        if ci is not None:  # an annotation, and the job summary says what failed
            ci.report_failure(exc.message, exc.exit_code, exc.location, sys.stderr)
        if debug[0]:  # the traceback too, and still the documented exit code
            import traceback

            traceback.print_exc(file=sys.stderr)
        code[0] = exc.exit_code
    except KeyboardInterrupt:
        print("ERROR interrupted by SIGINT", file=sys.stderr)
        code[0] = Interrupted.exit_code


def main(
    argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None, effects: Effects | None = None
) -> int:
    env = os.environ if env is None else env
    effects = effects or Effects()
    ns = parser().parse_args(argv)
    given = {name: getattr(ns, name, None) for name in OPTION_NAMES}
    debug = [bool(given["debug"]) or env.get("BUILDX_GO_DEBUG", "").lower() in ("1", "true", "yes", "on")]
    log_format = given["log_format"] or env.get("BUILDX_GO_LOG_FORMAT") or "auto"
    deferred = ns.command == "build" and not given["dry_run"]  # structlog's import overlaps the build
    configure(log_format, debug=debug[0], defer=deferred, env=env)
    try:
        with reported(debug, detect(env)) as code:
            root = Path(ns.path).resolve() if ns.command in BUILDING else Path.cwd()
            file_values = load_config_file(root, effects.files) if effects.files.is_dir(root) else {}
            settings = resolve(given, env, file_values, checked=ns.command in BUILDING)
            debug[0], quiet = settings.debug, settings.progress == "quiet"  # the config file may set them
            configure(settings.log_format, debug=debug[0], defer=deferred, env=env, quiet=quiet)
            env = {  # for RegistryClient
                **env,
                "BUILDX_GO_REGISTRY_TIMEOUT": str(settings.registry_timeout),
                "BUILDX_GO_CREDENTIAL_HELPER_TIMEOUT": str(settings.credential_helper_timeout),
            }
            return run_command(ns, settings, env, effects, root)
        return code[0]
    finally:
        activate()  # flush anything still buffered


def run_command(ns: argparse.Namespace, s: Settings, env: Mapping[str, str], effects: Effects, root: Path) -> int:
    check_format(ns.command, s)
    if ns.command == "verify":
        from buildx_go.cli.verifier import verify_command, verify_rebuild

        if ns.rebuild_path:
            return verify_rebuild(ns.ref, ns.rebuild_path, s, env, effects)
        return verify_command(ns.ref, s, env, effects)
    if ns.command == "doctor":
        from buildx_go.cli.doctor import doctor

        return doctor(s, env, effects)
    if ns.command == "completion":
        from buildx_go.cli.completion import script

        sys.stdout.write(script(ns.shell, parser()))
        return 0
    if ns.command == "install-plugin":
        from buildx_go.cli.plugin import install

        print(install(env, ns.dir))
        return 0
    with named_by_source(s):
        return project_command(ns.command, s, env, effects, root)


def project_command(command: str, s: Settings, env: Mapping[str, str], effects: Effects, root: Path) -> int:
    """build, plan and dockerfile: facts -> decision -> plan -> (print | run)."""
    from buildx_go.cli.facts import machine_facts, project_facts
    from buildx_go.cli.report import log_dockerfile, log_plan, print_plan
    from buildx_go.planning.decide import check_inputs, choose_dockerfile, decide, dockerfile_lints
    from buildx_go.planning.plan import make_plan

    project = project_facts(s, root, effects, run_commands=command == "build" and not s.dry_run, env=env)
    check_inputs(s, project, command)
    check_before_engine(s, env)
    if command == "dockerfile":
        choice, mains, changes = choose_dockerfile(s, project)
        log_dockerfile(choice, changes, dockerfile_lints(s, project, choice, mains), detect(env))
        sys.stdout.write(choice.text)
        return 0
    workdir = work_dir(env, root)
    bake = s.format == "bake"
    if bake:
        from buildx_go.cli.bake import BAKE_DIR, BAKE_FILES

        workdir = str(root / BAKE_DIR)  # a stable path, named by the bake file
        check_inside(root, [Path(BAKE_DIR, name) for name in BAKE_FILES])
    check_cache_folder(cache_dir(env))
    from buildx_go.cli.rerun import published_already, with_inputs

    published, known = (
        (None, None) if bake or command != "build" else published_already(s, project, env, effects, workdir)
    )
    if published is not None:  # nothing to build: the builder is not asked about
        return build(published.plan, s, env, effects, None, published.found)
    machine = machine_facts(s, project, env, effects, workdir, known=known)
    decision = decide(s, project, machine)
    if bake:  # a bake file is for any builder: a plain push (tags by BuildKit), cache export kept
        decision = attrs.evolve(decision, caps=BuilderCaps(cache_export=True))
    log_dockerfile(decision.dockerfile, decision.adaptations, decision.lints, detect(env))
    plan = make_plan(decision, workdir)
    if not bake:
        plan = with_inputs(plan)
    log_plan(decision, plan)
    if bake:
        from buildx_go.cli.bake import print_bake

        print_bake(plan, machine.builder.buildx if machine.builder else None)
    elif command == "plan":
        print_plan(plan, s.format)
    elif s.dry_run:
        for c in plan.commands:
            print(c.shell())
    else:
        return build(plan, s, env, effects, machine.builder)
    return 0


def build(
    plan: Plan,
    s: Settings,
    env: Mapping[str, str],
    effects: Effects,
    preflight: Preflight | None,
    known: Found | None = None,
) -> int:
    from buildx_go.cli.report import failed_results, print_outcome, publish_results
    from buildx_go.run.execute import execute

    try:
        outcome = execute(
            plan, effects.docker(env), lambda: effects.registry(env), env, preflight, cache_dir(env), s.rebuild, known
        )
    except BuildxGoError as exc:  # the metadata file says what failed (the job summary: reported)
        failed_results(plan, exc, s.metadata_file)
        raise
    publish_results(plan, outcome, s.metadata_file, detect(env))
    if not env.get("BUILDX_GO_WORKDIR"):  # kept after a failure, to look into
        shutil.rmtree(Path(plan.metadata_file).parent, ignore_errors=True)
    activate()  # the events first: the result is the last line
    print_outcome(outcome, s.format)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
