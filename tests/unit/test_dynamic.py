"""cgo binaries: their interpreter and libraries, looked up in an image's layers the way
the dynamic loader would find them."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

from buildx_go.verify.binary import dynamic_deps
from buildx_go.verify.check import library_problems
from buildx_go.verify.imagefs import Tree
from buildx_go.verify.layers import layer_facts
from tests.unit.test_verify import elf_program


def layer(entries: dict[str, str | bytes | None]) -> bytes:
    """A gzip tar layer: path -> bytes (a file), str (a symlink to it), None (a directory)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, what in entries.items():
            info = tarfile.TarInfo(name)
            if what is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif isinstance(what, str):
                info.type, info.linkname = tarfile.SYMTYPE, what
                tar.addfile(info)
            else:
                info.size = len(what)
                tar.addfile(info, io.BytesIO(what))
    return gzip.compress(buf.getvalue())


DEBIAN = layer(
    {
        "usr": None,
        "usr/lib": None,
        "usr/lib/x86_64-linux-gnu": None,
        "usr/lib/x86_64-linux-gnu/libc.so.6": b"c",
        "usr/lib/x86_64-linux-gnu/libz.so.1": "libz.so.1.2.13",
        "usr/lib/x86_64-linux-gnu/libz.so.1.2.13": b"z",
        "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2": b"ld",
        "lib": "usr/lib",  # merged /usr
        "lib64": None,
        "lib64/ld-linux-x86-64.so.2": "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
    }
)
INTERP = "/lib64/ld-linux-x86-64.so.2"


def test_a_host_binary_names_its_interpreter_and_libraries() -> None:
    data = Path(os.path.realpath("/bin/ls")).read_bytes()
    interp, needed = dynamic_deps(data)
    assert interp is not None and interp.startswith("/lib") and "ld-linux" in interp
    assert "libc.so.6" in needed
    assert dynamic_deps(elf_program(183, "aarch64")) == (None, ())  # a static Go binary
    assert dynamic_deps(b"not an elf") == (None, ())


def tree(*blobs: bytes) -> Tree:
    listings = [layer_facts(b).listing for b in blobs]
    return Tree([x for x in listings if x is not None])


def test_libraries_are_found_through_symlinks_and_whiteouts_apply() -> None:
    paths = tree(DEBIAN)
    assert paths.resolve(INTERP)[0] is not None and paths.resolve("/lib/x86_64-linux-gnu/libz.so.1")[0] is not None
    assert paths.resolve("/lib/x86_64-linux-gnu/libsqlite3.so.0")[0] is None
    assert library_problems(paths, "linux/amd64", INTERP, ("libc.so.6", "libz.so.1")) == []
    missing = library_problems(paths, "linux/amd64", INTERP, ("libc.so.6", "libsqlite3.so.0"))
    assert missing == ["the binary needs libsqlite3.so.0, which is in none of the image's library directories"]
    deleted = tree(DEBIAN, layer({"usr/lib/x86_64-linux-gnu/.wh.libz.so.1.2.13": b""}))
    assert library_problems(deleted, "linux/amd64", INTERP, ("libz.so.1",)) != []
    static_base = tree(layer({"etc": None, "etc/passwd": b"root:x:0:0::/:/sbin/nologin\n"}))
    (problem,) = library_problems(static_base, "linux/amd64", INTERP, ("libc.so.6",))
    assert problem.startswith(f"the binary is dynamically linked (cgo) but its interpreter {INTERP} is not in")
