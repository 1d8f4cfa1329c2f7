"""A generated corpus of invalid input: every option's bad values on the command
line, in the environment and in .buildx-go.toml, bad files, bad versions. Each case must be
exit 2 with one ERROR line naming where the value came from, no traceback, no docker call
(neither through the executor nor a `docker` on PATH, which records any call) and an answer
within 5 s."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from buildx_go.cli import main as cli
from buildx_go.cli.effects import Effects
from buildx_go.config import Settings
from buildx_go.options import config_key, env_name, flag, specs
from tests.integration.test_dockerfile_differential import INVALID as DOCKERFILES_BUILDKIT_REFUSES
from tests.unit.planning import HELLO, FakeDocker

REFERENCES = [
    "-rf",
    "../x",
    "Upper/Case",
    "http://r.example/app",
    "localhost:99999/app",
    "localhost:0/app",
    "straße/app",
    "a b",
    "x\nRUN id",
    "r//app",
    "r/app/",
    "/app",
    "r/-app",
    "r/app_",
    ".r/app",
    "r/app@sha256:abc",
    "a" * 256,
    "r/APP",
    "r/app:",
    "r/app:-x",
]
INVALID: dict[str, list[Any]] = {
    "image": [*REFERENCES, "r/app:1", "r/app@sha256:" + "a" * 64],
    "tag": ["straße", "版本", "-bad", ".bad", "a" * 129, "a b", "a;b", "a/b", "a:b", "a@b", "$(id)"],
    "platform": ["linux/mips", "linux", "linux/arm/v9", "linux/amd64/v9", "foo", "linux/arm64/v8/x", "/", "linux/"],
    "go_image": REFERENCES,
    "base_image": REFERENCES,
    "builder_image": REFERENCES[:8],
    "version_var": ['main.v"', "version", "main.1x", "main.ver sion", "main.v\n", "main.", ".v", "main.v;rm", "π.v"],
    "strategy": ["nope", "BUILDX", "auto;rm", "host "],
    "compression": ["gz", "zstd:1", "none", "ZSTD"],
    "cache": ["gha", "local", "registry,mode=max"],
    "progress": ["fancy", "tty2", "json"],
    "format": ["yaml", "JSON", "text;"],
    "registry_timeout": ["0", "-1", "601", "abc", "nan", "inf", "1e9", "-"],
    "version_from_timeout": ["0", "-5", "9999", "soon", "nan"],
    "tags": ["bad tag", "a;b", "$(id)", "tag\nx", "é"],
    "build_arg": [
        "NOVALUE",
        "1X=2",
        "=x",
        "A B=1",
        "X=a\nRUN id",
        "GITHUB_TOKEN=ghp_x",
        "DB_PASSWORD=x",
        "GOPROXY=https://u:tok@proxy.example",
    ],
    "secret": [
        "src=/x",
        "id=netrc,file=/x",
        "id=bad id",
        "id=netrc,src=/nonexistent/netrc",
        "id=x,type=bogus",
        "id=x,env=",
        "id=x,src=",
    ],
    "ssh": ["a;b", "default=", "x,y", "(x)", "default=/nonexistent/agent.sock", "key=/"],
    "builder": ["a b", "foo/bar", "-x", "bücher", "a" * 300, "a\nb", ".hidden"],
    "network": ["bogus", "bridge;x", "HOST"],
    "metadata_file": ["/dev/null/meta.json", "/etc/hostname/out/meta.json"],
    "goprivate": ["github.com/org/*;rm", "a b", "x\ny"],
    "cgo": ["yes", "ON", "maybe"],
    "cgo_package": ["Zlib1g-dev", "zlib;rm", "-x", "a b"],
    "output": ["type=registry", "type=registry,name=r/x:1", "registry", "type=image,name=r/x,push=true"],
    "credential_helper_timeout": ["0", "-2", "601", "forever", "nan"],
    "entrypoint": ["nope", "./cmd/none"],
}
FLAGS_INVALID = ["maybe", "2", "yes please", "on;", "tru"]  # env and TOML values of boolean options
TOML_WRONG_TYPES: dict[str, Any] = {
    "image": 5,
    "tag": {"a": 1},
    "platform": 5,
    "base_image": ["a"],
    "push": "maybe",
    "latest": 3,
    "registry_timeout": True,
    "version_var": 1.5,
    "strategy": ["auto"],
    "build_arg": 5,
    "cgo_package": {"a": 1},
    "secret": 7,
    "tags": True,
}
VALID = {"image": "localhost:5000/app", "tag": "1.0.0", "strategy": "buildx"}  # plus --push


def valid_argv(without: str = "") -> list[str]:
    """Good values for the options a build needs, leaving out WITHOUT (given elsewhere)."""
    pairs = [arg for name, v in VALID.items() if name != without for arg in (flag(name), v)]
    return pairs + ([] if without == "push" else ["--push"])


def toml_value(value: Any) -> str:
    """VALUE written in TOML (strings as basic strings, tables inline)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def option_cases() -> Iterator[tuple[str, str, Any, str]]:
    """(case id, source, value, what the error must name) for every option's bad values."""
    known = dict(specs(Settings))
    for name, values in INVALID.items():
        for i, value in enumerate(values):
            yield f"{name}-cli-{i}", f"cli:{name}", value, flag(name)
            yield f"{name}-env-{i}", f"env:{name}", value, env_name(name)
            yield f"{name}-toml-{i}", f"toml:{name}", value, f".buildx-go.toml {config_key(name)}"
    for name, spec in known.items():
        if spec.kind == "flag" and "build" in spec.commands and name not in ("debug",):
            for i, value in enumerate(FLAGS_INVALID):
                yield f"{name}-env-{i}", f"env:{name}", value, env_name(name)
                yield f"{name}-toml-{i}", f"toml:{name}", value, f".buildx-go.toml {config_key(name)}"
    for name, value in TOML_WRONG_TYPES.items():
        yield f"{name}-toml-type", f"toml-raw:{name}", value, f".buildx-go.toml {config_key(name)}"


