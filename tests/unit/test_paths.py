"""The folders a run writes to are looked at before the engine is asked: a bake folder that
is a file or a link, a cache folder below a file, a workdir through a symlink loop."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from buildx_go.cli.paths import check_cache_folder, check_inside, check_workdir, unusable_folder
from buildx_go.errors import EngineError, InputError
from tests.unit.test_corpus import Run, valid_argv


def test_a_folder_is_usable_when_it_can_be_made_below_a_writable_directory(tmp_path: Path) -> None:
    assert unusable_folder(tmp_path / "a" / "b" / "c") is None
    assert unusable_folder(tmp_path) is None
    (tmp_path / "f").write_text("")
    assert unusable_folder(tmp_path / "f" / "x" / "y") == f"{tmp_path / 'f'}: exists and is not a directory"
    assert unusable_folder(tmp_path / "f") == f"{tmp_path / 'f'}: exists and is not a directory"


def test_a_symlink_loop_and_a_read_only_folder_are_named(tmp_path: Path) -> None:
    (tmp_path / "l1").symlink_to("l2")
    (tmp_path / "l2").symlink_to("l1")
    assert "symbolic links" in str(unusable_folder(tmp_path / "l1" / "w"))
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    if os.access(ro, os.W_OK):  # root writes anywhere: the check agrees with the kernel
        assert unusable_folder(ro / "x") is None
    else:
        assert unusable_folder(ro / "x") == f"{ro}: cannot be written"


def test_the_cache_folder_is_the_machines_and_the_workdir_the_users(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(EngineError, match="cache folder: .*/f: exists and is not a directory"):
        check_cache_folder(str(tmp_path / "f" / "buildx-go"))
    with pytest.raises(InputError, match="BUILDX_GO_WORKDIR: .*/f: exists and is not a directory"):
        check_workdir(str(tmp_path / "f" / "w"))
    check_workdir(None)
    check_cache_folder(str(tmp_path / "new" / "buildx-go"))


@pytest.mark.parametrize(
    ("spoil", "names"),
    [
        (lambda r: (r / ".buildx-go").write_text(""), ".buildx-go: exists and is not a directory"),
        (lambda r: (r / ".buildx-go" / "Dockerfile").mkdir(parents=True), "Dockerfile: exists and is not a regular"),
        (lambda r: (r / ".buildx-go").symlink_to("/tmp"), ".buildx-go: is a symlink"),
        (
            lambda r: ((r / ".buildx-go").mkdir(), (r / ".buildx-go" / "Dockerfile.dockerignore").symlink_to("/etc/x")),
            "symlink",
        ),
        (lambda r: ((r / ".buildx-go").mkdir(), os.mkfifo(r / ".buildx-go" / "Dockerfile")), "not a regular file"),
    ],
)
def test_a_bake_folder_that_cannot_be_written_is_refused_before_docker(spoil, names: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = Run(tmp_path)
    spoil(run.root)
    code, err = run(["plan", str(run.root), *valid_argv(without="push"), "--format", "bake"])
    run.assert_refused(code, err, names)


def test_check_inside_accepts_what_is_not_there_yet_and_regular_files(tmp_path: Path) -> None:
    check_inside(tmp_path, [Path(".buildx-go", "Dockerfile")])
    (tmp_path / ".buildx-go").mkdir()
    (tmp_path / ".buildx-go" / "Dockerfile").write_text("FROM x\n")
    check_inside(tmp_path, [Path(".buildx-go", "Dockerfile")])


def test_a_cache_folder_below_a_file_is_exit_3_before_docker(tmp_path: Path) -> None:
    run = Run(tmp_path)
    (tmp_path / "afile").write_text("")
    code, err = run(["build", str(run.root), *valid_argv()], {"XDG_CACHE_HOME": str(tmp_path / "afile" / "x")})
    assert code == 3, err
    assert [line for line in err.splitlines() if line.startswith("ERROR ")] == [
        f"ERROR cache folder: {tmp_path / 'afile'}: exists and is not a directory"
    ]
    assert run.docker.probes == [] and not run.calls.exists()
