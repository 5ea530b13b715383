"""``--dataset_config_name``: a Hub dataset's configuration reaches ``datasets.load_dataset``."""

from __future__ import annotations

import datasets
from transformers import HfArgumentParser

from hf_emotion.corpora import load_corpora
from hf_emotion.training.arguments import DataArguments
from tests.synth import emotion_signal, write_audio


def test_dataset_config_name_is_parsed_and_passed_to_the_hub_loader(tmp_path, monkeypatch):
    (data_args,) = HfArgumentParser(DataArguments).parse_args_into_dataclasses(
        ["--dataset", "someone/emotions", "--dataset_config_name", "fr", "--speaker_column_name", "speaker"]
    )
    assert data_args.dataset_config_name == "fr"

    clips = [str(write_audio(tmp_path / f"{i}.wav", emotion_signal("sad", 0.5), 16_000)) for i in range(2)]
    calls = []

    def hub(name, config_name=None, split=None):  # the Hub cannot be reached here: record the call
        calls.append((name, config_name, split))
        return datasets.Dataset.from_dict({"audio": clips, "label": ["sad", "happy"], "speaker": ["a", "b"]})

    monkeypatch.setattr(datasets, "load_dataset", hub)
    loaded = load_corpora(
        data_args.dataset,
        data_args.data_dir,
        speaker_column="speaker",
        config_name=data_args.dataset_config_name,
    )
    assert calls == [("someone/emotions", "fr", "train")]
    assert sorted(loaded["speaker"]) == ["emotions-a", "emotions-b"]