def fifo(path: Path) -> None:
    os.mkfifo(path)


FILE_CASES: list[tuple[str, str, Callable[[Path], None], list[str], str]] = [
    # (id, file, how to spoil it, extra argv, what the error names)
    ("gomod-missing", "go.mod", lambda p: p.unlink(), [], "PATH: no go.mod"),
    ("gomod-fifo", "go.mod", lambda p: (p.unlink(), fifo(p)), [], "go.mod: not a regular file"),
    ("gomod-dir", "go.mod", lambda p: (p.unlink(), p.mkdir()), [], "go.mod"),
    ("gomod-huge", "go.mod", lambda p: p.write_bytes(b"module x\n//" + b"x" * (1 << 20)), [], "larger than 1 MiB"),
    ("gomod-dangling", "go.mod", lambda p: (p.unlink(), p.symlink_to(p.parent / "nowhere")), [], "go.mod"),
    ("gomod-zero", "go.mod", lambda p: (p.unlink(), p.symlink_to("/dev/zero")), [], "go.mod: not a regular file"),
    ("nomain", "main.go", lambda p: p.write_text("package lib\n"), [], "no main package"),
    ("dockerfile-fifo", "Dockerfile", fifo, ["--file", "Dockerfile"], "--file"),
    ("dockerfile-missing", "Dockerfile", lambda p: None, ["--file", "nope/Dockerfile"], "--file"),
    ("dockerfile-fifo-found", "Dockerfile", fifo, [], "Dockerfile: not a regular file"),
    ("dockerfile-loop", "Dockerfile", lambda p: p.symlink_to("Dockerfile"), [], "Dockerfile: not a regular file"),
    ("dockerfile-dangling", "Dockerfile", lambda p: p.symlink_to("gone"), [], "Dockerfile: not a regular file"),
    ("dockerignore-fifo", ".dockerignore", fifo, [], ".dockerignore: not a regular file"),
    ("dockerignore-bracket", ".dockerignore", lambda p: p.write_text("*.md\n[\n"), [], ".dockerignore:2: '['"),
    ("dockerignore-escape", ".dockerignore", lambda p: p.write_text("foo\\\n"), [], "syntax error in pattern"),
    ("dockerignore-range", ".dockerignore", lambda p: p.write_text("!x/[a-\n"), [], "'x/[a-'"),
    ("dockerfile-garbage", "Dockerfile", lambda p: p.write_bytes(b"\x00\x01\x02garbage\n"), [], "Dockerfile:1"),
    ("dockerfile-run-first", "Dockerfile", lambda p: p.write_text("RUN x\nFROM a\n"), [], "Dockerfile:1: RUN"),
    ("dockerfile-no-from", "Dockerfile", lambda p: p.write_text("ARG X=1\n"), [], "no FROM"),
    ("dockerfile-empty-from", "Dockerfile", lambda p: p.write_text("FROM\n"), [], "FROM without an image"),
    ("dockerfile-huge", "Dockerfile", lambda p: p.write_bytes(b"FROM a\n#" + b"x" * (1 << 20)), [], "1 MiB"),
    ("env-file", "app.env", lambda p: p.write_text("TOKEN=s3cr3t\n"), ["--file", "app.env"], "not a Dockerfile"),
    ("toml-syntax", ".buildx-go.toml", lambda p: p.write_text("image = \n"), [], ".buildx-go.toml"),
    ("toml-unknown", ".buildx-go.toml", lambda p: p.write_text("colour = 1\n"), [], "unknown setting 'colour'"),
    ("toml-fifo", ".buildx-go.toml", fifo, [], ".buildx-go.toml: not a regular file"),
    ("toml-zero", ".buildx-go.toml", lambda p: p.symlink_to("/dev/zero"), [], ".buildx-go.toml: not a regular"),
    ("toml-build-int", ".buildx-go.toml", lambda p: p.write_text("build = 5\n"), [], "build must be a table"),
    ("toml-build-bool", ".buildx-go.toml", lambda p: p.write_text("build = true\n"), [], "not a boolean"),
    ("toml-build-list", ".buildx-go.toml", lambda p: p.write_text('build = ["x"]\n'), [], "not an array"),
    ("toml-build-date", ".buildx-go.toml", lambda p: p.write_text("build = 2026-01-01\n"), [], "build must be"),
    ("toml-build-tables", ".buildx-go.toml", lambda p: p.write_text("[[build]]\nimage = 'r/a'\n"), [], "an array"),
    ("toml-huge", ".buildx-go.toml", lambda p: p.write_text("#" + "x" * (1 << 20)), [], "larger than 1 MiB"),
    ("main-unknown", "main.go", lambda p: None, ["--main", "./cmd/nope"], "--main"),
    ("workdir-inside", "main.go", lambda p: None, [], "BUILDX_GO_WORKDIR"),
    # what a cloned project may hold: no line of it is a hidden instruction
    ("dockerfile-unit-separator", "Dockerfile", lambda p: p.write_text("FROM a\n\x1cRUN id\n"), [], "Dockerfile:2"),
    ("dockerfile-heredoc-open", "Dockerfile", lambda p: p.write_text("FROM a\nRUN <<EOF\nid\n"), [], "heredoc"),
    ("dockerfile-two-escapes", "Dockerfile", lambda p: p.write_text("# escape=`\n# escape=\\\nFROM a\n"), [], "escape"),
    ("dockerfile-bad-escape", "Dockerfile", lambda p: p.write_text("# escape=x\nFROM a\n"), [], "escape"),
    ("main-dir-command", "main.go", lambda p: _move_main(p, "cmd/$(id)"), [], "main package './cmd/$(id)'"),
    ("main-dir-newline", "main.go", lambda p: _move_main(p, "cmd/a\nRUN id"), [], "main package"),
    ("module-path-quote", "go.mod", lambda p: p.write_text('module ex.com/a"b\n\ngo 1.22\n'), [], "go.mod:1"),
    ("prebuilt-missing", "Dockerfile", lambda p: p.write_text("FROM scratch\nCOPY bin/app /app\n"), [], "COPY bin/app"),
    ("gowork-outside", "go.work", lambda p: p.write_text("go 1.22\nuse .\nuse ../lib\n"), [], "go.work:3: use ../lib"),
    ("gowork-syntax", "go.work", lambda p: p.write_text("go 1.22\nuse .\nmodule x\n"), [], "go.work:3"),
    ("gowork-not-used", "go.work", lambda p: p.write_text("go 1.22\n"), [], "does not use the module"),
    ("gowork-older-go", "go.work", lambda p: p.write_text("go 1.21\nuse .\n"), [], "needs go >= 1.22"),
]


