"""Check a published image against what was asked: platforms, configs, layers, binaries.

Reads the registry directly (registry.py): the index, each image's manifest and config,
every layer the way an engine reads it (media types its manifest type allows, as many layers
as diff_ids, each layer's uncompressed digest equal to its diff_id), and the entrypoint
binary out of the layers, never by running it. What passed once is kept by digest
(verifycache.py), so a no-op rebuild re-reads nothing but its index.
"""

from __future__ import annotations

import functools
import json
import posixpath
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs

from buildx_go.errors import VerificationFailed
from buildx_go.platforms import ELF_MACHINE_NAMES, LIBRARY_TRIPLETS, Platform, entry_platform, index_platforms
from buildx_go.refs import Reference
from buildx_go.registry.client import INDEX_TYPES, MANIFEST_TYPES, RegistryClient
from buildx_go.verify.binary import BinaryFacts, binary_problems, dynamic_deps, library_search
from buildx_go.verify.cache import VerifyCache
from buildx_go.verify.entrypoint import find_program
from buildx_go.verify.imagefs import (
    Elf,
    Found,
    Reader,
    Tree,
    User,
    clean,
    permitted,
    read_as_elf,
    strict_ancestors,
    unsearchable,
)
from buildx_go.verify.layers import (
    LayerFacts,
    content_problems,
    declared_problems,
    layer_facts,
    read_layer,
    tar_members,
)

TRIPLET = re.compile(r"(x86_64|i[3-6]86|aarch64|arm\w*|powerpc64\w*|s390x|riscv64|mips\w*)-linux-(gnu|musl)\w*")
MUSL_SYSTEM = ["/lib", "/usr/local/lib", "/usr/lib"]  # musl's loader without a path file
# the names musl's loader takes for itself (ldso/dynlink.c's reserved list): libc.so,
# libc.musl-x86_64.so.1, libpthread.so.0, libm.so.6, ...
MUSL_ITSELF = re.compile(r"lib(c|pthread|rt|m|dl|util|xnet)\.")
OWN_TRIPLETS = {"amd64": ("x86_64",), "386": ("i386", "i486", "i586", "i686"), "arm64": ("aarch64",), "arm": ("arm",)}


@attrs.frozen
class ImageCheck:
    platform: str
    digest: str
    config_platform: str
    binary: str | None  # the program checked as the image's binary (its path)
    facts: str | None
    problems: tuple[str, ...]
    cached: bool = False  # passed before (same digest): nothing was read again
    program: str | None = None  # what the engine starts, wrappers and interpreters included
    note: str | None = None  # why the binary was not checked
    warnings: tuple[str, ...] = ()  # true of the image, though not a failure
    config_digest: str | None = None  # its config's digest (buildx's containerimage.config.digest)

    @classmethod
    def passed_before(cls, stored: dict[str, Any]) -> ImageCheck:
        """A check that passed before (the same digest), from its stored form (``attrs.asdict``)."""
        return cls(
            str(stored["platform"]),
            str(stored["digest"]),
            str(stored["config_platform"]),
            stored.get("binary"),
            stored.get("facts"),
            problems=(),
            cached=True,
            program=stored.get("program"),
            note=stored.get("note"),
            warnings=tuple(stored.get("warnings") or ()),
            config_digest=stored.get("config_digest"),
        )

    def describe(self) -> str:
        """The program and what it is, or why it was not checked."""
        if self.binary is None:
            return f"{self.program or 'entrypoint'}: not checked ({self.note or 'nothing to check'})"
        return f"{self.program or self.binary}: {self.facts}"


@attrs.frozen
class Report:
    ref: str
    digest: str
    media_type: str
    images: tuple[ImageCheck, ...]
    attestations: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self) | {"ok": self.ok}


def normalised(text: str) -> str:
    try:
        return str(Platform.parse(text))
    except Exception:
        return text


