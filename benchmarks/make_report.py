#!/usr/bin/env python
"""Assemble BENCHMARKS.md from the snippets in benchmarks/results/*.md.

    python benchmarks/make_report.py [--output BENCHMARKS.md]

Order: fine-tuning (``finetune*.md``), baselines (``baselines.md``), inference speed
(``inference.md``), then any other snippet alphabetically. A snippet that does not exist yet
is listed as missing rather than silently left out. The header states the date and the
machine this report was assembled on; each snippet states where its own numbers were measured.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT / "benchmarks"))

ORDER = ["finetune*.md", "baselines.md", "inference.md"]
PRODUCERS = {
    "finetune*.md": "python benchmarks/run_finetune.py collect RUN_DIR ...",
    "baselines.md": "python benchmarks/run_baselines.py",
    "inference.md": "python benchmarks/inference_speed.py",
}


def snippets(results: Path) -> tuple[list[Path], list[str]]:
    """The snippets in report order, and the expected ones still missing."""
    found, missing, seen = [], [], set()
    for pattern in ORDER:
        paths = sorted(results.glob(pattern))
        if not paths:
            missing.append(f"`{pattern}` (made by `{PRODUCERS[pattern]}`)")
        for path in paths:
            found.append(path)
            seen.add(path)
    found += [p for p in sorted(results.glob("*.md")) if p not in seen]
    return found, missing


def build(results: Path = RESULTS) -> str:
    from run_finetune import machine, machine_line

    found, missing = snippets(results)
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmarks",
        "",
        f"Assembled {date} on {machine_line(machine())} by `python benchmarks/make_report.py` from "
        "`benchmarks/results/*.md`. Every section says how, where and when its numbers were measured; "
        "all emotion numbers are speaker-independent (test speakers never heard in training or model "
        "selection) unless a row says otherwise.",
        "",
    ]
    if found:
        lines += ["Sections: " + ", ".join(f"`{p.name}`" for p in found), ""]
    if missing:
        lines += ["Not measured yet: " + "; ".join(missing), ""]
    body = [p.read_text().strip() + "\n" for p in found]
    return "\n".join(lines) + "\n" + "\n".join(body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--results", default=str(RESULTS))
    args = parser.parse_args(argv)
    Path(args.output).write_text(build(Path(args.results)))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
