"""``hf-emotion train ...``: the same as ``python finetune.py ...`` (flags or a run file)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

PASSTHROUGH = True


def run(argv: list[str]) -> int:
    script = Path(__file__).resolve().parents[2] / "finetune.py"
    if not script.is_file():
        print(
            "hf-emotion train runs finetune.py from a source checkout (pip install -e .); "
            f"it was not found at {script}",
            file=sys.stderr,
        )
        return 2
    sys.argv = [str(script), *argv]
    namespace = runpy.run_path(str(script), run_name="hf_emotion_train")
    namespace["main"](argv)
    return 0
