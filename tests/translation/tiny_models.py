"""Tiny random translation checkpoints of each family, with their real tokenizer classes and conventions.

Each `build_*` writes a Hugging Face folder in well under a second: a SentencePiece model trained on the
parallel sentences below, the family's own tokenizer class around it (M2M100Tokenizer, NllbTokenizer,
MarianTokenizer, or xling's PreTrainedTokenizerFast), and a seeded random model (d_model 16, one layer each
side; init_std INIT_STD). The weights are random, so outputs are gibberish; what the tests check is the token conventions, the
batching and the plumbing. Imported by tests/translation and by the CTranslate2 and training tests (by
module or file path), so it depends on nothing but the library and transformers.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

# A handful of parallel sentences (the same meaning on each line), for the SentencePiece models and for
# tests that overfit a model on pairs and translate them back.
PARALLEL: dict[str, list[str]] = {
    "eng": [
        "The cat sleeps on the bed.",
        "The dog runs in the garden.",
        "I drink water every morning.",
        "We read a book together.",
        "The sun is shining today.",
        "My brother lives in the city.",
        "She writes a long letter.",
        "The children play outside.",
        "Where is the train station?",
        "Thank you for your help.",
        "The house has a red door.",
        "He eats bread with cheese.",
    ],
    "deu": [
        "Die Katze schläft auf dem Bett.",
        "Der Hund läuft im Garten.",
        "Ich trinke jeden Morgen Wasser.",
        "Wir lesen zusammen ein Buch.",
        "Die Sonne scheint heute.",
        "Mein Bruder wohnt in der Stadt.",
        "Sie schreibt einen langen Brief.",
        "Die Kinder spielen draußen.",
        "Wo ist der Bahnhof?",
        "Danke für deine Hilfe.",
        "Das Haus hat eine rote Tür.",
        "Er isst Brot mit Käse.",
    ],
    "fra": [
        "Le chat dort sur le lit.",
        "Le chien court dans le jardin.",
        "Je bois de l'eau chaque matin.",
        "Nous lisons un livre ensemble.",
        "Le soleil brille aujourd'hui.",
        "Mon frère habite en ville.",
        "Elle écrit une longue lettre.",
        "Les enfants jouent dehors.",
        "Où est la gare ?",
        "Merci pour ton aide.",
        "La maison a une porte rouge.",
        "Il mange du pain avec du fromage.",
    ],
}

SEED = 0
D_MODEL = 16
# transformers' 0.02 makes a tiny random model ignore its language tokens (the same output whatever the target);
# at 0.5 the target token changes the output, which the per-example target tests need
INIT_STD = 0.5
MAX_POSITIONS = 1024  # sinusoidal positions: long inputs and outputs cost nothing here


def _corpus() -> list[str]:
    """Return every sentence of PARALLEL (plus lower-cased copies: more pieces for the tiny vocabulary)."""
    lines = [s for sentences in PARALLEL.values() for s in sentences]
    return lines + [s.lower() for s in lines]


def _train_spm(model_type: str = "unigram", vocab_size: int = 120, **options) -> bytes:
    """Return a serialised SentencePiece model trained on `_corpus()` (one thread, fixed seed)."""
    import sentencepiece as spm

    spm.set_random_generator_seed(SEED)
    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_corpus()),
        model_writer=buffer,
        vocab_size=vocab_size,
        model_type=model_type,
        character_coverage=1.0,
        hard_vocab_limit=False,
        num_threads=1,
        minloglevel=2,
        **options,
    )
    return buffer.getvalue()


def _spm_pieces(model: bytes) -> list[str]:
    """Return the normal (not control, not unknown) pieces of a SentencePiece model, in id order."""
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor(model_proto=model)
    return [
        processor.id_to_piece(i)
        for i in range(processor.get_piece_size())
        if not (processor.is_control(i) or processor.is_unknown(i))
    ]


@contextmanager
def _seeded():
    """Run the body with torch seeded by SEED, leaving the caller's random state as it was."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        yield


def _m2m100_model(folder: Path, vocab_size: int, **config) -> None:
    """Save a seeded random M2M100ForConditionalGeneration of `vocab_size` tokens into `folder`."""
    from transformers import M2M100Config, M2M100ForConditionalGeneration

    settings = dict(vocab_size=vocab_size, d_model=D_MODEL, encoder_layers=1, decoder_layers=1,
                    encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32,
                    max_position_embeddings=MAX_POSITIONS, dropout=0.0, attention_dropout=0.0,
                    activation_dropout=0.0, bos_token_id=0, pad_token_id=1, eos_token_id=2,
                    decoder_start_token_id=2, scale_embedding=True, init_std=INIT_STD)  # fmt: skip
    settings.update(config)
    with _seeded():
        M2M100ForConditionalGeneration(M2M100Config(**settings)).save_pretrained(folder)