class _Blobs:
    """One image's blobs, each fetched at most once; a layer read for its facts keeps its
    uncompressed tar (up to KEEP bytes), so that the program in it is read without
    decompressing the layer a second time."""

    KEEP = 64 << 20

    def __init__(self, client: RegistryClient, ref: Reference) -> None:
        self.client, self.ref = client, ref
        self._got: dict[str, bytes] = {}
        self._tars: dict[str, bytes] = {}

    def __call__(self, digest: str) -> bytes:
        if digest not in self._got:
            self._got[digest] = self.client.blob(self.ref, digest)
        return self._got[digest]

    def facts(self, digest: str) -> LayerFacts:
        """layer_facts of the layer DIGEST (ValueError as it)."""
        facts, tar = read_layer(self(digest), self.KEEP)
        if tar is not None:
            self._tars[digest] = tar
        return facts

    def member(self, digest: str, path: str, limit: int | None) -> bytes:
        """member_bytes of PATH in the layer DIGEST."""
        if digest in self._tars:
            return member_bytes(self._tars[digest], path, limit, compressed=False)
        return member_bytes(self(digest), path, limit)


def member_bytes(blob: bytes, path: str, limit: int | None = None, compressed: bool = True) -> bytes:
    """The content of the regular file PATH (clean) in the layer tar BLOB (LIMIT bytes at
    most); not COMPRESSED: BLOB is the tar itself (its members' data is skipped, not read)."""
    for member, tar in tar_members(blob, compressed):
        if member.isreg() and clean(member.name) == path:
            f = tar.extractfile(member)
            return (f.read(limit) if limit is not None else f.read()) if f else b""
    return b""


def layer_check(
    client: RegistryClient,
    ref: Reference,
    blob: _Blobs,
    media: str,
    manifest: dict[str, Any],
    diff_ids: list[Any],
    cache: VerifyCache | None,
    read: bool = True,
) -> tuple[list[str], list[LayerFacts | None]]:
    """Every layer as an engine reads it (see layers.py), and what each holds. A layer known
    from CACHE, or any layer when not READ, is not downloaded: the registry is only asked
    that it still has it (its facts are None then, unless cached)."""
    layers = manifest.get("layers") or []
    problems = declared_problems(media, layers, diff_ids)
    found: list[LayerFacts | None] = []
    for i, layer in enumerate(layers, 1):
        digest = str(layer.get("digest"))
        facts: LayerFacts | None = cache.layer(digest) if cache else None
        if facts is None and not read:
            client.blob_exists(ref, digest)
            found.append(None)
            continue
        if facts is not None:
            client.blob_exists(ref, digest)
        else:
            try:
                facts = blob.facts(digest)
            except ValueError as exc:
                problems.append(f"layer {i} ({digest}): {exc}")
                found.append(None)
                continue
            if cache:
                cache.put_layer(digest, facts)
        if facts.listing is None:
            problems.append(f"layer {i} ({digest}): not a tar archive an engine can unpack")
        diff_id = str(diff_ids[i - 1]) if i <= len(diff_ids) else None
        problems += content_problems(media, i, layer, facts, diff_id)
        found.append(facts)
    return problems, found


def foreign_executables(tree: Tree, platform: Platform, checked: str | None = None) -> list[str]:
    """Every executable ELF file of the image must be for PLATFORM's machine (a mixed image,
    say a build platform's shell beside a target's binary, fails naming them). Test data
    (a `testdata` directory) and Debian's multiarch or cross directories of other
    architectures (`/usr/lib/aarch64-linux-gnu`, `/usr/aarch64-linux-gnu`) are left out, and
    CHECKED, the program whose own check says more."""
    machine, bits, little = platform.elf
    own = OWN_TRIPLETS.get(platform.arch, (LIBRARY_TRIPLETS.get(platform.arch, "").split("-")[0],))
    wrong = []
    for elf in tree.visible_elves():
        if (elf.machine, elf.bits, elf.little) == (machine, bits, little) or elf.path == checked:
            continue
        parts = elf.path.split("/")[:-1]
        if "testdata" in parts or any((m := TRIPLET.fullmatch(p)) and m.group(1) not in own for p in parts):
            continue
        wrong.append(f"/{elf.path} ({ELF_MACHINE_NAMES.get(elf.machine, f'machine {elf.machine}')} {elf.bits}-bit)")
    if not wrong:
        return []
    more = f" and {len(wrong) - 5} more" if len(wrong) > 5 else ""
    return [
        f"executable files for another architecture: {', '.join(wrong[:5])}{more}; "
        f"expected {ELF_MACHINE_NAMES[machine]} {bits}-bit (a mixed image)"
    ]


