"""Image references (pure: no network, cheap to import for planning)."""

from __future__ import annotations

import re

import attrs

from buildx_go.errors import InputError

LOOPBACK = ("localhost", "127.0.0.1", "[::1]")
_REF = re.compile(
    r"^(?P<name>[a-z0-9][a-z0-9._/:-]*?)(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


@attrs.frozen
class Reference:
    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> Reference:
        m = _REF.match(text)
        if not m:
            raise InputError(f"IMAGE: {text!r} is not an image reference", "e.g. localhost:5000/app:1.0.0")
        name = m["name"]
        first, _, rest = name.partition("/")
        if rest and ("." in first or ":" in first or first == "localhost"):
            registry, repo = first, rest
        else:
            registry, repo = "docker.io", name if "/" in name else f"library/{name}"
        if not m["tag"] and not m["digest"]:
            return cls(registry, repo, "latest")
        return cls(registry, repo, m["tag"], m["digest"])

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
