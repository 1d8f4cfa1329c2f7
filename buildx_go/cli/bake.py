"""`buildx-go plan --format bake`: the plan as a `docker buildx bake` file (JSON), for teams
who keep building with bake. The Dockerfile BuildKit gets is written to a stable path in the
project (``.buildx-go/Dockerfile``, with its ``.dockerignore``), which the file names.

bake builds what the buildx strategy's one run builds: the same Dockerfile, platforms, tags,
build args, labels, attestations, cache and output. It does not verify or move tags
(`buildx-go verify` does the first); a plan that needs more than one run (the manifest
strategy, the host's compiles) has no bake form.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import Any

from packaging.version import Version

from buildx_go.errors import InputError
from buildx_go.log import get_logger
from buildx_go.planning.plan import Plan

BAKE_DIR = ".buildx-go"
BAKE_FILES = ("Dockerfile", "Dockerfile.dockerignore")  # what write_dockerfile writes there (to be committed)
TARGET = "image"
NETWORK_KEY = Version("0.14")  # the first buildx whose bake files may say `network`


def bake_file(plan: Plan, buildx: Version | None = None) -> tuple[dict[str, Any], list[str]]:
    """The bake JSON of PLAN (a buildx-strategy plan whose workdir is the stable BAKE_DIR),
    for the project's root: its paths relative to it (bake resolves them from where it runs),
    the image and the version as variables IMAGE and TAG (`TAG=1.2.4 docker buildx bake`);
    and what it could not say for BUILDX, the version of buildx here (notes)."""
    if plan.packaging != "buildx" or plan.phase("compile"):
        raise InputError(
            f"--format bake: the {plan.strategy} strategy is not one buildx run ({plan.reason})",
            "use --strategy buildx with a builder that builds several platforms at once",
        )
    (build,) = plan.phase("build")
    argv = list(build.argv)
    root, image = Path(plan.project), str(plan.image)
    tag = plan.refs[0].rsplit(":", 1)[1] if plan.refs and plan.refs[0].startswith(f"{image}:") else "latest"

    def versioned(pairs: list[tuple[str, str]]) -> dict[str, str]:
        return {k: "${TAG}" if v == tag else v for k, v in pairs}

    tags = ["${IMAGE}:${TAG}", *(f"${{IMAGE}}:{t}" for t in plan.moving_tags)]
    target: dict[str, Any] = {
        "context": os.path.relpath(argv[-1], root),
        "dockerfile": os.path.relpath(str(plan.dockerfile.path), argv[-1]),
        "platforms": [str(p) for p in plan.platforms],
        "tags": tags,
        "args": versioned(_pairs(argv, "--build-arg")),
        "labels": versioned(_pairs(argv, "--label")),
        "attest": [
            "type=provenance,mode=min" if "--provenance=true" in argv else "type=provenance,disabled=true",
            *(["type=sbom"] if "--sbom=true" in argv else []),
        ],
        "cache-from": _values(argv, "--cache-from"),
        "cache-to": _values(argv, "--cache-to"),
        "output": _values(argv, "--output") + (["type=docker"] if "--load" in argv else []),
        "secret": _values(argv, "--secret"),
        "ssh": _values(argv, "--ssh"),
    }
    notes = []
    if "--network" in argv:
        network = argv[argv.index("--network") + 1]
        if buildx is None or buildx >= NETWORK_KEY:
            target["network"] = network
        else:  # buildx 0.13 refuses the key ("unknown key: network")
            notes.append(
                f"no network {network}: buildx {buildx} has no such key; builder: --driver-opt network={network}"
            )
    variables = {"IMAGE": {"default": image}, "TAG": {"default": tag}}
    target = {k: v for k, v in target.items() if v}
    return {"variable": variables, "group": {"default": {"targets": [TARGET]}}, "target": {TARGET: target}}, notes


def print_bake(plan: Plan, buildx: Version | None) -> None:
    """The bake file on stdout, its Dockerfile written, what it could not say as warnings."""
    baked, notes = bake_file(plan, buildx)
    print(json.dumps(baked, indent=2))
    write_dockerfile(plan)
    log = get_logger()
    for note in notes:
        log.warning("bake.unexpressed", note=note)
    log.info("bake.written", dockerfile=plan.dockerfile.path, project=plan.project)


def write_dockerfile(plan: Plan) -> None:
    """The Dockerfile and its ignore file at the stable path the bake file names, written
    inside the project only: no symlink the project holds is followed (exit 2 naming it)."""
    root = Path(plan.project)
    path = Path(str(plan.dockerfile.path))
    folder = path.parent.relative_to(root)
    write_inside(root, folder / path.name, plan.dockerfile.text)
    write_inside(root, folder / f"{path.name}.dockerignore", plan.dockerignore)


def write_inside(root: Path, relative: Path, text: str) -> None:
    """TEXT to ROOT/RELATIVE, each folder on the way made or found a real directory and the
    file opened with O_NOFOLLOW: a symlink (or a file where a folder belongs, or a folder
    where the file belongs) is refused, naming it, and nothing is written through it."""
    here = root
    for part in relative.parts[:-1]:
        here = here / part
        try:
            st = os.lstat(here)
        except FileNotFoundError:
            try:
                os.mkdir(here)
            except OSError as exc:
                raise InputError(
                    f"{here}: cannot be made ({exc.strerror})", "check the project's permissions"
                ) from None
            continue
        if stat.S_ISLNK(st.st_mode):
            raise InputError(f"{here}: is a symlink; buildx-go writes only inside the project", f"remove {here}")
        if not stat.S_ISDIR(st.st_mode):
            raise InputError(f"{here}: exists and is not a directory", f"remove or rename {here}")
    target = root / relative
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            why = "is a symlink; buildx-go writes only inside the project"
        else:
            why = "is a directory" if exc.errno == errno.EISDIR else f"cannot be written ({exc.strerror})"
        raise InputError(f"{target}: {why}", f"remove or fix {target}") from None
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _values(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == flag]


def _pairs(argv: list[str], flag: str) -> list[tuple[str, str]]:
    return [(v.split("=", 1)[0], v.split("=", 1)[1]) for v in _values(argv, flag) if "=" in v]
