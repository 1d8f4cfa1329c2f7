"""Whether the engine can start an image's program is the engine's to say: verify's verdict
is checked against it on shapes real teams' Dockerfiles make with glibc programs (gcc on
Debian): a library named as RHEL names them, LD_LIBRARY_PATH relative to the working
directory or through $ORIGIN, /etc/passwd as a symlink or with an execute bit, SHELL with
`-o pipefail`, an object file left as the entrypoint, a library whose own library is
missing, a script or a library its USER cannot read, and the loader without an execute
bit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import REGISTRY, engine_and_verify

pytestmark = pytest.mark.integration

DOCKERFILE = f"""\
FROM {REGISTRY}/debian:bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev
WORKDIR /src
RUN printf 'const char *greet(void) {{ return "hi from libgreet"; }}\\n' > greet.c \\
 && printf '#include <stdio.h>\\nconst char *greet(void);\\n' > main.c \\
 && printf 'int main(void) {{ puts(greet()); return 0; }}\\n' >> main.c \\
 && gcc -shared -fPIC -o libgreet.so greet.c \\
 && gcc -o app main.c -L. -lgreet \\
 && gcc -o app-runpath main.c -L. -lgreet -Wl,--enable-new-dtags,-rpath,'$ORIGIN/../lib' \\
 && gcc -c -o app.o main.c && chmod 755 app.o \\
 && printf 'const char *inner(void) {{ return "hi from libgreet"; }}\\n' > inner.c \\
 && printf 'const char *inner(void);\\nconst char *greet(void) {{ return inner(); }}\\n' > outer.c \\
 && mkdir -p deep && gcc -shared -fPIC -o deep/libinner.so inner.c \\
 && gcc -shared -fPIC -o deep/libgreet.so outer.c -Ldeep -linner -Wl,--enable-new-dtags,-rpath,'$ORIGIN' \\
 && cp /etc/passwd passwd && echo 'app:x:1000:1000::/:/bin/sh' >> passwd \\
 && printf '#!/bin/sh\\nexec /app/bin/app "$@"\\n' > run.sh

FROM {REGISTRY}/debian:bookworm AS base
COPY --from=build /src/libgreet.so /app/lib/libgreet.so

FROM base AS ldrel
COPY --from=build /src/app /app/bin/app
WORKDIR /app
ENV LD_LIBRARY_PATH=lib
ENTRYPOINT ["/app/bin/app"]

FROM ldrel AS ldrel-elsewhere
WORKDIR /

FROM base AS ldorigin
COPY --from=build /src/app /app/bin/app
ENV LD_LIBRARY_PATH=\\$ORIGIN/../lib
ENTRYPOINT ["/app/bin/app"]

FROM {REGISTRY}/debian:bookworm AS oddname
COPY --from=build --chmod=644 /src/libgreet.so /app/lib/libgreet.so.1.0.2k
RUN ln -s libgreet.so.1.0.2k /app/lib/libgreet.so
COPY --from=build /src/app-runpath /app/bin/app
ENTRYPOINT ["/app/bin/app"]

FROM base AS object
COPY --from=build /src/app.o /app/bin/app
ENTRYPOINT ["/app/bin/app"]

FROM base AS pwlink
COPY --from=build /src/app-runpath /app/bin/app
COPY --from=build /src/passwd /etc/passwd.real
RUN ln -sf passwd.real /etc/passwd
USER app
ENTRYPOINT ["/app/bin/app"]

FROM base AS pw755
COPY --from=build /src/app-runpath /app/bin/app
COPY --from=build --chmod=755 /src/passwd /etc/passwd
USER app
ENTRYPOINT ["/app/bin/app"]

FROM base AS pipefail
COPY --from=build /src/app-runpath /app/bin/app
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
CMD /app/bin/app --greet

FROM pipefail AS pipefail-missing
CMD /app/bin/missing --greet

FROM base AS script
COPY --from=build /src/app-runpath /app/bin/app
COPY --from=build --chmod=755 /src/run.sh /app/run.sh
USER nobody
ENTRYPOINT ["/app/run.sh"]

FROM script AS script-private
COPY --from=build --chmod=700 /src/run.sh /app/run.sh

FROM base AS lib-private
COPY --from=build /src/app-runpath /app/bin/app
COPY --from=build --chmod=600 /src/libgreet.so /app/lib/libgreet.so
USER nobody
ENTRYPOINT ["/app/bin/app"]

FROM lib-private AS lib-private-root
USER root

FROM base AS loader-noexec
COPY --from=build /src/app-runpath /app/bin/app
RUN chmod 644 /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
ENTRYPOINT ["/app/bin/app"]

FROM {REGISTRY}/debian:bookworm AS transitive
COPY --from=build /src/app-runpath /app/bin/app
COPY --from=build /src/deep/ /app/lib/
ENTRYPOINT ["/app/bin/app"]

FROM {REGISTRY}/debian:bookworm AS transitive-missing
COPY --from=build /src/app-runpath /app/bin/app
COPY --from=build /src/deep/libgreet.so /app/lib/libgreet.so
ENTRYPOINT ["/app/bin/app"]
"""

# target -> whether the engine starts the program (what the engine is expected to say)
CASES = {
    "ldrel": True,
    "ldrel-elsewhere": False,
    "ldorigin": True,
    "oddname": True,
    "object": False,
    "pwlink": True,
    "pw755": True,
    "pipefail": True,
    "pipefail-missing": False,
    "script": True,
    "script-private": False,
    "lib-private": False,
    "lib-private-root": True,
    "loader-noexec": False,
    "transitive": True,
    "transitive-missing": False,
}


def test_verify_says_what_the_engine_says_on_glibc_shapes(repo: str, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    verdicts: dict[str, tuple[bool, bool]] = {}
    problems: dict[str, Any] = {}
    for target in CASES:
        ran, ours, report = engine_and_verify(tmp_path, target, f"{repo}:{target}")
        engine = ran.returncode == 0
        if engine:
            assert ran.stdout.strip() == "hi from libgreet", ran.stdout
        verdicts[target] = (engine, ours)
        problems[target] = report["problems"]
    assert verdicts == {t: (runs, runs) for t, runs in CASES.items()}, problems
    assert any("relocatable object file" in p for p in problems["object"]), problems["object"]
    assert any("/app/bin/missing" in p for p in problems["pipefail-missing"]), problems["pipefail-missing"]
    assert any("libgreet.so" in p for p in problems["ldrel-elsewhere"]), problems["ldrel-elsewhere"]
    assert any("not readable by USER nobody" in p for p in problems["script-private"]), problems["script-private"]
    assert problems["lib-private"] == [
        "linux/amd64: the binary needs libgreet.so; the dynamic loader finds only /app/lib/libgreet.so "
        "(not readable by USER nobody: mode 0600, owner 0)"
    ]
    assert problems["loader-noexec"] == [
        "linux/amd64: the binary's interpreter /lib64/ld-linux-x86-64.so.2 is not executable (mode 0644): "
        "the kernel refuses it"
    ]
    assert any("/app/lib/libgreet.so needs libinner.so" in p for p in problems["transitive-missing"]), problems
