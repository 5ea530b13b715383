"""The demo's "calibrate with your voice", measured on voices a model never heard.

For each speaker of a test corpus, ``N`` clips drawn at random (a fixed seed) are the calibration clips,
what a visitor gives the demo; every other clip of that speaker is then judged against those alone, one
at a time, as the demo judges a new recording (``SpeakerAdaptiveHead.probabilities_against``). The same
clips are also scored clip by clip by the model's own heads. UA is over the labels head and corpus share
(``--labels`` adds a fixed subset). Unlike ``speaker_adaptive_ua``, where each speaker is standardised on
all of their test clips at once, a judged clip never takes part in another clip's standardisation.

Usage::

    python -m benchmarks.voice_calibration --model tiny.en-crema-d-fold0=/models/crema-d \\
        --test ravdess-speech=ravdess_speech:/data/ravdess-speech --calibration_clips 4 10 \\
        --labels shared angry,happy,neutral,sad

The model folder needs a speaker-adaptive head (``hf-emotion adapt``); speakers it trained or chose its
checkpoint on (its ``splits.json``) are left out. Writes ``benchmarks/results/calibration.md`` (+ JSON).
"""

from __future__ import annotations

import logging

import numpy as np

from benchmarks.common.arguments import add_output, scoring_parser
from benchmarks.common.encoding import Encoder
from benchmarks.common.reports import command_line, table, utc_now, write_report
from benchmarks.common.runs import heard_speakers
from benchmarks.common.scoring import label_subset, unseen_clips
from hf_emotion import SpeakerAdaptiveHead
from hf_emotion.evaluation.cross_corpus import match_labels, restricted_probabilities
from hf_emotion.evaluation.machine import describe_machine
from hf_emotion.evaluation.metrics import classification_metrics

logger = logging.getLogger("voice_calibration")


def parse_args(argv=None):
    parser = scoring_parser(
        __doc__, repeated_models=False, model_help="name=folder with a speaker-adaptive head"
    )
    parser.add_argument("--calibration_clips", type=int, nargs="+", default=[4, 10])
    parser.add_argument("--seed", type=int, default=0)
    add_output(parser, "calibration.md")
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
    header = ["test set", "labels", "calibration clips per speaker", "judged clips (speakers)"]
    rows = [
        [
            r["test"],
            ", ".join(r["labels"]),
            f"{r['calibration_clips']}",
            f"{r['judged_clips']} ({r['speakers']})",
        ]
        + [f"{r['clip_ua']:.3f}", f"{r['calibrated_ua']:.3f}"]
        for r in results
    ]
    return [
        f"## Calibrated to a voice, as the demo does: {model_name}",
        "",
        f"Machine: {describe_machine()}. Date: {started}. Each speaker's calibration clips are drawn at random; "
        "every other clip of the speaker is judged against them alone, one at a time (the demo's "
        "'Calibrate with your voice'), and clip by clip by the model's own heads.",
        "",
        *table([*header, "clip by clip UA", "calibrated UA"], rows),
        "",
        f"Command: `{command}`",
        "",
    ]


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    started = utc_now()
    model_name, path = args.model
    head = SpeakerAdaptiveHead.load(path)
    encoder = Encoder(path, args.batch_size, args.max_seconds)
    results = []
    for test in args.test:
        decoded = unseen_clips(test.load(encoder.sampling_rate), heard_speakers(path))
        encoded = encoder.encode(decoded, test.name)
        corpus_labels = decoded.features["emotion"].names
        for label_set in args.labels:
            for n in args.calibration_clips:
                row = score(encoder, head, encoded, corpus_labels, label_subset(label_set), n, args.seed)
                results.append({"test": test.name, "label_set": label_set} | row)
                logger.info("%s (%s, %d clips): clip %.3f, calibrated %.3f", test.name, label_set, n,
                            row["clip_ua"], row["calibrated_ua"])  # fmt: skip
    command = command_line("benchmarks.voice_calibration", argv)
    write_report(args.output, markdown(model_name, results, started, command), results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
