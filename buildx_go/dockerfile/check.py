"""A user's Dockerfile judged as BuildKit's Dockerfile frontend judges it before building:
each instruction's flags and arguments, stage names, FROM references and platforms (pure).

Only what BuildKit refuses is refused here (tests/integration/test_dockerfile_differential.py
holds each shape against the engine's verdict); flags a newer frontend knows are let through.
A file with a `# syntax=` directive is read by that frontend, whose rules are its own: then
only the directive's reference is checked."""

from __future__ import annotations

import json
import re

from buildx_go.dockerfile.parse import Dockerfile, Instruction
from buildx_go.errors import InputError

# flags each instruction takes (value: "bool" may stand alone, "str" needs =VALUE)
FLAGS: dict[str, dict[str, str]] = {
    "FROM": {"platform": "str"},
    "RUN": {"mount": "str", "network": "str"},  # --security and --device: labs frontends (# syntax=)
    "COPY": {"from": "str", "chown": "str", "chmod": "str", "link": "bool", "parents": "bool", "exclude": "str"},
    "ADD": {
        "chown": "str",
        "chmod": "str",
        "link": "bool",
        "keep-git-dir": "bool",
        "checksum": "str",
        "exclude": "str",
        "unpack": "bool",
    },
    "HEALTHCHECK": {
        "interval": "str",
        "timeout": "str",
        "start-period": "str",
        "start-interval": "str",
        "retries": "str",
    },
}
MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
NETWORKS = ("default", "none", "host")  # BuildKit's network modes for RUN steps (RUN --network, --network)
STAGE_NAME = re.compile(r"[a-z][a-z0-9_.-]*")
ARG_NAME = re.compile(r"[^\s=]+")
DURATION = re.compile(r"[-+]?(((\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h))+|0)")  # Go's time.ParseDuration
# a reference as docker's reference grammar reads it (lower-case repository path)
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::\d+)?/)"
REFERENCE = re.compile(
    rf"{_DOMAIN}?{_COMPONENT}(?:/{_COMPONENT})*(?::[\w][\w.-]{{0,127}})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{{32,}})?"
)
EXACTLY_ONE = ("WORKDIR", "USER", "STOPSIGNAL")  # the whole rest is the one argument
AT_LEAST_ONE = ("ENV", "LABEL", "ARG", "EXPOSE", "VOLUME", "ONBUILD", "MAINTAINER")
JSON_ONLY = ("SHELL",)
# containerd's known operating systems and architectures, and the names it normalises
KNOWN_OS = set(
    [
        "aix",
        "android",
        "darwin",
        "dragonfly",
        "freebsd",
        "hurd",
        "illumos",
        "ios",
        "js",
        "linux",
        "nacl",
        "netbsd",
        "openbsd",
        "plan9",
        "solaris",
        "wasip1",
        "windows",
        "zos",
        "macos",
    ]
)
KNOWN_ARCH = set(
    [
        "386",
        "amd64",
        "amd64p32",
        "arm",
        "armbe",
        "arm64",
        "arm64be",
        "ppc64",
        "ppc64le",
        "loong64",
        "mips",
        "mipsle",
        "mips64",
        "mips64le",
        "mips64p32",
        "mips64p32le",
        "ppc",
        "riscv",
        "riscv64",
        "s390",
        "s390x",
        "sparc",
        "sparc64",
        "wasm",
    ]
)
ARCH_ALIASES = {"i386": "386", "x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm", "armel": "arm"}


def check_dockerfile(df: Dockerfile, filename: str) -> None:
    """Raise InputError (FILE:LINE: what) for the first instruction BuildKit would refuse."""
    syntax = df.directives.get("syntax")
    if syntax is not None:
        if not REFERENCE.fullmatch(syntax.strip()):
            raise InputError(
                f"{filename}:1: syntax={syntax!r} is not an image reference", "e.g. # syntax=docker/dockerfile:1"
            )
        return
    names: dict[str, int] = {}
    for stage in df.stages:
        _check_from(stage.head, filename)
        if stage.name is not None:
            if not STAGE_NAME.fullmatch(stage.name):
                raise InputError(
                    f"{filename}:{stage.head.line}: invalid stage name {stage.name!r}",
                    "a letter, then letters, digits, -, _ or .",
                )
            names[stage.name] = stage.index  # a name used twice is a lint for BuildKit, not an error
    for ins in [*df.global_args, *(i for s in df.stages for i in s.instructions)]:
        check_instruction(ins, filename)


