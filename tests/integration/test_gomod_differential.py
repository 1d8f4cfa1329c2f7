"""buildx-go's go.mod reader (project/gomod.py) against go's own: each shape is read by
`go mod edit -json` (modfile.Parse, offline, as go build reads the main module), and
buildx-go must refuse exactly the files go refuses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from buildx_go.errors import InputError
from buildx_go.project.gomod import GoModule

pytestmark = pytest.mark.integration

M = "module example.com/hello\n"
SHAPES = [
    M + "go 1.22\n",
    M + "go 1.22.3\n",
    M + "go 1.21rc2\n",
    M + "go 1.22\ntoolchain go1.23.4\n",
    M + "go 1.22\ntoolchain default\n",
    M + "go 1.22\ntoolchain go1.23.4-custom\n",
    'module "example.com/quoted"\ngo 1.22\n',
    "module `example.com/raw`\ngo 1.22\n",
    M + "go 1.22 // the version\n",
    M + "\nrequire (\n\texample.com/a v1.2.3\n\texample.com/b v0.0.0-20240101000000-abcdefabcdef // indirect\n)\n",
    M + "require example.com/c v2.0.0+incompatible\n",
    M + "replace example.com/a => ../a\n",
    M + "replace example.com/a v1.2.3 => example.com/fork v1.2.4\n",
    M + "replace (\n\texample.com/a => ./a\n)\n",
    M + "exclude example.com/a v1.0.0\n",
    M + "retract v1.0.0\nretract [v1.1.0, v1.2.0]\n",
    M + "godebug default=go1.21\ngodebug (\n\tpanicnil=1\n)\n",
    M + "tool example.com/tool/cmd/x\n",
    "\ufeff" + M + "go 1.22\n",
    M.replace("\n", "\r\n") + "go 1.22\r\n",
    # what go refuses
    M + "go 1\n",
    M + "go abc\n",
    M + "go 1.22.0.1\n",
    M + "go 1.022\n",
    M + "go 1.22\ngo 1.23\n",
    M + M,
    'module "example.com/hello\ngo 1.22\n',
    M + "replace example.com/dep\n",
    M + "require (\n\tjust-a-path\n)\n",
    M + "require example.com/dep notaversion\n",
    M + "retract [v1.0.0\n",
    M + "foo (\n\tbar\n)\n",
    M + "godebug foo\n",
    M + "exclude example.com/x\n",
    M + "replace (\n\tgarbage here\n)\n",
    M + "tool\n",
    M + "require example.com/dep v1.0.0 extra words\n",
    M + "frobnicate x\n",
    M + "toolchain 1.22\n",
    M + "require (\n\texample.com/a v1.0.0\n",
    M + "replace example.com/a => ../a v1.0.0\n",
    M + "replace example.com/a => example.com/b\n",
]


def go_tool() -> str:
    return shutil.which("go") or str(Path(sys.executable).parent / "go")


@pytest.mark.parametrize("text", SHAPES, ids=[repr(t[len(M) :] if t.startswith(M) else t)[:50] for t in SHAPES])
def test_we_refuse_the_go_mod_files_go_refuses(text: str, tmp_path: Path) -> None:
    (tmp_path / "go.mod").write_text(text, newline="")
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOPROXY": "off", "GOTOOLCHAIN": "local", "GOWORK": "off"}
    proc = subprocess.run(
        [go_tool(), "mod", "edit", "-json"], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=60
    )
    try:
        GoModule.from_text(text)
        ours = False
    except InputError:
        ours = True
    assert ours == (proc.returncode != 0), proc.stderr[-500:]
