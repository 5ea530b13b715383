"""ONNX against torch on real speech: the test speakers of a fine-tuned model's fold.

Exports the model to ONNX float32 and int8 (``hf-emotion export``), scores every RAVDESS clip
of the fold's test speakers (from the model's ``splits.json``) with torch float32 and both
exports, and writes the agreement as Markdown:

* float32 ONNX: the largest absolute difference of any probability from torch's (target ≤ 1e-3);
* int8 ONNX: top-label agreement with torch (target ≥ 97 %) and UA difference (target ≤ 0.01).

Usage::

    python -m benchmarks.onnx_parity --model /work/models/tiny-ravdess-fold0 \\
        --data_dir /work/shared/data/ravdess-speech
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from benchmarks.common.paths import RESULTS
from benchmarks.common.reports import load_average
from benchmarks.common.runs import read_json
from hf_emotion import EmotionRecognizer
from hf_emotion.corpora import RAVDESS_EMOTION_CODES
from hf_emotion.evaluation.machine import cpu_model
from hf_emotion.evaluation.metrics import classification_metrics
from hf_emotion.serving.export import export_onnx

logger = logging.getLogger("onnx_parity")
TARGETS = {"fp32_max_abs": 1e-3, "int8_agreement": 0.97, "int8_ua_difference": 0.01}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="fine-tuned model folder with splits.json")
    parser.add_argument("--data_dir", required=True, help="RAVDESS folder (Actor_XX/*.wav|flac)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--output", default=str(RESULTS / "onnx_parity.md"))
    return parser.parse_args()


def test_clips(model_dir: Path, data_dir: Path) -> tuple[list[str], list[str]]:
    """Paths and emotion names of the RAVDESS clips of the split's test speakers."""
    speakers = read_json(model_dir / "splits.json")["test"]
    paths, emotions = [], []
    for speaker in speakers:  # "ravdess-01" → Actor_01
        folder = data_dir / f"Actor_{speaker.rsplit('-', 1)[-1]}"
        for path in sorted(p for p in folder.iterdir() if p.suffix in (".wav", ".flac")):
            paths.append(str(path))
            emotions.append(RAVDESS_EMOTION_CODES[path.stem.split("-")[2]])
    return paths, emotions


def probabilities(
    recognizer: EmotionRecognizer, paths: list[str], batch_size: int
) -> tuple[np.ndarray, float]:
    began = time.perf_counter()
    predictions = recognizer(paths, batch_size=batch_size)
    seconds = time.perf_counter() - began
    return np.array([[p.probabilities[label] for label in recognizer.labels] for p in predictions]), seconds


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    model_dir, data_dir = Path(args.model), Path(args.data_dir)
    paths, emotions = test_clips(model_dir, data_dir)
    logger.info("%d test clips of %s", len(paths), model_dir)
    started = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        folders = {
            "torch float32": model_dir,
            "ONNX float32": export_onnx(model_dir, Path(tmp) / "fp32"),
            "ONNX int8": export_onnx(model_dir, Path(tmp) / "int8", quantize="int8"),
            "ONNX int8-dynamic": export_onnx(model_dir, Path(tmp) / "int8-dynamic", quantize="int8-dynamic"),
        }
        scores, seconds = {}, {}
        for name, folder in folders.items():
            recognizer = EmotionRecognizer.from_pretrained(folder)
            scores[name], seconds[name] = probabilities(recognizer, paths, args.batch_size)
            logger.info("%s: %.1f s", name, seconds[name])
    labels = recognizer.labels
    truth = [labels.index(e) for e in emotions]
    ua = {name: classification_metrics(truth, p.argmax(axis=1), labels)["ua"] for name, p in scores.items()}
    reference = scores["torch float32"]
    fp32_max = float(np.abs(scores["ONNX float32"] - reference).max())
    int8_max = float(np.abs(scores["ONNX int8"] - reference).max())
    agreement = float((scores["ONNX int8"].argmax(axis=1) == reference.argmax(axis=1)).mean())
    fp32_agreement = float((scores["ONNX float32"].argmax(axis=1) == reference.argmax(axis=1)).mean())
    ua_difference = abs(ua["ONNX int8"] - ua["torch float32"])
    dynamic = scores["ONNX int8-dynamic"]
    dynamic_agreement = float((dynamic.argmax(axis=1) == reference.argmax(axis=1)).mean())

    def met(ok: bool) -> str:
        return "**met**" if ok else "**not met**"

    lines = [
        "## ONNX against torch on real speech",
        "",
        f"Model `{model_dir}`; {len(paths)} RAVDESS speech clips of the fold's test speakers "
        f"({', '.join(read_json(model_dir / 'splits.json')['test'])}), each scored whole. "
        f"CPU: {cpu_model()}, {args.threads} threads; 1-minute load average {started:.1f} at the start "
        f"(the machine's 2 cores were shared with other jobs); {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.",
        "",
        "| scorer | UA | top label = torch's | max abs probability difference from torch | wall time (s) |",
        "|---|---|---|---|---|",
        *(
            f"| {name} | {ua[name]:.4f} | "
            f"{float((p.argmax(axis=1) == reference.argmax(axis=1)).mean()):.2%} | "
            f"{float(np.abs(p - reference).max()):.2e} | {seconds[name]:.1f} |"
            for name, p in scores.items()
        ),
        "",
        f"- float32 ONNX: max abs probability difference {fp32_max:.2e} (target ≤ 1e-3): "
        f"{met(fp32_max <= TARGETS['fp32_max_abs'])}; top label agrees on {fp32_agreement:.2%}.",
        f"- int8 ONNX: top-label agreement {agreement:.2%} (target ≥ 97 %): "
        f"{met(agreement >= TARGETS['int8_agreement'])}; UA difference {ua_difference:.4f} (target ≤ 0.01): "
        f"{met(ua_difference <= TARGETS['int8_ua_difference'])}; max abs probability difference {int8_max:.3f}. "
        "int8 is weight-only int8 in blocks of 32 (MatMulNBits); `int8-dynamic` (quantize_dynamic, per-channel "
        f"weights, per-tensor activations) agrees on {dynamic_agreement:.2%}, UA difference "
        f"{abs(ua['ONNX int8-dynamic'] - ua['torch float32']):.4f}.",
        "",
        f"Command: `python -m benchmarks.onnx_parity --model {args.model} --data_dir {args.data_dir} "
        f"--threads {args.threads}`",
        "",
    ]
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
