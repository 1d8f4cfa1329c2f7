"""The build context by content: one digest of what BuildKit is sent for a build.

The ignore rules are read as docker reads a .dockerignore (moby/patternmatcher and its
ignorefile): a `#` line is a comment, a rule is trimmed and cleaned (a leading `/` and
`./` dropped), `!` re-includes, `*` and `?` stay within a path element, `**` spans any
number of them, and a path is left out when the last rule that matches it, or one of its
parent directories, is not a `!` rule. What is left is digested by content: each path,
its kind, its execute bit, a symlink's target and a file's bytes; not times, owners or
inodes, so a fresh checkout of the same commit has the same digest as the tree it came
from.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import stat
from collections.abc import Iterator

import attrs

CHUNK = 1 << 20


@attrs.frozen
class Rule:
    pattern: str  # cleaned, relative
    exclusion: bool  # a `!` rule: matching paths are sent after all
    regex: re.Pattern[str]


def _rule_lines(text: str) -> Iterator[tuple[int, bool, str]]:
    """(line number, exclusion, pattern as written) of each rule of an ignore file's TEXT:
    comments and blank lines skipped, a byte order mark and \r dropped, ! taken off."""
    for n, raw in enumerate(text.split("\n"), 1):
        line = (raw.removeprefix("\ufeff") if n == 1 else raw).rstrip("\r")
        if line.startswith("#"):
            continue
        pattern = line.strip()
        exclusion = pattern.startswith("!")
        if exclusion:
            pattern = pattern[1:].strip()
        if pattern:
            yield n, exclusion, pattern


def read_rules(text: str) -> tuple[Rule, ...]:
    """The rules of an ignore file's TEXT, in order."""
    rules = []
    for _, exclusion, written in _rule_lines(text):
        pattern = posixpath.normpath(written)
        if len(pattern) > 1 and pattern.startswith("/"):
            pattern = pattern[1:]
        rules.append(Rule(pattern, exclusion, _compile(pattern)))
    return tuple(rules)


def bad_pattern_line(text: str) -> tuple[int, str] | None:
    """(line number, pattern) of the first rule of TEXT that go's filepath.Match calls a bad
    pattern (BuildKit refuses the build: "syntax error in pattern"), or None."""
    for n, _, pattern in _rule_lines(text):
        if not _match_syntax_ok(posixpath.normpath(pattern)):
            return n, pattern
    return None


def _match_syntax_ok(pattern: str) -> bool:
    """Whether go's filepath.Match accepts PATTERN (unix): every escape has its character,
    every [ class is closed, not empty, and its ranges have both ends."""
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= len(pattern):
                return False
            i += 2
            continue
        if ch != "[":
            i += 1
            continue
        i += 1
        if pattern[i : i + 1] == "^":
            i += 1
        ranges = 0
        while True:
            if pattern[i : i + 1] == "]" and ranges:
                i += 1
                break
            i = _class_char(pattern, i)
            if i < 0:
                return False
            if pattern[i : i + 1] == "-":
                i = _class_char(pattern, i + 1)
                if i < 0:
                    return False
            ranges += 1
    return True


def _class_char(pattern: str, i: int) -> int:
    """The index after one character of a [ class at I (go's getEsc), or -1 for a bad pattern."""
    if i >= len(pattern) or pattern[i] in "-]":
        return -1
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            return -1
    i += 1
    return i if i < len(pattern) else -1


def _compile(pattern: str) -> re.Pattern[str]:
    """PATTERN as a regular expression, the way patternmatcher translates it."""
    out = ["^"]
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*" and pattern[i + 1 : i + 2] == "*":
            i += 2
            if pattern[i : i + 1] == "/":
                i += 1
            out.append(".*" if i >= len(pattern) else "(.*/)?")
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\":
            if i + 1 < len(pattern):
                i += 1
                out.append(re.escape(pattern[i]))
            else:
                out.append("\\\\")
        elif ch in "[]":
            out.append(ch)
        elif ch in ".+()|{}$^":
            out.append("\\" + ch)
        else:
            out.append(ch)
        i += 1
    out.append("$")
    try:
        return re.compile("".join(out), re.S)
    except re.error:
        return re.compile(re.escape(pattern) + "$")  # a pattern go's filepath.Match refuses: never matches more


def left_out(path: str, rules: tuple[Rule, ...]) -> bool:
    """Whether PATH (relative, slash-separated) is left out of the context by RULES."""
    parents = path.split("/")[:-1]
    matched = False
    for rule in rules:
        if rule.exclusion != matched:
            continue
        hit = bool(rule.regex.match(path))
        if not hit:
            hit = any(rule.regex.match("/".join(parents[: i + 1])) for i in range(len(parents)))
        if hit:
            matched = not rule.exclusion
    return matched


def context_digest(root: str, ignore_text: str) -> str:
    """The sha256 of the context ROOT as BuildKit would send it with the ignore rules of
    IGNORE_TEXT: every path kept, in order, with its kind, execute bit, link target and
    content. A directory left out whole is not walked (no rule could bring anything back)."""
    rules = read_rules(ignore_text)
    reinclude = any(r.exclusion for r in rules)
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(root, followlinks=False):
        rel_folder = os.path.relpath(folder, root)
        rel_folder = "" if rel_folder == "." else rel_folder.replace(os.sep, "/")
        kept_dirs = []
        for name in sorted(dirs):
            rel = f"{rel_folder}/{name}".lstrip("/")
            full = os.path.join(folder, name)
            if os.path.islink(full):
                files.append(name)  # a symlink to a directory is a link, not a folder to walk
                continue
            if left_out(rel, rules) and not reinclude:
                continue
            kept_dirs.append(name)
            if not left_out(rel, rules):
                digest.update(f"d {rel}\0".encode())
        dirs[:] = kept_dirs
        for name in sorted(files):
            rel = f"{rel_folder}/{name}".lstrip("/")
            if left_out(rel, rules):
                continue
            _add_file(digest, os.path.join(folder, name), rel)
    return "sha256:" + digest.hexdigest()


def _add_file(digest: hashlib._Hash, full: str, rel: str) -> None:
    st = os.lstat(full)
    if stat.S_ISLNK(st.st_mode):
        digest.update(f"l {rel}\0{os.readlink(full)}\0".encode())
    elif stat.S_ISREG(st.st_mode):
        digest.update(f"f {rel}\0{'x' if st.st_mode & 0o111 else '-'}\0".encode())
        with open(full, "rb") as f:
            for chunk in iter(lambda: f.read(CHUNK), b""):
                digest.update(chunk)
        digest.update(b"\0")
    else:
        digest.update(f"o {rel}\0".encode())  # a FIFO or a socket: BuildKit sends its kind only
