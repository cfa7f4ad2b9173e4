"""The package layout is the data flow: no import cycles among aptk modules, and no module of a
lower layer imports a higher one (imports inside functions count too).

    core -> synth -> tokens -> data -> train -> posttrain -> evals -> analysis -> pipeline -> bench
"""

from __future__ import annotations

import ast
from pathlib import Path

import aptk

PKG = Path(aptk.__file__).parent
LAYERS = [
    "core",
    "synth",
    "tokens",
    "data",
    "train",
    "posttrain",
    "evals",
    "analysis",
    "pipeline",
    "bench",
]


def module_name(f: Path) -> str:
    parts = ["aptk", *f.relative_to(PKG).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(f): f for f in sorted(PKG.rglob("*.py"))}


def imports(f: Path, mods: dict[str, Path]) -> set[str]:
    """aptk modules `f` imports anywhere (top level or inside functions), resolved to modules."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(f.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from pkg import submodule` depends on the submodule; `from mod import name` on mod
            names = [
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in mods else node.module
                for a in node.names
            ]
        for n in names:
            if not n.startswith("aptk"):
                continue
            while n and n not in mods:  # `from aptk.x import func` -> aptk.x
                n = n.rpartition(".")[0]
            if n and n != "aptk":
                out.add(n)
    return out


def layer(mod: str) -> int:
    parts = mod.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else -1


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {m: imports(f, mods) - {m} for m, f in mods.items()}


def test_every_subpackage_has_a_layer() -> None:
    subs = sorted(p.name for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").is_file())
    assert set(subs) <= set(LAYERS) | {"conf"}, f"give {set(subs) - set(LAYERS)} a layer"


def test_no_import_goes_up_a_layer() -> None:
    bad = [
        f"{m} ({LAYERS[layer(m)]}) imports {d} ({LAYERS[layer(d)]})"
        for m, deps in graph().items()
        for d in sorted(deps)
        if layer(d) > layer(m)
    ]
    assert not bad, "\n".join(bad)


def test_no_import_cycles() -> None:
    g = graph()
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(g.get(m, ())):
            if state.get(d) == 1:
                cycles.append(" -> ".join(stack[stack.index(d) :] + [d]))
            elif d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m)
    assert not cycles, "\n".join(cycles)


def test_the_checker_sees_a_planted_violation(tmp_path: Path) -> None:
    """The import parser resolves `from aptk.x import name` and function-level imports."""
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from aptk.pipeline.arm import run\n")
    assert imports(f, modules()) == {"aptk.pipeline.arm"}
