"""The buildx-go commands the CI examples run (examples/github-actions.yml, gitlab-ci.yml),
as argument lists, with the CI's variables replaced by the values a test chooses."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

EXAMPLES = Path(__file__).parents[1] / "examples"


def _lines(doc: Any) -> list[str]:
    """Every command line of a workflow (steps' `run`) or a GitLab job (`script` and co)."""
    found: list[str] = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key == "run" and isinstance(value, str):
                found += value.splitlines()
            elif key in ("script", "before_script", "after_script") and isinstance(value, list):
                found += [str(v) for v in value]
            else:
                found += _lines(value)
    elif isinstance(doc, list):
        for item in doc:
            found += _lines(item)
    return found


def buildx_go_commands(name: str, values: Mapping[str, str] | None = None) -> list[list[str]]:
    """The `buildx-go ...` commands of examples/NAME, VALUES replacing text (variables)."""
    doc = yaml.safe_load((EXAMPLES / name).read_text())
    out = []
    for line in _lines(doc):
        if not line.strip().startswith("buildx-go "):
            continue
        for old, new in (values or {}).items():
            line = line.replace(old, new)
        out.append(shlex.split(line))
    return out
