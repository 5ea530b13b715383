"""Where a fold's time goes: the wall time of each of its phases, in the order they ran.

A fold's ``all_results.json`` gets ``phases`` (``[{"phase": name, "seconds": s}, ...]``), one
``time_<phase>_s`` key per phase name and ``fold_wall_s``, the fold's wall time from its first phase to its
last; what no phase covers (splitting, logging, the gaps between) is the difference. The phases are
``loading`` and ``decoding`` (the run's, in the first fold a process trains), ``finding_speech`` (Silero
VAD over the training and validation clips, once: ``trainer.cut_to_speech``), ``model_loading``,
``probe_encoding``/``probe_fit``, ``epoch_<n>`` (training steps only), ``validation_<n>`` and
``checkpoint_<n>`` (the Trainer's passes and saves during fine-tuning), ``refit_encoding``/``refit_fit``,
``class_mixing``, ``speaker_adaptive``, ``final_validation``, ``test`` and ``export``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager

from transformers import TrainerCallback


class PhaseClock:
    """The phases of one fold (or of the final model), timed with ``time.perf_counter``.

    Args:
        started: when the fold began (default: now); a fold that carries the run's loading and decoding
            starts when they did.
        phases: phases already timed, e.g. the run's ``loading`` and ``decoding``.
    """

    def __init__(self, started: float | None = None, phases: list[tuple[str, float]] | None = None):
        self.started = time.perf_counter() if started is None else started
        self.phases: list[tuple[str, float]] = list(phases or [])

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time the block as phase ``name``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)

    def add(self, name: str, seconds: float) -> None:
        self.phases.append((name, seconds))

    def add_split(self, name: str, since: float, encoding_seconds: float) -> None:
        """A head fit timed from ``since``, as ``<name>_encoding`` (its encoder pass) and ``<name>_fit``."""
        total = time.perf_counter() - since
        encoding_seconds = min(encoding_seconds, total)
        self.add(f"{name}_encoding", encoding_seconds)
        self.add(f"{name}_fit", total - encoding_seconds)

    def count(self, prefix: str) -> int:
        """How many phases named ``<prefix>_<n>`` there are so far."""
        return sum(
            name.startswith(f"{prefix}_") and name[len(prefix) + 1 :].isdigit() for name, _ in self.phases
        )

    def recorded_seconds(self) -> float:
        return sum(seconds for _, seconds in self.phases)

    def metrics(self) -> dict:
        """``phases``, ``time_<phase>_s`` (phases of one name added up) and ``fold_wall_s``."""
        totals: dict[str, float] = {}
        for name, seconds in self.phases:
            totals[f"time_{name}_s"] = totals.get(f"time_{name}_s", 0.0) + seconds
        return {
            "phases": [{"phase": name, "seconds": round(seconds, 3)} for name, seconds in self.phases],
            **{key: round(seconds, 3) for key, seconds in totals.items()},
            "fold_wall_s": round(time.perf_counter() - self.started, 3),
        }


class EpochClockCallback(TrainerCallback):
    """Times each training epoch into a :class:`PhaseClock` as ``epoch_<n>``: its steps only, without the
    validation passes and checkpoints the Trainer runs inside it (``EmotionTrainer`` times those)."""

    def __init__(self, clock: PhaseClock):
        self.clock = clock
        self._began: tuple[float, float] | None = None

    def on_epoch_begin(self, args, state, control, **kwargs):
        self._began = (time.perf_counter(), self.clock.recorded_seconds())

    def on_epoch_end(self, args, state, control, **kwargs):
        if self._began is None:
            return
        began, recorded = self._began
        inside = self.clock.recorded_seconds() - recorded  # validation and checkpoints timed meanwhile
        epoch = max(1, math.ceil((state.epoch or 0.0) - 1e-6))
        self.clock.add(f"epoch_{epoch}", time.perf_counter() - began - inside)
        self._began = None
