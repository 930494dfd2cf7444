"""`Translator`: texts and files in any language a model has -> another, with M2M-100, NLLB, Marian or xling models.

`Translator.from_pretrained` loads a model folder (or a shipped model name, found as `Encoder.load` finds
one: `$XLING_MODELS`, `$XLING_HOME/models`, the package's `xling/models/`) with one of two runtimes that
implement `decoding.TranslationBackend`: CTranslate2 (`<model>/ctranslate2/`, made by `xling export ct2`;
preferred by `backend="auto"` when present and `ctranslate2` is installed) or PyTorch (`TorchBackend`).

`translate` cuts each text into sentences (`segmentation`), builds each sentence's tokens with the model
family's language conventions (`languages`), decodes all sentences of all texts in batches of similar
length, and puts the translations back in each text's layout (line and paragraph breaks kept). Each text may
have its own source and target language, even within one batch. A sentence longer than the model's input
limit is translated in parts (never cut silently).

A source language given as `auto` (or None) is detected per text by a language detector (`xling.langid`, the
`detector` of the Translator), never assumed: a text the detector cannot tell, or one it finds in a language
the model does not translate from, is an error naming that text.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from xling.config import given_fields
from xling.data.languages import default_member, script_part_of
from xling.errors import ConfigError, DataError, LanguageCodeError, XlingError
from xling.langid import (
    DEFAULT_IDENTIFIER,
    UNDETERMINED,
    LanguageIdentifier,
    Prediction,
    label_matches,
    load_identifier,
)
from xling.langid.labels import try_parse_label
from xling.langid.normalize import normalize_text
from xling.translation.decoding import (
    MAX_THREADS,
    DecodeOptions,
    TranslationBackend,
    model_decoding_defaults,
    with_model_defaults,
)
from xling.translation.languages import (
    Conventions,
    conventions_for,
    detect_family,
    parse_language,
    source_normalizer,
    standard_code,
    wanted_script,
    written_script,
)
from xling.translation.segmentation import NO_SPACE_LANGUAGES, Layout, has_words, segment

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "xling-mt-bible"
# the kinds of file a model folder is made of (weights, settings, vocabularies): a translation written over one
# of its own leaves a model that no longer loads
MODEL_FILE_SUFFIXES = (".json", ".safetensors", ".bin", ".model", ".spm")
BACKENDS = ("auto", "torch", "ct2")
WORD_START = "▁"  # SentencePiece's mark of a piece that begins a word: long sentences are cut there
# a byte-fallback piece that continues a character (UTF-8 bytes 0x80-0xBF): a long sentence is not cut before one
CONTINUATION_BYTE = re.compile(r"<0x[89AB][0-9A-F]>")

AUTO = "auto"  # a source language to detect
# A text whose most likely language (unrestricted) is one the model lacks is an error, unless the closest
# language the model has stays a plausible reading of it (LanguageIdentifier.is_close_neighbour): then it is
# translated from that language, with a warning when the detector gave the lacking language at least this
# probability (more likely than all the others together). Below it, without the neighbour test, a French line
# given to opus-mt-en-de (whose only source is English) was translated as English without a word.
FOREIGN_MIN_PROBABILITY = 0.5
# how the messages of a failed detection say to give the source language instead (CLI and Python API)
SOURCE_HINT = "--src, src=..."
PREVIEW_CHARS = 40  # of a text quoted in an error
SHOWN_CODES = 12  # of a model's languages listed in an error
DETECT_BATCH = 8192  # texts per detector call: its (texts x labels) probabilities stay a few MB

Languages = str | Sequence[str | None] | None
Detector = str | Path | LanguageIdentifier


def wants_detection(code: str | None) -> bool:
    """Return True for a source language to detect: None or `auto` (any case)."""
    return code is None or (isinstance(code, str) and code.strip().lower() == AUTO)


def resolve_translation_model(name_or_path: str | Path) -> Path:
    """Return the folder of a translation model given as a path, a shipped name (`xling-mt-bible`) or a cached
    Hugging Face Hub id (`facebook/nllb-200-distilled-600M`, offline: the local cache only)."""
    from xling.embeddings.encoder import model_roots, shipped_folder

    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    name = str(name_or_path)
    if (shipped := shipped_folder(name)) is not None:
        return shipped
    if path.exists():
        raise DataError("is a file, not a translation model folder", path)
    if name.count("/") == 1 and not name.startswith((".", "/", "~")):
        try:
            from huggingface_hub import snapshot_download

            return Path(snapshot_download(name, local_files_only=True))
        except Exception as error:  # not in the local cache (nothing is downloaded at run time)
            raise XlingError(
                f"{name}: not a local folder, and not in the Hugging Face cache ({error})"
            ) from error
    where = ", ".join(str(root) for root in model_roots())
    raise XlingError(f"{name}: no such translation model folder, nor a shipped model name (looked in {where}); "
                     "give a model folder, e.g. --model path/to/model")  # fmt: skip


@dataclass(frozen=True)
class ModelLanguages:
    """What a model translates: its family and its own codes (None: any language, nothing recorded)."""

    family: str
    sources: tuple[str, ...] | None
    targets: tuple[str, ...] | None


@dataclass(frozen=True)
class FileReport:
    """What `Translator.translate_file` did."""

    output: Path
    lines: int
    sentences: int
    seconds: float
    sources: dict[str, int] = field(default_factory=dict)
    """Lines per detected source language (`deu`: 120), most first; empty when the source was given."""


@dataclass
class _Job:
    """One sentence (or part of a too-long one) to decode, and where its translation goes."""

    text: int
    sentence: int
    source: list[str]
    prefix: list[str]


class Translator:
    """A translation model with its tokenizer, language conventions and runtime (build it with from_pretrained)."""

    def __init__(self, folder: Path, backend: TranslationBackend, tokenizer: Any, conventions: Conventions,
                 backend_name: str, detector: Detector = DEFAULT_IDENTIFIER):  # fmt: skip
        self.folder = folder
        self.backend = backend
        self.tokenizer = tokenizer
        self.conventions = conventions
        self.backend_name = backend_name
        self.detector = detector
        """The language detector for `auto` sources: a folder, a shipped name or a loaded identifier."""
        self._allowed: tuple[LanguageIdentifier, list[str]] | None = None
        self._source_tokens: dict[int, str] | None = None
        self._controls: set[int] | None = None
        self.max_positions = _max_positions(folder)
        """Positions of the model's tables (config.json max_position_embeddings; None: not recorded)."""
        self.trained_length = _trained_length(folder)
        """The longest sequence in tokens `xling mt train` kept for this model (its xling.json's
        config.max_length; None: not an xling-trained model, or not recorded)."""
        self.decoding_defaults = model_decoding_defaults(folder)
        """The DecodeOptions fields the model's generation_config.json sets (num_beams as beam_size,
        length_penalty, ...): a call decodes with them where its options leave a field unset (decode_options)."""

    @classmethod
    def from_pretrained(
        cls, path_or_name: str | Path = DEFAULT_MODEL, *, backend: str = "auto", device: str = "cpu",
        threads: int = 0, detector: Detector = DEFAULT_IDENTIFIER,
    ) -> Translator:  # fmt: skip
        """Return a Translator for a model folder or name; `backend` "auto" prefers CTranslate2 when the
        folder has a conversion and ctranslate2 is installed. `threads` 0 keeps the runtime's default.
        `detector` (loaded only when a source language is to be detected) tells `auto` sources.

        A conversion whose recorded weights differ from the folder's (`xling.export.ct2.stale_conversion`:
        the model was trained again after `xling export ct2`) is not used: "auto" warns and takes PyTorch,
        "ct2" is an XlingError saying to export again."""
        from xling.export.ct2 import CT2_DIR, stale_conversion
        from xling.tokenization.vocabulary import load_folder_tokenizer

        if backend not in BACKENDS:
            raise ConfigError(f"backend: {backend!r} is not one of {', '.join(BACKENDS)}")
        if isinstance(threads, bool) or not isinstance(threads, int) or not 0 <= threads <= MAX_THREADS:
            raise ConfigError(
                f"threads: {threads!r} must be 0 (the runtime's default) or a whole number up to {MAX_THREADS}"
            )
        device = _checked_device(device)
        folder = resolve_translation_model(path_or_name)
        family = detect_family(folder)
        tokenizer = load_folder_tokenizer(folder)
        conventions = conventions_for(folder, tokenizer, family)
        converted = (folder / CT2_DIR / "model.bin").is_file()
        has_ct2 = importlib.util.find_spec("ctranslate2") is not None
        if backend == "auto":
            backend = "ct2" if converted and has_ct2 else "torch"
            if backend == "ct2" and (stale := stale_conversion(folder)):
                logger.warning("%s: the CTranslate2 conversion does not match the model's weights (%s); "
                               "translating with PyTorch instead (re-run `xling export ct2 --model %s` to "
                               "update it)", folder / CT2_DIR, stale, folder)  # fmt: skip
                backend = "torch"
        elif backend == "ct2" and converted and has_ct2:
            stale = stale_conversion(folder)
            if stale:
                raise XlingError(f"{folder / CT2_DIR}: the CTranslate2 conversion does not match the model's "
                                 f"weights ({stale}); re-run `xling export ct2 --model {folder}` to convert "
                                 "the current model, or use the torch backend")  # fmt: skip
        if backend == "ct2":
            if not has_ct2:
                raise XlingError("backend ct2 needs the ctranslate2 package (pip install ctranslate2)")
            from xling.translation.ct2 import CT2Backend

            try:
                runtime: TranslationBackend = CT2Backend(folder, device=device, threads=threads)
            except (
                RuntimeError
            ) as error:  # CTranslate2's own, for a damaged model.bin ("invalid payload size")
                raise DataError(
                    f"cannot load the CTranslate2 conversion: {error}", folder / CT2_DIR
                ) from error
        else:
            from xling.translation.torch_backend import TorchBackend

            runtime = TorchBackend(folder, device=device, threads=threads, tokenizer=tokenizer)
        logger.debug("loaded %s (%s) with the %s backend", folder, family, backend)
        return cls(folder, runtime, tokenizer, conventions, backend, detector)

    def decode_options(
        self, options: DecodeOptions | None = None, given: Iterable[str] | None = None
    ) -> DecodeOptions:
        """Return the options a call decodes with: `options` with the model's own settings
        (`decoding_defaults`) in each field not in `given`, as transformers' generate takes a model's
        generation config for what its caller leaves out. `given` defaults to the fields a recipe, a flag or
        --set gave (`load_config`); options built in code are taken as they are, and no options are the
        model's settings over DecodeOptions' defaults."""
        if given is None and options is not None:
            given = given_fields(options)
        return with_model_defaults(options, self.decoding_defaults, given)

    @property
    def languages(self) -> ModelLanguages:
        """Return the languages the model translates from and into (its own codes)."""
        return ModelLanguages(self.conventions.family, self.conventions.sources, self.conventions.targets)

    def translate(
        self, texts: Sequence[str], src: Languages, tgt: str | Sequence[str], options: DecodeOptions | None = None,
        *, progress: bool = False, name: Callable[[int], str] | None = None,
    ) -> list[str]:  # fmt: skip
        """Return the translation of each text (text i -> output i), layout kept.

        `src` and `tgt` are one language code for all texts or one per text; a `src` of `auto` or None is
        detected per text (see detect_sources; a text with no letters then comes back as it is). An empty or
        whitespace-only text comes back as it is, without a model call. `progress` draws a bar on stderr
        over the sentences. `name(i)` says where text i is in an error or warning (default "text i").
        """
        return [hypotheses[0] for hypotheses in self._translate(texts, src, tgt, options, progress, name)[0]]

    def translate_hypotheses(
        self, texts: Sequence[str], src: Languages, tgt: str | Sequence[str], options: DecodeOptions | None = None,
        *, progress: bool = False, name: Callable[[int], str] | None = None,
    ) -> list[list[str]]:  # fmt: skip
        """Return each text's distinct translations, best first: at most `options.num_hypotheses` (the beam's
        n best of each sentence; the k-th translation of a text of several sentences joins their k-th best, or
        their last where a sentence has fewer), the first being what `translate` gives. A text kept as it is
        (empty, without letters, already in its target language) is its one translation. Arguments as
        `translate`'s."""
        translated = self._translate(texts, src, tgt, options, progress, name)[0]
        return [list(dict.fromkeys(hypotheses)) for hypotheses in translated]

    def detect_sources(
        self,
        texts: Sequence[str],
        *,
        name: Callable[[int], str] | None = None,
        source_hint: str = SOURCE_HINT,
        tgt: str | Sequence[str] | None = None,
    ) -> list[str | None]:
        """Return the detected source language of each text (`deu`, `srp_Cyrl`); None for a text without
        letters (empty, digits, emoji: nothing to translate, it comes back as it is).

        One batched call to `self.detector`, restricted to the model's source languages the detector knows
        (unrestricted where the model records none of them). Raises XlingError naming the text (`name(i)`,
        default "text i") when the detector cannot tell (`und`), or finds a language the model does not
        translate from, unless it is already in its target language (`tgt`: one for all texts, or one per
        text; `translate` keeps such a text as it is); the message ends with how to give the source instead
        (`source_hint`).
        """
        texts = _checked_texts(texts)
        targets = None if tgt is None else [tgt] * len(texts) if isinstance(tgt, str) else list(tgt)
        if targets is not None and len(targets) != len(texts):
            raise ConfigError(f"tgt: {len(targets)} target languages for {len(texts)} texts")
        detected = self._detect(texts, list(range(len(texts))), name or _text_name, source_hint, targets)
        return [detected[i] for i in range(len(texts))]

    def translate_file(
        self, input: str | Path, output: str | Path, src: str | None, tgt: str,
        options: DecodeOptions | None = None, progress: bool = False,
    ) -> FileReport:  # fmt: skip
        """Return a report after writing the translation of line i of `input` as line i of `output`.

        Blank lines stay blank; a file without a line (0 bytes) gives an output without one. `output` is
        written atomically: a failure leaves an existing file as it was.
        """
        from xling.atomic import atomic_write, check_apart, writable_file
        from xling.data.readers import require_file

        started = time.perf_counter()
        path = require_file(input)
        # before the work: a bad path found after an hour loses the hour
        output = writable_file(output, [path])
        # over the tokenizer.json or config.json of the model translating, it would no longer load (a new file
        # beside them, or an earlier translation there, is fine)
        if output.exists() and output.suffix in MODEL_FILE_SUFFIXES:
            check_apart(
                output, [(f"the model folder {self.folder}", self.folder)], "write the translation elsewhere"
            )
        lines = _file_lines(path)
        # a file without a line has its options and languages checked as one of a blank line (a bad --tgt
        # is an error whatever the input), and nothing of it is written
        translated, sentences, detected = self._translate(lines or [""], src, tgt, options, progress,
                                                          lambda i: f"{path}:{i + 1}")  # fmt: skip
        translations = [hypotheses[0] for hypotheses in translated[: len(lines)]]
        try:
            with atomic_write(output) as handle:
                for translation in translations:
                    # a line break inside an output would shift every later line
                    handle.write(one_line(translation) + "\n")
        except OSError as error:
            raise DataError(f"cannot write the translation: {error.strerror or error}", output) from error
        sources = dict(Counter(label for label in detected.values() if label is not None).most_common())
        return FileReport(Path(output), len(lines), sentences, time.perf_counter() - started, sources)

    def _translate(
        self, texts: Sequence[str], src: Languages, tgt: str | Sequence[str], options: DecodeOptions | None,
        progress: bool, name: Callable[[int], str] | None = None,
    ) -> tuple[list[list[str]], int, dict[int, str | None]]:  # fmt: skip
        """Return each text's `options.num_hypotheses` translations (best first; one for a text kept as it
        is), the number of sentences decoded and the detected source of each text whose source was to be
        detected (`name(i)` says where text i is in an error)."""
        options = self._within_positions(self.decode_options(options))
        options.validate()
        texts = _checked_texts(texts)
        if tgt is None:
            raise ConfigError("tgt: the target language must be given")
        sources = _per_text(src, len(texts), "src")
        targets = _per_text(tgt, len(texts), "tgt")
        # each target checked before the sources are detected: a text with no letters gets no source, and its
        # target would be looked up nowhere (`--src auto --tgt xx "123"` printed 123)
        for target in dict.fromkeys(targets):
            self.conventions.target_token(target)
        to_detect = [i for i, code in enumerate(sources) if wants_detection(code)]
        detected = self._detect(texts, to_detect, name or _text_name, targets=targets) if to_detect else {}
        for i, label in detected.items():
            sources[i] = label
        if counts := Counter(label for label in detected.values() if label is not None):
            logger.info("source languages detected: %s", _counts(counts))
        already: dict[tuple[str, str], bool] = {}  # once per language pair, not per text
        for i, (source, target) in enumerate(zip(sources, targets, strict=True)):
            if source is None:
                continue
            if (source, target) not in already:
                already[source, target] = _already_in(source, target, self.conventions)
            if already[source, target]:
                sources[i] = None  # kept as it is: a model asked to translate deu -> deu rewrites the text
        marks = self._language_marks(sources, targets)
        outputs = [[text] for text in texts]
        layouts: dict[int, Layout] = {}
        sentences: list[tuple[int, str]] = []
        for i, text in enumerate(texts):
            if not text.strip() or sources[i] is None:  # None: detected as having no letters
                continue
            layouts[i] = layout = segment(text, _language_of(sources[i]))
            sentences += [(i, sentence) for sentence in layout.sentences]
        jobs = self._jobs(sentences, sources, targets, marks, options, name or _text_name)
        decoded = self._decode(jobs, options, progress)
        parts: dict[tuple[int, int], list[list[str]]] = {}
        for job, hypotheses in zip(jobs, decoded, strict=True):
            parts.setdefault((job.text, job.sentence), []).append(hypotheses)
        counters = dict.fromkeys(layouts, 0)
        # per text, per hypothesis rank, its sentences' translations
        per_text: dict[int, list[list[str]]] = {
            i: [[] for _ in range(options.num_hypotheses)] for i in layouts
        }
        for i, _ in sentences:
            language = _language_of(targets[i])
            joiner = "" if language in NO_SPACE_LANGUAGES else " "
            pieces = parts[(i, counters[i])]  # a sentence cut into parts: each part's hypotheses
            for k, ranked in enumerate(per_text[i]):
                ranked.append(joiner.join(p[min(k, len(p) - 1)].strip() for p in pieces))
            counters[i] += 1
        for i, layout in layouts.items():
            outputs[i] = [layout.join(ranked, _language_of(targets[i])) for ranked in per_text[i]]
        return outputs, len(sentences), detected

    def _detect(
        self,
        texts: list[str],
        positions: list[int],
        name: Callable[[int], str],
        source_hint: str = SOURCE_HINT,
        targets: Sequence[str] | None = None,
    ) -> dict[int, str | None]:
        """Return {position: detected source label, None for a text without letters} for these texts
        (`targets[i]`: text i's target language, where known: a text already in it is no error)."""
        detected: dict[int, str | None] = dict.fromkeys(positions)
        # the detector's own test for letters, then the translation's: a text that is one link of any script
        # (http://例子.测试/) comes back as it is, and must not be refused for the language its host seems in
        todo = [i for i in positions if normalize_text(texts[i]) and has_words(texts[i])]
        if not todo:
            return detected
        identifier = self._identifier()
        allowed = self.allowed_sources(identifier)
        checked: dict[str, str | None] = {}  # label -> why the model cannot translate from it (None: it can)
        for start in range(0, len(todo), DETECT_BATCH):
            chunk = todo[start : start + DETECT_BATCH]
            batch = [texts[i] for i in chunk]
            everything = identifier.predict(batch)
            # the restriction keeps the detector from naming a neighbour the model lacks (glg for por)
            picked = identifier.predict(batch, languages=allowed) if allowed else everything
            for i, top, best in zip(chunk, everything, picked, strict=True):
                detected[i] = self._source_of(f"{name(i)} ({_preview(texts[i])})", top[0], best[0], allowed,
                                              checked, source_hint,
                                              lambda label, text=texts[i]: identifier.is_close_neighbour(text, label),
                                              targets[i] if targets is not None else None)  # fmt: skip
                logger.debug("%s: source detected as %s (%.0f%%)", name(i), best[0].label,
                             100 * best[0].probability)  # fmt: skip
        return detected

    def _source_of(self, where: str, first: Prediction, choice: Prediction, allowed: list[str] | None,
                   checked: dict[str, str | None], source_hint: str = SOURCE_HINT,
                   close_neighbour: Callable[[str], bool] | None = None,
                   target: str | None = None) -> str:  # fmt: skip
        """Return the source label of one text from its unrestricted (`first`) and restricted (`choice`) top
        predictions; XlingError naming `where` when it is not one the model can translate from.

        A text most likely in a language the model lacks (however likely) is an error, unless it is already
        in its `target` language (that label is returned, and the caller keeps the text as it is:
        opus-mt-en-de given a German line for German), or the model's closest language stays a plausible
        reading of it (`close_neighbour(choice)`: LanguageIdentifier.is_close_neighbour, as Russian for a text
        the detector took for Belarusian): then it is translated from that language, with a warning when the
        lacking language had FOREIGN_MIN_PROBABILITY or more."""
        give = f"give the source language ({source_hint})"
        lacking = (
            bool(allowed)
            and first.label != UNDETERMINED
            and not any(label_matches(first.label, code) for code in allowed or ())
        )
        if lacking:
            if target is not None and _already_in(first.label, target, self.conventions):
                return first.label
            has = _shown(self.languages.sources or allowed)
            plausible = (
                bool(close_neighbour) and choice.label != UNDETERMINED and close_neighbour(choice.label)
            )
            if not plausible:
                raise XlingError(f"{where}: detected as {first.label} ({first.probability:.0%}), a language "
                                 f"{self.conventions.name} does not translate from (it has {has}); {give}")  # fmt: skip
            if first.probability >= FOREIGN_MIN_PROBABILITY:
                logger.warning("%s: detected as %s (%.0f%%), which %s does not translate from; translated as "
                               "%s, the closest language it has (%s to be sure)", where, first.label,
                               100 * first.probability, self.conventions.name, choice.label, give)  # fmt: skip
        if choice.label == UNDETERMINED:
            raise XlingError(f"{where}: the language detector cannot tell its language (und); {give}")
        if choice.label not in checked:
            checked[choice.label] = self._untranslatable(choice.label)
        if checked[choice.label] is not None:
            raise XlingError(f"{where}: detected as {choice.label}, but {checked[choice.label]}; {give}")
        return choice.label

    def _identifier(self) -> LanguageIdentifier:
        """Return the language detector, loaded once per process; XlingError naming it when there is none."""
        if isinstance(self.detector, LanguageIdentifier):
            return self.detector
        try:
            return load_identifier(str(self.detector))
        except XlingError as error:
            raise XlingError(
                f"detecting the source language needs a language detector: {error}; give "
                "the source language (--src) or a detector folder (--detector)"
            ) from error

    def allowed_sources(self, identifier: LanguageIdentifier) -> list[str] | None:
        """Return the model's source languages (as detector labels) that `identifier` knows; None when the
        model records no source languages or the detector knows none of them (detection is unrestricted)."""
        if self._allowed is not None and self._allowed[0] is identifier:
            return self._allowed[1] or None
        # the model's codes as the detector's (M2M-100's `ns` is the detector's `nso`, as `languages` reads it)
        family = self.conventions.family
        labels = [
            label
            for code in self.languages.sources or ()
            if (label := try_parse_label(standard_code(code, family))) is not None
        ]
        # as the detector's own restriction judges a code (a script it names must be one the label learnt:
        # NLLB's ace_Arab is not xling-langid's Latin-script ace), or one unknown code refuses them all
        allowed = sorted({str(label) for label in labels if not identifier.unknown_languages([str(label)])})
        self._allowed = (identifier, allowed)
        return allowed or None

    def _within_positions(self, options: DecodeOptions) -> DecodeOptions:
        """Return `options` with the input and output limits inside the model's position table: a longer
        sequence fails inside a model whose table is fixed (Marian: an IndexError), where CTranslate2 and
        transformers do not stop it; and the input limit within the longest sequence the model was trained
        on, where it records one: the shipped xling-mt-bible (trained on pairs of up to 128 tokens) dropped
        much of a 335-token sentence given whole, and translates it in parts (`_split_pieces`)."""
        if self.trained_length is not None:
            options = replace(options, max_input_length=min(options.max_input_length, self.trained_length))
        if self.max_positions is None:
            return options
        # the decoder also holds its start token and the target language token
        return replace(options, max_input_length=min(options.max_input_length, self.max_positions),
                       max_length_cap=min(options.max_length_cap, self.max_positions - 2))  # fmt: skip

    def _untranslatable(self, label: str) -> str | None:
        """Return why the model cannot translate from a detected label (its error message), or None."""
        try:
            self.conventions.source_token(label)
        except XlingError as error:
            return str(error)
        return None

    def _language_marks(self, sources: list[str | None], targets: list[str]) -> dict[tuple[str, str], tuple]:
        """Return the (source token, target token) of each distinct language pair (every code checked first)."""
        marks: dict[tuple[str, str], tuple] = {}
        for src, tgt in zip(sources, targets, strict=True):
            if src is None or (src, tgt) in marks:
                continue
            marks[(src, tgt)] = (self.conventions.source_token(src), self.conventions.target_token(tgt))
        return marks

    def _jobs(self, sentences: list[tuple[int, str]], sources: list[str | None], targets: list[str],
              marks: dict[tuple[str, str], tuple], options: DecodeOptions,
              name: Callable[[int], str] = lambda i: f"text {i}") -> list[_Job]:  # fmt: skip
        """Return the decoding jobs of `sentences`: source tokens (cut into parts when too long) and prefix;
        `name(i)` says where text i is in a warning."""
        if not sentences:
            return []
        normalize = source_normalizer(self.tokenizer, self.conventions.family)
        # split_special_tokens: a user's "</s>" or "fra_Latn" is text to translate, not a control token (the
        # language tokens are added below, by id, where the family wants them)
        ids = self.tokenizer([normalize(s) for _, s in sentences], add_special_tokens=False,
                             split_special_tokens=True)["input_ids"]  # fmt: skip
        ids = [self._as_text(row) for row in ids]
        # room for the source and target language tokens and </s> within max_input_length
        room = max(1, options.max_input_length - 3)
        jobs: list[_Job] = []
        sentence_index: dict[int, int] = {}
        for (i, _), row in zip(sentences, ids, strict=True):
            number = sentence_index.get(i, 0)
            sentence_index[i] = number + 1
            source_token, target_token = marks[(sources[i], targets[i])]  # type: ignore[index]
            pieces = self._source_pieces(row)
            chunks = list(_split_pieces(pieces, room))
            if len(chunks) > 1:
                logger.warning("%s: a sentence of %d tokens is translated in %d parts (input limit %d)",
                               name(i), len(pieces), len(chunks), options.max_input_length)  # fmt: skip
            for chunk in chunks:
                source = self.conventions.source_sequence(chunk, source_token, target_token)
                jobs.append(_Job(i, number, source, self.conventions.target_prefix(target_token)))
        return jobs

    def _as_text(self, ids: list[int]) -> list[int]:
        """Return `ids` with every control token (`</s>`, a language token) spelled out character by
        character: xling's own vocabularies hold language tokens as pieces, which the tokenizer would pick
        for a text that happens to contain `__deu__`."""
        if self._controls is None:
            tokens = set(self.tokenizer.all_special_tokens) | set(self.conventions.language_tokens)
            found = self.tokenizer.convert_tokens_to_ids(sorted(tokens))
            self._controls = {i for i in found if i is not None and i != self.tokenizer.unk_token_id}
        if not self._controls.intersection(ids):
            return ids
        out: list[int] = []
        # (a Marian source vocabulary of its own holds the `>>fra<<` tokens too: they go into the source)
        for i, token in zip(ids, self._source_pieces(ids), strict=True):
            if i in self._controls:
                out += [p for char in token for p in self._char_ids(char)]
            else:
                out.append(i)
        return out

    def _char_ids(self, char: str) -> list[int]:
        """Return the ids that spell one character: its own piece, else its UTF-8 bytes' byte-fallback pieces
        (`<0x3C>`), else `<unk>`.

        The shipped xling vocabularies hold `<`, `/`, `>` and `_` only as byte pieces, which is how the
        tokenizer writes them in plain text: spelled as themselves they would reach the model as `<unk>`."""
        unknown = self.tokenizer.unk_token_id
        own = self.tokenizer.convert_tokens_to_ids(char)
        if own is not None and own != unknown:
            return [own]
        pieces = self.tokenizer.convert_tokens_to_ids([f"<0x{byte:02X}>" for byte in char.encode("utf-8")])
        if all(piece is not None and piece != unknown for piece in pieces):
            return pieces
        return [unknown]

    def _source_pieces(self, ids: list[int]) -> list[str]:
        """Return the source token strings of source-vocabulary ids.

        A Marian tokenizer with separate vocabularies maps ids to tokens through its target vocabulary
        (`convert_ids_to_tokens`), which would name other pieces; its source ids go through the source one.
        """
        if not getattr(self.tokenizer, "separate_vocabs", False):
            return list(self.tokenizer.convert_ids_to_tokens(ids))
        if self._source_tokens is None:
            self._source_tokens = {i: token for token, i in self.tokenizer.get_src_vocab().items()}
        unknown = self.tokenizer.unk_token
        return [self._source_tokens.get(i, unknown) for i in ids]

    def _decode(self, jobs: list[_Job], options: DecodeOptions, progress: bool) -> list[list[str]]:
        """Return each job's `options.num_hypotheses` translations (best first), decoded in batches of
        sentences of similar length."""
        outputs: list[list[str]] = [[] for _ in jobs]
        order = sorted(range(len(jobs)), key=lambda j: -len(jobs[j].source))
        strip = self.conventions.language_tokens
        reached = 0
        with _progress_bar(len(jobs), progress) as advance:
            for start in range(0, len(order), options.batch_size):
                batch = order[start : start + options.batch_size]
                # each output within its own source's limit, what the sentence gets alone (TranslationBackend)
                hypotheses = self.backend.generate_hypotheses([jobs[j].source for j in batch],
                                                              [jobs[j].prefix for j in batch], options)  # fmt: skip
                reached += sum(len(ranked[0]) >= options.output_limit(jobs[j].source)
                               for j, ranked in zip(batch, hypotheses, strict=True))  # fmt: skip
                rows = [[t for t in row if t not in strip] for ranked in hypotheses for row in ranked]
                texts = iter(self._detokenize(rows))
                for j, ranked in zip(batch, hypotheses, strict=True):
                    outputs[j] = [next(texts).strip() for _ in ranked]
                advance(len(batch))
        if reached:
            # the input side says when it cuts a sentence; an output cut at its limit said nothing (said once a
            # call: a batch at a time, a long file with a model that runs on printed hundreds of lines)
            logger.warning("%d of %d translations reached their length limit (max_length_a x source tokens + "
                           "max_length_b, at most max_length_cap) and may be cut", reached, len(jobs))  # fmt: skip
        return outputs

    def _detokenize(self, rows: list[list[str]]) -> list[str]:
        """Return the text of each row of output token strings (special tokens left out)."""
        if getattr(self.tokenizer, "separate_vocabs", False):
            # a Marian model with its own target vocabulary: token -> id would go through the source one
            specials = set(self.tokenizer.all_special_tokens)
            return [
                self.tokenizer.convert_tokens_to_string([t for t in row if t not in specials]) for row in rows
            ]
        ids = [self.tokenizer.convert_tokens_to_ids(row) for row in rows]
        return self.tokenizer.batch_decode(ids, skip_special_tokens=True)


