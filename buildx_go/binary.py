"""What a compiled binary is: ELF header and Go build info (pure, bytes in)."""

from __future__ import annotations

import struct

import attrs

from buildx_go.platforms import ELF_MACHINE_NAMES, Platform

EF_ARM_EABI_MASK = 0xFF000000
EF_ARM_EABI_VER5 = 0x05000000
EF_ARM_ABI_FLOAT_HARD = 0x00000400
BUILDINFO_MAGIC = b"\xff Go buildinf:"


@attrs.frozen
class BinaryFacts:
    bits: int
    little_endian: bool
    machine: int
    flags: int
    go_version: str | None
    go_settings: dict[str, str] = attrs.field(factory=dict)

    @classmethod
    def from_bytes(cls, data: bytes) -> BinaryFacts | None:
        """Facts of an ELF binary, or None if DATA is not ELF."""
        if len(data) < 52 or data[:4] != b"\x7fELF":
            return None
        bits = {1: 32, 2: 64}.get(data[4], 0)
        little = data[5] == 1
        end = "<" if little else ">"
        (machine,) = struct.unpack_from(end + "H", data, 18)
        (flags,) = struct.unpack_from(end + "I", data, 36 if bits == 32 else 48)
        version, settings = go_buildinfo(data)
        return cls(bits, little, machine, flags, version, settings)

    @property
    def hard_float(self) -> bool:
        """ARM hard-float: the ELF flag, or for Go (which leaves it unset) GOARM>=6 without softfloat."""
        if self.flags & EF_ARM_ABI_FLOAT_HARD:
            return True
        goarm = self.go_settings.get("GOARM", "")
        return goarm[:1] in ("6", "7") and "softfloat" not in goarm

    def describe(self) -> str:
        name = ELF_MACHINE_NAMES.get(self.machine, f"machine {self.machine}")
        out = f"ELF {self.bits}-bit {'LSB' if self.little_endian else 'MSB'} {name}"
        if self.machine == 40:
            out += f" EABI{(self.flags & EF_ARM_EABI_MASK) >> 24}"
            out += " hard-float" if self.hard_float else " soft-float"
        go = " ".join(f"{k}={v}" for k, v in sorted(self.go_settings.items()) if k.startswith("GO"))
        if self.go_version:
            out += f", {self.go_version}" + (f" {go}" if go else "")
        return out


def _uvarint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def go_buildinfo(data: bytes) -> tuple[str | None, dict[str, str]]:
    """Go version and ``build`` settings (GOOS, GOARCH, GOARM, ...) embedded by Go >= 1.18."""
    at = data.find(BUILDINFO_MAGIC)
    if at < 0 or len(data) < at + 32 or not data[at + 15] & 0x2:
        return None, {}
    try:
        vlen, pos = _uvarint(data, at + 32)
        version = data[pos : pos + vlen].decode(errors="replace")
        mlen, pos = _uvarint(data, pos + vlen)
        modinfo = data[pos : pos + mlen].decode(errors="replace")
    except IndexError:
        return None, {}
    settings = {}
    for line in modinfo.splitlines():
        if line.startswith("build\t") and "=" in line:
            key, _, value = line[6:].partition("=")
            settings[key] = value
    return version, settings


def binary_problems(platform: Platform, facts: BinaryFacts | None) -> list[str]:
    """How FACTS contradict PLATFORM (empty when the binary is right for it)."""
    if facts is None:
        return ["not an ELF binary"]
    machine, bits, little = platform.elf
    problems = []
    if (facts.machine, facts.bits, facts.little_endian) != (machine, bits, little):
        problems.append(f"binary is {facts.describe()}, expected {ELF_MACHINE_NAMES[machine]} {bits}-bit")
    if platform.arch == "arm" and facts.machine == 40:
        if facts.flags & EF_ARM_EABI_MASK != EF_ARM_EABI_VER5:
            problems.append(f"ARM binary is not EABI5 (e_flags {facts.flags:#x})")
        if platform.variant == "v7" and not facts.hard_float:
            problems.append(f"ARM binary for v7 is not hard-float ({facts.describe()})")
    want = platform.go_env
    for key in ("GOOS", "GOARCH", "GOARM", "GOAMD64"):
        have = facts.go_settings.get(key)
        if have is None or key not in want:
            continue
        if have.split(",")[0] != want[key]:
            problems.append(f"Go build info says {key}={have}, expected {want[key]}")
    return problems
