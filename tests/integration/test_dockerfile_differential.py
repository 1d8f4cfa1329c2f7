"""Which Dockerfiles buildx-go refuses before building (dockerfile/check.py), against the
engine's BuildKit: each shape is built as written by `docker buildx build` on a small context,
and buildx-go must refuse exactly the ones BuildKit refuses. A false refusal would stop a build
that works; a missed one would reach the engine and be reported late."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from buildx_go.dockerfile.check import check_dockerfile
from buildx_go.dockerfile.parse import Dockerfile
from buildx_go.errors import InputError

pytestmark = pytest.mark.integration

G = "localhost:5000/golang:1.27"  # busybox and Go: a shell for RUN
VALID = [
    f"FROM {G}\nRUN --mount=type=cache,target=/c,id=x,sharing=locked true\n",
    f"FROM {G}\nRUN --mount=target=/m true\n",
    f"FROM {G}\nRUN --mount=type=tmpfs,target=/t --network=none true\n",
    f'FROM {G}\nRUN --mount="type=cache,target=/c" true\n',
    f"FROM {G} AS Build\nRUN true\nFROM {G}\nCOPY --from=build /bin/sh /x\n",
    f"FROM {G} AS b.1_x-y\nRUN true\nFROM {G}\nCOPY --from=0 /bin/sh /x\n",
    f"FROM {G}\nCOPY --chmod=755 a.txt /a\n",
    f"FROM {G}\nCOPY --link --chown=1000:1000 a.txt /a\n",
    f"FROM {G}\nCOPY --link=false a.txt /a\n",
    f'FROM {G}\nCOPY ["a.txt", "/with space/"]\n',
    f"FROM {G}\nCOPY <<EOF /f\nhello\nEOF\n",
    f"FROM {G}\nEXPOSE 80/udp 443 8000-8010/tcp\n",
    f"FROM {G}\nARG PORT=80\nEXPOSE ${{PORT}}\n",
    f"FROM {G}\nHEALTHCHECK --interval=1m30s --timeout=3s --retries=3 CMD true\n",
    f"FROM {G}\nHEALTHCHECK NONE\n",
    f'FROM {G}\nENV A=1 B="two words"\n',
    f"FROM {G}\nENV NAME value with spaces\n",
    f"FROM {G}\nARG A B C\nARG D=1\n",
    f'FROM {G}\nLABEL "key with space"="v" other=x\n',
    f"FROM {G}\nWORKDIR /path with space\n",
    f"FROM {G}\nWORKDIR a b\n",
    f"FROM {G}\nUSER 1000:1000\n",
    f"FROM {G}\nSTOPSIGNAL SIGTERM\n",
    f"FROM {G}\nONBUILD RUN x\nONBUILD COPY . /app\n",
    f'FROM {G}\nSHELL ["/bin/sh", "-c"]\nRUN true\n',
    f"FROM --platform=linux/amd64 {G}\nRUN true\n",
    f"FROM --platform=$BUILDPLATFORM {G}\nRUN true\n",
    f"ARG BASE={G}\nFROM ${{BASE}}\nRUN true\n",
    f"from {G}\ncopy a.txt /a\n",
    "FROM scratch\nCOPY a.txt /a\n",
    f"FROM {G}\nVOLUME /data /other\n",
    f"FROM {G}\nCMD\n",
    f"FROM {G} AS build\nRUN true\nFROM {G} AS build\nRUN true\n",  # a duplicate name: a lint, not an error
    f"FROM {G}\nADD --chmod=999x a.txt /a\nCOPY --chmod=999x a.txt /b\n",  # the engine's frontend lets these by
    f'FROM {G}\nEXPOSE 80:80 0.0.0.0:8080:80/tcp "81" 82/\n',
    "FROM --platform=linux/armv7 scratch\nCOPY a.txt /a\n",
    "FROM --platform=aarch64 scratch\nCOPY a.txt /a\n",
    f'FROM {G}\nENV OPTS="-Dfoo=1 =bar"\nARG FLAGS="--x =y"\n',
    f"FROM {G}\nCOPY --chmod=00755 a.txt /a\n",
    f"FROM {G}\nRUN --mount=type=Cache,target=/c true\n",
    f"FROM {G}\nHEALTHCHECK --interval=.5s --retries=+3 CMD true\n",
    f"FROM {G}\nHEALTHCHECK --interval=bogus NONE\n",
    f"FROM {G}\nONBUILD WORKDIR\n",
]
INVALID = [
    f"FROM {G}\nRUN --mount=type=bogus,target=/x true\n",
    f"FROM {G}\nCOPY --chown a.txt /a\n",
    f"FROM {G}\nCOPY --bogus=1 a.txt /a\n",
    f'FROM {G}\nSHELL ["/bin/sh","-c"\n',
    f"FROM {G}\nSHELL /bin/sh -c\n",
    f"FROM {G}\nONBUILD ONBUILD RUN true\n",
    f"FROM {G}\nONBUILD FROM {G}\n",
    "FROM localhost:5000/Golang:1.27\nRUN true\n",
    "FROM localhost:5000/golang::1.27\nRUN true\n",
    f"FROM {G}\nARG =x\n",
    f"FROM {G}\nCOPY --from=Bad!Ref /x /y\n",
    f"FROM {G}\nHEALTHCHECK --interval=abc CMD true\n",
    f"FROM {G}\nHEALTHCHECK FOO\n",
    f"FROM {G}\nENV =x\n",
    f"FROM {G}\nENV\n",
    f"FROM {G} AS 1bad!\nRUN true\n",
    f"FROM {G}\nEXPOSE abc\n",
    f"FROM {G}\nCOPY onlyone\n",
    f"FROM {G}\nRUN --network=bogus true\n",
    f"FROM --platform=bogus/x/y/z {G}\nRUN true\n",
    f"FROM {G}\nUSER\n",
    f"FROM {G}\nSTOPSIGNAL\n",
    f"FROM {G}\nRUN --security=sandbox true\n",  # a labs flag: # syntax=docker/dockerfile:1-labs
    f"FROM {G}\nWORKDIR --bogus /x\n",
    f"FROM {G}\nRUN --security=bogus true\n",
    f"FROM --platform=foo {G}\nRUN true\n",
]


def buildkit_refuses(text: str, tmp: Path) -> tuple[bool, str]:
    (tmp / "a.txt").write_text("a\n")
    (tmp / "Dockerfile").write_text(text)
    argv = ["docker", "buildx", "build", "--network", "host", "--progress", "plain", str(tmp)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    return proc.returncode != 0, proc.stderr[-600:]


def ours_refuses(text: str) -> bool:
    try:
        check_dockerfile(Dockerfile.parse(text), "Dockerfile")
    except InputError:
        return True
    return False


@pytest.mark.parametrize("text", VALID + INVALID, ids=[t.split("\n")[-2][:50] for t in VALID + INVALID])
def test_we_refuse_the_dockerfiles_buildkit_refuses(text: str, tmp_path: Path) -> None:
    theirs, said = buildkit_refuses(text, tmp_path)
    assert ours_refuses(text) == theirs, said
    assert theirs == (text in INVALID), said  # the shape is where the list says
