"""Listen live: the demo follows the microphone, scoring the last few seconds about once a second.

The browser streams the microphone in chunks (``gr.Audio(streaming=True)``, one chunk per
:data:`UPDATE_SECONDS`); each chunk is added to this visitor's :class:`LiveSession` (kept in their
``gr.State``, never shared), the last :data:`WINDOW_SECONDS` are scored as one clip, and the label, the
valence/arousal point, the timeline and the time the scoring took are shown. A window is scored whole, as
the model was trained on clips of a few seconds; a quiet window is marked silent, not guessed.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import gradio as gr
import numpy as np

from ..serving.predictions import EmotionPrediction
from ..serving.recognizer import EmotionRecognizer
from .figures import circumplex_figure, timeline_figure

#: Seconds of the most recent audio scored at each update: long enough for an utterance's tone.
WINDOW_SECONDS = 3.0
#: Seconds between updates (the browser sends one chunk each).
UPDATE_SECONDS = 1.0
#: Seconds of history the live timeline keeps.
HISTORY_SECONDS = 60.0
#: Longest a visitor may stream in one go (frees the server for others).
TIME_LIMIT_SECONDS = 300
#: Visitors streaming at once: each update is one forward pass on a shared CPU.
CONCURRENT_STREAMS = 4

LIVE_HELP = (
    f"Press **Record** and speak: every {UPDATE_SECONDS:g} s the model scores your last {WINDOW_SECONDS:g} s "
    "of speech. Nothing is stored."
)
IDLE_STATUS = "Not listening."


@dataclass
class LiveSession:
    """One visitor's stream so far.

    Attributes:
        sampling_rate: the rate of the browser's chunks.
        recent: the last :data:`WINDOW_SECONDS` of mono samples, float32 in [-1, 1].
        heard: seconds received since the recording started.
        timeline: one prediction per update, ``start``/``end`` in seconds since the start, the last
            :data:`HISTORY_SECONDS` of them.
    """

    sampling_rate: int
    recent: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    heard: float = 0.0
    timeline: list[EmotionPrediction] = field(default_factory=list)


def mono_float(samples: np.ndarray) -> np.ndarray:
    """A browser chunk (int16 or float, ``(frames,)`` or ``(frames, channels)``) as mono float32."""
    samples = np.asarray(samples)
    if np.issubdtype(samples.dtype, np.integer):
        samples = samples.astype(np.float32) / np.iinfo(samples.dtype).max
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    return samples.astype(np.float32, copy=False)


def listen(
    recognizer: EmotionRecognizer,
    session: LiveSession | None,
    sampling_rate: int,
    chunk: np.ndarray,
    *,
    window_seconds: float = WINDOW_SECONDS,
) -> tuple[LiveSession, EmotionPrediction, float]:
    """Add ``chunk`` to the session and score its last ``window_seconds``.

    Returns:
        ``(session, prediction of the window, seconds the scoring took)``; a new session when there was none
        or the rate changed.
    """
    if session is None or session.sampling_rate != sampling_rate:
        session = LiveSession(sampling_rate)
    samples = mono_float(chunk)
    keep = int(window_seconds * sampling_rate)
    session.recent = np.concatenate([session.recent, samples])[-keep:]
    session.heard += samples.shape[0] / sampling_rate
    started = time.perf_counter()
    prediction = recognizer(session.recent, sampling_rate=sampling_rate)
    latency = time.perf_counter() - started
    window = session.recent.shape[0] / sampling_rate
    prediction = dataclasses.replace(prediction, start=session.heard - window, end=session.heard, source=None)
    session.timeline = [p for p in session.timeline if p.end > session.heard - HISTORY_SECONDS] + [prediction]
    return session, prediction, latency


def status_line(session: LiveSession, latency: float) -> str:
    """What the page says under the microphone: how long it has listened and how long scoring took."""
    return (
        f"Listening: {session.heard:.0f} s heard · scored the last "
        f"{session.recent.shape[0] / session.sampling_rate:.1f} s in **{latency * 1000:.0f} ms**"
    )


def live_section(recognizer: EmotionRecognizer) -> None:
    """The "Listen live" controls and their stream (inside the open Blocks)."""
    gr.Markdown(f"## Listen live\n{LIVE_HELP}")
    session = gr.State(None)  # this visitor's LiveSession
    with gr.Row():
        with gr.Column():
            microphone = gr.Audio(
                sources=["microphone"],
                streaming=True,
                type="numpy",
                label="Microphone (live)",
                elem_id="live-in",
            )
            status = gr.Markdown(IDLE_STATUS, elem_id="live-status")
        with gr.Column():
            label = gr.Label(num_top_classes=3, label="Now", elem_id="live-emotion")
            circumplex = gr.Plot(label="Valence / arousal, now", elem_id="live-circumplex")
    timeline = gr.Plot(label="Live timeline", elem_id="live-timeline")

    def update(chunk: tuple[int, np.ndarray] | None, current: LiveSession | None):
        if chunk is None:
            return current, gr.skip(), gr.skip(), gr.skip(), gr.skip()
        current, prediction, latency = listen(recognizer, current, *chunk)
        shown = "silence (no speech heard)" if prediction.silent else prediction.probabilities
        history = EmotionPrediction({}, None, None, None, None, timeline=current.timeline)
        figure = timeline_figure(history, title=f"Live: each point scores the {WINDOW_SECONDS:g} s before it")
        return current, shown, circumplex_figure(prediction), figure, status_line(current, latency)

    def new_recording():  # each recording starts a new session: no window mixes two recordings
        return None, "Listening..."

    microphone.start_recording(new_recording, None, [session, status], queue=False, api_visibility="private")
    microphone.stream(
        update,
        [microphone, session],
        [session, label, circumplex, timeline, status],
        stream_every=UPDATE_SECONDS,
        time_limit=TIME_LIMIT_SECONDS,
        concurrency_limit=CONCURRENT_STREAMS,
        show_progress="hidden",
        api_name="listen",
        api_visibility="undocumented",
    )
