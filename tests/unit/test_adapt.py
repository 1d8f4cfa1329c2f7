from __future__ import annotations

import pytest

from buildx_go.adapt import adapt, lint
from buildx_go.dockerfile import Dockerfile
from buildx_go.platforms import Platform, parse_platforms
from tests.unit.test_generate_and_dockerfile import RECIPE, golden

AMD64 = Platform.parse("linux/amd64")
TWO = parse_platforms("linux/amd64,linux/arm64")

# Several stages, a stage built FROM another (name reuse), ARG defaults, comments and
# continuations, a parser directive, GOARCH declared with other args.
MULTI = """\
# escape=\\
ARG GO_VERSION=1.22
FROM golang:${GO_VERSION} AS base
WORKDIR /src
COPY go.* ./
RUN go mod download

# the real build stage derives from base
FROM base AS builder
COPY . .
ARG VERSION=dev GOARCH=amd64
RUN CGO_ENABLED=0 \\
    # a comment inside a continuation
    go build -ldflags "-X main.version=${VERSION}" -o /out/app ./cmd/app

FROM alpine:3.20 AS runtime
RUN apk add --no-cache ca-certificates
COPY --from=builder /out/app /app
ENTRYPOINT ["/app"]
"""

NO_ARG = """\
FROM golang:1.22 AS build
ARG GOOS=linux
RUN go build -o /app .
FROM scratch
COPY --from=build /app /app
"""


def test_recipe_golden() -> None:
    a = adapt(Dockerfile.parse(RECIPE), "docker/Dockerfile")
    golden("adapted-recipe.Dockerfile", a.text)
    derived = Dockerfile.parse(a.text)
    assert derived.style == "buildx"
    assert derived.stages[0].platform == "$BUILDPLATFORM"
    assert derived.stages[1].platform is None  # the runtime stage stays on the target platform


def test_multi_stage_with_stage_reuse_golden() -> None:
    a = adapt(Dockerfile.parse(MULTI), "Dockerfile")
    golden("adapted-multi.Dockerfile", a.text)
    derived = Dockerfile.parse(a.text)
    assert derived.directives == {"escape": "\\"}
    assert a.text.startswith("# escape=\\\n# Derived by buildx-go")
    base, builder, runtime = derived.stages
    assert base.platform == "$BUILDPLATFORM"  # the root of the Go chain moves...
    assert builder.platform is None and builder.base == "base"  # ...and the derived stage follows it
    assert runtime.platform is None
    assert "ARG VERSION=dev" in a.text and "GOARCH=amd64" not in a.text
    assert a.changes == (
        "Dockerfile:3: stage base runs on $BUILDPLATFORM",
        "Dockerfile:6: Go build and module caches in cache mounts (1 RUN)",
        "Dockerfile:12: Go build and module caches in cache mounts (1 RUN)",
        "Dockerfile:11: ARG GOARCH replaced by GOARCH=$TARGETARCH",
    )


def test_stage_without_arg_goarch_gets_it_after_from() -> None:
    a = adapt(Dockerfile.parse(NO_ARG), "Dockerfile")
    golden("adapted-no-arg.Dockerfile", a.text)
    assert "ENV GOOS=$TARGETOS GOARCH=$TARGETARCH" in a.text


def test_user_file_text_is_untouched_outside_edits() -> None:
    a = adapt(Dockerfile.parse(RECIPE), "docker/Dockerfile")
    edited = ("FROM golang", "ARG GOARCH", "RUN go mod", "RUN go build")
    kept = [line for line in RECIPE.splitlines() if not line.startswith(edited)]
    for line in kept:
        assert line in a.text.splitlines()
    # Go's RUNs only gain cache mounts in front of the user's own command.
    mounts = "RUN --mount=type=cache,target=/root/.cache/go-build --mount=type=cache,target=/go/pkg/mod "
    assert mounts + "go mod tidy" in a.text.splitlines()
    assert mounts + "go build \\" in a.text.splitlines()