def one_line(text: str) -> str:
    """Return `text` on one line: its lines joined by a space, blank ones left out (a paragraph break inside
    one text gave two spaces)."""
    return " ".join(line for line in text.splitlines() if line.strip())


def _file_lines(path: Path) -> list[str]:
    """Return the text of each line of a file; [] for one without a line (0 bytes, or an empty .gz), which
    `decoded_lines` refuses as empty (blank lines are lines: they translate to as many blank lines)."""
    from xling.data.readers import decoded_lines, line_text, numbered_lines, open_binary

    with open_binary(path) as handle:
        if next(numbered_lines(handle, path), None) is None:
            return []
    return [line_text(line, path) for line in decoded_lines(path, None, allow_blank=True)]


def _trained_length(folder: Path) -> int | None:
    """Return the config.max_length an xling translation model's xling.json records (None: none, or not a
    whole number above 3, which could not hold a token besides the language tokens and </s>)."""
    from xling.artifacts import read_metadata

    try:
        config = read_metadata(folder).get("config")
    except XlingError:  # an unreadable xling.json is reported where the model's metadata is read
        return None
    length = config.get("max_length") if isinstance(config, dict) else None
    return length if isinstance(length, int) and not isinstance(length, bool) and length > 3 else None


def _max_positions(folder: Path) -> int | None:
    """Return config.json's max_position_embeddings of a model folder (None when it records none)."""
    import json

    try:
        positions = json.loads((folder / "config.json").read_text(encoding="utf-8")).get(
            "max_position_embeddings"
        )
    except (OSError, ValueError, AttributeError):
        return None
    return (
        positions
        if isinstance(positions, int) and not isinstance(positions, bool) and positions > 2
        else None
    )