def check_image(
    client: RegistryClient,
    img_ref: Reference,
    plat: str,
    check_binaries: bool = True,
    found: tuple[str, str, dict[str, Any]] | None = None,
    cache: VerifyCache | None = None,
    allow_non_go: bool = False,
    read_layers: bool = True,
) -> ImageCheck:
    """One image (a manifest, by digest): its config's platform, its layers, every executable
    in it, and the program the engine starts vs PLAT. FOUND is the manifest when the caller
    has already fetched it. Not READ_LAYERS (nor CHECK_BINARIES): the config and the layers'
    descriptors only, and that the registry has every layer."""
    known_digest = found[1] if found else img_ref.digest
    cache = None if allow_non_go else cache  # the cache holds strict passes only
    cache = cache if read_layers else None  # a check that only asks for the layers is cheap: made each time
    known = cache.image(known_digest, plat, check_binaries) if cache and known_digest else None
    if known is not None:  # content-addressed: the same digest passed before
        return ImageCheck.passed_before(known)
    media, digest, manifest = found or client.manifest(img_ref)
    if media in INDEX_TYPES:
        return ImageCheck(plat, digest, "?", None, None, (f"{img_ref} is an index, not an image",))
    if media not in MANIFEST_TYPES:
        return ImageCheck(plat, digest, "?", None, None, (f"{img_ref} has the unknown manifest type {media}",))
    blob = _Blobs(client, img_ref)
    config = json.loads(blob(manifest["config"]["digest"]))
    cfg_plat = str(Platform(config.get("os", "?"), config.get("architecture", "?"), config.get("variant")))
    mine: list[str] = []
    if normalised(cfg_plat) != plat:
        mine.append(f"image config says {cfg_plat}")
    diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
    problems, layer_facts_ = layer_check(client, img_ref, blob, media, manifest, diff_ids, cache, read_layers)
    mine += problems
    check = ImageCheck(plat, digest, cfg_plat, None, None, (), config_digest=str(manifest["config"]["digest"]))
    listings = [f.listing if f else None for f in layer_facts_]
    if check_binaries and all(listing is not None for listing in listings):
        tree = Tree([listing for listing in listings if listing is not None])
        check, found_problems, content = program_check(
            tree, config, blob, manifest.get("layers") or [], check, allow_non_go
        )
        mine += found_problems + foreign_executables(tree, Platform.parse(plat), content)
    elif check_binaries:
        check = attrs.evolve(check, note="a layer could not be read")
    elif not read_layers:
        check = attrs.evolve(check, note="checked when it was published; its layers are all still there")
    check = attrs.evolve(check, problems=tuple(mine))
    if cache and not check.problems:
        cache.put_image(digest, plat, check_binaries, attrs.asdict(check))
    return check


