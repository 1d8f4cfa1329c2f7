"""What the user gave that only the engine would otherwise judge, judged first: builder and
node values, the network mode, --secret and --ssh specs, the metadata file's folder and
SOURCE_DATE_EPOCH. Each problem is exit 2 naming where the value came from; nothing has
asked docker anything yet."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from buildx_go.cli.paths import unusable_folder
from buildx_go.config import Settings, secret_fields
from buildx_go.dockerfile.check import NETWORKS
from buildx_go.errors import InputError

# a buildx builder or docker context name (buildx --builder takes either)
BUILDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,199}")


def check_before_engine(s: Settings, env: Mapping[str, str]) -> None:
    where = s.sources.get
    if s.builder and not BUILDER_NAME.fullmatch(s.builder):
        raise InputError(
            f"{where('builder', '--builder')}: {s.builder[:60]!r} is not a builder or context name",
            "letters, digits, and . _ - + after the first character",
        )
    if s.network and s.network not in NETWORKS:
        raise InputError(
            f"{where('network', '--network')}: {s.network[:60]!r} is not a network mode", "default, none or host"
        )
    check_nodes(s)
    check_build_args(s)
    check_secrets(s, env)
    check_ssh(s, env)
    if s.metadata_file:
        why = unusable_folder(Path(s.metadata_file).parent)
        if why:
            raise InputError(f"{where('metadata_file', '--metadata-file')}: {why}", "choose a path you can write")


# docker's SecretsUsedInArgOrEnv lint: names that hold credentials
SECRET_ARG = re.compile(
    r"(?i)(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)"
)


def check_build_args(s: Settings) -> None:
    """BuildKit records every build arg's value in the provenance attestation pushed with the
    image: a credential given as one (by its name, or a URL with a user and token) would be
    readable by anyone who can pull it. Refused while provenance is on."""
    from buildx_go.redact import redact_text

    if not s.provenance:
        return
    for name, value in s.build_args().items():
        if SECRET_ARG.search(name) or redact_text(value) != value:
            raise InputError(
                f"{s.sources.get('build_arg', '--build-arg')} {name}: its value would be recorded in the image's "
                "provenance, readable by anyone who can pull the image",
                f"pass it as a secret (--secret id={name.lower()},env={name}, read in a RUN --mount=type=secret), "
                "or --no-provenance",
            )


def check_format(command: str, s: Settings) -> None:
    """--format bake is plan's alone."""
    if s.format == "bake" and command != "plan":
        raise InputError(
            f"{s.sources.get('format', '--format')} bake: {command} has no bake form",
            "buildx-go plan --format bake > docker-bake.json",
        )


def check_nodes(s: Settings) -> None:
    from buildx_go.engine.builder import NodeSpec

    where = s.sources.get("node", "--node")
    if s.node and not s.create_builder:
        raise InputError(f"{where}: nodes are for a builder buildx-go creates", "add --create-builder, or drop --node")
    for text in s.node:
        try:
            NodeSpec.parse(text)
        except InputError as exc:
            message = re.sub(r"^--(node|platform)\b", where, exc.message)
            raise InputError(message if message.startswith(where) else f"{where}: {message}", exc.hint) from None
        endpoint = text.split(";")[0].partition("=")[0]
        scheme, sep, rest = endpoint.partition("://")
        if sep and (scheme not in ("tcp", "ssh") or not re.fullmatch(r"[^\s/:]+(:\d{1,5})?(/.*)?", rest)):
            raise InputError(f"{where}: {endpoint!r} is not a tcp:// or ssh:// address", "e.g. tcp://buildkitd:1234")
        port = re.search(r":(\d+)$", rest.split("/")[0]) if sep else None
        if port and not 0 < int(port.group(1)) < 65536:
            raise InputError(f"{where}: {endpoint!r}: port {port.group(1)} out of range", "a port from 1 to 65535")


def check_secrets(s: Settings, env: Mapping[str, str]) -> None:
    where = s.sources.get("secret", "--secret")
    seen: set[str] = set()
    for spec in s.secret:
        fields = secret_fields(spec)
        name = fields["id"]
        if name in seen:
            raise InputError(f"{where}: id={name} is given twice", "one --secret per id")
        seen.add(name)
        kind = fields.get("type")
        if kind is not None and kind not in ("file", "env"):
            raise InputError(f"{where} id={name}: type={kind!r} is neither file nor env", "type=file or type=env")
        for key in ("src", "source", "env"):
            if key in fields and not fields[key]:
                raise InputError(f"{where} id={name}: {key}= is empty", f"give {key}=, or leave the key out")
        if len([k for k in spec.split(",") if k.partition("=")[0] in ("src", "source")]) > 1:
            raise InputError(f"{where} id={name}: more than one src=", "one file per secret")


def check_ssh(s: Settings, env: Mapping[str, str]) -> None:
    where = s.sources.get("ssh", "--ssh")
    for spec in s.ssh:
        name, eq, paths = spec.partition("=")
        if not eq:
            if not env.get("SSH_AUTH_SOCK"):
                raise InputError(f"{where}: {name} uses the ssh agent, and SSH_AUTH_SOCK is not set", "start ssh-agent")
            continue
        for path in paths.split(","):
            if not os.path.exists(os.path.expanduser(path)):
                raise InputError(f"{where}: {name}={path}: no such socket or key file", "give an agent socket or a key")
            if os.path.isdir(os.path.expanduser(path)):
                raise InputError(f"{where}: {name}={path}: is a folder", "give an agent socket or a key file")


@contextmanager
def named_by_source(s: Settings) -> Iterator[None]:
    """An InputError that names an option by its flag (``--main: ...``) names where the value
    came from instead, when that was the environment or .buildx-go.toml."""
    try:
        yield
    except InputError as exc:
        m = re.match(r"--([a-z][a-z-]*)(?=[:\s])", exc.message)
        source = s.sources.get(m.group(1).replace("-", "_"), "") if m else ""
        if m and source and not source.startswith("--") and source != "default":
            exc.message = source + exc.message[m.end() :]
            exc.args = (exc.message,)
        raise
