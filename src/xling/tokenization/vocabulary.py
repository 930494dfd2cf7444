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

import contextlib
import itertools
import json
import random
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xling.artifacts import METADATA_FILE, TOKENIZER_KIND, read_metadata, write_metadata
from xling.atomic import atomic_folder, check_apart, check_replaceable
from xling.config import check_int
from xling.data.config import CorpusConfig
from xling.data.languages import normalize_language
from xling.data.readers import AlignedCorpus
from xling.data.sampling import sentences_per_language, smoothed_probabilities
from xling.data.sources import in_nfc, resolve_corpus
from xling.errors import ConfigError, DataError, LanguageCodeError, XlingError

SPECIAL_TOKENS = {"bos": "<s>", "pad": "<pad>", "eos": "</s>", "unk": "<unk>", "mask": "<mask>"}
SPM_FILE = "sentencepiece.bpe.model"  # XLM-R's name for its SentencePiece model
SPM_BPE = 2  # ModelProto.TrainerSpec.ModelType: UNIGRAM 1, BPE 2
SPM_BYTE = 6  # ModelProto.SentencePiece.Type of the byte pieces `<0x00>`..`<0xFF>` (byte_fallback)
BYTE_PIECES = 256  # what byte_fallback adds to the vocabulary, before any piece of the text
CHECKED_SENTENCES = 200
"""Sample sentences each converted tokenizer must encode into SentencePiece's ids."""
ADVERSARIAL_TEXTS = (
    "<0x41>",
    "x<0x41>y <0xFF><0x00> z",
    " <0x3C>0x41> <0x4<0x41>",
    "<0x4a> <0xZZ> 0x41> <0x41",
    "＜０ｘ４１＞",  # NFKC makes it `<0x41>`
    "<s x </ s> <unk <mask __deu_",
    "emoji 🙂 and Ελληνικά, ქართული, 한국어",
)
"""Texts each converted tokenizer must also encode into SentencePiece's ids: a byte piece's text written out
(SentencePiece never matches a byte piece in text), special tokens' look-alikes, and characters outside any
sample's vocabulary."""
KIND = TOKENIZER_KIND  # the `kind` in xling.json: `overwrite` replaces only a folder of this kind
TOKENIZER_MAX_LENGTH = 512
"""The model_max_length of a tokenizer folder, XLM-R's; a model folder saves its model's own (save_tokenizer)."""

# The sample is at most this many times the corpus: beyond a few copies of every sentence a larger sample
# only repeats the same text, which teaches SentencePiece nothing new and costs time (a 180-sentence corpus
# drawn 500,000 times took 2.5 minutes). The cap shrinks the total, not the smoothed shares; and ten still
# leaves no sentence out over up to ten languages: the largest has the largest share, at least a tenth, so
# its quota of ten times the corpus covers its sentences (and so every smaller one's, relatively).
MAX_SAMPLE_PER_SENTENCE = 10

