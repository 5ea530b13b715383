"""``pip install 'hf-emotion[onnx]'`` into a fresh venv that holds only what the package and that extra declare;
``hf-emotion export --quantize int8`` runs there.

onnxruntime 1.32's quantiser began to import ``onnx_ir``, which neither onnxruntime nor onnx declares: installed
as documented, int8 export failed with "No module named 'onnx_ir'". A venv over every library of this
interpreter would not notice (onnx-ir is installed here for the dev extra), so the venv sees a *view* of
site-packages: links to the distributions that the requirements of ``hf-emotion[onnx]`` reach, following each
one's declared requirements (as pip resolves them), plus pip and the build tools. What nobody declared is absent
there, as on a user's fresh machine, and ``--no-index`` keeps pip from fetching it.
"""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.fresh_venv import REPOSITORY, copy_checkout, fresh_venv, run_in
from tests.serving.test_inference import make_emotion_model_dir

tomllib = pytest.importorskip("tomllib")  # Python 3.11+
pytest.importorskip("onnxruntime")

EXTRA = "onnx"
#: What installs and builds the package (those of them installed here), not what it runs on.
INSTALL_TOOLS = ("pip", "setuptools", "wheel")


def declared_requirements(extra: str) -> list[Requirement]:
    """The package's requirements with ``extra``, as pyproject.toml declares them."""
    project = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]
    return [
        Requirement(line) for line in [*project["dependencies"], *project["optional-dependencies"][extra]]
    ]


def requirement_closure(requirements: list[Requirement]) -> dict[str, importlib.metadata.Distribution]:
    """Every installed distribution the requirements reach, following the requirements each one declares (with
    the extras asked of it), by normalised name."""
    found: dict[str, importlib.metadata.Distribution] = {}
    asked: set[tuple[str, frozenset]] = set()
    queue = [(requirement, frozenset([""])) for requirement in requirements]
    while queue:
        requirement, context = queue.pop()
        if requirement.marker and not any(requirement.marker.evaluate({"extra": e}) for e in context):
            continue
        name = canonicalize_name(requirement.name)
        extras = frozenset(requirement.extras) | {""}
        if (name, extras) in asked:
            continue
        asked.add((name, extras))
        try:
            distribution = found.get(name) or importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"{requirement} is declared but not installed here: pip install -e '.[dev]' first")
        found[name] = distribution
        queue += [(Requirement(line), extras) for line in distribution.requires or []]
    return found


def site_packages_view(folder: Path, distributions) -> Path:
    """``folder`` holding links to the top-level files and packages of ``distributions`` (and their metadata)."""
    folder.mkdir(parents=True)
    for distribution in distributions:
        if distribution.files is None:
            pytest.fail(
                f"{distribution.metadata['Name']} was installed without a RECORD: cannot tell its files"
            )
        for top in {file.parts[0] for file in distribution.files if file.parts[0] != ".."}:
            link = folder / top
            if not top.endswith(".pth") and not link.exists():
                link.symlink_to(Path(distribution.locate_file(top)).resolve())
    return folder


@pytest.mark.slow
def test_int8_export_runs_where_only_the_onnx_extra_was_installed(tiny_wav2vec2_dir, tmp_path):
    closure = requirement_closure(declared_requirements(EXTRA))
    tools = [
        d
        for d in importlib.metadata.distributions()
        if canonicalize_name(d.metadata["Name"]) in INSTALL_TOOLS
    ]
    view = site_packages_view(tmp_path / "site-packages", [*closure.values(), *tools])
    python = fresh_venv(tmp_path / "venv", libraries=[view])
    source = copy_checkout(tmp_path / "source")
    run_in(python, "-m", "pip", "install", "-q", "--no-index", "--no-build-isolation", f"{source}[{EXTRA}]",
           cwd=tmp_path, timeout=300)  # fmt: skip

    model = make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path / "model")
    out = tmp_path / "int8"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run_in(python.parent / "hf-emotion", "export", "--model", str(model), "--out", str(out), "--quantize", "int8",
           cwd=elsewhere, timeout=300)  # fmt: skip
    assert json.loads((out / "onnx_export.json").read_text())["quantize"] == "int8"
    used = run_in(python, "-c", "import onnx_ir, hf_emotion; print(onnx_ir.__file__, hf_emotion.__file__)",
                  cwd=elsewhere).stdout.split()  # fmt: skip
    assert all(Path(path).is_relative_to(tmp_path) for path in used), (
        used
    )  # the view and the venv, not the checkout
