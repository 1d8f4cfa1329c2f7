"""Dockerfiles in the shapes of public Go projects, written here (tests/corpus): build-stage
shapes (build/, with the Makefiles and scripts they run in NAME.project/) and final-stage and
entrypoint shapes (final/, each also built and run by tests/integration/test_shapes.py).
Each one's Go stages as classified, its lints used as is and when adapted, and the adapted
text, compared with a golden file beside it (UPDATE_GOLDEN=1 rewrites them; review the diff)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from buildx_go.dockerfile.adapt import adapt, lint, needs_adapting, unbuildable
from buildx_go.dockerfile.parse import Dockerfile
from buildx_go.dockerfile.stages import build_files, go_stages, style
from buildx_go.platforms import Platform, parse_platforms

CORPUS = Path(__file__).parents[1] / "corpus"
BUILD = sorted((CORPUS / "build").glob("*.Dockerfile"))
FINAL = sorted((CORPUS / "final").glob("*.Dockerfile"))
FILES = BUILD + FINAL
TWO = parse_platforms("linux/amd64,linux/arm64")
AMD64 = Platform("linux", "amd64")


def project_files(path: Path, df: Dockerfile) -> dict[str, str]:
    """The build files (stages.build_files) the shape's project holds, from NAME.project/."""
    root = path.with_suffix(".project")
    out = {}
    for key in build_files(df):
        rel = key.partition(":")[2]
        if (root / rel).is_file():
            out[key] = (root / rel).read_text()
    if (root / "Makefile").is_file():  # what the Makefile includes, as facts.read_build_files reads it
        for line in (root / "Makefile").read_text().splitlines():
            if line.startswith("include "):
                rel = line.split()[1]
                out[f"make:{rel}"] = (root / rel).read_text()
    return out


def report(path: Path) -> tuple[str, Dockerfile | None]:
    df = Dockerfile.parse(path.read_text(), path.name)
    files = project_files(path, df)
    found = go_stages(df)
    lines = [f"style: {style(df, found)}"]
    stuck = unbuildable(df, (), files)
    if stuck:
        lines.append(f"refused before building: stage {stuck[0].name}, cgo ({stuck[1]}) without a Debian toolchain")
    for g in found:
        lines.append(
            f"go stage {g.name}: {g.kind}, {g.how}, on {g.where}"
            + (f", arch args {','.join(g.arch_args)}" if g.arch_args else "")
            + (f", sets {g.literal}" if g.literal else "")
            + (f", shares its root with {g.shared}" if g.shared else "")
        )
    if not found:
        lines.append("no go stage")
    lines.append("lints as is:")
    lines += [f"  {i.code}: {i.message}" for i in lint(df, TWO, AMD64, adapted=False, build_files=files)]
    derived = None
    if needs_adapting(found) or style(df, found) == "goarch-recipe":
        a = adapt(df, path.name, build_files=files)
        if a.changes:
            derived = Dockerfile.parse(a.text, "derived")
            lines.append("adapted:")
            lines += [f"  {c}" for c in a.changes]
            lines.append("lints adapted:")
            lines += [f"  {i.code}: {i.message}" for i in lint(df, TWO, AMD64, adapted=True, build_files=files)]
            lines += ["--- derived Dockerfile ---", a.text.rstrip("\n")]
    if derived is None:
        lines.append("used as is")
        lines += [f"  {i.code}: {i.message}" for i in lint(df, TWO, AMD64, adapted=True, build_files=files)]
    return "\n".join(lines) + "\n", derived


def test_the_corpus_has_every_shape() -> None:
    assert len(BUILD) >= 30 and len(FINAL) >= 40
    names = " ".join(p.stem for p in FILES)
    for shape in (
        "make",
        "go-install",
        "chain",
        "targetplatform",
        "custom-arg",
        "heredoc",
        "prebuilt",
        "xx",
        "several-mains",
        "apt",
        "apk",
        "recipe",
        "cgo",
        "single-stage",
        "arg-named",
        "unused",
        "distroless",
        "debian",
        "scratch",
        "usr-local-bin",
        "usr-bin",
        "app-dir",
        "ko-app",
        "bare",
        "symlink",
        "tini",
        "shell-form",
        "nonroot",
        "workdir-relative",
    ):
        assert shape in names, shape


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_corpus(path: Path) -> None:
    text, derived = report(path)
    golden = path.with_suffix(".expected")
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()
    if derived is not None:
        original = Dockerfile.parse(path.read_text())
        # the derived file cross-compiles every Go stage that could be adapted, and keeps the stages
        files = project_files(path, original)
        refused = {
            i.line for i in lint(original, TWO, AMD64, adapted=True, build_files=files) if i.code == "not-adapted"
        }
        for g in go_stages(derived):
            assert g.kind in ("cross", "tool") or refused, (path.name, g.describe())
        # ... and its stages, a final Go stage split in two (compiled, then shipped from the same image)
        kept, names = derived.stages, [s.name for s in original.stages]
        if any("split:" in c for c in adapt(original, path.name, build_files=project_files(path, original)).changes):
            assert derived.stages[-1].base == derived.stages[-2].base and derived.stages[-1].name is None
            assert not any(i.keyword == "RUN" for i in derived.stages[-1].instructions)
            kept, names = derived.stages[:-1], [*names[:-1], names[-1] or "buildx-go-build"]
        assert [s.name for s in kept] == names
        assert [s.base for s in kept] == [s.base for s in original.stages]