# SentencePiece's own bounds, checked up front so a bad option fails before the corpus is read, not after
_MAX_THREADS = 1024  # trainer_spec.num_threads() <= 1024
_MIN_SENTENCE_CHARS = 10  # SentencePiece wants max_sentence_length >= 10 (bytes; we pass 4 per character)
_MAX_SENTENCE_CHARS = (2**31 - 1) // 4  # max_sentence_length is an int32 of bytes
# its random seed is an unsigned 32-bit int whose largest value, 2**32 - 1, means "no seed" (it takes one from
# std::random_device): that seed would give another vocabulary every run
_MAX_SEED = 2**32 - 2


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
    """Smoothing exponent of the language sampling p_i ~ n_i^alpha, n_i being language i's lines (sentences,
    not tokens: a language written a paragraph per line is sampled by its lines), in [0, 1] (XLM-R: 0.3; 1 =
    as in the corpus)."""

    sample_sentences: int = 500_000
    """Sentences drawn (smoothed over languages) for SentencePiece to learn from, at least 1; its time grows
    with it. No more than 10 times the corpus's sentences are drawn, whatever this says: a larger sample would
    only repeat the same sentences, which teaches SentencePiece nothing and costs time."""

    character_coverage: float = 0.9995
    """Share of characters the pieces must cover; below 1 keeps rare CJK characters out, in [0.98, 1]
    (SentencePiece's range)."""

    byte_fallback: bool = True
    """Spell characters outside the vocabulary as bytes instead of `<unk>`."""

    max_sentence_chars: int = 2000
    """Drawn sentences are cut to this many characters before SentencePiece sees them (its own byte limit is
    4 times this; at least 10)."""

    seed: int = 0
    """Seed of the sampling and of SentencePiece (0 to 2**32 - 2; SentencePiece reads 2**32 - 1 as "no seed")."""

    threads: int = 2
    """SentencePiece training threads, 1 to 1024 (1 makes the result byte-for-byte reproducible)."""

    overwrite: bool = False
    """Replace an existing tokenizer folder at `output` (the old one stays until the new one is complete)."""

    def validate(self) -> None:
        """Return nothing; raise ConfigError naming a field out of range (before any text is read)."""
        self.data.validate()
        for code in self.extra_languages:  # here, not after minutes of counting every language's sentences
            normalize_language(code, where="extra_languages")
        if self.model_type not in ("unigram", "bpe"):
            raise ConfigError(f"model_type: {self.model_type!r} must be 'unigram' or 'bpe'")
        # first: with byte_fallback, 100 is too few too; every training has a language, named here or not
        check_vocab_room(self, max(1, len(self._named_languages())))
        if self.vocab_size < 100:
            raise ConfigError(f"vocab_size: {self.vocab_size} is too small (at least 100)")
        if not 0.98 <= self.character_coverage <= 1.0:  # SentencePiece refuses less, after sampling
            raise ConfigError(
                f"character_coverage: {self.character_coverage} must be in [0.98, 1] (SentencePiece's range)"
            )
        if not 0.0 <= self.alpha <= 1.0:
            raise ConfigError(f"alpha: {self.alpha} must be in [0, 1] (0.3 as in XLM-R)")
        check_int("sample_sentences", self.sample_sentences, 1)
        check_int("max_sentence_chars", self.max_sentence_chars, _MIN_SENTENCE_CHARS, _MAX_SENTENCE_CHARS)
        check_int("threads", self.threads, 1, _MAX_THREADS)
        check_seed(self.seed)

    def _named_languages(self) -> set[str]:
        """Return the languages this config gives before any text is read (extra_languages, data.languages or
        else the corpus folder's files, data.text's), which get a language token each: as many as training
        will have."""
        codes = [
            *self.extra_languages,
            *(self.data.languages or self._corpus_languages()),
            *(item.split("=", 1)[0] for item in self.data.text),
        ]
        named: set[str] = set()
        for code in codes:
            # a bad code is reported, with its field, where it is read
            with contextlib.suppress(ConfigError, LanguageCodeError):
                named.add(normalize_language(code))
        return named

    def _corpus_languages(self) -> list[str]:
        """Return the languages of the files in the corpus folder (all of them are read when data.languages
        names none), found as training finds them; none without a corpus or when its folder cannot be listed
        (that is reported, with its path, where it is read)."""
        if not self.data.corpus:
            return []
        try:  # lists the folder's file names only: no text is read
            return AlignedCorpus.from_dir(resolve_corpus(self.data.corpus)).languages
        except XlingError:
            return []