def _checked_texts(texts: Sequence[str]) -> list[str]:
    """Return `texts` as a list; DataError for one string or an item that is not a string."""
    if isinstance(texts, str):
        raise DataError("texts must be a list of strings, not one string")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise DataError(f"text {i} is a {type(text).__name__}, not a string")
        try:
            text.encode("utf-8")
        except (
            UnicodeEncodeError
        ) as error:  # a lone surrogate: Python's stand-in for bytes that were not UTF-8
            raise DataError(f"text {i} is not valid Unicode at character {error.start} (bytes that were "
                            "not UTF-8?)") from None  # fmt: skip
    return texts


def _checked_device(device: str) -> str:
    """Return the device to run on (`auto`: cuda when torch sees one, else cpu); ConfigError for a name
    that is not cpu, cuda, cuda:N or auto, or for a GPU torch does not see (xling.devices.check_device)."""
    from xling.devices import check_device, resolve_device

    return resolve_device(check_device(device, "device"))


def _already_in(source: str, target: str, conventions: Conventions | None = None) -> bool:
    """Return whether text in `source` (a code or a detector label) is already in `target`.

    Where the model marks both sides with language tokens (M2M-100, NLLB, xling), it is when both codes take
    the same token (cmn_Hans and zh are NLLB's zho_Hans; zh and zh-TW are zho_Hans and zho_Hant, a script to
    convert). Otherwise, or for a code the model lacks (or a script it does not write), it is the same language
    (a macrolanguage standing for its usual member: zh for cmn, no for nob) in the same script, a code's script
    being the one it implies (zh: Hans, sr: Cyrl, de: Latn, zh-TW: Hant; languages.written_script).
    """
    if conventions is not None and conventions.source_codes and conventions.target_codes:
        try:
            return conventions.source_token(source) == conventions.target_token(target)
        except XlingError:
            pass  # a language the model lacks: the codes decide (the error, if any, comes later)
    try:
        have, want = parse_language(source.strip("_<>")), parse_language(target.strip("_<>"))
    except LanguageCodeError:
        return False
    languages = [default_member(tag.language) for tag in (have, want)]
    # a code without a script is in the one xling records for its language (de: Latn, so not de-Cyrl)
    scripts = [wanted_script(tag) or written_script(language)
               for tag, language in zip((have, want), languages, strict=True)]  # fmt: skip
    return languages[0] == languages[1] and (None in scripts or _same_script(*scripts))


