"""buildx-go's go.work check (project/gowork.py) against go's own verdict, as the build sees
the project: each shape is copied alone to another folder (the build context: no sibling
folders, the old absolute path gone) and `go build` runs there, offline, with the workspace
go finds; buildx-go must refuse exactly the projects go cannot build."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from buildx_go.errors import InputError
from buildx_go.project.gomod import GoModule
from buildx_go.project.gowork import check_work
from buildx_go.seams import LocalFiles

from .test_gomod_differential import go_tool

pytestmark = pytest.mark.integration

APP = "module example.com/app\n\ngo 1.22\n"
LIB = "module example.com/lib\n\ngo 1.22\n"
# (go.work, extra files: path -> text); {old} is the project's first folder (gone when built)
SHAPES: list[tuple[str, dict[str, str]]] = [
    ("go 1.22\nuse .\n", {}),
    ("go 1.22\n\nuse (\n\t.\n\t./lib\n)\n", {"lib/go.mod": LIB}),
    ("go 1.22.0\ntoolchain go1.22.1\nuse .\n", {}),
    ("go 1.23\nuse .\n", {}),
    ("go 1.22\nuse .\nreplace example.com/x => ./nope\n", {}),
    ("go 1.22\nuse .\ngodebug panicnil=1\n", {}),
    ('// a workspace\ngo 1.22 // comment\nuse "./"\n', {}),
    ("go 1.22\nuse ./\nuse ./lib\n", {"lib/go.mod": "module example.com/lib\n"}),
    # what go refuses
    ("go 1.21\nuse .\n", {}),
    ("use .\n", {}),
    ("go 1.22\nuse ./lib\n", {"lib/go.mod": LIB}),
    ("go 1.22\nuse .\nuse ./\n", {}),
    ("go 1.22\nuse .\nuse ./lib/..\n", {"lib/go.mod": LIB}),
    ("go 1.22\nuse .\nuse ./nope\n", {}),
    ("go 1.22\nuse .\nuse ./empty\n", {"empty/README": "no module here\n"}),
    ("go 1.22\nuse .\nmodule x\n", {}),
    ("go 1.22\nuse . extra\n", {}),
    ("go 1.22\ngo 1.23\nuse .\n", {}),
    ("go one\nuse .\n", {}),
    ("go 1.22\nuse (\n\t.\n", {}),
    ("go 1.22\nuse .\nuse ../sibling\n", {}),
    ("go 1.22\nuse {old}\n", {}),
    ("go 1.22\nuse .\nuse ./a\nuse ./b\n", {"a/go.mod": LIB, "b/go.mod": LIB}),
    ("go 1.22\nuse .\nuse ./lib\n", {"lib/go.mod": "module example.com/lib\n\ngo 1.23\n"}),
    ("go 1.22\nuse .\nreplace example.com/x\n", {}),
    ("go 1.22\nuse .\ntoolchain 1.22\n", {}),
]


@pytest.mark.parametrize(("work", "extra"), SHAPES, ids=[repr(w)[:60] for w, _ in SHAPES])
def test_we_refuse_the_workspaces_go_cannot_build_in_the_context(
    work: str, extra: dict[str, str], tmp_path: Path
) -> None:
    project = tmp_path / "written" / "app"
    (tmp_path / "written" / "sibling").mkdir(parents=True)  # there when written, not in the context
    (tmp_path / "written" / "sibling" / "go.mod").write_text("module example.com/sibling\n\ngo 1.22\n")
    files = {"go.mod": APP, "main.go": "package main\n\nfunc main() {}\n", **extra}
    files["go.work"] = work.replace("{old}", str(project))
    for name, text in files.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    try:
        check_work(project, LocalFiles(), GoModule.from_text(APP))
        ours = None
    except InputError as exc:
        ours = exc.message
    context = tmp_path / "context" / "src"  # what the Go stage has: the project alone, elsewhere
    context.parent.mkdir()
    shutil.copytree(project, context)
    shutil.rmtree(tmp_path / "written")
    env = {**os.environ, "GOPROXY": "off", "GOTOOLCHAIN": "local", "GOFLAGS": "", "GOWORK": ""}
    proc = subprocess.run(
        [go_tool(), "build", "-o", os.devnull, "."], cwd=context, capture_output=True, text=True, env=env, timeout=120
    )
    assert (ours is not None) == (proc.returncode != 0), f"ours: {ours}\ngo: {proc.stderr[-500:]}"
