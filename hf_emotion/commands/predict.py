"""``hf-emotion predict FILES... --model M``: emotions for audio files as JSON lines or CSV.

One record per file (JSON lines: the summary with its ``timeline`` nested; CSV: a summary row
and, with ``--window``, one row per window; with ``--segment vad``, one row per speech segment).
A file that cannot be read gives an error record naming it and the reason, the others go on,
and the exit status is 1.

Example::

    hf-emotion predict clips/*.wav --model outputs/whisper-tiny.en-ravdess-speech --format csv
    hf-emotion predict meeting.flac --model outputs/whisper-tiny.en-ravdess-speech --window 4 --hop 2
    hf-emotion predict clips/ --model outputs/whisper-tiny.en-ravdess-speech \\
        --model outputs/whisper-base-ravdess-speech
    hf-emotion predict interview.wav --model exports/tiny-int8 --segment vad
    hf-emotion predict my-voice/ --model outputs/whisper-tiny.en-ravdess-speech --speaker me
    hf-emotion predict voices/ --model outputs/whisper-tiny.en-ravdess-speech --speaker_per_folder
    hf-emotion predict talk.wav --model outputs/whisper-tiny.en-ravdess-speech --per_recording
    hf-emotion predict clips/ --model outputs/whisper-tiny.en-ravdess-speech --embeddings clips.npz

``--speaker``, ``--speaker_per_folder`` and ``--per_recording`` are speaker-adaptive mode (a model
folder with a head from ``hf-emotion adapt`` or the recipe): each clip or window is judged against
the speaker's other clips or windows, and every record says ``mode`` (``clip`` or
``speaker_adaptive``).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

logger = logging.getLogger(__name__)

MODEL_ENV = "HF_EMOTION_MODEL"
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".aiff", ".aif", ".au")
# Files decoded per recognizer call: enough to fill batches, few enough to bound memory.
FILES_PER_CALL_FACTOR = 4


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", help="audio files, or folders searched for audio files")
    parser.add_argument(
        "--model",
        action="append",
        default=None,
        help=f"trained model folder or Hub id (default: ${MODEL_ENV}); repeated (--model A --model B), the "
        f"ensemble of those: the mean of their probabilities and valence/arousal (${MODEL_ENV}=A,B)",
    )
    parser.add_argument(
        "--format", choices=("jsonl", "csv"), default=None, help="default: from --output, else jsonl"
    )
    parser.add_argument("--output", default="-", help="file to write (default: stdout)")
    parser.add_argument("--window", type=float, default=None, help="score in windows of this many seconds")
    parser.add_argument(
        "--hop", type=float, default=None, help="seconds between windows (default: window / 2)"
    )
    parser.add_argument(
        "--segment",
        choices=("window", "vad"),
        default="window",
        help="window: clips whole, long files in --window windows; vad: each speech segment that Silero "
        "VAD finds, scored whole, with its start and end (silence is never labelled)",
    )
    parser.add_argument(
        "--vad_pad",
        type=float,
        default=None,
        metavar="SECONDS",
        help="with --segment vad: seconds of the recording kept around each speech segment (default: the "
        "margin the model was trained with, its config's speech_margin_seconds; none for older models)",
    )
    parser.add_argument(
        "--batch_size", type=int, default=16, help="clips, windows or segments per forward pass"
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument(
        "--dtype",
        default=None,
        help="run the model as float32 (default), bfloat16 (faster on recent CPUs) or float16",
    )
    parser.add_argument("--no_progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--embeddings",
        default=None,
        metavar="OUT.npz",
        help="also write each file's embedding, the vector the model's heads read (for your own classifier "
        "or clustering), to this .npz: files (N,), embeddings (N, P); one model, files scored whole",
    )
    parser.add_argument(
        "--embedding_frames",
        action="store_true",
        help="with --embeddings: also one vector per encoder frame, frames_<i> (F, P) for the i-th file",
    )
    adaptive = parser.add_mutually_exclusive_group()
    adaptive.add_argument(
        "--speaker",
        default=None,
        help="speaker-adaptive mode: all FILES are clips of this one speaker (at least 4, 10 or more is "
        "better, in different moods), each judged against the others; needs a model with a head from "
        "hf-emotion adapt. Misleads when every clip has the same emotion",
    )
    adaptive.add_argument(
        "--speaker_per_folder",
        action="store_true",
        help="speaker-adaptive mode: each file's folder is its speaker (e.g. clips/alice/*.wav, clips/bob/*.wav); "
        "each speaker's files are judged against each other (at least 4 a speaker)",
    )
    adaptive.add_argument(
        "--per_recording",
        action="store_true",
        help="speaker-adaptive mode: each file is one speaker's long recording, scored in --window windows "
        "(default 3 s, hop 1.5 s) each judged against the recording's other speech windows",
    )


def expand_files(names: list[str]) -> list[str]:
    """Folders become the audio files under them (sorted); everything else is kept as given."""
    files: list[str] = []
    for name in names:
        path = Path(name)
        if path.is_dir():
            found = sorted(str(p) for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
            if not found:
                logger.warning("%s: folder holds no audio files (%s)", name, ", ".join(AUDIO_SUFFIXES))
            files.extend(found)
        else:
            files.append(name)
    return files


def prediction_rows(name: str, prediction: Any, labels: list[str]) -> Iterator[dict[str, Any]]:
    """CSV rows of one file: the summary (``segment`` = ``all``), then one per window."""

    def row(segment: str, item: Any) -> dict[str, Any]:
        values = {
            "file": name,
            "segment": segment,
            "start": round(item.start, 4),
            "end": round(item.end, 4),
            "label": item.label or "",
            "confidence": "" if item.confidence is None else item.confidence,
            "valence": "" if item.valence is None else item.valence,
            "arousal": "" if item.arousal is None else item.arousal,
            "silent": int(item.silent),
            "mode": item.mode,
            "error": "",
        }
        for label in labels:
            values[f"prob_{label}"] = item.probabilities.get(label, "")
        return values

    yield row("all", prediction)
    for index, window in enumerate(prediction.timeline or []):
        yield row(str(index), window)


def csv_fields(labels: list[str]) -> list[str]:
    return [
        "file", "segment", "start", "end", "label", "confidence", "valence", "arousal", "silent",
        *(f"prob_{label}" for label in labels), "mode", "error",
    ]  # fmt: skip


class _Writer:
    def __init__(self, handle: IO[str], fmt: str, labels: list[str]) -> None:
        self.handle, self.fmt, self.labels = handle, fmt, labels
        self.csv = csv.DictWriter(handle, fieldnames=csv_fields(labels)) if fmt == "csv" else None
        if self.csv is not None:
            self.csv.writeheader()

    def prediction(self, name: str, prediction: Any) -> None:
        if self.csv is not None:
            self.csv.writerows(prediction_rows(name, prediction, self.labels))
        else:
            record = prediction.to_dict()
            record.pop("source", None)
            self.handle.write(json.dumps({"file": name, **record}) + "\n")
        self.handle.flush()

    def error(self, name: str, reason: str, detail: str) -> None:
        if self.csv is not None:
            self.csv.writerow({"file": name, "segment": "all", "error": f"{reason}: {detail}"})
        else:
            self.handle.write(json.dumps({"file": name, "error": reason, "detail": detail}) + "\n")
        self.handle.flush()


def run(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from hf_emotion.data.audio import AudioDecodeError
    from hf_emotion.preflight import prepare_output_file
    from hf_emotion.serving.recognizer import EmotionRecognizer, split_model_names

    args.model = args.model or split_model_names(os.environ.get(MODEL_ENV))
    if not args.model:
        logger.error("no model: pass --model DIR_OR_HUB_ID or set $%s", MODEL_ENV)
        return 2
    if args.batch_size < 1:
        logger.error("--batch_size must be at least 1, got %s", args.batch_size)
        return 2
    if args.embedding_frames and not args.embeddings:
        logger.error("--embedding_frames adds to --embeddings OUT.npz: give that too")
        return 2
    fmt = args.format or ("csv" if str(args.output).lower().endswith(".csv") else "jsonl")
    files = expand_files(args.files)
    if not files:
        logger.error("no audio files to score")
        return 2
    prepare_output_file(args.output)  # a missing folder is made now, not found after the model loads
    if args.embeddings:
        prepare_output_file(args.embeddings)
    try:
        recognizer = EmotionRecognizer.from_pretrained(
            args.model,
            device=args.device,
            batch_size=args.batch_size,
            dtype=args.dtype,
            segment=args.segment,
            vad_pad_seconds=args.vad_pad,
        )
        # Checked once here, so a bad --window is one clear error rather than one per file.
        if args.window is not None:
            recognizer.check_window(args.window, args.hop or args.window / 2)
        if args.embeddings and len(args.model) > 1:
            raise ValueError("--embeddings needs one --model: an ensemble has no one embedding space")
        if args.speaker_per_folder:
            args.speaker = [Path(name).parent.name for name in files]
        if args.speaker is not None or args.per_recording:
            check_speaker_adaptive(args, recognizer, files)
    except (ImportError, OSError, ValueError) as error:
        logger.error("cannot use model %s: %s", " + ".join(args.model), error)
        return 2

    failed = 0
    scored: list[str] = []
    handle = sys.stdout if args.output == "-" else open(args.output, "w", newline="", encoding="utf-8")
    try:
        adaptive = args.speaker is not None or args.per_recording
        labels = recognizer.speaker_adaptive().labels if adaptive else recognizer.labels
        writer = _Writer(handle, fmt, labels)
        chunk = max(1, args.batch_size * FILES_PER_CALL_FACTOR)
        with tqdm(
            total=len(files), unit="file", disable=args.no_progress or len(files) < 2, file=sys.stderr
        ) as bar:
            for names, results in _scored(recognizer, files, args, chunk):
                for name, result in zip(names, results, strict=True):
                    if isinstance(result, AudioDecodeError):
                        failed += 1
                        writer.error(name, result.reason, result.detail)
                    else:
                        writer.prediction(name, result)
                        scored.append(name)
                bar.update(len(names))
    finally:
        if handle is not sys.stdout:
            handle.close()
    if args.embeddings:
        try:
            save_embeddings(recognizer, scored, args, chunk)
        except (AudioDecodeError, ValueError) as error:
            logger.error("--embeddings %s: %s", args.embeddings, error)
            return 2
    if failed:
        logger.error("%d of %d files could not be scored (see their error records)", failed, len(files))
        return 1
    logger.info("scored %d files%s", len(files), "" if args.output == "-" else f" into {args.output}")
    return 0


def save_embeddings(recognizer: Any, files: list[str], args: argparse.Namespace, chunk: int) -> None:
    """``--embeddings``: the scored files' embeddings, computed ``chunk`` files at a time, in one ``.npz``."""
    import numpy as np

    from hf_emotion.serving.embeddings import write_embeddings

    utterances, frames = [], []
    for begin in range(0, len(files), chunk):
        answer = recognizer.embed(files[begin : begin + chunk], frames=args.embedding_frames)
        utterances.append(answer[0] if args.embedding_frames else answer)
        frames.extend(answer[1] if args.embedding_frames else [])
    stacked = np.concatenate(utterances) if utterances else np.zeros((0, 0), dtype=np.float32)
    write_embeddings(args.embeddings, files, stacked, frames if args.embedding_frames else None)
    logger.info(
        "wrote the embeddings of %d files (%d values each) to %s",
        len(files),
        stacked.shape[-1],
        args.embeddings,
    )


