"""Which moving tags (latest, 1, 1.2) a version may take, by SemVer 2.0.0 precedence (pure).

Tags may carry a ``v`` prefix (``v1.2.3``). Docker tags cannot hold ``+``, so build metadata
is written with ``_`` (``1.2.3_build.5``, as Helm does for OCI tags) and read back either way;
build metadata never counts in precedence. Only releases hold a moving tag back: not other
tags (``latest``, ``1.2``, ``buildcache``) nor pre-releases (the fallback's ``1.2.3-amd64``).
"""

from __future__ import annotations

import re

import attrs

_NUM = r"0|[1-9]\d*"
_PRE_ID = r"0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*"
SEMVER = re.compile(
    rf"^(?P<prefix>v?)(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})"
    rf"(?:-(?P<pre>(?:{_PRE_ID})(?:\.(?:{_PRE_ID}))*))?"
    r"(?:[+_](?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)


@attrs.frozen
class SemVer:
    major: int
    minor: int
    patch: int
    pre: tuple[str, ...] = ()
    build: str = ""
    prefix: str = ""  # "v" or ""

    @classmethod
    def parse(cls, text: str) -> SemVer | None:
        m = SEMVER.match(text.strip())
        if not m:
            return None
        pre = tuple(m["pre"].split(".")) if m["pre"] else ()
        return cls(int(m["major"]), int(m["minor"]), int(m["patch"]), pre, m["build"] or "", m["prefix"])

    @property
    def is_release(self) -> bool:
        return not self.pre

    def precedence(self) -> tuple[object, ...]:
        """A sort key: SemVer 2.0.0 section 11 (build metadata ignored)."""
        if not self.pre:
            return (self.major, self.minor, self.patch, 1)
        ids = tuple((0, int(i), "") if i.isdigit() else (1, 0, i) for i in self.pre)
        return (self.major, self.minor, self.patch, 0, ids)

    def __str__(self) -> str:
        out = f"{self.prefix}{self.major}.{self.minor}.{self.patch}"
        if self.pre:
            out += "-" + ".".join(self.pre)
        return out + (f"+{self.build}" if self.build else "")


def as_tag(version: str) -> str:
    """A version as a docker tag: build metadata's ``+`` becomes ``_``."""
    return version.replace("+", "_")


def moving_tags(version: str, existing: list[str] | None, latest: bool, floating: bool) -> tuple[tuple[str, ...], str]:
    """(tags to move, why) for VERSION given the repository's EXISTING tags (None: unknown).

    A moving tag is only moved by a SemVer release (no pre-release) that is not older than any
    release it would cover: ``latest`` covers all, ``1.2`` covers 1.2.*, ``1`` covers 1.*
    (``v1``/``v1.2`` when the version is written ``v1.2.3``).
    """
    if not (latest or floating):
        return (), "no --latest / --floating"
    v = SemVer.parse(version)
    if v is None:
        return (), f"{version} is not a SemVer version MAJOR.MINOR.PATCH: moving tags left alone"
    if not v.is_release:
        return (), f"{version} is a SemVer pre-release: moving tags left alone"
    others = [(tag, s) for tag in existing or [] if (s := SemVer.parse(tag)) and s.is_release]
    wanted: list[tuple[str, list[tuple[str, SemVer]]]] = []
    if floating:
        wanted.append((f"{v.prefix}{v.major}", [o for o in others if o[1].major == v.major]))
        same_minor = [o for o in others if (o[1].major, o[1].minor) == (v.major, v.minor)]
        wanted.append((f"{v.prefix}{v.major}.{v.minor}", same_minor))
    if latest:
        wanted.append(("latest", others))
    moved, held = [], []
    for tag, peers in wanted:
        newer = max(peers, key=lambda o: o[1].precedence(), default=None)
        if newer is not None and newer[1].precedence() > v.precedence():
            held.append(f"{tag} (newer {newer[0]} exists)")
        else:
            moved.append(tag)
    why = "a SemVer release, not older than existing tags"
    if existing is None:
        why += " (the registry's tags could not be listed)"
    if held:
        why += "; held: " + ", ".join(held)
    return tuple(moved), why
