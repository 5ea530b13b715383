"""The model card (huggingface_hub's ModelCard, read back as the Hub reads it) and the one-commit push,
recorded by a stand-in for `HfApi` (the Hub cannot be reached from the tests)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import ModelCard
from transformers import pipeline

from hf_emotion.backbones import MARKER_NAME
from hf_emotion.hub.card import base_model_id, build_model_card, card_license
from hf_emotion.hub.push import files_to_push, push_run
from hf_emotion.serving.recognizer import EmotionRecognizer
from tests.serving.test_inference import LABELS, make_emotion_model_dir
from tests.synth import emotion_signal

SPLIT = {
    "protocol": "speaker_folds",
    "fold": 2,
    "num_folds": 6,
    "seed": 0,
    "train": ["ravdess-01"],
    "validation": ["ravdess-05", "ravdess-06"],
    "test": ["ravdess-03", "ravdess-04"],
}
METRICS = {
    "eval_ua": 0.7512,
    "eval_wa": 0.7601,
    "eval_macro_f1": 0.7433,
    "eval_ccc_valence": 0.61,
    "eval_ccc_arousal": 0.72,
    "class_mixing_weight_valence": 0.5,
}
SUMMARY = {
    f"eval_{key}": {"mean": mean, "std": 0.02, "n": 6}
    for key, mean in (
        ("ua", 0.74),
        ("wa", 0.75),
        ("macro_f1", 0.73),
        ("ccc_valence", 0.6),
        ("ccc_arousal", 0.7),
    )
}


def ravdess_card(**overrides) -> ModelCard:
    arguments = dict(
        repo_id="someone/whisper-tiny-ravdess",
        base_model="openai/whisper-tiny.en",
        datasets=["ravdess"],
        label_names=LABELS,
        metrics=METRICS,
        split=SPLIT,
        summary=SUMMARY,
        skipped_files=[{"path": "/home/me/data/Actor_01/bad.wav", "detail": "is empty"}],
        machine="2 CPU cores (AMD EPYC)",
    )
    return build_model_card(**{**arguments, **overrides})


# ---------------------------------------------------------------------- the card


def test_card_metadata_round_trips_through_model_card_load(tmp_path):
    card = ravdess_card()
    card.save(tmp_path / "README.md")
    loaded = ModelCard.load(tmp_path / "README.md")

    assert loaded.data.to_dict() == card.data.to_dict()
    assert loaded.data.eval_results == card.data.eval_results
    data = loaded.data
    assert data.base_model == "openai/whisper-tiny.en"
    assert data.license == "cc-by-nc-sa-4.0"
    assert data.datasets is None  # RAVDESS has no Hub dataset of its publishers: named in the text instead
    assert data.training_corpora == ["ravdess"] and data.language == "en"
    assert data.pipeline_tag == "audio-classification"
    assert "speech-emotion-recognition" in data.tags
    own = [r for r in data.eval_results if "mean over" not in r.dataset_split]
    folds = [r for r in data.eval_results if "mean over 6 speaker folds" in r.dataset_split]
    metric_types = ["ua", "wa", "macro_f1", "ccc_valence", "ccc_arousal"]
    assert [r.metric_type for r in own] == [r.metric_type for r in folds] == metric_types
    assert {r.metric_type: r.metric_value for r in own}["ua"] == 0.7512
    assert {r.metric_type: r.metric_value for r in folds}["ua"] == 0.74
    assert own[0].dataset_split == "test speakers, speaker fold 2 of 6"
    assert own[0].dataset_args["test_speakers"] == ["ravdess-03", "ravdess-04"]


def test_card_text_states_the_protocol_and_results_without_local_paths():
    text = ravdess_card().text
    assert "Speaker-independent (speaker fold 2 of 6)" in text
    assert "ravdess-03, ravdess-04" in text
    assert "| UA (unweighted average recall) | 0.751 | 0.740 ± 0.020 |" in text
    assert 'pipeline(model="someone/whisper-tiny-ravdess", trust_remote_code=True)' in text
    assert "valence 0.5" in text  # the class mixing weight chosen on validation
    assert "`bad.wav` (is empty)" in text and "/home/me" not in text


def test_fold_card_loads_its_model_from_the_repositorys_subfolder(run_dir):
    card = ravdess_card(subfolder="fold_1")
    assert 'model_kwargs={"subfolder": "fold_1"}, trust_remote_code=True)' in card.text
    assert (
        'EmotionRecognizer.from_pretrained("someone/whisper-tiny-ravdess", subfolder="fold_1")' in card.text
    )
    # as the card says, with the run's files: the pipeline file at the top, the fold's model in its folder
    # (fold_0, not fold_1 whose copy is the run's top-level model: the subfolder is what is loaded)
    classifier = pipeline(model=str(run_dir), model_kwargs={"subfolder": "fold_0"}, trust_remote_code=True)
    recognizer = EmotionRecognizer.from_pretrained(run_dir / "fold_0")
    clip = emotion_signal("calm", 0.7, 16_000, seed=5)
    got = classifier(clip, details=True)["probabilities"]
    want = recognizer(clip, sampling_rate=16_000).probabilities
    assert max(abs(got[label] - p) for label, p in want.items()) < 1e-4


def test_card_of_a_single_split_has_no_cross_validation_column():
    card = ravdess_card(summary=None)
    assert "mean over" not in str(card.data.to_dict())
    assert "| UA (unweighted average recall) | 0.751 |\n" in card.text


@pytest.mark.parametrize(
    "datasets, expected",
    [
        (["ravdess"], ("cc-by-nc-sa-4.0", None)),
        (["ravdess_speech", "ravdess_song"], ("cc-by-nc-sa-4.0", None)),
        (["crema_d"], ("odbl", None)),
        (["ravdess", "crema_d"], ("other", "cc-by-nc-sa-4.0-and-odbl")),
        (["ravdess", "someone/emotion-clips"], ("unknown", None)),
    ],
)
def test_card_licence_follows_the_training_data(datasets, expected):
    license_id, license_name, sentence = card_license(datasets)
    assert (license_id, license_name) == expected
    assert sentence
    card = ravdess_card(datasets=datasets)
    assert (card.data.license, card.data.license_name) == expected


def test_mixed_corpora_card_names_both_licences():
    card = ravdess_card(datasets=["ravdess", "crema_d"])
    assert "RAVDESS (CC BY-NC-SA 4.0) and CREMA-D (ODbL 1.0)" in card.text
    assert card.data.eval_results[0].dataset_name == "RAVDESS + CREMA-D"


def test_base_model_is_a_hub_id_never_a_cache_folder(tmp_path):
    assert base_model_id("whisper-tiny.en") == "openai/whisper-tiny.en"
    assert base_model_id("facebook/wav2vec2-base") == "facebook/wav2vec2-base"
    built = tmp_path / "backbones" / "whisper-tiny.en"
    built.mkdir(parents=True)
    (built / MARKER_NAME).write_text(
        json.dumps({"name": "whisper-tiny.en", "hub_id": "openai/whisper-tiny.en"})
    )
    assert base_model_id(built) == "openai/whisper-tiny.en"
    trained = tmp_path / "trained"
    trained.mkdir()
    ravdess_card().save(trained / "README.md")  # training further from a trained model keeps its base
    assert base_model_id(trained) == "openai/whisper-tiny.en"
    assert base_model_id(tmp_path) is None  # a local folder that names no Hub model


def test_card_of_a_local_dataset_names_no_path(tmp_path):
    folder = tmp_path / "my-clips"
    folder.mkdir()
    card = ravdess_card(datasets=[str(folder)])
    assert card.data.datasets is None  # a local folder is no Hub dataset
    assert card.data.training_corpora == ["my-clips"]
    assert str(tmp_path) not in str(card)


# ---------------------------------------------------------------------- the push


class RecordingHfApi:
    """Stands in for `HfApi`: records each call, and the files of each commit as they were when committed."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        self.committed: dict[str, bytes] = {}

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))
        return type("RepoUrl", (), {"repo_id": repo_id})()

    def create_commit(self, repo_id, operations, **kwargs):
        self.calls.append(("create_commit", {"repo_id": repo_id, **kwargs}))
        for operation in operations:
            self.committed[operation.path_in_repo] = Path(operation.path_or_fileobj).read_bytes()
        return "commit"

    def __getattr__(self, name):  # upload_folder, upload_file, delete_file...: any other call is recorded
        return lambda *args, **kwargs: self.calls.append((name, {"args": args, **kwargs}))


