"""Check a published image against what was asked: platforms, configs, layers, binaries.

Reads the registry directly (registry.py): the index, each image's manifest and config,
every layer the way an engine reads it (media types its manifest type allows, as many layers
as diff_ids, each layer's uncompressed digest equal to its diff_id), and the entrypoint
binary out of the layers, never by running it. What passed once is kept by digest
(verifycache.py), so a no-op rebuild re-reads nothing but its index.
"""

from __future__ import annotations

import functools
import json
import posixpath
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs

from buildx_go.binary import BinaryFacts, binary_problems, dynamic_deps
from buildx_go.errors import VerificationFailed
from buildx_go.layers import (
    LayerFacts,
    content_problems,
    declared_problems,
    image_paths,
    layer_facts,
    resolves,
    tar_members,
)
from buildx_go.platforms import LIBRARY_TRIPLETS, Platform, entry_platform
from buildx_go.refs import Reference
from buildx_go.registry import INDEX_TYPES, MANIFEST_TYPES, RegistryClient
from buildx_go.verifycache import VerifyCache

MAX_SYMLINK_HOPS = 8


@attrs.frozen
class ImageCheck:
    platform: str
    digest: str
    config_platform: str
    binary: str | None
    facts: str | None
    problems: tuple[str, ...]
    cached: bool = False  # passed before (same digest): nothing was read again

    @classmethod
    def passed_before(cls, stored: dict[str, Any]) -> ImageCheck:
        """A check that passed on an earlier run, from its stored form (``attrs.asdict``)."""
        return cls(
            str(stored["platform"]),
            str(stored["digest"]),
            str(stored["config_platform"]),
            stored.get("binary"),
            stored.get("facts"),
            problems=(),
            cached=True,
        )


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


class _Blobs:
    """One image's blobs, each fetched at most once."""

    def __init__(self, client: RegistryClient, ref: Reference) -> None:
        self.client, self.ref = client, ref
        self._got: dict[str, bytes] = {}

    def __call__(self, digest: str) -> bytes:
        if digest not in self._got:
            self._got[digest] = self.client.blob(self.ref, digest)
        return self._got[digest]


def find_file(blob: Callable[[str], bytes], layers: list[dict[str, Any]], path: str) -> bytes | None:
    """PATH's content in the image whose layers are LAYERS (top layer wins), symlinks followed."""
    wanted = path.lstrip("/")
    for _ in range(MAX_SYMLINK_HOPS):
        target = _lookup(blob, layers, wanted)
        if target is None or isinstance(target, bytes):
            return target
        wanted = target  # a symlink: search again from the top
    return None


def _lookup(blob: Callable[[str], bytes], layers: list[dict[str, Any]], wanted: str) -> bytes | str | None:
    """WANTED's content (bytes), or the path its symlink points to (str), or None; whiteouts
    applied as an engine does: a layer's `.wh.NAME` deletes NAME (a file or a directory on
    the way to WANTED) from the layers below it, its `DIR/.wh..wh..opq` hides what they have
    in DIR."""
    parts = wanted.split("/")
    ancestors = {"/".join(parts[:i]) for i in range(1, len(parts))}
    for layer in reversed(layers):
        hidden = False
        for member, tar in tar_members(blob(layer["digest"])):
            name = _member_path(member.name)
            if name == wanted:
                if member.issym():
                    return posixpath.normpath(posixpath.join(posixpath.dirname(wanted), member.linkname)).lstrip("/")
                f = tar.extractfile(member) if member.isfile() or member.islnk() else None
                return f.read() if f else None
            folder, base = posixpath.split(name)
            if base == ".wh..wh..opq":
                hidden = hidden or folder in ancestors
            elif base.startswith(".wh."):
                hidden = hidden or posixpath.join(folder, base[4:]) in ancestors | {wanted}
        if hidden:  # deleted (or its directory made opaque) above every lower layer
            return None
    return None


def _member_path(name: str) -> str:
    """A tar member's path as an image path: no leading ./ or /, no trailing /."""
    while name.startswith("./"):
        name = name[2:]
    return name.strip("/")


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


def layer_check(
    client: RegistryClient,
    ref: Reference,
    blob: Callable[[str], bytes],
    media: str,
    manifest: dict[str, Any],
    diff_ids: list[Any],
    cache: VerifyCache | None,
) -> list[str]:
    """Every layer as an engine reads it (see layers.py). A layer known from CACHE is not
    downloaded again: the registry is only asked that it still has it."""
    layers = manifest.get("layers") or []
    problems = declared_problems(media, layers, diff_ids)
    for i, layer in enumerate(layers, 1):
        digest = str(layer.get("digest"))
        facts: LayerFacts | None = cache.layer(digest) if cache else None
        if facts is not None:
            client.blob_exists(ref, digest)
        else:
            try:
                facts = layer_facts(blob(digest))
            except ValueError as exc:
                problems.append(f"layer {i} ({digest}): {exc}")
                continue
            if cache:
                cache.put_layer(digest, facts)
        diff_id = str(diff_ids[i - 1]) if i <= len(diff_ids) else None
        problems += content_problems(media, i, layer, facts, diff_id)
    return problems


