"""The package's structure: no module of ganutils imports, directly or through others, the one importing it."""

import ast
import tomllib
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "ganutils"


def module_name(path):
    """`ganutils/gan/base.py` is `ganutils.gan.base`; a package's `__init__.py` is the package."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path, modules):
    """The ganutils modules that a file imports, at its top or inside functions."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ganutils"):
            for alias in node.names:  # `from ganutils import data` imports the module ganutils.data
                name = f"{node.module}.{alias.name}"
                imported.add(name if name in modules else node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names if alias.name.startswith("ganutils"))
    return imported & modules


def import_graph():
    """Each ganutils module and the ganutils modules it imports."""
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    modules = set(paths)
    return {name: imported_modules(path, modules) - {name} for name, path in paths.items()}


def find_circle(graph):
    """A list of modules that import each other in a circle, or None."""
    done, on_path = set(), []

    def visit(module):
        if module in on_path:
            return on_path[on_path.index(module):] + [module]
        if module in done:
            return None
        on_path.append(module)
        for imported in sorted(graph[module]):
            circle = visit(imported)
            if circle:
                return circle
        on_path.pop()
        done.add(module)
        return None

    return next(filter(None, map(visit, sorted(graph))), None)


def test_no_module_imports_itself_back():
    circle = find_circle(import_graph())
    assert circle is None, " -> ".join(circle)


def test_the_circle_finder_finds_a_circle():
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_circle({"a": {"b"}, "b": set()}) is None


def test_each_backend_has_a_step_module():
    from ganutils.config import BACKENDS

    assert {f"{backend}_step.py" for backend in BACKENDS} <= {path.name for path in (PACKAGE / "gan").iterdir()}


def test_each_backend_is_an_extra_of_the_package():
    from ganutils.config import BACKENDS

    extras = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert sorted(extras) == sorted(BACKENDS)
