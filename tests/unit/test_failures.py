# ruff: noqa: E501  (captured output is kept as it was printed)
"""What a failed build's output says went wrong: one error, its exit code, its first line.
tests/unit/data/buildkit/ holds BuildKit's output captured on the lab's engines (plain
progress, the tail buildx-go keeps); the inline samples are shaped like it."""

from __future__ import annotations

from pathlib import Path

import pytest

from buildx_go.engine.failures import PUSH_RACE, classify, failing_step
from buildx_go.errors import BuildFailed, EngineError, PushFailed, RegistryError

ARGV = ["docker", "buildx", "build", "--file", "/w/Dockerfile", "."]

MODULES = """\
#9 [build 3/6] RUN --mount=type=cache,target=/go/pkg/mod go mod download
#9 0.412 go: example.com/private/lib@v1.2.3: Get "https://proxy.golang.org/example.com/private/lib/@v/v1.2.3.mod": dial tcp: lookup proxy.golang.org on 127.0.0.53:53: server misbehaving
#9 ERROR: process "/bin/sh -c go mod download" did not complete successfully: exit code: 1
------
 > [build 3/6] RUN --mount=type=cache,target=/go/pkg/mod go mod download:
0.412 go: example.com/private/lib@v1.2.3: Get "https://proxy.golang.org/example.com/private/lib/@v/v1.2.3.mod": dial tcp: lookup proxy.golang.org on 127.0.0.53:53: server misbehaving
------
Dockerfile:9
--------------------
   7 |     WORKDIR /src
   8 |     COPY go.mod go.sum* ./
   9 | >>> RUN --mount=type=cache,target=/go/pkg/mod go mod download
  10 |     COPY . .
--------------------
ERROR: failed to solve: process "/bin/sh -c go mod download" did not complete successfully: exit code: 1
"""

COMPILE = """\
#12 [build 5/6] RUN go build -o /out/app .
#12 1.532 # example.com/app
#12 1.532 ./main.go:9:2: undefined: missing
#12 ERROR: process "/bin/sh -c go build -o /out/app ." did not complete successfully: exit code: 1
------
 > [linux/arm64 build 5/6] RUN go build -o /out/app .:
1.532 # example.com/app
1.532 ./main.go:9:2: undefined: missing
------
Dockerfile:12
--------------------
  10 |     COPY . .
  11 |     ARG TARGETOS TARGETARCH
  12 | >>> RUN go build -o /out/app .
  13 |
--------------------
ERROR: failed to solve: process "/bin/sh -c go build -o /out/app ." did not complete successfully: exit code: 1
"""


def test_modules_that_cannot_be_downloaded_are_named() -> None:
    err = classify(ARGV, 1, MODULES, "build")
    assert isinstance(err, BuildFailed) and err.exit_code == 4
    assert err.message.startswith("docker buildx build (build): modules could not be downloaded: go: example.com/")
    assert err.hint and "vendor them" in err.hint and "GOPROXY" in err.hint
    assert err.location == ("/w/Dockerfile", 9)


def test_a_failing_step_shows_its_own_lines_not_the_excerpt() -> None:
    err = classify(ARGV, 1, COMPILE, "build")
    assert isinstance(err, BuildFailed)
    assert err.message == (
        "docker buildx build (build) failed at [linux/arm64 build 5/6] RUN go build -o /out/app .: "
        "./main.go:9:2: undefined: missing"
    )
    assert err.hint is not None and "# example.com/app" in err.hint and "|" not in err.hint
    assert failing_step(COMPILE) == (
        "[linux/arm64 build 5/6] RUN go build -o /out/app .",
        ["# example.com/app", "./main.go:9:2: undefined: missing"],
    )
    assert failing_step("nothing failed here") is None


def test_an_image_that_cannot_be_pulled_is_exit_4_with_the_right_hint() -> None:
    cases = {
        "localhost:5000/golang:9.9": (
            "ERROR: failed to solve: localhost:5000/golang:9.9: failed to resolve source metadata for "
            "localhost:5000/golang:9.9: localhost:5000/golang:9.9: not found",
            "not found",
            "--go-image",
        ),
        "docker.io/docker/dockerfile:1": (
            "ERROR: failed to solve: docker/dockerfile:1: failed to resolve source metadata for "
            'docker.io/docker/dockerfile:1: failed to do request: Head "https://registry-1.docker.io/v2/docker/'
            'dockerfile/manifests/1": dial tcp: lookup registry-1.docker.io: no such host',
            "failed to do request",
            "# syntax=",
        ),
        "gcr.io/distroless/static-debian12:nonroot": (
            "ERROR: failed to solve: gcr.io/distroless/static-debian12:nonroot: failed to resolve source metadata "
            "for gcr.io/distroless/static-debian12:nonroot: failed to authorize: failed to fetch anonymous token: "
            "401 Unauthorized",
            "failed to authorize",
            "--base-image",
        ),
    }
    for image, (stderr, why, hint) in cases.items():
        err = classify(ARGV, 1, f"#3 [internal] load metadata\n{stderr}\n", "build")
        assert isinstance(err, BuildFailed) and not isinstance(err, RegistryError), image
        assert err.exit_code == 4
        assert err.message.startswith(f"cannot pull {image}: {why}"), err.message
        assert err.hint and hint in err.hint, err.hint


