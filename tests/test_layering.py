"""Static checks of the package layers, from the source (nothing imported):

- ``parallel/`` is generic: it imports nothing from ``dycore``;
- mpi4py and mpi4jax are imported only in ``parallel/``;
- private APIs (``jax._src``, ``mpi4jax._src``) only in ``parallel/compat.py``;
- no import cycle between the modules of ``dycore`` and ``parallel``,
  counting every import statement, also those inside functions.
"""
from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("dycore", "parallel")


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, pathlib.Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def imported(path: pathlib.Path, known) -> list[str]:
    """Every module named by an import statement of ``path`` (absolute names;
    ``from a.b import c`` names ``a.b.c`` when that is a module, else ``a.b``)."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                names.append(full if full in known else base)
    return names


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: {m for m in imported(path, known) if m in known and m != name}
            for name, path in known.items()}


def find_cycle(edges: dict[str, set[str]]):
    """One import cycle as a list of modules, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_find_cycle_detects_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycles():
    cycle = find_cycle(graph())
    assert cycle is None, " -> ".join(cycle)


def test_parallel_imports_nothing_from_dycore():
    known = modules()
    offenders = [f"{name}: {m}" for name, path in known.items() if name.startswith("parallel")
                 for m in imported(path, set()) if m.split(".")[0] == "dycore"]
    assert not offenders, offenders


@pytest.mark.parametrize("package", ["mpi4py", "mpi4jax"])
def test_mpi_only_in_parallel(package):
    offenders = [name for name, path in modules().items() if not name.startswith("parallel")
                 for m in imported(path, set()) if m.split(".")[0] == package]
    assert not offenders, offenders


def test_private_apis_only_in_the_compat_module():
    offenders = [f"{name}: {m}" for name, path in modules().items() if name != "parallel.compat"
                 for m in imported(path, set()) if "._src" in m or m.startswith("_src")]
    assert not offenders, offenders


def test_import_dycore_has_no_side_effects():
    """``import dycore`` imports no JAX (a Ctrl-C during the driver's start-up
    is then caught early) and, once JAX is loaded, has switched on neither
    64-bit mode nor any XLA flag."""
    import os
    import subprocess
    import sys

    code = ("import os, sys, dycore; assert 'jax' not in sys.modules, 'jax imported'; "
            "from dycore import Config, Simulation; import jax; "
            "assert not jax.config.jax_enable_x64, 'x64 on'; "
            "assert os.environ.get('XLA_FLAGS', '') == '', os.environ.get('XLA_FLAGS')")
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
