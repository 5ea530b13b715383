"""What a benchmark result records and how it is written: the date, the command line, the machine and its
load, Markdown tables, and the Markdown report with its data as JSON beside it."""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from collections.abc import Iterable
from pathlib import Path


def utc_now() -> str:
    """``2026-12-02 02:24 UTC``: the date stamp every result carries."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def command_line(module: str, argv: list[str] | None) -> str:
    """How to run this again: ``python -m benchmarks.NAME ARGS`` (``argv`` None: this process's arguments)."""
    return f"python -m {module} " + shlex.join(sys.argv[1:] if argv is None else argv)


def load_average() -> float:
    """The 1-minute load average: other jobs share these cores, and this says how much (2.0 = both busy)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def machine() -> dict:
    """The machine a run was measured on, as ``finetune.json`` stores it (``finetune_tables.machine_line``)."""
    from hf_emotion.evaluation.machine import cpu_count, cpu_model

    cpu = cpu_model()
    try:
        import torch

        threads, gpu = (
            torch.get_num_threads(),
            (torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"),
        )
        torch_version = torch.__version__
    except ImportError:  # pragma: no cover
        threads, gpu, torch_version = None, "unknown", "none"
    return {
        "nproc": cpu_count(),
        "cpu": cpu,
        "gpu": gpu,
        "torch_threads": threads,
        "torch": torch_version,
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    """A Markdown table: the header, its rule, a line a row."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def write_report(output: str | Path, lines: list[str], data=None, *, json_newline: bool = False) -> str:
    """Write the Markdown ``lines`` to ``output`` and, when given, ``data`` as JSON beside it (same name,
    ``.json``; ending in a newline with ``json_newline``); print the Markdown and return it."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    if data is not None:
        output.with_suffix(".json").write_text(json.dumps(data, indent=1) + ("\n" if json_newline else ""))
    text = "\n".join(lines)
    output.write_text(text)
    print(text)
    return text
