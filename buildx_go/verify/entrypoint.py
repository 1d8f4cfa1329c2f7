"""What the engine starts when the image runs, found as runc and the kernel find it (pure).

The process's argv is the config's Entrypoint followed by its Cmd (the Cmd alone without an
Entrypoint). A name without a slash is looked up in each directory of the config's PATH in
order (docker's default PATH when the config sets none), a relative path from WorkingDir;
the file must be a regular file with an execute bit (the engine's default capabilities
include CAP_DAC_OVERRIDE, so whose bit it is matters only where they are dropped: a warning).
A ``#!`` script runs its interpreter. Wrappers (tini, dumb-init, catatonit, gosu, su-exec, env) and ``sh -c`` are
seen through to the command they start where it can be read, and a script that ends in
``exec "$@"`` to its arguments; otherwise the program is "not checked" (never a failure:
verify.py also checks every executable ELF file of the image for its platform).
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from buildx_go.verify.imagefs import Found, Tree, User, clean, permitted

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # docker's, containerd's
SHELLS = frozenset({"sh", "bash", "dash", "ash", "ksh", "mksh", "zsh"})
SCRIPT_LIMIT = 1 << 16  # bytes of a script read for its #! line and an `exec "$@"`
MAX_STEPS = 8
BUILTINS = frozenset(
    ". : [ [[ { } alias bg break builtin case cd command continue declare echo eval export false fg for "  # noqa: SIM905
    "function getopts hash if let local printf pwd read readonly return select set shift source test times "
    "trap true type typeset ulimit umask unalias unset until wait while".split()
)

Reader = Callable[[Found, int | None], bytes]  # the first N bytes of a file's content (all: None)


@attrs.frozen
class Step:
    """One program in the chain the engine starts: a wrapper, a shell, a script's
    interpreter, or the program itself."""

    written: str  # as the argv has it
    path: str  # where it resolved, /-rooted
    role: str  # program | wrapper | shell | script | interpreter


@attrs.frozen
class Program:
    steps: tuple[Step, ...]
    binary: Found | None  # the program to check as the image's binary; None: not checked
    problems: tuple[str, ...] = ()  # why the engine cannot start it
    note: str | None = None  # why the program is not checked
    warnings: tuple[str, ...] = ()  # what holds only with the engine's default capabilities

    def describe(self) -> str:
        return " -> ".join(s.path if s.written == s.path else f"{s.written} ({s.path})" for s in self.steps)


def find_program(tree: Tree, config: Mapping[str, Any], read: Reader) -> Program:
    """The program IMAGE (its config and TREE) starts, as the engine would start it."""
    cfg = config.get("config") or {}
    entry, cmd = list(cfg.get("Entrypoint") or []), list(cfg.get("Cmd") or [])
    argv = [str(a) for a in (entry + cmd if entry else cmd)]
    if not argv:
        return Program((), None, ("the image has no entrypoint or command: the engine starts nothing",))
    env = dict(str(e).split("=", 1) for e in cfg.get("Env") or [] if "=" in str(e))
    search = env.get("PATH", DEFAULT_PATH)
    cwd = (cfg.get("WorkingDir") or "/").strip("/")
    user, why = tree.user(str(cfg.get("User") or ""))
    if user is None:
        return Program((), None, (str(why),))
    steps: list[Step] = []
    for _ in range(MAX_STEPS):
        name = argv[0]
        found, why = locate(tree, name, search, cwd)
        if found is None:
            role = "entrypoint" if not steps else f"the command {steps[-1].written} starts"
            return Program(tuple(steps), None, (f"{role} {why}",))
        step = Step(name, f"/{found.path}", "program")
        base = posixpath.basename(name)
        elf = tree.elf_at(found)
        head = b"" if elf is not None else read(found, SCRIPT_LIMIT)
        if elf is None and head[:4] != b"\x7fELF":
            if not head.startswith(b"#!"):
                what = f"{step.path}: neither an ELF executable nor a #! script: the engine cannot start it"
                return Program((*steps, step), None, (what,))
            steps.append(attrs.evolve(step, role="script"))
            problem = interpreter_problem(tree, head, cwd, steps)
            if problem:
                return Program(tuple(steps), None, (problem,))
            if not _execs_arguments(head) or len(argv) < 2:
                return Program(tuple(steps), None, note=f"{step.path} is a script: the program it starts is not read")
            argv = argv[1:]  # `exec "$@"`: its arguments are the command
            hit, _ = locate(tree, argv[0], search, cwd)
            if hit is None:
                return Program(tuple(steps), None, note=f"{step.path} is a script whose arguments are not a program")
            continue
        if base in WRAPPERS:
            steps.append(attrs.evolve(step, role="wrapper"))
            wrapped = WRAPPERS[base](argv[1:], env)
            if not wrapped:
                return Program(tuple(steps), None, note=f"{base}: the command it starts is not read")
            argv, search = wrapped[0], wrapped[1] or search
            continue
        if base in SHELLS and len(argv) > 1:
            steps.append(attrs.evolve(step, role="shell"))
            words = shell_command(argv[1:])
            if not words:
                return Program(tuple(steps), None, note=f"{base}: its command line is not read")
            argv = words
            continue
        return Program((*steps, step), found, warnings=_only_with_caps(tree, found, user))
    return Program(tuple(steps), None, note="too many wrappers to follow")


def _only_with_caps(tree: Tree, found: Found, user: User) -> tuple[str, ...]:
    """A program its user may not execute by its mode starts only because the engine grants
    CAP_DAC_OVERRIDE: say so (Kubernetes' restricted profile drops it)."""
    node = tree.node_of(found)
    if user.uid == 0 or permitted(node, user, 0o1):
        return ()
    return (
        f"/{found.path} (mode {node.mode:04o}, owner {node.uid}) is not executable by USER {user.name} itself: it "
        "starts only while the engine grants CAP_DAC_OVERRIDE (docker's and containerd's default; not with "
        "--cap-drop ALL or Kubernetes' restricted profile)",
    )


def locate(tree: Tree, name: str, search: str, cwd: str) -> tuple[Found | None, str | None]:
    """NAME as execve (a path) or PATH lookup (a bare name, as Go's exec.LookPath in runc)
    finds it: a regular file with an execute bit, or why not."""
    if "/" in name:
        found, why = tree.resolve(name, cwd)
        if found is None:
            where, _, what = str(why).partition(": ")
            here = "/" + clean(posixpath.join("/" + cwd, name))
            return None, f"{name}: {what if where == here else why}"
        return _runnable(tree, found, name)
    dirs = search.split(":")
    for d in dirs:
        found, _ = tree.resolve(posixpath.join(d or ".", name), cwd)
        if found is not None and _runnable(tree, found, name)[0] is not None:
            return found, None
    shown = ", ".join(d or "." for d in dirs)
    return None, f"{name}: not an executable file in any PATH directory ({shown})"


def _runnable(tree: Tree, found: Found, name: str) -> tuple[Found | None, str | None]:
    node = tree.node_of(found)
    if node.kind == "dir":
        return None, f"{name}: /{found.path} is a directory"
    if node.kind != "file":
        return None, f"{name}: /{found.path} is not a regular file"
    if not node.mode & 0o111:
        return None, f"{name}: /{found.path} is not executable (mode {node.mode:04o})"
    return found, None


def interpreter_problem(tree: Tree, head: bytes, cwd: str, steps: list[Step]) -> str | None:
    """Why the kernel cannot start a script's #! interpreter (resolved without PATH; through
    `env NAME`, NAME on PATH), or None."""
    line = head[2:].split(b"\n", 1)[0].decode(errors="replace")
    words = [w for w in re.split(r"[ \t]+", line.strip(" \t"), maxsplit=1) if w]  # as binfmt_script splits
    if not words:
        return f"{steps[-1].path}: an empty #! line"
    interp = words[0]
    found, why = tree.resolve(interp, cwd)
    if found is None:
        return f"{steps[-1].path}: its interpreter {interp}: {why}"
    found, why = _runnable(tree, found, interp)
    if found is None:
        return f"{steps[-1].path}: its interpreter {why}"
    steps.append(Step(interp, f"/{found.path}", "interpreter"))
    if posixpath.basename(interp) == "env" and len(words) > 1:
        target = re.split(r"[ \t]+", words[1])[0]
        if not target.startswith("-"):
            hit, why = locate(tree, target, DEFAULT_PATH, cwd)
            if hit is None:
                return f"{steps[-2].path}: #!{line.strip()}: {why}"
            steps.append(Step(target, f"/{hit.path}", "interpreter"))
    return None


def _execs_arguments(script: bytes) -> bool:
    text = script.decode(errors="replace")
    return any(f"exec {form}" in text for form in ('"$@"', "$@", '"${@}"'))


def shell_command(args: list[str]) -> list[str] | None:
    """The first simple command of `sh [-opts] -c 'COMMAND'` when it starts a program
    (`exec` and VAR=value words before it skipped), else None."""
    command = None
    for i, arg in enumerate(args):
        if arg.startswith("-") and arg not in ("-", "--"):
            if "c" in arg[1:] and not arg.startswith("--"):
                command = args[i + 1] if i + 1 < len(args) else None
                break
            continue
        return None  # `sh script.sh`: a script file, not read here
    if command is None:
        return None
    try:
        lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError:
        return None
    words: list[str] = []
    for token in tokens:
        if token and all(c in "();<>|&" for c in token):
            break
        words.append(token)
    while words and (words[0] == "exec" or _assignment(words[0])):
        words.pop(0)
    if not words or words[0] in BUILTINS or any(c in words[0] for c in "$`*?~"):
        return None
    return words


def _assignment(word: str) -> bool:
    name, eq, _ = word.partition("=")
    return bool(eq) and name.isidentifier()


def _options(args: list[str], with_value: frozenset[str], long_value: frozenset[str] = frozenset()) -> list[str]:
    """ARGS after a wrapper's options (and a `--`)."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return args[i + 1 :]
        if not arg.startswith("-") or arg == "-":
            return args[i:]
        if arg.startswith("--"):
            i += 2 if arg in long_value else 1
            continue
        # short options, possibly grouped; one taking a value consumes the rest or the next word
        letters = arg[1:]
        takes = next((k for k, c in enumerate(letters) if c in with_value), None)
        i += 2 if takes is not None and takes == len(letters) - 1 else 1
    return []


def _tini(args: list[str], env: dict[str, str]) -> tuple[list[str], str | None] | None:
    rest = _options(args, frozenset("pe"))
    return (rest, None) if rest else None


def _dumb_init(args: list[str], env: dict[str, str]) -> tuple[list[str], str | None] | None:
    rest = _options(args, frozenset("r"), frozenset({"--rewrite"}))
    return (rest, None) if rest else None


def _user_switch(args: list[str], env: dict[str, str]) -> tuple[list[str], str | None] | None:
    return (args[1:], None) if len(args) >= 2 else None  # gosu USER CMD..., su-exec USER CMD...


def _env(args: list[str], env: dict[str, str]) -> tuple[list[str], str | None] | None:
    path = None
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-i", "--ignore-environment", "-0", "--null", "-v", "--debug"):
            i += 1
        elif arg in ("-u", "--unset"):
            i += 2
        elif arg.startswith("--unset="):
            i += 1
        elif arg == "--":
            i += 1
            break
        elif arg.startswith("-"):
            return None  # -S, -C and others: not read
        elif _assignment(arg):
            if arg.startswith("PATH="):
                path = arg[5:]
            i += 1
        else:
            break
    rest = args[i:]
    return (rest, path) if rest else None


WRAPPERS: dict[str, Callable[[list[str], dict[str, str]], tuple[list[str], str | None] | None]] = {
    "tini": _tini,
    "tini-static": _tini,
    "docker-init": _tini,
    "catatonit": _tini,
    "dumb-init": _dumb_init,
    "gosu": _user_switch,
    "su-exec": _user_switch,
    "env": _env,
}
