"""The shape of the package, kept true by tests: a thin CLI, small functions, a pure
decision and plan that reach no effect, options declared once, the README in step."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

from buildx_go.cli import main as cli
from buildx_go.config import Settings
from buildx_go.options import BUILDING, config_key, env_name, flag, markdown_table, specs
from buildx_go.planning import plan

PACKAGE = Path(__file__).parents[2] / "buildx_go"
ROOT = Path(__file__).parents[2]
README = ROOT / "README.md"
REFERENCE = ROOT / "docs" / "reference.md"
# The layers, bottom first: a module imports from its own package and the ones below it,
# never from one above (at run time, lazily inside a function, or for type hints alike).
# Top-level modules are the vocabulary every layer speaks; __main__ is the top.
LAYERS = ("", "engine", "registry", "verify", "project", "dockerfile", "planning", "run", "cli")
# The shell's modules: what touches docker, a registry, git, processes, the host's Go, files.
EFFECTS = {"engine.docker", "registry.client", "registry.credentials", "cli.effects", "cli.facts", "run.execute"}
EFFECTS |= {"run.steps", "cli.main", "cli.doctor", "verify.check", "engine.early", "engine.spawn", "engine.stamps"}
EFFECT_STDLIB = {"subprocess", "urllib", "socket", "http", "shutil", "tempfile", "fcntl"}


def modules() -> list[str]:
    """Every module of the package, as dotted names below buildx_go ("planning.decide")."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("")
        out.append(".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts) or "__init__")
    return out


def source(name: str) -> Path:
    path = PACKAGE.joinpath(*name.split(".")).with_suffix(".py")
    return path if path.exists() else PACKAGE.joinpath(*name.split("."), "__init__.py")


def module_imports(name: str, everywhere: bool = False) -> set[str]:
    """What module NAME imports when it is imported (module level, not under TYPE_CHECKING);
    EVERYWHERE: every import it holds, lazy ones and type-only ones included. Our own
    modules as dotted names below buildx_go, others by their top-level name."""
    tree = ast.parse(source(name).read_text())
    nodes: list[ast.AST] = []
    if everywhere:
        nodes = list(ast.walk(tree))
    else:
        for node in tree.body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, (ast.Import, ast.ImportFrom, ast.If, ast.Try)):
                nodes += list(ast.walk(node))
    found: set[str] = set()
    for sub in nodes:
        if isinstance(sub, ast.Import):
            found |= {a.name for a in sub.names}
        elif isinstance(sub, ast.ImportFrom) and sub.module:
            if sub.module == "buildx_go" or (
                sub.module.startswith("buildx_go.")
                and sub.module.count(".") == 1
                and (PACKAGE / sub.module.split(".")[1]).is_dir()
            ):
                base = sub.module
                found |= {
                    f"{base}.{a.name}"
                    if (PACKAGE.joinpath(*f"{base}.{a.name}".split(".")[1:]).with_suffix(".py").exists())
                    else base
                    for a in sub.names
                }
            else:
                found.add(sub.module)
    out = set()
    for imported in found:
        if imported == "buildx_go":
            out.add("__init__")
        elif imported.startswith("buildx_go."):
            out.add(imported.removeprefix("buildx_go."))
        else:
            out.add("stdlib:" + imported.split(".")[0])
    return out


