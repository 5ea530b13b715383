"""Bad folders and damaged files, found after the arguments parsed: one ``error:`` line and exit status 2.

Each case ended in a traceback (exit status 1) before: a run file holding a JSON list, an output folder
that is a file or cannot be written, a full disk while a checkpoint or a zip is written, a checkpoint
path that does not exist, damaged weights, a ``cv_summary.json`` given as ``--split_file``, ``adapt``
on too few clips or into a read-only folder, a matrix that is not one, ``--url`` that is no URL.
A full disk is simulated (``OSError(ENOSPC)`` from the write that hits it), and so, for root, is a
read-only folder (file modes do not stop root: the kernel's ``EACCES`` is raised for it).
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import finetune
import hf_emotion.corpora as corpora
import hf_emotion.data.decode_cache as decode_cache
from hf_emotion.cli import main as cli_main
from hf_emotion.data.splits import Split
from hf_emotion.errors import DEBUG_ENV, exit_status, no_space_left_in
from hf_emotion.training import recipe
from hf_emotion.training.checkpoints import last_complete_checkpoint
from tests.cli_checks import drop_stream_handlers
from tests.cli_checks import one_error_line as _one_error_line
from tests.corpora.test_download import SPEECH_ZIP, ravdess_zip, server  # noqa: F401  (server: a fixture)
from tests.serving.test_inference import make_emotion_model_dir
from tests.synth import emotion_signal, make_ravdess_tree, write_audio

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def small_ravdess(tmp_path_factory) -> Path:
    """4 actors × 3 short clips: too few for a speaker-adaptive head, enough for 4 speaker folds."""
    root = tmp_path_factory.mktemp("small-ravdess")
    return make_ravdess_tree(root, actors=range(1, 5), emotions=("neutral", "happy"), seconds=0.2)


@pytest.fixture(scope="module")
def model_dir(tiny_wav2vec2_dir, tmp_path_factory) -> Path:
    return make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path_factory.mktemp("bad-files-model"))


@pytest.fixture(autouse=True)
def quiet_and_no_debug(monkeypatch):
    """No traceback on request, and no root logging handler left pointing at a closed capture stream."""
    monkeypatch.delenv(DEBUG_ENV, raising=False)

    drop_stream_handlers()
    yield
    drop_stream_handlers()


@pytest.fixture
def read_only(monkeypatch):
    """``read_only(folder)``: chmod 0o555; for root, whom modes do not stop, creating anything in it raises the
    ``EACCES`` the kernel gives everyone else."""
    folders: list[Path] = []
    real_open, real_mkdir = os.open, os.mkdir
    creating = os.O_CREAT | getattr(os, "O_TMPFILE", 0)

    def refused(path) -> bool:
        path = Path(os.fsdecode(path)).absolute()
        return any(path == folder or path.parent == folder for folder in folders)

    def guarded_open(path, flags, *args, **kwargs):
        if flags & creating and refused(path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(path))
        return real_open(path, flags, *args, **kwargs)

    def guarded_mkdir(path, *args, **kwargs):
        if refused(path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(path))
        return real_mkdir(path, *args, **kwargs)

    if os.geteuid() == 0:
        monkeypatch.setattr(os, "open", guarded_open)
        monkeypatch.setattr(os, "mkdir", guarded_mkdir)

    def make(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o555)
        folders.append(folder.absolute())
        return folder

    yield make
    for folder in folders:
        folder.chmod(0o755)


def _no_decoding(monkeypatch):
    """Decoding is the first slow step of a run: a refusal must come before it."""

    def too_late(*args, **kwargs):
        raise AssertionError("the mistake should have been found before decoding")

    monkeypatch.setattr(recipe, "decode_dataset", too_late)
    monkeypatch.setattr(decode_cache, "decode_dataset", too_late)


def _finetune(argv: list[str]) -> int:
    return exit_status(lambda: finetune.main(argv))


def _rav(data: Path, model: Path) -> list[str]:
    return [
        "--dataset",
        "ravdess",
        "--data_dir",
        str(data),
        "--model_name_or_path",
        str(model),
        "--num_folds",
        "4",
    ]


# --------------------------------------------------------------------------- finetune.py


def test_a_run_file_holding_a_json_list_is_refused_in_one_line(tmp_path):
    run_file = tmp_path / "configs.json"
    run_file.write_text('[{"dataset": ["ravdess"]}, {"dataset": ["crema_d"]}]')
    done = subprocess.run(
        [sys.executable, str(REPO / "finetune.py"), str(run_file)],
        env={**os.environ, "PYTHONPATH": str(REPO), DEBUG_ENV: "0"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f'error: {run_file}: a run file holds one JSON object of flags, e.g. {{"dataset": ["ravdess"], '
        '"output_dir": "outputs/run"}; this one holds a list'
    )


def test_resuming_from_a_missing_checkpoint_is_refused_before_any_work(
    small_ravdess, tiny_wav2vec2_dir, tmp_path, capsys, monkeypatch
):
    _no_decoding(monkeypatch)
    argv = [*_rav(small_ravdess, tiny_wav2vec2_dir), "--output_dir", str(tmp_path / "run")]
    assert _finetune([*argv, "--resume_from_checkpoint", str(tmp_path / "run" / "checkpoint-9")]) == 2
    assert _one_error_line(capsys).startswith(
        f"error: --resume_from_checkpoint {tmp_path / 'run' / 'checkpoint-9'}: no such folder"
    )
    (tmp_path / "half").mkdir()  # a folder, but no checkpoint the Trainer finished
    assert _finetune([*argv, "--resume_from_checkpoint", str(tmp_path / "half")]) == 2
    assert "not a complete checkpoint (no trainer_state.json" in _one_error_line(capsys)


def test_a_full_disk_during_a_checkpoint_names_the_folder_and_leaves_no_half_checkpoint(
    small_ravdess, tiny_wav2vec2_dir, tmp_path, capsys, monkeypatch
):
    from transformers.trainer_callback import TrainerState

    def disk_fills_up(self, json_path):  # the trainer state, written last, half written
        Path(json_path).write_text('{"global_step": 1, "log_hi')
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(TrainerState, "save_to_json", disk_fills_up)
    out = tmp_path / "run"
    argv = [*_rav(small_ravdess, tiny_wav2vec2_dir), "--output_dir", str(out), "--max_steps", "2"]
    argv += ["--save_strategy", "steps", "--save_steps", "1", "--eval_strategy", "no"]
    argv += ["--load_best_model_at_end", "false", "--linear_probe_epochs", "0", "--refit_heads_epochs", "0"]
    assert _finetune(argv) == 2
    assert _one_error_line(capsys) == (
        f"error: --output_dir {out}: no space left on the device while writing {out / 'checkpoint-1'} (removed, "
        "half-written); free space there or give another --output_dir, then run again: the run resumes from "
        "its last complete checkpoint"
    )
    assert not (out / "checkpoint-1").exists()
    assert last_complete_checkpoint(str(out)) is None


def test_a_full_disk_is_told_from_other_failures_by_asking_the_disk(tmp_path, monkeypatch):
    assert not no_space_left_in(tmp_path)

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)  # where a full disk shows when the writes were buffered
    assert no_space_left_in(tmp_path)


# --------------------------------------------------------------------------- output folders


def _commands_writing_into(folder: Path, model: Path, data: Path, clip: Path) -> list[tuple[str, list[str]]]:
    rav = ["--dataset", "ravdess", "--data_dir", str(data)]
    return [
        ("evaluate", ["evaluate", "--model", str(model), *rav, "--output_dir", str(folder)]),
        ("predict", ["predict", str(clip), "--model", str(model), "--output", str(folder / "p.csv")]),
        ("export", ["export", "--model", str(model), "--out", str(folder)]),
        ("space", ["space", "--model", str(model), "--out", str(folder)]),
    ]


def test_an_output_folder_that_is_a_file_is_refused_by_every_command(
    small_ravdess, model_dir, tiny_wav2vec2_dir, tmp_path, capsys, monkeypatch
):
    _no_decoding(monkeypatch)
    taken = tmp_path / "results"
    taken.write_text("a file where the folder should go")
    clip = write_audio(tmp_path / "a.wav", emotion_signal("happy", 0.3))
    assert _finetune([*_rav(small_ravdess, tiny_wav2vec2_dir), "--output_dir", str(taken)]) == 2
    assert (
        _one_error_line(capsys)
        == f"error: --output_dir {taken}: is a file, not a folder; give a folder (it is made if missing)"
    )
    for name, argv in _commands_writing_into(taken, model_dir, small_ravdess, clip):
        assert cli_main(argv) == 2, name
        line = _one_error_line(capsys)
        assert f"{taken}" in line and ("is a file" in line or "cannot create its folder" in line), (
            name,
            line,
        )


def test_a_read_only_output_folder_is_refused_by_every_command_before_any_work(
    small_ravdess, model_dir, tiny_wav2vec2_dir, tmp_path, capsys, monkeypatch, read_only
):
    _no_decoding(monkeypatch)
    clip = write_audio(tmp_path / "a.wav", emotion_signal("happy", 0.3))
    locked = read_only(tmp_path / "locked")
    assert _finetune([*_rav(small_ravdess, tiny_wav2vec2_dir), "--output_dir", str(locked / "run")]) == 2
    assert _one_error_line(capsys).startswith(
        f"error: --output_dir {locked / 'run'}: cannot write in {locked} ("
    )
    for name, argv in _commands_writing_into(locked, model_dir, small_ravdess, clip):
        assert cli_main(argv) == 2, name
        line = _one_error_line(capsys)
        assert f"cannot write in {locked} (" in line and "give a folder you can write to" in line, (
            name,
            line,
        )


# --------------------------------------------------------------------------- damaged files


def test_damaged_safetensors_weights_are_named_by_predict_evaluate_and_demo(
    model_dir, small_ravdess, tmp_path, capsys
):
    damaged = tmp_path / "damaged"
    shutil.copytree(model_dir, damaged)
    weights = damaged / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # a copy cut short
    clip = write_audio(tmp_path / "a.wav", emotion_signal("happy", 0.3))
    for argv in (
        ["predict", str(clip), "--model", str(damaged)],
        ["evaluate", "--model", str(damaged), "--dataset", "ravdess", "--data_dir", str(small_ravdess),
         "--output_dir", str(tmp_path / "eval")],
        ["demo", "--model", str(damaged)],
    ):  # fmt: skip
        assert cli_main(argv) == 2, argv
        line = _one_error_line(capsys)
        assert line.startswith(
            f"error: --model {damaged}: model.safetensors cannot be read as safetensors weights "
        )
        assert "damaged or cut short" in line


def test_a_damaged_onnx_model_is_named_by_predict_and_demo(model_dir, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    damaged = tmp_path / "export"
    damaged.mkdir()
    for name in ("config.json", "preprocessor_config.json"):
        shutil.copyfile(model_dir / name, damaged / name)
    (damaged / "model.onnx").write_bytes(b"\x08\x07" + b"not a protobuf" * 40)
    clip = write_audio(tmp_path / "a.wav", emotion_signal("happy", 0.3))
    for argv in (["predict", str(clip), "--model", str(damaged)], ["demo", "--model", str(damaged)]):
        assert cli_main(argv) == 2, argv
        line = _one_error_line(capsys)
        assert line.startswith(f"error: {damaged / 'model.onnx'}: onnxruntime cannot load it (")
        assert line.endswith("the file is damaged or cut short: export the model again (hf-emotion export)")


def test_a_cv_summary_given_as_split_file_is_not_a_splits_file(model_dir, small_ravdess, tmp_path, capsys):
    summary = tmp_path / "cv_summary.json"
    summary.write_text('{"eval_ua": {"mean": 0.41, "std": 0.03}, "eval_wa": {"mean": 0.44, "std": 0.02}}')
    argv = ["evaluate", "--model", str(model_dir), "--dataset", "ravdess", "--data_dir", str(small_ravdess)]
    assert cli_main([*argv, "--split_file", str(summary), "--output_dir", str(tmp_path / "eval")]) == 2
    assert _one_error_line(capsys) == (
        f"error: {summary}: not a splits file (it needs protocol, train, validation, test; found ['eval_ua', "
        "'eval_wa']); give the splits.json a run wrote beside its model"
    )


def test_a_cross_corpus_matrix_that_is_not_one_is_refused_by_card(model_dir, tmp_path, capsys):
    model = tmp_path / "model"
    shutil.copytree(model_dir, model)
    (model / "README.md").write_text("---\ndatasets:\n- ravdess_speech\n---\n# A model\n")
    cases = {
        "truncated.json": ('{"rows": {"speech": {"corpora": ["ravdess_sp', "not a cross-corpus matrix, not even JSON"),
        "list.json": ("[1, 2]", "not a cross-corpus matrix (a list, not an object)"),
        "summary.json": ('{"eval_ua": {"mean": 0.4}}', "not a cross-corpus matrix (no 'rows' object and 'cells' list)"),
    }  # fmt: skip
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        assert cli_main(["card", "--model", str(model), "--cross_corpus", str(tmp_path / name)]) == 2
        assert _one_error_line(capsys).startswith(f"error: {tmp_path / name}: {message}")
    assert (model / "README.md").read_text() == "---\ndatasets:\n- ravdess_speech\n---\n# A model\n"


# --------------------------------------------------------------------------- adapt


def _split_file(tmp_path: Path) -> Path:
    path = tmp_path / "splits.json"
    Split(
        "speaker_folds", train=["ravdess-01", "ravdess-02"], validation=["ravdess-03"], test=["ravdess-04"]
    ).to_json(path)
    return path


def test_adapt_on_fewer_than_4_clips_a_speaker_is_refused_before_encoding(
    model_dir, small_ravdess, tmp_path, capsys, monkeypatch
):
    _no_decoding(monkeypatch)
    argv = ["adapt", "--model", str(model_dir), "--dataset", "ravdess", "--data_dir", str(small_ravdess)]
    assert (
        cli_main([*argv, "--split_file", str(_split_file(tmp_path)), "--output_dir", str(tmp_path / "head")])
        == 2
    )
    line = _one_error_line(capsys)
    assert "speaker-adaptive mode needs at least 4 clips of each speaker; 3 speakers have fewer" in line
    assert not (tmp_path / "head").exists()


def test_adapt_into_a_read_only_model_folder_is_refused_before_encoding(
    model_dir, small_ravdess, tmp_path, capsys, monkeypatch, read_only
):
    _no_decoding(monkeypatch)
    model = tmp_path / "model"
    shutil.copytree(model_dir, model)
    read_only(model)
    argv = ["adapt", "--model", str(model), "--dataset", "ravdess", "--data_dir", str(small_ravdess)]
    assert cli_main([*argv, "--split_file", str(_split_file(tmp_path))]) == 2
    assert _one_error_line(capsys).startswith(f"error: --model {model}: cannot write in {model} (")


# --------------------------------------------------------------------------- downloads


def test_a_url_that_is_no_url_is_refused(tmp_path, capsys):
    for corpus in ("ravdess", "crema-d"):
        assert (
            cli_main(["data", "download", corpus, "--out", str(tmp_path / corpus), "--url", "notaurl"]) == 2
        )
        assert _one_error_line(capsys) == (
            "error: --url notaurl: not an http(s) URL; give the full address, e.g. https://example.org/mirror"
        )
    assert not (tmp_path / "ravdess").exists()


def test_a_full_disk_while_unzipping_names_the_folder_and_is_not_marked_complete(
    server,  # noqa: F811
    tmp_path,
    capsys,
    monkeypatch,
):
    monkeypatch.setenv("HF_EMOTION_HOME", str(tmp_path / "home"))
    server.files["/" + SPEECH_ZIP] = ravdess_zip(tmp_path)
    real_copy = shutil.copyfileobj
    copies = []

    def disk_fills_up(source, target, *args, **kwargs):  # zipfile writes each member with copyfileobj
        copies.append(target.name)
        if len(copies) == 3:
            target.write(source.read(100))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_copy(source, target, *args, **kwargs)

    monkeypatch.setattr(shutil, "copyfileobj", disk_fills_up)
    out = tmp_path / "ravdess"
    assert (
        cli_main(["data", "download", "ravdess", "--out", str(out), "--url", f"{server.url}/{SPEECH_ZIP}"])
        == 2
    )
    line = _one_error_line(capsys)
    assert line.startswith(f"error: {out}: no space left on the device while extracting ")
    assert line.endswith("free space there (or give another --out) and run the command again")
    assert not corpora.cache.marker(out, "ravdess").exists()  # not taken as complete
    with zipfile.ZipFile(out / SPEECH_ZIP) as zipped:  # the zip stays, verified, for the next run
        sizes = {info.filename: info.file_size for info in zipped.infolist() if not info.is_dir()}
    on_disk = {p.relative_to(out).as_posix(): p.stat().st_size for p in out.rglob("*.wav")}
    assert len(on_disk) == 2 and all(sizes[name] == size for name, size in on_disk.items())  # no half file

    monkeypatch.setattr(shutil, "copyfileobj", real_copy)  # space freed: the same command finishes
    assert (
        cli_main(["data", "download", "ravdess", "--out", str(out), "--url", f"{server.url}/{SPEECH_ZIP}"])
        == 0
    )
    assert len(list(out.rglob("*.wav"))) == len(sizes) and corpora.cache.marker(out, "ravdess").exists()
