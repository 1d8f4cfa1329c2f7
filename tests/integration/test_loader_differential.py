"""musl's dynamic loader decides where a library is found; verify's reading of it is checked
against the engine running each image. A C program linked with musl (Debian's musl-gcc)
needs libgreet.so and libc.so; each image holds only musl's loader (it answers for libc.so
itself), the program, and libgreet.so where the case puts it, with or without the loader's
path file (/etc/ld-musl-x86_64.path), which replaces its default folders. And the loader
itself without an execute bit: the kernel refuses to start the program (root too)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.conftest import REGISTRY, engine_and_verify

pytestmark = pytest.mark.integration

DOCKERFILE = f"""\
FROM {REGISTRY}/debian:bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends musl-tools
WORKDIR /src
RUN printf 'const char *greet(void) {{ return "hi from libgreet"; }}\\n' > greet.c \\
 && printf '#include <stdio.h>\\nconst char *greet(void);\\n' > main.c \\
 && printf 'int main(void) {{ puts(greet()); return 0; }}\\n' >> main.c \\
 && musl-gcc -shared -fPIC -o libgreet.so greet.c \\
 && musl-gcc -o app main.c -L. -lgreet \\
 && cp -L /lib/ld-musl-x86_64.so.1 ld-musl-x86_64.so.1 \\
 && printf '/lib\\n/opt/db/lib:/usr/lib\\n' > listed.path \\
 && printf '/lib:/usr/lib\\n' > narrow.path

FROM {REGISTRY}/static:latest AS base
COPY --from=build /src/ld-musl-x86_64.so.1 /lib/ld-musl-x86_64.so.1
COPY --from=build /src/app /usr/local/bin/app
ENTRYPOINT ["/usr/local/bin/app"]

FROM base AS listed
COPY --from=build /src/libgreet.so /opt/db/lib/libgreet.so
COPY --from=build /src/listed.path /etc/ld-musl-x86_64.path

FROM base AS unlisted
COPY --from=build /src/libgreet.so /opt/db/lib/libgreet.so

FROM base AS narrowed
COPY --from=build /src/libgreet.so /usr/local/lib/libgreet.so
COPY --from=build /src/narrow.path /etc/ld-musl-x86_64.path

FROM base AS default
COPY --from=build /src/libgreet.so /usr/local/lib/libgreet.so

FROM default AS unexecutable
COPY --chmod=0644 --from=build /src/ld-musl-x86_64.so.1 /lib/ld-musl-x86_64.so.1
"""

# target -> whether musl's loader finds libgreet.so there (what the engine is expected to say)
CASES = {"listed": True, "unlisted": False, "narrowed": False, "default": True}


def test_verify_finds_libraries_where_musls_loader_does(repo: str, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    verdicts = {}
    for target in CASES:
        ran, ours, report = engine_and_verify(tmp_path, target, f"{repo}:{target}")
        engine = ran.returncode == 0
        if engine:
            assert ran.stdout.strip() == "hi from libgreet"
        else:
            assert "Error loading shared library libgreet.so" in ran.stderr + ran.stdout, ran.stderr
        if not ours:
            assert any("libgreet.so" in p for p in report["problems"]), report["problems"]
        assert not any("libc.so" in p for p in report["problems"]), report["problems"]  # the loader's own
        verdicts[target] = (engine, ours)
    assert verdicts == {t: (found, found) for t, found in CASES.items()}


def test_a_loader_without_an_execute_bit_fails_as_the_engine_fails_it(repo: str, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    ran, ours, report = engine_and_verify(tmp_path, "unexecutable", f"{repo}:unexecutable")
    assert ran.returncode != 0 and "permission denied" in (ran.stderr + ran.stdout).lower(), ran
    assert not ours and report["problems"] == [
        "linux/amd64: the binary's interpreter /lib/ld-musl-x86_64.so.1 is not executable (mode 0644): "
        "the kernel refuses it"
    ]
