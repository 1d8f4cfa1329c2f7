"""cgo binaries: their interpreter and libraries, looked up in an image's layers the way
the dynamic loader would find them."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

import attrs

from buildx_go.platforms import Platform
from buildx_go.verify.binary import dynamic_deps
from buildx_go.verify.check import Loader, library_problems
from buildx_go.verify.imagefs import Tree, User
from buildx_go.verify.layers import layer_facts
from tests.fakeregistry import entry_tar
from tests.unit.test_verify import elf_program


def layer(entries: dict[str, str | bytes | None], modes: dict[str, int] | None = None, mode: int = 0o644) -> bytes:
    """A gzip tar layer: path -> bytes (a file), str (a symlink to it), None (a directory);
    folders 0755, files MODE unless MODES says (dynamic loaders, ld-*, 0755 as distributions
    ship them)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, what in entries.items():
            info = tarfile.TarInfo(name)
            if what is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif isinstance(what, str):
                info.type, info.linkname = tarfile.SYMTYPE, what
                tar.addfile(info)
            else:
                info.size = len(what)
                info.mode = (modes or {}).get(name, 0o755 if "/ld-" in f"/{name}" else mode)
                tar.addfile(info, io.BytesIO(what))
    return gzip.compress(buf.getvalue())


X86 = elf_program(62, "x86-64", go=False)  # a library's machine is all the loader checks here
ARM = elf_program(183, "aarch64", go=False)
AMD64 = Platform("linux", "amd64")
DEBIAN = layer(
    {
        "usr": None,
        "usr/lib": None,
        "usr/lib/x86_64-linux-gnu": None,
        "usr/lib/x86_64-linux-gnu/libc.so.6": X86,
        "usr/lib/x86_64-linux-gnu/libz.so.1": "libz.so.1.2.13",
        "usr/lib/x86_64-linux-gnu/libz.so.1.2.13": X86,
        "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2": X86,
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


def loader(interp: str = INTERP, runpath: tuple[str, ...] = (), env: str = "", rpath: tuple[str, ...] = ()) -> Loader:
    return Loader(interp, rpath, runpath, env, "app/bin/app")


def test_libraries_are_found_through_symlinks_and_whiteouts_apply() -> None:
    paths = tree(DEBIAN)
    assert paths.resolve(INTERP)[0] is not None and paths.resolve("/lib/x86_64-linux-gnu/libz.so.1")[0] is not None
    assert paths.resolve("/lib/x86_64-linux-gnu/libsqlite3.so.0")[0] is None
    assert library_problems(paths, AMD64, loader(), ("libc.so.6", "libz.so.1")) == []
    (missing,) = library_problems(paths, AMD64, loader(), ("libc.so.6", "libsqlite3.so.0"))
    assert missing.startswith(
        "the binary needs libsqlite3.so.0, which the dynamic loader finds in none of /lib/x86_64-linux-gnu, "
        "/usr/lib/x86_64-linux-gnu, /lib64, /usr/lib64, /lib, /usr/lib nor in ld.so.cache"
    )
    deleted = tree(DEBIAN, layer({"usr/lib/x86_64-linux-gnu/.wh.libz.so.1.2.13": b""}))
    assert library_problems(deleted, AMD64, loader(), ("libz.so.1",)) != []
    loader_file = "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
    unexecutable = tree(DEBIAN, layer({"usr/lib/x86_64-linux-gnu": None, loader_file: X86}, {loader_file: 0o644}))
    assert library_problems(unexecutable, AMD64, loader(), ("libc.so.6",)) == [
        f"the binary's interpreter {INTERP} is not executable (mode 0644): the kernel refuses it"
    ]
    static_base = tree(layer({"etc": None, "etc/passwd": b"root:x:0:0::/:/sbin/nologin\n"}))
    (problem,) = library_problems(static_base, AMD64, loader(), ("libc.so.6",))
    assert problem.startswith(f"the binary is dynamically linked (cgo) but its interpreter {INTERP} is not in")


def test_a_library_of_another_architecture_is_passed_over_as_the_loader_does() -> None:
    wrong = tree(DEBIAN, layer({"usr/lib/libgreet.so": ARM}))
    assert library_problems(wrong, AMD64, loader(), ("libgreet.so",)) == [
        "the binary needs libgreet.so; the dynamic loader finds only /usr/lib/libgreet.so (aarch64), "
        "not for linux/amd64"
    ]
    # one of the right machine further along the search is the one loaded
    both = tree(DEBIAN, layer({"usr/lib/libgreet.so": X86, "lib64": None, "lib64/libgreet.so": ARM}))
    assert library_problems(both, AMD64, loader(), ("libgreet.so",)) == []


def test_the_loaders_own_directories_come_from_the_binary_the_config_and_ld_so_cache() -> None:
    local = {"usr/local": None, "usr/local/lib": None, "usr/local/lib/libgreet.so": X86}
    image = tree(DEBIAN, layer(local))
    # glibc reads /usr/local/lib only through ld.so.cache: a library put there needs ldconfig
    assert (
        "nor in ld.so.cache (a library added elsewhere needs ldconfig)"
        in library_problems(image, AMD64, loader(), ("libgreet.so",))[0]
    )
    cache = b"glibc-ld.so.cache1.1\x00\x01\x00libgreet.so\x00/usr/local/lib/libgreet.so\x00"
    cached = tree(DEBIAN, layer({**local, "etc": None, "etc/ld.so.cache": cache}))
    assert library_problems(cached, AMD64, loader(), ("libgreet.so",)) == []
    own = tree(DEBIAN, layer({"opt": None, "opt/app": None, "opt/app/lib": None, "opt/app/lib/libgreet.so": X86}))
    assert library_problems(own, AMD64, loader(), ("libgreet.so",)) != []
    assert library_problems(own, AMD64, loader(env="/opt/app/lib"), ("libgreet.so",)) == []
    assert library_problems(own, AMD64, loader(runpath=("/opt/app/lib",)), ("libgreet.so",)) == []
    origin = tree(DEBIAN, layer({"app": None, "app/bin": None, "app/bin/app": X86, "app/lib/libgreet.so": X86}))
    assert library_problems(origin, AMD64, loader(runpath=("$ORIGIN/../lib",)), ("libgreet.so",)) == []
    # musl reads /usr/local/lib by default, and has no ld.so.cache
    musl = "/lib/ld-musl-x86_64.so.1"
    alpine = tree(layer({"lib": None, "lib/ld-musl-x86_64.so.1": X86, **local}))
    assert library_problems(alpine, AMD64, loader(interp=musl), ("libgreet.so",)) == []


def test_musl_reads_its_system_folders_from_its_path_file_when_the_image_has_one() -> None:
    """musl's loader: /etc/ld-musl-ARCH.path (ARCH from its own name, the folder above its
    own) lists the system folders instead of /lib, /usr/local/lib and /usr/lib."""
    musl = "/lib/ld-musl-x86_64.so.1"
    base = {"lib": None, "lib/ld-musl-x86_64.so.1": X86, "etc": None}
    opt = {"opt": None, "opt/db": None, "opt/db/lib": None, "opt/db/lib/libgreet.so": X86}
    assert loader(interp=musl).musl_path_file == "etc/ld-musl-x86_64.path"
    assert loader(interp="/usr/lib/ld-musl-aarch64.so.1").musl_path_file == "usr/etc/ld-musl-aarch64.path"
    assert loader().musl_path_file is None  # glibc has ld.so.cache instead
    without = tree(layer({**base, **opt}))
    assert (
        "finds in none of /lib, /usr/local/lib, /usr/lib"
        in library_problems(without, AMD64, loader(interp=musl), ("libgreet.so",))[0]
    )
    listed = tree(layer({**base, **opt, "etc/ld-musl-x86_64.path": b"/lib\n/opt/db/lib:/usr/lib\n"}))
    assert library_problems(listed, AMD64, loader(interp=musl), ("libgreet.so",)) == []
    # the file replaces the default folders: /usr/local/lib is no longer searched
    local = {"usr": None, "usr/local": None, "usr/local/lib": None, "usr/local/lib/libgreet.so": X86}
    replaced = tree(layer({**base, **local, "etc/ld-musl-x86_64.path": b"/lib:/usr/lib\n"}))
    assert (
        "finds in none of /lib, /usr/lib" in library_problems(replaced, AMD64, loader(interp=musl), ("libgreet.so",))[0]
    )
    # another architecture's file is not this loader's
    other = tree(layer({**base, **opt, "etc/ld-musl-aarch64.path": b"/opt/db/lib\n"}))
    assert library_problems(other, AMD64, loader(interp=musl), ("libgreet.so",)) != []


def test_musl_answers_for_its_own_libc_names_without_a_file_of_that_name() -> None:
    """An image with only musl's loader (FROM scratch, COPY ld-musl-*.so.1) runs a binary that
    needs libc.so or libc.musl-x86_64.so.1: musl's loader takes those names for itself."""
    musl = "/lib/ld-musl-x86_64.so.1"
    only_loader = tree(layer({"lib": None, "lib/ld-musl-x86_64.so.1": X86}))
    names = ("libc.so", "libc.musl-x86_64.so.1", "libpthread.so.0", "libm.so.6", "libdl.so.2")
    assert library_problems(only_loader, AMD64, loader(interp=musl), names) == []
    assert library_problems(only_loader, AMD64, loader(interp=musl), ("libcrypto.so.3",)) != []  # not its own
    assert library_problems(tree(DEBIAN), AMD64, loader(), ("libm.so.6",)) != []  # glibc needs the file


def test_a_library_named_as_rhel_names_them_is_read_and_an_unread_file_is_not_refused() -> None:
    """libcrypto.so.1.0.2k is a library's name too; a file named and moded as no library is
    (its content is not read) is never called the wrong one."""
    app = {"app": None, "app/bin": None, "app/lib": None, "app/lib/libgreet.so": "libgreet.so.1.0.2k"}
    right = tree(DEBIAN, layer({**app, "app/lib/libgreet.so.1.0.2k": X86}))
    wrong = tree(DEBIAN, layer({**app, "app/lib/libgreet.so.1.0.2k": ARM}))
    assert library_problems(right, AMD64, loader(runpath=("$ORIGIN/../lib",)), ("libgreet.so",)) == []
    (problem,) = library_problems(wrong, AMD64, loader(runpath=("$ORIGIN/../lib",)), ("libgreet.so",))
    assert "finds only /app/lib/libgreet.so.1.0.2k (aarch64)" in problem
    data = {
        "app": None,
        "app/bin": None,
        "app/lib": None,
        "app/lib/libgreet.so": "greet-data",
        "app/lib/greet-data": ARM,
    }
    unread = tree(DEBIAN, layer(data))
    assert library_problems(unread, AMD64, loader(runpath=("$ORIGIN/../lib",)), ("libgreet.so",)) == []
    executable = tree(DEBIAN, layer(data, mode=0o755))
    assert library_problems(executable, AMD64, loader(runpath=("$ORIGIN/../lib",)), ("libgreet.so",)) != []


def test_ld_library_path_is_read_as_glibc_and_musl_read_it() -> None:
    """glibc expands $ORIGIN in LD_LIBRARY_PATH and takes an empty entry as the working
    directory; a relative folder is found from the working directory (open() does); musl
    expands nothing there."""
    image = tree(DEBIAN, layer({"app": None, "app/bin": None, "app/lib": None, "app/lib/libgreet.so": X86}))

    def problems(env: str, cwd: str = "/", interp: str = INTERP) -> list[str]:
        return library_problems(image, AMD64, Loader(interp, (), (), env, "app/bin/app", cwd), ("libgreet.so",))

    assert problems("lib", cwd="/app") == []
    assert problems("lib") != []
    assert problems("$ORIGIN/../lib") == []
    assert problems("${ORIGIN}/../lib") == []
    assert problems("/nowhere::/elsewhere", cwd="/app/lib") == []
    assert problems("/nowhere:/elsewhere", cwd="/app/lib") != []
    musl = "/lib/ld-musl-x86_64.so.1"
    image = tree(
        DEBIAN,
        layer(
            {
                "usr/lib/ld-musl-x86_64.so.1": X86,
                "app": None,
                "app/bin": None,
                "app/lib": None,
                "app/lib/libgreet.so": X86,
            }
        ),
    )
    assert problems("/app/lib", interp=musl) == []
    assert problems("lib", cwd="/app", interp=musl) == []
    assert problems("$ORIGIN/../lib", interp=musl) != []


def _host_library() -> bytes:
    """A real x86-64 shared library that needs libc.so.6 (zlib, which Python itself needs)."""
    import glob

    for found in sorted(glob.glob("/lib/x86_64-linux-gnu/libz.so.1*") + glob.glob("/usr/lib*/libz.so.1*")):
        return Path(os.path.realpath(found)).read_bytes()
    raise AssertionError("no libz.so.1 on this machine")


def test_what_a_library_needs_is_looked_for_too() -> None:
    """The loader loads a library's own DT_NEEDED (by its DT_RUNPATH, the usual folders, or a
    name loaded already): one found nowhere stops the program as a direct one does."""
    zlib = _host_library()
    app = {"app": None, "app/bin": None, "app/lib": None, "app/lib/libgreet.so": zlib}
    alone = tree(layer(app), layer({"lib64": None, "lib64/ld-linux-x86-64.so.2": X86}))
    (problem,) = library_problems(alone, AMD64, loader(runpath=("$ORIGIN/../lib",)), ("libgreet.so",))
    assert problem.startswith("/app/lib/libgreet.so needs libc.so.6, which the dynamic loader finds in none of")
    with_libc = tree(DEBIAN, layer(app))
    assert library_problems(with_libc, AMD64, loader(runpath=("$ORIGIN/../lib",)), ("libgreet.so",)) == []
    facts = layer_facts(layer(app)).listing
    assert facts is not None and facts.elves[0].needed == ("libc.so.6",)
    from buildx_go.verify.imagefs import Listing

    assert Listing.from_json(facts.to_json()) == facts


def test_a_library_its_user_cannot_open_is_passed_over_as_the_loader_passes_over_eacces() -> None:
    nobody = User(65534, frozenset({65534}), "nobody")
    private = tree(DEBIAN, layer({"usr/lib/libgreet.so": X86}, mode=0o600))
    as_nobody = attrs.evolve(loader(), user=nobody)
    assert library_problems(private, AMD64, as_nobody, ("libgreet.so",)) == [
        "the binary needs libgreet.so; the dynamic loader finds only /usr/lib/libgreet.so "
        "(not readable by USER nobody: mode 0600, owner 0)"
    ]
    assert library_problems(private, AMD64, loader(), ("libgreet.so",)) == []  # root: CAP_DAC_OVERRIDE
    readable_later = tree(DEBIAN, layer({"usr/lib/libgreet.so": X86}, mode=0o600), layer({"lib64/libgreet.so": X86}))
    assert library_problems(readable_later, AMD64, as_nobody, ("libgreet.so",)) == []
    closed = entry_tar(
        [("opt", "dir", b"", 0o755, 0), ("opt/db", "dir", b"", 0o700, 0), ("opt/db/libgreet.so", "file", X86, 0o644, 0)]
    )
    where = attrs.evolve(as_nobody, runpath=("/opt/db",))
    assert library_problems(tree(DEBIAN, closed), AMD64, where, ("libgreet.so",)) == [
        "the binary needs libgreet.so; the dynamic loader finds only /opt/db/libgreet.so "
        "(/opt/db not searchable by USER nobody: mode 0700)"
    ]


def test_where_the_loader_opens_a_library_as_user_the_folders_it_walks_count() -> None:
    nobody = attrs.evolve(loader(), user=User(65534, frozenset({65534}), "nobody"))
    # a symlink in a folder nobody cannot search is never read: EACCES, passed over
    linked = entry_tar(
        [
            ("opt", "dir", b"", 0o755, 0),
            ("opt/closed", "dir", b"", 0o700, 0),
            ("opt/closed/libgreet.so", "symlink", "/srv/libgreet.so", 0o777, 0),
            ("srv", "dir", b"", 0o755, 0),
            ("srv/libgreet.so", "file", X86, 0o644, 0),
        ]
    )
    via_closed = attrs.evolve(nobody, ld_library_path="/opt/closed")
    assert library_problems(tree(DEBIAN, linked), AMD64, via_closed, ("libgreet.so",)) == [
        "the binary needs libgreet.so; the dynamic loader finds only /srv/libgreet.so "
        "(/opt/closed not searchable by USER nobody: mode 0700)"
    ]
    # runc enters WORKDIR before it becomes USER: a relative entry is opened from there, the
    # folders above it are not walked
    under_root = entry_tar(
        [
            ("root", "dir", b"", 0o700, 0),
            ("root/app", "dir", b"", 0o755, 0),
            ("root/app/lib", "dir", b"", 0o755, 0),
            ("root/app/lib/libgreet.so", "file", X86, 0o644, 0),
        ]
    )
    relative = attrs.evolve(nobody, ld_library_path="lib", cwd="/root/app")
    assert library_problems(tree(DEBIAN, under_root), AMD64, relative, ("libgreet.so",)) == []
    # the loader's own name among the binary's needs is the loader already mapped: not opened
    private_loader = entry_tar([("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "file", X86, 0o700, 0)])
    needs = ("libc.so.6", "ld-linux-x86-64.so.2")
    assert library_problems(tree(DEBIAN, private_loader), AMD64, nobody, needs) == []
