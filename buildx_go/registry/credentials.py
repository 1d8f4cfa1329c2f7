"""Registry credentials found exactly where docker finds them (the docker config).

Order, as the docker CLI does it for a registry host: ``credHelpers[host]``, else
``credsStore`` (a configured helper is the only place docker looks), else the ``auths``
entry (matched by key, then by the key's host name).
A helper is ``docker-credential-NAME get`` with the server address on stdin, answering
``{"ServerURL", "Username", "Secret"}``; a Username of ``<token>`` makes Secret an identity
(refresh) token. Docker Hub is known by several names; its key is ``https://index.docker.io/v1/``.

Secrets stay in memory: ``Credentials`` never shows them in its repr, nothing here logs or
writes them, and a helper's own error output is not repeated (it may echo what it was given).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from buildx_go.engine.stamps import docker_config
from buildx_go.errors import RegistryError

HUB_INDEX = "https://index.docker.io/v1/"
HUB_NAMES = ("docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com")
TOKEN_USERNAME = "<token>"
HELPER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
HELPER_TIMEOUT = 20.0  # --credential-helper-timeout (BUILDX_GO_CREDENTIAL_HELPER_TIMEOUT)
TIMED_OUT = 124  # the runner's exit code for a helper that did not answer in time
NOT_FOUND = "credentials not found"  # docker-credential-helpers' own "nothing stored" message

# (argv, stdin, timeout) -> (exit code, stdout); the one effect of this module, replaced in tests.
HelperRunner = Callable[[list[str], str, float], tuple[int, str]]


@attrs.frozen
class Credentials:
    """What to present to REGISTRY. ``source`` says where it came from (never the secret)."""

    source: str  # e.g. "credential helper 'ecr-login'", "auths entry 'localhost:5001'"
    username: str | None = attrs.field(default=None, repr=False)
    password: str | None = attrs.field(default=None, repr=False)
    identity_token: str | None = attrs.field(default=None, repr=False)  # an OAuth2 refresh token
    registry_token: str | None = attrs.field(default=None, repr=False)  # a bearer token as is

    def basic(self) -> str | None:
        """The Authorization header value for Basic auth, if there is a username and password."""
        if self.username is None or self.password is None:
            return None
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()

    def secrets(self) -> tuple[str, ...]:
        """Every secret value (for redaction by callers that print foreign text)."""
        values = [self.password, self.identity_token, self.registry_token]
        basic = self.basic()
        if basic:
            values.append(basic.removeprefix("Basic "))
        return tuple(v for v in values if v)


def server_address(registry: str) -> str:
    """The name docker stores REGISTRY's login under: Docker Hub's index URL, else the host."""
    return HUB_INDEX if registry in HUB_NAMES else registry


def hostname(key: str) -> str:
    """An ``auths`` key as the host it is for (``https://host/v1/`` -> ``host``)."""
    return key.removeprefix("https://").removeprefix("http://").split("/")[0]


def config_dir(env: Mapping[str, str]) -> Path:
    return Path(docker_config(env))


def read_config(env: Mapping[str, str]) -> dict[str, Any]:
    """The docker config (``$DOCKER_CONFIG/config.json``), {} if absent; unreadable is exit 5."""
    path = config_dir(env) / "config.json"
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError(
            f"docker config {path}: cannot be read ({type(exc).__name__})", "fix or remove it"
        ) from None
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError:
        raise RegistryError(f"docker config {path}: not valid JSON", "fix it (docker login rewrites it)") from None
    return data if isinstance(data, dict) else {}


def helper_for(config: Mapping[str, Any], registry: str) -> str | None:
    """The credential helper docker would ask for REGISTRY: credHelpers, else credsStore."""
    helpers = config.get("credHelpers") or {}
    if isinstance(helpers, dict):
        for key in (registry, server_address(registry)):
            if isinstance(helpers.get(key), str) and helpers[key]:
                return str(helpers[key])
    store = config.get("credsStore")
    return str(store) if isinstance(store, str) and store else None


def auths_entry(config: Mapping[str, Any], registry: str) -> tuple[str, dict[str, Any]] | None:
    """(key, entry) of REGISTRY in ``auths``: the exact key first, then any key naming its host."""
    auths = config.get("auths") or {}
    if not isinstance(auths, dict):
        return None
    wanted = server_address(registry)
    names = {registry, wanted, hostname(wanted)} | (set(HUB_NAMES) if wanted == HUB_INDEX else set())
    for key in [wanted, registry, *auths]:
        entry = auths.get(key)
        if isinstance(entry, dict) and (key in (wanted, registry) or hostname(key) in names):
            return key, entry
    return None


def from_auths_entry(key: str, entry: Mapping[str, Any]) -> Credentials | None:
    """Credentials of one ``auths`` entry (``auth`` base64 user:password, or username and
    password, plus ``identitytoken`` / ``registrytoken``); None when it holds none (as the
    entries docker writes beside a credsStore)."""
    source = f"auths entry {key!r} in the docker config"
    user, password = entry.get("username"), entry.get("password")
    if entry.get("auth"):
        try:
            user, _, password = base64.b64decode(str(entry["auth"]), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise RegistryError(f"{source}: `auth` is not base64 of user:password", f"docker login {key}") from None
    identity = entry.get("identitytoken") or None
    registry_token = entry.get("registrytoken") or None
    if not (user or identity or registry_token):
        return None
    return Credentials(
        source,
        str(user) if user else None,
        str(password) if password is not None else None,
        str(identity) if identity else None,
        str(registry_token) if registry_token else None,
    )


def run_helper(argv: list[str], stdin: str, timeout: float = HELPER_TIMEOUT) -> tuple[int, str]:
    try:
        proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        return 127, ""
    except subprocess.TimeoutExpired:
        return TIMED_OUT, ""
    except OSError:
        return 126, ""
    return proc.returncode, proc.stdout


def from_helper(
    helper: str, registry: str, run: HelperRunner = run_helper, timeout: float = HELPER_TIMEOUT
) -> Credentials | None:
    """Ask ``docker-credential-HELPER get`` for REGISTRY; None when it has nothing stored
    (it says so as docker's helpers do). A helper that is missing, fails otherwise, prints
    what is not JSON or does not answer within TIMEOUT is exit 5, naming it: docker would
    fail the same way, only later."""
    source = f"credential helper {helper!r}"
    if not HELPER_NAME.match(helper):
        raise RegistryError(f"docker config: credential helper name {helper!r} is not valid", "fix credsStore")
    code, out = run([f"docker-credential-{helper}", "get"], server_address(registry), timeout)
    if code == 127:
        raise RegistryError(
            f"{source}: docker-credential-{helper} is not on PATH (asked for {registry})",
            f"install it, or change credsStore/credHelpers in {config_dir(os.environ) / 'config.json'}",
        )
    if code == TIMED_OUT:
        raise RegistryError(
            f"{source}: docker-credential-{helper} did not answer within {timeout:g} s (asked for {registry})",
            "check the helper (a locked keychain waits for a password); --credential-helper-timeout sets the wait",
        )
    if code != 0:
        if NOT_FOUND in out.lower():
            return None  # "credentials not found in native keychain": the helper holds no login
        # Its output is not shown: some helpers echo what they were given.
        raise RegistryError(
            f"{source}: docker-credential-{helper} failed (exit {code}) when asked for {registry}",
            f"run `echo {server_address(registry)} | docker-credential-{helper} get` to see why; or docker login",
        )
    try:
        data = json.loads(out)
        user, secret = str(data.get("Username") or ""), str(data.get("Secret") or "")
    except (ValueError, AttributeError):
        raise RegistryError(f"{source}: its answer for {registry} is not JSON", "check the helper") from None
    if not secret:
        return None
    if user == TOKEN_USERNAME:
        return Credentials(source, identity_token=secret)
    return Credentials(source, user, secret)


def lookup(env: Mapping[str, str], registry: str, run: HelperRunner = run_helper) -> Credentials | None:
    """The credentials docker would use for REGISTRY, or None (anonymous)."""
    config = read_config(env)
    helper = helper_for(config, registry)
    if helper:  # as docker: a configured helper is the only place looked at
        timeout = float(env.get("BUILDX_GO_CREDENTIAL_HELPER_TIMEOUT") or HELPER_TIMEOUT)
        return from_helper(helper, registry, run, timeout)
    entry = auths_entry(config, registry)
    return from_auths_entry(*entry) if entry else None