def program_check(
    tree: Tree,
    config: dict[str, Any],
    blob: _Blobs,
    layers: list[dict[str, Any]],
    check: ImageCheck,
    allow_non_go: bool,
) -> tuple[ImageCheck, list[str], str | None]:
    """The program the engine starts (entrypoint.py) and, when it can be told, the binary
    it runs, checked against the image's platform; and the path whose content it is."""

    def read(found: Found, limit: int | None) -> bytes:
        layer, path = tree.content_of(found)
        return blob.member(str(layers[layer]["digest"]), path, limit)

    program = find_program(tree, config, read)
    check = attrs.evolve(check, program=program.describe() or None, note=program.note, warnings=program.warnings)
    if program.problems or program.binary is None:
        return check, list(program.problems), None
    data = read(program.binary, None)
    facts = BinaryFacts.from_bytes(data)
    facts_text = facts.describe() if facts else "not ELF"
    platform = Platform.parse(check.platform)
    problems = binary_problems(platform, facts, allow_non_go)
    interp, needed = dynamic_deps(data) if facts else (None, ())
    if interp:
        facts_text += f", dynamically linked ({interp}; {', '.join(needed) or 'no libraries'})"
        env = dict(str(e).split("=", 1) for e in (config.get("config") or {}).get("Env") or [] if "=" in str(e))
        cwd = str((config.get("config") or {}).get("WorkingDir") or "/")
        search = library_search(data)
        where = Loader(interp, *search, env.get("LD_LIBRARY_PATH", ""), program.binary.path, cwd, program.user)
        problems += library_problems(tree, platform, where, needed, read)
    content = tree.content_of(program.binary)[1]
    return attrs.evolve(check, binary=f"/{program.binary.path}", facts=facts_text), problems, content


@attrs.frozen
class Loader:
    """What the dynamic loader is asked to find libraries with."""

    interp: str  # PT_INTERP: glibc's ld-linux or musl's ld-musl
    rpath: tuple[str, ...]  # the binary's DT_RPATH (glibc: only without a DT_RUNPATH)
    runpath: tuple[str, ...]
    ld_library_path: str  # the image config's LD_LIBRARY_PATH
    binary: str  # its path, for $ORIGIN
    cwd: str = "/"  # the image config's WorkingDir: a relative folder is found from there
    user: User | None = None  # the config's USER: the loader opens libraries as that user

    @property
    def musl(self) -> bool:
        return "musl" in posixpath.basename(self.interp)

    @property
    def musl_path_file(self) -> str | None:
        """The file musl's loader reads its system directories from (clean): etc/ld-musl-ARCH.path
        under the folder above the loader's own (/lib/ld-musl-x86_64.so.1: /etc/ld-musl-x86_64.path),
        as musl's ldso/dynlink.c names it; None for glibc."""
        found = re.fullmatch(r"ld-musl-(.+)\.so\.1", posixpath.basename(self.interp))
        if not self.musl or not found or not self.interp.startswith("/"):
            return None
        prefix = posixpath.dirname(posixpath.dirname(self.interp)).strip("/")
        return posixpath.join(prefix, "etc", f"ld-musl-{found.group(1)}.path")

    def directories(self, platform: Platform, musl_path: str | None = None) -> tuple[list[str], list[str]]:
        """(where the loader looks for a library first, in order; its system directories,
        last) as image paths; glibc reads ld.so.cache between the two. glibc: DT_RPATH
        (without a DT_RUNPATH), LD_LIBRARY_PATH, DT_RUNPATH; then Debian's multiarch
        directories, /lib64 and /usr/lib64 on 64-bit platforms, /lib, /usr/lib. musl:
        LD_LIBRARY_PATH, DT_RPATH and DT_RUNPATH; then the folders MUSL_PATH (the content of
        its path file, when the image has one) lists, else /lib, /usr/local/lib, /usr/lib."""
        origin = posixpath.dirname("/" + self.binary)

        def own(dirs: Iterable[str], expand: bool = True) -> list[str]:
            """$ORIGIN expanded (glibc expands it in LD_LIBRARY_PATH too, musl does not), a
            relative folder taken from the working directory, as open() takes it."""
            out = [_at_origin(d, origin) if expand else d for d in dirs]
            return [d if d.startswith("/") else posixpath.join("/", self.cwd, d) for d in out]

        if self.musl:
            env = own((d for d in re.split(r"[:\n]", self.ld_library_path) if d), expand=False)
            system = [d for d in re.split(r"[:\n]", musl_path) if d] if musl_path is not None else MUSL_SYSTEM
            return [*env, *own(self.rpath), *own(self.runpath)], system
        # glibc: an empty entry is the working directory
        env = own(re.split(r"[:;]", self.ld_library_path)) if self.ld_library_path else []
        triplet = LIBRARY_TRIPLETS.get(platform.arch, "")
        system = [f"/lib/{triplet}", f"/usr/lib/{triplet}"] if triplet else []
        system += ["/lib64", "/usr/lib64"] if platform.elf[1] == 64 else []
        return [*(own(self.rpath) if not self.runpath else []), *env, *own(self.runpath)], [*system, "/lib", "/usr/lib"]


