"""Check a published image against what was asked: platforms, configs, binaries.

Reads the registry directly (registry.py): the index, each image's manifest and config,
and the entrypoint binary out of the layers, never by running it.
"""

from __future__ import annotations

import gzip
import io
import json
import posixpath
import tarfile
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs

from buildx_go.binary import BinaryFacts, binary_problems
from buildx_go.errors import VerificationFailed
from buildx_go.platforms import Platform, entry_platform
from buildx_go.refs import Reference
from buildx_go.registry import INDEX_TYPES, RegistryClient


@attrs.frozen
class ImageCheck:
    platform: str
    digest: str
    config_platform: str
    binary: str | None
    facts: str | None
    problems: tuple[str, ...]


@attrs.frozen
class Report:
    ref: str
    digest: str
    media_type: str
    images: tuple[ImageCheck, ...]
    attestations: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self) | {"ok": self.ok}


def normalised(text: str) -> str:
    try:
        return str(Platform.parse(text))
    except Exception:
        return text


def _layer_tar(blob: bytes) -> tarfile.TarFile:
    if blob[:2] == b"\x1f\x8b":
        blob = gzip.decompress(blob)
    elif blob[:4] == b"\x28\xb5\x2f\xfd":
        import zstandard

        blob = zstandard.ZstdDecompressor().decompressobj().decompress(blob)
    return tarfile.open(fileobj=io.BytesIO(blob), mode="r:")


def find_file(client: RegistryClient, ref: Reference, layers: list[dict[str, Any]], path: str) -> bytes | None:
    """PATH's content in the image whose layers are LAYERS (top layer wins), symlinks followed."""
    wanted = path.lstrip("/")
    for _ in range(8):  # symlink hops
        for layer in reversed(layers):
            with _layer_tar(client.blob(ref, layer["digest"])) as tar:
                for member in tar:
                    if member.name.lstrip("./") != wanted:
                        continue
                    if member.issym():
                        wanted = posixpath.normpath(posixpath.join(posixpath.dirname(wanted), member.linkname)).lstrip(
                            "/"
                        )
                        break
                    f = tar.extractfile(member)
                    return f.read() if f else None
                else:
                    continue
                break  # followed a symlink: search again from the top
        else:
            return None
    return None


def entrypoint_path(config: dict[str, Any]) -> str | None:
    cfg = config.get("config") or {}
    argv = (cfg.get("Entrypoint") or []) + (cfg.get("Cmd") or [])
    if not argv:
        return None
    first = str(argv[0])
    if first.startswith("/"):
        return first
    env = dict(e.split("=", 1) for e in cfg.get("Env") or [] if "=" in e)
    return posixpath.join(env.get("PATH", "/usr/local/bin:/usr/bin:/bin").split(":")[0], first)


def check_image(
    client: RegistryClient,
    img_ref: Reference,
    plat: str,
    check_binaries: bool = True,
    found: tuple[str, str, dict[str, Any]] | None = None,
) -> ImageCheck:
    """One image (a manifest, by digest): its config's platform and entrypoint binary vs PLAT.
    FOUND is the manifest when the caller has already fetched it."""
    media, digest, manifest = found or client.manifest(img_ref)
    if media in INDEX_TYPES:
        return ImageCheck(plat, digest, "?", None, None, (f"{img_ref} is an index, not an image",))
    config = json.loads(client.blob(img_ref, manifest["config"]["digest"]))
    cfg_plat = str(Platform(config.get("os", "?"), config.get("architecture", "?"), config.get("variant")))
    mine: list[str] = []
    if normalised(cfg_plat) != plat:
        mine.append(f"image config says {cfg_plat}")
    binary = entrypoint_path(config)
    facts_text = None
    if check_binaries:
        if binary is None:
            mine.append("image has no entrypoint to check")
        else:
            data = find_file(client, img_ref, manifest.get("layers") or [], binary)
            if data is None:
                mine.append(f"entrypoint {binary} not found in the layers")
            else:
                facts = BinaryFacts.from_bytes(data)
                facts_text = facts.describe() if facts else "not ELF"
                mine += binary_problems(Platform.parse(plat), facts)
    return ImageCheck(plat, digest, cfg_plat, binary, facts_text, tuple(mine))


def verify(
    client: RegistryClient,
    ref_text: str,
    wanted: tuple[Platform, ...],
    check_binaries: bool = True,
    expected: dict[str, str] | None = None,
) -> Report:
    """A Report on REF: exactly WANTED platforms, configs that agree, binaries that fit; with
    EXPECTED (platform -> digest), each entry must be that already verified image."""
    ref = Reference.parse(ref_text)
    found = client.manifest_or_none(ref)
    if found is None:
        raise VerificationFailed(f"{ref}: not found in the registry")
    media, digest, doc = found
    problems: list[str] = []
    if media not in INDEX_TYPES:
        problems.append(f"{ref} is a single-platform manifest ({media}), not an index")
        return Report(str(ref), digest, media, (), 0, tuple(problems))
    entries = doc.get("manifests") or []
    images = [(entry_platform(e), e) for e in entries]
    attestations = sum(1 for p, _ in images if p is None)
    have = [p for p, _ in images if p]
    want = [str(p) for p in wanted]
    if sorted(have) != sorted(want):
        problems.append(f"{ref} lists {', '.join(sorted(have)) or 'nothing'}; expected {', '.join(sorted(want))}")
    platform_entries = [(plat, entry) for plat, entry in images if plat is not None]
    for plat, entry in platform_entries:
        if expected is not None and expected.get(plat) != entry["digest"]:
            problems.append(f"{plat}: entry {entry['digest']} is not the verified image {expected.get(plat)}")
    with ThreadPoolExecutor(max(1, len(platform_entries))) as pool:  # one image per thread: I/O bound
        checks = list(
            pool.map(
                lambda pe: check_image(client, ref.with_digest(pe[1]["digest"]), pe[0], check_binaries),
                platform_entries,
            )
        )
    for check in checks:
        problems += [f"{check.platform}: {p}" for p in check.problems]
    return Report(str(ref), digest, media, tuple(checks), attestations, tuple(problems))


def verify_image(client: RegistryClient, ref_text: str, platform: Platform) -> Report:
    """A Report on one single-platform image (the manifest strategy's per-platform pushes)."""
    ref = Reference.parse(ref_text)
    found = client.manifest_or_none(ref)
    if found is None:
        raise VerificationFailed(f"{ref}: not found in the registry")
    media, digest, _ = found
    check = check_image(client, ref, str(platform), found=found)
    problems = tuple(f"{platform}: {p}" for p in check.problems)
    return Report(str(ref), digest, media, (check,), 0, problems)