def check_instruction(ins: Instruction, filename: str) -> None:
    where = f"{filename}:{ins.line}: {ins.keyword}"
    flags, rest = split_flags(ins.args)
    allowed = FLAGS.get(ins.keyword, {})
    if ins.keyword == "HEALTHCHECK" and rest.split()[:1] and rest.split()[0].upper() == "NONE":
        flags = []  # NONE reads no flags
    for name, value in flags:
        kind = allowed.get(name)
        if kind is None:
            raise InputError(f"{where}: unknown flag --{name}", _known(allowed))
        if kind == "str" and value is None:
            raise InputError(f"{where}: --{name} needs a value (--{name}=...)")
        if kind == "bool" and value is not None and value.lower() not in ("true", "false"):
            raise InputError(f"{where}: --{name}={value!r} is not true or false")
        if value is not None and "$" not in value:
            _check_flag_value(ins.keyword, name, value, where)
    words = rest.split()
    if ins.keyword in (*EXACTLY_ONE, *AT_LEAST_ONE) and not words:
        raise InputError(f"{where} needs at least one argument")
    if ins.keyword in ("COPY", "ADD") and not rest.startswith("[") and "<<" not in rest and len(words) < 2:
        raise InputError(f"{where} needs a source and a destination", f"{ins.keyword} SRC... DEST")
    if ins.keyword in JSON_ONLY and not _json_strings(rest):
        raise InputError(f"{where} takes a JSON array of strings", '["/bin/sh", "-c"]')
    if ins.keyword in ("ENV", "ARG"):
        _check_names(ins, rest, where)
    if ins.keyword == "EXPOSE":  # [ip:][host:]port[-port][/proto], quotes removed (a lint warns on the rest)
        for port in (w.strip("\"'") for w in words):
            if "$" not in port and not re.fullmatch(r"[0-9A-Fa-f.:\[\]]*?\d+(-\d+)?(/[A-Za-z]*)?", port):
                raise InputError(f"{where}: {port!r} is not a port", "e.g. 8080 or 8080/tcp")
    if ins.keyword == "HEALTHCHECK" and words and words[0].upper() not in ("CMD", "NONE"):
        raise InputError(f"{where}: unknown type {words[0]!r}", "HEALTHCHECK [OPTIONS] CMD command, or NONE")
    if ins.keyword == "ONBUILD":  # the trigger itself is read when a child image builds
        inner = words[0].upper() if words else ""
        if inner in ("ONBUILD", "FROM", "MAINTAINER"):
            raise InputError(f"{where}: {inner} is not allowed after ONBUILD")


def split_flags(args: str) -> tuple[list[tuple[str, str | None]], str]:
    """The leading --name[=value] words of ARGS (a value may be quoted) and the rest."""
    flags: list[tuple[str, str | None]] = []
    rest = args
    while rest.startswith("--"):
        m = re.match(r"--([^\s=]*)(?:=(\"[^\"]*\"|'[^']*'|\S*))?(?:\s+|$)", rest)
        if m is None or m.group(1) == "":
            break
        value = m.group(2)
        flags.append((m.group(1), value.strip("\"'") if value is not None else None))
        rest = rest[m.end() :]
    return flags, rest.strip()


def _check_flag_value(keyword: str, name: str, value: str, where: str) -> None:
    if keyword == "RUN" and name == "mount":
        fields = dict(p.partition("=")[::2] for p in value.split(",") if p)
        kind = fields.get("type", "bind").lower()
        if kind not in MOUNT_TYPES:
            raise InputError(f"{where}: --mount type={kind!r} is not one of {', '.join(MOUNT_TYPES)}")
    if keyword == "RUN" and name == "network" and value not in NETWORKS:
        raise InputError(f"{where}: --network={value!r} is not default, none or host")
    if name == "from" and not (value.isdigit() or REFERENCE.fullmatch(value) or STAGE_NAME.fullmatch(value.lower())):
        raise InputError(f"{where}: --from={value!r} is not a stage, index or image reference")
    if keyword == "HEALTHCHECK" and name != "retries" and value and not DURATION.fullmatch(value):
        raise InputError(f"{where}: --{name}={value!r} is not a duration", "e.g. 30s, 1m30s")
    if keyword == "HEALTHCHECK" and name == "retries" and value and not re.fullmatch(r"[-+]?\d+", value):
        raise InputError(f"{where}: --retries={value!r} is not a whole number")
    if keyword == "FROM" and name == "platform":
        _check_platform(value, where)


def _check_platform(value: str, where: str) -> None:
    """As containerd's platforms.Parse: parts of [A-Za-z0-9_-]; one part must be a known
    OS or architecture; two or three parts are taken as they are; more are refused."""
    parts = value.split("/")
    ok = all(re.fullmatch(r"[A-Za-z0-9_-]+", p) for p in parts) and len(parts) <= 3
    if ok and len(parts) == 1:
        one = parts[0].lower()
        ok = one in KNOWN_OS or ARCH_ALIASES.get(one, one) in KNOWN_ARCH
    if not ok:
        raise InputError(f"{where}: --platform={value!r} is not a platform", "e.g. linux/arm64")


def _check_from(head: Instruction, filename: str) -> None:
    _, rest = split_flags(head.args)
    check_instruction(head, filename)
    image = rest.split()[0] if rest.split() else ""
    if image and "$" not in image and image != "scratch" and not REFERENCE.fullmatch(image):
        why = "repository name must be lowercase" if REFERENCE.fullmatch(image.lower()) else "invalid reference format"
        raise InputError(f"{filename}:{head.line}: FROM {image!r}: {why}")


def _check_names(ins: Instruction, rest: str, where: str) -> None:
    words = shell_words(rest)
    if ins.keyword == "ENV" and len(words) >= 2 and "=" not in words[0]:
        return  # ENV NAME value (the old form)
    for word in words:
        if word.startswith("="):
            raise InputError(f"{where}: a name cannot be blank ({word!r})")


def shell_words(text: str) -> list[str]:
    """TEXT split into words as BuildKit's word parser splits them: quotes and a backslash
    keep spaces inside a word (the quotes stay: only the name before = matters here)."""
    words: list[str] = []
    word, quote, i = "", "", 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and quote != "'" and i + 1 < len(text):
            word += text[i : i + 2]
            i += 2
            continue
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch.isspace():
            if word:
                words.append(word)
            word = ""
            i += 1
            continue
        word += ch
        i += 1
    return [*words, word] if word else words


def _json_strings(rest: str) -> bool:
    try:
        words = json.loads(rest)
    except ValueError:
        return False
    return isinstance(words, list) and all(isinstance(w, str) for w in words)


def _known(allowed: dict[str, str]) -> str:
    return "flags here: " + ", ".join(f"--{n}" for n in allowed) if allowed else "this instruction takes no flags"