def library_problems(
    tree: Tree,
    platform: Platform,
    loader: Loader,
    needed: tuple[str, ...],
    read: Reader | None = None,
) -> list[str]:
    """A dynamically linked entrypoint (cgo) needs its interpreter, and each library where
    the loader looks (Loader.directories, and for glibc ld.so.cache's entries: a library in
    /usr/local/lib counts once ldconfig has run), built for PLATFORM's machine: the loader
    passes over one of another architecture. Then what those libraries need in turn, looked
    for as widely as the loader could (their own DT_RPATH/DT_RUNPATH too, and a name already
    loaded): one found nowhere stops the program as surely."""
    interp = tree.resolve(loader.interp)[0]
    if interp is None:
        return [
            f"the binary is dynamically linked (cgo) but its interpreter {loader.interp} is not in the image: "
            "a base with that libc, a static build (--cgo-static), or CGO_ENABLED=0"
        ]
    mode = tree.node_of(interp).mode
    if not mode & 0o111:  # the kernel opens it to execute: without any x bit, not even root may
        return [f"the binary's interpreter {loader.interp} is not executable (mode {mode:04o}): the kernel refuses it"]
    path_file = loader.musl_path_file
    first, system = loader.directories(platform, tree.text(path_file, read) if path_file else None)
    cache = "" if loader.musl else (tree.text("etc/ld.so.cache", read) or "")
    problems: list[str] = []
    queue: list[tuple[str, list[str], str | None]] = [(lib, first, None) for lib in needed]  # (name, where, by)
    loaded = {posixpath.basename(loader.interp)}  # libc.so.6 needs ld-linux-x86-64.so.2: the loader itself
    seen: set[str] = set()
    while queue:
        lib, dirs, by = queue.pop(0)  # breadth first, as the loader loads
        if (loader.musl and MUSL_ITSELF.match(lib)) or lib in loaded:
            continue  # musl's loader is its libc; a name loaded already (the loader's own) is not opened again
        loaded.add(lib)
        cached = re.findall(rf"(?:^|\x00)(/[^\x00]*/{re.escape(lib)})\x00", cache) if cache else []
        found, problem = _find_library(tree, platform, lib, dirs, cached, system, loader)
        if problem is not None:
            cache_note = "" if loader.musl or problem.startswith("; ") else _CACHE_NOTE
            problems.append(f"{by or 'the binary'} needs {lib}{problem}{cache_note}")
            continue
        path, elf = found if found is not None else ("", None)
        if elf is None or path in seen:
            continue
        seen.add(path)
        own = _own_dirs(elf, path)
        queue += [(dep, [*own, *first], f"/{path}") for dep in elf.needed]
    return problems


_CACHE_NOTE = " nor in ld.so.cache (a library added elsewhere needs ldconfig)"


def _at_origin(folder: str, origin: str) -> str:
    """FOLDER with $ORIGIN (or ${ORIGIN}) replaced by ORIGIN, as the loader expands it."""
    return folder.replace("${ORIGIN}", origin).replace("$ORIGIN", origin)


def _own_dirs(elf: Elf, path: str) -> list[str]:
    """A library's own DT_RPATH and DT_RUNPATH, $ORIGIN its folder (as found, and as resolved)."""
    origins = dict.fromkeys([posixpath.dirname("/" + elf.path), posixpath.dirname("/" + path)])
    return [_at_origin(d, o) for d in (*elf.rpath, *elf.runpath) for o in origins]


