"""benchmarks.validation_curves: whole and trimmed validation UA per epoch, read from the Trainer's state."""

from __future__ import annotations

import json

from benchmarks import validation_curves


def write_state(folder, history):
    (folder / "checkpoint-20").mkdir(parents=True)
    (folder / "checkpoint-20" / "trainer_state.json").write_text(json.dumps({"log_history": history}))


def test_the_table_has_each_runs_whole_and_trimmed_ua_by_epoch(tmp_path):
    write_state(tmp_path / "a", [{"loss": 2.0, "epoch": 0.5}, {"eval_ua": 0.5, "epoch": 1.0},
                                 {"eval_trimmed_ua": 0.25, "epoch": 1.0}, {"eval_ua": 0.75, "epoch": 2.0}])  # fmt: skip
    write_state(tmp_path / "b", [{"eval_ua": 0.625, "epoch": 1.0}, {"eval_trimmed_ua": 0.5, "epoch": 1.0}])
    out = tmp_path / "curves.md"
    argv = ["--run", f"a={tmp_path / 'a'}", "--run", f"b={tmp_path / 'b'}", "--output", str(out)]
    assert validation_curves.main(argv) == 0
    text = out.read_text()
    assert "| 1 | 0.500 | 0.250 | 0.625 | 0.500 |" in text
    assert "| 2 | 0.750 | – | – | – |" in text
    assert json.loads(out.with_suffix(".json").read_text())["runs"]["b"] == {
        "1": {"whole": 0.625, "trimmed": 0.5}
    }


def test_the_run_folders_own_state_wins_over_an_older_checkpoints(tmp_path):
    write_state(tmp_path / "run", [{"eval_ua": 0.5, "epoch": 1.0}])  # the best checkpoint, kept
    state = {"log_history": [{"eval_ua": 0.5, "epoch": 1.0}, {"eval_ua": 0.625, "epoch": 2.0}]}
    (tmp_path / "run" / "trainer_state.json").write_text(json.dumps(state))  # the end of training
    assert validation_curves.curves(validation_curves.trainer_state(tmp_path / "run"))[2] == {"whole": 0.625}
