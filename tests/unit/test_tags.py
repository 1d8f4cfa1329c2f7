"""Moving tags follow SemVer 2.0.0 precedence (https://semver.org, section 11)."""

from __future__ import annotations

import pytest

from buildx_go.planning.tags import SemVer, as_tag, moving_tags

# The specification's own examples, lowest first.
SPEC_ORDER = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "2.0.0",
    "2.1.0",
    "2.1.1",
]


def test_the_specifications_precedence_examples() -> None:
    parsed = [SemVer.parse(v) for v in SPEC_ORDER]
    assert all(p is not None for p in parsed)
    keys = [p.precedence() for p in parsed if p]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    shuffled = sorted(reversed(SPEC_ORDER), key=lambda v: SemVer.parse(v).precedence())  # type: ignore[union-attr]
    assert shuffled == SPEC_ORDER


def test_build_metadata_and_the_v_prefix() -> None:
    a, b = SemVer.parse("1.0.0+20130313144700"), SemVer.parse("v1.0.0_exp.sha.5114f85")
    assert a is not None and b is not None
    assert a.precedence() == b.precedence() and b.prefix == "v" and b.build == "exp.sha.5114f85"
    assert str(SemVer.parse("1.0.0-beta+exp.sha.5114f85")) == "1.0.0-beta+exp.sha.5114f85"
    assert as_tag("1.2.3+build.5") == "1.2.3_build.5"
    for bad in ("1.2", "01.2.3", "1.2.3-01", "1.2.3-", "latest", "1.2.3.4", "v"):
        assert SemVer.parse(bad) is None, bad


def test_a_semver_prerelease_moves_nothing() -> None:
    # PEP 440 read 1.2.3-1 as a post-release (1.2.3.post1) and moved latest, 1 and 1.2
    moved, why = moving_tags("1.2.3-1", ["1.2.2"], latest=True, floating=True)
    assert moved == () and why == "1.2.3-1 is a SemVer pre-release: moving tags left alone"
    assert moving_tags("1.2", [], latest=True, floating=False)[0] == ()


def test_a_prerelease_never_holds_a_release_back_and_messages_name_real_tags() -> None:
    moved, _ = moving_tags("1.2.3", ["1.2.3-1", "1.2.3-rc.1", "latest", "buildcache", "1.2.3-amd64"], True, True)
    assert moved == ("1", "1.2", "latest")
    moved, why = moving_tags("1.2.3", ["v1.2.4", "1.3.0"], latest=True, floating=True)
    assert moved == ()
    assert why.endswith("held: 1 (newer 1.3.0 exists), 1.2 (newer v1.2.4 exists), latest (newer 1.3.0 exists)")


@pytest.mark.parametrize(
    ("version", "existing", "moved"),
    [
        ("1.2.0", ["1.1.9", "1.2.0-rc.1"], ("1", "1.2", "latest")),
        ("1.1.5", ["1.2.0", "1.1.4"], ("1.1",)),
        ("2.0.0", ["1.9.9", "2.0.0+build.1"], ("2", "2.0", "latest")),  # same precedence: not older
        ("v3.1.0", ["v3.0.0"], ("v3", "v3.1", "latest")),
    ],
)
def test_floating_tags_cover_their_own_line(version: str, existing: list[str], moved: tuple[str, ...]) -> None:
    assert moving_tags(version, existing, latest=True, floating=True)[0] == moved


def test_unknown_existing_tags_are_said() -> None:
    moved, why = moving_tags("1.0.0", None, latest=True, floating=False)
    assert moved == ("latest",) and "could not be listed" in why
