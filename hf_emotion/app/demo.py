"""Gradio demo: speech emotion recognition with a fine-tuned speech encoder.

Upload or record speech; see the emotion probabilities, the valence/arousal point on the
circumplex plane and, for recordings of two windows or more, how the emotion moves over time.
With a model that has a speaker-adaptive head, "Calibrate with your voice" judges recordings
against a few clips of the visitor's own voice, kept per browser session
(:mod:`hf_emotion.app.calibration`).

``hf-emotion demo --model DIR`` serves it locally; ``demo/app.py`` and the ``app.py`` that
``hf-emotion space`` writes are thin scripts over :func:`build_demo` and :func:`load_recognizer`.
The model is the one given, else ``$HF_EMOTION_MODEL`` (a folder or Hub id), else the first of
the script's candidate folders that exists (a ``model/`` folder beside it, then
:data:`GENERAL_MODEL_DIR`, then :data:`DEFAULT_MODEL_DIR`).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gradio as gr
import matplotlib
import numpy as np
import soundfile as sf

matplotlib.use("Agg")  # no display on a server
import matplotlib.pyplot as plt  # noqa: E402

from ..data.audio import AudioDecodeError, audio_info  # noqa: E402
from ..data.targets import CIRCUMPLEX  # noqa: E402
from ..hub.space import MODEL_BESIDE_APP  # noqa: E402
from ..serving.adaptive_scoring import SpeakerAdaptiveScoring  # noqa: E402
from ..serving.predictions import SPEAKER_ADAPTIVE_MODE, EmotionPrediction  # noqa: E402
from ..serving.recognizer import EmotionRecognizer, split_model_names  # noqa: E402
from ..serving.speaker_adaptive import MIN_CLIPS_PER_SPEAKER, RECOMMENDED_CLIPS_PER_SPEAKER  # noqa: E402
from .calibration import MAX_CLIP_SECONDS as CALIBRATED_MAX_SECONDS  # noqa: E402
from .calibration import (  # noqa: E402
    VoiceCalibration,
    calibrate_voice,
    calibrated_line,
    judge_against_voice,
    mode_line,
    unavailable_line,
)

logger = logging.getLogger(__name__)

#: The general model (configs/whisper-tiny.en-general.json: every corpus, all speakers), preferred when trained.
GENERAL_MODEL_DIR = "outputs/whisper-tiny.en-general"
#: The model the main fine-tuning job writes (relative to the folder it runs from).
DEFAULT_MODEL_DIR = "outputs/whisper-tiny.en-ravdess-speech"
MODEL_ENV = "HF_EMOTION_MODEL"
#: Upload limits: longer or bigger input is refused with a message, not queued for minutes.
MAX_DURATION_SECONDS = 600.0
MAX_FILE_MB = 50.0
EXAMPLE_SAMPLING_RATE = 16_000

INTRO = """# Speech emotion recognition
Upload a recording or use the microphone. The model gives a probability for each emotion and a
point on the valence (unpleasant → pleasant) / arousal (calm → excited) plane. Recordings
of two windows (6 s) or more also get a timeline. The example clips are synthetic tones written when
the demo starts, not speech: use your own voice for a meaningful answer."""

CALIBRATION_HELP = """Give {minimum} or more short clips of your own voice ({recommended} or more is
better): different sentences, said in different moods. They are encoded once and kept for this
browser session only. Then **Recognize emotion** judges each recording against them: how it departs
from your usual voice, which helps a model on a voice it never heard. It misleads when the
calibration clips all carry the same emotion."""


# ---------------------------------------------------------------------- model


def resolve_model(
    model: str | os.PathLike | list[str | os.PathLike] | None = None,
    *,
    candidates: Sequence[str | os.PathLike] = (MODEL_BESIDE_APP, GENERAL_MODEL_DIR, DEFAULT_MODEL_DIR),
) -> str:
    """The model to serve: the argument, else ``$HF_EMOTION_MODEL``, else the first candidate folder
    that exists (else the last candidate, so the error names where a model was expected).

    Several models (a list, or names separated by commas) come back comma-separated.
    """
    if model and not isinstance(model, (str, os.PathLike)):
        return ",".join(os.fspath(m) for m in model)
    if model:
        return os.fspath(model)
    if os.environ.get(MODEL_ENV):
        return os.environ[MODEL_ENV]
    found = next((c for c in candidates if Path(c).is_dir()), candidates[-1])
    return os.fspath(found)


def load_recognizer(
    model: str | os.PathLike | list[str | os.PathLike] | None = None,
    *,
    device: str = "cpu",
    candidates: Sequence[str | os.PathLike] = (MODEL_BESIDE_APP, GENERAL_MODEL_DIR, DEFAULT_MODEL_DIR),
) -> EmotionRecognizer:
    """Load the recognizer, with a message that says what to do when the model is missing.

    Several models separated by commas (``"dirA,dirB"``) are served as their ensemble: the mean of
    their probabilities and valence/arousal (:class:`hf_emotion.serving.scorers.MeanScorer`).
    ``candidates`` are the folders tried, in order, when neither ``model`` nor the environment
    variable names one.
    """
    names = split_model_names(resolve_model(model, candidates=candidates))
    for name in names:
        looks_local = name.startswith((".", "/", "~")) or os.path.exists(name) or name.count("/") != 1
        if looks_local and not os.path.isdir(name):
            raise FileNotFoundError(
                f"no model folder at {name}: train one (see finetune.py), or point ${MODEL_ENV} or --model "
                "at a trained model folder or Hub id"
            )
    return EmotionRecognizer.from_pretrained(names, device=device)


# ---------------------------------------------------------------------- synthetic examples


def synthetic_voice(pitch: float, tremolo: float, seconds: float, *, seed: int = 0) -> np.ndarray:
    """A voiced-like tone: a few harmonics of ``pitch`` Hz with a ``tremolo`` Hz amplitude swing."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * EXAMPLE_SAMPLING_RATE)) / EXAMPLE_SAMPLING_RATE
    glide = pitch * (1 + 0.05 * np.sin(2 * np.pi * 0.7 * t))  # intonation
    phase = 2 * np.pi * np.cumsum(glide) / EXAMPLE_SAMPLING_RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 6))
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * tremolo * t)
    return (0.25 * envelope * voice / 2.3 + 0.005 * rng.standard_normal(t.shape)).astype(np.float32)


