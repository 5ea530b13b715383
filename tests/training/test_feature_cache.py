"""hf_emotion.training.feature_cache: each frozen-encoder pass done once, and the same features as a fresh pass."""

from __future__ import annotations

import pytest
import torch

from hf_emotion.corpora import load_ravdess
from hf_emotion.data.decode_cache import decode_dataset
from hf_emotion.data.labels import EMOTIONS
from hf_emotion.model.batches import EmotionDataCollator, load_feature_extractor, with_model_columns
from hf_emotion.model.modeling_emotion import EmotionModel
from hf_emotion.training.feature_cache import PooledFeatureCache
from hf_emotion.training.heads import fit_heads_on_pooled_features, pooled_features
from hf_emotion.training.speaker_adaptive_head import fit_head_for_model

MAX_SECONDS = 1.5


@pytest.fixture(scope="module")
def clips(ravdess_dir):
    dataset, _ = decode_dataset(load_ravdess(ravdess_dir), 16000)
    return with_model_columns(dataset)


def _model(encoder_dir) -> tuple[EmotionModel, EmotionDataCollator]:
    torch.manual_seed(0)
    model = EmotionModel.from_encoder_pretrained(str(encoder_dir), id2label=dict(enumerate(EMOTIONS)))
    extractor = load_feature_extractor(str(encoder_dir))
    return model.eval(), EmotionDataCollator(extractor, model.config.is_whisper, MAX_SECONDS)


def _rows(clips, speakers: set[str]) -> list[int]:
    return [i for i, s in enumerate(clips["speaker"]) if s in speakers]


@pytest.mark.parametrize("backbone", ["tiny_wav2vec2_dir", "tiny_whisper_dir"])
def test_cached_features_equal_a_fresh_pass_in_fp32(backbone, request, clips):
    model, collator = _model(request.getfixturevalue(backbone))
    cache = PooledFeatureCache()
    # One fold's probe encodes its training speakers; another fold's asks for others, in other batches.
    first = clips.select(_rows(clips, {"ravdess-01", "ravdess-02", "ravdess-03", "ravdess-04"}))
    cache(model, first, collator, 8)
    encoded = cache.encoded
    later = clips.select(_rows(clips, {"ravdess-04", "ravdess-03"})[::-1] + _rows(clips, {"ravdess-05"}))
    cached = cache(model, later, collator, 5)
    assert cache.encoded == encoded + 15  # only ravdess-05's 15 clips were new to this encoder
    fresh = pooled_features(model, later, collator, 16)
    assert cached.keys() == fresh.keys()
    torch.testing.assert_close(cached["hidden"], fresh["hidden"], atol=1e-5, rtol=0)
    for key in ("labels", "valence", "arousal"):
        assert torch.equal(cached[key], fresh[key]), key


def test_a_changed_encoder_is_encoded_again_and_new_heads_are_not(clips, tiny_wav2vec2_dir):
    model, collator = _model(tiny_wav2vec2_dir)
    cache = PooledFeatureCache()
    part = clips.select(_rows(clips, {"ravdess-01"}))
    before = cache(model, part, collator, 8)["hidden"]
    with torch.no_grad():
        model.classifier.weight.add_(1.0)  # the heads come after pooling: the features still hold
    cache(model, part, collator, 8)
    assert cache.encoded == 15 and cache.reused == 15
    with torch.no_grad():
        next(model.encoder.parameters()).mul_(1.5)  # a fine-tuned encoder is another state
    after = cache(model, part, collator, 8)["hidden"]
    assert cache.encoded == 30 and not torch.allclose(before, after)
    torch.testing.assert_close(after, pooled_features(model, part, collator, 8)["hidden"], atol=1e-5, rtol=0)


def test_clips_without_files_and_random_crops_are_encoded_afresh(clips, tiny_wav2vec2_dir):
    model, collator = _model(tiny_wav2vec2_dir)
    cache = PooledFeatureCache()
    arrays = [{"input_audio": clips[i]["input_audio"]} for i in range(4)]
    cache(model, arrays, collator, 2)
    cache(model, arrays, collator, 2)
    crops = EmotionDataCollator(collator.feature_extractor, False, MAX_SECONDS, random_crop=True)
    cache(model, clips.select(range(4)), crops, 2)
    assert cache.encoded == cache.reused == 0  # nothing kept: none of these can be told apart or repeated


def test_the_speaker_adaptive_head_reuses_the_refits_features(clips, tiny_wav2vec2_dir):
    model, collator = _model(tiny_wav2vec2_dir)
    cache = PooledFeatureCache()
    train = clips.select(_rows(clips, {f"ravdess-0{i}" for i in range(1, 7)}))
    validation = clips.select(_rows(clips, {"ravdess-07", "ravdess-08"}))
    names = list(EMOTIONS)
    settings = dict(encode_batch_size=16, learning_rate=1e-3, keep_current_heads=True, name="refit")
    fit_heads_on_pooled_features(
        model, train, validation, collator, names, epochs=2, encode=cache, **settings
    )
    encoded = cache.encoded
    extractor = collator.feature_extractor
    fit_head_for_model(
        model, extractor, train, validation, max_seconds=MAX_SECONDS, batch_size=16, encode=cache
    )
    assert cache.encoded == encoded and cache.reused == len(train) + len(validation)


def test_the_pretrained_features_outlive_each_folds_fine_tuned_ones(clips, tiny_wav2vec2_dir):
    model, collator = _model(tiny_wav2vec2_dir)
    pretrained = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    cache = PooledFeatureCache(max_states=2)
    part = clips.select(range(3))
    cache(model, part, collator)  # fold 0's probe
    for scale in (1.1, 1.2):
        with torch.no_grad():
            next(model.encoder.parameters()).mul_(scale)
        cache(model, part, collator)  # this fold's fine-tuned encoder: refit, then speaker-adaptive head
        model.encoder.load_state_dict(pretrained)
        cache(model, part, collator)  # the next fold's probe reads the pretrained features back
    assert cache.encoded == 9 and cache.reused == 6


def test_a_clip_cut_to_its_speech_is_never_taken_for_the_whole_clip(clips, tiny_wav2vec2_dir):
    """The cut clip keeps its file in ``audio``; the cache must still know it as another clip."""
    from hf_emotion.data.framing import trimmed_to_speech

    model, collator = _model(tiny_wav2vec2_dir)
    cache = PooledFeatureCache()
    part = clips.select(_rows(clips, {"ravdess-01"}))
    cut = with_model_columns(trimmed_to_speech(part, 16000, method="energy"))
    whole = cache(model, part, collator, 8)["hidden"]
    trimmed = cache(model, cut, collator, 8)["hidden"]
    assert cache.encoded == 2 * len(part) and cache.reused == 0
    assert not torch.allclose(whole, trimmed)
    torch.testing.assert_close(trimmed, pooled_features(model, cut, collator, 8)["hidden"], atol=1e-5, rtol=0)
    cache(model, cut, collator, 8)
    assert cache.reused == len(part)
