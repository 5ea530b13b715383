"""The generalisation benchmarks (benchmarks.cross_corpus_ua, robustness, speaker_adaptive_ua,
voice_calibration) run end to end on synthetic corpora."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest

from hf_emotion.data.splits import Split
from tests.serving.test_inference import LABELS, make_emotion_model_dir
from tests.synth import make_crema_d_tree, make_ravdess_tree


def _script(name):
    return importlib.import_module(f"benchmarks.{name}")


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_wav2vec2_dir):
    root = tmp_path_factory.mktemp("bench")
    speech = make_ravdess_tree(root / "speech", actors=range(1, 5))
    song = make_ravdess_tree(root / "song", actors=range(1, 3), channel="song")
    split = root / "splits.json"
    Split("fixed", ["ravdess-03", "ravdess-04"], [], ["ravdess-01", "ravdess-02"]).to_json(split)
    model = make_emotion_model_dir(tiny_wav2vec2_dir, root / "model", labels=LABELS)
    return root, speech, song, split, model


def test_cross_corpus_matrix_has_a_cell_per_model_test_set_and_label_set(setup):
    root, speech, song, split, model = setup
    out = root / "cross.md"
    argv = [
        *("--model", f"m={model}"),
        *("--test", f"speech-test=ravdess_speech:{speech}:{split}", "--test", f"song=ravdess_song:{song}"),
        *("--labels", "shared", "angry,happy,neutral,sad", "--output", str(out)),
    ]

    assert _script("cross_corpus_ua").main(argv) == 0

    results = json.loads(out.with_suffix(".json").read_text())
    cells = {(r["test"], r["labels"]): r for r in results}
    assert len(cells) == 4
    assert cells[("speech-test", "shared")]["eval_clips"] == 30  # 2 test actors × 15 clips
    assert cells[("song", "shared")]["model_labels_dropped"] == ["disgust", "surprised"]  # no song clips
    assert cells[("song", "angry,happy,neutral,sad")]["scored_labels"] == ["neutral", "happy", "sad", "angry"]
    text = out.read_text()
    assert f"| m | {cells[('speech-test', 'shared')]['eval_ua']:.3f} (8 cl., 30 clips, 2 spk.) †" in text
    assert "† m: no splits.json in the model folder, so every clip was scored" in text
    assert "Command: `python -m benchmarks.cross_corpus_ua --model" in text


def test_each_cell_scores_only_the_speakers_the_model_never_heard(setup, tmp_path, tiny_wav2vec2_dir):
    root, speech, _, _, _ = setup
    song = make_ravdess_tree(tmp_path / "song", actors=range(1, 5), channel="song")
    crema = make_crema_d_tree(tmp_path / "crema", actors=(1001, 1002))
    model = make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path / "model", labels=LABELS)
    Split("speaker_folds", ["ravdess-02", "ravdess-03"], ["ravdess-04"], ["ravdess-01"]).to_json(
        model / "splits.json"
    )
    out = tmp_path / "unseen.md"
    argv = [
        *("--model", f"m={model}", "--test", f"speech=ravdess_speech:{speech}"),
        *("--test", f"song=ravdess_song:{song}", "--test", f"crema=crema_d:{crema}", "--output", str(out)),
    ]

    assert _script("cross_corpus_ua").main(argv) == 0

    cells = {r["test"]: r for r in json.loads(out.with_suffix(".json").read_text())}
    # in-corpus: its test actor only; song: the same actor's songs (6 emotions, 11 clips); CREMA-D: all of it
    assert [(cells[t]["eval_clips"], cells[t]["eval_speakers"]) for t in ("speech", "song", "crema")] == [
        (15, 1),
        (11, 1),
        (44, 2),
    ]
    assert f"| m | {cells['speech']['eval_ua']:.3f} (8 cl., 15 clips, 1 spk.) |" in out.read_text()
    assert "†" not in out.read_text()


def test_a_model_that_heard_every_speaker_has_no_cell_to_score(setup, tmp_path, tiny_wav2vec2_dir):
    root, speech, _, _, _ = setup
    model = make_emotion_model_dir(tiny_wav2vec2_dir, tmp_path / "final", labels=LABELS)
    every = [f"ravdess-{i:02d}" for i in range(1, 5)]
    Split("all_speakers", every, [], []).to_json(model / "splits.json")
    out = tmp_path / "final.md"

    assert (
        _script("cross_corpus_ua").main(
            ["--model", f"f={model}", "--test", f"s=ravdess_speech:{speech}", "--output", str(out)]
        )
        == 0
    )

    assert json.loads(out.with_suffix(".json").read_text())[0]["eval_clips"] == 0
    assert "| f | no unseen speakers |" in out.read_text()


def test_robustness_table_lists_each_condition_with_its_drop(setup):
    root, speech, _, split, model = setup
    out = root / "robust.md"
    argv = ["--model", f"m={model}", "--test", f"speech-test=ravdess_speech:{speech}:{split}"]
    argv += ["--conditions", "white:5", "babble:10", "telephone", "--output", str(out)]

    assert _script("robustness").main(argv) == 0

    results = json.loads(out.with_suffix(".json").read_text())["m"]
    text = out.read_text()
    assert f"| babble:10 | {results['eval_babble10_ua']:.3f} | {results['ua_drop_babble10']:+.3f} |" in text
    assert "| telephone |" in text and "30 clips" in text


def test_speaker_adaptive_benchmark_fits_a_head_on_training_speakers_and_scores_both_modes(setup):
    root, speech, song, split, model = setup
    three = root / "three-splits.json"
    Split("fixed", ["ravdess-03"], ["ravdess-04"], ["ravdess-01", "ravdess-02"]).to_json(three)
    out, head_dir = root / "adaptive.md", root / "head"
    argv = [
        *("--model", f"m={model}", "--train", f"ravdess_speech:{speech}:{three}"),
        *("--test", f"speech-test=ravdess_speech:{speech}:{three}", "--test", f"song=ravdess_song:{song}"),
        *(
            "--labels",
            "shared",
            "angry,happy,neutral,sad",
            "--output",
            str(out),
            "--save_head",
            str(head_dir),
        ),
    ]

    assert _script("speaker_adaptive_ua").main(argv) == 0

    written = json.loads(out.with_suffix(".json").read_text())
    rows = {(r["test"], r["label_set"]): r for r in written["results"]}
    assert rows[("speech-test", "shared")]["clips"] == 30 and rows[("speech-test", "shared")]["speakers"] == 2
    assert rows[("song", "shared")]["model_only"] == ["disgust", "surprised"]
    assert (head_dir / "speaker_adaptive_head.npz").is_file()
    r = rows[("song", "angry,happy,neutral,sad")]
    assert (
        f"| song | neutral, happy, sad, angry | {r['clips']} (2) | {r['clip_ua']:.3f} | {r['adaptive_ua']:.3f} |"
        in out.read_text()
    )


def test_score_cache_scores_each_distinct_clip_once(setup):
    from hf_emotion.serving.recognizer import EmotionRecognizer
    from tests.synth import emotion_signal

    recognizer = EmotionRecognizer.from_pretrained(setup[4])
    scored = []
    real_score = recognizer.score
    recognizer.score = lambda signals, **kw: scored.append(len(signals)) or real_score(signals, **kw)
    cache = _script("common.scoring").ScoreCache(recognizer)
    clips = [emotion_signal(e, 0.5) for e in ("sad", "angry", "happy")]

    first = cache.score(clips[:2])
    again = cache.score(clips[::-1])

    assert scored == [2, 1]
    np.testing.assert_array_equal(again[0][::-1][:2], first[0])  # sad, angry: from the cache
    np.testing.assert_allclose(again[0], real_score(clips[::-1])[0], atol=1e-6)


def test_speaker_adaptive_benchmark_fits_its_head_on_every_training_corpus_given(setup):
    import numpy as np

    root, speech, _, split, model = setup
    song = make_ravdess_tree(root / "song-1-4", actors=range(1, 5), channel="song")
    three = root / "three-splits.json"
    Split("fixed", ["ravdess-03"], ["ravdess-04"], ["ravdess-01", "ravdess-02"]).to_json(three)
    heads = {}
    for name, trains in {"speech": [f"ravdess_speech:{speech}:{three}"], "both": []}.items():
        trains = trains or [f"ravdess_speech:{speech}:{three}", f"ravdess_song:{song}:{three}"]
        out, heads[name] = root / f"adaptive-{name}.md", root / f"head-{name}"
        argv = ["--model", f"m={model}", *[x for t in trains for x in ("--train", t)]]
        argv += ["--test", f"song=ravdess_song:{song}", "--output", str(out), "--save_head", str(heads[name])]

        assert _script("speaker_adaptive_ua").main(argv) == 0

    assert "train speakers of ravdess_speech + ravdess_song" in (root / "adaptive-both.md").read_text()
    with (
        np.load(heads["speech"] / "speaker_adaptive_head.npz") as a,
        np.load(heads["both"] / "speaker_adaptive_head.npz") as b,
    ):
        assert not np.allclose(a["coef"], b["coef"])  # the song clips took part in the fit


def test_calibration_split_draws_n_clips_per_speaker_apart_from_the_judged_ones():
    speakers = ["a"] * 6 + ["b"] * 5 + ["c"] * 3
    calibration, judged = _script("voice_calibration").split_calibration(speakers, 4, seed=0)

    assert set(calibration) == {"a", "b"}  # c has no clip left to judge after 4
    assert all(len(v) == 4 and {speakers[i] for i in v} == {s} for s, v in calibration.items())
    used = {int(i) for v in calibration.values() for i in v}
    assert used.isdisjoint(judged) and len(used) + len(judged) == 11
    again, _ = _script("voice_calibration").split_calibration(speakers, 4, seed=0)
    assert all((again[s] == calibration[s]).all() for s in calibration)  # the seed fixes the draw


def test_calibration_benchmark_judges_unseen_speakers_against_their_calibration_clips(
    adapted_model, ravdess_dir, tmp_path
):
    module = _script("voice_calibration")
    out = tmp_path / "calibration.md"
    argv = ["--model", f"m={adapted_model}", "--test", f"speech=ravdess_speech:{ravdess_dir}"]
    argv += [
        "--calibration_clips",
        "4",
        "--labels",
        "shared",
        "angry,happy,neutral,sad",
        "--output",
        str(out),
    ]

    assert module.main(argv) == 0

    rows = {r["label_set"]: r for r in json.loads(out.with_suffix(".json").read_text())}
    shared = rows["shared"]
    assert shared["speakers"] == 2  # actors 07 and 08: the model trained or chose on 01-06
    per_speaker = len(list((ravdess_dir / "Actor_07").glob("*.wav")))
    assert shared["judged_clips"] == 2 * (per_speaker - 4)
    assert rows["angry,happy,neutral,sad"]["judged_clips"] < shared["judged_clips"]
    assert f"| speech | {', '.join(shared['labels'])} | 4 | {shared['judged_clips']} (2) |" in out.read_text()


def test_framing_folds_scores_each_fold_on_its_own_test_speakers(setup, tmp_path, tiny_wav2vec2_dir):
    root, speech, _, _, _ = setup
    run = tmp_path / "run"
    for fold, test in enumerate((["ravdess-01"], ["ravdess-02", "ravdess-03"])):
        folder = make_emotion_model_dir(tiny_wav2vec2_dir, run / f"fold_{fold}", labels=LABELS)
        Split("speaker_folds", ["ravdess-04"], [], test).to_json(folder / "splits.json")
        (folder / "all_results.json").write_text("{}")
    make_emotion_model_dir(tiny_wav2vec2_dir, run / "fold_2", labels=LABELS)  # unfinished: no results
    out = tmp_path / "framing.md"
    argv = ["--run_dir", str(run), "--data", f"ravdess_speech:{speech}", "--conditions", "trim:energy"]

    assert _script("framing_folds").main([*argv, "--output", str(out)]) == 0

    results = json.loads(out.with_suffix(".json").read_text())
    assert [results[f]["eval_clips"] for f in ("fold_0", "fold_1")] == [15, 30]  # 15 clips an actor
    assert "fold_2" not in results
    text = out.read_text()
    mean = np.mean([results[f]["eval_trimenergy_ua"] for f in ("fold_0", "fold_1")])
    assert f"| mean of 2 | | **{np.mean([r['eval_ua'] for r in results.values()]):.3f}** |" in text
    assert f"**{mean:.3f}**" in text
    assert "Target (" not in text  # judged on trim:vad, which this run did not score


def test_framing_folds_scores_the_validation_speakers_when_asked(setup, tmp_path, tiny_wav2vec2_dir):
    root, speech, _, _, _ = setup
    run = tmp_path / "run"
    for fold, validation in enumerate((["ravdess-02"], ["ravdess-03", "ravdess-04"])):
        folder = make_emotion_model_dir(tiny_wav2vec2_dir, run / f"fold_{fold}", labels=LABELS)
        Split("speaker_folds", ["ravdess-05"], validation, ["ravdess-01"]).to_json(folder / "splits.json")
        (folder / "all_results.json").write_text("{}")
    out = tmp_path / "framing.md"
    argv = ["--run_dir", str(run), "--data", f"ravdess_speech:{speech}", "--conditions", "trim:energy"]

    assert _script("framing_folds").main([*argv, "--speakers", "validation", "--output", str(out)]) == 0

    results = json.loads(out.with_suffix(".json").read_text())
    assert [results[f]["eval_clips"] for f in ("fold_0", "fold_1")] == [
        15,
        30,
    ]  # the validation actors' clips
    text = out.read_text()
    assert "each fold's model on its own validation speakers" in text
    assert "Target (" not in text  # the target is judged on test speakers only


def test_framing_folds_refuses_a_folder_without_finished_folds(tmp_path):
    with pytest.raises(SystemExit, match="holds no finished fold_k"):
        _script("framing_folds").main(["--run_dir", str(tmp_path), "--data", "ravdess_speech:/nowhere"])
