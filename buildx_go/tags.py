"""Which moving tags (latest, 1, 1.2) a version may take (pure, with packaging)."""

from __future__ import annotations

from packaging.version import InvalidVersion, Version


def parse_semver(tag: str) -> Version | None:
    try:
        return Version(tag)
    except InvalidVersion:
        return None


def moving_tags(version: str, existing: list[str] | None, latest: bool, floating: bool) -> tuple[tuple[str, ...], str]:
    """(tags to move, why) for VERSION given the repository's EXISTING tags (None: unknown).

    A moving tag is only moved by a final release that is not older than any release it
    would cover: ``latest`` covers all, ``1.2`` covers 1.2.*, ``1`` covers 1.*.
    """
    if not (latest or floating):
        return (), "no --latest / --floating"
    v = parse_semver(version)
    if v is None or v.is_prerelease or v.is_devrelease or v.local or len(v.release) < 2:
        return (), f"{version} is not a final release X.Y[.Z]: moving tags left alone"
    others = [
        p for t in existing or [] if (p := parse_semver(t)) and not (p.is_prerelease or p.is_devrelease or p.local)
    ]
    wanted: list[tuple[str, list[Version]]] = []
    if floating:
        wanted.append((str(v.release[0]), [o for o in others if o.release[:1] == v.release[:1]]))
        wanted.append((f"{v.release[0]}.{v.release[1]}", [o for o in others if o.release[:2] == v.release[:2]]))
    if latest:
        wanted.append(("latest", others))
    moved, held = [], []
    for tag, peers in wanted:
        newest = max(peers, default=None)
        if newest is not None and newest > v:
            held.append(f"{tag} (newer {newest} exists)")
        else:
            moved.append(tag)
    why = "final release, not older than existing tags"
    if existing is None:
        why += " (the registry's tags could not be listed)"
    if held:
        why += "; held: " + ", ".join(held)
    return tuple(moved), why
