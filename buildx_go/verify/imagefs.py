"""An image's file tree as an engine assembles it from its layers (pure: bytes and listings in).

``scan`` reads one layer tar once and keeps what verification needs of it: every entry's
kind, mode, owner and link target, the whiteouts, the executable ELF files (their machine),
and the text of /etc/passwd, /etc/group, ld.so.cache and musl's path file. ``Tree`` stacks
the listings as containerd and dockerd apply them: the top layer wins, ``.wh.NAME`` deletes
NAME below, ``DIR/.wh..wh..opq`` hides what the layers below hold in DIR, and a name is
cleaned as the applier cleans it (``./a``, ``/a`` and ``x/../a`` are ``a``; ``..`` never
leaves the root). Paths are resolved
as the kernel walks them: symlinks on every component (40 at most), ``..`` from where a
link led (the engine's default capabilities include CAP_DAC_OVERRIDE: no directory's mode
stops the walk).
"""

from __future__ import annotations

import posixpath
import re
import struct
import tarfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import IO, Any, Literal

import attrs

Kind = Literal["file", "dir", "symlink", "hardlink", "other"]
MAX_SYMLINKS = 40  # Linux's MAXSYMLINKS
HEAD = 4096  # bytes of an executable read for its ELF header and program headers
TEXTS = ("etc/passwd", "etc/group", "etc/ld.so.cache")  # kept whole (up to TEXT_LIMIT): users, groups, libraries
TEXT_LIMIT = 1 << 20
LIBRARY_LIMIT = 256 << 20  # a library larger is not read for what it needs
MUSL_PATH = re.compile(r"(?:^|/)etc/ld-musl-[^/]+\.path$")  # musl's loader's library path (kept like TEXTS)
# libz.so.1, RHEL's libcrypto.so.1.0.2k, a Node.js addon
LIBRARY_NAME = re.compile(r"\.so(\.[^/]*)?$|\.node$")


def read_as_elf(name: str, mode: int) -> bool:
    """Whether scan reads the file NAME (its base name) with MODE for ELF facts: an executable,
    or a file named as a shared library is; other files' ELF facts are unknown."""
    return bool(mode & 0o111) or LIBRARY_NAME.search(name) is not None


def clean(name: str) -> str:
    """A tar member's name or a path as an image path: relative to the root, no ``.``/``..``
    (``..`` stops at the root, as the applier's RootPath does), no trailing slash."""
    return posixpath.normpath("/" + name.lstrip("/")).lstrip("/")


@attrs.frozen
class Node:
    kind: Kind
    mode: int = 0o755  # permission bits
    uid: int = 0
    gid: int = 0
    link: str = ""  # a symlink's target as written; a hard link's target, cleaned

    def to_json(self) -> list[Any]:
        return [self.kind[0], self.mode, self.uid, self.gid, self.link]

    @classmethod
    def from_json(cls, data: list[Any]) -> Node:
        kind = {"f": "file", "d": "dir", "s": "symlink", "h": "hardlink", "o": "other"}[data[0]]
        return cls(kind, int(data[1]), int(data[2]), int(data[3]), str(data[4]))  # type: ignore[arg-type]


DIR = Node("dir")


@attrs.frozen
class Elf:
    """An ELF file of a layer: an executable (ET_EXEC; ET_DYN with an interpreter, a PIE; or
    an executable ET_DYN without one and without a library's name, a static PIE), or a
    shared library (``lib``: the rest of ET_DYN)."""

    path: str
    machine: int
    bits: int
    little: bool
    kind: Literal["exec", "lib"] = "exec"
    # a library's own DT_NEEDED, DT_RPATH and DT_RUNPATH: what the loader looks for next
    needed: tuple[str, ...] = ()
    rpath: tuple[str, ...] = ()
    runpath: tuple[str, ...] = ()

    def to_json(self) -> list[Any]:
        return [self.path, self.machine, self.bits, self.little, self.kind, self.needed, self.rpath, self.runpath]

    @classmethod
    def from_json(cls, data: list[Any]) -> Elf:
        path, machine, bits, little, kind, needed, rpath, runpath = data
        strings = (tuple(str(x) for x in v) for v in (needed, rpath, runpath))
        return cls(str(path), int(machine), int(bits), bool(little), kind, *strings)


