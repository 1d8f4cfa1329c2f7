"""cgo: which mains need it (their import graph), and what the generated Dockerfile does."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from buildx_go.errors import InputError
from buildx_go.project.cgograph import imports
from buildx_go.project.gomod import GoProject
from tests.unit.planning import decide_for, plan_for, preflight
from tests.unit.test_gomod import write

FIXTURES = Path(__file__).parents[1] / "fixtures" / "cgo"


def test_imports_are_read_from_lines_and_blocks() -> None:
    src = '// x\npackage main\n\n// #include <z.h>\nimport "C"\n'
    src += 'import (\n\t"fmt"\n\tz "example.com/z" // c\n\t_ "embed"\n)\n'
    assert imports(src) == ("C", "fmt", "example.com/z", "embed")
    assert imports('package x\n/* import "nope" */\nimport . "dot/x"\n') == ("dot/x",)


def test_a_main_needs_cgo_through_its_imports_per_target(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "go.mod": "module example.com/svc\ngo 1.22\n",
            "cmd/db/main.go": 'package main\nimport "example.com/svc/internal/db"\nfunc main() { db.Open() }\n',
            "cmd/pure/main.go": 'package main\nimport "fmt"\nfunc main() { fmt.Println() }\n',
            "cmd/ext/main.go": 'package main\nimport "github.com/mattn/go-sqlite3"\nfunc main() {}\n',
            "cmd/vend/main.go": 'package main\nimport "github.com/vendored/c"\nfunc main() {}\n',
            "cmd/win/main.go": 'package main\nimport "example.com/svc/internal/win"\nfunc main() {}\n',
            "internal/db/db.go": 'package db\n// #cgo LDFLAGS: -lsqlite3\nimport "C"\nfunc Open() {}\n',
            "internal/win/win_windows.go": 'package win\nimport "C"\n',
            "internal/win/win.go": "package win\n",
            "vendor/modules.txt": "# github.com/vendored/c v1.0.0\n",
            "vendor/github.com/vendored/c/c.go": 'package c\nimport "C"\n',
        },
    )
    p = GoProject.detect(root)
    answers = dict(p.cgo_needs)
    assert (answers["./cmd/db"].verdict, answers["./cmd/db"].why) == ("yes", "internal/db/db.go")
    assert answers["./cmd/pure"].verdict == "no"
    assert answers["./cmd/ext"].verdict == "unknown" and "github.com/mattn/go-sqlite3" in answers["./cmd/ext"].why
    assert (answers["./cmd/vend"].verdict, answers["./cmd/vend"].why) == ("yes", "vendor/github.com/vendored/c/c.go")
    assert answers["./cmd/win"].verdict == "no"  # its cgo is windows-only


def test_the_generated_dockerfile_cross_compiles_c_when_cgo_is_needed() -> None:
    given = {"image": "r/x", "tag": ["1"], "strategy": "buildx", "cgo_package": ["zlib1g-dev"]}
    plan = plan_for(given, root=FIXTURES / "zlib")
    text = plan.dockerfile.text
    assert "ENV CGO_ENABLED=1 " in text
    assert "arm64) deb=arm64 triplet=aarch64-linux-gnu pkg=gcc-aarch64-linux-gnu ;;" in text
    assert 'for p in zlib1g-dev; do pkgs="$pkgs $p:$deb"; done' in text
    assert "set -a; . /etc/buildx-go-cgo.env; set +a;" in text
    assert "FROM gcr.io/distroless/base-debian12:nonroot" in text  # glibc for a dynamic binary
    assert any(n.startswith('cgo on: internal/z/z.go imports "C"') for n in plan.notes)
    static = plan_for({**given, "cgo_static": True}, root=FIXTURES / "zlib").dockerfile.text
    assert "-linkmode external -extldflags -static" in static and "distroless/static-debian12" in static
    off = plan_for({**given, "cgo": "off"}, root=FIXTURES / "zlib")
    assert "ENV CGO_ENABLED=0 " in off.dockerfile.text
    assert any(n.startswith("cgo-disabled: cgo is used (internal/z/z.go)") for n in off.notes)
    chosen = plan_for({**given, "base_image": "localhost:5000/debian:bookworm"}, root=FIXTURES / "zlib")
    assert "FROM localhost:5000/debian:bookworm" in chosen.dockerfile.text
    pure = plan_for({"image": "r/x", "tag": ["1"], "strategy": "buildx"}).dockerfile.text
    assert "ENV CGO_ENABLED=0 " in pure and "cross toolchain" not in pure


@pytest.mark.parametrize("vendored", [False, True], ids=["modules", "vendored"])
def test_the_cross_toolchain_is_installed_before_any_project_file_is_copied(vendored: bool) -> None:
    """Else a changed go.mod, or with vendor/ any changed file, runs apt-get again for every
    target (the toolchain depends only on the target and the Go image)."""
    from buildx_go.dockerfile.generate import GenerateOptions, generate_dockerfile
    from buildx_go.project.gomod import MainPackage

    opts = GenerateOptions("golang:1.27-bookworm", "debian:bookworm", (MainPackage(".", "app"),), "example.com/app")
    lines = generate_dockerfile(attrs.evolve(opts, vendored=vendored, cgo=True)).splitlines()
    toolchain = next(i for i, ln in enumerate(lines) if "apt-get install" in ln)
    copies = [i for i, ln in enumerate(lines) if ln.startswith("COPY ")]
    assert copies and toolchain < min(copies)
    assert lines.index("ARG TARGETOS TARGETARCH TARGETVARIANT") < toolchain


def test_the_host_strategy_uses_host_c_compilers_or_refuses() -> None:
    from packaging.version import Version

    from buildx_go.errors import EngineError
    from buildx_go.planning.hostgo import HostGo

    given = {"image": "r/x", "tag": ["1"], "strategy": "host"}
    host = HostGo("/usr/local/go/bin/go", Version("1.27.3"), "/usr/local/go")
    with pytest.raises(EngineError, match="--strategy host: cgo is on, and the host lacks the C compilers gcc, "):
        decide_for(given, root=FIXTURES / "arch", builder=preflight(), host=host)
    ccs = (("amd64", "/usr/bin/gcc"), ("arm64", "/usr/bin/aarch64-linux-gnu-gcc"))
    plan = plan_for(given, root=FIXTURES / "arch", builder=preflight(), host=host, host_cc=ccs)
    envs = {c.platform.arch: dict(c.env) for c in plan.commands if c.phase == "compile" and c.platform}
    assert envs["arm64"]["CC"] == "/usr/bin/aarch64-linux-gnu-gcc" and envs["arm64"]["CGO_ENABLED"] == "1"
    assert envs["arm64"]["PKG_CONFIG_PATH"] == "/usr/lib/aarch64-linux-gnu/pkgconfig"
    assert envs["amd64"]["CC"] == "/usr/bin/gcc"
    assert "FROM gcr.io/distroless/base-debian12:nonroot" in plan.dockerfile.text  # glibc for the dynamic binary


@pytest.mark.parametrize("bad", ["Zlib1g-dev", "zlib;rm", "-x"])
def test_cgo_packages_are_debian_names(bad: str) -> None:
    from buildx_go.config import resolve

    with pytest.raises(InputError, match="--cgo-package"):
        resolve({"cgo_package": [bad]}, {}, {})


def test_the_module_cache_is_read_for_required_modules(tmp_path: Path) -> None:
    root = write(
        tmp_path / "app",
        {
            "go.mod": "module example.com/app\ngo 1.22\nrequire (\n\tgithub.com/Mattn/go-sqlite3 v1.14.22\n"
            "\tgithub.com/pure/lib v0.1.0\n)\n",
            "main.go": 'package main\nimport _ "github.com/Mattn/go-sqlite3"\nfunc main() {}\n',
            "cmd/pure/main.go": 'package main\nimport "github.com/pure/lib/sub"\nfunc main() { sub.X() }\n',
        },
    )
    cache = write(
        tmp_path / "modcache",
        {
            "github.com/!mattn/go-sqlite3@v1.14.22/sqlite3.go": 'package sqlite3\n// #cgo LDFLAGS: -lz\nimport "C"\n',
            "github.com/!mattn/go-sqlite3@v1.14.22/sqlite3_test.go": 'package sqlite3\nimport "C"\n',
            "github.com/pure/lib@v0.1.0/sub/sub.go": 'package sub\nimport "strings"\nfunc X() { strings.Title("") }\n',
        },
    )
    answers = dict(GoProject.detect(root, modcache=cache).cgo_needs)
    assert answers["."].verdict == "yes" and answers["."].why == "github.com/!mattn/go-sqlite3@v1.14.22/sqlite3.go"
    assert answers["./cmd/pure"].verdict == "no"
    without = dict(GoProject.detect(root).cgo_needs)
    assert without["."].verdict == "unknown" and "github.com/Mattn/go-sqlite3" in without["."].why
    assert "module cache" in without["."].why


def test_a_go_image_without_apt_get_is_refused_before_building_when_cgo_needs_a_toolchain() -> None:
    from buildx_go.config import resolve
    from buildx_go.planning.decide import ProjectFacts, toolchain_images
    from tests.unit.planning import AMD64

    given = {"image": "r/x", "tag": ["1"], "strategy": "buildx", "go_image": "localhost:5000/golang:1.27"}
    project = ProjectFacts(GoProject.detect(FIXTURES / "zlib"), None, None, {}, None, AMD64)
    assert toolchain_images(resolve(given, {}, {}), project) == (("localhost:5000/golang:1.27", "--go-image"),)
    assert toolchain_images(resolve({**given, "cgo": "off"}, {}, {}), project) == ()
    busybox = (("localhost:5000/golang:1.27", False, "read from its layers"),)
    with pytest.raises(InputError) as err:
        decide_for(given, root=FIXTURES / "zlib", apt=busybox)
    assert err.value.message == (
        "--go-image: cgo needs a C cross toolchain for each target, which buildx-go installs with apt-get, and "
        "localhost:5000/golang:1.27 has none (read from its layers)"
    )
    assert "--cgo off" in str(err.value.hint) and "golang:1.27-bookworm" in str(err.value.hint)
    unknown = (("localhost:5000/golang:1.27", None, "not read: offline"),)
    assert decide_for(given, root=FIXTURES / "zlib", apt=unknown).dockerfile.cgo  # not told: not refused
    # an adapted Dockerfile's stage that gets the toolchain is checked the same way
    text = (
        "FROM mycorp/golang-builder:1 AS b\nWORKDIR /s\nCOPY . .\nRUN make\nFROM scratch\nCOPY --from=b /s/app /app\n"
    )
    user = resolve({"image": "r/x", "tag": ["1"]}, {}, {})
    from buildx_go.planning.decide import UserDockerfile

    adapted = ProjectFacts(
        GoProject.detect(FIXTURES / "zlib"),
        UserDockerfile(FIXTURES / "zlib" / "Dockerfile", text),
        None,
        {},
        None,
        AMD64,
        build_files=(("make:Makefile", "CGO_ENABLED=1\n"),),
    )
    assert toolchain_images(user, adapted) == (("mycorp/golang-builder:1", "Dockerfile:1, stage b"),)