def check_image(
    client: RegistryClient,
    img_ref: Reference,
    plat: str,
    check_binaries: bool = True,
    found: tuple[str, str, dict[str, Any]] | None = None,
    cache: VerifyCache | None = None,
    allow_non_go: bool = False,
) -> ImageCheck:
    """One image (a manifest, by digest): its config's platform, its layers, and its entrypoint
    binary vs PLAT. FOUND is the manifest when the caller has already fetched it."""
    known_digest = found[1] if found else img_ref.digest
    cache = None if allow_non_go else cache  # the cache holds strict passes only
    known = cache.image(known_digest, plat, check_binaries) if cache and known_digest else None
    if known is not None:  # content-addressed: the same digest passed before
        return ImageCheck.passed_before(known)
    media, digest, manifest = found or client.manifest(img_ref)
    if media in INDEX_TYPES:
        return ImageCheck(plat, digest, "?", None, None, (f"{img_ref} is an index, not an image",))
    if media not in MANIFEST_TYPES:
        return ImageCheck(plat, digest, "?", None, None, (f"{img_ref} has the unknown manifest type {media}",))
    blob = _Blobs(client, img_ref)
    config = json.loads(blob(manifest["config"]["digest"]))
    cfg_plat = str(Platform(config.get("os", "?"), config.get("architecture", "?"), config.get("variant")))
    mine: list[str] = []
    if normalised(cfg_plat) != plat:
        mine.append(f"image config says {cfg_plat}")
    diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
    mine += layer_check(client, img_ref, blob, media, manifest, diff_ids, cache)
    binary = entrypoint_path(config)
    facts_text = None
    if check_binaries:
        if binary is None:
            mine.append("image has no entrypoint to check")
        else:
            data = find_file(blob, manifest.get("layers") or [], binary)
            if data is None:
                mine.append(f"entrypoint {binary} not found in the layers")
            else:
                facts = BinaryFacts.from_bytes(data)
                facts_text = facts.describe() if facts else "not ELF"
                mine += binary_problems(Platform.parse(plat), facts, allow_non_go)
                interp, needed = dynamic_deps(data) if facts else (None, ())
                if interp:
                    facts_text += f", dynamically linked ({interp}; {', '.join(needed) or 'no libraries'})"
                    layers = manifest.get("layers") or []
                    mine += library_problems(image_paths(blob(lay["digest"]) for lay in layers), plat, interp, needed)
    check = ImageCheck(plat, digest, cfg_plat, binary, facts_text, tuple(mine))
    if cache and not check.problems:
        cache.put_image(digest, plat, check_binaries, attrs.asdict(check))
    return check


LIBRARY_DIRS = ("lib", "usr/lib", "lib/{triplet}", "usr/lib/{triplet}", "lib64", "usr/lib64", "usr/local/lib")


def library_problems(paths: dict[str, str | None], plat: str, interp: str, needed: tuple[str, ...]) -> list[str]:
    """A dynamically linked entrypoint (cgo) needs its interpreter and libraries in the
    image, where the dynamic loader looks for them."""
    if not resolves(paths, interp):
        return [
            f"the binary is dynamically linked (cgo) but its interpreter {interp} is not in the image: "
            "a base with that libc, a static build (--cgo-static), or CGO_ENABLED=0"
        ]
    triplet = LIBRARY_TRIPLETS.get(Platform.parse(plat).arch, "")
    dirs = [d.format(triplet=triplet) for d in LIBRARY_DIRS]
    return [
        f"the binary needs {lib}, which is in none of the image's library directories"
        for lib in needed
        if not any(resolves(paths, f"{d}/{lib}") for d in dirs)
    ]


def verify(
    client: RegistryClient,
    ref_text: str,
    wanted: tuple[Platform, ...],
    check_binaries: bool = True,
    expected: dict[str, str] | None = None,
    cache: VerifyCache | None = None,
    allow_non_go: bool = False,
) -> Report:
    """A Report on REF: exactly WANTED platforms, configs that agree, layers an engine can pull,
    binaries that fit; with EXPECTED (platform -> digest), each entry must be that already
    verified image."""
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
    check_one = functools.partial(
        check_image, client, check_binaries=check_binaries, cache=cache, allow_non_go=allow_non_go
    )
    with ThreadPoolExecutor(max(1, len(platform_entries))) as pool:  # one image per thread: I/O bound
        checks = list(
            pool.map(
                lambda pe: check_one(ref.with_digest(pe[1]["digest"]), pe[0]),
                platform_entries,
            )
        )
    for check in checks:
        problems += [f"{check.platform}: {p}" for p in check.problems]
    return Report(str(ref), digest, media, tuple(checks), attestations, tuple(problems))


def verify_image(
    client: RegistryClient,
    ref_text: str,
    platform: Platform,
    cache: VerifyCache | None = None,
    allow_non_go: bool = False,
) -> Report:
    """A Report on one single-platform image (the manifest strategy's per-platform pushes)."""
    ref = Reference.parse(ref_text)
    found = client.manifest_or_none(ref)
    if found is None:
        raise VerificationFailed(f"{ref}: not found in the registry")
    media, digest, _ = found
    check = check_image(client, ref, str(platform), found=found, cache=cache, allow_non_go=allow_non_go)
    problems = tuple(f"{platform}: {p}" for p in check.problems)
    return Report(str(ref), digest, media, (check,), 0, problems)
