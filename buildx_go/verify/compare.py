"""Two images of one platform compared (pure): the published one and a rebuild of it.

Same manifest digest: the same image, byte for byte. Otherwise the first thing that
differs is named: a layer (with the instruction that made it, from the config's history), a
field of the image config (its JSON path: ``created``, ``config.Labels.X``,
``history[3].created``), or the manifest itself (its media type, annotations).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

SHOWN = 60  # characters of a value shown


@attrs.frozen
class Image:
    """One platform's image: its manifest digest, manifest and config (as JSON)."""

    digest: str
    manifest: Mapping[str, Any]
    config: Mapping[str, Any]


def first_difference(published: Image, rebuilt: Image) -> str | None:
    """What first differs between PUBLISHED and REBUILT, or None when they are the same."""
    if published.digest == rebuilt.digest:
        return None
    was, now = list(published.manifest.get("layers") or []), list(rebuilt.manifest.get("layers") or [])
    made = _layer_history(rebuilt.config)
    for i, (a, b) in enumerate(zip(was, now, strict=False), 1):
        if a.get("digest") != b.get("digest"):
            by = f" ({made[i - 1][:SHOWN]})" if i - 1 < len(made) else ""
            return f"layer {i}{by}: {_short(a.get('digest'))} published, {_short(b.get('digest'))} rebuilt"
    if len(was) != len(now):
        return f"the published image has {len(was)} layers, the rebuild {len(now)}"
    field = _first_field(published.config, rebuilt.config, "")
    if field:
        return f"image config {field}"
    field = _first_field(
        {k: v for k, v in published.manifest.items() if k != "config"},
        {k: v for k, v in rebuilt.manifest.items() if k != "config"},
        "",
    )
    return f"manifest {field}" if field else "the manifests' bytes (the same content, written otherwise)"


def _layer_history(config: Mapping[str, Any]) -> list[str]:
    """The instruction that made each layer (history entries that are not empty layers)."""
    return [str(h.get("created_by") or "?") for h in config.get("history") or [] if not h.get("empty_layer")]


def _first_field(a: Any, b: Any, path: str) -> str | None:
    """The JSON path of the first value that differs between A and B, with both values."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in sorted(set(a) | set(b)):
            found = _first_field(a.get(key), b.get(key), f"{path}.{key}" if path else str(key))
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            found = _first_field(x, y, f"{path}[{i}]")
            if found:
                return found
        if len(a) != len(b):
            return f"{path}: {len(a)} entries published, {len(b)} rebuilt"
        return None
    if a != b:
        return f"{path}: {_shown(a)} published, {_shown(b)} rebuilt"
    return None


def _shown(value: Any) -> str:
    text = "absent" if value is None else repr(value)
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."


def _short(digest: Any) -> str:
    text = str(digest)
    return text[:19] if text.startswith("sha256:") else text