def write_example_clips(folder: str | os.PathLike | None = None) -> list[str]:
    """Write the demo's synthetic example clips (WAV, 16 kHz) and return their paths.

    Example:
        >>> paths = write_example_clips()
        >>> [Path(p).name for p in paths]
        ['low-calm-tone.wav', 'high-excited-tone.wav', 'changing-12s.wav']
    """
    folder = Path(folder or tempfile.mkdtemp(prefix="hf-emotion-examples-"))
    folder.mkdir(parents=True, exist_ok=True)
    clips = {
        "low-calm-tone.wav": synthetic_voice(120.0, 1.5, 3.0, seed=1),
        "high-excited-tone.wav": synthetic_voice(320.0, 7.0, 3.0, seed=2),
        # Calm, then excited, then a pause: long enough for a timeline.
        "changing-12s.wav": np.concatenate(
            [
                synthetic_voice(120.0, 1.5, 5.0, seed=3),
                synthetic_voice(320.0, 7.0, 5.0, seed=4),
                np.zeros(2 * EXAMPLE_SAMPLING_RATE, dtype=np.float32),
            ]
        ),
    }
    paths = []
    for name, samples in clips.items():
        sf.write(folder / name, samples, EXAMPLE_SAMPLING_RATE, subtype="PCM_16")
        paths.append(str(folder / name))
    return paths


# ---------------------------------------------------------------------- figures


def circumplex_figure(prediction: EmotionPrediction | None) -> plt.Figure:
    """The valence/arousal plane with the emotion anchors and the prediction as a point."""
    figure, axes = plt.subplots(figsize=(4.6, 4.6), dpi=100)
    axes.add_patch(plt.Circle((0, 0), 1.0, fill=False, color="0.8"))
    axes.axhline(0, color="0.85", linewidth=0.8)
    axes.axvline(0, color="0.85", linewidth=0.8)
    for name, (valence, arousal) in CIRCUMPLEX.items():
        axes.scatter(valence, arousal, s=18, color="0.55")
        axes.annotate(
            name, (valence, arousal), textcoords="offset points", xytext=(4, 4), fontsize=8, color="0.35"
        )
    if prediction is not None and prediction.valence is not None and prediction.arousal is not None:
        axes.scatter(
            prediction.valence, prediction.arousal, s=160, color="tab:red", edgecolor="black", zorder=5
        )
        axes.annotate(
            f"{prediction.label}\n({prediction.valence:+.2f}, {prediction.arousal:+.2f})",
            (prediction.valence, prediction.arousal), textcoords="offset points",
            xytext=(-70 if prediction.valence > 0.3 else 10, -26 if prediction.arousal > -0.6 else 14),
            fontsize=9, color="tab:red", zorder=6,
        )  # fmt: skip
    elif prediction is not None and prediction.silent:
        axes.text(0, -0.15, "silence", ha="center", color="0.4")
    elif prediction is not None and prediction.mode == SPEAKER_ADAPTIVE_MODE:
        axes.text(0, -0.8, "calibrated to your voice:\nno valence/arousal", ha="center", color="0.4")
    axes.set(xlim=(-1.1, 1.1), ylim=(-1.1, 1.1), xlabel="valence", ylabel="arousal", aspect="equal")
    axes.set_title("Circumplex (Russell)", fontsize=10)
    figure.tight_layout()
    plt.close(figure)  # gradio renders it; pyplot must not keep every figure alive
    return figure


