"""Does ``--segment vad`` give a single-utterance clip the label of the whole clip?

Usage::

    python -m benchmarks.segment_agreement \\
        --model current-recipe-fold0=/work/runs/framing-A --model speech-framing-fold0=/work/runs/framing-B \\
        --test ravdess-fold0=ravdess_speech:/data/ravdess-speech:/work/runs/framing-A/splits.json

Each model scores its test clips twice through :class:`hf_emotion.EmotionRecognizer`, the code behind
``hf-emotion predict``: whole (the default, ``predict``'s answer) and with ``segment="vad"`` (the
recording's summary, the duration-weighted mean over Silero's speech segments: ``predict --segment vad``'s
``all`` row), once for each ``--vad_pads`` value (``default``: the margin the model's config records, none
when it records none; ``0``: the segments as Silero finds them, the behaviour before margins). A row per
model and pad: the share of clips whose VAD label is the whole clip's, the share where VAD found 0, 1 or 2+
segments (a clip with none gets no label: a disagreement and a miss), the agreement within 1 and 2+
segments, and the UA of each way. ``--test`` is given once (every model on it) or once per ``--model``, in
order; a model that heard a test speaker (its ``splits.json``) is refused. Writes
``benchmarks/results/segment_agreement.md`` and, beside it, JSON with every clip's labels and segments.
"""

from __future__ import annotations

import argparse
import logging
import warnings
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from benchmarks.common.arguments import add_models, add_output, add_test_sets, described_parser
from benchmarks.common.reports import command_line, load_average, table, utc_now, write_report
from benchmarks.common.runs import heard_speakers
from hf_emotion import EmotionRecognizer
from hf_emotion.evaluation.machine import describe_machine
from hf_emotion.evaluation.metrics import classification_metrics

logger = logging.getLogger("segment_agreement")

DEFAULT_PAD = "default"
#: Files handed to the recognizer per call, as ``predict`` does (batch size × 4).
FILES_PER_CALL_FACTOR = 4


def vad_pad(value: str) -> str | float:
    """``--vad_pads`` item: ``default`` (the model's recorded margin) or seconds."""
    if value == DEFAULT_PAD:
        return value
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--vad_pads {value!r}: write 'default' or seconds (0, 0.25, ...)"
        ) from None
    if not 0 <= seconds <= 5:
        raise argparse.ArgumentTypeError(f"--vad_pads {value!r}: seconds must lie in [0, 5]")
    return seconds


def parse_args(argv=None) -> argparse.Namespace:
    parser = described_parser(__doc__)
    add_models(parser, repeated=True)
    add_test_sets(parser)
    parser.add_argument(
        "--vad_pads",
        nargs="+",
        type=vad_pad,
        default=[DEFAULT_PAD, 0.0],
        help="VAD pads to score, a row each: 'default' (the margin the model's config records) or seconds",
    )
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument(
        "--per_clip",
        action="store_true",
        help="also keep every clip's labels and segments in the .json (about 100 kB a model and pad)",
    )
    add_output(parser, "segment_agreement.md")
    parser.add_argument(
        "--title", default="`--segment vad` against the whole clip", help="the report's heading"
    )
    args = parser.parse_args(argv)
    if len(args.test) not in (1, len(args.model)):
        parser.error(
            f"{len(args.model)} --model and {len(args.test)} --test: give one --test for all models, "
            "or one per --model in the same order"
        )
    return args


def model_tests(models: list[tuple[str, str]], tests: list) -> list[tuple[str, str, object]]:
    """``(name, folder, test set)`` per model: the one ``--test`` for all, or the one in its place."""
    tests = tests * len(models) if len(tests) == 1 else tests
    pairs = []
    for (name, path), test in zip(models, tests, strict=True):
        heard = heard_speakers(path) or set()
        if test.split_file:
            from hf_emotion.data.splits import Split

            overlap = heard & set(Split.from_json(test.split_file).test)
            if overlap:
                raise SystemExit(
                    f"--model {name}={path} trained on test speakers of --test {test.name} "
                    f"({', '.join(sorted(overlap))}): give the --test of its own fold"
                )
        pairs.append((name, path, test))
    return pairs


def agreement_summary(
    truth: list[str], whole: list[str | None], vad: list[str | None], segments: list[int], labels: list[str]
) -> dict:
    """How a VAD summary compares with the whole clip: the share of clips with the same label (overall and
    within 1 and 2+ segments), the shares with 0, 1 and 2+ segments, and the UA of each way against
    ``truth``. A clip in which VAD found no speech has no label (``None``): it disagrees and is a miss."""
    segments_array = np.asarray(segments)
    same = np.asarray([v == w for v, w in zip(vad, whole, strict=True)])

    def share(mask: np.ndarray) -> float | None:
        return float(mask.mean()) if len(mask) else None  # None: no clip to share among

    index = {label: i for i, label in enumerate(labels)}
    y_true = [index[label] for label in truth]
    # No label (-1) is never a true class: sklearn warns of it and scores it a miss, as meant.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        ua_whole = classification_metrics(y_true, [index.get(label, -1) for label in whole], labels)["ua"]
        ua_vad = classification_metrics(y_true, [index.get(label, -1) for label in vad], labels)["ua"]
    return {
        "clips": len(truth),
        "agreement": share(same),
        "segments_0": share(segments_array == 0),
        "segments_1": share(segments_array == 1),
        "segments_2plus": share(segments_array >= 2),
        "agreement_1": share(same[segments_array == 1]),
        "agreement_2plus": share(same[segments_array >= 2]),
        "ua_whole": ua_whole,
        "ua_vad": ua_vad,
    }


