"""Inference speed of EmotionRecognizer against transformers' stock audio-classification path.

Measures, in one run on this machine's CPU:

* 3-second clips, batched: clips per second and real-time factor (audio seconds per wall second);
* the same clips through ``pipeline("audio-classification")`` with ``WhisperForAudioClassification``
  carrying the same encoder weights, which pads every clip to Whisper's 30 seconds;
* a 10-minute recording streamed in sliding windows.

Usage::

    python -m benchmarks.inference_speed --model outputs/whisper-tiny.en-ravdess-speech
    python -m benchmarks.inference_speed --encoder ~/.cache/hf_emotion/backbones/whisper-tiny.en

``--encoder`` puts random heads on a pretrained encoder: the speed is the same as a fine-tuned
model's. The result is written as Markdown to ``benchmarks/results/inference.md``.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
from pathlib import Path

import torch

from benchmarks.common.paths import RESULTS
from benchmarks.common.reports import load_average
from benchmarks.common.signals import SAMPLING_RATE, best_time, speech_like, write_long_recording
from hf_emotion import EMOTIONS, EmotionRecognizer
from hf_emotion.evaluation.machine import cpu_model

logger = logging.getLogger("inference_speed")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="fine-tuned EmotionModel folder (with its feature extractor)")
    source.add_argument("--encoder", help="pretrained Whisper encoder folder; heads are random")
    parser.add_argument("--clips", type=int, default=96, help="3-second clips for our path")
    parser.add_argument("--stock_clips", type=int, default=16, help="clips for the stock 30-s padded path")
    parser.add_argument("--clip_seconds", type=float, default=3.0)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--long_seconds", type=float, default=600.0, help="length of the long recording")
    parser.add_argument("--window", type=float, default=3.0)
    parser.add_argument("--hop", type=float, default=1.5)
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats; the best is reported")
    parser.add_argument(
        "--dtypes", nargs="+", default=["float32", "bfloat16"], help="model dtypes to measure, in order"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--output", default=str(RESULTS / "inference.md"))
    return parser.parse_args()


def load_recognizer(args: argparse.Namespace) -> tuple[EmotionRecognizer, str]:
    if args.model:
        return EmotionRecognizer.from_pretrained(args.model, batch_size=args.batch_size), args.model
    from transformers import AutoConfig, AutoFeatureExtractor, WhisperFeatureExtractor

    from hf_emotion.model.modeling_emotion import EmotionModel

    torch.manual_seed(0)
    model = EmotionModel.from_encoder_pretrained(args.encoder, id2label=dict(enumerate(EMOTIONS)))
    try:
        feature_extractor = AutoFeatureExtractor.from_pretrained(args.encoder)
    except (OSError, ValueError):
        feature_extractor = WhisperFeatureExtractor(
            feature_size=AutoConfig.from_pretrained(args.encoder).num_mel_bins
        )
    return EmotionRecognizer.from_model(
        model, feature_extractor, batch_size=args.batch_size
    ), f"{args.encoder} (random heads)"


def stock_pipeline(recognizer: EmotionRecognizer):
    """transformers' own path: WhisperForAudioClassification with our encoder's weights, 30-s padded input."""
    from transformers import WhisperForAudioClassification, pipeline

    scorer = recognizer.scorer
    config = scorer.config.encoder_config
    config = config.__class__.from_dict(
        {
            **config.to_dict(),
            "id2label": dict(scorer.config.id2label),
            "label2id": dict(scorer.config.label2id),
        }
    )
    stock = WhisperForAudioClassification(config).eval()
    missing = stock.encoder.load_state_dict(scorer.model.encoder.state_dict(), strict=True)
    assert not missing.missing_keys
    return pipeline(
        "audio-classification", model=stock, feature_extractor=scorer.feature_extractor, device="cpu"
    )


def measure(recognizer: EmotionRecognizer, args: argparse.Namespace, dtype: str, long_path: Path) -> dict:
    """All timings for one dtype: ours batched, ours one by one, stock 30-s padded, the long file."""
    clips = [speech_like(args.clip_seconds, seed) for seed in range(args.clips)]
    rows: list[tuple[str, str, str, str]] = []
    result: dict = {}

    seconds = best_time(
        lambda: recognizer(clips, sampling_rate=SAMPLING_RATE, batch_size=args.batch_size), args.repeats
    )
    result["rate"] = len(clips) / seconds
    result["rtf"] = len(clips) * args.clip_seconds / seconds
    rows.append(
        (
            f"EmotionRecognizer {dtype}, batch {args.batch_size}",
            f"{len(clips)} × {args.clip_seconds:g} s",
            f"{result['rate']:.1f}",
            f"{result['rtf']:.0f}×",
        )
    )
    logger.info("%s ours batched: %.1f clips/s, %.0f× real time", dtype, result["rate"], result["rtf"])

    few = clips[: min(16, len(clips))]
    seconds = best_time(lambda: [recognizer(c, sampling_rate=SAMPLING_RATE) for c in few], args.repeats)
    rows.append(
        (
            f"EmotionRecognizer {dtype}, one clip per call",
            f"{len(few)} × {args.clip_seconds:g} s",
            f"{len(few) / seconds:.1f}",
            f"{len(few) * args.clip_seconds / seconds:.0f}×",
        )
    )

    # transformers' own path: the pipeline pads every clip to 30 s.
    pipe = stock_pipeline(recognizer)
    stock_clips = [{"raw": c, "sampling_rate": SAMPLING_RATE} for c in clips[: args.stock_clips]]
    stock_rates = {}
    for batch_size in (1, args.batch_size) if dtype == "float32" else (args.batch_size,):
        seconds = best_time(
            lambda b=batch_size: pipe(list(stock_clips), batch_size=b, top_k=None), max(1, args.repeats - 1)
        )
        stock_rates[batch_size] = len(stock_clips) / seconds
        rows.append((
            f"stock `pipeline(\"audio-classification\")` + WhisperForAudioClassification {dtype}, batch {batch_size} (30-s padding)",
            f"{len(stock_clips)} × {args.clip_seconds:g} s",
            f"{stock_rates[batch_size]:.2f}",
            f"{len(stock_clips) * args.clip_seconds / seconds:.1f}×",
        ))  # fmt: skip
        logger.info("%s stock batch %d: %.2f clips/s", dtype, batch_size, stock_rates[batch_size])
    result["speedup"] = result["rate"] / max(stock_rates.values())

    holder = {}

    def long_run():
        holder["prediction"] = recognizer(
            long_path, window=args.window, hop=args.hop, batch_size=args.batch_size
        )

    seconds = best_time(long_run, 1)
    windows = len(holder["prediction"].timeline)
    result["long_rtf"] = args.long_seconds / seconds
    rows.append(
        (
            f"EmotionRecognizer {dtype}, {args.long_seconds / 60:g}-min file, window {args.window:g} s hop {args.hop:g} s",
            f"{windows} windows",
            f"{windows / seconds:.1f} windows/s",
            f"{result['long_rtf']:.0f}×",
        )
    )
    logger.info("%s long: %d windows in %.1f s, %.0f× real time", dtype, windows, seconds, result["long_rtf"])
    result["rows"] = rows
    return result


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    recognizer, model_name = load_recognizer(args)
    if not recognizer.scorer.is_whisper:
        logger.warning("not a Whisper backbone: the stock comparison is meant for Whisper")
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        long_path = Path(folder) / "long.wav"
        write_long_recording(long_path, args.long_seconds)
        for dtype in args.dtypes:
            recognizer = EmotionRecognizer.from_model(
                recognizer.scorer.model,
                recognizer.scorer.feature_extractor,
                batch_size=args.batch_size,
                dtype=dtype,
            )
            results[dtype] = measure(recognizer, args, dtype, long_path)

    load = load_average()
    cpu = cpu_model()
    summary = [
        f"- {dtype}: batched {args.clip_seconds:g}-s clips **{r['rtf']:.0f}× real time** (target ≥ 100×), "
        f"**{r['speedup']:.1f}× the clips per second** of the stock 30-s-padded path in the same dtype at its "
        f"best batch size (target ≥ 10×); the {args.long_seconds / 60:g}-minute recording **{r['long_rtf']:.0f}× "
        f"real time** ({args.window:g}-s windows every {args.hop:g} s, so each second is scored "
        f"{args.window / args.hop:g} times)."
        for dtype, r in results.items()
    ]
    lines = [
        "## Inference speed",
        "",
        f"Model: `{model_name}` ({recognizer.scorer.config.encoder_config.model_type}, "
        f"{sum(p.numel() for p in recognizer.scorer.model.parameters()) / 1e6:.1f} M parameters). "
        f"CPU: {cpu}, {os.cpu_count()} cores, torch {torch.__version__} with {torch.get_num_threads()} threads; "
        f"1-minute load average at the end {load:.1f} (2.0 = both cores busy; above that other jobs shared "
        "them and the numbers are lower bounds).",
        "",
        "| path | input | clips/s | real-time factor |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for r in results.values() for a, b, c, d in r["rows"]),
        "",
        *summary,
        "",
        "Command: `python -m benchmarks.inference_speed "
        + (f"--model {args.model}" if args.model else f"--encoder {args.encoder}")
        + f" --dtypes {' '.join(args.dtypes)}`",
        "",
    ]
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(lines))
    logger.info("wrote %s", output)


if __name__ == "__main__":
    main()
