"""The package layout: every module imports only from its own layer or the layers below it (LAYERS), and the
import graph has no circles."""
import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "handpose"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """Every handpose module the file imports, lazy imports inside functions included."""
    return imports_of_source(path.read_text(), path, modules)


def imports_of_source(source: str, path: Path, modules: set[str]) -> set[str]:
    """As imports_of, for ``source`` as if it were the file at ``path``."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(source)):
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
    for home in ("pose/model.py", "codec.py", "backbones.py", "detect/codec.py", "pipeline.py", "data/datasets",
                 "train/loop.py", "apps/cli.py", "apps/web/app.py"):
        assert (PKG / home).exists(), home


# The layers, lowest first: a module may import from its own layer and the ones before it, never after.
LAYERS = [
    ("shared", ["handpose.errors", "handpose.skeleton", "handpose.io", "handpose.defaults", "handpose.checkpoint",
                "handpose.draw", "handpose.backbones", "handpose.codec", "handpose.smoothing",
                "handpose.release"]),
    ("data", ["handpose.data"]),
    ("stages", ["handpose.weights", "handpose.pose", "handpose.detect", "handpose.side", "handpose.gesture"]),
    ("pipeline", ["handpose.pipeline", "handpose.tracking"]),
    ("training", ["handpose.train"]),
    ("apps", ["handpose.apps", "handpose"]),  # "handpose": the package's own __init__, the public API
]


def layer_of(module: str) -> int:
    """The layer of the longest prefix that names the module (so handpose.pose.x is a stage, not an app)."""
    best, length = None, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > length:
                best, length = i, len(p)
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best


def test_every_module_imports_only_from_its_layer_or_below():
    files = sorted(PKG.rglob("*.py"))
    modules = {module_name(f) for f in files}
    upward = []
    for f in files:
        name = module_name(f)
        for target in imports_of(f, modules):
            if not target.startswith(name + ".") and layer_of(target) > layer_of(name):
                upward.append(f"{name} ({LAYERS[layer_of(name)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})")
    assert not upward, "imports that run up a layer:\n" + "\n".join(upward)


def test_the_layer_check_sees_an_upward_import():
    """The check above is real: a data module importing the pipeline would be named."""
    probe = PKG / "data" / "_layer_probe.py"  # never written: its source is parsed as if it were there
    modules = {module_name(f) for f in PKG.rglob("*.py")} | {"handpose.data._layer_probe"}
    found = imports_of_source("from ..pipeline import HandPipeline\n", probe, modules)
    assert found == {"handpose.pipeline"}
    assert layer_of("handpose.pipeline") > layer_of("handpose.data._layer_probe")


def test_commands_live_in_apps():
    """Every `handpose` command is a module of apps/, and no library module holds a command line."""
    from handpose.apps.cli import COMMANDS

    assert all(module.startswith("handpose.apps.") for module, _ in COMMANDS.values()), COMMANDS
    outside = [str(f.relative_to(PKG)) for f in PKG.rglob("*.py") if "apps" not in f.relative_to(PKG).parts
               and any(isinstance(n, ast.FunctionDef) and n.name == "add_arguments" for n in ast.parse(f.read_text()).body)]
    assert not outside, f"command lines outside apps/: {outside}"
