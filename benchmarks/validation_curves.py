"""Validation UA per epoch, on whole clips and on clips cut to their speech, of trained runs.

Reads each run's ``trainer_state.json`` (the newest checkpoint's, or the run folder's) and writes a table with
one row per epoch and, for each run, the validation UA on whole clips (``eval_ua``) and on the same clips cut
to their speech by Silero VAD (``eval_trimmed_ua``, logged with ``--validate_trimmed``): how a recipe choice
such as ``--speech_framing_seconds`` was judged, on validation speakers only.

    python -m benchmarks.validation_curves --run current=/work/runs/framing-A --run framed=/work/runs/framing-B \\
        --output benchmarks/results/validation_framing.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.common.arguments import named_path
from benchmarks.common.reports import command_line, table, utc_now, write_report


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", action="append", type=named_path, required=True, help="name=run folder")
    parser.add_argument(
        "--title", default="Validation UA per epoch: whole clips and clips cut to their speech"
    )
    parser.add_argument("--output", required=True, help="the .md to write (the .json goes beside it)")
    return parser.parse_args(argv)


def trainer_state(run_dir: Path) -> dict:
    """The run's ``trainer_state.json``: its own, else its newest checkpoint's."""
    checkpoints = sorted(
        run_dir.glob("checkpoint-*/trainer_state.json"), key=lambda p: int(p.parent.name[11:])
    )
    found = [path for path in (run_dir / "trainer_state.json", *reversed(checkpoints)) if path.is_file()]
    if not found:
        raise SystemExit(f"--run {run_dir}: no trainer_state.json there or in a checkpoint-N folder")
    return json.loads(found[0].read_text())


def curves(state: dict) -> dict[int, dict[str, float]]:
    """Epoch → ``{"whole": UA, "trimmed": UA}`` from the Trainer's log history."""
    by_epoch: dict[int, dict[str, float]] = {}
    for entry in state["log_history"]:
        epoch = round(float(entry.get("epoch", 0)))
        for key, name in (("eval_ua", "whole"), ("eval_trimmed_ua", "trimmed")):
            if key in entry:
                by_epoch.setdefault(epoch, {})[name] = float(entry[key])
    return by_epoch


KINDS = ("whole", "trimmed")


def cell(by_epoch: dict[int, dict[str, float]], epoch: int, kind: str) -> str:
    value = by_epoch.get(epoch, {}).get(kind)
    return "–" if value is None else f"{value:.3f}"


def main(argv=None) -> int:
    args = parse_args(argv)
    runs = {name: curves(trainer_state(Path(path))) for name, path in args.run}
    epochs = sorted({epoch for by_epoch in runs.values() for epoch in by_epoch})
    header = ["epoch"] + [f"{name}: {kind}" for name in runs for kind in KINDS]
    rows = [
        [str(epoch)] + [cell(runs[name], epoch, kind) for name in runs for kind in KINDS] for epoch in epochs
    ]
    lines = [
        f"## {args.title}",
        "",
        *table(header, rows),
        "",
        "Validation speakers only (the test speakers chose nothing), read from each run's trainer_state.json "
        f"on {utc_now()}: `{command_line('benchmarks.validation_curves', argv)}`.",
    ]
    data = {
        "runs": {name: {str(epoch): ua for epoch, ua in by_epoch.items()} for name, by_epoch in runs.items()}
    }
    write_report(args.output, [*lines, ""], data, json_newline=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