def check_speaker_adaptive(args: argparse.Namespace, recognizer: Any, files: list[str]) -> None:
    """A ``ValueError`` before anything is read when speaker-adaptive mode cannot run as asked."""
    from hf_emotion.serving.speaker_adaptive import check_speakers

    if args.segment == "vad":
        raise ValueError(
            "--speaker and --per_recording score clips or windows, not VAD segments; drop --segment vad"
        )
    recognizer.speaker_adaptive()  # the model has a head, and is one model (torch, or an export with it)
    if args.speaker is not None:
        if args.window is not None:
            raise ValueError(
                "--speaker and --speaker_per_folder score every file whole; --window applies to --per_recording"
            )
        check_speakers([args.speaker] * len(files) if isinstance(args.speaker, str) else args.speaker)


def _scored(
    recognizer: Any, files: list[str], args: argparse.Namespace, chunk: int
) -> Iterator[tuple[list, list]]:
    """``(names, results)`` in groups: clip by clip in chunks; with ``--speaker`` or ``--speaker_per_folder`` all
    files at once (each is standardised on its speaker's others); ``--per_recording`` one file at a time."""
    from hf_emotion.data.audio import AudioDecodeError

    if args.speaker is not None:
        yield files, recognizer(files, speaker=args.speaker, batch_size=args.batch_size, errors="return")
    elif args.per_recording:
        window = args.window or 3.0
        hop = args.hop or window / 2
        for name in files:
            try:
                result = recognizer.speaker_adaptive_recording(
                    name, window=window, hop=hop, speaker=Path(name).stem
                )
            except AudioDecodeError as error:
                result = error
            except ValueError as error:  # too few speech windows to standardise on
                result = AudioDecodeError(name, "too_short", str(error))
            yield [name], [result]
    else:
        for begin in range(0, len(files), chunk):
            names = files[begin : begin + chunk]
            yield (
                names,
                recognizer(
                    names, window=args.window, hop=args.hop, batch_size=args.batch_size, errors="return"
                ),
            )
