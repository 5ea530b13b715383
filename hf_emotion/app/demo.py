"""Gradio demo: speech emotion recognition with a fine-tuned speech encoder.

Upload or record speech; see the emotion probabilities, the valence/arousal point on the
circumplex plane and, for recordings of two windows or more, how the emotion moves over time; or
let it listen live to the microphone (:mod:`hf_emotion.app.live`). The page says what the model
is (:mod:`hf_emotion.app.model_facts`) and offers clips of its test speakers as examples
(:mod:`hf_emotion.app.examples`). With a model that has a speaker-adaptive head, "Calibrate with
your voice" judges recordings against a few clips of the visitor's own voice, kept per browser
session (:mod:`hf_emotion.app.calibration`); without one, the section is left out.

``hf-emotion demo --model DIR`` serves it locally; ``demo/app.py`` and the ``app.py`` that
``hf-emotion space`` writes are thin scripts over :func:`build_demo_for` (or :func:`build_demo` and
:func:`load_recognizer`). The model is the one given, else ``$HF_EMOTION_MODEL`` (a folder or Hub
id), else the first of the script's candidate folders that exists (a ``model/`` folder beside it,
then the general model, then the main job's: :mod:`hf_emotion.serving.default_model`).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gradio as gr
import matplotlib.pyplot as plt

from ..data.audio import AudioDecodeError, audio_info
from ..hub.examples import ExampleClip, copy_examples, read_examples
from ..serving.adaptive_scoring import SpeakerAdaptiveScoring
from ..serving.default_model import MODEL_CANDIDATES, MODEL_ENV, resolve_model
from ..serving.predictions import EmotionPrediction
from ..serving.recognizer import EmotionRecognizer, split_model_names
from ..serving.speaker_adaptive import MIN_CLIPS_PER_SPEAKER, RECOMMENDED_CLIPS_PER_SPEAKER
from .calibration import MAX_CLIP_SECONDS as CALIBRATED_MAX_SECONDS
from .calibration import (
    VoiceCalibration,
    calibrate_voice,
    calibrated_line,
    judge_against_voice,
    mode_line,
)
from .examples import EXAMPLE_SAMPLING_RATE, examples_block, synthetic_voice, write_example_clips  # noqa: F401
from .figures import circumplex_figure, timeline_figure
from .live import live_section
from .model_facts import ModelFacts, facts_markdown, read_model_facts

logger = logging.getLogger(__name__)

#: Upload limits: longer or bigger input is refused with a message, not queued for minutes.
MAX_DURATION_SECONDS = 600.0
MAX_FILE_MB = 50.0

INTRO = """# Speech emotion recognition
Upload a recording, record one, or let it listen live. The model gives a probability for each
emotion and a point on the valence (unpleasant → pleasant) / arousal (calm → excited) plane.
Recordings of two windows (6 s) or more also get a timeline."""

CALIBRATION_HELP = """Give {minimum} or more short clips of your own voice ({recommended} or more is
better): different sentences, said in different moods. They are encoded once and kept for this
browser session only. Then **Recognize emotion** judges each recording against them: how it departs
from your usual voice, which helps a model on a voice it never heard. It misleads when the
calibration clips all carry the same emotion."""


# ---------------------------------------------------------------------- model


def load_recognizer(
    model: str | os.PathLike | list[str | os.PathLike] | None = None,
    *,
    device: str = "cpu",
    candidates: Sequence[str | os.PathLike] = MODEL_CANDIDATES,
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


def speaker_adaptive_or_none(recognizer: EmotionRecognizer) -> SpeakerAdaptiveScoring | None:
    """The recognizer's speaker-adaptive scoring, or None when it cannot calibrate (no head, an ONNX export,
    an ensemble): visitors then see no calibration section, and no maintainer's command."""
    try:
        return recognizer.speaker_adaptive()
    except ValueError as error:
        logger.info("No 'Calibrate with your voice' section: %s", error)
        return None