def test_an_engine_without_a_bridge_network() -> None:
    stderr = (
        "#6 [build 2/4] RUN go mod download\n"
        'ERROR: failed to solve: process "/bin/sh -c go mod download" did not complete successfully: '
        "network bridge not found\n"
    )
    err = classify(ARGV, 1, stderr, "build")
    assert isinstance(err, EngineError) and err.exit_code == 3
    assert "no bridge network" in err.message and err.hint and "--network host" in err.hint


def test_without_a_summary_line_the_excerpt_is_not_the_message() -> None:
    stderr = "Dockerfile:9\n--------------------\n   8 |\n   9 | >>> RUN x\n--------------------\nsomething broke\n"
    err = classify(ARGV, 1, stderr, "build")
    assert err.message == "docker buildx build (build) failed: something broke"


def test_a_push_failure_is_still_a_registry_error() -> None:
    stderr = "ERROR: failed to solve: failed to push localhost:5000/x:1: unexpected status from PUT request to x: 500\n"
    assert isinstance(classify(ARGV, 1, stderr, "build"), PushFailed)


def test_a_manifest_refused_beside_a_push_of_its_layers_is_known_as_a_race() -> None:
    """What CI's containerd-store engine printed when the amd64 manifest was PUT while the arm64
    build pushed the base layer both share; other 400s and failed commits are not races."""
    ref = "localhost:5000/it-manifest:3.0.0-amd64"
    said = (
        f'failed to push {ref}: failed commit on ref "manifest-sha256:{"8" * 64}": unexpected status from PUT '
        "request to http://localhost:5000/v2/it-manifest/manifests/3.0.0-amd64: 400 Bad Request"
    )
    err = classify(ARGV, 1, f"#15 ERROR: {said}\nERROR: failed to solve: {said}\n", "build linux/amd64")
    assert isinstance(err, PushFailed) and PUSH_RACE.search(err.message)
    for other in (
        said.replace("400 Bad Request", "500 Internal Server Error"),
        said.replace('"manifest-sha256:', '"layer-sha256:').replace("/manifests/3.0.0-amd64", "/blobs/uploads/u"),
    ):
        assert not PUSH_RACE.search(classify(ARGV, 1, f"ERROR: failed to solve: {other}\n", "build").message)


CAPTURED = Path(__file__).parent / "data" / "buildkit"


@pytest.mark.parametrize(
    ("name", "kind", "code", "first"),
    [
        ("compile", BuildFailed, 4, "docker buildx build (build) failed at [linux/amd64->arm64 build 6/6] RUN "),
        ("mods", BuildFailed, 4, "docker buildx build (build): modules could not be downloaded: go: github.com/"),
        ("pull", BuildFailed, 4, "cannot pull localhost:5000/golang:9.9: not found"),
        ("syntax", BuildFailed, 4, "cannot pull docker.io/docker/dockerfile:1: failed to do request"),
        ("bridge", EngineError, 3, "docker buildx build (build): the engine has no bridge network for RUN steps"),
    ],
)
def test_captured_outputs(name: str, kind: type, code: int, first: str) -> None:
    err = classify(ARGV, 1, (CAPTURED / f"{name}.txt").read_text(), "build")
    assert type(err) is kind and err.exit_code == code
    assert err.message.startswith(first), err.message
    assert " | " not in err.message  # never the Dockerfile excerpt
    if name == "compile":
        assert err.message.endswith("./broken_arm64.go:6:9: undefined: undefinedOnArm64")


def test_cgo_files_left_out_are_named() -> None:
    stderr = (
        "------\n > [linux/amd64->arm64 build 7/7] RUN go build -o /out/ .:\n"
        "0.211 package example.com/cgoarch: build constraints exclude all Go files in /src\n------\n"
        'ERROR: failed to solve: process "/bin/sh -c go build" did not complete successfully: exit code: 1\n'
    )
    err = classify(ARGV, 1, stderr, "build")
    assert err.message.endswith('(files that import "C" are left out when cgo is off, CGO_ENABLED=0)')
    assert err.hint and "--cgo on" in err.hint


