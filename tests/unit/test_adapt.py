from __future__ import annotations

import pytest

from buildx_go.dockerfile.adapt import adapt, lint
from buildx_go.dockerfile.parse import Dockerfile
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
        (
            "FROM --platform=$BUILDPLATFORM g AS b\nARG TARGETARCH\nRUN go build .\n"
            "FROM scratch\nCOPY --from=b /a /a\n",
            False,
            TWO,
            ["goarch-unset"],
        ),
        # the same, shipped as it is: every image is the build platform's, and the binary is too
        (
            "FROM --platform=$BUILDPLATFORM g AS b\nARG TARGETARCH\nRUN go build .\n",
            False,
            TWO,
            ["goarch-unset", "final-on-build-platform"],
        ),
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
        'Dockerfile:1: cgo (c.go imports "C"): Debian\'s cross toolchain for the target and libsqlite3-dev for the '
        "target in stage build"
    )
    # on alpine there is none to add: it stays on the target platform, compiling C under QEMU
    alpine = Dockerfile.parse(NO_ARG.replace("golang:1.22", "golang:1.22-alpine"))
    got = [i.code for i in lint(alpine, TWO, AMD64, adapted=True, cgo_files=("c.go",))]
    assert got == ["not-adapted", "cgo-emulated"]
    cross = Dockerfile.parse(
        "FROM --platform=$BUILDPLATFORM golang AS b\nARG TARGETARCH\nRUN GOARCH=$TARGETARCH go build .\n"
        "FROM scratch\nCOPY --from=b /a /a\n"
    )
    assert [i.code for i in lint(cross, TWO, AMD64, adapted=True, cgo_files=("c.go",))] == ["cgo-cross"]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("ARG TARGETARCH\nRUN GOARCH=$TARGETARCH go build -o /out/app .", "cross"),
        ("ARG TARGETARCH\nENV GOARCH=${TARGETARCH}\nRUN go build -o /out/app .", "cross"),
        ("ARG TARGETPLATFORM\nRUN make build PLATFORM=$TARGETPLATFORM", "cross"),
        ("ARG TARGETARCH\nARG ARCH=$TARGETARCH\nRUN GOARCH=$ARCH go build -o /out/app .", "cross"),
        ("RUN xx-go build -o /out/app .", "cross"),
        # TARGETARCH only names the output: nothing sets GOARCH from it
        ("ARG TARGETARCH\nRUN CGO_ENABLED=0 go build -o /out/app-$TARGETARCH .", "unwired"),
        # a global ARG is empty in a RUN unless the stage declares it
        ("RUN GOARCH=${TARGETARCH} go build -o /out/app .", "unwired"),
    ],
)
def test_what_feeds_goarch_from_the_target(text: str, kind: str) -> None:
    from buildx_go.dockerfile.stages import go_stages

    df = Dockerfile.parse(f"ARG TARGETARCH\nFROM --platform=$BUILDPLATFORM golang:1.22 AS b\n{text}\n")
    assert [g.kind for g in go_stages(df)] == [kind]


def test_modules_stay_in_the_image_when_a_run_may_use_go_indirectly() -> None:
    text = (
        "FROM golang:1.22 AS b\nARG GOARCH\nRUN go mod download\nRUN bazel run //:gazelle\nRUN go build -o /app .\n\n"
        "FROM scratch\nCOPY --from=b /app /app\n"
    )
    a = adapt(Dockerfile.parse(text), "Dockerfile")
    assert "ENV GOCACHE=/root/.cache/go-build\n" in a.text  # no GOMODCACHE: bazel may need the modules
    assert "RUN --mount=type=cache,target=/root/.cache/go-build go mod download\n" in a.text
    assert "RUN --mount=type=cache,target=/root/.cache/go-build go build -o /app .\n" in a.text
    assert "RUN bazel run //:gazelle\n" in a.text


