"""Image layers as an engine reads them: media types, compression, diff_ids (pure, bytes in).

A manifest's type decides which layer media types an engine accepts (containerd and dockerd
skip or refuse the others: a zstd layer under a Docker v2 manifest pulls as "number of layers
and diffIDs don't match"). Each layer, uncompressed, must hash to its diff_id in the config.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from collections.abc import Iterator, Mapping
from typing import IO, Any, cast

import attrs

from buildx_go.verify.imagefs import Listing, scan

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
    listing: Listing | None = None  # what the tar holds (imagefs.scan); None: not a tar that could be read

    def to_json(self) -> dict[str, Any]:
        return {
            "compression": self.compression,
            "diff_id": self.diff_id,
            "listing": self.listing.to_json() if self.listing is not None else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LayerFacts:
        compression, diff_id = str(data["compression"]), str(data["diff_id"])
        if compression not in ("gzip", "zstd", "none") or not diff_id.startswith("sha256:"):
            raise ValueError("not layer facts")
        listing = data.get("listing")
        return cls(compression, diff_id, Listing.from_json(listing) if listing is not None else None)


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

        return cast(
            io.BufferedIOBase, zstandard.ZstdDecompressor().stream_reader(raw, read_size=CHUNK, read_across_frames=True)
        )
    return raw


class _Hashing(io.RawIOBase):
    """A reader of HEAD (hashed already), then STREAM's bytes (hashed into DIGEST as they are read)."""

    def __init__(self, head: bytes, stream: io.BufferedIOBase, digest: Any) -> None:
        self.head, self.stream, self.digest = io.BytesIO(head), stream, digest

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.head.read(size)
        if data:
            return data
        data = self.stream.read(size)
        self.digest.update(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def layer_facts(blob: bytes) -> LayerFacts:
    """Compression, diff_id and listing of a layer blob, in one pass over its uncompressed
    bytes; ValueError if it cannot be decompressed."""
    return read_layer(blob)[0]


def read_layer(blob: bytes, keep: int = 0) -> tuple[LayerFacts, bytes | None]:
    """layer_facts(BLOB), and its uncompressed tar when that is no larger than KEEP bytes:
    such a tar is read whole and its listing taken with the members' data skipped; a larger
    one is streamed past its first KEEP bytes, never held whole uncompressed in memory."""
    digest = hashlib.sha256()
    try:
        with uncompressed(blob) as stream:
            # one read into one buffer: a tar that fits KEEP is never copied again (no join)
            first = stream.read(max(keep + 1, CHUNK))
            digest.update(first)
            if len(first) <= keep:  # all of it
                tar = first
                listing = _listing(io.BytesIO(tar), seekable=True)
            else:
                tar, rest = None, _Hashing(first, stream, digest)
                listing = _listing(cast(IO[bytes], rest), seekable=False)
                for _ in iter(lambda: rest.read(CHUNK), b""):
                    pass
    except (OSError, EOFError, ValueError) as exc:  # zstandard.ZstdError is a ValueError
        raise ValueError(f"cannot be decompressed as {compression_of(blob)}: {exc}") from None
    return LayerFacts(compression_of(blob), "sha256:" + digest.hexdigest(), listing), tar


def _listing(stream: IO[bytes], seekable: bool) -> Listing | None:
    try:
        return scan(stream, seekable)
    except tarfile.TarError:
        return None  # hashed all the same: the diff_id check says what an engine would


def tar_members(blob: bytes, compressed: bool = True) -> Iterator[tuple[tarfile.TarInfo, tarfile.TarFile]]:
    """Each member of a layer's tar, streamed (read a member's content before the next);
    not COMPRESSED: BLOB is the tar itself (read_layer's)."""
    source = uncompressed(blob) if compressed else io.BytesIO(blob)
    with source as stream, tarfile.open(fileobj=stream, mode="r|" if compressed else "r:") as tar:
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
