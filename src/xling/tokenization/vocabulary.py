"""Train a shared subword vocabulary over many languages and save it as a Hugging Face tokenizer folder.

The recipe is XLM-R's: a SentencePiece unigram model trained on sentences drawn from each language with the
smoothed distribution p_i ~ n_i^alpha, so that small languages get a fair share of the vocabulary; character
coverage below 1 keeps CJK scripts from filling the vocabulary with rare characters. Token ids are the
SentencePiece ids (no fairseq offset): `<s>`=0 `<pad>`=1 `</s>`=2 `<unk>`=3 `<mask>`=4, then one `__xxx__`
token per language, then the pieces. The folder holds `tokenizer.json` (what `AutoTokenizer` loads),
`sentencepiece.bpe.model` (the trained model itself) and `xling.json` (languages and sampling; folders made
before it existed hold `xling_tokenizer.json`, still read).
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xling.artifacts import read_metadata, write_metadata
from xling.atomic import atomic_folder, check_replaceable
from xling.data.config import CorpusConfig
from xling.data.languages import normalize_language
from xling.data.sampling import sentences_per_language, smoothed_probabilities
from xling.errors import ConfigError, XlingError

SPECIAL_TOKENS = {"bos": "<s>", "pad": "<pad>", "eos": "</s>", "unk": "<unk>", "mask": "<mask>"}
SPM_FILE = "sentencepiece.bpe.model"  # XLM-R's name for its SentencePiece model


def language_token(lang: str) -> str:
    """Return the special token that stands for a language, e.g. `__deu__` (M2M-100's style)."""
    return f"__{normalize_language(lang)}__"


@dataclass
class VocabConfig:
    """Settings of `xling tokenizer train`."""

    output: str = "runs/tokenizer"
    """The tokenizer folder to write (an existing one is only replaced with `overwrite`)."""

    data: CorpusConfig = field(default_factory=CorpusConfig)
    """The text to learn the vocabulary from (held-out ids excluded): `[tokenizer.data]` in a recipe."""

    extra_languages: list[str] = field(default_factory=list)
    """Languages that get a language token without text (e.g. for later fine-tuning)."""

    vocab_size: int = 16000
    """Pieces in the vocabulary, special and language tokens included."""

    model_type: str = "unigram"
    """SentencePiece model: `unigram` (XLM-R) or `bpe`."""

    alpha: float = 0.3
    """Smoothing exponent of the language sampling p_i ~ n_i^alpha (XLM-R: 0.3; 1 = as in the corpus)."""

    sample_sentences: int = 500_000
    """Sentences drawn (smoothed over languages) for SentencePiece to learn from; its time grows with it."""

    character_coverage: float = 0.9995
    """Share of characters the pieces must cover; below 1 keeps rare CJK characters out, in [0.9, 1]."""

    byte_fallback: bool = True
    """Spell characters outside the vocabulary as bytes instead of `<unk>`."""

    max_sentence_chars: int = 2000
    """Drawn sentences are cut to this many characters before SentencePiece sees them (its own byte limit is
    4 times this)."""

    seed: int = 0
    """Seed of the sampling and of SentencePiece."""

    threads: int = 2
    """SentencePiece training threads (1 makes the result byte-for-byte reproducible)."""

    overwrite: bool = False
    """Replace an existing tokenizer folder at `output` (the old one stays until the new one is complete)."""

    def validate(self) -> None:
        self.data.validate()
        if self.model_type not in ("unigram", "bpe"):
            raise ConfigError(f"model_type: {self.model_type!r} must be 'unigram' or 'bpe'")
        if self.vocab_size < 100:
            raise ConfigError(f"vocab_size: {self.vocab_size} is too small (at least 100)")
        if not 0.9 <= self.character_coverage <= 1.0:
            raise ConfigError(f"character_coverage: {self.character_coverage} must be in [0.9, 1]")


@dataclass
class VocabReport:
    """What vocabulary training did: per-language sentence counts and how many were sampled."""

    output: Path
    vocab_size: int
    counts: dict[str, int]
    sampled: dict[str, int]
    probabilities: dict[str, float]


def train_vocabulary(
    texts: Mapping[str, Callable[[], Iterable[str]]],
    config: VocabConfig,
    progress: Callable[[str], None] | None = None,
) -> VocabReport:
    """Return a report after training a SentencePiece model on smoothed samples of `texts` and saving it.

    `texts` maps a language code to a function that starts a new pass over that language's sentences
    (two passes: one to count, one to sample), so memory stays bounded by the sample, not the corpus.
    The folder is built next to `config.output` and swapped in only when complete, so an earlier tokenizer
    there (replaced only with `config.overwrite`) survives a crash. `progress`, if given, gets a line per
    stage and, while SentencePiece trains, one every `HEARTBEAT_SECONDS`.
    """
    say = progress or (lambda _message: None)
    output = Path(config.output)
    check_replaceable(output, config.overwrite, "tokenizer")
    langs = [normalize_language(lang) for lang in texts]
    counts = {}
    for lang in langs:
        say(f"counting sentences: {lang}")
        counts[lang] = sum(1 for _ in texts[lang]())
    empty = [lang for lang, n in counts.items() if n == 0]
    if empty:
        raise XlingError(f"no sentences for language(s): {', '.join(empty)}")
    probabilities = smoothed_probabilities(counts, config.alpha)
    wanted = sentences_per_language(counts, config.sample_sentences, config.alpha)
    rng = np.random.default_rng(config.seed)
    all_langs = langs + [normalize_language(x) for x in config.extra_languages]
    lang_tokens = [language_token(lang) for lang in dict.fromkeys(all_langs)]
    with atomic_folder(output, overwrite=config.overwrite, what="tokenizer") as staging:
        sample_path = staging / "sample.txt"
        lines = []
        for lang in langs:
            say(f"sampling {wanted[lang]:,} sentences: {lang}")
            lines += _draw(texts[lang](), counts[lang], wanted[lang], rng, config.max_sentence_chars)
        # SentencePiece reads its input in order; shuffle so no language dominates its sentence cap
        random.Random(config.seed).shuffle(lines)
        sample_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        n_lines = len(lines)
        del lines
        learning = f"SentencePiece: learning {config.vocab_size:,} pieces from {n_lines:,} sentences"
        with _heartbeat(say, learning):
            _train_spm(sample_path, staging / "spm", config, lang_tokens)
        sample_path.unlink()
        (staging / "spm.model").replace(staging / SPM_FILE)
        (staging / "spm.vocab").unlink(missing_ok=True)
        say("converting to a Hugging Face tokenizer")
        tokenizer = hf_tokenizer_from_spm(staging / SPM_FILE, lang_tokens)
        save_tokenizer(tokenizer, staging)
        write_metadata(staging, {
            "kind": "tokenizer",
            "languages": list(dict.fromkeys(all_langs)),
            "language_tokens": {tok.strip("_"): tok for tok in lang_tokens},
            "alpha": config.alpha,
            "counts": counts,
            "sampled": wanted,
            "probabilities": probabilities,
            "vocab_size": len(tokenizer),
            "model_type": config.model_type,
            "character_coverage": config.character_coverage,
        })  # fmt: skip
    return VocabReport(output, len(tokenizer), counts, wanted, probabilities)


HEARTBEAT_SECONDS = 5.0


@contextmanager
def _heartbeat(say: Callable[[str], None], message: str) -> Iterator[None]:
    """Return a context that says `message` now and again with the elapsed time every HEARTBEAT_SECONDS.

    SentencePiece trains in one C++ call that reports nothing itself (silent for up to 50 s on 2 cores, as
    reported in issue 13).
    """
    every = HEARTBEAT_SECONDS
    say(message)
    started = time.perf_counter()
    done = threading.Event()

    def beat() -> None:
        while not done.wait(every):
            say(f"{message} ({time.perf_counter() - started:.0f} s)")

    thread = threading.Thread(target=beat, name="xling-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _draw(texts: Iterable[str], n: int, k: int, rng: np.random.Generator, max_chars: int) -> list[str]:
    """Return k sentences drawn from a stream of n: without replacement if k <= n, else up-sampled as
    k // n copies of every sentence plus k % n more drawn without replacement (i.i.d. draws would leave
    about a tenth of a small language's sentences out at k = 2n)."""
    if n <= 0 or k <= 0:
        return []
    copies, rest = divmod(k, n)
    repeats = np.full(n, copies, dtype=np.int64)
    repeats[rng.choice(n, size=rest, replace=False)] += 1
    out: list[str] = []
    for i, text in enumerate(texts):
        if i < n and repeats[i]:
            out += [text[:max_chars].replace("\n", " ")] * int(repeats[i])
    return out


def _train_spm(sample: Path, prefix: Path, config: VocabConfig, lang_tokens: list[str]) -> None:
    import sentencepiece as spm

    specials = [SPECIAL_TOKENS["mask"], *lang_tokens]
    spm.set_random_generator_seed(config.seed)
    try:
        spm.SentencePieceTrainer.train(
            input=str(sample),
            model_prefix=str(prefix),
            vocab_size=config.vocab_size,
            model_type=config.model_type,
            character_coverage=config.character_coverage,
            byte_fallback=config.byte_fallback,
            bos_id=0,
            pad_id=1,
            eos_id=2,
            unk_id=3,
            bos_piece=SPECIAL_TOKENS["bos"],
            pad_piece=SPECIAL_TOKENS["pad"],
            eos_piece=SPECIAL_TOKENS["eos"],
            unk_piece=SPECIAL_TOKENS["unk"],
            control_symbols=specials,
            normalization_rule_name="nmt_nfkc",
            input_sentence_size=config.sample_sentences,
            shuffle_input_sentence=True,
            max_sentence_length=config.max_sentence_chars * 4,
            num_threads=config.threads,
            minloglevel=2,
        )
    except RuntimeError as exc:
        raise XlingError(_spm_message(str(exc), config)) from None


def _spm_message(error: str, config: VocabConfig) -> str:
    """Return an xling message for a SentencePiece training error, in xling's option names.

    SentencePiece says e.g. "Vocabulary size is too high (16000). Please set it to a value <= 5000." and
    suggests its own `--hard_vocab_limit`, which xling does not expose.
    """
    limit = re.search(r"value\s*<=\s*(\d+)", error)
    if "Vocabulary size" in error and limit:
        return (
            f"vocab_size: {config.vocab_size} is too large for this text: SentencePiece can make at most "
            f"{limit.group(1)} pieces from the sampled sentences; lower it (--vocab-size or --set "
            "vocab_size=N) or give more text"
        )
    chars = re.search(r"smaller than required_chars\. (\d+) vs (\d+)", error)
    if chars:
        return (
            f"vocab_size: {config.vocab_size} is smaller than the {chars.group(2)} characters and special "
            f"tokens this text needs at character_coverage {config.character_coverage}; raise it (--vocab-size) "
            "or lower character_coverage (--set character_coverage=0.999)"
        )
    # drop SentencePiece's source location ("INTERNAL: src/trainer_interface.cc(638) [check] ...")
    first_line = error.strip().splitlines()[0] if error.strip() else error
    return f"SentencePiece training failed: {_SPM_LOCATION.sub('', first_line)}"


_SPM_LOCATION = re.compile(r"^.*?\.cc\(\d+\) \[.*?\] ")


def hf_tokenizer_from_spm(spm_path: Path, lang_tokens: list[str]):
    """Return a transformers fast tokenizer that encodes exactly like the SentencePiece model at spm_path."""
    from tokenizers import AddedToken, processors
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import SpmConverter, import_protobuf

    proto = import_protobuf().ModelProto()
    proto.ParseFromString(Path(spm_path).read_bytes())
    vocab = [(piece.piece, piece.score) for piece in proto.pieces]
    backend = SpmConverter.build_tokenizer_from_spm_proto(proto, vocab)
    bos, eos = SPECIAL_TOKENS["bos"], SPECIAL_TOKENS["eos"]
    backend.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, 0), (eos, 2)],
    )
    specials = [*SPECIAL_TOKENS.values(), *lang_tokens]
    backend.add_special_tokens([AddedToken(tok, special=True, normalized=False) for tok in specials])
    # The generic fast class on purpose: in transformers 5, `XLMRobertaTokenizer(Fast)` rebuilds its own
    # pipeline (no byte fallback, a different normalizer) instead of using this one, and a bare
    # `XLMRobertaTokenizerFast(vocab_file=...)` is silently ignored (a 5-token tokenizer comes back).
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=bos,
        eos_token=eos,
        sep_token=eos,
        cls_token=bos,
        unk_token=SPECIAL_TOKENS["unk"],
        pad_token=SPECIAL_TOKENS["pad"],
        mask_token=SPECIAL_TOKENS["mask"],
        extra_special_tokens=lang_tokens,
        model_max_length=512,
    )
    if len(tokenizer) != len(vocab):
        raise XlingError(f"tokenizer conversion lost tokens: {len(tokenizer)} != {len(vocab)} pieces")
    return tokenizer