@attrs.frozen
class Listing:
    """What one layer holds (a function of its bytes: cached by digest with its facts)."""

    nodes: Mapping[str, Node]
    whiteouts: frozenset[str] = frozenset()
    opaque: frozenset[str] = frozenset()
    elves: tuple[Elf, ...] = ()
    texts: Mapping[str, str] = attrs.field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "nodes": {path: node.to_json() for path, node in self.nodes.items()},
            "whiteouts": sorted(self.whiteouts),
            "opaque": sorted(self.opaque),
            "elves": [e.to_json() for e in self.elves],
            "texts": dict(self.texts),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Listing:
        return cls(
            {str(p): Node.from_json(n) for p, n in data["nodes"].items()},
            frozenset(data["whiteouts"]),
            frozenset(data["opaque"]),
            tuple(Elf.from_json(e) for e in data["elves"]),
            {str(k): str(v) for k, v in data["texts"].items()},
        )


def scan(stream: IO[bytes], seekable: bool = False) -> Listing:
    """The listing of the layer tar read from STREAM (read to its end-of-archive marker;
    SEEKABLE: the members' data is skipped by seeking, not read)."""
    nodes: dict[str, Node] = {}
    whiteouts: set[str] = set()
    opaque: set[str] = set()
    elves: list[Elf] = []
    texts: dict[str, str] = {}
    with tarfile.open(fileobj=stream, mode="r:" if seekable else "r|", bufsize=1 << 16) as tar:
        for member in tar:
            name = clean(member.name)
            folder, base = posixpath.split(name)
            if base == ".wh..wh..opq":
                opaque.add(folder)
                continue
            if base.startswith(".wh."):
                whiteouts.add(posixpath.join(folder, base[4:]))
                continue
            if not name:
                continue  # the root itself
            node = Node(_kind(member), member.mode & 0o7777, member.uid, member.gid, _link(member))
            target = nodes.get(node.link) if node.kind == "hardlink" else None
            if target is not None and target.kind == "symlink":
                node = target  # a hard link to a symlink is that symlink (one inode), as GNU ln makes it
            nodes[name] = node
            if node.kind != "file":
                continue
            if name in TEXTS or MUSL_PATH.search(name):  # whatever its mode (0755 from a Windows context)
                f = tar.extractfile(member) if member.size <= TEXT_LIMIT else None
                if f:
                    texts[name] = f.read().decode(errors="replace")
            elif read_as_elf(base, node.mode) and member.size >= 64:
                f = tar.extractfile(member)
                head = f.read(HEAD) if f else b""
                elf = elf_head(name, head, bool(node.mode & 0o111))
                if elf and f and elf.kind == "lib" and member.size <= LIBRARY_LIMIT:
                    elf = _with_dependencies(elf, head + f.read())  # read on: a stream cannot seek back
                if elf:
                    elves.append(elf)
    return Listing(nodes, frozenset(whiteouts), frozenset(opaque), tuple(elves), texts)


def _with_dependencies(elf: Elf, data: bytes) -> Elf:
    """ELF, a library whose content is DATA, with the libraries it needs and its search paths."""
    from buildx_go.verify.binary import dependencies

    needed, rpath, runpath = dependencies(data)
    return attrs.evolve(elf, needed=needed, rpath=rpath, runpath=runpath)


def _kind(member: tarfile.TarInfo) -> Kind:
    if member.isreg():
        return "file"
    if member.isdir():
        return "dir"
    if member.issym():
        return "symlink"
    if member.islnk():
        return "hardlink"
    return "other"


def _link(member: tarfile.TarInfo) -> str:
    if member.issym():
        return member.linkname
    return clean(member.linkname) if member.islnk() else ""