def closure(name: str) -> set[str]:
    """Every module of ours (dotted) and stdlib top-level name (stdlib:NAME) reached from NAME
    when it is imported, with the packages on the way (importing a.b runs a/__init__)."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        if current.startswith("stdlib:"):
            continue
        todo += list(module_imports(current))
        if "." in current:
            todo.append(current.split(".")[0])
    return seen


def layer(name: str) -> int:
    if name == "__main__":
        return len(LAYERS)
    return LAYERS.index(name.split(".")[0] if "." in name or (PACKAGE / name).is_dir() else "")


def test_no_import_runs_up_a_layer() -> None:
    upward = []
    for name in modules():
        for imported in module_imports(name, everywhere=True):
            if imported.startswith("stdlib:") or imported == "__init__":
                continue
            if layer(imported) > layer(name):
                upward.append(f"{name} -> {imported}")
    assert upward == []
    top = [p.name for p in PACKAGE.glob("*.py")]
    assert len(top) <= 12, top
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()} == set(LAYERS[1:])


def test_the_decision_and_the_plan_reach_no_effect() -> None:
    for module in ("planning.decide", "planning.plan", "planning.argv"):
        reached = closure(module)
        ours = {m for m in reached if not m.startswith("stdlib:")}
        stdlib = {m.removeprefix("stdlib:") for m in reached if m.startswith("stdlib:")}
        assert not ours & EFFECTS, (module, ours & EFFECTS)
        assert not stdlib & EFFECT_STDLIB, (module, stdlib & EFFECT_STDLIB)


def test_the_cli_is_thin_and_functions_are_small() -> None:
    assert len((PACKAGE / "cli" / "main.py").read_text().splitlines()) < 250
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > 60:
                    long.append(f"{path.name}:{node.name} ({lines} lines)")
    assert long == []
    assert len(inspect.signature(plan.make_plan).parameters) <= 5


def test_every_option_is_one_declaration_reaching_every_layer() -> None:
    parser = cli.parser()
    build_flags = {o for a in parser._subparsers._group_actions[0].choices["build"]._actions for o in a.option_strings}  # type: ignore[union-attr]
    for name, spec in specs(Settings):
        assert spec.help and spec.commands, name
        if "build" in spec.commands:
            assert flag(name) in build_flags, name
        if spec.kind == "flag":
            assert f"--no-{config_key(name)}" in build_flags or "build" not in spec.commands, name
    fields = [f.name for f in Settings.__attrs_attrs__]  # type: ignore[attr-defined]
    assert fields[-1] == "sources" and len(list(specs(Settings))) == len(fields) - 1
    assert env_name("base_image") == "BUILDX_GO_BASE_IMAGE" and config_key("base_image") == "base-image"
    assert all(c in BUILDING for c in ("build", "plan", "dockerfile"))


def test_the_reference_option_table_is_the_generated_one() -> None:
    text = REFERENCE.read_text()
    m = re.search(r"<!-- options:begin -->\n(.*?)\n<!-- options:end -->", text, re.S)
    assert m, "docs/reference.md has no generated option table (between <!-- options:begin/end -->)"
    assert m.group(1) == markdown_table(Settings), "regenerate it: scripts/readme-options"


def test_completion_scripts_know_every_command_and_option() -> None:
    from buildx_go.cli.completion import SHELLS, script

    parser = cli.parser()
    for shell in SHELLS:
        text = script(shell, parser)
        for command in cli.SUBCOMMANDS:
            assert command in text, (shell, command)
        for name, _ in specs(Settings):
            bare = flag(name).removeprefix("--")
            assert bare in text, (shell, name)
    assert "complete -F _buildx_go buildx-go" in script("bash", parser)
    assert script("zsh", parser).startswith("#compdef buildx-go")
    assert "complete -c buildx-go -n '__fish_seen_subcommand_from build' -l platform" in script("fish", parser)


def test_the_ci_examples_run_commands_buildx_go_accepts() -> None:
    from tests.examples import buildx_go_commands

    for name in ("github-actions.yml", "gitlab-ci.yml"):
        commands = buildx_go_commands(name, {"${{ github.repository }}": "owner/repo"})
        assert commands, name
        for argv in commands:
            ns = cli.parser().parse_args(argv[1:])
            assert ns.command == "build" and ns.push and ns.cache == "registry", (name, argv)


def test_the_config_file_schema_is_generated_and_checks_the_examples() -> None:
    import json
    import tomllib

    import jsonschema

    from buildx_go.config import resolve
    from buildx_go.options import json_schema

    shipped = json.loads((PACKAGE / "buildx-go.schema.json").read_text())
    assert shipped == json_schema(Settings), "regenerate it: scripts/readme-options"
    validator = jsonschema.Draft202012Validator(shipped)
    examples = sorted((PACKAGE.parent / "examples").rglob("*.toml"))
    assert examples
    for path in examples:
        data = tomllib.loads(path.read_text())
        assert not list(validator.iter_errors(data)), path
        resolve({}, {}, {k.replace("-", "_"): v for k, v in data.get("build", data).items()}, checked=False)
    for bad in ({"colour": "red"}, {"push": "maybe"}, {"strategy": "fastest"}, {"build": {"platform": 5}}):
        assert list(validator.iter_errors(bad)), bad
    assert not list(validator.iter_errors({"base_image": "x", "build-arg": ["A=1"]}))