def timeline_figure(prediction: EmotionPrediction) -> plt.Figure:
    """Per-window emotion probabilities over time, with silent windows shaded."""
    labels = list(next((w.probabilities for w in prediction.timeline if not w.silent), {}))
    centers = [(w.start + w.end) / 2 for w in prediction.timeline]
    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(8, 4.2), dpi=100, sharex=True, gridspec_kw={"height_ratios": [3, 1.4]}
    )
    for label in labels:
        values = [w.probabilities.get(label, np.nan) for w in prediction.timeline]
        top.plot(centers, values, marker="o", markersize=3, label=label)
    for window in prediction.timeline:
        if window.silent:
            top.axvspan(window.start, window.end, color="0.9", zorder=0)
    top.set(ylabel="probability", ylim=(0, 1))
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    for name in ("valence", "arousal"):
        values = [np.nan if getattr(w, name) is None else getattr(w, name) for w in prediction.timeline]
        bottom.plot(centers, values, label=name)
    bottom.axhline(0, color="0.8", linewidth=0.8)
    bottom.set(xlabel="time (s)", ylim=(-1.05, 1.05))
    bottom.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    top.set_title("Emotion over time (grey: silence)", fontsize=10)
    figure.tight_layout()
    plt.close(figure)
    return figure


# ---------------------------------------------------------------------- prediction


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min".replace(".0 min", " min")


def unreadable(path: str, error: AudioDecodeError) -> gr.Error:
    """The message for audio that cannot be decoded, naming the upload by its own file name.

    The path gradio hands over is the server's copy (``/tmp/gradio/<hash>/name.wav``): the user
    never chose it, and it tells any visitor where the server keeps its files.
    """
    detail = error.detail.replace(str(path), Path(path).name)
    return gr.Error(f"Cannot read this audio ({Path(path).name}): {detail.rstrip('.')}.")


def check_upload(path: str, *, max_seconds: float, max_mb: float) -> float:
    """The upload's duration, or a ``gr.Error`` saying which limit it breaks."""
    size_mb = os.path.getsize(path) / 1e6
    if size_mb > max_mb:
        raise gr.Error(f"The file is {size_mb:.1f} MB; this demo takes files up to {max_mb:g} MB.")
    try:
        duration = audio_info(path).duration
    except AudioDecodeError as error:
        raise unreadable(path, error) from error
    if duration > max_seconds:
        raise gr.Error(
            f"The recording is {_minutes(duration)} long; this demo takes up to {_minutes(max_seconds)}. "
            "Use `hf-emotion predict --window` for longer files."
        )
    return duration


#: The demo's choice of how a recording is cut, shown as a radio: label -> ``segment`` of the recognizer.
SEGMENT_CHOICES = {"whole clip (windows when long)": "window", "speech segments (Silero VAD)": "vad"}


def against_voice(
    recognizer: EmotionRecognizer,
    adaptive: SpeakerAdaptiveScoring,
    calibration: VoiceCalibration,
    path: str,
    *,
    duration: float,
    segment: str,
) -> EmotionPrediction:
    """The recording judged against the visitor's calibration clips, whole; cuts do not apply."""
    if segment != "window":
        raise gr.Error(
            "Calibrated to your voice, the demo judges the whole clip: choose the whole clip, or press "
            "'Forget my voice' to score speech segments clip by clip."
        )
    if duration > CALIBRATED_MAX_SECONDS:
        raise gr.Error(
            f"The recording is {_minutes(duration)} long; calibrated to your voice, this demo judges clips up "
            f"to {CALIBRATED_MAX_SECONDS:g} s. Cut it, or press 'Forget my voice' to score it clip by clip."
        )
    threshold = recognizer.options.silence_threshold_db
    return judge_against_voice(adaptive, calibration, path, silence_threshold_db=threshold)


