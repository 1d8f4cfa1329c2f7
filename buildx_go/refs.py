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
    r"|\[[0-9a-fA-F:]+\])(?::(?P<port>[0-9]+))?"
)
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128}")
_LOOPBACK_V4 = re.compile(r"127(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}")
_IMAGE_ID = re.compile(r"[a-f0-9]{64}")
NAME_MAX = 255  # of the repository's path, as docker normalises it (library/ counted, the host not)


def problem(text: str, repository_only: bool = False) -> str | None:
    """Why TEXT is not an image reference (a repository, with REPOSITORY_ONLY), or None."""
    if not text or not text.isascii() or not text.isprintable() or " " in text:
        return f"{text!r} is not an image reference (empty, spaces, control or non-ASCII characters)"
    if _IMAGE_ID.fullmatch(text):
        return f"{text!r} is 64 hexadecimal characters: docker reads that as an image ID, not a name"
    name, at, digest = text.partition("@")
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    tag = ""
    if colon > last_slash:
        name, tag = name[:colon], name[colon + 1 :]
    if repository_only and (at or tag):
        return f"{text!r} must be a repository, without :tag or @digest (tags go in --tag)"
    if at and not _DIGEST.fullmatch(digest):
        return f"{text!r}: the digest {digest!r} is not sha256:<64 hex> (or sha384, sha512)"
    if colon > last_slash and not _TAG.fullmatch(tag):
        return f"{text!r}: the tag {tag!r} is not [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}"
    domain, path = normalised(name)
    if len(path) > NAME_MAX:
        return f"{text!r}: the repository's path is longer than {NAME_MAX} characters"
    if (domain, path) == ("docker.io", "library/sha256"):
        return f"{text!r}: 'sha256' is not an image name (the engine refuses it: a digest's algorithm)"
    m = _DOMAIN.fullmatch(domain)
    # docker reads a first component that is no host name (ex_ample.com) as part of the path
    # when it fits the path's grammar, and then pushes to it as a host all the same
    if not m and not _PATH_COMPONENT.fullmatch(domain):
        return f"{text!r}: {domain!r} is not a registry host[:port]"
    if m and m["port"] is not None and not 0 < int(m["port"]) < 65536:  # docker takes any digits
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


def normalised(name: str) -> tuple[str, str]:
    """(registry, repository) of NAME (without tag or digest) as docker normalises it: Docker
    Hub's two names are docker.io, and its official images library/NAME."""
    domain, path = split_domain(name)
    if domain in (None, "index.docker.io"):
        domain = "docker.io"
    if domain == "docker.io" and "/" not in path:
        path = f"library/{path}"
    return domain, path


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
        domain, path = normalised(name)
        if not tag and not digest:
            return cls(domain, path, "latest")
        return cls(domain, path, tag, digest or None)

    @property
    def is_loopback(self) -> bool:
        """Whether the registry is on this host: localhost, 127.0.0.0/8 (docker's insecure
        range) or ::1 in any spelling."""
        reg = self.registry
        if reg.startswith("["):
            import ipaddress

            try:
                return ipaddress.IPv6Address(reg[1 : reg.find("]")]).is_loopback
            except ValueError:
                return False
        host = reg.rsplit(":", 1)[0]
        return host in LOOPBACK or bool(_LOOPBACK_V4.fullmatch(host))

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
