"""What verification already knows, kept on disk by digest (content-addressed, so never stale).

* layers/<hex>.json: a layer blob's compression, diff_id and listing (``layers.LayerFacts``).
* images/<key>.json: an image manifest that passed every check for a platform. A no-op
  rebuild pushes the same image manifests (only the provenance differs), so its verification
  reads nothing but the index.

Only passes are kept; a failure is checked afresh every time. Files live under the user's
cache directory (mode 0700), one small file per entry, written atomically.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

TYPE_CHECKING = False
if TYPE_CHECKING:  # imported when a layer is read: verification's modules load while BuildKit works
    from buildx_go.verify.layers import LayerFacts

CACHE_VERSION = "5"  # bump when what a check covers changes: older passes no longer count


class VerifyCache:
    def __init__(self, root: str | Path, *, images: bool = True) -> None:
        """ROOT is buildx-go's cache directory. IMAGES: also trust (and keep) whole image checks."""
        self.root = Path(root) / "verified"
        self.images = images

    def layer(self, digest: str) -> LayerFacts | None:
        from buildx_go.verify.layers import LayerFacts

        try:
            return LayerFacts.from_json(json.loads(self._layer_path(digest).read_text()))
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return None

    def put_layer(self, digest: str, facts: LayerFacts) -> None:
        self._write(self._layer_path(digest), json.dumps(facts.to_json(), separators=(",", ":")))

    def _layer_path(self, digest: str) -> Path:
        return self.root / "layers" / f"{_hex(digest)}.{CACHE_VERSION}.json"

    def image(self, digest: str, platform: str, binaries: bool) -> dict[str, Any] | None:
        """The passing check of image DIGEST for PLATFORM, as stored, or None."""
        if not self.images:
            return None
        try:
            data = json.loads(self._image_path(digest, platform, binaries).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and data.get("digest") == digest else None

    def put_image(self, digest: str, platform: str, binaries: bool, check: dict[str, Any]) -> None:
        if self.images:
            self._write(self._image_path(digest, platform, binaries), json.dumps(check))

    def _image_path(self, digest: str, platform: str, binaries: bool) -> Path:
        key = f"{CACHE_VERSION}|{digest}|{platform}|{binaries}"
        return self.root / "images" / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"

    def _write(self, path: Path, text: str) -> None:
        with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")  # threads write too
            tmp.write_text(text)
            tmp.replace(path)


def _hex(digest: str) -> str:
    algo, _, value = digest.partition(":")
    if algo != "sha256" or len(value) != 64 or not all(c in "0123456789abcdef" for c in value):
        raise ValueError(f"not a sha256 digest: {digest!r}")
    return value