def predict(
    recognizer: EmotionRecognizer,
    path: str | None,
    *,
    max_seconds: float,
    max_mb: float,
    segment: str = "window",
    calibration: VoiceCalibration | None = None,
    adaptive: SpeakerAdaptiveScoring | None = None,
) -> tuple[Any, plt.Figure, Any, dict[str, Any]]:
    """What the demo shows for one recording: label values, circumplex, timeline, numbers.

    ``segment="vad"`` scores each utterance Silero VAD finds (the timeline is then one point per
    utterance, and the answer their mean weighted by duration); ``"window"`` scores the whole clip.
    With a visitor's ``calibration`` (and the recognizer's ``speaker_adaptive()`` as ``adaptive``), the
    whole clip is judged against their calibration clips instead (``numbers["mode"]`` says which).
    """
    if not path:
        raise gr.Error("Upload or record some audio first.")
    duration = check_upload(path, max_seconds=max_seconds, max_mb=max_mb)
    try:
        if calibration is not None:
            prediction = against_voice(
                recognizer, adaptive, calibration, path, duration=duration, segment=segment
            )
        elif segment == "vad":
            prediction = recognizer(path, segment="vad")
        else:
            # One answer: a clip under two windows is scored whole, with no timeline; a longer one in
            # windows, and the headline is their mean, so it never contradicts the timeline under it.
            prediction = recognizer(path, window=recognizer.window, hop=recognizer.hop)
    except AudioDecodeError as error:
        raise unreadable(path, error) from error

    label = "silence (no speech heard)" if prediction.silent else prediction.probabilities
    numbers = {
        "label": prediction.label,
        "confidence": prediction.confidence,
        "valence": prediction.valence,
        "arousal": prediction.arousal,
        "silent": prediction.silent,
        "duration_s": round(duration, 3),
        "segment": segment,
        # A clip under two windows is scored whole: its one-entry timeline is no timeline.
        "windows": len(prediction.timeline) if prediction.timeline and len(prediction.timeline) > 1 else 0,
        "mode": prediction.mode,
        "calibration_clips": calibration.clips if calibration is not None else 0,
    }
    if prediction.timeline and len(prediction.timeline) > 1:
        timeline = gr.Plot(value=timeline_figure(prediction), visible=True)
    else:
        timeline = gr.Plot(value=None, visible=False)
    return label, circumplex_figure(prediction), timeline, numbers