def _closed_to(tree: Tree, found: Found, path: str, user: User, cwd: str) -> str | None:
    """Why USER (not root: the engine gives root CAP_DAC_OVERRIDE) cannot open FOUND, reached
    as PATH, or None: it needs the file's read bit and the search bit of every folder above
    it and above PATH (its symlinks' folders), but those above CWD (runc enters the working
    directory before it becomes USER; a relative LD_LIBRARY_PATH entry starts there)."""
    node = tree.node_of(found)
    if not permitted(node, user, 0o4):
        return f"not readable by USER {user.name}: mode {node.mode:04o}, owner {node.uid}"
    entered = set(strict_ancestors(clean(cwd))) if clean(cwd) else set()
    walked = dict.fromkeys([*strict_ancestors(clean(path)), *strict_ancestors(found.path)])
    folder = unsearchable(tree, [f for f in walked if f not in entered], user)
    if folder is not None:
        return f"/{folder.path} not searchable by USER {user.name}: mode {folder.node.mode:04o}"
    return None


def _find_library(
    tree: Tree,
    platform: Platform,
    lib: str,
    dirs: list[str],
    cached: list[str],
    system: list[str],
    loader: Loader | None = None,
) -> tuple[tuple[str, Elf | None] | None, str | None]:
    """((where LIB was found, its ELF facts when read), None), or (None, why not: the text
    that follows the library's name). A file USER cannot open is passed over, as glibc's
    and musl's loaders pass over EACCES."""
    candidates = [lib] if "/" in lib else [posixpath.join(d, lib) for d in [*dirs]] + cached
    candidates += [] if "/" in lib else [posixpath.join(d, lib) for d in system]
    user = loader.user if loader and loader.user and loader.user.uid != 0 else None
    wrong, other_arch = [], False
    for candidate in candidates:
        hit, _ = tree.resolve(candidate)
        if hit is None or tree.node_of(hit).kind != "file":
            continue
        closed = _closed_to(tree, hit, candidate, user, loader.cwd) if loader and user else None
        if closed:
            wrong.append(f"/{hit.path} ({closed})")
            continue
        elf = tree.elf_at(hit)
        if elf is not None and (elf.machine, elf.bits, elf.little) == platform.elf:
            return (hit.path, elf), None
        if elf is None and not read_as_elf(posixpath.basename(tree.content_of(hit)[1]), tree.node_of(hit).mode):
            return (hit.path, None), None  # named and moded as no library is: not read, nothing to refuse
        what = ELF_MACHINE_NAMES.get(elf.machine, f"machine {elf.machine}") if elf else "not ELF"
        wrong.append(f"/{hit.path} ({what})")
        other_arch = True
    if wrong:
        return None, f"; the dynamic loader finds only {', '.join(dict.fromkeys(wrong))}" + (
            f", not for {platform}" if other_arch else ""
        )
    shown = ", ".join(dict.fromkeys([*dirs, *system]))
    return None, f", which the dynamic loader finds in none of {shown}"


def verify(
    client: RegistryClient,
    ref_text: str,
    wanted: tuple[Platform, ...],
    check_binaries: bool = True,
    expected: dict[str, str] | None = None,
    cache: VerifyCache | None = None,
    allow_non_go: bool = False,
    read_layers: bool = True,
) -> Report:
    """A Report on REF: exactly WANTED platforms, configs that agree, layers an engine can pull,
    binaries that fit; with EXPECTED (platform -> digest), each entry must be that already
    verified image. Not READ_LAYERS (with CHECK_BINARIES off): each layer is only asked for
    (an index whose images were verified when it was published: run/uptodate.py)."""
    ref = Reference.parse(ref_text)
    found = client.manifest_or_none(ref)
    if found is None:
        raise VerificationFailed(f"{ref}: not found in the registry")
    media, digest, doc = found
    problems: list[str] = []
    if media not in INDEX_TYPES:
        problems.append(f"a single-platform manifest ({media}), not an index")
        return Report(str(ref), digest, media, (), 0, tuple(problems))
    entries = doc.get("manifests") or []
    # as the engine matches them: linux/arm64/v8 is linux/arm64
    images = [(normalised(named) if (named := entry_platform(e)) else None, e) for e in entries]
    attestations = sum(1 for p, _ in images if p is None)
    have = [p for p, _ in images if p]
    want = [str(p) for p in wanted]
    if sorted(have) != sorted(want):
        problems.append(f"the index lists {', '.join(sorted(have)) or 'nothing'}; expected {', '.join(sorted(want))}")
    platform_entries = [(plat, entry) for plat, entry in images if plat is not None]
    for plat, entry in platform_entries:
        if expected is not None and expected.get(plat) != entry["digest"]:
            problems.append(f"{plat}: entry {entry['digest']} is not the verified image {expected.get(plat)}")
    check_one = functools.partial(
        check_image,
        client,
        check_binaries=check_binaries,
        cache=cache,
        allow_non_go=allow_non_go,
        read_layers=read_layers,
    )
    with ThreadPoolExecutor(max(1, len(platform_entries))) as pool:  # one image per thread: I/O bound
        checks = list(
            pool.map(
                lambda pe: check_one(ref.with_digest(pe[1]["digest"]), pe[0]),
                platform_entries,
            )
        )
    for check in checks:
        problems += [f"{check.platform}: {p}" for p in check.problems]
    return Report(str(ref), digest, media, tuple(checks), attestations, tuple(problems))


