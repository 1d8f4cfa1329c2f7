"""Dockerfiles in the shapes of public Go projects (tests/unit/dockerfiles): each one's Go
stages as classified, its lints used as is and when adapted, and the adapted text, compared
with a golden file beside it (UPDATE_GOLDEN=1 rewrites them; review the diff)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from buildx_go.adapt import adapt, lint, needs_adapting
from buildx_go.dockerfile import Dockerfile
from buildx_go.platforms import Platform, parse_platforms
from buildx_go.stages import go_stages, style

CORPUS = Path(__file__).parent / "dockerfiles"
FILES = sorted(CORPUS.glob("*.Dockerfile"))
TWO = parse_platforms("linux/amd64,linux/arm64")
AMD64 = Platform("linux", "amd64")


def report(path: Path) -> tuple[str, Dockerfile | None]:
    df = Dockerfile.parse(path.read_text(), path.name)
    found = go_stages(df)
    lines = [f"style: {style(df, found)}"]
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
    lines += [f"  {i.code}: {i.message}" for i in lint(df, TWO, AMD64, adapted=False)]
    derived = None
    if needs_adapting(found) or style(df, found) == "goarch-recipe":
        a = adapt(df, path.name)
        if a.changes:
            derived = Dockerfile.parse(a.text, "derived")
            lines.append("adapted:")
            lines += [f"  {c}" for c in a.changes]
            lines.append("lints adapted:")
            lines += [f"  {i.code}: {i.message}" for i in lint(df, TWO, AMD64, adapted=True)]
            lines += ["--- derived Dockerfile ---", a.text.rstrip("\n")]
    if derived is None:
        lines.append("used as is")
        lines += [f"  {i.code}: {i.message}" for i in lint(df, TWO, AMD64, adapted=True)]
    return "\n".join(lines) + "\n", derived


def test_the_corpus_has_every_shape() -> None:
    assert len(FILES) >= 30
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
        refused = {i.line for i in lint(original, TWO, AMD64, adapted=True) if i.code == "not-adapted"}
        for g in go_stages(derived):
            assert g.kind in ("cross", "tool") or refused, (path.name, g.describe())
        # ... and its stages, a final Go stage split in two (compiled, then shipped from the same image)
        kept, names = derived.stages, [s.name for s in original.stages]
        if any("split:" in c for c in adapt(original, path.name).changes):
            assert derived.stages[-1].base == derived.stages[-2].base and derived.stages[-1].name is None
            assert not any(i.keyword == "RUN" for i in derived.stages[-1].instructions)
            kept, names = derived.stages[:-1], [*names[:-1], names[-1] or "buildx-go-build"]
        assert [s.name for s in kept] == names
        assert [s.base for s in kept] == [s.base for s in original.stages]
