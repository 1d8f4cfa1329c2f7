"""Image references (pure: no network, cheap to import for planning).

The grammar is distribution/reference's (what docker and BuildKit accept): a name of
lower-case path components, optionally behind a registry host[:port], then :tag and/or
@digest. Checked here so that a reference never reaches a command or a Dockerfile unless
it is one."""

from __future__ import annotations

import re

import attrs

from buildx_go.errors import InputError

LOOPBACK = ("localhost", "127.0.0.1", "[::1]")
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN = re.compile(
    r"(?P<host>(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*"
    r"|\[[0-9a-fA-F:.]+\])(?::(?P<port>[0-9]{1,5}))?"
)
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128}")
NAME_MAX = 255


def problem(text: str, repository_only: bool = False) -> str | None:
    """Why TEXT is not an image reference (a repository, with REPOSITORY_ONLY), or None."""
    if not text or not text.isascii() or not text.isprintable() or " " in text:
        return f"{text!r} is not an image reference (empty, spaces, control or non-ASCII characters)"
    name, at, digest = text.partition("@")
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    tag = ""
    if colon > last_slash:
        name, tag = name[:colon], name[colon + 1 :]
    if repository_only and (at or tag):
        return f"{text!r} must be a repository, without :tag or @digest (tags go in --tag)"
    if at and not _DIGEST.fullmatch(digest):
        return f"{text!r}: the digest {digest!r} is not sha256:<64 hex> or sha512:<128 hex>"
    if colon > last_slash and not _TAG.fullmatch(tag):
        return f"{text!r}: the tag {tag!r} is not [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}"
    if len(name) > NAME_MAX:
        return f"{text!r}: the name is longer than {NAME_MAX} characters"
    domain, path = split_domain(name)
    if domain is not None:
        m = _DOMAIN.fullmatch(domain)
        # docker reads a first component that is no host name (ex_ample.com) as part of the
        # path when it fits the path's grammar, and then pushes to it as a host all the same
        if not m and not _PATH_COMPONENT.fullmatch(domain):
            return f"{text!r}: {domain!r} is not a registry host[:port]"
        if m and m["port"] is not None and not 0 < int(m["port"]) < 65536:
            return f"{text!r}: the port {m['port']} is out of range (1-65535)"
    bad = [c for c in path.split("/") if not _PATH_COMPONENT.fullmatch(c)]
    if bad:
        return (
            f"{text!r}: the path component {bad[0]!r} is not lower-case letters and digits "
            "separated by '.', '_', '__' or '-'"
        )
    return None


def split_domain(name: str) -> tuple[str | None, str]:
    """(registry or None, path): the first component is a registry when it has a '.' or a
    ':', is 'localhost', or has upper-case letters (docker's rule)."""
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost" or first.lower() != first):
        return first, rest
    return None, name


@attrs.frozen
class Reference:
    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> Reference:
        why = problem(text)
        if why:
            raise InputError(f"IMAGE: {why}", "e.g. localhost:5000/app:1.0.0")
        name, _, digest = text.partition("@")
        tag = None
        if name.rfind(":") > name.rfind("/"):
            name, _, tag = name.rpartition(":")
        domain, path = split_domain(name)
        if domain in (None, "index.docker.io"):  # docker's normalisation: Docker Hub's two names
            domain = "docker.io"
        if domain == "docker.io" and "/" not in path:  # its official images
            path = f"library/{path}"
        if not tag and not digest:
            return cls(domain, path, "latest")
        return cls(domain, path, tag, digest or None)

    @property
    def is_loopback(self) -> bool:
        return self.registry.rsplit(":", 1)[0] in LOOPBACK or self.registry in LOOPBACK

    def with_digest(self, digest: str) -> Reference:
        return attrs.evolve(self, tag=None, digest=digest)

    def __str__(self) -> str:
        out = f"{self.registry}/{self.repository}"
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")  # ASCII only, as distribution's grammar


def valid_tag(tag: str) -> bool:
    return bool(TAG.match(tag))
