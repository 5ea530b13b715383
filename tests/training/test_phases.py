"""hf_emotion.training.phases: a fold's phase times, as its all_results.json records them."""

from __future__ import annotations

import time

import pytest

from hf_emotion.training.phases import PhaseClock


def test_phases_of_one_name_add_up_and_the_wall_time_covers_them():
    clock = PhaseClock(phases=[("decoding", 0.5)])
    with clock.phase("validation_1"):
        time.sleep(0.01)
    clock.add("validation_2", 0.25)
    started = time.perf_counter() - 1.0
    clock.add_split("probe", started, encoding_seconds=0.75)
    metrics = clock.metrics()
    assert [p["phase"] for p in metrics["phases"]] == [
        "decoding",
        "validation_1",
        "validation_2",
        "probe_encoding",
        "probe_fit",
    ]
    assert metrics["time_probe_encoding_s"] == 0.75 and metrics["time_probe_fit_s"] == pytest.approx(
        0.25, abs=0.01
    )
    assert metrics["time_validation_1_s"] >= 0.01 and clock.count("validation") == 2
    assert clock.count("probe") == 0  # probe_encoding is not a numbered pass
    assert metrics["fold_wall_s"] >= 0.0


def test_an_encoding_longer_than_its_fit_is_cut_to_the_fit():
    clock = PhaseClock()
    clock.add_split("refit", time.perf_counter(), encoding_seconds=5.0)  # measured elsewhere, rounded up
    (encoding, encoding_s), (fit, fit_s) = clock.phases
    assert encoding_s <= 0.1 and fit_s >= 0.0