def verify_image(
    client: RegistryClient,
    ref_text: str,
    platform: Platform,
    cache: VerifyCache | None = None,
    allow_non_go: bool = False,
) -> Report:
    """A Report on one single-platform image (the manifest strategy's per-platform pushes)."""
    ref = Reference.parse(ref_text)
    found = client.manifest_or_none(ref)
    if found is None:
        raise VerificationFailed(f"{ref}: not found in the registry")
    media, digest, _ = found
    check = check_image(client, ref, str(platform), found=found, cache=cache, allow_non_go=allow_non_go)
    problems = tuple(f"{platform}: {p}" for p in check.problems)
    return Report(str(ref), digest, media, (check,), 0, problems)


def image_config(client: RegistryClient, image: str, platform: Platform) -> tuple[dict[str, Any], dict[str, Any]] | str:
    """(manifest, config) of IMAGE's PLATFORM image, read from its registry; or why not."""
    ref = Reference.parse(image)
    found = client.manifest_or_none(ref)
    if found is None:
        return f"{image} is not in its registry"
    media, _, doc = found
    if media in INDEX_TYPES:
        entry = index_platforms(doc).get(platform)
        if entry is None:
            return f"{image} has no {platform} image"
        media, _, doc = client.manifest(ref.with_digest(entry))
    return doc, json.loads(client.blob(ref, doc["config"]["digest"]))


def apt_get_in(
    client: RegistryClient, image: str, platform: Platform, cache: VerifyCache | None = None
) -> tuple[bool | None, str]:
    """Whether IMAGE (its PLATFORM image) has apt-get, which a C cross toolchain is installed
    with: (answer, how it was told), None when it cannot be told. Its config's history says
    it cheaply for images built with a Dockerfile (apt-get, or apk for Alpine); others are
    read layer by layer (their listings kept in CACHE by digest)."""
    ref = Reference.parse(image)
    found = image_config(client, image, platform)
    if isinstance(found, str):
        return None, found
    doc, config = found
    blob = _Blobs(client, ref)
    history = " ".join(str(h.get("created_by", "")) for h in config.get("history") or [])
    if re.search(r"\bapt-get\b|\bdpkg\b", history):
        return True, "its history runs apt-get"
    if re.search(r"\bapk\b", history):
        return False, "an Alpine image (apk)"
    listings = []
    for layer in doc.get("layers") or []:
        digest = str(layer.get("digest"))
        facts = cache.layer(digest) if cache else None
        if facts is None:
            facts = layer_facts(blob(digest))
            if cache:
                cache.put_layer(digest, facts)
        if facts.listing is None:
            return None, f"a layer of {image} could not be read"
        listings.append(facts.listing)
    tree = Tree(listings)
    found_apt = tree.resolve("/usr/bin/apt-get")[0] is not None
    return found_apt, "read from its layers"