def _same_script(a: str, b: str) -> bool:
    """Return whether two script codes are one writing, a part of a script counting as it (Hang of Korean's
    Kore, Hira of Japanese's Jpan, Hani of Chinese's Hans and Hant), either way round (`script_part_of`)."""
    return script_part_of(a, b) or script_part_of(b, a)


def _text_name(i: int) -> str:
    """Return how an error names text i of a list."""
    return f"text {i}"


def _counts(counts: Counter[str]) -> str:
    """Return `deu 120, fra 3`: each label and how many texts have it, most first."""
    return ", ".join(f"{label} {n:,}" for label, n in counts.most_common())


def _shown(codes: Sequence[str]) -> str:
    """Return the first SHOWN_CODES codes, comma-separated, with how many more there are."""
    more = f", ... ({len(codes) - SHOWN_CODES} more)" if len(codes) > SHOWN_CODES else ""
    return ", ".join(codes[:SHOWN_CODES]) + more


def _preview(text: str) -> str:
    """Return the start of a text, quoted, for an error message."""
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 3] + "...")


def _per_text(value: Any, n: int, name: str) -> list[Any]:
    """Return one language code per text from one code or a sequence of them (its length checked)."""
    if value is None or isinstance(value, str):
        return [value] * n
    if not isinstance(value, Sequence):
        raise ConfigError(f"{name}: expected a language code or a list of them, got {type(value).__name__}")
    values = list(value)
    if len(values) != n:
        raise ConfigError(f"{name}: {len(values)} language codes for {n} texts (give one, or one per text)")
    for i, code in enumerate(values):
        if not isinstance(code, str) and not (code is None and name == "src"):  # a None source: detect it
            raise ConfigError(f"{name}[{i}]: expected a language code, got {type(code).__name__}")
    return values


