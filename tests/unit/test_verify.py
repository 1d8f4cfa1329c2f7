"""Verification as an engine would read the image, against an in-process registry."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

from buildx_go.errors import VerificationFailed
from buildx_go.platforms import Platform
from buildx_go.registry.client import RegistryClient
from buildx_go.verify import layers
from buildx_go.verify.cache import VerifyCache
from buildx_go.verify.check import member_bytes, verify, verify_image
from buildx_go.verify.layers import layer_facts, read_layer
from tests.fakeregistry import DOCKER_MANIFEST, FakeRegistry, compress, digest_of, entry_tar, tar_of
from tests.unit.test_binary_registry_log import fake_elf

AMD64 = fake_elf(64, 62, settings={"GOOS": "linux", "GOARCH": "amd64"})
ARM64 = fake_elf(64, 183, settings={"GOOS": "linux", "GOARCH": "arm64"})
TWO = (Platform("linux", "amd64"), Platform("linux", "arm64"))
BASE = {"etc/passwd": b"root:x:0:0::/root:/bin/sh\n"}


def client() -> RegistryClient:
    return RegistryClient({"HOME": "/nonexistent"}, sleep=lambda s: None)


def two_platforms(reg: FakeRegistry, tag: str = "1.0.0", attestations: int = 2, **kw: object) -> str:
    amd, amd_n = reg.image("app", [BASE, {"usr/local/bin/app": AMD64}], entrypoint="/usr/local/bin/app", **kw)  # type: ignore[arg-type]
    arm, arm_n = reg.image(
        "app",
        [BASE, {"usr/local/bin/app": ARM64}],
        arch="arm64",
        entrypoint="/usr/local/bin/app",
        **kw,  # type: ignore[arg-type]
    )
    platforms = [{"os": "linux", "architecture": "amd64"}, {"os": "linux", "architecture": "arm64"}]
    images = [(amd, amd_n, platforms[0]), (arm, arm_n, platforms[1])]
    reg.index("app", tag, images, attestations=attestations)
    return f"{reg.host}/app:{tag}"


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_a_good_index_passes_in_every_compression_with_attestations_skipped(compression: str) -> None:
    with FakeRegistry() as reg:
        report = verify(client(), two_platforms(reg, compression=compression), TWO)
    assert report.ok, report.problems
    assert report.attestations == 2
    facts = {img.platform: img.facts for img in report.images}
    assert facts["linux/arm64"] is not None and facts["linux/arm64"].startswith("ELF 64-bit LSB aarch64")


def test_docker_v2_manifests_take_gzip_but_not_zstd_layers() -> None:
    with FakeRegistry() as reg:
        ok = two_platforms(reg, "gz", manifest_type=DOCKER_MANIFEST, compression="gzip")
        assert verify(client(), ok, TWO).ok
        bad = two_platforms(reg, "zst", manifest_type=DOCKER_MANIFEST, compression="zstd")
        report = verify(client(), bad, TWO)
    assert not report.ok
    problem = report.problems[0]
    assert problem.startswith("linux/amd64: layer 1 (sha256:")
    assert "media type application/vnd.docker.image.rootfs.diff.tar.zstd is not allowed in a Docker v2 manifest" in (
        problem
    )


def test_layers_must_match_their_media_type_and_the_configs_diff_ids() -> None:
    with FakeRegistry() as reg:
        liar = reg.image(
            "app",
            [BASE, {"app": AMD64}],
            compression="zstd",
            layer_types=["application/vnd.oci.image.layer.v1.tar+gzip"] * 2,
        )
        p = {"os": "linux", "architecture": "amd64"}
        reg.index("app", "type", [(*liar, p)])
        wrong_ids = reg.image("app", [BASE, {"app": AMD64}], diff_ids=[digest_of(b"x"), digest_of(b"y")])
        reg.index("app", "ids", [(*wrong_ids, p)])
        short = reg.image("app", [BASE, {"app": AMD64}], diff_ids=[digest_of(tar_of(BASE))])
        reg.index("app", "count", [(*short, p)])
        one = (Platform("linux", "amd64"),)
        by_type = verify(client(), f"{reg.host}/app:type", one).problems
        by_ids = verify(client(), f"{reg.host}/app:ids", one).problems
        by_count = verify(client(), f"{reg.host}/app:count", one).problems
    assert any("its media type says gzip, its bytes are zstd" in p for p in by_type)
    assert any(p.startswith("linux/amd64: layer 2 (sha256:") and "not the config's diff_id" in p for p in by_ids)
    assert any("the manifest has 2 layers, the config's rootfs lists 1 diff_ids" in p for p in by_count)


def test_symlinked_entrypoints_are_followed_and_lies_are_named() -> None:
    with FakeRegistry() as reg:
        p = {"os": "linux", "architecture": "arm64"}
        linked = reg.image("app", [{"opt/app-1.2": ARM64}, {"app": "opt/app-1.2"}], arch="arm64")
        reg.index("app", "link", [(*linked, p)])
        lying = reg.image("app", [{"app": AMD64}], arch="arm64")  # says arm64, holds amd64
        reg.index("app", "lie", [(*lying, p)])
        one = (Platform("linux", "arm64"),)
        good = verify(client(), f"{reg.host}/app:link", one)
        bad = verify(client(), f"{reg.host}/app:lie", one)
        missing = verify(client(), f"{reg.host}/app:lie", TWO)
        with pytest.raises(VerificationFailed, match="not found in the registry"):
            verify(client(), f"{reg.host}/app:none", one)
    assert good.ok and good.images[0].binary == "/opt/app-1.2" and good.images[0].program == "/app (/opt/app-1.2)"
    assert bad.problems == (
        "linux/arm64: binary is ELF 64-bit LSB x86-64, go1.27.3 GOARCH=amd64 GOOS=linux, expected aarch64 64-bit",
        "linux/arm64: Go build info says GOARCH=amd64, expected arm64",
    )
    assert missing.problems[0] == "the index lists linux/arm64; expected linux/amd64, linux/arm64"  # its ref said once


def test_manifest_list_entries_must_be_the_verified_images() -> None:
    with FakeRegistry() as reg:
        ref = two_platforms(reg, attestations=0)
        report = verify(client(), ref, TWO)
        expected = {img.platform: img.digest for img in report.images}
        assert verify(client(), ref, TWO, check_binaries=False, expected=expected).ok
        other = dict(expected, **{"linux/arm64": "sha256:" + "0" * 64})
        wrong = verify(client(), ref, TWO, check_binaries=False, expected=other)
        single = verify_image(client(), f"{ref.rsplit(':', 1)[0]}@{expected['linux/arm64']}", TWO[1])
    assert any("is not the verified image sha256:000" in p for p in wrong.problems)
    assert single.ok and single.images[0].platform == "linux/arm64"


def test_what_passed_is_not_read_again(tmp_path: Path) -> None:
    cache = VerifyCache(tmp_path)
    with FakeRegistry() as reg:
        first = two_platforms(reg, "1")
        with reg.counting() as cold:
            assert verify(client(), first, TWO, cache=cache).ok
        # a no-op rebuild: new index (new provenance), the same image manifests
        second = two_platforms(reg, "2", attestations=1)
        with reg.counting() as warm:
            report = verify(client(), second, TWO, cache=cache)
        # an image that differs only in its top layer: the base layer is known, only HEADed
        reg.image("app", [BASE, {"usr/local/bin/app": AMD64 + b"!"}], entrypoint="/usr/local/bin/app", tag="3")
        with reg.counting() as changed:
            assert verify_image(client(), f"{reg.host}/app:3", TWO[0], cache).ok
    assert report.ok and all(img.cached for img in report.images)
    assert len(warm) == 1 and warm[0][1].endswith("/manifests/2")  # the index, nothing else
    assert len(cold) > 6
    base_blob = digest_of(compress(tar_of(BASE), "gzip"))
    assert ("HEAD", f"/v2/app/blobs/{base_blob}") in changed
    assert ("GET", f"/v2/app/blobs/{base_blob}") not in changed
    known = cache.layer(base_blob)
    assert known is not None and (known.compression, known.diff_id) == ("gzip", digest_of(tar_of(BASE)))
    assert known.listing is not None and known.listing.texts["etc/passwd"] == BASE["etc/passwd"].decode()


def test_failures_are_never_cached(tmp_path: Path) -> None:
    cache = VerifyCache(tmp_path)
    with FakeRegistry() as reg:
        p = {"os": "linux", "architecture": "arm64"}
        reg.index("app", "lie", [(*reg.image("app", [{"app": AMD64}], arch="arm64"), p)])
        for _ in range(2):
            report = verify(client(), f"{reg.host}/app:lie", (Platform("linux", "arm64"),), cache=cache)
            assert not report.ok and not report.images[0].cached


def test_layer_facts_of_each_compression() -> None:
    raw = tar_of({"a": b"x" * 5000})
    for how in ("gzip", "zstd", "none"):
        facts = layer_facts(compress(raw, how))
        assert (facts.compression, facts.diff_id) == (how, digest_of(raw))
        assert facts.listing is not None and list(facts.listing.nodes) == ["a"]
    not_tar = layer_facts(compress(b"not a tar" * 100, "gzip"))
    assert not_tar.listing is None and not_tar.diff_id == digest_of(b"not a tar" * 100)
    with pytest.raises(ValueError, match="cannot be decompressed as gzip"):
        layer_facts(b"\x1f\x8b garbage")


def test_a_layer_read_keeps_its_tar_only_up_to_the_limit() -> None:
    raw = tar_of({"usr/local/bin/app": AMD64, "etc/passwd": b"root:x:0:0::/root:/bin/sh\n"})
    for how in ("gzip", "zstd", "none"):
        blob = compress(raw, how)
        facts, kept = read_layer(blob, len(raw))
        assert kept == raw and facts == layer_facts(blob)
        assert read_layer(blob, len(raw) - 1)[1] is None
        assert read_layer(blob)[1] is None
        assert member_bytes(raw, "usr/local/bin/app", compressed=False) == AMD64
        assert member_bytes(raw, "usr/local/bin/app", 4, compressed=False) == AMD64[:4]
        assert member_bytes(blob, "usr/local/bin/app") == AMD64


def test_a_tar_read_as_a_tar_is_never_taken_for_a_compressed_blob() -> None:
    out = io.BytesIO()  # a first name that starts with gzip's magic
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT, errors="surrogateescape") as tar:
        for name, data in (("\x1f\udc8b", b"first"), ("app", AMD64)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    raw = out.getvalue()
    assert raw[:2] == b"\x1f\x8b"
    assert member_bytes(raw, "app", compressed=False) == AMD64


def test_each_new_layer_is_decompressed_once_to_verify_it(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[int] = []
    real = layers.uncompressed

    def counting(blob: bytes) -> Any:
        opened.append(len(blob))
        return real(blob)

    monkeypatch.setattr(layers, "uncompressed", counting)
    with FakeRegistry() as reg:
        for how in ("zstd", "gzip"):
            opened.clear()
            report = verify(client(), two_platforms(reg, tag=how, compression=how), TWO)
            assert report.ok, report.problems
            assert len(opened) == 4, opened  # two layers in each of two images, each read once


def test_what_is_not_an_image_of_the_right_kind_is_named() -> None:
    with FakeRegistry() as reg:
        one = (Platform("linux", "amd64"),)
        amd = {"os": "linux", "architecture": "amd64"}
        single, _ = reg.image("app", [BASE, {"app": AMD64}], tag="single")
        no_entry = reg.image("app", [BASE], entrypoint="/missing")
        reg.index("app", "missing", [(*no_entry, amd)])
        says_arm = reg.image("app", [{"app": AMD64}], arch="arm64")
        reg.index("app", "config", [(*says_arm, amd)])
        bad_layer = reg.put_blob(b"\x1f\x8b not gzip at all")
        doc = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"digest": reg.put_blob(b'{"os":"linux","architecture":"amd64","rootfs":{"diff_ids":[]}}')},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": bad_layer}],
        }
        broken = reg.put_manifest("app", doc, "application/vnd.oci.image.manifest.v1+json")
        reg.index("app", "broken", [(broken, 0, amd)])
        nested = reg.index("app", "inner", [(single, 0, amd)])
        reg.index("app", "nested", [(nested, 0, amd)])
        c = client()
        as_index = verify(c, f"{reg.host}/app:single", one)
        missing = verify(c, f"{reg.host}/app:missing", one).problems
        config = verify(c, f"{reg.host}/app:config", one).problems
        broken_problems = verify(c, f"{reg.host}/app:broken", one).problems
        nested_problems = verify(c, f"{reg.host}/app:nested", one).problems
        with pytest.raises(VerificationFailed, match="not found in the registry"):
            verify_image(c, f"{reg.host}/app@sha256:" + "0" * 64, one[0])
    assert (
        as_index.problems[0] == "a single-platform manifest (application/vnd.oci.image.manifest.v1+json), not an index"
    )
    assert "linux/amd64: entrypoint /missing: no such file or directory" in missing
    assert "linux/amd64: image config says linux/arm64" in config
    assert any("layer 1 (sha256:" in p and "cannot be decompressed as gzip" in p for p in broken_problems)
    assert any("is an index, not an image" in p for p in nested_problems)


def elf_program(machine: int, code: str, go: bool = True) -> bytes:
    """A 64-bit LSB ELF whose header says MACHINE, with one executable PT_LOAD segment of 16 KiB
    of CODE ("aarch64": AArch64 instruction words; "x86-64": x86-64 instructions), and Go
    build info unless GO is false."""
    import struct

    if code == "aarch64":  # ldr x0,[x0]; stp x29,x30,[sp,#-16]!; add x0,x0,#0; ret
        text = struct.pack("<4I", 0xF9400000, 0xA9BF7BFD, 0x91000000, 0xD65F03C0) * 1024
    else:  # mov %rsp,%rbp; mov (%rax),%rcx; call ...; ret
        text = bytes.fromhex("4889e5488b08e800000000c3") * 1366
    header = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9) + struct.pack("<HHI", 2, machine, 1)
    header += struct.pack("<QQQIHHHHHH", 0x401000, 64, 0, 0, 64, 56, 1, 0, 0, 0)  # entry, phoff, ...
    segment_at = 64 + 56
    header += struct.pack("<IIQQQQQQ", 1, 5, segment_at, 0x400000, 0x400000, len(text), len(text), 0x1000)
    settings = {"GOOS": "linux", "GOARCH": {62: "amd64", 183: "arm64"}[machine]}
    return header + text + (fake_elf(64, machine, settings=settings)[64:] if go else b"")


def one_image(reg: FakeRegistry, tag: str, layers: list[dict[str, bytes | str]], arch: str = "amd64") -> str:
    image = reg.image("app", layers, arch=arch, entrypoint="/usr/local/bin/app")
    reg.index("app", tag, [(*image, {"os": "linux", "architecture": arch})])
    return f"{reg.host}/app:{tag}"


def test_whiteouts_are_applied_as_an_engine_does() -> None:
    amd64 = (Platform("linux", "amd64"),)
    app = {"usr/local/bin/app": AMD64}
    with FakeRegistry() as reg:
        deleted = one_image(reg, "wh", [BASE, app, {"usr/local/bin/.wh.app": b""}])
        opaque = one_image(reg, "opq", [BASE, app, {"usr/local/bin/.wh..wh..opq": b"", "usr/local/bin/x": b"x"}])
        folder = one_image(reg, "dir", [BASE, app, {"usr/local/.wh.bin": b""}])
        again = one_image(reg, "again", [BASE, app, {"usr/local/bin/.wh.app": b""}, app])  # deleted, then added back
        reports = {t: verify(client(), ref, amd64) for t, ref in (("wh", deleted), ("opq", opaque), ("dir", folder))}
        back = verify(client(), again, amd64)
    for tag, report in reports.items():
        gone = "/usr/local/bin: " if tag == "dir" else ""
        assert report.problems == (f"linux/amd64: entrypoint /usr/local/bin/app: {gone}no such file or directory",)
    assert back.ok, back.problems


def test_an_elf_header_that_does_not_match_its_code_is_named() -> None:
    with FakeRegistry() as reg:
        honest = one_image(reg, "honest", [{"usr/local/bin/app": elf_program(62, "x86-64")}])
        patched = one_image(reg, "patched", [{"usr/local/bin/app": elf_program(62, "aarch64")}])
        other = one_image(reg, "other", [{"usr/local/bin/app": elf_program(62, "aarch64", go=False)}])
        arm = one_image(reg, "arm", [{"usr/local/bin/app": elf_program(183, "aarch64")}], arch="arm64")
        amd64, arm64 = (Platform("linux", "amd64"),), (Platform("linux", "arm64"),)
        good, lie, good_arm = (
            verify(client(), honest, amd64),
            verify(client(), patched, amd64),
            verify(client(), arm, arm64),
        )
        lie_allowed = verify(client(), patched, amd64, allow_non_go=True)
        other_allowed = verify(client(), other, amd64, allow_non_go=True)
    assert good.ok and good_arm.ok, (good.problems, good_arm.problems)
    assert "linux/amd64: its ELF header says x86-64 but its code is aarch64" in lie.problems[0]
    assert not lie_allowed.ok  # --allow-non-go accepts other programs, not a lie about the machine
    # a program that is not Go: its header is believed (judging its code misreads real ones,
    # such as Debian's static qemu-user binaries)
    assert other_allowed.ok, other_allowed.problems


def test_an_entrypoint_that_is_not_go_is_named_and_accepted_only_when_asked() -> None:
    busybox = elf_program(62, "x86-64", go=False)  # a C program for the right machine
    with FakeRegistry() as reg:
        ref = one_image(reg, "c", [{"usr/local/bin/app": busybox}])
        shell = {"bin/sh": busybox}
        script = one_image(reg, "sh", [shell, {"usr/local/bin/app": b"#!/bin/sh\nexec /bin/true\n"}])
        no_shell = one_image(reg, "nosh", [{"usr/local/bin/app": b"#!/bin/sh\nexec /bin/true\n"}])
        amd64 = (Platform("linux", "amd64"),)
        strict, allowed = verify(client(), ref, amd64), verify(client(), ref, amd64, allow_non_go=True)
        strict_sh, allowed_sh = verify(client(), script, amd64), verify(client(), script, amd64, allow_non_go=True)
        missing_sh = verify(client(), no_shell, amd64, allow_non_go=True)
    assert strict.problems == ("linux/amd64: not a Go binary (no Go build info; --allow-non-go accepts it)",)
    assert allowed.ok
    # a script is started by its interpreter; what it runs is not read: not checked, never a failure
    assert strict_sh.ok and allowed_sh.ok
    assert strict_sh.images[0].binary is None and "is a script" in str(strict_sh.images[0].note)
    assert strict_sh.images[0].describe().startswith("/usr/local/bin/app -> /bin/sh: not checked (")
    assert missing_sh.problems == (
        "linux/amd64: /usr/local/bin/app: its interpreter /bin/sh: /bin: no such file or directory",
    )


def image_of(reg: FakeRegistry, tag: str, layers: list[bytes], arch: str, variant: str | None = None) -> str:
    config = {"Entrypoint": ["/usr/local/bin/app"]}
    image = reg.image("app", list(layers), arch=arch, variant=variant, config=config)
    platform = {"os": "linux", "architecture": arch, **({"variant": variant} if variant else {})}
    reg.index("app", tag, [(*image, platform)])
    return f"{reg.host}/app:{tag}"


def test_every_executable_must_be_for_the_platform_a_mixed_image_fails_naming_the_files() -> None:
    arm64 = (Platform("linux", "arm64"),)
    app = ("usr/local/bin/app", "file", ARM64, 0o755, 0)
    with FakeRegistry() as reg:
        # the build platform's shell and go beside the target's binary (a moved single stage)
        build_platform = [("bin/bash", "file", AMD64, 0o755, 0), ("usr/local/go/bin/go", "file", AMD64, 0o755, 0)]
        mixed = image_of(reg, "mixed", [entry_tar(build_platform), entry_tar([app])], "arm64")
        fine = image_of(
            reg,
            "fine",
            [
                entry_tar(
                    [
                        ("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "file", AMD64, 0o755, 0),  # multiarch
                        ("usr/x86_64-linux-gnu/bin/as", "file", AMD64, 0o755, 0),  # a cross toolchain's
                        ("go/src/debug/elf/testdata/gcc-amd64-linux-exec", "file", AMD64, 0o755, 0),
                        ("opt/data.bin", "file", AMD64, 0o644, 0),  # not executable: data
                        ("bin/bash", "file", AMD64, 0o755, 0),
                    ]
                ),
                entry_tar([("bin/.wh.bash", "file", b"", 0o644, 0), app]),  # deleted above: not in the image
            ],
            "arm64",
        )
        bad, good = verify(client(), mixed, arm64), verify(client(), fine, arm64)
    assert bad.problems == (
        "linux/arm64: executable files for another architecture: /bin/bash (x86-64 64-bit), "
        "/usr/local/go/bin/go (x86-64 64-bit); expected aarch64 64-bit (a mixed image)",
    )
    assert good.ok, good.problems


def test_hard_links_dot_dot_names_and_modes_are_read_as_the_engine_reads_them() -> None:
    amd64 = (Platform("linux", "amd64"),)
    with FakeRegistry() as reg:
        hard = ("usr/local/bin/app", "hardlink", "usr/local/bin/app-1", 0o755, 0)
        image_of(reg, "hard", [entry_tar([("usr/local/bin/app-1", "file", AMD64, 0o755, 0), hard])], "amd64")
        image_of(reg, "dots", [entry_tar([("../usr/local/bin/app", "file", AMD64, 0o755, 0)])], "amd64")
        image_of(reg, "mode", [entry_tar([("usr/local/bin/app", "file", AMD64, 0o644, 0)])], "amd64")
        reports = {t: verify(client(), f"{reg.host}/app:{t}", amd64) for t in ("hard", "dots", "mode")}
    assert reports["hard"].ok and reports["hard"].images[0].facts is not None, reports["hard"].problems
    assert reports["dots"].ok, reports["dots"].problems
    assert reports["mode"].problems == (
        "linux/amd64: entrypoint /usr/local/bin/app: /usr/local/bin/app is not executable (mode 0644)",
    )


def test_a_binary_for_a_higher_amd64_level_than_the_entry_fails_naming_both() -> None:
    v3 = fake_elf(64, 62, settings={"GOOS": "linux", "GOARCH": "amd64", "GOAMD64": "v3"})
    v1 = fake_elf(64, 62, settings={"GOOS": "linux", "GOARCH": "amd64", "GOAMD64": "v1"})
    with FakeRegistry() as reg:
        high = image_of(reg, "v3", [entry_tar([("usr/local/bin/app", "file", v3, 0o755, 0)])], "amd64")
        level3 = image_of(reg, "v3v3", [entry_tar([("usr/local/bin/app", "file", v3, 0o755, 0)])], "amd64", "v3")
        low = image_of(reg, "v1v3", [entry_tar([("usr/local/bin/app", "file", v1, 0o755, 0)])], "amd64", "v3")
        plain = verify(client(), high, (Platform("linux", "amd64"),))
        v3_ok = verify(client(), level3, (Platform("linux", "amd64", "v3"),))
        v1_ok = verify(client(), low, (Platform("linux", "amd64", "v3"),))
    assert plain.problems == (
        "linux/amd64: Go build info says GOAMD64=v3, above linux/amd64's v1: it stops with an illegal "
        "instruction on CPUs without it",
    )
    assert v3_ok.ok and v1_ok.ok, (v3_ok.problems, v1_ok.problems)  # a v1 binary runs on v3 CPUs


def test_an_index_entry_for_arm64_v8_is_linux_arm64_as_the_engine_matches_it() -> None:
    """`docker manifest annotate --variant v8` writes linux/arm64/v8: engines pull it for
    linux/arm64, and so does verify count it."""
    with FakeRegistry() as reg:
        image = reg.image(
            "app", [{"usr/local/bin/app": elf_program(183, "aarch64")}], arch="arm64", entrypoint="/usr/local/bin/app"
        )
        reg.index("app", "v8", [(*image, {"os": "linux", "architecture": "arm64", "variant": "v8"})])
        report = verify(client(), f"{reg.host}/app:v8", (Platform("linux", "arm64"),))
    assert report.ok, report.problems


def _odd_tars() -> dict[str, bytes]:
    """Tars an engine may meet: every header format, long names, links, PAX
    records, whiteouts, truncated data and headers, trailing garbage, zero blocks inside."""
    out: dict[str, bytes] = {}
    for fmt_name, fmt in (("ustar", tarfile.USTAR_FORMAT), ("gnu", tarfile.GNU_FORMAT), ("pax", tarfile.PAX_FORMAT)):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
            for name, kind, data in (
                ("etc", tarfile.DIRTYPE, b""),
                ("etc/passwd", tarfile.REGTYPE, b"root:x:0:0::/root:/bin/sh\n"),
                ("usr/local/bin/app", tarfile.REGTYPE, AMD64),
                ("usr/local/bin/hard", tarfile.LNKTYPE, b""),
                ("usr/bin/soft", tarfile.SYMTYPE, b""),
                ("x" * 40 + "/" + "y" * 60 + "/long-name-app", tarfile.REGTYPE, ARM64),
                ("etc/.wh.gone", tarfile.REGTYPE, b""),
                ("lib/.wh..wh..opq", tarfile.REGTYPE, b""),
                ("lib/libz.so.1", tarfile.REGTYPE, AMD64[:100]),
            ):
                info = tarfile.TarInfo(name)
                info.type, info.size, info.mode = kind, len(data), 0o755
                if kind == tarfile.LNKTYPE:
                    info.linkname = "usr/local/bin/app"
                if kind == tarfile.SYMTYPE:
                    info.linkname = "../local/bin/app"
                if fmt == tarfile.PAX_FORMAT:
                    info.pax_headers = {"comment": "é" * 300}
                tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
        raw = buf.getvalue()
        out[fmt_name] = raw
        out[f"{fmt_name}-truncated-data"] = raw[: raw.index(AMD64[:64]) + 5000]
        out[f"{fmt_name}-truncated-header"] = raw[: 512 * 3 + 200]
        out[f"{fmt_name}-trailing-garbage"] = raw + b"garbage" * 300
        with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
            second = tar.getmembers()[1].offset  # where the second member's headers start
        out[f"{fmt_name}-zero-block-inside"] = raw[:second] + b"\0" * 512 + raw[second:]
    out["empty"] = b""
    out["zeros"] = b"\0" * 10240
    out["not-a-tar"] = b"not a tar" * 1000
    return out


@pytest.mark.parametrize("name", sorted(_odd_tars()))
def test_a_layer_read_whole_is_listed_as_the_streamed_read_lists_it(name: str) -> None:
    """read_layer's two ways (whole, with members' data skipped by seeking; streamed through
    tarfile) must agree on every layer, odd ones included: the streamed one is what the
    engine-checked corpus ran on."""
    raw = _odd_tars()[name]
    for how in ("gzip", "zstd", "none"):
        blob = compress(raw, how)
        whole, kept = read_layer(blob, len(raw) + 1)
        streamed, none = read_layer(blob, -1)
        assert kept == raw and none is None
        assert whole == streamed, (name, how)


def _code_family_per_word(code: bytes, little: bool) -> int | None:
    """code_family's rule written word by word (as it was before it counted in C)."""
    from buildx_go.verify.binary import _A64_TOP, AARCH64, ARM, X86, X86_64

    words = [code[i + 3] if little else code[i] for i in range(0, len(code) - 3, 4)]
    if sum(1 for top in words if top in _A64_TOP) / len(words) >= 0.6:
        return AARCH64
    if sum(1 for top in words if top >> 4 == 0xE) / len(words) >= 0.6:
        return ARM
    if sum(code.count(b) for b in b"\x48\x89\x8b\xe8\x0f\xc3") / len(code) >= 0.12:
        return X86_64 if code.count(0x48) / len(code) >= 0.03 else X86
    return None