def test_make_and_build_scripts_get_the_go_caches_too() -> None:
    text = (
        "FROM golang:1.22 AS b\nARG GOARCH\nRUN go mod download\nRUN make generate\nRUN ./hack/build.sh\n\n"
        "FROM scratch\nCOPY --from=b /src/bin/app /app\n"
    )
    a = adapt(Dockerfile.parse(text), "Dockerfile")
    mounts = "--mount=type=cache,target=/root/.cache/go-build --mount=type=cache,target=/go/pkg/mod"
    assert "ENV GOCACHE=/root/.cache/go-build GOMODCACHE=/go/pkg/mod\n" in a.text
    for run in ("go mod download", "make generate", "./hack/build.sh"):
        assert f"RUN {mounts} {run}\n" in a.text


MAKE_STAGE = """\
FROM golang:1.22-bookworm AS builder
WORKDIR /src
COPY . .
RUN make build

FROM debian:bookworm-slim
COPY --from=builder /src/bin/app /usr/local/bin/app
ENTRYPOINT ["app"]
"""


def test_a_makefile_that_turns_cgo_on_gets_the_cross_toolchain() -> None:
    df = Dockerfile.parse(MAKE_STAGE)
    on = {
        "make:Makefile": "include build/vars.mk\nbuild:\n\tgo build -o bin/app .\n",
        "make:build/vars.mk": "export CGO_ENABLED ?= 1\n",
    }
    a = adapt(df, "Dockerfile", (), (), on)
    assert any("cgo (build/vars.mk sets CGO_ENABLED=1): Debian's cross toolchain" in c for c in a.changes)
    assert "ENV CGO_ENABLED=1 CC=/usr/local/bin/buildx-go-cc" in a.text
    assert [x.code for x in lint(df, TWO, AMD64, adapted=True, build_files=on)] == []
    # the stage's own line decides first; a Makefile that turns it off wins over the import graph
    off_here = Dockerfile.parse(MAKE_STAGE.replace("RUN make build", "RUN CGO_ENABLED=0 make build"))
    assert "buildx-go-cc" not in adapt(off_here, "Dockerfile", (), (), on).text
    off_there = adapt(df, "Dockerfile", ("c.go",), (), {"make:Makefile": "CGO_ENABLED := 0\n"})
    assert "buildx-go-cc" not in off_there.text
    # a script run by the stage counts too; a Makefile the stage does not run does not
    script = Dockerfile.parse(MAKE_STAGE.replace("RUN make build", "RUN ./scripts/build.sh"))
    assert (
        "buildx-go-cc"
        in adapt(script, "Dockerfile", (), (), {"script:scripts/build.sh": "CGO_ENABLED=1 go build"}).text
    )
    assert "buildx-go-cc" not in adapt(script, "Dockerfile", (), (), on).text


def test_cgo_on_the_build_platform_without_a_debian_toolchain_is_refused_before_building() -> None:
    from buildx_go.dockerfile.adapt import unbuildable

    alpine = MAKE_STAGE.replace(
        "golang:1.22-bookworm AS builder", "--platform=$BUILDPLATFORM golang:1.22-alpine AS builder"
    )
    stuck = unbuildable(Dockerfile.parse(alpine), (), {"make:Makefile": "CGO_ENABLED=1\n"})
    assert stuck is not None and stuck[0].name == "builder" and stuck[1] == "Makefile sets CGO_ENABLED=1"
    assert unbuildable(Dockerfile.parse(alpine), (), {}) is None  # no cgo: adaptation feeds GOARCH
    # emulated, it stays so (right binaries, compiled under QEMU): not refused
    emulated = MAKE_STAGE.replace("golang:1.22-bookworm", "golang:1.22-alpine")
    assert unbuildable(Dockerfile.parse(emulated), (), {"make:Makefile": "CGO_ENABLED=1\n"}) is None
    lints = lint(Dockerfile.parse(emulated), TWO, AMD64, adapted=True, build_files={"make:Makefile": "CGO_ENABLED=1\n"})
    assert [x.code for x in lints] == ["not-adapted", "cgo-emulated"]


SINGLE = """\
FROM golang:1.22
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o bin/server ./cmd/server && go build -o=/usr/local/bin/tool ./cmd/tool
EXPOSE 8080
ENTRYPOINT ["/src/bin/server"]
"""


