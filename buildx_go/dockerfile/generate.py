"""The cross-compiling Dockerfile buildx-go writes for projects that have none (pure)."""

from __future__ import annotations

import json
import re
import shlex

import attrs

from buildx_go import __version__
from buildx_go.errors import InputError
from buildx_go.project.gomod import MainPackage

GOCACHE = "/root/.cache/go-build"
GOMODCACHE = "/go/pkg/mod"
BIN_DIR = "/usr/local/bin"

# GOARM / GOAMD64 from TARGETVARIANT: "v7" -> GOARM=7, "v3" -> GOAMD64=v3.
VARIANT_TO_GO = (
    'case "$TARGETARCH" in '
    'arm) export GOARM="${TARGETVARIANT#v}" ;; '
    'amd64) export GOAMD64="${TARGETVARIANT:-v1}" ;; '
    "esac"
)


@attrs.frozen
class GenerateOptions:
    go_image: str
    base_image: str
    mains: tuple[MainPackage, ...]
    module: str
    vendored: bool = False
    version_var: str | None = None  # e.g. main.version, set with -ldflags -X
    tags: tuple[str, ...] = ()  # go build -tags
    user: str = "65532:65532"
    goprivate: str | None = None  # GOPRIVATE patterns: fetched directly, not through a proxy
    netrc: bool = False  # a secret id=netrc is given: mounted at /root/.netrc for module downloads
    ssh: bool = False  # an ssh agent is forwarded: GOPRIVATE modules fetched with git over ssh
    go_args: tuple[str, ...] = ()  # Go's module settings given with --build-arg (GOPROXY, ...)
    cgo: bool = False  # C cross-compiled natively, with Debian's cross toolchain for each target
    cgo_packages: tuple[str, ...] = ()  # Debian -dev packages, installed for the target architecture
    cgo_static: bool = False  # cgo linked statically (-extldflags -static)


CGO_ENV = "/etc/buildx-go-cgo.env"
# Debian's cross toolchain per TARGETARCH: (Debian arch, GNU triplet, gcc package)
CROSS = {
    "amd64": ("amd64", "x86_64-linux-gnu", "gcc-x86-64-linux-gnu"),
    "arm64": ("arm64", "aarch64-linux-gnu", "gcc-aarch64-linux-gnu"),
    "arm": ("armhf", "arm-linux-gnueabihf", "gcc-arm-linux-gnueabihf"),
    "386": ("i386", "i686-linux-gnu", "gcc-i686-linux-gnu"),
}


CC_WRAPPER = "/usr/local/bin/buildx-go-cc"
CXX_WRAPPER = "/usr/local/bin/buildx-go-cxx"
PKG_CONFIG_WRAPPER = "/usr/local/bin/buildx-go-pkg-config"


def cgo_toolchain(packages: tuple[str, ...], wrappers: bool = False) -> list[str]:
    """The RUN (on the build platform, once per target) that installs the target's C
    toolchain and PACKAGES for the target's architecture (Debian multiarch), and writes CC
    and PKG_CONFIG_PATH to CGO_ENV for the go build. WRAPPERS (a user's Dockerfile, whose own
    RUNs do not read CGO_ENV): also CC_WRAPPER and PKG_CONFIG_WRAPPER, for ENV CC/PKG_CONFIG."""
    cases = " ".join(f"{arch}) deb={deb} triplet={triplet} pkg={pkg} ;;" for arch, (deb, triplet, pkg) in CROSS.items())
    extra = " ".join(packages)
    return [
        "RUN --mount=type=cache,target=/var/cache/apt,sharing=locked,id=buildx-go-apt \\",
        "    --mount=type=cache,target=/var/lib/apt/lists,sharing=locked,id=buildx-go-apt-lists \\",
        "    set -e; rm -f /etc/apt/apt.conf.d/docker-clean; \\",
        f'    case "$TARGETARCH" in {cases} \\',
        '      *) echo "buildx-go: no Debian cross toolchain for $TARGETARCH" >&2; exit 1 ;; esac; \\',
        '    if [ "$deb" = "$(dpkg --print-architecture)" ]; then pkgs="gcc g++ libc6-dev"; cc=gcc; cxx=g++; \\',
        '    else dpkg --add-architecture "$deb"; pkgs="$pkg g++-${pkg#gcc-} libc6-dev-$deb-cross"; \\',
        '      cc="$triplet-gcc"; cxx="$triplet-g++"; fi; \\',
        f'    for p in {extra}; do pkgs="$pkgs $p:$deb"; done; \\' if extra else "    : ; \\",
        "    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "
        "$pkgs pkg-config >/dev/null; \\",
        '    libdir=$triplet; [ "$deb" = i386 ] && libdir=i386-linux-gnu; \\',
        f'    printf \'CC=%s\\nCXX=%s\\nPKG_CONFIG_PATH=/usr/lib/%s/pkgconfig\\n\' "$cc" "$cxx" "$libdir" > {CGO_ENV}'
        + ("; \\" if wrappers else ""),
        *(
            [
                f'    printf \'#!/bin/sh\\nexec %s "$@"\\n\' "$cc" > {CC_WRAPPER}; \\',
                f'    printf \'#!/bin/sh\\nexec %s "$@"\\n\' "$cxx" > {CXX_WRAPPER}; \\',
                f"    printf '#!/bin/sh\\nPKG_CONFIG_PATH=/usr/lib/%s/pkgconfig exec pkg-config \"$@\"\\n' "
                f'"$libdir" > {PKG_CONFIG_WRAPPER}; \\',
                f"    chmod +x {CC_WRAPPER} {CXX_WRAPPER} {PKG_CONFIG_WRAPPER}",
            ]
            if wrappers
            else []
        ),
    ]


