"""TESS, SAVEE, EmoDB, IEMOCAP and MSP-Podcast read from synthetic files named in each layout."""

from __future__ import annotations

import csv
import logging
from collections import Counter

import numpy as np
import pytest

from hf_emotion.corpora import (
    STANDARD_COLUMNS,
    load_corpora,
    load_corpus,
    load_emodb,
    load_iemocap,
    load_msp_podcast,
    load_savee,
    load_tess,
)
from hf_emotion.corpora.emodb import parse_emodb_name
from hf_emotion.corpora.iemocap import iemocap_speaker
from hf_emotion.corpora.savee import parse_savee_name
from hf_emotion.corpora.tess import parse_tess_name
from hf_emotion.errors import ConfigurationError, MissingInputError
from tests.synth import emotion_signal, make_crema_d_tree, write_audio


def _clip(path, emotion="neutral", seconds=0.2):
    return write_audio(path, emotion_signal(emotion, seconds))


def _labels(dataset):
    names = dataset.features["emotion"].names
    return Counter(names[i] for i in dataset["emotion"])


def test_tess_reads_speaker_and_emotion_from_names_in_any_folder(tmp_path):
    for speaker in ("OAF", "YAF"):
        for word in ("back", "bath"):
            for code in ("angry", "disgust", "fear", "happy", "neutral", "ps", "sad"):
                folder = tmp_path / f"{speaker}_{code}"
                _clip(folder / f"{speaker}_{word}_{code}.wav")
    _clip(tmp_path / "OAF_neutral" / "OA_bite_neutral.wav")  # a misnamed official file
    write_audio(tmp_path / "YAF_fear" / "YAF_germ_fear.flac", emotion_signal("fearful", 0.2))
    _clip(tmp_path / "notes" / "readme.wav")

    dataset = load_tess(tmp_path)

    assert set(STANDARD_COLUMNS) <= set(dataset.column_names)
    labels = _labels(dataset)
    assert labels["surprised"] == 4 and labels["fearful"] == 5 and labels["neutral"] == 5
    assert "calm" not in labels
    assert Counter(dataset["speaker"]) == {"tess-OAF": 15, "tess-YAF": 15}
    assert set(dataset["gender"]) == {"female"} and set(dataset["corpus"]) == {"tess"}
    assert parse_tess_name("YAF_dog_ps.wav") == ("YAF", "surprised")
    with pytest.raises(ValueError, match="emotion 'bored'"):
        parse_tess_name("YAF_dog_bored.wav")


def test_savee_takes_the_talker_from_the_folder_or_a_name_prefix(tmp_path):
    for speaker in ("DC", "JE", "JK"):
        for code in ("a", "d", "f", "h", "n", "sa", "su"):
            _clip(tmp_path / "AudioData" / speaker / f"{code}01.wav")
    _clip(tmp_path / "flat" / "KL_su03.wav")
    _clip(tmp_path / "AudioData" / "XX" / "a01.wav")  # not a SAVEE talker: skipped, logged

    dataset = load_savee(tmp_path)

    assert len(dataset) == 22
    assert Counter(dataset["speaker"])["savee-KL"] == 1
    assert _labels(dataset)["sad"] == 3 and _labels(dataset)["surprised"] == 4
    assert set(dataset["gender"]) == {"male"}
    assert parse_savee_name(tmp_path / "JE" / "sa15.wav") == ("JE", "sad")
    assert parse_savee_name("DC_su02.wav") == ("DC", "surprised")


def test_emodb_maps_german_letters_and_leaves_out_boredom_with_a_count(tmp_path, caplog):
    letters = {
        "W": "angry",
        "L": None,
        "E": "disgust",
        "A": "fearful",
        "F": "happy",
        "T": "sad",
        "N": "neutral",
    }
    for speaker in ("03", "08"):
        for letter in letters:
            _clip(tmp_path / "wav" / f"{speaker}a01{letter}a.wav")
    _clip(tmp_path / "wav" / "03a01Xa.wav")  # no such emotion letter

    with caplog.at_level(logging.WARNING, logger="hf_emotion"):
        dataset = load_emodb(tmp_path)

    assert len(dataset) == 12
    assert set(_labels(dataset)) == {v for v in letters.values() if v}
    genders = dict(zip(dataset["speaker"], dataset["gender"], strict=True))
    assert genders == {"emodb-03": "male", "emodb-08": "female"}
    assert "2 boredom" in caplog.text and "03a01Xa" in caplog.text
    assert parse_emodb_name("16b10Tb.wav") == ("16", "T")