def elf_head(path: str, head: bytes, executable: bool = True) -> Elf | None:
    """PATH's ELF facts from its first bytes if it is an ELF executable or shared library.
    ET_DYN is an executable with a PT_INTERP program header (a PIE), or without one when the
    file is EXECUTABLE and not named as a library is (a static PIE: gcc -static-pie, Rust's
    musl targets); otherwise a shared library."""
    if len(head) < 52 or head[:4] != b"\x7fELF" or head[4] not in (1, 2):
        return None
    bits, little = (32, 64)[head[4] - 1], head[5] == 1
    end = "<" if little else ">"
    etype, machine = struct.unpack_from(end + "HH", head, 16)
    if etype == 2:
        return Elf(path, machine, bits, little)
    if etype != 3:
        return None
    try:
        if bits == 64:
            (phoff,) = struct.unpack_from(end + "Q", head, 32)
            phentsize, phnum = struct.unpack_from(end + "HH", head, 54)
        else:
            (phoff,) = struct.unpack_from(end + "I", head, 28)
            phentsize, phnum = struct.unpack_from(end + "HH", head, 42)
        for i in range(min(phnum, 64)):
            (ptype,) = struct.unpack_from(end + "I", head, phoff + i * phentsize)
            if ptype == 3:  # PT_INTERP
                return Elf(path, machine, bits, little)
    except struct.error:
        return None
    library = not executable or LIBRARY_NAME.search(posixpath.basename(path)) is not None
    return Elf(path, machine, bits, little, "lib" if library else "exec")


@attrs.frozen
class User:
    """Who the engine runs the process as."""

    uid: int
    gids: frozenset[int]
    name: str


@attrs.frozen
class Found:
    """A resolved path: where it ended, in which layer, and the node there."""

    path: str
    layer: int
    node: Node


Reader = Callable[[Found, "int | None"], bytes]  # the first N bytes of a file's content (all: None)