def build_demo(
    recognizer: EmotionRecognizer,
    *,
    examples_dir: str | os.PathLike | None = None,
    max_seconds: float = MAX_DURATION_SECONDS,
    max_mb: float = MAX_FILE_MB,
) -> gr.Blocks:
    """The demo's Blocks around a loaded recognizer (launch it yourself).

    Args:
        recognizer: the loaded model.
        examples_dir: where to write the synthetic example clips (default: a new temp dir).
        max_seconds: longest recording accepted.
        max_mb: largest upload accepted.

    The API endpoint is ``/predict``: audio file and, optionally, how to cut it (a key of
    :data:`SEGMENT_CHOICES`) in; label, circumplex plot, timeline plot and a dict of numbers
    (label, confidence, valence, arousal, silent, duration_s, segment, windows, mode,
    calibration_clips) out. With a model that has a speaker-adaptive head, ``/calibrate`` (several
    audio files of one voice; status and mode lines out), ``/add_recording`` and ``/forget_voice``
    set this session's calibration, which ``/predict`` then uses (see :mod:`hf_emotion.app.calibration`).
    """
    examples = write_example_clips(examples_dir)
    try:
        adaptive, unavailable = recognizer.speaker_adaptive(), None
    except ValueError as error:  # no head, an ONNX export, an ensemble: the section says so in one line
        adaptive, unavailable = None, unavailable_line(error)

    def run(path: str | None, cut: str = next(iter(SEGMENT_CHOICES)), calibration=None):
        # The mode line above the results says which mode this session is in; numbers["mode"] says it too.
        segment = SEGMENT_CHOICES.get(cut, cut)
        return predict(
            recognizer, path, max_seconds=max_seconds, max_mb=max_mb, segment=segment,
            calibration=calibration, adaptive=adaptive,
        )  # fmt: skip

    with gr.Blocks(title="Speech emotion recognition") as demo:
        calibration = gr.State(None)  # this visitor's VoiceCalibration: per browser session, never global
        mode = gr.Markdown(mode_line(None), elem_id="mode", render=False)  # shown above the results
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column():
                audio = gr.Audio(
                    sources=["upload", "microphone"], type="filepath", label="Speech", elem_id="audio-in"
                )
                cut = gr.Radio(
                    list(SEGMENT_CHOICES),
                    value=next(iter(SEGMENT_CHOICES)),
                    label="How to cut the recording",
                    elem_id="segment",
                )
                button = gr.Button("Recognize emotion", variant="primary", elem_id="recognize")
                gr.Examples(examples=[[p] for p in examples], inputs=audio, label="Synthetic examples")
                gr.Markdown(
                    f"Up to {_minutes(max_seconds)} and {max_mb:g} MB. Labels: "
                    + ", ".join(recognizer.labels)
                )
                with gr.Accordion("Calibrate with your voice", open=False, elem_id="calibration"):
                    if adaptive is None:
                        gr.Markdown(unavailable, elem_id="calibration-notice")
                    else:
                        threshold = recognizer.options.silence_threshold_db
                        calibration_section(adaptive, calibration, mode, max_mb=max_mb, threshold=threshold)
            with gr.Column():
                mode.render()
                label = gr.Label(num_top_classes=len(recognizer.labels), label="Emotion", elem_id="emotion")
                circumplex = gr.Plot(label="Valence / arousal", elem_id="circumplex")
                numbers = gr.JSON(label="Numbers", elem_id="numbers")
        timeline = gr.Plot(label="Timeline", visible=False, elem_id="timeline")
        button.click(
            run,
            inputs=[audio, cut, calibration],
            outputs=[label, circumplex, timeline, numbers],
            api_name="predict",
        )
    return demo


def calibration_section(
    adaptive: SpeakerAdaptiveScoring,
    calibration: gr.State,
    mode: gr.Markdown,
    *,
    max_mb: float,
    threshold: float | None,
) -> None:
    """The "Calibrate with your voice" controls and their events (inside the open Blocks and Accordion)."""
    gr.Markdown(
        CALIBRATION_HELP.format(minimum=MIN_CLIPS_PER_SPEAKER, recommended=RECOMMENDED_CLIPS_PER_SPEAKER)
    )
    recordings = gr.State([])  # microphone recordings added so far, this session
    files = gr.File(
        file_count="multiple", type="filepath", label="Clips of your voice", elem_id="calibration-clips"
    )
    recorder = gr.Audio(
        sources=["microphone"], type="filepath", label="Or record one sentence at a time",
        elem_id="calibration-recorder",
    )  # fmt: skip
    add = gr.Button("Add this recording", elem_id="add-recording")
    with gr.Row():
        calibrate = gr.Button("Calibrate", variant="primary", elem_id="calibrate")
        forget = gr.Button("Forget my voice", elem_id="forget-voice")
    status = gr.Markdown(elem_id="calibration-status")

    def add_recording(recording: str | None, added: list[str]):
        if not recording:
            raise gr.Error("Record a sentence first.")
        added = [*added, recording]
        return None, added, f"{len(added)} recordings added; add more, or press Calibrate."

    def calibrate_with(paths: list[str] | None, added: list[str]):
        try:
            voice = calibrate_voice(
                adaptive, [*(paths or []), *added], max_mb=max_mb, silence_threshold_db=threshold
            )
        except AudioDecodeError as error:
            raise unreadable(error.path, error) from error
        except ValueError as error:
            raise gr.Error(f"{error}.") from error
        return voice, calibrated_line(voice), mode_line(voice)

    def forget_voice():
        return None, [], None, "Forgot your voice: recordings are judged clip by clip again.", mode_line(None)

    add.click(add_recording, [recorder, recordings], [recorder, recordings, status], api_name="add_recording")
    calibrate.click(calibrate_with, [files, recordings], [calibration, status, mode], api_name="calibrate")
    forget.click(forget_voice, None, [calibration, recordings, files, status, mode], api_name="forget_voice")


def launch(demo: gr.Blocks, **kwargs) -> None:
    """Serve ``demo`` with the upload size limit the server enforces (kwargs go to ``launch``)."""
    demo.launch(max_file_size=f"{int(MAX_FILE_MB)}mb", **kwargs)
