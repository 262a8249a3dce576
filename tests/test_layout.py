"""The package layout: every module imports only from below it, so the import graph has no circles."""
import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "handpose"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """Every handpose module the file imports, lazy imports inside functions included."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:  # `from . import metrics` names a module
                if f"{target}.{alias.name}" in modules:
                    found.add(f"{target}.{alias.name}")
            found.add(target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m in modules and m != name}


def test_no_import_circles():
    files = sorted(PKG.rglob("*.py"))
    modules = {module_name(f) for f in files}
    # A package's __init__ re-exporting its children is not a circle back up; leave those edges out.
    graph = {module_name(f): {m for m in imports_of(f, modules) if not m.startswith(module_name(f) + ".")}
             for f in files}
    assert len(graph) > 40 and graph["handpose.pipeline"], "the graph should see the package's modules"

    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = trail[trail.index(nxt):] + [nxt] if nxt in trail else [node, nxt]
                raise AssertionError("import circle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])


def test_stages_have_their_homes():
    for home in ("pose/model.py", "pose/codec.py", "detect/codec.py", "pipeline.py", "data/datasets",
                 "train/loop.py", "apps/cli.py", "apps/web/app.py"):
        assert (PKG / home).exists(), home
