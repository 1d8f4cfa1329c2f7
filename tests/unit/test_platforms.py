from __future__ import annotations

import pytest

from buildx_go.errors import InputError
from buildx_go.platforms import Platform, parse_platforms


@pytest.mark.parametrize(
    ("text", "norm", "env"),
    [
        ("linux/amd64", "linux/amd64", {"GOOS": "linux", "GOARCH": "amd64"}),
        ("linux/arm64", "linux/arm64", {"GOOS": "linux", "GOARCH": "arm64"}),
        ("linux/arm64/v8", "linux/arm64", {"GOOS": "linux", "GOARCH": "arm64"}),
        ("linux/arm/v7", "linux/arm/v7", {"GOOS": "linux", "GOARCH": "arm", "GOARM": "7"}),
        ("linux/arm", "linux/arm/v7", {"GOOS": "linux", "GOARCH": "arm", "GOARM": "7"}),
        ("linux/arm/v6", "linux/arm/v6", {"GOOS": "linux", "GOARCH": "arm", "GOARM": "6"}),
        ("linux/amd64/v3", "linux/amd64/v3", {"GOOS": "linux", "GOARCH": "amd64", "GOAMD64": "v3"}),
        ("linux/amd64/v1", "linux/amd64", {"GOOS": "linux", "GOARCH": "amd64"}),
        ("linux/386", "linux/386", {"GOOS": "linux", "GOARCH": "386"}),
        ("linux/ppc64le", "linux/ppc64le", {"GOOS": "linux", "GOARCH": "ppc64le"}),
        ("linux/s390x", "linux/s390x", {"GOOS": "linux", "GOARCH": "s390x"}),
        ("linux/riscv64", "linux/riscv64", {"GOOS": "linux", "GOARCH": "riscv64"}),
        ("Linux/X86_64", "linux/amd64", {"GOOS": "linux", "GOARCH": "amd64"}),
        ("linux/aarch64", "linux/arm64", {"GOOS": "linux", "GOARCH": "arm64"}),
    ],
)
def test_parse_normalises_and_maps_to_go(text: str, norm: str, env: dict[str, str]) -> None:
    p = Platform.parse(text)
    assert str(p) == norm
    assert p.go_env == env


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("linux", "not of the form os/arch"),
        ("linux/", "not of the form"),
        ("linux/amd64/v3/x", "not of the form"),
        ("windows/amd64", "OS 'windows' is not supported"),
        ("linux/mips", "unknown architecture 'mips'"),
        ("linux/arm/v9", "unknown variant 'v9' for arm"),
        ("linux/arm64/v7", "unknown variant 'v7' for arm64"),
    ],
)
def test_bad_platforms_name_the_field(text: str, fragment: str) -> None:
    with pytest.raises(InputError) as err:
        Platform.parse(text)
    assert err.value.message.startswith("--platform:")
    assert fragment in err.value.message
    assert err.value.exit_code == 2


def test_list_dedupes_after_normalising_and_keeps_order() -> None:
    got = parse_platforms("linux/arm64/v8, linux/amd64,linux/arm64,linux/arm")
    assert [str(p) for p in got] == ["linux/arm64", "linux/amd64", "linux/arm/v7"]


def test_empty_list_is_an_error() -> None:
    with pytest.raises(InputError, match="no platform"):
        parse_platforms(" , ")


def test_suffix_is_tag_safe() -> None:
    assert [p.suffix for p in parse_platforms("linux/amd64,linux/arm/v7,linux/amd64/v3")] == [
        "amd64",
        "armv7",
        "amd64v3",
    ]


def test_index_platforms_maps_each_image_platform_to_its_digest() -> None:
    from buildx_go.platforms import index_platforms

    index = {
        "manifests": [
            {"digest": "sha256:a", "platform": {"os": "linux", "architecture": "amd64"}},
            {"digest": "sha256:b", "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
            {"digest": "sha256:c", "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
            {"digest": "sha256:d", "platform": {"os": "linux", "architecture": "arm", "variant": "v6"}},
            {"digest": "sha256:e", "platform": {"os": "unknown", "architecture": "unknown"}},  # attestation
            {"digest": "sha256:f", "platform": {"os": "windows", "architecture": "amd64"}},
            {"digest": "sha256:g", "platform": {"os": "linux", "architecture": "amd64"}},  # a duplicate
            {"digest": "sha256:h"},  # no platform
        ]
    }
    assert index_platforms(index) == {
        Platform("linux", "amd64"): "sha256:a",
        Platform("linux", "arm64"): "sha256:b",
        Platform("linux", "arm", "v7"): "sha256:c",
        Platform("linux", "arm", "v6"): "sha256:d",
    }
    assert index_platforms({"layers": []}) == {}
