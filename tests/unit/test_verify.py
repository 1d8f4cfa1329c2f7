"""Verification as an engine would read the image, against an in-process registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from buildx_go.errors import VerificationFailed
from buildx_go.layers import LayerFacts, layer_facts
from buildx_go.platforms import Platform
from buildx_go.registry import RegistryClient
from buildx_go.verify import verify, verify_image
from buildx_go.verifycache import VerifyCache
from tests.fakeregistry import DOCKER_MANIFEST, FakeRegistry, compress, digest_of, tar_of
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
    assert good.ok and good.images[0].binary == "/app"
    assert bad.problems == (
        "linux/arm64: binary is ELF 64-bit LSB x86-64, go1.27.3 GOARCH=amd64 GOOS=linux, expected aarch64 64-bit",
        "linux/arm64: Go build info says GOARCH=amd64, expected arm64",
    )
    assert "lists linux/arm64; expected linux/amd64, linux/arm64" in missing.problems[0]


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
    assert cache.layer(base_blob) == LayerFacts("gzip", digest_of(tar_of(BASE)))


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
        assert layer_facts(compress(raw, how)) == LayerFacts(how, digest_of(raw))
    with pytest.raises(ValueError, match="cannot be decompressed as gzip"):
        layer_facts(b"\x1f\x8b garbage")


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
    assert as_index.problems[0].endswith(
        "is a single-platform manifest (application/vnd.oci.image.manifest.v1+json), not an index"
    )
    assert "linux/amd64: entrypoint /missing not found in the layers" in missing
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
    for report in reports.values():
        assert report.problems == ("linux/amd64: entrypoint /usr/local/bin/app not found in the layers",)
    assert back.ok, back.problems


def test_an_elf_header_that_does_not_match_its_code_is_named() -> None:
    with FakeRegistry() as reg:
        honest = one_image(reg, "honest", [{"usr/local/bin/app": elf_program(62, "x86-64")}])
        patched = one_image(reg, "patched", [{"usr/local/bin/app": elf_program(62, "aarch64", go=False)}])
        arm = one_image(reg, "arm", [{"usr/local/bin/app": elf_program(183, "aarch64")}], arch="arm64")
        amd64, arm64 = (Platform("linux", "amd64"),), (Platform("linux", "arm64"),)
        good, lie, good_arm = (
            verify(client(), honest, amd64),
            verify(client(), patched, amd64),
            verify(client(), arm, arm64),
        )
        lie_allowed = verify(client(), patched, amd64, allow_non_go=True)
    assert good.ok and good_arm.ok, (good.problems, good_arm.problems)
    assert "linux/amd64: its ELF header says x86-64 but its code is aarch64" in lie.problems[0]
    assert not lie_allowed.ok  # --allow-non-go accepts other programs, not a lie about the machine


def test_an_entrypoint_that_is_not_go_is_named_and_accepted_only_when_asked() -> None:
    busybox = elf_program(62, "x86-64", go=False)  # a C program for the right machine
    with FakeRegistry() as reg:
        ref = one_image(reg, "c", [{"usr/local/bin/app": busybox}])
        script = one_image(reg, "sh", [{"usr/local/bin/app": b"#!/bin/sh\nexec /bin/true\n"}])
        amd64 = (Platform("linux", "amd64"),)
        strict, allowed = verify(client(), ref, amd64), verify(client(), ref, amd64, allow_non_go=True)
        strict_sh, allowed_sh = verify(client(), script, amd64), verify(client(), script, amd64, allow_non_go=True)
    assert strict.problems == ("linux/amd64: not a Go binary (no Go build info; --allow-non-go accepts it)",)
    assert allowed.ok and allowed_sh.ok
    assert strict_sh.problems[0].startswith("linux/amd64: not an ELF binary")
