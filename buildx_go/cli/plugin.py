"""buildx-go as a docker CLI plugin: `docker buildxgo build .`

Docker plugin names must match ^[a-z][a-z0-9]*$, so the plugin is `buildxgo` (the console
script `docker-buildxgo`; `buildx-go install-plugin` links it into ~/.docker/cli-plugins).
The docker CLI runs a plugin with its own whole argv (`docker --context X buildxgo build .`
-> `docker-buildxgo --context X buildxgo build .`): docker's global options before the
plugin's name become the environment docker reads (DOCKER_CONTEXT, DOCKER_HOST, ...), so
that every docker command buildx-go runs talks to the same engine.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from buildx_go import __version__

NAME = "buildxgo"
METADATA = {
    "SchemaVersion": "0.1.0",
    "Vendor": "buildx-go",
    "Version": __version__,
    "ShortDescription": "Build a Go project into a verified multi-architecture image",
}
# docker's global options that take a value, and the environment variable each one is
_WITH_VALUE = {
    "--context": "DOCKER_CONTEXT",
    "-c": "DOCKER_CONTEXT",
    "--host": "DOCKER_HOST",
    "-H": "DOCKER_HOST",
    "--config": "DOCKER_CONFIG",
    "--log-level": None,
    "-l": None,
    "--tlscacert": "DOCKER_CERT_PATH",
    "--tlscert": None,
    "--tlskey": None,
}
_FLAGS = {"--debug": None, "-D": None, "--tls": None, "--tlsverify": "DOCKER_TLS_VERIFY"}


def split_docker_args(argv: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """(environment from docker's global options, buildx-go's own arguments) of a plugin
    call; a direct call (no plugin name among the arguments) is all buildx-go's."""
    args = list(argv)
    if NAME not in args:
        return {}, args
    env: dict[str, str] = {}
    i = 0
    while i < len(args) and args[i] != NAME:
        arg, value = args[i], None
        if "=" in arg and arg.startswith("-"):
            arg, value = arg.split("=", 1)
        if arg in _WITH_VALUE:
            if value is None:
                i += 1
                value = args[i] if i < len(args) else ""
            target = _WITH_VALUE[arg]
            if target == "DOCKER_CERT_PATH":
                value = str(Path(value).parent)
            if target:
                env[target] = value
        elif _FLAGS.get(arg):
            env[str(_FLAGS[arg])] = "1"
        i += 1
    return env, args[i + 1 :]


def entry() -> None:
    """The `docker-buildxgo` console script."""
    if sys.argv[1:2] == ["docker-cli-plugin-metadata"]:
        print(json.dumps(METADATA))
        sys.exit(0)
    from buildx_go.cli.launch import run

    extra, rest = split_docker_args(sys.argv[1:])
    run(rest or ["--help"], extra)  # `docker buildxgo` alone: its help, as `docker buildx` does


def install(env: Mapping[str, str], target_dir: str | None = None) -> Path:
    """Link `docker-buildxgo` (beside this Python's scripts) into docker's plugin directory
    ($DOCKER_CONFIG/cli-plugins, else ~/.docker/cli-plugins); the link's path."""
    from buildx_go.engine.stamps import docker_config
    from buildx_go.errors import EngineError

    script = Path(sys.executable).parent / f"docker-{NAME}"
    if not script.is_file():
        found = shutil.which(f"docker-{NAME}", path=env.get("PATH"))
        if not found:
            raise EngineError(f"install-plugin: docker-{NAME} is not installed", "pip install buildx-go (it ships it)")
        script = Path(found)
    config = Path(docker_config(env))
    plugins = Path(target_dir) if target_dir else config / "cli-plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    link = plugins / f"docker-{NAME}"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(script.resolve())
    return link