def check_seed(seed: object) -> None:
    """Return nothing when `seed` is a seed SentencePiece keeps (0 to _MAX_SEED); else ConfigError naming the
    field: its largest unsigned value asks it for a random seed, so training would not repeat."""
    if seed == _MAX_SEED + 1 and isinstance(seed, int) and not isinstance(seed, bool):
        raise ConfigError(f"seed: {seed} is SentencePiece's 'no seed' (it takes a random one, so the vocabulary "
                          f"differs every run); use 0 to {_MAX_SEED}")  # fmt: skip
    check_int("seed", seed, 0, _MAX_SEED)


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
    config.validate()
    output = Path(config.output)
    _check_apart_from_inputs(output, config.data)
    kind = _replaceable_kind(output)
    check_replaceable(output, config.overwrite, "tokenizer", kind=kind)
    by_code: dict[str, Callable[[], Iterable[str]]] = {}
    for key, source in texts.items():  # keys in any form (`en`): looked up by their ISO 639-3 code below
        code = normalize_language(key)
        if code in by_code:
            raise ConfigError(f"texts: two keys name one language ({code})")
        by_code[code] = source
    texts = by_code
    langs = list(texts)
    all_langs = langs + [normalize_language(x) for x in config.extra_languages]
    lang_tokens = [language_token(lang) for lang in dict.fromkeys(all_langs)]
    check_vocab_room(config, len(lang_tokens))  # now that every language is known, still before any text
    counts = {}
    for lang in langs:
        say(f"counting sentences: {lang}")
        counts[lang] = sum(1 for _ in texts[lang]())
    empty = [lang for lang, n in counts.items() if n == 0]
    if empty:
        raise XlingError(f"no sentences for language(s): {', '.join(empty)}")
    probabilities = smoothed_probabilities(counts, config.alpha)
    total = sample_size(counts, config.sample_sentences)
    if total < config.sample_sentences:
        say(
            f"drawing {total:,} sentences, not {config.sample_sentences:,}: more would only repeat this corpus"
        )
    wanted = sentences_per_language(counts, total, config.alpha)
    rng = np.random.default_rng(config.seed)
    with atomic_folder(output, overwrite=config.overwrite, what="tokenizer", kind=kind) as staging:
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
        (staging / "spm.model").replace(staging / SPM_FILE)
        (staging / "spm.vocab").unlink(missing_ok=True)
        say("converting to a Hugging Face tokenizer")
        tokenizer = hf_tokenizer_from_spm(staging / SPM_FILE, lang_tokens)
        with sample_path.open(encoding="utf-8") as sample:
            check_same_encoding(staging / SPM_FILE, tokenizer, itertools.islice(sample, CHECKED_SENTENCES))
        sample_path.unlink()
        save_tokenizer(tokenizer, staging)
        write_metadata(staging, {
            "kind": KIND,
            "languages": list(dict.fromkeys(all_langs)),
            "language_tokens": {tok.strip("_"): tok for tok in lang_tokens},
            "alpha": config.alpha,
            "counts": counts,
            "sampled": wanted,
            "probabilities": probabilities,
            "vocab_size": len(tokenizer),
            "model_type": config.model_type,
            "character_coverage": config.character_coverage,
            "heldout_prefixes": list(config.data.heldout_prefixes),
        })  # fmt: skip
    return VocabReport(output, len(tokenizer), counts, wanted, probabilities)


def reserved_pieces(byte_fallback: bool, languages: int) -> int:
    """Return how many pieces SentencePiece sets aside before any of the text's own: the special tokens, a
    token per language and, with byte_fallback, the 256 byte pieces."""
    return len(SPECIAL_TOKENS) + languages + (BYTE_PIECES if byte_fallback else 0)


def check_vocab_room(config: VocabConfig, languages: int) -> None:
    """Return nothing when config.vocab_size leaves room for the text's pieces next to the reserved ones (see
    `reserved_pieces`); else ConfigError naming vocab_size and, with byte_fallback, its byte pieces.

    SentencePiece would only say so after the corpus was read and sampled, as too few pieces for the
    characters, when most of what it counts are the byte pieces.
    """
    reserved = reserved_pieces(config.byte_fallback, languages)
    if config.vocab_size > reserved:  # each character of the text needs a piece too: that is checked later
        return
    tokens = f"{len(SPECIAL_TOKENS)} special tokens and {languages} language token{'s' * (languages != 1)}"
    if config.byte_fallback:
        raise ConfigError(
            f"vocab_size: {config.vocab_size} is too small: byte_fallback adds {BYTE_PIECES} byte pieces, which "
            f"with the {tokens} make {reserved} pieces before any of the text's own; raise it above {reserved} "
            "(--vocab-size), or turn byte fallback off (--set byte_fallback=false)"
        )
    raise ConfigError(
        f"vocab_size: {config.vocab_size} is too small: the {tokens} take {reserved} pieces before any of the "
        f"text's own; raise it above {reserved} (--vocab-size)"
    )


def sample_size(counts: Mapping[str, int], wanted: int) -> int:
    """Return how many sentences to draw in all: `wanted`, but at most MAX_SAMPLE_PER_SENTENCE times the
    corpus (the split between languages is left to the smoothing, so its proportions stay the same)."""
    return min(wanted, MAX_SAMPLE_PER_SENTENCE * sum(counts.values()))