class Tree:
    """The merged file tree of an image's layers (bottom first)."""

    def __init__(self, listings: Iterable[Listing]) -> None:
        self.layers = list(listings)
        self._implied = [_ancestors_of(layer.nodes) for layer in self.layers]

    def lookup(self, path: str) -> Found | None:
        """PATH (clean, no symlink followed) as the merged tree has it, or None."""
        if path == "":
            return Found("", -1, DIR)
        above = strict_ancestors(path)
        implicit: Found | None = None
        for i in reversed(range(len(self.layers))):
            layer = self.layers[i]
            node = layer.nodes.get(path)
            if node is not None:
                return Found(path, i, node)
            if implicit is None and path in self._implied[i]:
                implicit = Found(path, i, DIR)  # a directory the layer has entries in, without its own
            if path in layer.whiteouts or any(a in layer.whiteouts for a in above):
                return implicit
            if any((n := layer.nodes.get(a)) is not None and n.kind != "dir" for a in above):
                return implicit  # an ancestor is no longer a directory here
            if path in layer.opaque or any(a in layer.opaque for a in above):
                return implicit
        return implicit

    def resolve(self, path: str, cwd: str = "", follow: bool = True) -> tuple[Found | None, str | None]:
        """(what PATH leads to, None) or (None, why not) as the kernel walks it from CWD:
        symlinks followed on every component (the last one too if FOLLOW)."""
        pending = [p for p in path.split("/") if p] if path.startswith("/") else [*cwd.split("/"), *path.split("/")]
        pending = [p for p in pending if p]
        pending.reverse()
        done: list[str] = []
        hops = 0
        found = Found("", -1, DIR)
        while pending:
            part = pending.pop()
            if part == ".":
                continue
            if part == "..":
                if done:
                    done.pop()
                found = self.lookup("/".join(done)) or Found("/".join(done), -1, DIR)
                continue
            if found.node.kind != "dir":
                return None, f"/{found.path} is not a directory"
            here = "/".join([*done, part])
            hit = self.lookup(here)
            if hit is None:
                return None, f"/{here}: no such file or directory"
            if hit.node.kind == "symlink" and (pending or follow):
                hops += 1
                if hops > MAX_SYMLINKS:
                    return None, f"/{here}: too many levels of symbolic links"
                target = hit.node.link
                if target.startswith("/"):
                    done = []
                    found = Found("", -1, DIR)
                pending.extend(reversed([p for p in target.split("/") if p]))
                continue
            done.append(part)
            found = hit
        return found, None

    def content_of(self, found: Found) -> tuple[int, str]:
        """(layer, member path) whose bytes are FOUND's content (a hard link's target's)."""
        if found.node.kind == "hardlink":
            return found.layer, found.node.link
        return found.layer, found.path

    def node_of(self, found: Found) -> Node:
        """FOUND's node, a hard link taking its target's mode and owner (one inode)."""
        if found.node.kind == "hardlink" and found.layer >= 0:
            target = self.layers[found.layer].nodes.get(found.node.link)
            if target is not None and target.kind == "file":
                return target
        return found.node

    def elf_at(self, found: Found) -> Elf | None:
        """The scan's ELF facts of FOUND's content, if it is an ELF executable or library."""
        layer, path = self.content_of(found)
        if layer < 0:
            return None
        return next((e for e in self.layers[layer].elves if e.path == path), None)

    def visible_elves(self) -> Iterator[Elf]:
        """Every executable ELF file still in the image (not deleted or replaced above)."""
        for i, layer in enumerate(self.layers):
            for elf in layer.elves:
                if elf.kind != "exec":
                    continue
                hit = self.lookup(elf.path)
                if hit is not None and hit.layer == i:
                    yield elf

    def text(self, path: str, read: Reader | None = None) -> str | None:
        """The content of a file scan keeps (TEXTS, MUSL_PATH) as the image has it, symlinks
        followed as runc and the loader open it (/etc/passwd -> passwd.real); a file scan did
        not keep is READ (up to TEXT_LIMIT bytes) when a reader is given, else None."""
        hit, _ = self.resolve(path)
        if hit is None or hit.layer < 0 or self.node_of(hit).kind != "file":
            return None
        layer, member = self.content_of(hit)
        kept = self.layers[layer].texts.get(member)
        if kept is None and read is not None:
            return read(hit, TEXT_LIMIT).decode(errors="replace")
        return kept

    def user(self, spec: str, read: Reader | None = None) -> tuple[User | None, str | None]:
        """The config's User (``name``, ``uid``, ``name:group``, ``uid:gid``) as runc finds it
        in /etc/passwd and /etc/group (READ when scan did not keep them: see text): (user,
        None) or (None, why the engine refuses it)."""
        name, _, group = spec.partition(":")
        if not name and not group:
            return User(0, frozenset({0}), "root"), None
        passwd = [e for line in (self.text("etc/passwd", read) or "").splitlines() if len(e := line.split(":")) >= 4]
        groups = [e for line in (self.text("etc/group", read) or "").splitlines() if len(e := line.split(":")) >= 4]
        entry = next((e for e in passwd if (e[2] == name if name.isdigit() else e[0] == name)), None)
        if entry is None and name and not name.isdigit():
            return None, f"USER {spec}: no user {name!r} in the image's /etc/passwd (the engine refuses to start it)"
        uid = _int(entry[2]) if entry else _int(name)
        gid = _int(entry[3]) if entry else 0
        sgids: set[int] = set()
        if group:
            g = next((e for e in groups if (e[2] == group if group.isdigit() else e[0] == group)), None)
            if g is None and not group.isdigit():
                why = f"USER {spec}: no group {group!r} in the image's /etc/group (the engine refuses to start it)"
                return None, why
            gid = _int(g[2]) if g else _int(group)
        elif entry is not None:
            sgids = {_int(e[2]) for e in groups if entry[0] in e[3].split(",")}
        return User(uid, frozenset({gid, *sgids}), spec), None


def permitted(node: Node, user: User, bit: int) -> bool:
    """Whether USER may execute (BIT 1) a file or search a directory, or read one (BIT 4):
    root needs one x bit (for files; never for directories), others the owner's, group's or
    others' bit."""
    if user.uid == 0:
        return node.kind == "dir" or bool(node.mode & 0o111)
    if node.uid == user.uid:
        return bool(node.mode & (bit << 6))
    if node.gid in user.gids:
        return bool(node.mode & (bit << 3))
    return bool(node.mode & bit)


def unsearchable(tree: Tree, folders: Iterable[str], user: User) -> Found | None:
    """The first of FOLDERS (clean paths) that is a directory USER may not search, or None."""
    for path in folders:
        folder = tree.lookup(path)
        if folder is not None and folder.node.kind == "dir" and not permitted(folder.node, user, 0o1):
            return folder
    return None


def strict_ancestors(path: str) -> list[str]:
    """The folders above PATH, outermost first: usr, usr/local, usr/local/bin for usr/local/bin/app."""
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _ancestors_of(nodes: Mapping[str, Node]) -> frozenset[str]:
    out: set[str] = set()
    for path in nodes:
        out.update(strict_ancestors(path))
    return frozenset(out)


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0
