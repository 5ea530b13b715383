"""The package's public names: seen by type checkers, loaded on first use, and cheap to import."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import hf_emotion

INIT = Path(hf_emotion.__file__)


def _type_checking_imports() -> dict[str, str]:
    """name -> module of the imports under ``if TYPE_CHECKING:`` in ``hf_emotion/__init__.py``."""
    tree = ast.parse(INIT.read_text())
    block = next(
        n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING"
    )
    return {
        alias.name: f"hf_emotion{node.module and '.' + node.module}"
        for node in block.body
        for alias in node.names
    }


def test_type_checkers_see_exactly_the_names_loaded_lazily():
    assert _type_checking_imports() == hf_emotion._EXPORTS
    assert sorted(hf_emotion.__all__) == sorted(hf_emotion._EXPORTS)


def test_every_public_name_loads():
    for name in hf_emotion.__all__:
        assert getattr(hf_emotion, name) is not None, name


def test_importing_the_package_loads_neither_torch_nor_transformers():
    code = "import sys, hf_emotion; print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