def build_demo(
    recognizer: EmotionRecognizer,
    *,
    about: ModelFacts | None = None,
    examples: Sequence[ExampleClip] = (),
    examples_dir: str | os.PathLike | None = None,
    max_seconds: float = MAX_DURATION_SECONDS,
    max_mb: float = MAX_FILE_MB,
) -> gr.Blocks:
    """The demo's Blocks around a loaded recognizer (launch it yourself).

    Args:
        recognizer: the loaded model.
        about: what the "About this model" panel says (:func:`hf_emotion.app.model_facts.read_model_facts`);
            None: no panel.
        examples: clips of the model's test speakers (:func:`hf_emotion.hub.examples.find_examples`); none:
            synthetic tones, labelled as such.
        examples_dir: where to write the synthetic tones (default: a new temp dir).
        max_seconds: longest recording accepted.
        max_mb: largest upload accepted.

    The API endpoint is ``/predict``: audio file and, optionally, how to cut it (a key of
    :data:`SEGMENT_CHOICES`) in; label, circumplex plot, timeline plot and a dict of numbers
    (label, confidence, valence, arousal, silent, duration_s, segment, windows, mode,
    calibration_clips) out. With a model that has a speaker-adaptive head, ``/calibrate`` (several
    audio files of one voice; status and mode lines out), ``/add_recording`` and ``/forget_voice``
    set this session's calibration, which ``/predict`` then uses (see :mod:`hf_emotion.app.calibration`).
    """
    adaptive = speaker_adaptive_or_none(recognizer)

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
        if about is not None:
            gr.Markdown(f"### About this model\n{facts_markdown(about)}", elem_id="model-panel")
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
                examples_block(audio, examples, examples_dir=examples_dir)
                gr.Markdown(
                    f"Up to {_minutes(max_seconds)} and {max_mb:g} MB. Labels: "
                    + ", ".join(recognizer.labels)
                )
                if adaptive is not None:
                    with gr.Accordion("Calibrate with your voice", open=False, elem_id="calibration"):
                        threshold = recognizer.options.silence_threshold_db
                        calibration_section(adaptive, calibration, mode, max_mb=max_mb, threshold=threshold)
            with gr.Column():
                if adaptive is not None:
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
        live_section(recognizer)
    return demo


def build_demo_for(
    model: str | os.PathLike | list[str | os.PathLike] | None = None,
    *,
    candidates: Sequence[str | os.PathLike] = MODEL_CANDIDATES,
    examples_from: Sequence[str] | None = None,
    examples_folder: str | os.PathLike | None = None,
    device: str = "cpu",
) -> gr.Blocks:
    """The demo of a model by name, with its panel and examples: what ``hf-emotion demo``, ``demo/app.py``
    and a Space's ``app.py`` serve.

    Args:
        model: as :func:`load_recognizer` takes it (else the environment, else ``candidates``).
        candidates: the folders tried when neither ``model`` nor the environment names one.
        examples_from: the corpus folders to take test speakers' clips from (one per corpus the run trained
            on); default: the folders the run recorded beside the model.
        examples_folder: the clips ``hf-emotion space`` copied (its ``examples.json``), shown as they are;
            given, none are picked from data (a Space has no corpus at hand, nor the libraries to read one).
        device: where the model runs.
    """
    name = resolve_model(model, candidates=candidates)
    recognizer = load_recognizer(name, device=device)
    about = read_model_facts(name, recognizer.labels)
    if examples_folder is not None:
        examples = read_examples(examples_folder)
    elif os.path.isdir(name):
        from ..hub.example_picking import find_examples  # reads corpora: datasets, not needed in a Space

        # Copied beside the demo: gradio serves files from its temp folder, not from a corpus folder.
        found = find_examples(name, examples_from)
        examples = copy_examples(found, tempfile.mkdtemp(prefix="hf-emotion-examples-")) if found else []
    else:
        examples = []
    return build_demo(recognizer, about=about, examples=examples)


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
