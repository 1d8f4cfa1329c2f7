"""Build constraints as go/build evaluates them, and what they do to mains and cgo detection."""

from __future__ import annotations

from pathlib import Path

import pytest

from buildx_go.errors import InputError
from buildx_go.project.constraints import Target, file_constraint, included, name_matches, parse_expr
from buildx_go.project.gomod import GoProject
from tests.unit.test_gomod import write

AMD64 = Target("linux", "amd64")
ARM64 = Target("linux", "arm64")


def holds(expr: str, target: Target) -> bool:
    return parse_expr(expr)(target.has)


@pytest.mark.parametrize(
    ("expr", "amd64", "arm64"),
    [
        ("linux", True, True),
        ("windows", False, False),
        ("linux && amd64", True, False),
        ("linux && !amd64", False, True),
        ("darwin || arm64", False, True),
        ("!(windows || darwin) && unix", True, True),
        ("ignore", False, False),
        ("cgo", False, False),
        ("!cgo", True, True),
        ("go1.18", True, True),
        ("go1.99", False, False),
        ("amd64.v1", True, False),
        ("amd64.v3", False, False),
        ("gc && !gccgo", True, True),
        ("journald", False, False),
    ],
)
def test_expressions(expr: str, amd64: bool, arm64: bool) -> None:
    assert holds(expr, Target("linux", "amd64", go_minor=27)) is amd64
    assert holds(expr, Target("linux", "arm64", go_minor=27)) is arm64


def test_tags_variants_and_cgo() -> None:
    assert holds("journald", Target("linux", "amd64", tags=frozenset({"journald"})))
    assert holds("amd64.v3", Target("linux", "amd64", "v3"))
    assert not holds("amd64.v4", Target("linux", "amd64", "v3"))
    assert holds("arm.6", Target("linux", "arm", "v7")) and not holds("arm.7", Target("linux", "arm", "v6"))
    assert holds("windows && cgo", Target("windows", "amd64", cgo=True))
    assert not holds("windows && cgo", Target("linux", "amd64", cgo=True))


@pytest.mark.parametrize("bad", ["linux &&", "(linux", "linux)", "&& linux", "linux !", "lin$ux"])
def test_malformed_expressions_are_input_errors(bad: str) -> None:
    with pytest.raises(InputError, match="//go:build"):
        parse_expr(bad)


@pytest.mark.parametrize(
    ("name", "amd64", "arm64"),
    [
        ("main.go", True, True),
        ("main_linux.go", True, True),
        ("main_windows.go", False, False),
        ("main_arm64.go", False, True),
        ("zz_linux_amd64.go", True, False),
        ("x_linux_arm64_test.go", False, True),
        ("linux.go", True, True),  # no underscore: no constraint
        ("foo_bar.go", True, True),
        ("sys_unix.go", True, True),  # unix is not a file-name constraint
    ],
)
def test_file_names(name: str, amd64: bool, arm64: bool) -> None:
    assert name_matches(name, AMD64) is amd64
    assert name_matches(name, ARM64) is arm64


def test_header_go_build_plus_build_and_what_is_not_a_header() -> None:
    src = "// Copyright\n\n/* block\n comment */\n//go:build linux && arm64\n\npackage x\n"
    c = file_constraint(src)
    assert c is not None and included("x.go", c, ARM64) and not included("x.go", c, AMD64)
    legacy = "// +build linux,arm64 darwin\n// +build !cgo\n\npackage x\n"
    c = file_constraint(legacy)
    assert c is not None and c(ARM64.has) and not c(AMD64.has)
    assert file_constraint("package x\n//go:build ignore\n") is None  # after the package clause: not a constraint
    both = "//go:build amd64\n// +build arm64\n\npackage x\n"  # //go:build wins
    c = file_constraint(both)
    assert c is not None and c(AMD64.has) and not c(ARM64.has)
    assert file_constraint("//go:buildx linux\npackage x\n") is None


PROJECT = {
    "go.mod": "module example.com/svc\ngo 1.22\n",
    "cmd/api/main.go": "package main\nfunc main() {}\n",
    # a generator next to a library: `go run gen.go`, never built
    "internal/store/gen.go": "//go:build ignore\n\npackage main\n",
    "internal/store/store.go": "package store\n",
    # a main that only exists with -tags journald
    "cmd/journal/main.go": "//go:build journald\n\npackage main\n",
    # a main for windows only
    "cmd/winsvc/main_windows.go": "package main\n",
    # a main with files per arch: builds for both
    "cmd/split/main_amd64.go": "package main\n",
    "cmd/split/main_arm64.go": "package main\n",
    # amd64 only
    "cmd/onlyamd/main.go": "//go:build amd64\n\npackage main\n",
    # cgo only on windows: not cgo for linux targets
    "internal/win/win.go": '//go:build windows && cgo\n\npackage win\n\nimport "C"\n',
    # cgo for linux with cgo on, a pure-Go fallback otherwise
    "internal/db/db_cgo.go": '//go:build cgo\n\npackage db\n\nimport "C"\n',
    "internal/db/db_pure.go": "//go:build !cgo\n\npackage db\n",
    "_skip/main.go": "package main\n",
    "cmd/api/.hidden.go": '//go:build linux\npackage main\nimport "C"\n',
}


def test_mains_and_cgo_follow_build_constraints(tmp_path: Path) -> None:
    p = GoProject.detect(write(tmp_path, PROJECT))
    assert [m.path for m in p.mains] == ["./cmd/api", "./cmd/split"]
    assert dict(p.constrained) == {
        "./cmd/journal": "builds only with --tags journald",
        "./cmd/onlyamd": "has no main files for linux/arm64",
        "./cmd/winsvc": "excluded by build constraints for every target",
    }
    assert p.cgo_files == ("internal/db/db_cgo.go",)
    with pytest.raises(InputError, match=r"--main: './cmd/journal' builds only with --tags journald"):
        p.main_for("./cmd/journal")


def test_tags_and_targets_change_the_answer(tmp_path: Path) -> None:
    root = write(tmp_path, PROJECT)
    tagged = GoProject.detect(root, tags=frozenset({"journald"}))
    assert "./cmd/journal" in [m.path for m in tagged.mains]
    amd = GoProject.detect(root, targets=(AMD64,))
    assert "./cmd/onlyamd" in [m.path for m in amd.mains]
    win = GoProject.detect(root, targets=(Target("windows", "amd64"),))
    assert "./cmd/winsvc" in [m.path for m in win.mains]
    assert "internal/win/win.go" in win.cgo_files


def test_a_tag_only_main_is_named_when_there_is_no_other(tmp_path: Path) -> None:
    root = write(tmp_path, {"go.mod": "module m\ngo 1.22\n", "main.go": "//go:build journald\n\npackage main\n"})
    with pytest.raises(InputError, match=r"no main package .*: \. builds only with --tags journald"):
        GoProject.detect(root).main_for(None)
    assert GoProject.detect(root, tags=frozenset({"journald"})).main_for(None).binary == "m"


def test_a_malformed_constraint_names_the_file(tmp_path: Path) -> None:
    root = write(tmp_path, {"go.mod": "module m\ngo 1.22\n", "main.go": "//go:build linux &&\n\npackage main\n"})
    with pytest.raises(InputError, match=r"main.go: //go:build: unexpected end"):
        GoProject.detect(root)