def test_a_single_compile_and_ship_stage_is_split_never_shipped_from_the_build_platform() -> None:
    df = Dockerfile.parse(SINGLE)
    a = adapt(df, "Dockerfile")
    final = Dockerfile.parse(a.text).stages[-1]
    assert final.base == "golang:1.22" and final.platform is None and final.name is None
    assert [i.keyword for i in final.instructions] == [
        "WORKDIR",
        "COPY",
        "COPY",
        "COPY",
        "COPY",
        "EXPOSE",
        "ENTRYPOINT",
    ]
    copies = [i.args for i in final.instructions if "--from" in i.args]
    assert copies == [
        "--from=buildx-go-build /src/bin/server /src/bin/server",
        "--from=buildx-go-build /usr/local/bin/tool /usr/local/bin/tool",
    ]
    build = Dockerfile.parse(a.text).stages[0]
    assert build.platform == "$BUILDPLATFORM" and build.name == "buildx-go-build"
    assert [x.code for x in lint(df, TWO, AMD64, adapted=True)] == []  # no RUN left in the final image


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (("RUN go mod download", "RUN apk add git && go mod download"), "does more than compile Go"),
        (("go build -o=/usr/local/bin/tool ./cmd/tool", "go install ./cmd/tool"), "`go install` puts"),
        (("-o bin/server", ""), "a `go build` without -o"),
        (("-o bin/server", "-o $OUT"), "depends on a variable"),
        # what else a RUN writes would be lost with it: never split
        (("go mod download", "go mod download && echo greeting=hi > /etc/app.conf"), "writes a file"),
        (("go mod download", "go mod download && mkdir -p /data"), "it makes /data"),
        (("CGO_ENABLED=0 go build", "cd cmd && cd $DIR && go build"), "depends on a variable"),
        (("CGO_ENABLED=0 go build -trimpath", "go build -C cmd"), "writes its output relative to DIR"),
    ],
)
def test_a_final_go_stage_that_cannot_be_split_stays_on_the_target_platform(change: tuple[str, str], why: str) -> None:
    df = Dockerfile.parse(SINGLE.replace(*change))
    a = adapt(df, "Dockerfile")
    assert "$BUILDPLATFORM" not in a.text.split("cross-compiles for")[-1]  # nothing moved: no mixed image
    lints = lint(df, TWO, AMD64, adapted=True)
    assert [x.code for x in lints] == ["not-adapted", "run-needs-emulation"]
    assert "it is also the final image" in lints[0].message and why in lints[0].message


def test_a_split_follows_cd_and_allows_mkdir_of_the_output_directory() -> None:
    text = SINGLE.replace(
        "RUN CGO_ENABLED=0 go build -trimpath -o bin/server ./cmd/server && go build -o=/usr/local/bin/tool ./cmd/tool",
        "RUN mkdir -p /out/bin && cd cmd/server && go build -o server . && go build -o /out/bin/tool ../tool",
    )
    a = adapt(Dockerfile.parse(text), "Dockerfile")
    copies = [i.args for i in Dockerfile.parse(a.text).stages[-1].instructions if "--from" in i.args]
    assert copies == [
        "--from=buildx-go-build /src/cmd/server/server /src/cmd/server/server",
        "--from=buildx-go-build /out/bin/tool /out/bin/tool",
    ]


def test_a_final_stage_on_the_build_platform_is_named() -> None:
    text = "FROM --platform=$BUILDPLATFORM golang AS b\nARG TARGETARCH\nRUN GOARCH=$TARGETARCH go build\n"
    lints = lint(Dockerfile.parse(text), TWO, AMD64, adapted=True)
    assert [x.code for x in lints] == ["final-on-build-platform"]
    # one that names its output is split instead
    split = adapt(Dockerfile.parse(text.replace("go build", "go build -o /app")), "Dockerfile")
    assert "FROM golang AS" not in split.text and split.text.rstrip().endswith("COPY --from=b /app /app")


