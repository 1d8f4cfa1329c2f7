"""Nothing changed: an image already published from the same inputs is not built again.

The registry is the record. A build puts its inputs (planning/inputs.py: the context by
content, the Dockerfile as built, build args, labels, platforms, options, buildx-go's version)
on the index it pushes. Before building, a run whose plan records inputs reads every version
tag: when each holds the same index, that index carries the same inputs, and every image its
build resolved (its provenance's materials: the base images, a Dockerfile frontend) still
resolves to the digest it was built from, nothing is built (event build.unchanged):
verification, the moving tags and the results go on from the published index. Otherwise it
builds and says what changed (build.changed). This holds on any machine, in any shell, from
any clone: nothing is kept locally. --rebuild always builds; so does a build whose inputs
are not recorded (Plan.not_recorded: secrets, ssh, several builds, no provenance).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from buildx_go.errors import BuildxGoError
from buildx_go.planning.inputs import ANNOTATION, Inputs, changed
from buildx_go.planning.plan import Plan
from buildx_go.platforms import ATTESTATION, Platform, index_platforms
from buildx_go.refs import Reference

if TYPE_CHECKING:  # made by the run when first used (run._Lazy)
    from buildx_go.registry.client import RegistryClient

PROVENANCE = "https://slsa.dev/provenance/"
T = TypeVar("T")
Files = Callable[[str], tuple[str, ...]]  # a commit -> the files that differ from it (gitinfo.changed_files)


Found = tuple[str | None, str, str | None]  # (index digest, why, how it was verified before tagging)


def published(client: RegistryClient, plan: Plan, files: Files) -> Found:
    """(the index every version tag holds, why nothing needs building, how its record says
    it was verified before it was tagged) when it was built from PLAN's inputs and nothing it
    resolved has moved since; (None, what changed, None) otherwise. The reads of each step go
    side by side (each is a round trip to a remote registry)."""
    now = plan.inputs
    if now is None:
        return None, plan.inputs_why or "no inputs recorded", None
    try:
        held = side_by_side(client.manifest_or_none, [Reference.parse(r) for r in plan.refs])
        for ref, found in zip(plan.refs, held, strict=True):
            if found is None:
                return None, f"{ref} is not published yet", None
        digests = {found[1] for found in held if found}
        if len(digests) > 1:
            return None, f"the version tags hold different indexes ({', '.join(sorted(digests))})", None
        _, digest, doc = held[0]  # type: ignore[misc]
        was = Inputs.from_json((doc.get("annotations") or {}).get(ANNOTATION))
        if was is None:
            return None, f"{plan.refs[0]} holds no record of the inputs it was built from", None
        if was.digest != now.digest:
            differ = files(was.commit) if was.commit and was.parts.get("context") != now.parts.get("context") else ()
            return None, f"changed since {plan.refs[0]} was built: {changed(was, now, differ)}", None
        moved = moved_materials(client, Reference.parse(plan.refs[0]).with_digest(digest))
    except (BuildxGoError, ValueError, KeyError, TypeError) as exc:
        return None, f"could not tell: {getattr(exc, 'message', None) or exc}", None
    if moved:
        return None, moved, None
    why = f"{', '.join(plan.refs)} holds an image built from the same inputs (--rebuild builds anyway)"
    return digest, why, was.verified


def moved_materials(client: RegistryClient, index: Reference) -> str | None:
    """What the build of INDEX resolved (its provenance's materials) that resolves to another
    digest now, or None when nothing did."""
    statements = provenance(client, index)
    if not statements:
        return "the published index has no provenance"
    used = {m for s in statements for m in materials(s)}
    tagged = sorted({ref for ref, _, _ in used if not Reference.parse(ref).digest})  # pinned ones cannot move
    found = dict(zip(tagged, side_by_side(client.manifest_or_none, [Reference.parse(r) for r in tagged]), strict=True))
    for ref, platform, was in sorted(used, key=str):
        now = resolved(found[ref], platform) if ref in found else (was,)
        if was not in now:
            return f"{ref} ({platform or 'any platform'}) resolves to {now[0] if now else 'nothing'} now, not {was}"
    return None


def material(uri: str) -> tuple[str, str | None] | None:
    """(image reference, platform) of a provenance material naming an image
    (pkg:docker/NAME@VERSION?platform=...), None for anything else (a URL, a git source)."""
    if not uri.startswith("pkg:docker/"):
        return None
    path, _, query = uri.removeprefix("pkg:docker/").partition("?")
    name, _, version = path.rpartition("@")
    if not name:
        name, version = path, "latest"
    qualifiers = urllib.parse.parse_qs(query)
    name, version = urllib.parse.unquote(name), urllib.parse.unquote(version)
    pinned = (qualifiers.get("digest") or [""])[0]
    if version.startswith("sha256:"):
        ref = f"{name}@{version}"
    else:
        ref = f"{name}:{version}" + (f"@{pinned}" if pinned else "")
    platforms = qualifiers.get("platform")
    return ref, platforms[0] if platforms else None


def materials(statement: Mapping[str, Any]) -> list[tuple[str, str | None, str]]:
    """(reference, platform, digest) of every image an in-toto provenance statement says the
    build resolved (SLSA v0.2 materials, v1 resolvedDependencies); ValueError naming what is
    not an image (BuildKit reads it again on every build)."""
    predicate = statement.get("predicate") or {}
    found = predicate.get("materials")
    if found is None:
        found = (predicate.get("buildDefinition") or {}).get("resolvedDependencies")
    if found is None:
        raise ValueError("the provenance lists no materials")
    out = []
    for m in found:
        uri, sha = str(m.get("uri", "")), (m.get("digest") or {}).get("sha256")
        image = material(uri)
        if image is None or not sha:
            raise ValueError(f"the build read {uri or 'a source without a URI'}")
        out.append((*image, f"sha256:{sha}"))
    return out


def side_by_side(read: Callable[[Reference], T], refs: list[Reference]) -> list[T]:
    """READ of each of REFS, in threads (I/O bound); the first error is raised."""
    if len(refs) < 2:
        return [read(r) for r in refs]
    from concurrent.futures import ThreadPoolExecutor  # a changed build reads one tag: not imported

    with ThreadPoolExecutor(min(8, len(refs))) as pool:
        return list(pool.map(read, refs))


def provenance(client: RegistryClient, index: Reference) -> list[dict[str, Any]]:
    """The in-toto provenance statements attached to INDEX (one per platform)."""
    _, _, doc = client.manifest(index)
    attached = [
        index.with_digest(e["digest"])
        for e in doc.get("manifests") or []
        if (e.get("annotations") or {}).get("vnd.docker.reference.type") == ATTESTATION
    ]

    def statements(ref: Reference) -> list[dict[str, Any]]:
        _, _, attestation = client.manifest(ref)
        layers = attestation.get("layers") or []
        kind = "in-toto.io/predicate-type"
        ours = [layer for layer in layers if (layer.get("annotations") or {}).get(kind, "").startswith(PROVENANCE)]
        return [json.loads(client.blob(ref, layer["digest"])) for layer in ours]

    return [s for found in side_by_side(statements, attached) for s in found]


def resolved(found: tuple[str, str, dict[str, Any]] | None, platform: str | None) -> tuple[str, ...]:
    """What a tag whose manifest is FOUND resolves to now: its digest, and for an index, its
    entry for PLATFORM (BuildKit's provenance names either, depending on the driver); () if
    it is gone."""
    if found is None:
        return ()
    _, digest, doc = found
    entry = index_platforms(doc).get(Platform.parse(platform)) if "manifests" in doc and platform else None
    return (digest, entry) if entry else (digest,)