@pytest.mark.parametrize(
    ("text", "adapted", "platforms", "codes"),
    [
        (RECIPE, True, TWO, ["run-needs-emulation"]),
        # emulated, ARG GOARCH unset: GOARCH comes from the platform, the binary is right (only slow)
        (RECIPE, False, TWO, ["go-stage-emulated", "run-needs-emulation"]),
        (RECIPE, False, (AMD64,), []),
        # on $BUILDPLATFORM, TARGETARCH declared but never used: every image gets an amd64 binary
        ("FROM --platform=$BUILDPLATFORM g AS b\nARG TARGETARCH\nRUN go build .\n", False, TWO, ["goarch-unset"]),
        # an ARG GOARCH with a value: every image gets that binary, emulated or not
        ("FROM g AS b\nARG GOARCH=amd64\nRUN go build .\n", False, (AMD64,), ["goarch-fixed"]),
        (
            "# syntax=docker/dockerfile:1\nFROM --platform=$BUILDPLATFORM g AS b\nARG TARGETARCH\n"
            "RUN GOARCH=$TARGETARCH go build .\n"
            "FROM scratch\nCOPY --from=b /a /a\n",
            False,
            TWO,
            ["syntax-directive"],
        ),
    ],
)
def test_lints(text: str, adapted: bool, platforms: tuple[Platform, ...], codes: list[str]) -> None:
    got = lint(Dockerfile.parse(text), platforms, AMD64, adapted=adapted)
    assert [item.code for item in got] == codes


def test_cgo_lints() -> None:
    df = Dockerfile.parse(NO_ARG)
    assert [i.code for i in lint(df, TWO, AMD64, adapted=True, cgo_files=("c.go",), generated=True)] == ["cgo-disabled"]
    # emulated and cgo on a Debian Go image: adapted, with Debian's cross toolchain (nothing to say)
    assert [i.code for i in lint(df, TWO, AMD64, adapted=True, cgo_files=("c.go",))] == []
    a = adapt(df, "Dockerfile", ("c.go",), ("libsqlite3-dev",))
    env = "ENV CGO_ENABLED=1 CC=/usr/local/bin/buildx-go-cc CXX=/usr/local/bin/buildx-go-cxx PKG_CONFIG="
    assert env + "/usr/local/bin/buildx-go-pkg-config" in a.text
    assert a.changes[-1] == (
        "Dockerfile:1: cgo: Debian's cross toolchain for the target and libsqlite3-dev for the target in stage build"
    )
    # on alpine there is none to add: it stays on the target platform, compiling C under QEMU
    alpine = Dockerfile.parse(NO_ARG.replace("golang:1.22", "golang:1.22-alpine"))
    got = [i.code for i in lint(alpine, TWO, AMD64, adapted=True, cgo_files=("c.go",))]
    assert got == ["not-adapted", "cgo-emulated"]
    cross = Dockerfile.parse("FROM --platform=$BUILDPLATFORM golang AS b\nRUN GOARCH=$TARGETARCH go build .\n")
    assert [i.code for i in lint(cross, TWO, AMD64, adapted=True, cgo_files=("c.go",))] == ["cgo-cross"]


def test_modules_stay_in_the_image_when_a_run_may_use_go_indirectly() -> None:
    text = (
        "FROM golang:1.22 AS b\nARG GOARCH\nRUN go mod download\nRUN make generate\nRUN go build -o /app .\n\n"
        "FROM scratch\nCOPY --from=b /app /app\n"
    )
    a = adapt(Dockerfile.parse(text), "Dockerfile")
    assert "ENV GOCACHE=/root/.cache/go-build\n" in a.text  # no GOMODCACHE: `make` may need the modules
    assert "RUN --mount=type=cache,target=/root/.cache/go-build go mod download\n" in a.text
    assert "RUN --mount=type=cache,target=/root/.cache/go-build go build -o /app .\n" in a.text
    assert "RUN make generate\n" in a.text