@pytest.fixture(scope="module")
def run_dir(tiny_wav2vec2_dir, tmp_path_factory) -> Path:
    """A finished 2-fold run laid out as finetune.py leaves it, with the files that must stay home."""
    run = tmp_path_factory.mktemp("run")
    for fold in (0, 1):
        fold_dir = make_emotion_model_dir(tiny_wav2vec2_dir, run / f"fold_{fold}", seed=fold)
        ravdess_card(repo_id=str(fold_dir), summary=None).save(fold_dir / "README.md")
        for name in ("splits.json", "all_results.json", "predictions.json", "trainer_state.json"):
            (fold_dir / name).write_text("{}")
        (fold_dir / "training_args.bin").write_bytes(b"pickle")
        (fold_dir / "confusion_matrix.png").write_bytes(b"png")
        (fold_dir / "checkpoint-10").mkdir()
        (fold_dir / "checkpoint-10" / "optimizer.pt").write_bytes(b"state")
    for name in ("config.json", "model.safetensors", "preprocessor_config.json"):
        shutil.copy2(run / "fold_1" / name, run / name)
    for code in (run / "fold_1").glob("*.py"):
        shutil.copy2(code, run / code.name)
    ravdess_card().save(run / "README.md")
    for name in ("cv_summary.md", "cv_summary.json", "all_results.json"):
        (run / name).write_text("{}")
    (run / "confusion_matrix.png").write_bytes(b"png")
    return run


