"""Nothing changed: an image already published from the same inputs is not built again.

After a build that pushed, verified and tagged an image, the early-start record (early.py)
keeps what it published: the index digest, the build as planned (its command, version
tags and generated files, the workdir left out), buildx's metadata, and the build
context's stamp (stamps.tree_stamp: every entry's path, size, times and inode), taken
before the build and found the same after it. The next run of the same command line whose
record shows nothing changed (early.changed) and whose context has the same stamp does not
start early; it plans as always and, when its build is the recorded one word for word,
asks the registry: every version tag still holds that index, and every image the build
resolved (its provenance's materials: the base images, a Dockerfile frontend) still
resolves to the digest it was built from. Then nothing is built (event build.unchanged);
verification, the moving tags and the results go on from the published index. Anything
else (or --rebuild) builds.

Never recorded (``not_recorded``): other strategies, --no-verify, no push, no provenance
(the base images it used would be unknown), --secret or --ssh (what they give a build is
not in the context), a context that changed during the build or is too large to stamp.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from buildx_go.engine.stamps import digest as stamp_digest
from buildx_go.errors import BuildxGoError
from buildx_go.planning.plan import Plan
from buildx_go.platforms import ATTESTATION, Platform, index_platforms
from buildx_go.refs import Reference

if TYPE_CHECKING:  # made by the run when first used (run._Lazy)
    from buildx_go.registry.client import RegistryClient

PROVENANCE = "https://slsa.dev/provenance/"
T = TypeVar("T")


def context_of(plan: Plan) -> tuple[str, tuple[str, ...]] | None:
    """(the build context's directory, top-level names BuildKit leaves out of it) for a
    single buildx build, else None. Only plain names count (`bin/`, `/dist`, `.git`), and
    none when any rule is an exception (`!...`): what is left out could not be in the build."""
    builds = plan.phase("build")
    if plan.packaging != "buildx" or len(builds) != 1:
        return None
    rules = [line.strip() for line in plan.dockerignore.splitlines() if line.strip() and not line.startswith("#")]
    if any(rule.startswith("!") for rule in rules):
        return builds[0].argv[-1], ()
    names = {rule.strip("/") for rule in rules}
    plain = sorted(n for n in names if n and n not in (".", "..") and not any(c in n for c in "*?[]\\/"))
    return builds[0].argv[-1], tuple(plain)


def not_recorded(plan: Plan) -> str | None:
    """Why a published PLAN is not one to skip next time, or None."""
    why = plan.not_early()
    if why or context_of(plan) is None:
        return why or "not one buildx build"
    argv = plan.phase("build")[0].argv
    if not any(a.startswith("type=registry") or ",push=" in a or a.startswith("type=image,push=") for a in argv):
        return "not pushed"
    if not plan.verify:
        return "--no-verify"
    if "--provenance=true" not in argv:
        return "no provenance: the base images the build used are not known"
    if "--secret" in argv or "--ssh" in argv:
        return "--secret or --ssh: what they give the build is not in its context"
    return None


def identity(plan: Plan) -> str:
    """The build as planned, without this run's workdir: its command, environment and the
    files buildx-go wrote for it."""
    workdir = plan.metadata_file.rsplit("/", 1)[0]
    (build,) = plan.phase("build")
    argv = [a.replace(workdir, "{workdir}") for a in build.argv]
    files = [plan.dockerfile.text, plan.dockerignore] if plan.dockerfile.path else []
    return stamp_digest([argv, sorted(build.env), build.cwd, list(plan.refs), plan.push_by_digest, files])


def published(plan: Plan, digest: str, stamp: str, metadata: str) -> dict[str, Any]:
    """What the record keeps of a build of PLAN that published DIGEST."""
    return {"plan": identity(plan), "digest": digest, "stamp": stamp, "metadata": metadata}


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


def why_changed(client: RegistryClient, record: Mapping[str, Any], plan: Plan) -> str | None:
    """Why PLAN must build though RECORD published an image from the same inputs; None when
    nothing changed: the build is the same, every version tag holds the recorded index, and
    every image the build resolved still resolves to what it was built from. The reads of
    each step go side by side (each is a round trip to a remote registry)."""
    if record.get("plan") != identity(plan):
        return "the planned build differs from the published one"
    index_digest = str(record["digest"])
    try:
        held = side_by_side(client.digest_of, [Reference.parse(r) for r in plan.refs])
        for ref, have in zip(plan.refs, held, strict=True):
            if have != index_digest:
                return f"{ref} holds {have or 'nothing'}, not {index_digest}"
        statements = provenance(client, Reference.parse(plan.refs[0]).with_digest(index_digest))
        if not statements:
            return "the published index has no provenance"
        used = {m for s in statements for m in materials(s)}
        tagged = sorted({ref for ref, _, _ in used if not Reference.parse(ref).digest})  # pinned ones cannot move
        found = dict(
            zip(tagged, side_by_side(client.manifest_or_none, [Reference.parse(r) for r in tagged]), strict=True)
        )
        for ref, platform, was in sorted(used, key=str):
            now = resolved(found[ref], platform) if ref in found else (was,)
            if was not in now:
                return f"{ref} ({platform or 'any platform'}) resolves to {now[0] if now else 'nothing'} now, not {was}"
    except (BuildxGoError, ValueError, KeyError, TypeError) as exc:
        return f"could not tell: {getattr(exc, 'message', None) or exc}"
    return None


def side_by_side(read: Callable[[Reference], T], refs: list[Reference]) -> list[T]:
    """READ of each of REFS, in threads (I/O bound); the first error is raised."""
    if len(refs) < 2:
        return [read(r) for r in refs]
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