NODES = [
    ("tcp://", "tcp://"),
    ("tcp://h:99999", "port 99999"),
    ("ssh://", "ssh://"),
    ("default=linux/bogusarch", "bogusarch"),
    ("tcp://h:1234;cacert", "not KEY=VALUE"),
    ("=linux/amd64", "names no endpoint"),
    ("http://h:1234", "not a tcp:// or ssh://"),
]


@pytest.mark.parametrize(("node", "names"), NODES, ids=[f"node-{i}" for i in range(len(NODES))])
def test_bad_nodes_are_refused_before_docker(node: str, names: str, tmp_path: Path, within_5_s: None) -> None:
    run = Run(tmp_path)
    code, err = run(["build", str(run.root), *valid_argv(), "--create-builder", "--node", node])
    run.assert_refused(code, err, names)
    assert "ERROR --node" in err


def test_nodes_without_a_builder_to_create_are_refused(tmp_path: Path) -> None:
    run = Run(tmp_path)
    code, err = run(["build", str(run.root), *valid_argv(), "--node", "default"])
    run.assert_refused(code, err, "--node: nodes are for a builder buildx-go creates")


def test_secrets_given_twice_and_ssh_without_an_agent(tmp_path: Path) -> None:
    run = Run(tmp_path)
    (tmp_path / "s").write_text("x")
    twice = ["--secret", f"id=x,src={tmp_path / 's'}", "--secret", f"id=x,src={tmp_path / 's'}"]
    code, err = run(["build", str(run.root), *valid_argv(), *twice])
    run.assert_refused(code, err, "--secret: id=x is given twice")
    run = Run(tmp_path / "2")
    code, err = run(["build", str(run.root), *valid_argv(), "--ssh", "default"])
    run.assert_refused(code, err, "SSH_AUTH_SOCK is not set")


