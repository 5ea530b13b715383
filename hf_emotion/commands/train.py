"""``hf-emotion train ...``: the same as ``python finetune.py ...`` (flags or a run file)."""

from __future__ import annotations

PASSTHROUGH = True


def run(argv: list[str]) -> int:
    from ..training.finetune import main

    main(argv)
    return 0