def predictions(recognizer: EmotionRecognizer, paths: list[str], batch_size: int, description: str) -> list:
    """The recognizer's answers for files, ``predict``'s way: a call per ``batch_size × 4`` files."""
    chunk = batch_size * FILES_PER_CALL_FACTOR
    answers = []
    for begin in tqdm(range(0, len(paths), chunk), desc=description, unit="chunk"):
        answers.extend(recognizer(paths[begin : begin + chunk], batch_size=batch_size))
    return answers


def score_model(name: str, path: str, test, pads: list, batch_size: int) -> dict:
    """One model on its test clips: whole, then VAD at each pad (a pad that comes to the same seconds as one
    already scored is not scored again)."""
    whole_recognizer = EmotionRecognizer.from_pretrained(path, batch_size=batch_size)
    decoded = test.load(whole_recognizer.sampling_rate)
    names = decoded.features["emotion"].names
    truth = [names[i] for i in decoded["emotion"]]
    paths = list(decoded["audio"])
    labels = whole_recognizer.labels
    missing = sorted(set(truth) - set(labels))
    if missing:
        raise SystemExit(f"--test {test.name} has labels {missing} that --model {name} cannot predict")
    whole = predictions(whole_recognizer, paths, batch_size, f"{name}: whole clips")
    margin = whole_recognizer.scorer.speech_margin_seconds
    by_seconds: dict[float, list] = {}
    rows = []
    for pad in pads:
        # The recognizer predict builds for --segment vad [--vad_pad], over the model already loaded.
        recognizer = EmotionRecognizer(
            whole_recognizer.scorer,
            whole_recognizer.options,
            segment="vad",
            vad_pad_seconds=None if pad == DEFAULT_PAD else pad,
        )
        seconds = recognizer.pieces.vad_pad_seconds
        if seconds not in by_seconds:
            by_seconds[seconds] = predictions(
                recognizer, paths, batch_size, f"{name}: VAD, pad {seconds:g} s"
            )
        answers = by_seconds[seconds]
        summary = agreement_summary(
            truth,
            [w.label for w in whole],
            [a.label for a in answers],
            [len(a.timeline or []) for a in answers],
            labels,
        )
        rows.append({"pad": pad, "pad_seconds": seconds} | summary)
        logger.info("%s, pad %s (%g s): %s", name, pad, seconds, summary)
    clips = [
        {
            "file": Path(p).name,
            "speaker": speaker,
            "seconds": round(w.end, 3),
            "truth": t,
            "whole": w.label,
            "whole_confidence": None if w.confidence is None else round(w.confidence, 4),
            "vad": {
                f"{seconds:g}": {
                    "label": answers[i].label,
                    "segments": [[round(s.start, 3), round(s.end, 3)] for s in answers[i].timeline or []],
                    "segment_labels": [s.label for s in answers[i].timeline or []],
                }
                for seconds, answers in by_seconds.items()
            },
        }
        for i, (p, speaker, t, w) in enumerate(zip(paths, decoded["speaker"], truth, whole, strict=True))
    ]
    return {
        "model": name,
        "path": str(path),
        "test": test.name,
        "speech_margin_seconds": margin,
        "rows": rows,
        "clips": clips,
    }


def pad_cell(row: dict, margin: float | None) -> str:
    """``default (0.5 s)`` / ``default (0 s: none recorded)`` / ``0 s``."""
    if row["pad"] != DEFAULT_PAD:
        return f"{row['pad_seconds']:g} s"
    return f"default ({row['pad_seconds']:g} s{'' if margin is not None else ': none recorded'})"


def report_lines(results: list[dict], *, title: str, command: str, date: str, load: float) -> list[str]:
    header = [
        "model", "test", "clips", "VAD pad", "same label", "0 seg.", "1 seg.", "2+ seg.",
        "same label, 1 seg.", "same label, 2+ seg.", "UA whole", "UA VAD",
    ]  # fmt: skip
    percent = lambda value: "-" if value is None else f"{100 * value:.1f} %"  # noqa: E731
    rows = [
        [
            result["model"],
            result["test"],
            str(row["clips"]),
            pad_cell(row, result["speech_margin_seconds"]),
            percent(row["agreement"]),
            percent(row["segments_0"]),
            percent(row["segments_1"]),
            percent(row["segments_2plus"]),
            percent(row["agreement_1"]),
            percent(row["agreement_2plus"]),
            f"{row['ua_whole']:.3f}",
            f"{row['ua_vad']:.3f}",
        ]
        for result in results
        for row in result["rows"]
    ]
    intro = (
        "Each model scored its test clips whole (`hf-emotion predict`'s default) and with `--segment vad` "
        "(the summary over Silero's speech segments, weighted by duration: the `all` row), through "
        "`EmotionRecognizer`, the code `predict` runs. *Same label*: the share of clips whose VAD summary "
        "has the whole clip's label; a clip where VAD found no speech has no label, so it disagrees and "
        "counts as a miss in UA VAD. The pad is the recording kept around each segment (`--vad_pad`); "
        "*default* is the margin the model's config records (`speech_margin_seconds`), 0 when it records "
        f"none. Command: `{command}`. Machine: {describe_machine()}. Date: {date}. "
        f"Load average at the start: {load:.2f}."
    )
    return [f"## {title}", "", intro, "", *table(header, rows), ""]


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    date, load = utc_now(), load_average()
    results = [
        score_model(name, path, test, args.vad_pads, args.batch_size)
        for name, path, test in model_tests(args.model, args.test)
    ]
    command = command_line("benchmarks.segment_agreement", argv)
    lines = report_lines(results, title=args.title, command=command, date=date, load=load)
    if not args.per_clip:
        results = [{k: v for k, v in result.items() if k != "clips"} for result in results]
    write_report(args.output, lines, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
