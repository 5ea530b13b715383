"""The demo's "calibrate with your voice", measured on voices a model never heard.

For each speaker of a test corpus, ``N`` clips drawn at random (a fixed seed) are the calibration clips,
what a visitor gives the demo; every other clip of that speaker is then judged against those alone, one
at a time, as the demo judges a new recording (``SpeakerAdaptiveHead.probabilities_against``). The same
clips are also scored clip by clip by the model's own heads. UA is over the labels head and corpus share
(``--labels`` adds a fixed subset). Unlike ``speaker_adaptive.py``, where each speaker is standardised on
all of their test clips at once, a judged clip never takes part in another clip's standardisation.

Usage::

    python benchmarks/calibration.py --model tiny.en-crema-d-fold0=/models/crema-d \\
        --test ravdess-speech=ravdess_speech:/data/ravdess-speech --calibration_clips 4 10 \\
        --labels shared angry,happy,neutral,sad

The model folder needs a speaker-adaptive head (``hf-emotion adapt``); speakers it trained or chose its
checkpoint on (its ``splits.json``) are left out. Writes ``benchmarks/results/calibration.md`` (+ JSON).
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cross_corpus import RESULTS, TestSet, heard_speakers, named_path, unseen_clips  # noqa: E402
from speaker_adaptive import Encoder  # noqa: E402

from hf_emotion.evaluation.cross_corpus import match_labels, restricted_probabilities  # noqa: E402
from hf_emotion.evaluation.machine import describe_machine  # noqa: E402
from hf_emotion.evaluation.metrics import classification_metrics  # noqa: E402
from hf_emotion.serving.speaker_adaptive import SpeakerAdaptiveHead  # noqa: E402

logger = logging.getLogger("calibration")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", type=named_path, required=True, help="name=folder with a speaker-adaptive head"
    )
    parser.add_argument("--test", type=TestSet.parse, action="append", required=True)
    parser.add_argument("--calibration_clips", type=int, nargs="+", default=[4, 10])
    parser.add_argument("--labels", nargs="+", default=["shared"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--max_seconds", type=float, default=20.0)
    parser.add_argument("--output", default=str(RESULTS / "calibration.md"))
    return parser.parse_args(argv)


def split_calibration(speakers: list[str], n: int, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per speaker with more than ``n`` clips, the indices of ``n`` random calibration clips; and the indices
    of every other clip of those speakers (the judged ones)."""
    rng = np.random.default_rng(seed)
    calibration, judged = {}, []
    for speaker in sorted(set(speakers)):
        clips = rng.permutation([i for i, s in enumerate(speakers) if s == speaker])
        if len(clips) > n:
            calibration[speaker] = clips[:n]
            judged += list(clips[n:])
    return calibration, np.asarray(sorted(judged), dtype=int)


def calibrated_probabilities(head, hidden, speakers, calibration, judged) -> np.ndarray:
    """Each judged clip standardised with its speaker's calibration clips only, as the demo does."""
    rows = [head.probabilities_against(hidden[[i]], hidden[calibration[speakers[i]]])[0] for i in judged]
    return np.stack(rows)


def score(encoder, head, encoded, corpus_labels, subset, n: int, seed: int) -> dict:
    """Clip-by-clip and calibrated UA of the judged clips whose label is scored."""
    match = match_labels(head.labels, corpus_labels, subset)
    speakers = encoded["speakers"]
    calibration, judged = split_calibration(speakers, n, seed)
    judged = np.asarray([i for i in judged if encoded["labels"][i] in match.labels], dtype=int)
    truth = [match.labels.index(encoded["labels"][i]) for i in judged]
    hidden = encoded["hidden"]
    clip = restricted_probabilities(encoder.probabilities(hidden[judged]), encoder.labels, match.labels)
    calibrated = restricted_probabilities(
        calibrated_probabilities(head, hidden, speakers, calibration, judged), head.labels, match.labels
    )
    return {
        "calibration_clips": n,
        "labels": match.labels,
        "judged_clips": len(judged),
        "speakers": len(calibration),
        "clip_ua": classification_metrics(truth, clip.argmax(1), match.labels)["ua"],
        "calibrated_ua": classification_metrics(truth, calibrated.argmax(1), match.labels)["ua"],
    }


def markdown(model_name: str, results: list[dict], started: str, command: str) -> list[str]:
    lines = [
        f"## Calibrated to a voice, as the demo does: {model_name}",
        "",
        f"Machine: {describe_machine()}. Date: {started}. Each speaker's calibration clips are drawn at random; "
        "every other clip of the speaker is judged against them alone, one at a time (the demo's "
        "'Calibrate with your voice'), and clip by clip by the model's own heads.",
        "",
        "| test set | labels | calibration clips per speaker | judged clips (speakers) | clip by clip UA | "
        "calibrated UA |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['test']} | {', '.join(r['labels'])} | {r['calibration_clips']} | {r['judged_clips']} "
            f"({r['speakers']}) | {r['clip_ua']:.3f} | {r['calibrated_ua']:.3f} |"
        )
    return [*lines, "", f"Command: `{command}`", ""]


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    model_name, path = args.model
    head = SpeakerAdaptiveHead.load(path)
    encoder = Encoder(path, args.batch_size, args.max_seconds)
    results = []
    for test in args.test:
        decoded = unseen_clips(test.load(encoder.sampling_rate), heard_speakers(path))
        encoded = encoder.encode(decoded, test.name)
        corpus_labels = decoded.features["emotion"].names
        for label_set in args.labels:
            subset = None if label_set == "shared" else label_set.split(",")
            for n in args.calibration_clips:
                row = score(encoder, head, encoded, corpus_labels, subset, n, args.seed)
                results.append({"test": test.name, "label_set": label_set} | row)
                logger.info("%s (%s, %d clips): clip %.3f, calibrated %.3f", test.name, label_set, n,
                            row["clip_ua"], row["calibrated_ua"])  # fmt: skip
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.with_suffix(".json").write_text(json.dumps(results, indent=1))
    command = "python benchmarks/calibration.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    output.write_text("\n".join(markdown(model_name, results, started, command)))
    print(output.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