def _check_apart_from_inputs(output: Path, data: CorpusConfig) -> None:
    """Return nothing if `output` neither is nor holds nor lies in the corpus folder or a text file; else
    ConfigError naming both: writing (or, with overwrite, replacing) the output must not touch its input."""
    if data.corpus:
        corpus = (f"the corpus folder {data.corpus} (data.corpus)", resolve_corpus(data.corpus))
        check_apart(output, [corpus], "write the tokenizer to a folder apart from the corpus")
    texts: list[tuple[str, Path]] = []
    for item in data.text:
        path = Path(item.split("=", 1)[1])
        texts.append((f"the text file {path.expanduser().resolve()} ({item!r} in data.text)", path))
    check_apart(output, texts, "write the tokenizer to a folder apart from the text")


def _replaceable_kind(output: Path) -> str | None:
    """Return the kind `overwrite` must find at `output`: None (no check) for a tokenizer folder made before
    xling.json existed, which holds only `xling_tokenizer.json` and so records no kind; else KIND."""
    legacy = not (output / METADATA_FILE).exists() and (output / "tokenizer.json").is_file()
    try:
        return None if legacy and tokenizer_metadata(output) else KIND
    except XlingError:  # an unreadable legacy file: not known to be a tokenizer, so not replaced
        return KIND


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
    about a tenth of a small language's sentences out at k = 2n). Each is put in NFC (`in_nfc`) before it is
    cut: pretraining encodes NFC text, and the converted tokenizer matches SentencePiece only on NFC."""
    if n <= 0 or k <= 0:
        return []
    copies, rest = divmod(k, n)
    repeats = np.full(n, copies, dtype=np.int64)
    repeats[rng.choice(n, size=rest, replace=False)] += 1
    out: list[str] = []
    for i, text in enumerate(texts):
        if i < n and repeats[i]:
            out += [in_nfc(text)[:max_chars].replace("\n", " ")] * int(repeats[i])
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
        reserved = reserved_pieces(config.byte_fallback, len(lang_tokens))
        raise XlingError(_spm_message(str(exc), config, reserved)) from None


def _spm_message(error: str, config: VocabConfig, reserved: int = 0) -> str:
    """Return an xling message for a SentencePiece training error, in xling's option names (`reserved`: the
    pieces it sets aside before the text's, see `reserved_pieces`).

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
    if chars:  # SentencePiece counts the reserved pieces among the "required chars"
        needed = int(chars.group(2))
        kinds = "special, language and byte pieces" if config.byte_fallback else "special and language tokens"
        return (
            f"vocab_size: {config.vocab_size} is smaller than the {needed} pieces this text needs at "
            f"character_coverage {config.character_coverage}: {needed - reserved} characters and {reserved} "
            f"{kinds}; raise it (--vocab-size) or lower character_coverage (--set character_coverage=0.999)"
        )
    first_line = error.strip().splitlines()[0] if error.strip() else error
    return f"SentencePiece training failed: {_without_spm_location(first_line)}"


# SentencePiece's source location and failed check: "INTERNAL: src/trainer_interface.cc(638) [check] text";
# the text after it may be missing ("... [!sentences_.empty()]" is the whole message), and the check may hold
# brackets of its own ("[v[0] == 1]"), so they are matched one level deep.
_SPM_LOCATION = re.compile(r"^.*?\.cc\(\d+\) \[(?P<check>(?:[^\[\]]|\[[^\[\]]*\])*)\](?: |$)")


def _without_spm_location(line: str) -> str:
    """Return a SentencePiece error line without its source location: the text after it, or the failed
    check itself when no text follows (a location means nothing to a user; the check at least hints)."""
    found = _SPM_LOCATION.match(line)
    if found is None:
        return line
    rest = line[found.end() :].strip()
    return rest or f"its check {found.group('check')} failed"


# A byte piece's text `<0xHH>`, one regex a character (SentencePiece writes the hex digits in upper case)
_BYTE_PIECE_PARTS = ("<", "0", "x", "[0-9A-F]", "[0-9A-F]", ">")


