from __future__ import annotations

from pathlib import Path

import pytest
from packaging.version import Version

from buildx_go.errors import InputError
from buildx_go.project.gomod import GoModule, GoProject, package_name, uses_cgo

GOMOD = """\
// a comment
module example.com/svc // trailing comment

go 1.22.3

toolchain go1.23.1

require (
\tgithub.com/a/b v1.2.3 // indirect
\tgolang.org/x/sys v0.20.0
)

require example.com/single v0.1.0

replace example.com/single => ../single
"""


def test_parses_module_go_toolchain_and_requires() -> None:
    mod = GoModule.from_text(GOMOD)
    assert mod.path == "example.com/svc"
    assert mod.go == Version("1.22.3")
    assert mod.toolchain == Version("1.23.1")
    assert mod.go_minor == "1.22"
    assert mod.requires == ("github.com/a/b", "golang.org/x/sys", "example.com/single")


def test_versions_compare_with_packaging() -> None:
    assert GoModule.from_text("module m\ngo 1.21rc2\n").go < Version("1.21.0")  # type: ignore[operator]


@pytest.mark.parametrize(
    ("text", "where", "why"),
    [
        ("module m\ngo one.two\n", "go.mod:2", "invalid go version"),
        ("module m\ngo 1.22 extra\n", "go.mod:2", "invalid go version"),
        ("module m\ngo 1.022\n", "go.mod:2", "invalid go version"),
        ("module m\ngo 1.22\ngo 1.23\n", "go.mod:3", "repeated go statement"),
        ('module "m\n', "go.mod:1", "syntax error"),
        ("module m\nreplace a\n", "go.mod:2", "usage: replace"),
        ("module m\nrequire a notaversion\n", "go.mod:2", "usage: require"),
        ("module m\nfoo (\n  bar\n)\n", "go.mod:2", "unknown block type"),
        ("module m\ngodebug foo\n", "go.mod:2", "usage: godebug"),
        ("module m\nretract [v1.0.0\n", "go.mod:2", "usage: retract"),
        ("module m\nfrobnicate x\n", "go.mod:2", "unknown directive 'frobnicate'"),
        ("module m\ntoolchain 1.22\n", "go.mod:2", "toolchain directive"),
        ("module m\nrequire (\n  a v1.0.0\n", "go.mod:2", "unterminated require"),
        ("go 1.22\n", "go.mod", "no module directive"),
        ("module a b\n", "go.mod:1", "exactly one path"),
    ],
)
def test_malformed_gomod_names_file_and_line(text: str, where: str, why: str) -> None:
    with pytest.raises(InputError) as err:
        GoModule.from_text(text, "go.mod")
    assert err.value.message.startswith(where)
    assert why in err.value.message
    assert err.value.exit_code == 2


def test_package_clause_ignores_comments() -> None:
    assert package_name("// package foo\n/* package bar */\n//go:build linux\n\npackage main\n") == "main"
    assert package_name("// nothing\n") is None


def test_cgo_detection() -> None:
    assert uses_cgo('package x\n\n// #include <stdio.h>\nimport "C"\n')
    assert uses_cgo('package x\nimport (\n\t"fmt"\n\t"C"\n)\n')
    assert not uses_cgo('package x\nimport "fmt"\n/* import "C" in a comment */\n')


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_detect_finds_mains_vendor_work_and_cgo(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "go.mod": "module example.com/tool\n\ngo 1.22\n",
            "go.work": "go 1.22\nuse .\n",
            "cmd/api/main.go": "package main\nfunc main() {}\n",
            "cmd/worker/main.go": "package main\nfunc main() {}\n",
            "cmd/worker/main_test.go": "package main\n",
            "internal/db/db.go": 'package db\n// #cgo LDFLAGS: -lsqlite3\nimport "C"\n',
            "vendor/modules.txt": "# github.com/a/b v1.0.0\n",
            "vendor/github.com/a/b/main.go": "package main\n",
            "testdata/main.go": "package main\n",
            "nested/go.mod": "module other\n",
            "nested/main.go": "package main\n",
        },
    )
    p = GoProject.detect(root)
    assert [m.path for m in p.mains] == ["./cmd/api", "./cmd/worker"]
    assert [m.binary for m in p.mains] == ["api", "worker"]
    assert p.cgo_files == ("internal/db/db.go",)
    assert p.vendored and p.workspace
    with pytest.raises(InputError, match=r"several main packages: \./cmd/api, \./cmd/worker"):
        p.main_for(None)
    assert p.main_for("cmd/worker").binary == "worker"
    with pytest.raises(InputError, match="--main: './cmd/nope'"):
        p.main_for("./cmd/nope")


def test_root_main_binary_is_module_basename(tmp_path: Path) -> None:
    root = write(tmp_path, {"go.mod": "module example.com/hello\ngo 1.22\n", "main.go": "package main\n"})
    assert GoProject.detect(root).main_for(None).binary == "hello"


def test_missing_gomod(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no go.mod"):
        GoProject.detect(tmp_path)
