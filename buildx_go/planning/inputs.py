"""What decides an image, by content: the record a published index carries (pure).

A build's inputs are the build context by content (project/context.py: the files the ignore
rules keep), the Dockerfile as built (generated or adapted text), its base images as
written, each build arg and label, the platforms, the other options that change the image
(attestations, compression, network, ...), and buildx-go's own version. Not the terminal,
the environment, log options, the workdir, the builder, cache options or the tags: those do
not change what is built. Each part is kept as a digest (build-arg values are never
written as they are), and the whole as one digest.

The build puts them on the index it pushes, as the annotation ``dev.buildx-go.inputs``
(``--annotation index:...``). A later run, on any machine, computes its own and reads the
version tags' index: the same digest (and its base images still where they were) means
nothing needs building (run/uptodate.py); otherwise ``changed`` names what differs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import attrs

from buildx_go import __version__
from buildx_go.dockerfile.parse import Dockerfile
from buildx_go.dockerfile.stages import base_image

ANNOTATION = "dev.buildx-go.inputs"
FORMAT = 1
VERIFIED = ("strict", "allow-non-go")
# options whose values are parts of their own, or that do not change the image
SEPARATE = frozenset({"--platform", "--file", "--build-arg", "--label", "--annotation"})
UNRELATED = frozenset({"--builder", "--tag", "--progress", "--metadata-file", "--cache-from", "--cache-to"})
# --output keys that only say where the image goes
WHERE = ("name=", "push=", "push-by-digest=", "store=", "type=")


@attrs.frozen
class Inputs:
    """The parts that decide an image (name -> digest or short text) and their digest."""

    parts: Mapping[str, str]
    commit: str | None = None  # the git commit built (said, not compared: the context is)
    # how its images are verified before any version tag is written (strict | allow-non-go):
    # said, not compared (it does not change the image)
    verified: str | None = None

    @property
    def digest(self) -> str:
        text = json.dumps(dict(sorted(self.parts.items())), separators=(",", ":"))
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()

    def to_json(self) -> str:
        """The annotation's value: compact JSON, its keys in order."""
        record: dict[str, Any] = {"format": FORMAT, "digest": self.digest, "parts": dict(sorted(self.parts.items()))}
        if self.commit:
            record["commit"] = self.commit
        if self.verified:
            record["verified"] = self.verified
        return json.dumps(record, separators=(",", ":"))

    def to_dict(self) -> dict[str, Any]:
        return json.loads(self.to_json())  # type: ignore[no-any-return]

    @classmethod
    def from_json(cls, text: str | None) -> Inputs | None:
        """The record in an annotation's TEXT; None when there is none or it is not one."""
        try:
            data = json.loads(text or "")
            parts = {str(k): str(v) for k, v in data["parts"].items()}
            verified = str(data["verified"]) if data.get("verified") in VERIFIED else None
            found = cls(parts, str(data["commit"]) if data.get("commit") else None, verified)
            return found if data.get("format") == FORMAT and data.get("digest") == found.digest else None
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


def sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def inputs_of(argv: tuple[str, ...], env: Mapping[str, str], dockerfile: str, context: str) -> Inputs:
    """The inputs of the build ARGV (`docker buildx build ...`, run with ENV added) of
    DOCKERFILE's text, whose context has the digest CONTEXT."""
    parts: dict[str, str] = {"context": context, "dockerfile": sha(dockerfile), "buildx-go": __version__}
    parts["from"] = " ".join(_bases(dockerfile))
    other: list[str] = [f"{k}={v}" for k, v in sorted(env.items())]
    for flag, value in _options(list(argv[3:-1])):  # after `docker buildx build`, before the context
        if flag == "--platform":
            parts["platforms"] = str(value)
        elif flag in ("--build-arg", "--label"):
            key, _, val = str(value).partition("=")
            parts[f"{flag[2:]} {key}"] = sha(val)
        elif flag == "--output":
            other.append("--output " + ",".join(p for p in str(value).split(",") if not p.startswith(WHERE)))
        elif flag not in SEPARATE | UNRELATED:
            other.append(flag if value is None else f"{flag} {value}")
    parts["options"] = sha("\0".join(other))
    return Inputs(parts)


VALUED = SEPARATE | UNRELATED | {"--output", "--network", "--secret", "--ssh", "--target"}


def _options(words: list[str]) -> list[tuple[str, str | None]]:
    """(flag, its value or None) of buildx build's options, `--flag=value` or `--flag value`."""
    out: list[tuple[str, str | None]] = []
    i = 0
    while i < len(words):
        name, eq, value = words[i].partition("=")
        if eq and name in VALUED:
            out.append((name, value))
            i += 1
        elif words[i] in VALUED:
            out.append((words[i], words[i + 1] if i + 1 < len(words) else ""))
            i += 2
        else:
            out.append((words[i], None))
            i += 1
    return out


def _bases(text: str) -> list[str]:
    """The images the Dockerfile's stages start from, as written (ARG defaults expanded)."""
    try:
        df = Dockerfile.parse(text)
    except Exception:  # a Dockerfile BuildKit will refuse: its text is a part anyway
        return []
    names = {s.name for s in df.stages if s.name}
    return [base_image(df, s) for s in df.stages if s.base not in names and s.base != "scratch"]


def changed(was: Inputs, now: Inputs, files: tuple[str, ...] = ()) -> str:
    """What differs between the inputs an image was built from (WAS) and this build's (NOW),
    named: the base images (as written), each build arg and label, the platforms, the build
    context (FILES: the files that differ, when git can tell), the Dockerfile, the other
    options, buildx-go's version."""
    said = []
    bases = was.parts.get("from") != now.parts.get("from")
    if bases:
        said.append(f"base images {was.parts.get('from') or '-'} -> {now.parts.get('from') or '-'}")
    for key in sorted(set(was.parts) | set(now.parts)):
        if key.startswith(("build-arg ", "label ")) and was.parts.get(key) != now.parts.get(key):
            kind, name = key.split(" ", 1)
            state = "new" if key not in was.parts else "gone" if key not in now.parts else "changed"
            said.append(f"{kind.replace('-', ' ')} {name} ({state})")
    if was.parts.get("platforms") != now.parts.get("platforms"):
        said.append(f"the platforms {was.parts.get('platforms')} -> {now.parts.get('platforms')}")
    if was.parts.get("context") != now.parts.get("context"):
        shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        said.append(f"the build context ({shown})" if files else "the build context")
    if was.parts.get("dockerfile") != now.parts.get("dockerfile") and not bases:
        said.append("the Dockerfile")
    if was.parts.get("options") != now.parts.get("options"):
        said.append("the build options (attestations, output, network)")
    if was.parts.get("buildx-go") != now.parts.get("buildx-go"):
        said.append(f"buildx-go {was.parts.get('buildx-go')} -> {now.parts.get('buildx-go')}")
    return ", ".join(said) or "the inputs' record"
