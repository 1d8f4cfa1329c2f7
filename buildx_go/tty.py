"""Whether a stream is a terminal."""

from __future__ import annotations


def isatty(stream: object) -> bool:
    """Whether STREAM is a terminal (a closed or replaced stream is not)."""
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        return False