def test_code_family_counts_top_bytes_as_the_per_word_rule_does(monkeypatch: pytest.MonkeyPatch) -> None:
    import random
    import struct

    from buildx_go.verify import binary

    rng = random.Random(7)
    a64 = struct.pack("<4I", 0xF9400000, 0xA9BF7BFD, 0x91000000, 0xD65F03C0)
    arm = struct.pack("<4I", 0xE5900000, 0xE92D4800, 0xE2800001, 0xE12FFF1E)
    x86 = bytes.fromhex("4889e5488b08e800000000c3")
    codes = []
    for size in (4096, 4097, 4098, 4099, 5000, 1 << 18):
        noise = rng.randbytes(size)
        for good in (a64, arm, x86, a64[::-1], arm[::-1]):
            for share in (0.0, 0.5, 0.6, 0.62, 0.7, 1.0):  # about that share of the code is GOOD
                cut = int(size * share) // len(good) * len(good)
                codes.append((good * (cut // len(good) + 1))[:cut] + noise[cut:])
    seen = set()
    for code in codes:
        monkeypatch.setattr(binary, "executable_segment", lambda _data, code=code: code)
        for little in (True, False):
            data = b"\x7fELF\x02" + (b"\x01" if little else b"\x02")
            want = _code_family_per_word(code, little)
            assert binary.code_family(data) == want, (len(code), little)
            seen.add(want)
    assert seen == {binary.AARCH64, binary.ARM, binary.X86_64, None}
