from __future__ import annotations

import os
from pathlib import Path

import pytest

from buildx_go.dockerfile.generate import GenerateOptions, generate_dockerfile
from buildx_go.dockerfile.parse import Dockerfile, find_dockerfile, split_instructions
from buildx_go.errors import InputError
from buildx_go.project.gomod import MainPackage
from buildx_go.seams import LocalFiles

GOLDEN = Path(__file__).parent / "golden"


def golden(name: str, text: str) -> None:
    """Compare TEXT with golden/NAME (UPDATE_GOLDEN=1 rewrites it)."""
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


def test_generated_single_main_with_version() -> None:
    text = generate_dockerfile(
        GenerateOptions(
            "golang:1.22",
            "gcr.io/distroless/static-debian12:nonroot",
            (MainPackage(".", "hello"),),
            "example.com/hello",
            version_var="main.version",
        )
    )
    golden("generated-hello.Dockerfile", text)
    df = Dockerfile.parse(text)
    assert df.stages[0].platform == "$BUILDPLATFORM"
    assert {"TARGETOS", "TARGETARCH", "TARGETVARIANT", "VERSION"} <= df.stages[0].args_declared()
    assert df.stages[1].platform is None  # the runtime stage is per target platform
    assert not any(ins.keyword == "RUN" for ins in df.stages[1].instructions)
    assert "# syntax" not in text


def test_generated_vendored_several_mains() -> None:
    mains = (MainPackage("./cmd/api", "api"), MainPackage("./cmd/worker", "worker"))
    text = generate_dockerfile(GenerateOptions("golang:1.27", "static:latest", mains, "example.com/svc", vendored=True))
    golden("generated-vendored.Dockerfile", text)
    assert "go mod download" not in text
    assert "-o /out/ ./cmd/api ./cmd/worker" in text
    assert 'ENTRYPOINT ["/usr/local/bin/api"]' in text


RECIPE = """\
# The per-architecture recipe's Dockerfile
FROM golang:1.22-alpine AS builder
WORKDIR /app
COPY ./cmd/ ./cmd/
COPY go.* ./
RUN go mod tidy
RUN go env -w CGO_ENABLED=0
ARG GOARCH
RUN echo "Building for GOARCH=$GOARCH"
RUN go build \\
    -o /app/server \\
    ./cmd/server

FROM alpine
RUN apk add curl
COPY --from=builder /app/server /server
ENTRYPOINT ["/server"]
"""

BUILDX = """\
ARG GO_VERSION=1.22
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS TARGETARCH
RUN GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /out/app .
FROM scratch
COPY --from=build /out/app /app
"""


def test_styles() -> None:
    assert Dockerfile.parse(RECIPE).style == "goarch-recipe"
    assert Dockerfile.parse(BUILDX).style == "buildx"
    assert Dockerfile.parse("FROM alpine\nRUN echo hi\n").style == "other"


def test_parse_stages_continuations_and_global_args() -> None:
    df = Dockerfile.parse(BUILDX)
    assert [a.args for a in df.global_args] == ["GO_VERSION=1.22"]
    assert [(s.name, s.base) for s in df.stages] == [("build", "golang:${GO_VERSION}"), (None, "scratch")]
    rec = Dockerfile.parse(RECIPE)
    build = next(i for i in rec.stages[0].instructions if i.keyword == "RUN" and "go build" in i.args)
    assert build.args == "go build     -o /app/server     ./cmd/server"  # as BuildKit joins the lines
    assert (build.line, build.end_line) == (10, 12)
    assert rec.stage_named("BUILDER") is rec.stages[0]


def test_directives_and_comments_inside_continuations() -> None:
    ins, directives = split_instructions("# syntax=docker/dockerfile:1\nFROM a\nRUN one \\\n# note\n  two\n")
    assert directives == {"syntax": "docker/dockerfile:1"}
    assert [(i.keyword, i.args) for i in ins] == [("FROM", "a"), ("RUN", "one   two")]  # as BuildKit joins them


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("RUN x\nFROM a\n", "Dockerfile:1: RUN before the first FROM"),
        ("# only a comment\n", "no FROM"),
        ("FROM a b c d\n", "malformed FROM"),
    ],
)
def test_bad_dockerfiles(text: str, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment):
        Dockerfile.parse(text)


def test_find_dockerfile(tmp_path: Path) -> None:
    assert find_dockerfile(tmp_path, None, LocalFiles()) is None
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker/Dockerfile").write_text("FROM a\n")
    assert find_dockerfile(tmp_path, None, LocalFiles()) == tmp_path / "docker/Dockerfile"
    (tmp_path / "Dockerfile").write_text("FROM a\n")
    assert find_dockerfile(tmp_path, None, LocalFiles()) == tmp_path / "Dockerfile"
    with pytest.raises(InputError, match="--file: nope not found"):
        find_dockerfile(tmp_path, "nope", LocalFiles())


def test_several_commands_ship_in_one_image(tmp_path: Path) -> None:
    from buildx_go.errors import InputError
    from tests.unit.planning import decide_for
    from tests.unit.test_gomod import write

    root = write(
        tmp_path,
        {
            "go.mod": "module example.com/m\ngo 1.22\n",
            "cmd/api/main.go": "package main\nfunc main() {}\n",
            "cmd/worker/main.go": "package main\nfunc main() {}\n",
        },
    )
    given = {"image": "r/x", "tag": ["1"], "strategy": "buildx"}
    with pytest.raises(InputError, match="several main packages") as err:
        decide_for(given, root=root)
    assert "repeat --main (or --main all)" in str(err.value.hint)
    both = decide_for({**given, "main": ["./cmd/worker", "./cmd/api"]}, root=root)
    text = both.dockerfile.text
    assert "go build" in text and "./cmd/worker ./cmd/api" in text
    assert "COPY --from=build /out/api /usr/local/bin/api" in text
    assert text.rstrip().endswith('ENTRYPOINT ["/usr/local/bin/worker"]')  # the first given
    chosen = decide_for({**given, "main": ["all"], "entrypoint": "worker"}, root=root).dockerfile.text
    assert "COPY --from=build /out/api /usr/local/bin/api" in chosen
    assert chosen.rstrip().endswith('ENTRYPOINT ["/usr/local/bin/worker"]')
    with pytest.raises(InputError, match=r"--entrypoint: 'nope' is not one of the binaries built \(api, worker\)"):
        decide_for({**given, "main": ["all"], "entrypoint": "nope"}, root=root)