MODEL_FILES = [
    "config.json",
    "configuration_emotion.py",
    "model.safetensors",
    "modeling_emotion.py",
    "pipeline_emotion.py",
    "preprocessor_config.json",
    "rate_check.py",
]


def test_push_uploads_the_run_in_one_commit_with_the_token(run_dir):
    api = RecordingHfApi()
    push_run(run_dir, "someone/whisper-tiny-ravdess", token="hf_secret", private=True, api=api)

    assert [name for name, _ in api.calls] == ["create_repo", "create_commit"]
    create_repo, create_commit = (kwargs for _, kwargs in api.calls)
    assert create_repo["repo_id"] == create_commit["repo_id"] == "someone/whisper-tiny-ravdess"
    assert create_repo["private"] is True and create_repo["exist_ok"] is True
    assert create_repo["token"] == create_commit["token"] == "hf_secret"
    assert sorted(api.committed) == sorted(
        MODEL_FILES + ["README.md", "confusion_matrix.png", "cv_summary.md"]
    )


def test_push_with_folds_adds_each_folds_model_and_never_the_trainers_files(run_dir):
    api = RecordingHfApi()
    push_run(run_dir, "someone/whisper-tiny-ravdess", include_folds=True, api=api)

    assert [name for name, _ in api.calls].count("create_commit") == 1
    for fold in ("fold_0", "fold_1"):
        expected = MODEL_FILES + ["README.md", "confusion_matrix.png", "splits.json"]
        assert sorted(p.split("/", 1)[1] for p in api.committed if p.startswith(f"{fold}/")) == sorted(
            expected
        )
    pushed = " ".join(api.committed)
    for private in ("training_args.bin", "checkpoint-", "optimizer", "predictions.json", "all_results.json"):
        assert private not in pushed
    assert files_to_push(run_dir, include_folds=True) == list(api.committed)


def test_pushed_files_load_as_a_pipeline(run_dir, tmp_path):
    api = RecordingHfApi()
    push_run(run_dir, "someone/whisper-tiny-ravdess", api=api)
    for name, content in api.committed.items():  # the repository as the Hub would hold it
        (tmp_path / "repo" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "repo" / name).write_bytes(content)
    classifier = pipeline(model=str(tmp_path / "repo"), trust_remote_code=True)
    ranked = classifier(emotion_signal("sad", 0.8, 16_000), top_k=1)
    assert ranked[0]["label"] in LABELS and 0.0 < ranked[0]["score"] <= 1.0
    assert np.isclose(sum(e["score"] for e in classifier(emotion_signal("sad", 0.8, 16_000))), 1.0, atol=1e-4)


def test_push_of_a_folder_without_a_model_says_what_to_push(tmp_path):
    api = RecordingHfApi()
    with pytest.raises(FileNotFoundError, match="no config.json; push the folder a finished run saved"):
        push_run(tmp_path, "someone/model", api=api)
    assert api.calls == []


