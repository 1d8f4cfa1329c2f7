"""How an option is declared: once, as a field of ``config.Settings`` made by ``option()``.

Each field's metadata holds its ``Spec`` (help, default as written, parser, commands, help
group, argparse shape). From the fields come the command line (``add_options``), the
``BUILDX_GO_*`` environment and ``.buildx-go.toml`` keys (``config.resolve``), shell
completion (completion.py) and the option table of docs/reference.md (``markdown_table``). Adding an
option is one ``option(...)`` field plus its use.
"""

from __future__ import annotations

import argparse
import difflib
import re
from collections.abc import Callable, Iterator
from typing import Any, Literal, NoReturn

import attrs

Kind = Literal["value", "flag", "list"]
BUILD = frozenset({"build"})
BUILDING = frozenset({"build", "plan", "dockerfile"})  # the commands that read a project
COMMANDS = ("build", "plan", "dockerfile", "doctor", "verify", "completion", "install-plugin")
GLOBAL = frozenset(COMMANDS)  # accepted before or after the command


@attrs.frozen
class Spec:
    """What one option is, besides its name and type (the Settings field's)."""

    help: str
    default: Any  # as a user would write it (string, bool, tuple): parsed like any value
    parse: Callable[[Any], Any]
    commands: frozenset[str]
    group: str  # help group: image, Dockerfile, build, builder, output
    kind: Kind
    choices: tuple[str, ...] = ()
    short: str | None = None  # e.g. -f
    aliases: tuple[str, ...] = ()  # other long flags, kept for compatibility
    metavar: str | None = None


def option(
    default: Any,
    help: str,
    *,
    parse: Callable[[Any], Any] = str,
    commands: frozenset[str] = BUILDING,
    group: str = "build",
    kind: Kind = "value",
    choices: tuple[str, ...] = (),
    short: str | None = None,
    aliases: tuple[str, ...] = (),
    metavar: str | None = None,
) -> Any:
    """A Settings field that is an option (an attrs field carrying its Spec)."""
    spec = Spec(help, default, parse, commands, group, kind, choices, short, aliases, metavar)
    return attrs.field(metadata={"spec": spec})


def specs(cls: type) -> Iterator[tuple[str, Spec]]:
    """(name, Spec) of every option field of CLS, in declaration order."""
    for f in attrs.fields(cls):
        if "spec" in f.metadata:
            yield f.name, f.metadata["spec"]


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def env_name(name: str) -> str:
    return "BUILDX_GO_" + name.upper()


def config_key(name: str) -> str:
    return name.replace("_", "-")


