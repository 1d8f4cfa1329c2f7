"""The repository speaks of the product: no text about how or when it was developed, no
path outside the repository in the documents users read, no lab script in what buildx-go
says to a user, and docs that link only to pages that exist."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
# words that narrate the work rather than describe the product
PROCESS = re.compile(
    r"\b(this|that|the same|a later|an earlier|previous|next|last|first) session\b|\bsessions?\s+\d|"
    r"\bearlier runs?\b|\bin an earlier run\b|\bwork periods?\b|\bthis run of ours\b|\bissue \d+\b|"
    r"\bwe (found|fixed|measured) (it )?(yesterday|earlier)\b",
    re.I,
)


SKIP = {".git", ".venv", ".tox", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", "build", "dist"}


def tracked() -> list[Path]:
    """The repository's own files (what git would track: tools' and caches' folders left out)."""
    out = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if d not in SKIP and not d.endswith(".egg-info"))
        out += [Path(folder) / f for f in sorted(files)]
    return out


def test_no_text_narrates_the_development() -> None:
    files = [p for p in tracked() if p.suffix in ("", ".md", ".py", ".toml", ".yml", ".ini", ".sh", ".txt")]
    found = []
    for path in files:
        if path.name == "CHANGELOG.md" or path == Path(__file__):
            continue  # history lives there
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        found += [f"{path.relative_to(ROOT)}: {m.group(0)!r}" for m in PROCESS.finditer(text)]
    assert found == []


def test_the_documents_users_read_stay_inside_the_repository() -> None:
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        assert "../shared" not in path.read_text(), path


def test_no_user_facing_message_names_a_lab_script() -> None:
    """Error hints, help and notes give product advice: scripts/ is not installed with buildx-go."""
    found = []
    for path in sorted((ROOT / "buildx_go").rglob("*.py")):
        for node in re.finditer(r"(\"[^\"\n]*scripts/[^\"\n]*\"|'[^'\n]*scripts/[^'\n]*')", path.read_text()):
            found.append(f"{path.relative_to(ROOT)}: {node.group(0)}")
    assert found == []


def test_the_readme_is_a_front_page_and_the_docs_links_resolve() -> None:
    readme = (ROOT / "README.md").read_text()
    lines = readme.splitlines()
    assert len(lines) <= 250
    quick = next(i for i, line in enumerate(lines) if line.startswith("## Quick start"))
    first_build = next(i for i, line in enumerate(lines) if line.startswith("buildx-go build . --image"))
    assert quick < first_build < 60
    for path in [ROOT / "README.md", ROOT / "DEVELOPMENT.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", path.read_text()):
            assert (path.parent / target).exists(), (path.name, target)