def _iemocap_tree(root):
    """Two sessions, each a dialog with a female and a male turn per category."""
    turns = []
    for session in (1, 2):
        dialog = f"Ses0{session}F_impro01"
        lines = ["% header line the parser skips", ""]
        for index, (label, val, act) in enumerate(
            [
                ("neu", 3, 2),
                ("hap", 4.5, 3.5),
                ("exc", 4, 4.5),
                ("ang", 1.5, 4),
                ("sad", 2, 1.5),
                ("fru", 2, 3),
                ("xxx", 3, 3),
                ("sur", 4, 4),
            ]
        ):
            for talker in "FM":
                turn = f"{dialog}_{talker}{index:03d}"
                lines.append(
                    f"[{index}.0000 - {index}.9000]\t{turn}\t{label}\t[{val:.4f}, {act:.4f}, 2.5000]"
                )
                lines.append(f"C-E1:\t{label};\t()")
                _clip(root / f"Session{session}" / "sentences" / "wav" / dialog / f"{turn}.wav")
                turns.append(turn)
        evaluation = root / f"Session{session}" / "dialog" / "EmoEvaluation" / f"{dialog}.txt"
        evaluation.parent.mkdir(parents=True, exist_ok=True)
        evaluation.write_text("\n".join(lines) + "\n")
    return root


def test_iemocap_four_class_merges_excited_and_keeps_real_dimensions(tmp_path, caplog):
    root = _iemocap_tree(tmp_path / "IEMOCAP_full_release")

    with caplog.at_level(logging.WARNING, logger="hf_emotion"):
        dataset = load_iemocap(root)

    labels = _labels(dataset)
    assert labels == {"neutral": 4, "happy": 8, "angry": 4, "sad": 4}
    assert set(dataset["speaker"]) == {"iemocap-01F", "iemocap-01M", "iemocap-02F", "iemocap-02M"}
    assert "fru" in caplog.text and "xxx" in caplog.text and "sur" in caplog.text
    rows = {path.rsplit("/", 1)[-1]: i for i, path in enumerate(dataset["audio"])}
    hap = rows["Ses01F_impro01_M001.wav"]
    assert dataset["gender"][hap] == "male"
    assert dataset["valence"][hap] == pytest.approx(0.75) and dataset["arousal"][hap] == pytest.approx(0.25)


def test_iemocap_without_the_merge_drops_excited_and_all_classes_adds_surprised(tmp_path):
    root = _iemocap_tree(tmp_path)
    assert _labels(load_iemocap(root, merge_excited=False))["happy"] == 4
    assert _labels(load_iemocap(root, four_class=False))["surprised"] == 4
    assert _labels(load_corpus("iemocap_all", str(root)))["surprised"] == 4
    assert iemocap_speaker("Ses03M_script02_1_F012") == ("iemocap-03F", "female")


def _msp_tree(root):
    rows = [
        ("MSP-PODCAST_0001_0001.wav", "A", 5.2, 2.0, 5.0, "12", "Male", "Train"),
        ("MSP-PODCAST_0001_0002.wav", "H", 5.5, 6.5, 4.0, "12", "Male", "Train"),
        ("MSP-PODCAST_0002_0001.wav", "N", 4.0, 4.0, 4.0, "Unknown", "Unknown", "Development"),
        ("MSP-PODCAST_0003_0001.wav", "C", 3.0, 3.0, 3.0, "40", "Female", "Test1"),
        ("MSP-PODCAST_0003_0002.wav", "S", 1.0, 1.0, 7.0, "40", "Female", "Test1"),
        ("MSP-PODCAST_0004_0001.wav", "X", 4.0, 4.0, 4.0, "41", "Female", "Test2"),
        ("MSP-PODCAST_0004_0002.wav", "U", 6.0, 5.0, 4.0, "41", "Female", "Test2"),
    ]
    (root / "Labels").mkdir(parents=True)
    with open(root / "Labels" / "labels_consensus.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["FileName", "EmoClass", "EmoAct", "EmoVal", "EmoDom", "SpkrID", "Gender", "Split_Set"]
        )
        writer.writerows(rows)
    for row in rows:
        _clip(root / "Audios" / row[0])
    return root


