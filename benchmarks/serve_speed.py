"""Serving speed side by side: torch float32, torch bfloat16, ONNX float32, ONNX int8.

For each back end, in its own subprocess (so that its peak memory is its own):

* 3-second clips, one per call (batch 1): clips per second;
* the same clips in batches of ``--batch_size``: real-time factor (audio seconds per second);
* a 10-minute recording in 3-s windows every 1.5 s (``hop``), streamed from disk;

plus each model's size on disk. The ONNX models are exported by ``hf-emotion export`` first.
Targets (issue 19): ONNX int8 at batch 1 ≥ 2× the clips per second of torch float32;
≥ 400× real time batched; the int8 model ≤ 1/3 of the float32 size.

Usage::

    python -m benchmarks.serve_speed --model /work/models/tiny-ravdess-fold0 --threads 2
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from benchmarks.common.paths import RESULTS, ROOT
from benchmarks.common.signals import SAMPLING_RATE, best_time, speech_like, write_long_recording

logger = logging.getLogger("serve_speed")
BACKENDS = (
    "torch float32",
    "torch bfloat16",
    "ONNX float32",
    "ONNX int8",
    "ONNX int8-dynamic",
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="trained model folder")
    parser.add_argument("--threads", type=int, default=2, help="threads for torch and onnxruntime")
    parser.add_argument("--clips", type=int, default=48, help="3-second clips")
    parser.add_argument("--clip_seconds", type=float, default=3.0)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--long_seconds", type=float, default=600.0)
    parser.add_argument(
        "--repeats",
        type=int,
        default=2,
        help="timed repeats of the clip runs; the best counts",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="run every back end this many times in turn; the best counts"
    )
    parser.add_argument(
        "--vad_minutes",
        type=float,
        default=0,
        help="also time --segment vad (ONNX int8) on a recording this long",
    )
    parser.add_argument(
        "--speech_dir",
        default=None,
        help="real speech clips for that recording (e.g. RAVDESS)",
    )
    parser.add_argument("--output", default=str(RESULTS / "serve.md"))
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # backend name, in a subprocess
    parser.add_argument("--folder", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--long_path", default=None, help=argparse.SUPPRESS)
    return parser.parse_args()


def peak_memory_mib() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: a child's ru_maxrss starts at its
    parent's peak when it forks and survives exec, so every worker would report the parent's."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(args: argparse.Namespace) -> None:
    """One back end: load, time, print one JSON line with the numbers and the peak memory."""
    import torch

    from hf_emotion import EmotionRecognizer

    torch.set_num_threads(args.threads)
    if args.worker == "vad":
        recognizer = EmotionRecognizer.from_pretrained(args.folder, batch_size=args.batch_size, segment="vad")
        began = time.perf_counter()
        prediction = recognizer(args.long_path)
        seconds = time.perf_counter() - began
        result = {
            "audio_seconds": prediction.end,
            "seconds": seconds,
            "rtf": prediction.end / seconds,
            "segments": len(prediction.timeline),
            "speech_seconds": sum(s.duration for s in prediction.timeline),
            "peak_rss_mib": peak_memory_mib(),
        }
        print(json.dumps(result))
        return
    dtype = "bfloat16" if args.worker == "torch bfloat16" else None
    recognizer = EmotionRecognizer.from_pretrained(args.folder, dtype=dtype, batch_size=args.batch_size)
    clips = [speech_like(args.clip_seconds, seed) for seed in range(args.clips)]
    audio_seconds = len(clips) * args.clip_seconds
    one = best_time(
        lambda: [recognizer(c, sampling_rate=SAMPLING_RATE) for c in clips],
        args.repeats,
    )
    batched = best_time(lambda: recognizer(clips, sampling_rate=SAMPLING_RATE), args.repeats)
    began = time.perf_counter()
    long = recognizer(args.long_path, window=3.0, hop=1.5)
    long_seconds = time.perf_counter() - began
    print(
        json.dumps(
            {
                "batch1_clips_per_s": len(clips) / one,
                "batch1_rtf": audio_seconds / one,
                "batched_clips_per_s": len(clips) / batched,
                "batched_rtf": audio_seconds / batched,
                "long_rtf": args.long_seconds / long_seconds,
                "long_windows": len(long.timeline),
                "peak_rss_mib": peak_memory_mib(),
                "threads": torch.get_num_threads(),
            }
        )
    )


def run_worker(args: argparse.Namespace, backend: str, folder: Path, long_path: Path) -> dict:
    command = [
        sys.executable, "-m", "benchmarks.serve_speed", "--model", args.model, "--worker", backend, "--folder", str(folder),
        "--long_path", str(long_path), "--threads", str(args.threads), "--clips", str(args.clips),
        "--clip_seconds", str(args.clip_seconds), "--batch_size", str(args.batch_size),
        "--long_seconds", str(args.long_seconds), "--repeats", str(args.repeats),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONPATH": str(ROOT)}
    load = os.getloadavg()[0]
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["load_before"] = load
    logger.info("%s: %s", backend, result)
    return result


def best_of(previous: dict | None, current: dict) -> dict:
    """The faster of two runs of a back end, rate by rate (peak memory and load: the later run's)."""
    if previous is None:
        return current
    rates = (
        "batch1_clips_per_s",
        "batch1_rtf",
        "batched_clips_per_s",
        "batched_rtf",
        "long_rtf",
    )
    return {**current, **{key: max(previous[key], current[key]) for key in rates}}


def write_conversation(path: Path, seconds: float, speech_dir: Path) -> int:
    """Real speech clips in turn with 1-2 s of silence or -40 dBFS noise, streamed to disk: the clip count."""
    import soundfile as sf

    from hf_emotion.data.audio import decode_audio

    clips = sorted(p for p in speech_dir.rglob("*") if p.suffix in (".wav", ".flac"))
    rng = np.random.default_rng(0)
    written = count = 0
    with sf.SoundFile(path, "w", samplerate=SAMPLING_RATE, channels=1, subtype="PCM_16") as handle:
        while written < seconds * SAMPLING_RATE:
            gap = np.zeros(int(rng.uniform(1.0, 2.0) * SAMPLING_RATE), np.float32)
            if count % 2:
                gap = (0.01 * rng.standard_normal(gap.shape)).astype(np.float32)
            speech = decode_audio(clips[count % len(clips)], SAMPLING_RATE)
            handle.write(np.concatenate([gap, speech]))
            written += len(gap) + len(speech)
            count += 1
    return count


def report(args: argparse.Namespace, results: dict, sizes: dict, export_seconds: dict) -> str:
    from hf_emotion.evaluation.machine import cpu_model

    torch_fp32, int8 = results["torch float32"], results["ONNX int8"]
    speedup = int8["batch1_clips_per_s"] / torch_fp32["batch1_clips_per_s"]
    size_ratio = sizes["ONNX int8"] / sizes["ONNX float32"]

    def met(ok: bool) -> str:
        return "**met**" if ok else "**not met**"

    rows = [
        f"| {name} | {r['batch1_clips_per_s']:.1f} | {r['batch1_rtf']:.0f}× | {r['batched_clips_per_s']:.1f} | "
        f"{r['batched_rtf']:.0f}× | {r['long_rtf']:.0f}× | {r['peak_rss_mib']:.0f} | {sizes[name] / 1e6:.1f} | "
        f"{r['load_before']:.1f} |"
        for name, r in results.items()
        if name in BACKENDS
    ]
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    return "\n".join(
        [
            "## Serving speed: torch and ONNX Runtime",
            "",
            f"Model `{args.model}`; {args.clips} clips of {args.clip_seconds:g} s (synthetic voiced signal); "
            f"batched = {args.batch_size} per call; a {args.long_seconds / 60:g}-minute recording in 3-s windows "
            f"every 1.5 s (each second scored twice). Each back end ran in its own process with "
            f"{args.threads} threads (torch and onnxruntime intra-op); peak memory is that process's peak resident set (VmHWM) "
            f"(Python, torch and the model included). CPU: {cpu_model()}; "
            f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. The machine's 2 cores were shared with other "
            f"jobs (load average before each run in the last column; `uptime` at the end: `{uptime}`), so "
            f"absolute numbers are lower bounds; the back ends ran in turn, {args.rounds} round(s), the best "
            "of each counted.",
            "",
            "| back end | batch 1 clips/s | batch 1 × real time | batched clips/s | batched × real time | "
            "10-min recording × real time | peak memory (MiB) | model on disk (MB) | load average |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"- ONNX int8 at batch 1: **{speedup:.2f}×** the clips per second of torch float32 (target ≥ 2×): "
            f"{met(speedup >= 2)}.",
            f"- ONNX int8 batched: **{int8['batched_rtf']:.0f}× real time** (target ≥ 400×): "
            f"{met(int8['batched_rtf'] >= 400)}.",
            f"- ONNX int8 model: **{size_ratio:.2f}** of the ONNX float32 size "
            f"({sizes['ONNX int8'] / sizes['torch float32']:.2f} of the torch safetensors) (target ≤ 1/3): "
            f"{met(size_ratio <= 1 / 3)}.",
            f"- Export time: float32 {export_seconds['ONNX float32']:.0f} s, int8 {export_seconds['ONNX int8']:.0f} s. "
            "torch bfloat16 loads the float32 file and converts it, so its size is the float32 file's. "
            "ONNX int8 is `--quantize int8` (weight-only int8 in blocks of 32, MatMulNBits); ONNX int8-dynamic "
            "is `--quantize int8-dynamic` (quantize_dynamic, per-channel weights, per-tensor activations).",
            "",
            *vad_lines(args, results.get("vad"), results["ONNX int8"]["peak_rss_mib"]),
            f"Command: `python -m benchmarks.serve_speed --model {args.model} --threads {args.threads} "
            f"--clips {args.clips} --repeats {args.repeats} --rounds {args.rounds}"
            + (
                f" --vad_minutes {args.vad_minutes:g} --speech_dir {args.speech_dir}`"
                if args.vad_minutes
                else "`"
            ),
            "",
        ]
    )


def vad_lines(args: argparse.Namespace, vad: dict | None, int8_peak: float) -> list[str]:
    if not vad:
        return []
    return [
        f"`--segment vad` with ONNX int8 on a {vad['audio_seconds'] / 60:.0f}-minute recording of "
        f"{vad['clips']} real speech clips ({args.speech_dir}) separated by 1-2 s of silence or "
        f"-40 dBFS noise: {vad['segments']} speech segments ({vad['speech_seconds'] / 60:.1f} min of speech) "
        f"in {vad['seconds']:.0f} s ({vad['rtf']:.0f}× real time, Silero VAD included), peak memory "
        f"{vad['peak_rss_mib']:.0f} MiB, against {int8_peak:.0f} MiB for the 10-minute recording in windows "
        f"(the hour's signal alone would take {vad['audio_seconds'] * SAMPLING_RATE * 4 / 2**20:.0f} MiB as float32).",
        "",
    ]


def main() -> None:
    args = parse_args()
    if args.worker:
        worker(args)
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from hf_emotion.serving.export import export_onnx

    model = Path(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        folders = {"torch float32": model, "torch bfloat16": model}
        export_seconds = {}
        for name, quantize in (
            ("ONNX float32", None),
            ("ONNX int8", "int8"),
            ("ONNX int8-dynamic", "int8-dynamic"),
        ):
            began = time.perf_counter()
            folders[name] = export_onnx(model, Path(tmp) / name.replace(" ", "-"), quantize=quantize)
            export_seconds[name] = time.perf_counter() - began
        sizes = {
            name: (folder / ("model.onnx" if name.startswith("ONNX") else "model.safetensors")).stat().st_size
            for name, folder in folders.items()
        }
        long_path = Path(tmp) / "long.wav"
        write_long_recording(long_path, args.long_seconds)
        results: dict[str, dict] = {}
        for _ in range(args.rounds):  # in turn, so that a burst of load from other jobs hits all alike
            for name in BACKENDS:
                results[name] = best_of(results.get(name), run_worker(args, name, folders[name], long_path))
        if args.vad_minutes:
            conversation = Path(tmp) / "conversation.wav"
            clips = write_conversation(conversation, args.vad_minutes * 60, Path(args.speech_dir))
            results["vad"] = {
                **run_worker(args, "vad", folders["ONNX int8"], conversation),
                "clips": clips,
            }
    text = report(args, results, sizes, export_seconds)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
