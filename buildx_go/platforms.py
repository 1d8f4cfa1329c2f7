"""Platforms: parsing, normalisation, and their Go and ELF equivalents (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from buildx_go.errors import InputError

# arch -> (ELF machine, ELF class bits, little endian)
ELF_MACHINE = {
    "amd64": (62, 64, True),  # EM_X86_64
    "arm64": (183, 64, True),  # EM_AARCH64
    "arm": (40, 32, True),  # EM_ARM
    "386": (3, 32, True),  # EM_386
    "ppc64le": (21, 64, True),  # EM_PPC64
    "s390x": (22, 64, False),  # EM_S390
    "riscv64": (243, 64, True),  # EM_RISCV
}
ELF_MACHINE_NAMES = {62: "x86-64", 183: "aarch64", 40: "arm", 3: "i386", 21: "ppc64", 22: "s390", 243: "riscv"}
# Variants each arch accepts; the first is what an absent variant means.
VARIANTS: dict[str, tuple[str | None, ...]] = {
    "amd64": (None, "v2", "v3", "v4"),
    "arm64": (None,),
    "arm": ("v7", "v6", "v5"),
    "386": (None,),
    "ppc64le": (None,),
    "s390x": (None,),
    "riscv64": (None,),
}
ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "i386": "386", "i686": "386"}
ARCH_VARIANT_ALIASES = {
    "armhf": ("arm", "v7"),
    "armel": ("arm", "v6"),
    "armv7": ("arm", "v7"),
    "armv6": ("arm", "v6"),
    "armv5": ("arm", "v5"),
}
SUPPORTED_OS = ("linux",)
# arch -> Debian's multiarch directory name (/usr/lib/<it>/: libraries, pkgconfig)
LIBRARY_TRIPLETS = {
    "amd64": "x86_64-linux-gnu",
    "arm64": "aarch64-linux-gnu",
    "arm": "arm-linux-gnueabihf",
    "386": "i386-linux-gnu",
    "ppc64le": "powerpc64le-linux-gnu",
    "s390x": "s390x-linux-gnu",
    "riscv64": "riscv64-linux-gnu",
}


@attrs.frozen(order=True)
class Platform:
    """A normalised OCI platform such as linux/arm/v7."""

    os: str
    arch: str
    variant: str | None = None

    @classmethod
    def parse(cls, text: str) -> Platform:
        """Parse and normalise ``os/arch[/variant]``; raise InputError naming the value."""
        raw = text.strip()
        parts = raw.lower().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise InputError(
                f"--platform: {raw!r} is not of the form os/arch[/variant]",
                "e.g. --platform linux/amd64,linux/arm64",
            )
        os_, arch = parts[0], parts[1]
        variant: str | None = parts[2] if len(parts) == 3 else None
        if os_ not in SUPPORTED_OS:
            raise InputError(f"--platform: {raw!r}: OS {os_!r} is not supported", "buildx-go builds linux images")
        if arch in ARCH_VARIANT_ALIASES and variant is None:
            arch, variant = ARCH_VARIANT_ALIASES[arch]
        arch = ARCH_ALIASES.get(arch, arch)
        if arch not in VARIANTS:
            raise InputError(
                f"--platform: {raw!r}: unknown architecture {arch!r}",
                "known: " + ", ".join(str(p) for p in ALL_PLATFORMS),
            )
        if arch == "arm64" and variant == "v8":
            variant = None
        if arch == "amd64" and variant == "v1":
            variant = None
        allowed = VARIANTS[arch]
        if variant is None:
            variant = allowed[0]
        if variant not in allowed:
            shown = ", ".join(v for v in allowed if v) or "none"
            raise InputError(
                f"--platform: {raw!r}: unknown variant {variant!r} for {arch}", f"variants of {arch}: {shown}"
            )
        return cls(os_, arch, variant)

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.arch, self.variant) if p)

    @property
    def go_env(self) -> dict[str, str]:
        """GOOS/GOARCH (and GOARM or GOAMD64) that compile for this platform."""
        env = {"GOOS": self.os, "GOARCH": self.arch}
        if self.arch == "arm" and self.variant:
            env["GOARM"] = self.variant.removeprefix("v")
        if self.arch == "amd64" and self.variant:
            env["GOAMD64"] = self.variant
        return env

    @property
    def suffix(self) -> str:
        """A tag-safe name: amd64, arm64, armv7, amd64v3."""
        return self.arch + (self.variant or "")

    @property
    def elf(self) -> tuple[int, int, bool]:
        """(e_machine, class bits, little endian) of a binary built for this platform."""
        return ELF_MACHINE[self.arch]


ALL_PLATFORMS = tuple(
    Platform("linux", a, v)
    for a in ("amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64")
    for v in VARIANTS[a][:1]
)


def parse_platforms(text: str | list[str] | tuple[str, ...]) -> tuple[Platform, ...]:
    """Parse a comma-separated list (or several), keeping the first of any duplicates."""
    items = [text] if isinstance(text, str) else list(text)
    out: list[Platform] = []
    for chunk in items:
        for part in chunk.split(","):
            if not part.strip():
                continue
            p = Platform.parse(part)
            if p not in out:
                out.append(p)
    if not out:
        raise InputError("--platform: no platform given", "e.g. --platform linux/amd64,linux/arm64")
    return tuple(out)


ATTESTATION = "attestation-manifest"


def entry_platform(entry: Mapping[str, Any]) -> str | None:
    """The platform of an index entry as the index states it, None for attestation manifests."""
    if (entry.get("annotations") or {}).get("vnd.docker.reference.type") == ATTESTATION:
        return None
    p = entry.get("platform") or {}
    if p.get("os") in (None, "unknown"):
        return None
    return str(Platform(p["os"], p["architecture"], p.get("variant")))


def index_platforms(index: Mapping[str, Any]) -> dict[Platform, str]:
    """Each image of an OCI index (or Docker manifest list) by its normalised platform -> its
    manifest digest. Attestation manifests and platforms buildx-go does not build are left
    out; of duplicates, the first wins (as registries and BuildKit pick)."""
    out: dict[Platform, str] = {}
    for entry in index.get("manifests") or []:
        try:
            named = entry_platform(entry)
            platform = Platform.parse(named) if named and entry.get("digest") else None
        except (InputError, KeyError):  # windows, an unknown arch, no architecture
            continue
        if platform is not None:
            out.setdefault(platform, entry["digest"])
    return out