def test_a_pull_failure_points_at_what_chose_the_image() -> None:
    from buildx_go.engine.failures import classify, pull_hint

    stderr = (
        "ERROR: failed to solve: golang:1.22: failed to resolve source metadata for docker.io/library/golang:1.22: "
        "dial tcp: lookup registry-1.docker.io: no such host\n"
    )
    err = classify(["docker", "buildx", "build", "."], 1, stderr, "build")
    assert err.pulled is not None and "--go-image" in str(err.hint)
    own = pull_hint(err.pulled, own_dockerfile=True)
    assert "--generate" in own and "the Dockerfile's FROM" in own and "--base-image with" not in own
    assert "--base-image" in pull_hint("gcr.io/distroless/static-debian12") and "FROM" not in pull_hint("x/y")


def test_a_credential_helper_failing_inside_buildx_is_exit_5_naming_it() -> None:
    from buildx_go.engine.failures import classify

    missing = (
        "ERROR: failed to solve: failed to push localhost:5000/x:1: error getting credentials - err: exec: "
        '"docker-credential-gone": executable file not found in $PATH, out: ``\n'
    )
    garbage = "ERROR: error getting credentials - err: invalid character 'g' looking for beginning of value, out: ``\n"
    for stderr, name in ((missing, "docker-credential-gone"), (garbage, "the docker credential helper")):
        err = classify(["docker", "buildx", "build", "."], 1, stderr, "build")
        assert err.exit_code == 5 and f"{name} failed" in err.message, err.message


PROMOTE = [
    "docker",
    "buildx",
    "imagetools",
    "create",
    "-t",
    "localhost:39807/promo:x",
    "localhost:39807/promo@sha256:f3a6",
]
PROMOTE_FAILED = """\
#1 [internal] pushing localhost:39807/promo:x
#1 0.000 pushing sha256:f3a6a5a487c558118882c6bc519ad85a4734d1a5b0bb608824847b1fd05b264a to localhost:39807/promo:x
#1 ERROR: failed commit on ref "index-sha256:f3a6a5a487c558118882c6bc519ad85a4734d1a5b0bb608824847b1fd05b264a": {why}
------
 > [internal] pushing localhost:39807/promo:x:
0.000 pushing sha256:f3a6a5a487c558118882c6bc519ad85a4734d1a5b0bb608824847b1fd05b264a to localhost:39807/promo:x
------
ERROR: failed commit on ref "index-sha256:f3a6a5a487c558118882c6bc519ad85a4734d1a5b0bb608824847b1fd05b264a": {why}
"""


@pytest.mark.parametrize(
    "why",
    [
        "unexpected status from PUT request to http://localhost:39807/v2/promo/manifests/x: 500 Internal Server Error",
        'failed to do request: Put "http://localhost:39807/v2/promo/manifests/x": read tcp 127.0.0.1:52222->127.0.0.1:39807: read: connection reset by peer',
        'failed to do request: Put "http://localhost:39807/v2/promo/manifests/x": EOF',
    ],
)
def test_a_promotion_the_registry_fails_is_exit_5_not_a_build_step(why: str) -> None:
    """imagetools prints its push as an [internal] step: the registry's failure, not the build's."""
    error = classify(PROMOTE, 1, PROMOTE_FAILED.format(why=why), "promote latest")
    assert isinstance(error, PushFailed) and error.exit_code == 5
    assert error.message.startswith("docker buildx imagetools (promote latest): the registry localhost:39807 failed")


PER_PLATFORM = [
    "docker",
    "buildx",
    "build",
    "--platform",
    "linux/amd64",
    "--push",
    "-t",
    "localhost:5103/app:1.0.0-amd64",
    ".",
]


@pytest.mark.parametrize(
    ("last", "hint"),
    [
        ("ERROR: read tcp 127.0.0.1:39222->127.0.0.1:5103: read: connection reset by peer", "rerun later"),
        ("ERROR: EOF", "rerun later"),
        ("ERROR: dial tcp 127.0.0.1:5103: connect: connection refused", "is the registry at localhost:5103 running"),
    ],
)
def test_a_per_platform_push_that_loses_the_registry_is_exit_5(last: str, hint: str) -> None:
    stderr = f"#12 exporting to image\n#12 pushing layers\n#12 ERROR: {last.removeprefix('ERROR: ')}\n{last}\n"
    error = classify(PER_PLATFORM, 1, stderr, "build linux/amd64")
    assert isinstance(error, PushFailed) and "localhost:5103" in error.message
    assert hint in str(error.hint)


@pytest.mark.parametrize(
    "stderr",
    [
        "ERROR: failed to receive status: rpc error: code = Unavailable desc = error reading from server: EOF\n",
        "ERROR: failed to solve: Unavailable: error reading from server: EOF\n",  # a removed builder container
    ],
)
def test_a_lost_builder_node_is_not_the_registry(stderr: str) -> None:
    error = classify(PER_PLATFORM, 1, stderr, "build")
    assert type(error) is BuildFailed


def test_a_connection_lost_without_a_push_is_not_called_the_registrys() -> None:
    error = classify(["docker", "buildx", "build", "--load", "."], 1, "ERROR: EOF\n", "build")
    assert type(error) is BuildFailed
