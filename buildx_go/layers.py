"""Image layers as an engine reads them: media types, compression, diff_ids (pure, bytes in).

A manifest's type decides which layer media types an engine accepts (containerd and dockerd
skip or refuse the others: a zstd layer under a Docker v2 manifest pulls as "number of layers
and diffIDs don't match"). Each layer, uncompressed, must hash to its diff_id in the config.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import posixpath
import tarfile
from collections.abc import Iterator, Mapping
from typing import Any, cast

import attrs

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
_OCI = "application/vnd.oci.image.layer"
_DOCKER = "application/vnd.docker.image.rootfs"
# media type -> the compression it declares
LAYER_TYPES: dict[str, dict[str, str]] = {
    DOCKER_MANIFEST: {
        f"{_DOCKER}.diff.tar.gzip": "gzip",
        f"{_DOCKER}.foreign.diff.tar.gzip": "gzip",
        f"{_DOCKER}.diff.tar": "none",
        f"{_DOCKER}.foreign.diff.tar": "none",
    },
    OCI_MANIFEST: {
        f"{_OCI}.v1.tar": "none",
        f"{_OCI}.v1.tar+gzip": "gzip",
        f"{_OCI}.v1.tar+zstd": "zstd",
        f"{_OCI}.nondistributable.v1.tar": "none",
        f"{_OCI}.nondistributable.v1.tar+gzip": "gzip",
        f"{_OCI}.nondistributable.v1.tar+zstd": "zstd",
    },
}
CHUNK = 1 << 20


@attrs.frozen
class LayerFacts:
    """What a layer blob is (a function of its bytes: cached by its digest)."""

    compression: str  # gzip | zstd | none, from the blob's magic bytes
    diff_id: str  # sha256 of the uncompressed tar

    def to_text(self) -> str:
        return f"{self.compression} {self.diff_id}"

    @classmethod
    def from_text(cls, text: str) -> LayerFacts | None:
        parts = text.split()
        if len(parts) != 2 or parts[0] not in ("gzip", "zstd", "none") or not parts[1].startswith("sha256:"):
            return None
        return cls(parts[0], parts[1])


def compression_of(blob: bytes) -> str:
    if blob[:2] == b"\x1f\x8b":
        return "gzip"
    if blob[:4] == b"\x28\xb5\x2f\xfd":
        return "zstd"
    return "none"


def uncompressed(blob: bytes) -> io.BufferedIOBase:
    """A reader of BLOB's uncompressed bytes (gzip with several members and zstd with several
    frames included), streamed: a layer is never held uncompressed in memory."""
    kind = compression_of(blob)
    raw = io.BytesIO(blob)
    if kind == "gzip":
        return gzip.GzipFile(fileobj=raw)
    if kind == "zstd":
        import zstandard

        return cast(io.BufferedIOBase, zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True))
    return raw


def layer_facts(blob: bytes) -> LayerFacts:
    """Compression and diff_id of a layer blob; ValueError if it cannot be decompressed."""
    digest = hashlib.sha256()
    try:
        with uncompressed(blob) as stream:
            for chunk in iter(lambda: stream.read(CHUNK), b""):
                digest.update(chunk)
    except (OSError, EOFError, ValueError) as exc:  # zstandard.ZstdError is a ValueError
        raise ValueError(f"cannot be decompressed as {compression_of(blob)}: {exc}") from None
    return LayerFacts(compression_of(blob), "sha256:" + digest.hexdigest())


def tar_members(blob: bytes) -> Iterator[tuple[tarfile.TarInfo, tarfile.TarFile]]:
    """Each member of a layer's tar, streamed (read a member's content before the next)."""
    with uncompressed(blob) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            yield member, tar


def declared_problems(manifest_type: str, layers: list[Mapping[str, Any]], diff_ids: list[Any]) -> list[str]:
    """What an engine refuses in the manifest itself: layer media types its type does not
    allow, and a layer count that differs from the config's diff_ids."""
    allowed = LAYER_TYPES.get(manifest_type, {})
    kind = "Docker v2" if manifest_type == DOCKER_MANIFEST else "OCI"
    out = []
    for i, layer in enumerate(layers, 1):
        media = str(layer.get("mediaType"))
        if media not in allowed:
            out.append(
                f"layer {i} ({layer.get('digest')}): media type {media} is not allowed in a {kind} manifest "
                "(engines cannot pull it)"
            )
    if len(layers) != len(diff_ids):
        out.append(f"the manifest has {len(layers)} layers, the config's rootfs lists {len(diff_ids)} diff_ids")
    return out


def content_problems(
    manifest_type: str, index: int, layer: Mapping[str, Any], facts: LayerFacts, diff_id: str | None
) -> list[str]:
    """How one layer's bytes (FACTS) contradict its descriptor and the config's DIFF_ID."""
    media = str(layer.get("mediaType"))
    declared = LAYER_TYPES.get(manifest_type, {}).get(media)
    name = f"layer {index} ({layer.get('digest')})"
    out = []
    if declared is not None and declared != facts.compression:
        out.append(f"{name}: its media type says {declared}, its bytes are {facts.compression}")
    if diff_id is not None and facts.diff_id != diff_id:
        out.append(f"{name}: uncompressed it is {facts.diff_id}, not the config's diff_id {diff_id}")
    return out


def image_paths(blobs: Iterator[bytes]) -> dict[str, str | None]:
    """Every path of an image whose layers are BLOBS (bottom first), whiteouts applied:
    path -> its symlink's target, or None (a file or a directory)."""
    paths: dict[str, str | None] = {}
    for blob in blobs:
        added: dict[str, str | None] = {}
        for member, _ in tar_members(blob):
            name = member.name
            while name.startswith("./"):
                name = name[2:]
            name = name.strip("/")
            folder, _, base = name.rpartition("/")
            if base == ".wh..wh..opq":
                paths = {p: t for p, t in paths.items() if not p.startswith(f"{folder}/")}
            elif base.startswith(".wh."):
                gone = f"{folder}/{base[4:]}".lstrip("/")
                paths = {p: t for p, t in paths.items() if p != gone and not p.startswith(f"{gone}/")}
            elif name:
                added[name] = member.linkname if member.issym() else None
        paths.update(added)
    return paths


def resolves(paths: dict[str, str | None], path: str, hops: int = 0) -> bool:
    """Whether PATH exists in PATHS (image_paths), symlinks followed on every component
    (Debian's /lib -> usr/lib too)."""
    parts = [p for p in path.strip("/").split("/") if p]
    current = ""
    for i, part in enumerate(parts):
        current = f"{current}/{part}".lstrip("/")
        if current not in paths:
            return False
        target = paths[current]
        if target is not None:
            if hops >= 16:
                return False
            parent = current.rpartition("/")[0]
            base = target if target.startswith("/") else f"/{parent}/{target}"
            rest = "/".join(parts[i + 1 :])
            return resolves(paths, posixpath.normpath(f"{base}/{rest}" if rest else base), hops + 1)
    return True
