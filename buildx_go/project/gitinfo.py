"""Facts from git about the project (version, revision, source), and the version a
``--version-from`` command prints: argument lists through a Runner (effects.py)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from buildx_go.errors import InputError
from buildx_go.redact import redact_text

if TYPE_CHECKING:
    from buildx_go.seams import Runner

GIT_TIMEOUT = 10.0
# git as buildx-go runs it in a project it may have just cloned: nothing the project's own
# .git/config names is started (an fsmonitor, a gpg.program behind log.showSignature, a
# pager, hooks, an ssh command) and no transport is used.
SAFE_GIT = (
    "git",
    "--no-pager",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "log.showSignature=false",
    "-c",
    "gpg.program=false",
    "-c",
    "gpg.ssh.program=false",
    "-c",
    "gpg.x509.program=false",
    "-c",
    "core.sshCommand=false",
    "-c",
    "core.pager=cat",
    "-c",
    "protocol.allow=never",
)


LOCAL_REMOTE = re.compile(r"^(/|\.{1,2}/|~|file:|[A-Za-z]:[\\/])")


def strip_credentials(url: str) -> str:
    """A git remote without what may be a secret (never put secrets in labels or logs): the
    user and password of any URL scheme (https, git+https, ssh, ...), its query and fragment
    (?private_token=, ?access_token=), and the user of an scp-like `user:tok@host:path` or
    `TOKEN@host:path` (only a plain `git@host:path` keeps its user)."""
    url = url.strip()
    m = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*://)([^/?#]*@)?([^?#]*)", url)
    if m:
        return m[1] + m[3]
    m = re.match(r"^([^@/:]+)(:[^@/]*)?@([^:/]+):(.*)$", url)
    if m:  # scp-like: only the conventional `git` user is kept (a token can be a user name)
        user = "git@" if m[1] == "git" and not m[2] else ""
        return f"{user}{m[3]}:{re.split(r'[?#]', m[4])[0]}"
    return re.split(r"[?#]", url)[0]


_TOKEN_PREFIXES = ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "xox", "AKIA", "ya29.", "sk-")


def looks_secret(word: str) -> bool:
    """WORD looks like a token rather than a program: a known token prefix, or 20 or more
    characters of letters and digits mixed, with no path or dot."""
    if word.startswith(_TOKEN_PREFIXES):
        return True
    return (
        len(word) >= 20
        and "/" not in word
        and "." not in word
        and any(c.isdigit() for c in word)
        and any(c.isalpha() for c in word)
    )


def version_from_describe(describe: str) -> str:
    """v1.2.3 -> 1.2.3 (other shapes kept as they are, minus a leading v)."""
    return describe[1:] if re.match(r"^v\d", describe) else describe


NO_ANSWER = "-"  # git could not run, or did not finish within GIT_TIMEOUT


def _output(run: Runner, argv: Sequence[str]) -> str | None:
    """Git's answer (stripped); None if it said no (exit code); NO_ANSWER if it gave none."""
    answer = run(argv, None, GIT_TIMEOUT)
    if answer is None:
        return NO_ANSWER
    return answer[1].strip() if answer[0] == 0 else None


def git_facts(root: Path, run: Runner) -> dict[str, str]:
    """revision, created (commit time), describe, source (credentials stripped), version;
    "unanswered": the questions git could not answer in time (or at all), space-separated."""
    facts: dict[str, str] = {}
    base = [*SAFE_GIT, "-C", str(root)]
    inside = _output(run, [*base, "rev-parse", "--is-inside-work-tree"])
    if inside != "true":
        return {"unanswered": "rev-parse"} if inside == NO_ANSWER else facts
    asked = {
        "revision": ["rev-parse", "HEAD"],
        "created": ["log", "-1", "--no-show-signature", "--format=%cI"],
        "describe": ["describe", "--tags"],
        "source": ["remote", "get-url", "origin"],
    }
    from concurrent.futures import ThreadPoolExecutor  # not on a build's way to its docker call

    with ThreadPoolExecutor(len(asked)) as pool:  # independent questions: asked at once
        answers = dict(zip(asked, pool.map(lambda args: _output(run, [*base, *args]), asked.values()), strict=True))
    if unanswered := [key for key, out in answers.items() if out == NO_ANSWER]:
        facts["unanswered"] = " ".join(unanswered)
    for key, out in answers.items():
        if key == "source" and out and LOCAL_REMOTE.match(out):
            continue  # a clone of a directory: a path on one machine says nothing of the source
        if out and out != NO_ANSWER:
            facts[key] = strip_credentials(out) if key == "source" else out
            if key == "source" and facts[key] != out:
                facts["source_redacted"] = "true"  # buildx's own git info would carry the secret
    if "describe" in facts:
        facts["version"] = version_from_describe(facts["describe"])
    return facts


def version_from(command: str | None, root: Path, run: Runner, timeout: float = 60.0) -> str | None:
    """The version printed by COMMAND (split like a shell would, run without one) in ROOT."""
    if not command:
        return None
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise InputError(f"--version-from: {command!r} cannot be split into arguments: {exc}") from None
    if not argv:
        raise InputError("--version-from: the command is empty")
    answer = run(argv, root, timeout)
    program = "a word that looks like a secret (not shown)" if looks_secret(argv[0]) else f"{argv[0]!r}"
    shown = program + (f" (and {len(argv) - 1} arguments, not shown)" if len(argv) > 1 else "")
    if answer is None:
        raise InputError(
            f"--version-from: {shown} could not run, did not finish within {timeout:g} s or printed more than 1 MiB",
            "is it installed and on PATH?",
        )
    code, out, err = answer
    lines = out.strip().splitlines()
    if code != 0 or not lines:
        last = (err.strip().splitlines() or ["it should print the version"])[-1]
        raise InputError(f"--version-from: {shown} exited {code} without a version", redact_text(last)[-200:])
    return lines[-1].strip().removeprefix("v")


def changed_files(root: Path, commit: str, run: Runner) -> tuple[str, ...]:
    """The files of the checkout at ROOT that differ from COMMIT (committed since, changed
    or added since, not yet committed), relative to ROOT; () when git cannot tell (COMMIT is
    not in this clone: a shallow one, or another repository)."""
    if not re.fullmatch(r"[0-9a-f]{7,64}", commit):
        return ()
    base = [*SAFE_GIT, "-C", str(root)]
    diff = _output(run, [*base, "diff", "--name-only", "--relative", commit, "--"])
    if diff is None or diff == NO_ANSWER:
        return ()
    new = _output(run, [*base, "ls-files", "--others", "--exclude-standard"])
    found = diff.splitlines() + ([] if new in (None, NO_ANSWER) else str(new).splitlines())
    return tuple(sorted({f for f in found if f}))
