"""The package's layout keeps its promises: no import cycles, serving never imports training, short modules."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import hf_emotion

PACKAGE = Path(hf_emotion.__file__).resolve().parent
#: May exceed the length limit: saved beside the weights as remote code, it must stay one self-contained file.
LONG_ALLOWED = {"model/modeling_emotion.py"}
MAX_LINES = 500


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``path`` imports, at any depth of the file (deferred imports too)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in walk_outside_type_checking(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            candidates = [target] + [f"{target}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        found.update(c for c in candidates if c in known)
    return found - {name}


def walk_outside_type_checking(tree: ast.AST):
    """``ast.walk``, less the bodies of ``if TYPE_CHECKING:`` (imports for editors only, never run)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            todo.extend(node.orelse)
        else:
            todo.extend(ast.iter_child_nodes(node))


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    known = set(files)
    return {name: imported_modules(path, known) for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = defaultdict(int)  # 0 new, 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state[nxt] == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if state[nxt] == 0 and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if state[node] == 0 and (cycle := visit(node)):
            return cycle
    return None


def test_modules_import_no_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_serving_imports_nothing_from_training():
    offending = {
        name: sorted(d for d in deps if d.startswith("hf_emotion.training"))
        for name, deps in import_graph().items()
        if name.startswith(("hf_emotion.serving", "hf_emotion.app"))
    }
    assert not {name: deps for name, deps in offending.items() if deps}


def test_remote_code_imports_only_its_siblings():
    model = PACKAGE / "model"
    for name in ("configuration_emotion.py", "modeling_emotion.py", "pipeline_emotion.py", "rate_check.py"):
        for node in ast.walk(ast.parse((model / name).read_text())):
            if isinstance(node, ast.ImportFrom) and (
                node.level or (node.module or "").startswith("hf_emotion")
            ):
                assert node.level == 1 and node.module in {
                    "configuration_emotion",
                    "pipeline_emotion",
                    "rate_check",
                }, name


def test_no_module_is_longer_than_a_few_screens():
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
        and str(p.relative_to(PACKAGE)) not in LONG_ALLOWED
    }
    assert not long
