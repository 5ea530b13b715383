"""Bad configurations and bad files, as a new user makes them: one clear line, exit status 2.

Each case below was found by trying the tools with wrong arguments; each ended in a
traceback (or, worse, trained on the wrong thing) before. Most run in-process through
``exit_status`` / ``hf_emotion.cli.main``; two run as real processes to check what a shell sees.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import finetune
from hf_emotion.cli import main as cli_main
from hf_emotion.corpora import load_corpus, load_ravdess, ravdess
from hf_emotion.data.audio import audio_info, decode_audio, stream_audio_blocks
from hf_emotion.errors import DEBUG_ENV, ConfigurationError, exit_status
from hf_emotion.preflight import check_device
from hf_emotion.training import recipe
from tests.cli_checks import drop_stream_handlers
from tests.cli_checks import one_error_line as _one_error_line
from tests.serving.test_inference import make_emotion_model_dir
from tests.synth import emotion_signal, make_ravdess_tree, write_audio

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def small_ravdess(tmp_path_factory) -> Path:
    """4 actors × 3 short clips: enough for 3-4 speaker folds."""
    root = tmp_path_factory.mktemp("small-ravdess")
    return make_ravdess_tree(root, actors=range(1, 5), emotions=("neutral", "happy"), seconds=0.2)


@pytest.fixture(scope="module")
def model_dir(tiny_wav2vec2_dir, tmp_path_factory) -> Path:
    return make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path_factory.mktemp("bad-inputs-model"))


@pytest.fixture(autouse=True)
def no_stale_log_handlers():
    """finetune.main and the CLI point the root logger at the stdout/stderr of the test that calls them,
    which pytest closes afterwards; logging into a closed stream prints a traceback of its own."""

    drop_stream_handlers()
    yield
    drop_stream_handlers()


# --------------------------------------------------------------------------- finetune.py


def _bad_finetune_runs(root: Path, tmp: Path, model: Path) -> list[tuple[list[str], str]]:
    (tmp / "empty").mkdir(exist_ok=True)
    one_actor = make_ravdess_tree(tmp / "one-actor", actors=[3], emotions=("neutral", "happy"), seconds=0.2)
    table = tmp / "clips.csv"
    table.write_text("path,mood\n" + "".join(f"{p},happy\n" for p in sorted(root.rglob("*.wav"))[:4]))
    rav = ["--dataset", "ravdess", "--data_dir", str(root), "--model_name_or_path", str(model)]
    return [
        (["--dataset", "ravdes", "--data_dir", str(root)], "--dataset ravdes: not a built-in corpus .*did you mean --dataset ravdess"),
        (["--dataset", "ravdess", "--data_dir", str(tmp / "nope")], f"data directory {tmp / 'nope'} does not exist"),
        (["--dataset", "ravdess", "--data_dir", str(tmp / "empty")], "no usable audio clips found"),
        (["--dataset", "ravdess"], "cannot reach 127.0.0.1:9 .*are you offline\\? .*pass --data_dir"),
        (["--dataset", "ravdess", "crema_d", "--data_dir", str(root)], "one --data_dir per --dataset"),
        (["--dataset", "ravdess", "--data_dir", str(one_actor)], "the data has 1 speaker\\(s\\) \\(ravdess-03\\)"),
        ([*rav, "--num_folds", "2"], "--num_folds 2 leaves no training speakers"),
        ([*rav, "--num_folds", "6"], "--num_folds 6 is more than the 4 speakers"),
        ([*rav, "--num_folds", "4", "--fold", "4"], "--fold must lie in \\[0, --num_folds=4\\), got 4"),
        (["--dataset", str(table), "--label_column_name", "emotion"], "label_column='emotion' not found"),
        ([*rav, "--num_folds", "4", "--model_name_or_path", str(tmp / "no-model")], "no-model: no such folder"),
        ([str(tmp / "missing-run.json")], "missing-run.json: No such file or directory"),
        ([*rav, "--num_folds", "4", "--save_strategy", "epoch", "--save_steps", "7"], "--save_steps 7 is only used"),
    ]  # fmt: skip


def test_bad_finetune_configurations_end_in_one_line_before_any_decoding(
    small_ravdess, tiny_wav2vec2_dir, tmp_path, capsys, monkeypatch
):
    def decoding_is_too_late(*args, **kwargs):
        raise AssertionError("the configuration should have been refused before decoding")

    monkeypatch.setattr(recipe, "decode_dataset", decoding_is_too_late)  # where the recipe decodes
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    # Without --data_dir a built-in corpus is downloaded into the cache: an empty cache and a
    # source nobody answers (the discard port) stand for a machine that is offline.
    monkeypatch.setenv("HF_EMOTION_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(ravdess, "ZENODO", "http://127.0.0.1:9")
    for argv, message in _bad_finetune_runs(small_ravdess, tmp_path, tiny_wav2vec2_dir):
        status = exit_status(lambda argv=argv: finetune.main([*argv, "--output_dir", str(tmp_path / "out")]))
        line = _one_error_line(capsys)
        assert status == 2, argv
        assert re.search(message, line), (message, line)


def test_debug_keeps_the_traceback(small_ravdess, tmp_path, monkeypatch):
    monkeypatch.setenv(DEBUG_ENV, "1")
    argv = ["--dataset", "ravdes", "--data_dir", str(small_ravdess), "--output_dir", str(tmp_path)]
    with pytest.raises(ConfigurationError, match="did you mean"):
        exit_status(lambda: finetune.main(argv))
    monkeypatch.delenv(DEBUG_ENV)
    with pytest.raises(ConfigurationError):
        cli_main(["--debug", "train", *argv])


def test_a_shell_sees_status_2_and_one_line(small_ravdess, tmp_path, capsys):
    env = {**os.environ, "PYTHONPATH": str(REPO), DEBUG_ENV: "0"}
    argv = [
        "--dataset",
        "ravdess",
        "--data_dir",
        str(small_ravdess),
        "--num_folds",
        "2",
        "--output_dir",
        str(tmp_path),
    ]
    done = subprocess.run(
        [sys.executable, str(REPO / "finetune.py"), *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: --num_folds 2 leaves no training speakers")
    assert "Traceback" not in done.stderr
    assert cli_main(["train", *argv]) == 2  # the same through `hf-emotion train`
    assert "--num_folds 2 leaves no training speakers" in _one_error_line(capsys)


# --------------------------------------------------------------------------- hf-emotion subcommands


def test_a_missing_model_folder_is_named_not_read_as_a_hub_id(tmp_path, capsys):
    clip = write_audio(tmp_path / "a.wav", emotion_signal("happy", 0.3))
    for command in (
        ["predict", str(clip)],
        ["evaluate", "--dataset", "ravdess", "--output_dir", str(tmp_path)],
    ):
        assert cli_main([*command, "--model", str(tmp_path / "runs" / "model")]) == 2
        line = _one_error_line(capsys)
        assert line == f"error: --model {tmp_path / 'runs' / 'model'}: no such folder"


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_device_cuda_without_cuda_is_refused_before_loading(tmp_path, capsys):
    clip = write_audio(tmp_path / "a.wav", emotion_signal("happy", 0.3))
    assert cli_main(["predict", str(clip), "--model", str(tmp_path), "--device", "cuda"]) == 2
    assert "--device cuda: CUDA is not available here" in _one_error_line(capsys)
    assert cli_main(["predict", str(clip), "--model", str(tmp_path), "--device", "gpu0"]) == 2
    assert "--device gpu0: not a torch device" in _one_error_line(capsys)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a machine with CUDA")
def test_a_cuda_device_past_the_last_is_refused():
    with pytest.raises(ConfigurationError, match="CUDA device\\(s\\), numbered from 0"):
        check_device(f"cuda:{torch.cuda.device_count()}")
    check_device("cuda:0")


def test_demo_on_a_busy_port_is_refused_before_the_app_is_built(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert cli_main(["demo", "--port", str(port)]) == 2
    assert f"--port {port}: cannot listen there" in _one_error_line(capsys)


def test_predict_into_a_missing_folder_makes_it(model_dir, tmp_path):
    clip = write_audio(tmp_path / "a.wav", emotion_signal("happy", 0.5))
    out = tmp_path / "not" / "yet" / "o.csv"
    assert (
        cli_main(["predict", str(clip), "--model", str(model_dir), "--output", str(out), "--no_progress"])
        == 0
    )
    assert out.read_text().startswith("file,segment")


def test_other_subcommands_name_the_missing_folder_or_file(small_ravdess, model_dir, tmp_path, capsys):
    assert cli_main(["compare", str(tmp_path / "no-run")]) == 2
    assert _one_error_line(capsys) == f"error: run dir {tmp_path / 'no-run'} does not exist"
    argv = ["evaluate", "--model", str(model_dir), "--split_file", str(tmp_path / "splits.json")]
    assert cli_main([*argv, "--output_dir", str(tmp_path)]) == 2
    assert "--split_file" in _one_error_line(capsys)
    argv = ["baseline", "--system", "rf-mfcc", "--dataset", "ravdess", "--data_dir", str(small_ravdess)]
    assert cli_main([*argv, "--num_folds", "2", "--output_dir", str(tmp_path)]) == 2
    assert "--num_folds 2 leaves no training speakers" in _one_error_line(capsys)


def test_a_command_that_stops_with_a_message_exits_2(model_dir, tmp_path, capsys):
    argv = ["evaluate", "--model", str(model_dir), "--model", str(model_dir), "--speaker_norm_probe"]
    assert cli_main([*argv, "--output_dir", str(tmp_path)]) == 2
    assert "--speaker_norm_probe scores one model's encoder features" in _one_error_line(capsys)


# --------------------------------------------------------------------------- --dataset typos


def test_a_folder_whose_labels_are_not_emotions_warns_naming_them(small_ravdess, caplog):
    loaded = load_corpus("my_corpus", str(small_ravdess))
    assert loaded.features["emotion"].names == ["actor_01", "actor_02", "actor_03", "actor_04"]
    assert "NONE of its 4 labels is an emotion name (found: actor_01, actor_02" in caplog.text
    assert "read it with --dataset ravdess" in caplog.text


def test_an_unknown_name_with_a_folder_that_is_no_dataset_is_refused(tmp_path):
    write_audio(tmp_path / "loose" / "clip.wav", emotion_signal("happy", 0.2))  # no label folders
    with pytest.raises(
        ConfigurationError, match="not a built-in corpus \\(ravdess, .*crema_d.*not a generic dataset"
    ):
        load_corpus("my_corpus", str(tmp_path / "loose"))


# --------------------------------------------------------------------------- bad files


def test_actor_folders_that_are_symlinks_are_followed(small_ravdess, tmp_path):
    linked = tmp_path / "linked"
    linked.mkdir()
    for actor in sorted(small_ravdess.iterdir()):
        (linked / actor.name).symlink_to(actor, target_is_directory=True)
    (linked / "Actor_01" / "loop").symlink_to(linked, target_is_directory=True)  # a cycle is walked once
    assert sorted(load_ravdess(linked)["speaker"]) == sorted(load_ravdess(small_ravdess)["speaker"])


def test_a_truncated_wav_warns_with_the_share_missing(tmp_path, caplog):
    full = write_audio(tmp_path / "full.wav", emotion_signal("happy", 1.0), subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full.read_bytes()[: 44 + 8000])  # the header and a quarter of the samples
    assert audio_info(cut).missing_fraction == pytest.approx(0.75)
    assert decode_audio(cut).shape == (4000,)
    assert (
        "cut.wav: truncated: the header announces 1.00 s but the file holds 0.25 s (75% missing)"
        in caplog.text
    )
    caplog.clear()
    decode_audio(full)
    assert "truncated" not in caplog.text


def test_a_flac_whose_header_leaves_the_length_unknown_is_read(tmp_path):
    signal = emotion_signal("sad", 1.5)
    sf.write(tmp_path / "known.flac", signal, 16000)
    data = bytearray((tmp_path / "known.flac").read_bytes())
    # STREAMINFO (right after "fLaC" and its 4-byte block header): total samples are the low 36 bits
    # of bytes 10-17; a stream encoder that cannot seek back leaves them 0.
    packed = int.from_bytes(data[18:26], "big") & ~((1 << 36) - 1)
    data[18:26] = packed.to_bytes(8, "big")
    (tmp_path / "stream.flac").write_bytes(bytes(data))
    assert audio_info(tmp_path / "stream.flac").duration == pytest.approx(1.5)
    np.testing.assert_array_equal(
        decode_audio(tmp_path / "stream.flac"), decode_audio(tmp_path / "known.flac")
    )
    blocks = list(stream_audio_blocks(tmp_path / "stream.flac", block_seconds=0.5))
    assert sum(len(b) for b in blocks) == len(signal)


def test_training_args_pickle_stays_in_checkpoints_not_in_the_model_folder(model_dir, tmp_path):
    from hf_emotion.model.modeling_emotion import EmotionModel
    from hf_emotion.training.arguments import EmotionTrainingArguments
    from hf_emotion.training.trainer import EmotionTrainer

    args = EmotionTrainingArguments(
        output_dir=str(tmp_path),
        eval_strategy="no",
        save_strategy="no",
        load_best_model_at_end=False,
        report_to=[],
    )
    trainer = EmotionTrainer(model=EmotionModel.from_pretrained(model_dir), args=args)
    trainer.save_model(str(tmp_path / "checkpoint-3"))
    trainer.save_model(str(tmp_path / "model"))
    assert (tmp_path / "checkpoint-3" / "training_args.bin").is_file()
    assert (tmp_path / "model" / "model.safetensors").is_file()
    assert not (tmp_path / "model" / "training_args.bin").exists()
