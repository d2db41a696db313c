"""dvc.yaml declares what each stage's script really uses, so that DVC reruns a stage whenever a
module it imports or a params.yaml key it reads changes."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = "avatar_type"
SCRIPTS = sorted((ROOT / "stages").glob("*.py"))


def _stages() -> dict[str, dict[str, Any]]:
    """Stage name -> the body that holds cmd, deps and params (``do`` of a foreach stage)."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    return {name: body.get("do", body) for name, body in stages.items()}


def _stages_running(script: Path) -> dict[str, dict[str, Any]]:
    rel = script.relative_to(ROOT).as_posix()
    found = {}
    for name, body in _stages().items():
        cmds = body["cmd"] if isinstance(body["cmd"], list) else [body["cmd"]]
        if any(rel in re.findall(r"stages/[\w.]+\.py", cmd) for cmd in cmds):
            found[name] = body
    return found


def _module_file(module: str) -> Path | None:
    base = SRC.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_modules(path: Path) -> set[str]:
    """Package modules ``path`` imports, anywhere in the file; ``from a import b`` counts ``a.b``
    when b is a submodule. Every parent package counts too: Python runs its ``__init__``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    ours = {m for m in found if m.split(".")[0] == PACKAGE and _module_file(m)}
    parts = [m.split(".") for m in ours]
    return ours | {".".join(p[:i]) for p in parts for i in range(1, len(p))}


def _closure(script: Path) -> set[str]:
    """Repository-relative paths of the script and every package module it imports, recursively."""
    seen: set[Path] = set()
    todo = [script]
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo.extend(_module_file(m) for m in _imported_modules(path))
    return {p.relative_to(ROOT).as_posix() for p in seen}


def _covered(path: str, deps: list[str]) -> bool:
    return any(path == d.rstrip("/") or path.startswith(d.rstrip("/") + "/") for d in deps)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_imported_module_is_a_dependency(script):
    stages = _stages_running(script)
    assert stages, f"no stage of dvc.yaml runs {script.name}"
    closure = _closure(script)
    for name, body in stages.items():
        missing = sorted(p for p in closure if not _covered(p, body.get("deps", [])))
        assert not missing, f"stage {name!r} imports modules missing from its deps: {missing}"


def test_imports_count_submodules_and_parent_packages(tmp_path):
    script = tmp_path / "stage.py"
    script.write_text(
        "import avatar_type.labels\n"
        "from avatar_type.viz import eval_plots\n"
        "from avatar_type.evaluate.run import evaluate_run\n"
        "import numpy\n",
        encoding="utf-8",
    )
    assert _imported_modules(script) == {
        "avatar_type",
        "avatar_type.labels",
        "avatar_type.viz",
        "avatar_type.viz.eval_plots",
        "avatar_type.evaluate",
        "avatar_type.evaluate.run",
    }


# ---- params.yaml keys ----


def _params_reads(script: Path, roots: tuple[str, ...] = ()) -> set[str]:
    """Dotted params.yaml paths a file reads from ``load_yaml(args.params)`` or from a variable
    named in ``roots`` (a stage entry's ``params`` argument).

    Seen: constant subscripts (``params["train"]["models"]``), ``.get("key")`` and
    ``section(mapping, "key", ...)`` on that object, directly or through variables assigned from
    it (``cfg = params["split"]`` then ``cfg["fractions"]``).
    Not seen: the object or a section handed whole to a helper (``model_config(params, ...)``
    reads ``models.<name>``), keys chosen at run time (``cfg["scenarios"][args.scenario]``,
    checked only up to ``split.scenarios``), and any params file the helpers open themselves.
    Those are left to review of dvc.yaml.
    """
    tree = ast.parse(script.read_text(encoding="utf-8"))
    aliases: dict[str, str] = dict.fromkeys(roots, "")

    def path_of(node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            return aliases.get(node.id)
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", None)) == "load_yaml"
            and len(node.args) == 1
            and getattr(node.args[0], "attr", None) == "params"
        ):
            return ""
        key, base = None, None
        if isinstance(node, ast.Subscript):
            key, base = node.slice, node.value
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "get":
                key, base = node.args[0], func.value
            elif getattr(func, "id", None) == "section" and len(node.args) > 1:
                key, base = node.args[1], node.args[0]
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            return None
        prefix = path_of(base)
        return None if prefix is None else f"{prefix}.{key.value}".lstrip(".")

    # aliases of aliases: repeat until no assignment adds one
    assigns = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name)
    ]
    while True:
        new = {
            a.targets[0].id: p
            for a in assigns
            if a.targets[0].id not in aliases and (p := path_of(a.value)) is not None
        }
        if not new:
            break
        aliases.update(new)
    return {p for n in ast.walk(tree) if (p := path_of(n))}


def _declared_params(body: dict[str, Any]) -> list[str]:
    """params.yaml entries of a stage, with each ``${...}`` interpolation as a ``*`` wildcard."""
    entries = []
    for entry in body.get("params", []):
        if isinstance(entry, str):
            entries.append(entry)
        elif isinstance(entry, dict):
            entries.extend(entry.get("params.yaml") or [])
    return [re.sub(r"\$\{[^}]*\}", "*", e) for e in entries]


def _param_covered(read: str, declared: list[str]) -> bool:
    """A read is covered by an entry at, above or below it (``train`` by ``train.device``)."""
    parts = read.split(".")
    for entry in declared:
        keys = entry.split(".")
        if all(a == b or a == "*" for a, b in zip(keys, parts, strict=False)):
            return True
    return False


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_read_params_key_is_declared(script):
    # the script hands params.yaml to its entry, avatar_type.stages.<name>.run, which reads it
    entries = sorted(p for p in _closure(script) if p.startswith(f"src/{PACKAGE}/stages/"))
    reads = _params_reads(script).union(*(_params_reads(ROOT / p, ("params",)) for p in entries))
    for name, body in _stages_running(script).items():
        declared = _declared_params(body)
        missing = sorted(r for r in reads if not _param_covered(r, declared))
        assert not missing, f"stage {name!r} reads params missing from its params: {missing}"


def test_params_reads_follow_aliases(tmp_path):
    script = tmp_path / "stage.py"
    script.write_text(
        "params = load_yaml(args.params)\n"
        "seed = load_yaml(args.params)['seed']\n"
        "cfg = params['a']\n"
        "inner = cfg['b']\n"
        "inner.get('c')\n"
        "section(cfg, 'd', int, 'a')\n"
        "section(params, 'f.g', int, 'params.yaml')\n"
        "other = load_yaml('sources.yaml')['e']\n",
        encoding="utf-8",
    )
    assert _params_reads(script) == {"seed", "a", "a.b", "a.b.c", "a.d", "f.g"}
    entry = tmp_path / "entry.py"
    entry.write_text("def run(params):\n    section(params, 'h', int)\n", encoding="utf-8")
    assert _params_reads(entry, ("params",)) == {"h"}
    assert _param_covered("a", ["a.d"]) and _param_covered("a.b.c", ["a.*"])
    assert not _param_covered("a.b", ["a.d"])