class Parser(argparse.ArgumentParser):
    """argparse as buildx-go wants it: options spelt out (no abbreviations: `--pus` is no
    `--push`), and an unknown option or command answered with the closest known one."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        kw["allow_abbrev"] = False
        super().__init__(*args, **kw)

    def error(self, message: str) -> NoReturn:
        super().error(message + did_you_mean(self, message))


def did_you_mean(parser: argparse.ArgumentParser, message: str) -> str:
    """ " (did you mean --push?)" for the first unknown option or command MESSAGE names, if
    one of PARSER's (or its subcommands') is close enough."""
    known: set[str] = set()
    commands: list[str] = []
    for action in parser._actions:
        known.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            commands += list(action.choices)
            for sub in action.choices.values():
                known.update(o for a in sub._actions for o in a.option_strings)
    bad = re.search(r"invalid choice: '([^']*)'", message)
    if bad and commands:
        close = difflib.get_close_matches(bad.group(1), commands, n=1)
        return f" (did you mean {close[0]}?)" if close else ""
    top = {o for a in parser._actions for o in a.option_strings}
    for word in re.findall(r"(--?[\w-]+)", message.partition("arguments:")[2] or ""):
        if word == "--version":  # `build --version 1.2.3`: the image's version is a tag
            return " (the image's version is --tag; buildx-go's own is `buildx-go --version`)"
        if word in top:  # known, but only before the command
            return f" ({word} goes before the command: {parser.prog} {word} COMMAND ...)"
        close = difflib.get_close_matches(word.split("=")[0], sorted(known), n=1, cutoff=0.6)
        if close:
            return f" (did you mean {close[0]}?)"
    return ""


def add_options(parser: argparse.ArgumentParser, cls: type, command: str | None) -> None:
    """Every option of CLS that COMMAND takes, in its help group (COMMAND None: the global
    options, for the top-level parser). Values not given stay None; a subcommand's copies of
    the global options leave the attribute alone (SUPPRESS) unless given after it."""
    groups: dict[str, argparse._ArgumentGroup] = {}
    for name, spec in specs(cls):
        is_global = spec.commands == GLOBAL
        if (command is None and not is_global) or (command is not None and command not in spec.commands):
            continue
        group = groups.get(spec.group) or groups.setdefault(spec.group, parser.add_argument_group(spec.group))
        flags = [flag(name), *spec.aliases, *([spec.short] if spec.short else [])]
        kw: dict[str, Any] = {"dest": name, "help": _help(spec)}
        kw["default"] = argparse.SUPPRESS if is_global and command is not None else None
        if spec.kind == "flag":
            kw["action"] = argparse.BooleanOptionalAction
        else:
            kw["action"] = "append" if spec.kind == "list" else "store"
            # choices are checked by the option's parser, like any other value: one ERROR line
            kw["metavar"] = spec.metavar or ("{" + ",".join(spec.choices) + "}" if spec.choices else name.upper())
        group.add_argument(*flags, **kw)


def _help(spec: Spec) -> str:
    shown = default_text(spec)
    text = spec.help.replace("%", "%%")
    return f"{text} (default: {shown})" if shown else text


def default_text(spec: Spec) -> str:
    if spec.default in (None, (), ""):
        return ""
    if spec.kind == "flag":
        return "on" if spec.default else "off"
    if isinstance(spec.default, tuple):
        return ",".join(spec.default)
    return str(spec.default)


def markdown_table(cls: type) -> str:
    """The option table of docs/reference.md: every option, where it can be set, its default."""
    lines = [
        "| option | commands | environment | `.buildx-go.toml` | default | meaning |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, spec in specs(cls):
        shape = "" if spec.kind == "flag" else f" {spec.metavar or name.upper()}"
        if spec.choices:
            shape = " " + "\\|".join(spec.choices)
        names = f"`{flag(name)}{shape}`" + ("".join(f", `{a}`" for a in spec.aliases))
        if spec.kind == "flag":
            names += f" / `--no-{config_key(name)}`"
        commands = "all" if spec.commands == GLOBAL else ", ".join(c for c in COMMANDS if c in spec.commands)
        repeat = " (repeatable)" if spec.kind == "list" else ""
        default = default_text(spec).replace("|", "\\|") or "–"
        help_text = spec.help.replace("|", "\\|") + repeat
        lines.append(f"| {names} | {commands} | `{env_name(name)}` | `{config_key(name)}` | {default} | {help_text} |")
    return "\n".join(lines)


def json_schema(cls: type) -> dict[str, Any]:
    """A JSON schema (2020-12) of `.buildx-go.toml` from the options themselves: each key
    (as `base-image` or `base_image`) at the top level or in a `[build]` table, its type,
    its values for a choice, its help as the description. Editors (Taplo, Even Better TOML)
    complete and check the file with it."""
    properties: dict[str, Any] = {}
    for name, spec in specs(cls):
        schema: dict[str, Any] = {"description": spec.help}
        if spec.kind == "flag":
            schema["type"] = "boolean"
        elif spec.choices:
            schema.update(type="string", enum=list(spec.choices))
        elif getattr(spec.parse, "__name__", "") == "_seconds":
            schema.update(type="number", exclusiveMinimum=0, maximum=600)
        elif spec.kind == "list":
            items = [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]
            if name == "build_arg":
                items.append({"type": "object", "additionalProperties": {"type": "string"}})
            schema["anyOf"] = items
        else:
            schema["type"] = "string"
        default = spec.default
        if default not in (None, (), ""):
            schema["default"] = (
                list(default.split(",")) if spec.kind == "list" and isinstance(default, str) else default
            )
        properties[config_key(name)] = schema
        if "_" in name:
            properties[name] = {"$ref": f"#/$defs/options/properties/{config_key(name)}"}
    options = {"type": "object", "properties": properties, "additionalProperties": False}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": ".buildx-go.toml",
        "description": "buildx-go's settings for a project: at the top level or in a [build] table",
        "$defs": {"options": options},
        "anyOf": [
            {"$ref": "#/$defs/options"},
            {"type": "object", "properties": {"build": {"$ref": "#/$defs/options"}}, "additionalProperties": False},
        ],
    }