GO_MODULE_ARGS = ("GOPROXY", "GONOSUMDB", "GOFLAGS", "GONOPROXY", "GOINSECURE", "GOPRIVATE")


def private_modules(opts: GenerateOptions) -> tuple[list[str], str]:
    """The lines that set up private module downloads, and the mounts for `go mod download`."""
    private = opts.goprivate or opts.netrc or opts.ssh
    if not (private or opts.go_args):
        return [], ""
    names = [n for n in GO_MODULE_ARGS if n in opts.go_args or (private and n in GO_MODULE_ARGS[:3])]
    names = [n for n in names if not (n == "GOPRIVATE" and opts.goprivate)]
    lines = [f"ARG {' '.join(names)}"]  # e.g. --build-arg GOPROXY=https://proxy.corp
    if opts.goprivate:
        lines.append(f"ENV GOPRIVATE={opts.goprivate}")
    if opts.ssh and opts.goprivate:
        hosts = sorted({p.split("/")[0] for p in opts.goprivate.split(",") if "*" not in p.split("/")[0]})
        lines += [f'RUN git config --global url."ssh://git@{h}/".insteadOf "https://{h}/"' for h in hosts]
        lines.append('ENV GIT_SSH_COMMAND="ssh -o StrictHostKeyChecking=accept-new"')
    mounts = " --mount=type=secret,id=netrc,target=/root/.netrc" if opts.netrc else ""
    mounts += " --mount=type=ssh" if opts.ssh else ""
    return lines, mounts


# What go accepts in an import path (golang.org/x/mod/module: ASCII letters, digits, - . _ ~ +):
# a main package's directory, its binary and the module path reach Dockerfile text only so.
MAIN_PATH = re.compile(r"\.(/[A-Za-z0-9._~+-]+)*")
BINARY = re.compile(r"[A-Za-z0-9_~+][A-Za-z0-9._~+-]*")
MODULE = re.compile(r"[A-Za-z0-9._~+-]+(/[A-Za-z0-9._~+-]+)*")


def check_names(module: str, mains: tuple[MainPackage, ...]) -> None:
    """Refuse (exit 2) a name that go itself would not build and that a Dockerfile could not
    carry safely: a directory such as cmd/$(curl x) or one with quotes, spaces or newlines."""
    if not MODULE.fullmatch(module):
        raise InputError(
            f"go.mod: module path {module!r} holds characters go does not allow (ASCII letters, digits, - . _ ~ /)",
            "fix the module line of go.mod",
        )
    for m in mains:
        if not MAIN_PATH.fullmatch(m.path) or not BINARY.fullmatch(m.binary):
            raise InputError(
                f"main package {m.path!r}: its directory name holds characters go does not allow in an import "
                "path (ASCII letters, digits and - . _ ~ + only), so it is not built",
                "rename the directory, or choose another main package with --main",
            )


def generate_dockerfile(opts: GenerateOptions) -> str:
    """A multi-stage Dockerfile whose Go stage runs on $BUILDPLATFORM and cross-compiles."""
    check_names(opts.module, opts.mains)
    pkgs = " ".join(shlex.quote(m.path) for m in opts.mains)
    ldflags = "-s -w"
    if opts.version_var:
        ldflags += f" -X {opts.version_var}=$VERSION"
    if opts.cgo and opts.cgo_static:
        ldflags += " -linkmode external -extldflags -static"
    tags = f" -tags={','.join(opts.tags)}" if opts.tags else ""
    lines = [
        f"# Generated by buildx-go {__version__} for {opts.module} ({pkgs}).",
        "# The Go stage runs natively on the build platform and cross-compiles for",
        "# TARGETOS/TARGETARCH/TARGETVARIANT; only the final stage is per target platform.",
        f"FROM --platform=$BUILDPLATFORM {opts.go_image} AS build",
        "WORKDIR /src",
        f"ENV CGO_ENABLED={1 if opts.cgo else 0} GOCACHE={GOCACHE} GOMODCACHE={GOMODCACHE}",
    ]
    if opts.cgo:  # the toolchain depends on no file of the project: installed before any is copied
        lines += ["ARG TARGETOS TARGETARCH TARGETVARIANT", *cgo_toolchain(opts.cgo_packages)]
    if not opts.vendored:
        private, mounts = private_modules(opts)
        lines += [
            *private,
            "COPY go.mod go.sum* ./",
            f"RUN --mount=type=cache,target={GOMODCACHE}{mounts} go mod download",
        ]
    lines += ["COPY . ."]
    lines += [] if opts.cgo else ["ARG TARGETOS TARGETARCH TARGETVARIANT"]
    if opts.version_var:
        lines += ["ARG VERSION=dev"]
    mod_mount = "" if opts.vendored else f" \\\n    --mount=type=cache,target={GOMODCACHE}"
    lines += [
        f"RUN --mount=type=cache,target={GOCACHE}{mod_mount} \\",
        f"    {VARIANT_TO_GO}; \\",
        *([f"    set -a; . {CGO_ENV}; set +a; \\"] if opts.cgo else []),
        f'    GOOS="$TARGETOS" GOARCH="$TARGETARCH" go build -trimpath{tags} -ldflags="{ldflags}" -o /out/ {pkgs}',
        "",
        f"FROM {opts.base_image}",
    ]
    for m in opts.mains:
        lines.append(f"COPY --from=build /out/{m.binary} {BIN_DIR}/{m.binary}")
    lines += [
        f"USER {opts.user}",
        f"ENTRYPOINT {json.dumps([f'{BIN_DIR}/{opts.mains[0].binary}'])}",
        "",
    ]
    return "\n".join(lines)
