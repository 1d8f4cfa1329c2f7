"""`buildx-go verify IMAGE`: the published image checked (verify/check.py); and with
`--rebuild PATH`: is it what PATH builds?

The project at PATH is planned as `build` would plan it (options from its .buildx-go.toml
and BUILDX_GO_*, the image name and version tag from IMAGE, the platforms from IMAGE's
index), built into an OCI layout in the workdir (nothing is pushed, no tag is written), and
each platform image compared with the published one (verify/compare.py): the same manifest
digest, or the first layer or config field that differs. Builds are reproducible from one
commit (SOURCE_DATE_EPOCH from the commit, rewrite-timestamp): a difference means the
sources, the options or a base image differ. The inputs recorded on the published index
(planning/inputs.py), when there are any, say which.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from buildx_go.cli.effects import Effects, cache_dir, work_dir
from buildx_go.config import Settings, load_config_file, resolve
from buildx_go.errors import EngineError, VerificationFailed
from buildx_go.log import get_logger
from buildx_go.planning.inputs import ANNOTATION, Inputs, changed
from buildx_go.planning.plan import Command
from buildx_go.platforms import Platform, index_platforms
from buildx_go.refs import Reference
from buildx_go.verify.compare import Image, first_difference

OCI_DIR = "rebuild-oci"


def verify_command(ref: str, s: Settings, env: Mapping[str, str], effects: Effects) -> int:
    """Check the published IMAGE; exit 6 naming what is wrong."""
    from buildx_go.cli.report import print_report
    from buildx_go.verify.cache import VerifyCache
    from buildx_go.verify.check import verify

    # What was checked before is only trusted for layers (their diff_ids): the command asked
    # for the image as it is now, so every image is read again.
    cache = VerifyCache(cache_dir(env), images=False)
    report = verify(effects.registry(env), ref, s.platform, cache=cache, allow_non_go=s.allow_non_go)
    print_report(report, s.format)
    if not report.ok:
        raise VerificationFailed(f"{report.ref}: " + "; ".join(report.problems))
    return 0


def verify_rebuild(ref_text: str, path: str, s: Settings, env: Mapping[str, str], effects: Effects) -> int:
    """Rebuild PATH for IMAGE's platforms and compare; exit 6 naming what differs."""
    from buildx_go.cli.facts import machine_facts, project_facts
    from buildx_go.cli.rerun import with_inputs
    from buildx_go.planning.decide import check_inputs, decide
    from buildx_go.planning.plan import make_plan
    from buildx_go.run.steps import run_command, write_files

    client, ref = effects.registry(env), Reference.parse(ref_text)
    _, _, index = client.manifest(ref)
    published = index_platforms(index)
    if not published:
        raise VerificationFailed(f"{ref} is not a multi-platform index", "verify --rebuild compares an index")
    root = Path(path).resolve()
    given: dict[str, Any] = {"image": f"{ref.registry}/{ref.repository}", "tag": [ref.tag or "latest"]}
    given |= {"platform": [str(p) for p in published], "push": True}
    settings = resolve(
        given, env, load_config_file(root, effects.files) if effects.files.is_dir(root) else {}, checked=True
    )
    project = project_facts(settings, root, effects, run_commands=False, env=env)
    check_inputs(settings, project, "build")
    workdir = work_dir(env, root)
    plan = with_inputs(
        make_plan(decide(settings, project, machine_facts(settings, project, env, effects, workdir)), workdir)
    )
    if plan.packaging != "buildx" or plan.phase("compile"):
        raise EngineError(f"verify --rebuild: {plan.reason}", "it needs one buildx run for every platform")
    (build,) = plan.phase("build")
    oci = str(Path(workdir) / OCI_DIR)
    write_files(plan)
    try:
        run_command(effects.docker(env), rebuild_command(build, oci))
        rebuilt = read_layout(Path(oci))
    finally:
        if not env.get("BUILDX_GO_WORKDIR"):
            shutil.rmtree(workdir, ignore_errors=True)
    was = Inputs.from_json((index.get("annotations") or {}).get(ANNOTATION))
    problems = []
    for platform, digest in sorted(published.items(), key=lambda item: str(item[0])):
        mine = rebuilt.get(platform)
        if mine is None:
            problems.append(f"{platform}: the rebuild has no image for it")
            continue
        theirs = _published_image(client, ref, digest)
        differs = first_difference(theirs, mine)
        get_logger().info("rebuild.compared", platform=str(platform), published=digest, rebuilt=mine.digest)
        if differs:
            problems.append(f"{platform}: {differs}")
    report(ref, published, rebuilt, problems, s.format)
    if problems:
        inputs = None
        if was and plan.inputs and was.digest != plan.inputs.digest:
            from buildx_go.engine.spawn import run_program
            from buildx_go.project.gitinfo import changed_files

            files = changed_files(root, was.commit, run_program) if was.commit else ()
            inputs = changed(was, plan.inputs, files)
        hint = f"its inputs differ: {inputs}" if inputs else "the sources, options and base images match its record"
        raise VerificationFailed(f"{ref} is not what {path} builds: " + "; ".join(problems), hint)
    return 0


def rebuild_command(build: Command, oci: str) -> Command:
    """BUILD writing to the OCI layout OCI (its shown form as masked as the build's)."""
    shown = rebuild_argv(build.displayed, oci)
    return attrs.evolve(build, argv=rebuild_argv(build.argv, oci), shown=shown, purpose="rebuild")


def rebuild_argv(argv: tuple[str, ...], oci: str) -> tuple[str, ...]:
    """The build's ARGV writing an OCI layout to the directory OCI instead of pushing (its
    tags left out; compression and timestamps as the push had them)."""
    out: list[str] = []
    words = list(argv)
    i = 0
    while i < len(words):
        if words[i] == "--tag":
            i += 2
            continue
        if words[i] == "--output":
            kept = [p for p in words[i + 1].split(",") if not p.startswith(("type=", "name=", "push", "store="))]
            out += ["--output", ",".join([f"type=oci,dest={oci},tar=false", *kept])]
            i += 2
            continue
        out.append(words[i])
        i += 1
    return tuple(out)


def read_layout(root: Path) -> dict[Platform, Image]:
    """Each platform's image of the OCI layout at ROOT (an index of the build's index)."""

    def blob(digest: str) -> dict[str, Any]:
        return json.loads((root / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_text())  # type: ignore[no-any-return]

    top = json.loads((root / "index.json").read_text())
    index = blob(top["manifests"][0]["digest"]) if top["manifests"][0]["mediaType"].endswith("index.v1+json") else top
    out = {}
    for platform, digest in index_platforms(index).items():
        manifest = blob(digest)
        out[platform] = Image(digest, manifest, blob(manifest["config"]["digest"]))
    return out


def _published_image(client: Any, ref: Reference, digest: str) -> Image:
    _, _, manifest = client.manifest(ref.with_digest(digest))
    return Image(digest, manifest, json.loads(client.blob(ref, manifest["config"]["digest"])))


def report(
    ref: Reference, published: Mapping[Platform, str], rebuilt: Mapping[Platform, Image], problems: list[str], fmt: str
) -> None:
    rows = [
        {"platform": str(p), "published": d, "rebuilt": rebuilt[p].digest if p in rebuilt else None}
        for p, d in sorted(published.items(), key=lambda item: str(item[0]))
    ]
    if fmt == "json":
        print(json.dumps({"ref": str(ref), "same": not problems, "images": rows, "problems": problems}, indent=2))
        return
    for row in rows:
        same = row["published"] == row["rebuilt"]
        print(f"{row['platform']}: {'the same image' if same else 'differs'} ({row['published']})")
