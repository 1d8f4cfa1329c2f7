"""What the engine starts when the image runs, found as runc, the kernel and the shell find it (pure).

The process's argv is the config's Entrypoint followed by its Cmd (the Cmd alone without an
Entrypoint). runc looks a name without a slash up in each directory of the config's PATH in
order (docker's default PATH when the config sets none) with Go's exec.LookPath: an empty
PATH searches nothing, and a program found through a relative directory is refused. A
relative path starts from WorkingDir; a path with a trailing slash must be a directory. The
file must be a regular file with an execute bit (the engine's default capabilities include
CAP_DAC_OVERRIDE, so whose bit it is matters only where they are dropped: a warning).
A ``#!`` script runs its interpreter (``#!/usr/bin/env NAME``: NAME on the image's PATH).
Wrappers (tini, dumb-init, catatonit, gosu, su-exec, env, nice, nohup, timeout and others)
and ``sh -c`` are seen through to the command they start where it can be read: a shell's
`exec` command, or its only command (after `cd DIR` and `PATH=...` it follows them); a
script that ends in ``exec "$@"`` to its arguments. `env -i` and `env -u PATH` clear PATH
(the C library's default path is searched). A file that is neither ELF nor ``#!`` fails
when runc starts it (exec format error) but runs as a shell script when a shell starts it.
Otherwise the program is "not checked" (never a failure: check.py also checks every
executable ELF file of the image for its platform).
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from buildx_go.verify.binary import dynamic_deps
from buildx_go.verify.imagefs import Found, Reader, Tree, User, clean, permitted, strict_ancestors, unsearchable

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # docker's, containerd's
LIBC_PATH = "/bin:/usr/bin"  # glibc's execvp without PATH (musl's adds /usr/local/bin first)
MUSL_PATH = "/usr/local/bin:/bin:/usr/bin"
SHELLS = frozenset({"sh", "bash", "dash", "ash", "ksh", "mksh", "zsh"})
SCRIPT_LIMIT = 1 << 16  # bytes of a script read for its #! line and an `exec "$@"`
MAX_STEPS = 8
BUILTINS = frozenset(
    ". : [ [[ { } alias bg break builtin case cd command continue declare echo eval export false fg for "  # noqa: SIM905
    "function getopts hash if let local printf pwd read readonly return select set shift source test times "
    "trap true type typeset ulimit umask unalias unset until wait while".split()
)
OPERATORS = frozenset({";", "&&", "||", "|", "&", ";;", "|&"})
COMPOUND = frozenset(
    "if then else elif fi while until for do done case esac { } function . source eval".split()  # noqa: SIM905
)


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
    user: User | None = None  # who the engine runs the binary as (its config's USER), with a binary

    def describe(self) -> str:
        return " -> ".join(s.path if s.written == s.path else f"{s.written} ({s.path})" for s in self.steps)


@attrs.frozen
class Started:
    """The command a wrapper or a shell starts: its words, the PATH it is looked up in
    (None: unchanged; CLEARED: none, the C library's default), the directory it starts in."""

    words: list[str]
    search: str | None = None
    cwd: str | None = None


CLEARED = "\0cleared"


def find_program(tree: Tree, config: Mapping[str, Any], read: Reader) -> Program:
    """The program IMAGE (its config and TREE) starts, as the engine would start it."""
    cfg = config.get("config") or {}
    entry, cmd = list(cfg.get("Entrypoint") or []), list(cfg.get("Cmd") or [])
    argv = [str(a) for a in (entry + cmd if entry else cmd)]
    if not argv:
        return Program((), None, ("the image has no entrypoint or command: the engine starts nothing",))
    env = dict(str(e).split("=", 1) for e in cfg.get("Env") or [] if "=" in str(e))
    search, cwd = env.get("PATH", DEFAULT_PATH), (cfg.get("WorkingDir") or "/").strip("/")
    user, why = tree.user(str(cfg.get("User") or ""), read)
    if user is None:
        return Program((), None, (str(why),))
    steps: list[Step] = []
    starter = "runc"  # runc | shell | wrapper: who starts the next program (and so how it is looked up)
    wrapper = None
    for _ in range(MAX_STEPS):
        name = argv[0]
        if search == CLEARED:
            search, note = _cleared_path(tree, name, cwd, wrapper, read)
            if note:
                return Program(tuple(steps), None, note=f"{steps[-1].written} clears PATH: {note}")
        found, why = locate(tree, name, search, cwd, starter)
        if found is None:
            role = "entrypoint" if not steps else f"the command {steps[-1].written} starts"
            return Program(tuple(steps), None, (f"{role} {why}",))
        step = Step(name, f"/{found.path}", "program")
        base = posixpath.basename(name)
        elf = tree.elf_at(found)
        head = b"" if elf is not None else read(found, SCRIPT_LIMIT)
        if elf is None and head[:4] != b"\x7fELF":
            if not head.startswith(b"#!"):
                return _not_elf_nor_script(tree, [*steps, step], starter)
            steps.append(attrs.evolve(step, role="script"))
            problem = interpreter_problem(tree, head, cwd, steps, search) or _unreadable(tree, found, user)
            if problem:
                return Program(tuple(steps), None, (problem,))
            if not _execs_arguments(head) or len(argv) < 2:
                return Program(tuple(steps), None, note=f"{step.path} is a script: the program it starts is not read")
            argv = argv[1:]  # `exec "$@"`: its arguments are the command
            hit, _ = locate(tree, argv[0], search, cwd, "shell")
            if hit is None:
                return Program(tuple(steps), None, note=f"{step.path} is a script whose arguments are not a program")
            starter = "shell"
            continue
        if base in WRAPPERS:
            steps.append(attrs.evolve(step, role="wrapper"))
            started = WRAPPERS[base](argv[1:])
            if not started:
                return Program(tuple(steps), None, note=f"{base}: the command it starts is not read")
            argv, search, starter, wrapper = started.words, started.search or search, "wrapper", found
            continue
        if base in SHELLS and len(argv) > 1:
            steps.append(attrs.evolve(step, role="shell"))
            started = shell_command(argv[1:], search, cwd)
            if not started:
                return Program(tuple(steps), None, note=f"{base}: its command line is not read")
            argv, search, cwd, starter = started.words, started.search or search, started.cwd or cwd, "shell"
            continue
        return Program((*steps, step), found, warnings=_only_with_caps(tree, found, user), user=user)
    return Program(tuple(steps), None, note="too many wrappers to follow")


def _cleared_path(tree: Tree, name: str, cwd: str, wrapper: Found | None, read: Reader) -> tuple[str, str | None]:
    """(the PATH execvp searches for NAME without one, or why the program is not checked):
    by the wrapper's C library (its interpreter), glibc's /bin:/usr/bin or musl's, which
    adds /usr/local/bin; a static wrapper's is not known, and matters only when the two differ."""
    interp = dynamic_deps(read(wrapper, SCRIPT_LIMIT))[0] if wrapper else None
    if interp and "ld-musl" in interp:
        return MUSL_PATH, None
    if interp and "ld-linux" in interp:
        return LIBC_PATH, None
    glibc, musl = (locate(tree, name, path, cwd, "wrapper")[0] for path in (LIBC_PATH, MUSL_PATH))
    if glibc is None and musl is not None:
        return LIBC_PATH, f"{name} is found by musl's default path, not glibc's"
    return LIBC_PATH, None


def _not_elf_nor_script(tree: Tree, steps: list[Step], starter: str) -> Program:
    """A file that is neither ELF nor #!: execve fails (ENOEXEC), which runc reports as an
    exec format error; a shell then runs it as a shell script itself; a wrapper's C library
    may (glibc's execvp does, musl's does not): not checked."""
    path = steps[-1].path
    if starter == "runc":
        return Program(
            tuple(steps), None, (f"{path}: neither an ELF executable nor a #! script: the engine cannot start it",)
        )
    if starter == "shell":
        return Program(
            tuple(steps), None, note=f"{path} is run by the shell as a shell script: the program it starts is not read"
        )
    note = f"{path} has no #! line: whether {steps[-2].written} runs it as a shell script depends on its C library"
    return Program(tuple(steps), None, note=note)


def _unreadable(tree: Tree, found: Found, user: User) -> str | None:
    """A script's interpreter opens it as USER, after execve: without the capabilities the
    engine gave runc, so it needs the script's read bit and every folder's search bit."""
    if user.uid == 0:
        return None
    node = tree.node_of(found)
    if not permitted(node, user, 0o4):
        return (
            f"/{found.path} (mode {node.mode:04o}, owner {node.uid}) is not readable by USER {user.name}: "
            "its interpreter runs as that user and cannot open it (permission denied)"
        )
    folder = unsearchable(tree, strict_ancestors(found.path), user)
    if folder is not None:
        mode = f"mode {folder.node.mode:04o}, owner {folder.node.uid}"
        why = f"the script's interpreter cannot open /{found.path}"
        return f"/{folder.path} ({mode}) is not searchable by USER {user.name}: {why}"
    return None


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


def locate(tree: Tree, name: str, search: str, cwd: str, starter: str = "runc") -> tuple[Found | None, str | None]:
    """NAME as execve (a path) or a PATH lookup (a bare name) finds it: a regular file with
    an execute bit, or why not. runc looks up with Go's exec.LookPath: an empty PATH is no
    directory at all, and what a relative directory finds is refused; a shell or the C
    library's execvp search an empty entry as the current directory."""
    if "/" in name:
        found, why = tree.resolve(name, cwd)
        if found is None:
            where, _, what = str(why).partition(": ")
            here = "/" + clean(posixpath.join("/" + cwd, name))
            return None, f"{name}: {what if where == here else why}"
        if name.endswith("/") and tree.node_of(found).kind != "dir":
            return None, f"{name}: /{found.path} is not a directory"
        return _runnable(tree, found, name)
    dirs = ([] if search == "" else search.split(":")) if starter == "runc" else search.split(":")
    for d in dirs:
        found, _ = tree.resolve(posixpath.join(d or ".", name), cwd)
        if found is not None and _runnable(tree, found, name)[0] is not None:
            if starter == "runc" and not d.startswith("/"):
                return None, (
                    f"{name}: found as {posixpath.join(d or '.', name)} through the relative PATH entry "
                    f"{d or '(empty)'!r}: runc refuses a program found relative to the current directory"
                )
            return found, None
    if not dirs:
        return None, f"{name}: PATH is empty, no directory is searched"
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


def interpreter_problem(tree: Tree, head: bytes, cwd: str, steps: list[Step], search: str) -> str | None:
    """Why the kernel cannot start a script's #! interpreter (resolved without PATH; through
    `env NAME`, NAME on the image's PATH SEARCH), or None."""
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
        if not target.startswith("-") and "=" not in target:
            hit, why = locate(tree, target, LIBC_PATH if search == CLEARED else search, cwd, "wrapper")
            if hit is None:
                return f"{steps[-2].path}: #!{line.strip()}: {why}"
            steps.append(Step(target, f"/{hit.path}", "interpreter"))
    return None


def _execs_arguments(script: bytes) -> bool:
    text = script.decode(errors="replace")
    return any(f"exec {form}" in text for form in ('"$@"', "$@", '"${@}"'))


def _command_string(args: list[str]) -> str | None:
    """The command string of a shell's arguments with -c (`-c CMD`, `-ec CMD`, `-o pipefail -c
    CMD`, `-euxo pipefail -c CMD`: -o and -O take an option name), or None (a script file)."""
    dash_c, i = False, 0
    while i < len(args) and args[i][:1] in ("-", "+") and args[i] not in ("-", "--", "+"):
        arg = args[i]
        i += 1
        if arg.startswith(("--", "++")):
            continue  # bash's long options (--norc, --login) take no argument
        dash_c = dash_c or (arg[0] == "-" and "c" in arg[1:])
        i += sum(1 for letter in arg[1:] if letter in "oO")  # -o pipefail, +O extglob
    i += 1 if i < len(args) and args[i] == "--" else 0
    return args[i] if dash_c and i < len(args) else None


def shell_command(args: list[str], search: str = DEFAULT_PATH, cwd: str = "") -> Started | None:
    """The program `sh [-opts] -c 'COMMAND'` starts, when it can be read: the command of
    its first `exec`, else its only command; `cd DIR` and `PATH=...` (or `export PATH=...`)
    before it are followed. None for anything else (a script file, several commands and no
    exec, a command that is a variable or a compound)."""
    command = _command_string(args)
    if command is None:
        return None
    commands = _simple_commands(command)
    if commands is None:
        return None
    path, here, chosen = search, cwd, None
    for words in commands:
        if words == ["exec"]:
            continue  # `exec >log 2>&1`: redirects the shell's own output
        if words[0] == "exec":
            chosen = words
            break
        if len(commands) == 1:
            chosen = words
            break
        if words[0] == "cd":
            if len(words) != 2 or not words[1].startswith("/") or any(c in words[1] for c in "$`*?~"):
                return None
            here = words[1].strip("/")
            continue
        try:
            path = _path_assignment(words, path) or path
        except ValueError:
            return None
    if chosen is None:
        return None
    try:
        words, path = _command_words(list(chosen), path)
    except ValueError:
        return None
    if not words or words[0] in BUILTINS or any(c in words[0] for c in "$`*?~"):
        return None
    return Started(words, path, here)


def _command_words(words: list[str], path: str) -> tuple[list[str], str]:
    """WORDS without what precedes the program: `exec [-a NAME] [-c] [-l]`, bash's `time
    [-p]`, `!`, `command [-p]`, assignments (a PATH one sets the lookup's PATH); ValueError
    when that PATH cannot be told."""
    while words:
        if words[0] == "exec":
            words.pop(0)
            while words and words[0].startswith("-") and words[0] != "--":  # exec -a NAME, -c, -l
                flag = words.pop(0)
                if flag.endswith("a") and words:
                    words.pop(0)
            if words and words[0] == "--":
                words.pop(0)
        elif words[0] in ("time", "!") or (words[0] == "command" and words[1:2] not in (["-v"], ["-V"], [])):
            words.pop(0)
            if words and words[0] == "-p":
                words.pop(0)
        elif _assignment(words[0]):
            path = _path_assignment([words.pop(0)], path) or path
        else:
            break
    return words, path


def _simple_commands(command: str) -> list[list[str]] | None:
    """COMMAND's simple commands (their words, redirections left out), split at its control
    operators; None when it cannot be read: unbalanced quotes, a subshell, a compound
    command, or a command that may change what follows (`.`, `source`, `eval`)."""
    try:
        lexer = shlex.shlex(command.replace("\n", " ; "), posix=True, punctuation_chars=";&|()<>")
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError:
        return None
    commands: list[list[str]] = [[]]
    redirect = False
    for token in tokens:
        if redirect:
            redirect = False
        elif token in OPERATORS:
            commands.append([])
        elif "(" in token or ")" in token:
            return None
        elif token and all(c in "<>&|" for c in token):
            redirect = True  # `> FILE`, `2>&1`: the operator and its word are not the command's
            if commands[-1] and commands[-1][-1].isdigit():
                commands[-1].pop()  # the descriptor of `2>`
        else:
            commands[-1].append(token)
    commands = [c for c in commands if c]
    if not commands or any(c[0] in COMPOUND for c in commands):
        return None
    return commands


def _path_assignment(words: list[str], path: str) -> str | None:
    """The PATH a command made only of assignments (or `export` of them) sets, with $PATH
    and ${PATH} expanded from PATH; None when it sets none; ValueError when it cannot be told."""
    if words and words[0] == "export":
        words = words[1:]
    if not words or not all(_assignment(w) for w in words):
        return None
    found: str | None = None
    for word in words:
        name, _, value = word.partition("=")
        if name != "PATH":
            continue
        value = value.replace("${PATH}", path).replace("$PATH", path)
        if any(c in value for c in "$`"):
            raise ValueError(value)
        found = value
    return found


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


def _after_options(short: str = "", long: frozenset[str] = frozenset(), skip: int = 0) -> Wrapper:
    """A wrapper whose command follows its options (SHORT letters and LONG names taking a
    value) and then SKIP words of its own (a user, a duration)."""

    def started(args: list[str]) -> Started | None:
        rest = _options(args, frozenset(short), long)
        rest = rest[skip:]
        return Started(rest) if rest else None

    return started


def _nice(args: list[str]) -> Started | None:
    if args and re.fullmatch(r"-\d+", args[0]):  # nice -5 CMD (the old form)
        args = args[1:]
    rest = _options(args, frozenset("n"), frozenset({"--adjustment"}))
    return Started(rest) if rest else None


def _env(args: list[str]) -> Started | None:
    path: str | None = None
    cleared = False
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-i", "--ignore-environment", "-"):
            cleared, path = True, None
            i += 1
        elif arg in ("-0", "--null", "-v", "--debug"):
            i += 1
        elif arg in ("-u", "--unset") or arg.startswith(("--unset=", "-u")):
            if arg in ("-u", "--unset"):
                name, i = (args[i + 1] if i + 1 < len(args) else ""), i + 2
            else:
                name, i = arg.removeprefix("--unset=") if arg.startswith("--") else arg[2:], i + 1
            if name == "PATH":
                cleared, path = True, None
        elif arg == "--":
            i += 1
            break
        elif arg.startswith("-"):
            return None  # -S, -C and others: not read
        elif _assignment(arg):
            if arg.startswith("PATH="):
                path, cleared = arg[5:], False
            i += 1
        else:
            break
    rest = args[i:]
    if not rest:
        return None
    return Started(rest, CLEARED if cleared and path is None else path)


Wrapper = Callable[[list[str]], "Started | None"]
_tini = _after_options("pe")
_user_switch = _after_options(skip=1)  # gosu USER CMD..., su-exec USER CMD..., setuidgid USER CMD...
WRAPPERS: dict[str, Wrapper] = {
    "tini": _tini,
    "tini-static": _tini,
    "docker-init": _tini,
    "catatonit": _tini,
    "dumb-init": _after_options("r", frozenset({"--rewrite"})),
    "gosu": _user_switch,
    "su-exec": _user_switch,
    "setuidgid": _user_switch,
    "s6-setuidgid": _user_switch,
    "env": _env,
    "nice": _nice,
    "nohup": _after_options(),
    "timeout": _after_options("sk", frozenset({"--signal", "--kill-after"}), skip=1),
    "stdbuf": _after_options("ioe", frozenset({"--input", "--output", "--error"})),
    "ionice": _after_options("cnp", frozenset({"--class", "--classdata", "--pid"})),
    "chrt": _after_options("", frozenset(), skip=1),
    "time": _after_options("fo", frozenset({"--format", "--output"})),
    "runuser": _after_options("ugl", frozenset({"--user", "--group", "--login"})),
    "chpst": _after_options("ugUenlLmdosb"),
}