def _language_of(code: str | None) -> str | None:
    """Return the ISO 639-3 language of a code or model code (`deu_Latn`); None when it has none."""
    if code is None:
        return None
    try:
        return parse_language(code.strip("_<>")).language
    except LanguageCodeError:
        return None


def _split_pieces(pieces: list[str], limit: int) -> Iterator[list[str]]:
    """Return consecutive parts of at most `limit` pieces, each ending before a word start where one is near,
    and never inside a character spelled as UTF-8 byte pieces (`<0xE9><0x95><0xB7>`: text without spaces)."""
    start = 0
    while len(pieces) - start > limit:
        end = start + limit
        while end > start + 1 and CONTINUATION_BYTE.fullmatch(pieces[end]):
            end -= 1
        cut = max(
            (k for k in range(start + max(1, limit // 2), end) if pieces[k].startswith(WORD_START)),
            default=end,
        )
        yield pieces[start:cut]
        start = cut
    yield pieces[start:]


@contextmanager
def _progress_bar(total: int, enabled: bool) -> Iterator[Callable[[int], None]]:
    """Return a context whose value advances a rich bar on stderr by n sentences (a no-op when disabled)."""
    if not enabled or total == 0:
        yield lambda n: None
        return
    from rich.console import Console

    from xling.training.progress import rich_bar

    with rich_bar(console=Console(stderr=True)) as bar:
        task = bar.add_task("translating", total=total)
        yield lambda n: bar.update(task, advance=n)
