"""How speech is framed in each corpus, and how much emotion the framing alone gives away.

For every clip: its length, and the silence before and after its speech, found by the energy trim
and by Silero VAD (:mod:`hf_emotion.data.framing`). Then a classifier that sees only those
durations (no audio) is trained and tested on the same 6 speaker folds as fine-tuning: its UA is
the shortcut a model can take without listening to the voice.

    python -m benchmarks.framing_shortcut --data ravdess-speech=../shared/data/ravdess-speech \\
        --data crema-d-subset=../shared/data/crema-d-subset

Writes ``benchmarks/results/framing_shortcut.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from benchmarks.common.paths import RESULTS
from benchmarks.common.reports import load_average, utc_now
from hf_emotion.corpora import load_corpus
from hf_emotion.data.audio import decode_audio
from hf_emotion.data.framing import energy_speech_span, vad_speech_span
from hf_emotion.data.splits import make_split
from hf_emotion.evaluation.machine import describe_machine
from hf_emotion.evaluation.metrics import classification_metrics

RATE = 16_000
#: ``--data`` names → how the corpus loads (the run files' names).
CORPORA = {
    "ravdess-speech": ("ravdess", {"channel": "speech"}),
    "ravdess-song": ("ravdess", {"channel": "song"}),
    "crema-d-subset": ("crema_d", {}),
}
FEATURES = {
    "everything": (
        "seconds",
        "lead_energy",
        "speech_energy",
        "trail_energy",
        "lead_vad",
        "speech_vad",
        "trail_vad",
    ),
    "clip length": ("seconds",),
    "speech length (VAD)": ("speech_vad",),
    "silence before and after (VAD)": ("lead_vad", "trail_vad"),
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", action="append", default=[], help="name=folder, name one of " + ", ".join(CORPORA)
    )
    parser.add_argument("--num_folds", type=int, default=6)
    parser.add_argument("--output", default=str(RESULTS / "framing_shortcut"), help="path without extension")
    parser.add_argument(
        "--render", action="store_true", help="only write the Markdown again from OUTPUT.json (no measuring)"
    )
    args = parser.parse_args(argv)
    if not args.data and not args.render:
        parser.error("give --data name=folder (or --render to rewrite the Markdown from the JSON)")
    for item in args.data:
        name, _, folder = item.partition("=")
        if name not in CORPORA or not folder:
            parser.error(f"--data {item}: give name=folder with name one of {', '.join(CORPORA)}")
    return args


def clip_framing(path: str) -> dict[str, float]:
    """Seconds of the clip, and of the silence before, the speech, the silence after (energy and VAD)."""
    samples = decode_audio(path, RATE)
    row = {"seconds": len(samples) / RATE}
    spans = {"energy": energy_speech_span(samples, RATE), "vad": vad_speech_span(samples, RATE)}
    for method, span in spans.items():
        start, end = span if span and span[1] > span[0] else (0, len(samples))
        row |= {
            f"lead_{method}": start / RATE,
            f"speech_{method}": (end - start) / RATE,
            f"trail_{method}": (len(samples) - end) / RATE,
        }
    return row


def by_emotion(rows: list[dict], emotions: list[str]) -> dict[str, dict[str, float]]:
    table = {}
    for index, emotion in enumerate(emotions):
        chosen = [row for row in rows if row["label"] == index]
        table[emotion] = {key: float(np.mean([row[key] for row in chosen])) for key in FEATURES["everything"]}
        table[emotion]["clips"] = len(chosen)
    return table


def shortcut_ua(rows: list[dict], dataset, emotions: list[str], columns, num_folds: int) -> list[float]:
    """Test UA per speaker fold of a random forest on ``columns`` alone, trained on the other speakers."""
    from sklearn.ensemble import RandomForestClassifier

    x = np.array([[row[c] for c in columns] for row in rows])
    y = np.array([row["label"] for row in rows])
    speakers = np.array(dataset["speaker"])
    scores = []
    for fold in range(num_folds):
        split = make_split(dataset, num_folds=num_folds, fold=fold)
        test = np.isin(speakers, split.test)  # train on train + validation speakers: nothing is tuned
        forest = RandomForestClassifier(n_estimators=300, min_samples_leaf=3, random_state=0, n_jobs=1)
        forest.fit(x[~test], y[~test])
        scores.append(classification_metrics(y[test], forest.predict(x[test]), emotions)["ua"])
    return scores


def measure(name: str, folder: str, num_folds: int) -> dict:
    corpus, options = CORPORA[name]
    dataset = load_corpus(corpus, folder, **options)
    emotions = dataset.features["emotion"].names
    rows = []
    for path, label in tqdm(
        zip(dataset["audio"], dataset["emotion"], strict=True), total=len(dataset), desc=name
    ):
        rows.append(clip_framing(path) | {"label": label})
    result = {"clips": len(rows), "speakers": len(set(dataset["speaker"])), "emotions": emotions}
    result["by_emotion"] = by_emotion(rows, emotions)
    result["shortcut_ua"] = {}
    for what, columns in FEATURES.items():
        folds = shortcut_ua(rows, dataset, emotions, columns, num_folds)
        result["shortcut_ua"][what] = {"mean": float(np.mean(folds)), "folds": folds}
    result["chance_ua"] = 1 / len(emotions)
    return result


def provenance(report: dict) -> str:
    return (
        f"Measured {report['date']} on {report['machine']} (load average {report['load_average']} at the start), "
        f"`{report['command']}`."
    )


def mean_and_range(rows: list[dict], key: str) -> str:
    """The mean over clips of the per-emotion means (weighted by clips), and their range."""
    values = [row[key] for row in rows]
    mean = sum(v * row["clips"] for v, row in zip(values, rows, strict=True)) / sum(
        row["clips"] for row in rows
    )
    return f"{mean:.2f} ({min(values):.2f}-{max(values):.2f})"


def summary_markdown(report: dict) -> str:
    """The short table BENCHMARKS.md shows: each corpus's framing and the UA its durations alone give."""
    lines = [
        "## Framing: the silence around speech, and what it gives away",
        "",
        "Seconds of silence before and after the speech (Silero VAD), mean over clips (range of the per-emotion "
        "means), and the UA of a random forest that sees only the clip's durations (clip, speech and silences, "
        "by VAD and by energy), trained and tested on the 6 speaker folds of fine-tuning. By emotion: "
        "[benchmarks/DETAILS.md](benchmarks/DETAILS.md#framing-by-emotion).",
        "",
        "| corpus | clips | silence before | speech | silence after | UA from durations alone | chance |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, result in report["corpora"].items():
        rows = list(result["by_emotion"].values())
        lead, speech, trail = (mean_and_range(rows, key) for key in ("lead_vad", "speech_vad", "trail_vad"))
        lines.append(
            f"| {name} | {result['clips']} | {lead} | {speech} | {trail} | "
            f"{result['shortcut_ua']['everything']['mean']:.3f} | {result['chance_ua']:.3f} |"
        )
    return "\n".join([*lines, "", provenance(report)])


def by_emotion_markdown(report: dict) -> str:
    """The per-emotion tables and the shortcut by feature set, for DETAILS.md."""
    lines = ["### Framing by emotion", "", provenance(report), ""]
    for name, result in report["corpora"].items():
        lines += [
            f"**{name}** ({result['clips']} clips, {result['speakers']} speakers): mean seconds by emotion",
            "",
            "| emotion | clips | clip | silence before (VAD) | speech (VAD) | silence after (VAD) | speech (energy) |",
            "|---|---|---|---|---|---|---|",
        ]
        for emotion, row in result["by_emotion"].items():
            lines.append(
                f"| {emotion} | {row['clips']} | {row['seconds']:.2f} | {row['lead_vad']:.2f} | "
                f"{row['speech_vad']:.2f} | {row['trail_vad']:.2f} | {row['speech_energy']:.2f} |"
            )
        lines += ["", "| a classifier that sees only | UA, 6 speaker folds (mean) |", "|---|---|"]
        for what, score in result["shortcut_ua"].items():
            lines.append(f"| {what} | {score['mean']:.3f} |")
        lines += [f"| (chance) | {result['chance_ua']:.3f} |", ""]
    return "\n".join(lines)


def write_markdown(report: dict, output: str) -> None:
    Path(f"{output}.md").write_text(summary_markdown(report) + "\n")
    Path(output).with_name("framing_by_emotion.md").write_text(by_emotion_markdown(report) + "\n")


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.render:
        write_markdown(json.loads(Path(f"{args.output}.json").read_text()), args.output)
        return 0
    started = time.time()
    report = {
        "date": utc_now(),
        "machine": describe_machine(),
        "load_average": round(load_average(), 2),
        "command": "python -m benchmarks.framing_shortcut "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "corpora": {},
    }
    for item in args.data:
        name, _, folder = item.partition("=")
        report["corpora"][name] = measure(name, folder, args.num_folds)
    report["seconds"] = round(time.time() - started, 1)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(f"{args.output}.json").write_text(json.dumps(report, indent=1) + "\n")
    write_markdown(report, args.output)
    print(summary_markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