def _byte_piece_cut(pieces: Iterable[str]) -> str:
    """Return a regex of the head of a byte piece's text up to a cut that none of `pieces` straddles (the rest
    only looked ahead at), so that cutting text after each match changes no segmentation but that one.

    A piece that straddles a cut holds the two characters either side of it; the cuts after `<` and before
    `>` come first, as no piece of letters and digits alone (what vocabulary extension appends) holds those.
    Where every cut is straddled the first is taken: `check_same_encoding` then shows any text it changes.
    """
    pieces = list(pieces)

    def straddled(cut: int) -> bool:
        pair = re.compile("".join(_BYTE_PIECE_PARTS[cut - 1 : cut + 1]))
        return any(pair.search(piece) for piece in pieces)

    cut = next((cut for cut in (1, 5, 2, 3, 4) if not straddled(cut)), 1)
    return "".join(_BYTE_PIECE_PARTS[:cut]) + f"(?={''.join(_BYTE_PIECE_PARTS[cut:])})"


def hf_tokenizer_from_spm(spm_path: Path, lang_tokens: list[str]):
    """Return a transformers fast tokenizer that encodes NFC text as the SentencePiece model at spm_path does,
    and any text as that model encodes its NFC form.

    The `Precompiled` normalizer of `tokenizers` drops combining marks that SentencePiece keeps
    (huggingface/tokenizers#2334, #2116), so NFD `Tiếng` was read as `Tiêng` (1,240 of 14,325 verses of 60
    Bibles differed in NFD, none in NFC). An NFC step first mends that: xling trains and pretrains on NFC
    text (xling.data.sources.in_nfc), so the model sees the same ids for a text in NFD at inference as it
    learned for it in NFC; on NFC text the step changes nothing. Raw non-NFC text the SentencePiece model
    reads as it is (Burmese out of canonical order) can come out otherwise than there, as can a mark after a
    character NFKC rewrites (an Arabic presentation form, a no-break space).
    """
    from tokenizers import AddedToken, Regex, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import SpmConverter, import_protobuf

    proto = import_protobuf().ModelProto()
    proto.ParseFromString(Path(spm_path).read_bytes())
    # transformers builds a Unigram model from (piece, score) pairs and a BPE model, merges and all, from a
    # {piece: id} mapping: given pairs, a BPE vocabulary segmented as Unigram ("▁war" as "▁w ar")
    if proto.trainer_spec.model_type == SPM_BPE:
        vocab: Any = {piece.piece: i for i, piece in enumerate(proto.pieces)}
    else:
        vocab = [(piece.piece, piece.score) for piece in proto.pieces]
    backend = SpmConverter.build_tokenizer_from_spm_proto(proto, vocab)
    spm_steps = [] if backend.normalizer is None else [backend.normalizer]
    backend.normalizer = normalizers.Sequence([normalizers.NFC(), *spm_steps])
    others = [piece.piece for piece in proto.pieces if piece.type != SPM_BYTE]
    if len(others) < len(proto.pieces):
        # The byte pieces are plain strings in the Hugging Face vocabulary, so text that spells one (`<0x41>`)
        # would be read as that byte, where SentencePiece never matches them in text; cut such text inside
        # the spelling (text without it is not cut, so its encoding stays the same). After the Metaspace
        # step, whose prepend_scheme "always" would put a word start before every part it is given.
        cut = pre_tokenizers.Split(Regex(_byte_piece_cut(others)), behavior="merged_with_previous")
        backend.pre_tokenizer = pre_tokenizers.Sequence([backend.pre_tokenizer, cut])
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
        model_max_length=TOKENIZER_MAX_LENGTH,
    )
    if len(tokenizer) != len(vocab):
        raise XlingError(f"tokenizer conversion lost tokens: {len(tokenizer)} != {len(vocab)} pieces")
    return tokenizer