def test_stages_the_final_stage_does_not_need_are_neither_adapted_nor_reported() -> None:
    from buildx_go.dockerfile.stages import go_stages

    unused = "FROM golang:1.22 AS test\nRUN go build -o /x ./...\n\n" + MAKE_STAGE
    assert [g.name for g in go_stages(Dockerfile.parse(unused))] == ["builder"]
    assert not any("stage test" in c for c in adapt(Dockerfile.parse(unused), "Dockerfile").changes)
    # a stage taken from by COPY --from or RUN --mount=from= is needed
    mounted = unused.replace("RUN make build", "RUN --mount=type=bind,from=test,target=/t make build")
    assert [g.name for g in go_stages(Dockerfile.parse(mounted))] == ["test", "builder"]


EMULATED = "FROM golang:1.22 AS build\nWORKDIR /src\nCOPY . .\n{run}\n\nFROM scratch\n{copy}\n"


@pytest.mark.parametrize(
    ("run", "copy", "why"),
    [
        (
            "RUN export GOARCH=$(uname -m | sed s/x86_64/amd64/) && go build -o /out/app .",
            "COPY --from=build /out/app /app",
            "derives GOARCH from the machine it runs on (uname -m)",
        ),
        (
            "RUN CGO_ENABLED=0 go build -o /out/app .",
            "COPY --from=build /out/app /app\nCOPY --from=build /bin/busybox /bin/busybox",
            "stage 1 copies /bin/busybox from it, a file of its base image",
        ),
    ],
)
def test_a_stage_whose_files_would_change_with_the_build_platform_stays(run: str, copy: str, why: str) -> None:
    df = Dockerfile.parse(EMULATED.format(run=run, copy=copy))
    assert "$BUILDPLATFORM" not in adapt(df, "Dockerfile").text.split("cross-compiles for")[-1]
    lints = lint(df, TWO, AMD64, adapted=True)
    assert lints[0].code == "not-adapted" and why in lints[0].message, lints[0].message


def test_a_makefile_that_derives_goarch_from_the_machine_is_not_moved() -> None:
    df = Dockerfile.parse(EMULATED.format(run="RUN make build", copy="COPY --from=build /src/bin/app /app"))
    makefile = "UNAME_M := $(shell uname -m)\nifeq ($(UNAME_M),aarch64)\nGOARCH := arm64\nendif\nbuild:\n\tgo build\n"
    lints = lint(df, TWO, AMD64, adapted=True, build_files={"make:Makefile": makefile})
    assert lints[0].code == "not-adapted" and "Makefile derives GOARCH" in lints[0].message


def test_external_linking_is_cgo_and_cgo_on_one_branch_of_a_script_is_not() -> None:
    run = "RUN go build -ldflags '-linkmode external' -o /out/app ."
    df = Dockerfile.parse(EMULATED.format(run=run, copy="COPY --from=build /out/app /app"))
    a = adapt(df, "Dockerfile")
    assert "cgo (it links with -linkmode external, which needs cgo)" in a.changes[-1]
    script = Dockerfile.parse(EMULATED.format(run="RUN ./build.sh", copy="COPY --from=build /out/app /app"))
    race = "CGO_ENABLED=1 go build -race -o /out/app ."
    branches = f'if [ -n "$RACE" ]; then {race}; else CGO_ENABLED=0 go build -o /out/app .; fi\n'
    adapted = adapt(script, "Dockerfile", build_files={"script:build.sh": branches})
    assert not any("cgo" in c for c in adapted.changes)


def test_prebuilt_copies_read_heredocs_and_default_words_as_buildkit_does() -> None:
    from buildx_go.dockerfile.stages import platform_args, prebuilt_sources

    text = (
        "FROM scratch\nARG TARGETARCH\nCOPY --chmod=755 <<EOF /usr/local/bin/start\n#!/bin/sh\nexec hello\nEOF\n"
        'COPY bin/${TARGETARCH:-amd64}/hello /usr/local/bin/hello\nENTRYPOINT ["/usr/local/bin/start"]\n'
    )
    arm64 = platform_args("linux", "arm64", None, ("linux", "amd64"))
    assert [s.path for s in prebuilt_sources(Dockerfile.parse(text), {}, arm64)] == ["bin/arm64/hello"]
    undeclared = text.replace("ARG TARGETARCH\n", "")  # empty in the stage: the default word
    assert [s.path for s in prebuilt_sources(Dockerfile.parse(undeclared), {}, arm64)] == ["bin/amd64/hello"]
