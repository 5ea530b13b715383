"""A fresh virtual environment that sees this interpreter's libraries but not its hf_emotion.

Installing torch, transformers and gradio into a truly empty venv takes minutes and the network,
so the venv reuses the running interpreter's site-packages through a ``.pth`` line. A path
added that way is not scanned for ``.pth`` files itself, so the editable install's import hook
(``__editable__.hf_emotion-*.pth``) does not run there: ``import hf_emotion`` fails until
something is installed into (or placed beside) the venv's own code. :func:`fresh_venv` checks
exactly that before handing the venv over, so a test that passes cannot have used the checkout.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import venv
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
#: What a copy of the checkout leaves out: version control, build output, runs and caches.
NOT_SOURCE = (
    ".git",
    "build",
    "dist",
    "outputs",
    "runs",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    ".venv",
)


def copy_checkout(target: Path) -> Path:
    """A copy of the checkout's source at ``target``: setuptools builds in the source tree, and a stale build/
    in the checkout could leak into the wheel."""
    shutil.copytree(REPOSITORY, target, symlinks=True, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    return target


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a process in the fresh venv: no PYTHONPATH, no user site, no Hub."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(PYTHONNOUSERSITE="1", HF_HUB_OFFLINE="1", PIP_DISABLE_PIP_VERSION_CHECK="1", **extra)
    return env


def fresh_venv(folder: Path, libraries: list[Path] | None = None) -> Path:
    """Create a venv in ``folder`` over this interpreter's libraries (or over ``libraries``); return its ``python``."""
    venv.EnvBuilder(with_pip=False).create(folder)
    python = folder / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    base = [str(path) for path in libraries] if libraries is not None else site.getsitepackages()
    (Path(purelib) / "_base_libraries.pth").write_text("\n".join(base) + "\n")
    probe = subprocess.run(
        [python, "-c", "import hf_emotion"], capture_output=True, text=True, cwd=folder, env=clean_env()
    )
    if probe.returncode == 0:
        raise RuntimeError(
            f"hf_emotion is importable in a fresh venv over {site.getsitepackages()} (a non-editable "
            "install there?): the test could not tell the installed package from that one"
        )
    return python


def run_in(
    python: Path, *args: str, cwd: Path, timeout: float = 600, **env: str
) -> subprocess.CompletedProcess:
    """Run ``python args...`` in ``cwd`` with :func:`clean_env`; fail with its output when it fails."""
    done = subprocess.run(
        [str(python), *args], capture_output=True, text=True, cwd=cwd, env=clean_env(**env), timeout=timeout
    )
    if done.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done


__all__ = ["clean_env", "fresh_venv", "run_in"]