def save_tokenizer(tokenizer, output: str | Path) -> None:
    """Save a tokenizer folder that AutoTokenizer loads back as the same pipeline (tokenizer.json as is)."""
    tokenizer.save_pretrained(str(output))
    config_file = Path(output) / "tokenizer_config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    # transformers 4 and 5 both map this name to the class that loads tokenizer.json unchanged
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config_file.write_text(json.dumps(config, indent=2, ensure_ascii=False), encoding="utf-8")


def load_tokenizer(path: str | Path):
    """Return the tokenizer saved in a folder (AutoTokenizer, offline)."""
    from transformers import AutoTokenizer

    folder = Path(path)
    if not (folder / "tokenizer.json").is_file() and not (folder / "tokenizer_config.json").is_file():
        raise XlingError(f"{folder}: no tokenizer here (tokenizer.json missing)")
    return AutoTokenizer.from_pretrained(str(folder))


def tokenizer_metadata(path: str | Path) -> dict:
    """Return the xling metadata of a tokenizer folder, or of the tokenizer inside a model folder ({} if none).

    Reads `xling.json` (or the older `xling_tokenizer.json`); a model folder keeps its tokenizer's under
    `tokenizer`.
    """
    meta = read_metadata(path)
    if meta.get("kind", "tokenizer") == "tokenizer" and "language_tokens" in meta:
        return meta
    inner = meta.get("tokenizer")
    return inner if isinstance(inner, dict) else {}


def tokenizer_languages(path: str | Path) -> list[str]:
    """Return the languages a tokenizer folder has language tokens for (from its xling.json)."""
    return list(tokenizer_metadata(path).get("languages", []))
