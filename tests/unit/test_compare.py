"""A published image and its rebuild compared: the first layer or config field that differs."""

from __future__ import annotations

from typing import Any

from buildx_go.verify.compare import Image, first_difference

CONFIG: dict[str, Any] = {
    "architecture": "arm64",
    "os": "linux",
    "created": "2026-11-30T12:00:00Z",
    "config": {"Labels": {"org.opencontainers.image.revision": "a" * 40}, "User": "65532"},
    "history": [
        {"created_by": "ADD rootfs / # buildkit"},
        {"created_by": "ENV PATH=/usr/bin", "empty_layer": True},
        {"created_by": "COPY /out/app /usr/local/bin/app # buildkit"},
    ],
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "1" * 64, "sha256:" + "2" * 64]},
}
MANIFEST: dict[str, Any] = {
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"digest": "sha256:" + "c" * 64},
    "layers": [{"digest": "sha256:" + "a" * 64}, {"digest": "sha256:" + "b" * 64}],
}


def image(digest: str = "sha256:" + "f" * 64, manifest: Any = None, config: Any = None) -> Image:
    return Image(digest, manifest or MANIFEST, config or CONFIG)


def test_the_same_digest_is_the_same_image() -> None:
    assert first_difference(image(), image()) is None


def test_a_layer_is_named_with_the_instruction_that_made_it() -> None:
    other = {**MANIFEST, "layers": [MANIFEST["layers"][0], {"digest": "sha256:" + "e" * 64}]}
    said = first_difference(image(), image("sha256:" + "0" * 64, other))
    assert said == (
        "layer 2 (COPY /out/app /usr/local/bin/app # buildkit): sha256:bbbbbbbbbbbb published, "
        "sha256:eeeeeeeeeeee rebuilt"
    )
    fewer = {**MANIFEST, "layers": MANIFEST["layers"][:1]}
    assert first_difference(image(), image("sha256:" + "0" * 64, fewer)) == (
        "the published image has 2 layers, the rebuild 1"
    )


def test_a_config_field_is_named_by_its_path() -> None:
    later = {**CONFIG, "created": "2026-12-01T00:00:00Z"}
    assert first_difference(image(), image("sha256:" + "0" * 64, config=later)) == (
        "image config created: '2026-11-30T12:00:00Z' published, '2026-12-01T00:00:00Z' rebuilt"
    )
    label = {**CONFIG, "config": {**CONFIG["config"], "Labels": {"org.opencontainers.image.revision": "b" * 40}}}
    said = first_difference(image(), image("sha256:" + "0" * 64, config=label))
    assert said is not None and said.startswith("image config config.Labels.org.opencontainers.image.revision: ")
    long = {**CONFIG, "config": {**CONFIG["config"], "Cmd": ["x" * 100]}}
    cut = first_difference(image(), image("sha256:" + "0" * 64, config=long))
    assert (
        cut is not None
        and cut.startswith("image config config.Cmd: absent published, ['xxx")
        and cut.endswith("... rebuilt")
    )
    history = {**CONFIG, "history": CONFIG["history"][:2]}
    assert first_difference(image(), image("sha256:" + "0" * 64, config=history)) == (
        "image config history: 3 entries published, 2 rebuilt"
    )


def test_the_manifest_itself_or_only_its_bytes() -> None:
    annotated = {**MANIFEST, "annotations": {"x": "1"}}
    assert first_difference(image(), image("sha256:" + "0" * 64, annotated)) == (
        "manifest annotations: absent published, {'x': '1'} rebuilt"
    )
    assert first_difference(image(), image("sha256:" + "0" * 64)) == (
        "the manifests' bytes (the same content, written otherwise)"
    )