@pytest.mark.parametrize("epoch", ["yesterday", "-5", "1e9", "١٢٣"])
def test_a_source_date_epoch_that_is_no_number_is_refused(epoch: str, tmp_path: Path) -> None:
    run = Run(tmp_path)
    code, err = run(["build", str(run.root), *valid_argv()], {"SOURCE_DATE_EPOCH": epoch})
    run.assert_refused(code, err, "SOURCE_DATE_EPOCH")


def _move_main(main_go: Path, folder: str) -> None:
    (main_go.parent / folder).mkdir(parents=True)
    main_go.rename(main_go.parent / folder / "main.go")


VERSIONS = ["latest;rm -rf /", "a b", "版本", "-1", ".1", "1/2", "x" * 200, "1.0\n$(id)", "", "v"]


@pytest.fixture
def within_5_s() -> Iterator[None]:
    def hung(*_: object) -> None:
        raise AssertionError("no answer within 5 s")

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(5)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


class Run:
    """One case: a copy of examples/hello, every effect recorded, a `docker` on PATH that
    records any call made past the executor."""

    def __init__(self, tmp: Path, version_output: str = "1.0.0\n") -> None:
        self.root = tmp / "proj"
        shutil.copytree(HELLO, self.root)
        self.bin = tmp / "bin"
        self.bin.mkdir()
        self.calls = tmp / "docker-calls"
        (self.bin / "docker").write_text(f'#!/bin/sh\necho "$@" >> {self.calls}\nexit 1\n')
        (self.bin / "docker").chmod(0o755)
        self.docker = FakeDocker("containerd")
        self.version_output = version_output
        # no host Go from this machine's PATH: a unit test runs no `go env` (a developer's Go
        # would otherwise decide what --strategy host finds)
        path = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and not os.path.exists(f"{d}/go")]
        self.env = {"HOME": str(tmp), "PATH": os.pathsep.join([str(self.bin), *path]), "TMPDIR": str(tmp)}

    def __call__(self, argv: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
        effects = Effects(
            docker=lambda e: self.docker,
            git=lambda a, c, t: (128, "", "not a repo"),
            program=lambda a, c, t: (0, self.version_output, ""),
        )
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(["--log-format", "json", *argv], env={**self.env, **(env or {})}, effects=effects)
        return code, err.getvalue()

    def assert_refused(self, code: int, err: str, names: str) -> None:
        errors = [line for line in err.splitlines() if line.startswith("ERROR ")]
        assert code == 2, err[-2000:]
        assert len(errors) == 1 and names in errors[0], errors
        assert "Traceback" not in err
        assert self.docker.probes == [] and self.docker.runs == [], self.docker.probes
        assert not self.calls.exists(), self.calls.read_text()


@pytest.mark.parametrize(
    ("source", "value", "names"), [c[1:] for c in option_cases()], ids=[c[0] for c in option_cases()]
)
def test_bad_option_values(source: str, value: Any, names: str, tmp_path: Path, within_5_s: None) -> None:
    run = Run(tmp_path)
    kind, name = source.split(":")
    argv, env = ["build", str(run.root), *valid_argv(without=name)], {}
    if kind == "cli":
        argv.append(f"{flag(name)}={value}")  # as typed: --image=-rf
    elif kind == "env":
        env[env_name(name)] = value
    else:
        text = toml_value(value) if kind == "toml-raw" or not isinstance(value, str) else json.dumps(value)
        (run.root / ".buildx-go.toml").write_text(f"{config_key(name)} = {text}\n")
    code, err = run(argv, env)
    run.assert_refused(code, err, names)


@pytest.mark.parametrize(
    ("file", "spoil", "extra", "names"), [c[1:] for c in FILE_CASES], ids=[c[0] for c in FILE_CASES]
)
def test_bad_files(
    file: str, spoil: Callable[[Path], None], extra: list[str], names: str, tmp_path: Path, within_5_s: None
) -> None:
    run = Run(tmp_path)
    spoil(run.root / file)
    env = {"BUILDX_GO_WORKDIR": str(run.root / "work")} if names == "BUILDX_GO_WORKDIR" else {}
    code, err = run(["build", str(run.root), *valid_argv(), *extra], env)
    run.assert_refused(code, err, names)


@pytest.mark.parametrize("version", VERSIONS, ids=[f"version-{i}" for i in range(len(VERSIONS))])
def test_bad_versions_from_the_version_command(version: str, tmp_path: Path, within_5_s: None) -> None:
    run = Run(tmp_path, version_output=version + "\n")
    argv = ["build", str(run.root), "--image", "localhost:5000/app", "--push", "--version-from", "./version.sh"]
    code, err = run(argv)
    run.assert_refused(code, err, "--version-from" if not version.strip() else "--tag")


def test_the_corpus_is_large_enough() -> None:
    assert len(list(option_cases())) + len(FILE_CASES) + len(VERSIONS) >= 400


def test_empty_environment_values_are_unset() -> None:
    """BUILDX_GO_CACHE= and the like mean "not set", as DOCKER_HOST= and GOFLAGS= do."""
    from buildx_go.config import resolve

    empty = {env_name(name): "" for name, _ in specs(Settings)}
    assert resolve({}, empty, {}, checked=False) == resolve({}, {}, {}, checked=False)
    blank = {env_name(name): " \t" for name, _ in specs(Settings)}
    assert resolve({}, blank, {}, checked=False) == resolve({}, {}, {}, checked=False)
    assert resolve({}, {env_name("verify"): " "}, {}, checked=False).verify
    given = resolve({}, {**empty, env_name("cache"): "registry"}, {}, checked=False)
    assert given.cache == "registry"
    assert given.sources["cache"] == env_name("cache") and given.sources["image"] == "default"


@pytest.mark.parametrize(
    ("env", "toml", "names"),
    [
        ({"BUILDX_GO_MAIN": "./nosuch"}, "", "BUILDX_GO_MAIN: './nosuch' is not a main package"),
        ({}, 'main = "./nosuch"\n', ".buildx-go.toml main: './nosuch'"),
        ({"BUILDX_GO_FILE": "nosuch/Dockerfile"}, "", "BUILDX_GO_FILE: nosuch/Dockerfile not found"),
        ({}, 'file = "nosuch/Dockerfile"\n', ".buildx-go.toml file: nosuch/Dockerfile not found"),
    ],
)
def test_a_value_from_the_environment_or_the_file_is_named_there(
    env: dict[str, str], toml: str, names: str, tmp_path: Path
) -> None:
    run = Run(tmp_path)
    if toml:
        (run.root / ".buildx-go.toml").write_text(toml)
    code, err = run(["build", str(run.root), *valid_argv()], env)
    run.assert_refused(code, err, names)


@pytest.mark.parametrize(
    "text", DOCKERFILES_BUILDKIT_REFUSES, ids=[f"dockerfile-{i}" for i in range(len(DOCKERFILES_BUILDKIT_REFUSES))]
)
def test_a_dockerfile_buildkit_refuses_is_refused_before_docker(text: str, tmp_path: Path, within_5_s: None) -> None:
    run = Run(tmp_path)
    (run.root / "Dockerfile").write_text(text)
    code, err = run(["build", str(run.root), *valid_argv()])
    run.assert_refused(code, err, "Dockerfile:")


@pytest.mark.parametrize("escape", ["dockerignore", "host", "own-dockerfile"])
def test_a_go_work_the_build_does_not_read_is_not_refused(escape: str, tmp_path: Path) -> None:
    """go.work is checked where go reads it in the build: the generated Go stage (COPY . .);
    not when .dockerignore leaves it out, the host compiles (it sees the folders beside the
    project), or the user's own Dockerfile is built (it may not copy go.work)."""
    run = Run(tmp_path)
    (run.root / "go.work").write_text("go 1.22\nuse .\nuse ../lib\n")
    extra = ["--strategy", "host"] if escape == "host" else []
    if escape == "dockerignore":
        (run.root / ".dockerignore").write_text("go.work\n")
    if escape == "own-dockerfile":
        (run.root / "Dockerfile").write_text("FROM localhost:5000/golang:1.27\nCOPY main.go go.mod ./\n")
    code, err = run(["plan", str(run.root), *valid_argv(), *extra])
    assert "go.work" not in err, err[-2000:]
    refused = Run(tmp_path / "refused")
    (refused.root / "go.work").write_text("go 1.22\nuse .\nuse ../lib\n")
    code, err = refused(["plan", str(refused.root), *valid_argv()])
    refused.assert_refused(code, err, "go.work:3: use ../lib: outside the build context")