def check_same_encoding(spm_path: Path, tokenizer: Any, texts: Iterable[str], source: str = "") -> None:
    """Return nothing when `tokenizer` encodes every one of `texts`, then of ADVERSARIAL_TEXTS, into
    SentencePiece's ids; XlingError naming the first text that differs otherwise (a converter that changed
    would else go unnoticed, and sample sentences seldom hold what a converter gets wrong). `source` names
    where `texts` come from (a language, a file) in that error."""
    import sentencepiece

    model = sentencepiece.SentencePieceProcessor(model_file=str(spm_path))
    specials = [token for token in tokenizer.all_special_tokens if token]
    for text in itertools.chain(texts, ADVERSARIAL_TEXTS):
        expected = model.encode(text)
        got = tokenizer(text, add_special_tokens=False)["input_ids"]
        if got == expected or _tie(model, expected, got) or any(token in text for token in specials):
            # a text that spells a special token (`<unk>`) gets that token, as transformers' tokenizers do
            continue
        _differ(spm_path, tokenizer, model, text, expected, got, source)


def _differ(
    spm_path: Path,
    tokenizer: Any,
    model: Any,
    text: str,
    expected: list[int],
    got: list[int],
    source: str = "",
) -> None:
    """Raise XlingError showing where the converted tokenizer's pieces of `text` leave SentencePiece's."""
    first = next(
        (i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b),
        min(len(got), len(expected)),
    )
    start = max(0, first - 3)
    # the two libraries read text not in NFC otherwise (see hf_tokenizer_from_spm): its form is the cause
    cause = (
        f"the text{f' of {source}' if source else ''} is not in Unicode NFC; put it in NFC first "
        '(unicodedata.normalize("NFC", text))'
        if not unicodedata.is_normalized("NFC", text)
        else "the conversion is wrong (transformers version?)"
    )
    raise XlingError(
        f"the Hugging Face tokenizer converted from {spm_path.name} encodes {text[:80]!r} as "
        f"... {tokenizer.convert_ids_to_tokens(got[start : first + 6])}, SentencePiece as ... "
        f"{model.id_to_piece(expected[start : first + 6])} (from piece {start}): {cause}"
    )


def _tie(model: Any, expected: list[int], got: list[int]) -> bool:
    """Return whether two encodings of one text are equally good splits of it: the same text, pieces whose
    scores sum to the same (`3 25` / `32 5`, each pair -5.0 and -7.3: the best split is not unique, and the two
    libraries take different ones). A converter that splits otherwise scores lower, and is refused."""
    scores = [sum(model.get_score(i) for i in ids) for ids in (expected, got)]
    return model.decode(expected) == model.decode(got) and abs(scores[0] - scores[1]) < 1e-3


def save_tokenizer(tokenizer, output: str | Path, model_max_length: int | None = None) -> None:
    """Save a tokenizer folder that AutoTokenizer loads back as the same pipeline (tokenizer.json as is).

    `model_max_length`: the tokens the model saved beside it takes, written into tokenizer_config.json (what
    pipelines cut input to); None keeps the tokenizer's own (TOKENIZER_MAX_LENGTH for a standalone folder).
    """
    tokenizer.save_pretrained(str(output))
    config_file = Path(output) / "tokenizer_config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    # transformers 4 and 5 both map this name to the class that loads tokenizer.json unchanged
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    if model_max_length is not None:
        config["model_max_length"] = model_max_length
    config_file.write_text(json.dumps(config, indent=2, ensure_ascii=False), encoding="utf-8")


def load_tokenizer(path: str | Path):
    """Return the tokenizer saved in a folder (AutoTokenizer, offline)."""
    folder = Path(path)
    if not (folder / "tokenizer.json").is_file() and not (folder / "tokenizer_config.json").is_file():
        raise XlingError(f"{folder}: no tokenizer here (tokenizer.json missing)")
    return load_folder_tokenizer(folder)


def load_folder_tokenizer(folder: str | Path):
    """Return `AutoTokenizer.from_pretrained(folder)` offline; a tokenizer that cannot load is a DataError.

    transformers reports a folder missing one of its tokenizer's files (a partial download without
    `source.spm` or `sentencepiece.bpe.model`) as TypeError, KeyError or sentencepiece's RuntimeError rather
    than OSError, so those are caught here too and named with the folder.
    """
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as error:
        raise DataError(f"cannot load the tokenizer ({type(error).__name__}: {error}); are all its files "
                        "here (tokenizer.json, or the SentencePiece model and vocab.json)?", folder) from error  # fmt: skip


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