def test_finetune_pushes_once_at_the_end_never_from_the_trainer(
    tmp_path, ravdess_dir, tiny_wav2vec2_dir, monkeypatch
):
    import finetune
    import hf_emotion.hub.push

    apis = []
    monkeypatch.setattr(hf_emotion.hub.push, "HfApi", lambda: apis.append(RecordingHfApi()) or apis[-1])
    monkeypatch.delenv("HF_TOKEN", raising=False)
    out = tmp_path / "run"
    # Left to the Trainer, --push_to_hub would create the repository at once, offline: an error here.
    finetune.main(
        [
            "--model_name_or_path", str(tiny_wav2vec2_dir),
            "--dataset", "ravdess", "--data_dir", str(ravdess_dir),
            "--cross_validation", "--num_folds", "4", "--max_steps", "1", "--linear_probe_epochs", "0",
            "--output_dir", str(out), "--per_device_train_batch_size", "8", "--save_steps", "1",
            "--push_to_hub", "--hub_model_id", "someone/tiny-ravdess", "--token", "hf_secret", "--push_folds",
        ]
    )  # fmt: skip
    assert os.environ.pop("HF_TOKEN") == "hf_secret"  # every Hub call of the run had the token
    assert len(apis) == 1
    assert [name for name, _ in apis[0].calls] == ["create_repo", "create_commit"]
    assert all(kwargs["token"] == "hf_secret" for _, kwargs in apis[0].calls)
    committed = apis[0].committed
    assert {"README.md", "cv_summary.md", "confusion_matrix.png", "pipeline_emotion.py"} <= set(committed)
    assert {f"fold_{k}/model.safetensors" for k in range(4)} <= set(committed)
    assert not [path for path in committed if "training_args.bin" in path or "checkpoint-" in path]
    card = ModelCard.load(out / "README.md")
    assert card.data.training_corpora == ["ravdess"] and card.data.license == "cc-by-nc-sa-4.0"
    assert card.data.base_model is None  # a local folder naming no Hub model: no base_model, no path
    assert str(tmp_path) not in str(card.data.to_dict())
    assert 'pipeline(model="someone/tiny-ravdess"' in card.text
    assert committed["README.md"] == (out / "README.md").read_bytes()
    fold_card = committed["fold_0/README.md"].decode()
    assert 'pipeline(model="someone/tiny-ravdess", model_kwargs={"subfolder": "fold_0"}' in fold_card
    assert str(tmp_path) not in fold_card


def test_finetune_of_one_fold_pushes_once_to_the_run_folders_name(
    tmp_path, ravdess_dir, tiny_wav2vec2_dir, monkeypatch
):
    import finetune
    import hf_emotion.hub.push

    apis = []
    monkeypatch.setattr(hf_emotion.hub.push, "HfApi", lambda: apis.append(RecordingHfApi()) or apis[-1])
    out = tmp_path / "tiny-ravdess"
    finetune.main(
        [
            "--model_name_or_path", str(tiny_wav2vec2_dir),
            "--dataset", "ravdess", "--data_dir", str(ravdess_dir), "--num_folds", "4",
            "--max_steps", "1", "--linear_probe_epochs", "0", "--save_steps", "1",
            "--output_dir", str(out), "--per_device_train_batch_size", "8", "--push_to_hub",
        ]
    )  # fmt: skip
    assert len(apis) == 1
    assert [(name, kwargs["repo_id"]) for name, kwargs in apis[0].calls] == [
        ("create_repo", "tiny-ravdess"),
        ("create_commit", "tiny-ravdess"),
    ]
    assert {"README.md", "splits.json", "pipeline_emotion.py", "model.safetensors"} <= set(apis[0].committed)
    assert not [path for path in apis[0].committed if "/" in path or path == "training_args.bin"]
    card = (out / "README.md").read_text()
    assert 'pipeline(model="tiny-ravdess", trust_remote_code=True)' in card
    assert str(tmp_path) not in card


def test_publish_on_a_replica_writes_no_card_and_pushes_nothing(tmp_path, monkeypatch):
    import types

    import hf_emotion.hub.push
    from hf_emotion.hub.push import PushRequest
    from hf_emotion.training.publish import publish
    from hf_emotion.training.recipe import Run

    apis = []
    monkeypatch.setattr(hf_emotion.hub.push, "HfApi", lambda: apis.append(RecordingHfApi()) or apis[-1])
    replica = Run(
        model_args=None,
        data_args=types.SimpleNamespace(dataset=["ravdess"]),
        training_args=types.SimpleNamespace(process_index=1),  # rank 1 of `accelerate launch`
        dataset=None,
        label_names=LABELS,
        feature_extractor=None,
        is_whisper=False,
        continuing=False,
        skipped_files=[],
        run_dir=str(tmp_path),
        push=PushRequest(repo_id="someone/model", token=None, private=None),
    )
    publish(replica, str(tmp_path), split=SPLIT, metrics=METRICS, push=True, commit_message="m")
    assert list(tmp_path.iterdir()) == [] and apis == []