def build_m2m100(folder: str | Path, languages: Sequence[str] = ("en", "de", "fr")) -> Path:
    """Return `folder`, now holding a tiny M2M-100 checkpoint (M2M100Tokenizer: `__en__` tokens).

    As the real one: `sentencepiece.bpe.model` + `vocab.json` (fairseq ids: `<s>` 0, `<pad>` 1, `</s>` 2,
    `<unk>` 3, then the pieces), then the 100 `__xx__` language tokens and 8 made-up words that
    M2M100Tokenizer always appends. The tokenizer has all 100 M2M-100 languages whatever `languages` says
    (its list is fixed), so `languages` is accepted for symmetry with the other builders only; a language
    M2M-100 lacks (Basque, `eu`) is the one to ask for. `src_lang`/`tgt_lang` are unset, as published.
    """
    from transformers import M2M100Tokenizer

    del languages  # M2M100Tokenizer's language list is fixed (language_codes="m2m100")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = _train_spm("unigram")
    (folder / "sentencepiece.bpe.model").write_bytes(model)
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for piece in _spm_pieces(model):
        vocab.setdefault(piece, len(vocab))
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tokenizer = M2M100Tokenizer(str(folder / "vocab.json"), str(folder / "sentencepiece.bpe.model"))
    tokenizer.save_pretrained(folder)
    # len(tokenizer) leaves out the language tokens in transformers 5; the real vocab_size (128,112 for
    # m2m100_418M) counts the pieces, the language tokens and the made-up words
    _m2m100_model(folder, len(vocab) + len(tokenizer.lang_code_to_id) + tokenizer.num_madeup_words)
    return folder


def build_nllb(folder: str | Path, languages: Sequence[str] = ("eng_Latn", "deu_Latn", "fra_Latn")) -> Path:
    """Return `folder`, now holding a tiny NLLB-200-shaped checkpoint (M2M100 architecture, NllbTokenizer).

    The vocabulary is NLLB's layout: `<s>` 0, `<pad>` 1, `</s>` 2, `<unk>` 3, the SentencePiece pieces,
    then one token per code of `languages` (NLLB codes such as `eng_Latn`, `srp_Cyrl`) and `<mask>`. The
    tokenizer is the non-legacy one: a source is `src_code pieces </s>`. Only `languages` are in the model,
    so asking it for another language is an error the tests can provoke.
    """
    from transformers import NllbTokenizer
    from transformers.convert_slow_tokenizer import NllbConverter, SentencePieceExtractor

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    spm_file = folder / "sentencepiece.bpe.model"
    spm_file.write_bytes(_train_spm("bpe"))
    # transformers 5 builds NllbTokenizer on a BPE backend from the SentencePiece merges (its own path
    # when it converts a published sentencepiece.bpe.model)
    extracted = NllbConverter.convert_from_spm(
        **SentencePieceExtractor(str(spm_file)).extract(NllbTokenizer.model)
    )
    tokenizer = NllbTokenizer(
        vocab=extracted["vocab"],
        merges=extracted["merges"],
        _spm_precompiled_charsmap=extracted.get("_spm_precompiled_charsmap"),
        extra_special_tokens=list(languages),
        src_lang=languages[0],
    )
    tokenizer.save_pretrained(folder)
    _m2m100_model(folder, len(tokenizer))
    return folder