def test_msp_podcast_rescales_ratings_and_keeps_its_partitions(tmp_path, caplog):
    root = _msp_tree(tmp_path)

    with caplog.at_level(logging.WARNING, logger="hf_emotion"):
        dataset = load_msp_podcast(root, dominance=True)

    assert _labels(dataset) == {"angry": 1, "happy": 1, "neutral": 1, "sad": 1, "surprised": 1}
    assert "1 contempt" in caplog.text and "1 no agreement" in caplog.text
    by_name = {path.rsplit("/", 1)[-1]: i for i, path in enumerate(dataset["audio"])}
    sad = by_name["MSP-PODCAST_0003_0002.wav"]
    assert dataset["valence"][sad] == pytest.approx(-1.0) and dataset["arousal"][sad] == pytest.approx(-1.0)
    assert dataset["dominance"][sad] == pytest.approx(1.0)
    happy = by_name["MSP-PODCAST_0001_0002.wav"]
    assert dataset["valence"][happy] == pytest.approx(5.5 / 6 * 2 - 1, abs=1e-6)
    assert (
        dataset["speaker"][by_name["MSP-PODCAST_0002_0001.wav"]]
        == "msp_podcast-unknown-MSP-PODCAST_0002_0001"
    )
    assert dataset["gender"][happy] == "male"

    test1 = load_corpus("msp_podcast_test1", str(root))
    assert test1["speaker"] == ["msp_podcast-40"] and "dominance" not in test1.column_names
    with pytest.raises(ConfigurationError, match="msp_podcast_test2"):
        load_corpus("msp_podcast_test9", str(root))


def test_new_corpora_concatenate_with_the_built_in_ones(tmp_path):
    for code in ("angry", "ps"):
        _clip(tmp_path / "tess" / f"YAF_back_{code}.wav")
    crema = make_crema_d_tree(tmp_path / "crema", actors=(1001,), sentences=("IEO",), levels=("MD",))

    both = load_corpora(["tess", "crema_d"], [str(tmp_path / "tess"), str(crema)])

    names = both.features["emotion"].names
    assert "surprised" in names and "disgust" in names
    assert Counter(both["corpus"]) == {"tess": 2, "crema_d": 6}
    assert np.isfinite(both["valence"]).all()


def test_crema_d_reads_the_perception_table_where_the_official_release_keeps_it(tmp_path):
    root = make_crema_d_tree(tmp_path, actors=(1001, 1002), sentences=("IEO",), levels=("MD",))
    (root / "processedResults").mkdir()
    (root / "summaryTable.csv").rename(root / "processedResults" / "summaryTable.csv")

    perceived = load_corpus("crema_d", str(root), label_source="perceived")

    # the synthetic crowd hears the first sentence's SAD as neutral
    assert "sad" not in perceived.features["emotion"].names


def test_a_built_in_corpus_without_its_folder_says_to_pass_data_dir():
    with pytest.raises(MissingInputError, match="--dataset msp_podcast_test1 needs --data_dir"):
        load_corpus("msp_podcast_test1")


def test_a_folder_without_the_label_tables_says_which_table_is_missing(tmp_path):
    _clip(tmp_path / "Ses01F_impro01_F000.wav")
    with pytest.raises(MissingInputError, match="EmoEvaluation"):
        load_corpus("iemocap", str(tmp_path))
    with pytest.raises(MissingInputError, match="labels_consensus.csv"):
        load_corpus("msp_podcast", str(tmp_path))