def build_marian(
    folder: str | Path,
    source: str = "en",
    target: str = "de",
    target_tokens: Sequence[str] = (),
    separate_vocabs: bool = False,
) -> Path:
    """Return `folder`, now holding a tiny OPUS-MT checkpoint (MarianMTModel + MarianTokenizer).

    As Helsinki-NLP's folders: `source.spm`, `target.spm` (one shared model here), `vocab.json` (`</s>` 0,
    `<unk>` 1, the pieces, `<pad>` last), `tokenizer_config.json` with `source_lang`/`target_lang`, and
    `decoder_start_token_id` = pad. A fixed-pair model by default (`source` -> `target`); with
    `target_tokens` (e.g. ("fra", "deu")) a multi-target model whose vocabulary holds `>>fra<<`, `>>deu<<`
    (put first in the source text to choose the output language) and whose target_lang is "mul".
    With `separate_vocabs`, the target side has a vocabulary of its own (`target_vocab.json`: the same pieces
    in reverse order, so a source id names another piece there) and the decoder its own embeddings, as
    OPUS-MT models converted with separate vocabularies.
    """
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = _train_spm("unigram")
    for name in ("source.spm", "target.spm"):
        (folder / name).write_bytes(model)
    vocab = {"</s>": 0, "<unk>": 1}
    for token in (f">>{code}<<" for code in target_tokens):
        vocab[token] = len(vocab)
    for piece in _spm_pieces(model):
        vocab.setdefault(piece, len(vocab))
    vocab["<pad>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    target_vocab = vocab
    separate = {}
    if separate_vocabs:
        pieces = [token for token in vocab if token not in ("</s>", "<unk>", "<pad>")]
        target_vocab = {"</s>": 0, "<unk>": 1, **{p: i + 2 for i, p in enumerate(reversed(pieces))}}
        target_vocab["<pad>"] = len(target_vocab)
        (folder / "target_vocab.json").write_text(
            json.dumps(target_vocab, ensure_ascii=False), encoding="utf-8"
        )
        separate = {"separate_vocabs": True, "target_vocab_file": str(folder / "target_vocab.json")}
    target_lang = "mul" if target_tokens else target
    tokenizer = MarianTokenizer(str(folder / "source.spm"), str(folder / "target.spm"), str(folder / "vocab.json"),
                                source_lang=source, target_lang=target_lang, **separate)  # fmt: skip
    tokenizer.save_pretrained(folder)
    pad = vocab["<pad>"]
    if separate_vocabs and target_vocab["<pad>"] != pad:
        raise ValueError("the two vocabularies must agree on <pad> (one pad_token_id in the model config)")
    config = MarianConfig(vocab_size=len(vocab), decoder_vocab_size=len(target_vocab), d_model=D_MODEL,
                          encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                          decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32,
                          max_position_embeddings=MAX_POSITIONS, dropout=0.0, attention_dropout=0.0,
                          activation_dropout=0.0, pad_token_id=pad, eos_token_id=0, decoder_start_token_id=pad,
                          forced_eos_token_id=0, scale_embedding=True, init_std=INIT_STD,
                          share_encoder_decoder_embeddings=not separate_vocabs)  # fmt: skip
    with _seeded():
        MarianMTModel(config).save_pretrained(folder)
    return folder


def build_xling(
    folder: str | Path, languages: Sequence[str] = ("eng", "deu", "fra"), byte_fallback: bool = False
) -> Path:
    """Return `folder`, now holding a tiny model in the layout `xling mt train` writes.

    M2M100ForConditionalGeneration, a PreTrainedTokenizerFast from
    `xling.tokenization.vocabulary.hf_tokenizer_from_spm` (`<s>` 0, `<pad>` 1, `</s>` 2, `<unk>` 3,
    `<mask>` 4, one `__deu__` token per language, then the pieces) and `xling.json`
    (`kind` translation, `family` xling, `languages`, `language_tokens`). With `byte_fallback`, the
    vocabulary also has the 256 byte pieces (`<0x3C>`) that spell a character it lacks, as xling's shipped
    vocabularies do.
    """
    from xling.artifacts import write_metadata
    from xling.tokenization.vocabulary import SPM_FILE, hf_tokenizer_from_spm, language_token, save_tokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokens = {lang: language_token(lang) for lang in languages}
    # the byte pieces count towards the vocabulary size: as many more pieces as without them
    model = _train_spm("unigram", vocab_size=120 + 256 * byte_fallback, bos_id=0, pad_id=1, eos_id=2, unk_id=3,
                       bos_piece="<s>", pad_piece="<pad>", eos_piece="</s>", unk_piece="<unk>", control_symbols=["<mask>", *tokens.values()],
                       normalization_rule_name="nmt_nfkc", byte_fallback=byte_fallback)  # fmt: skip
    spm_file = folder / SPM_FILE
    spm_file.write_bytes(model)
    tokenizer = hf_tokenizer_from_spm(spm_file, list(tokens.values()))
    save_tokenizer(tokenizer, folder)
    _m2m100_model(folder, len(tokenizer))
    write_metadata(folder, {"kind": "translation", "family": "xling", "languages": list(tokens),
                            "language_tokens": tokens})  # fmt: skip
    return folder


def shard_as_pickles(folder: Path) -> list[str]:
    """Return the shard names after replacing `folder`'s model.safetensors by two pickled
    `pytorch_model-0000k-of-00002.bin` shards and their index, as older transformers saved a large model (and
    older Hub uploads hold; transformers 5 no longer writes them)."""
    import torch
    from safetensors.torch import load_file

    state = load_file(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    names = sorted(state)
    shards = {"pytorch_model-00001-of-00002.bin": names[::2], "pytorch_model-00002-of-00002.bin": names[1::2]}
    for shard, keys in shards.items():
        torch.save({key: state[key] for key in keys}, folder / shard)
    weight_map = {key: shard for shard, keys in shards.items() for key in keys}
    (folder / "pytorch_model.bin.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": weight_map}), encoding="utf-8"
    )
    return list(shards)
