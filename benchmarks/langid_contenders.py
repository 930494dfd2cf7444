"""The language identifiers that benchmarks/langid.py compares, behind one small interface: load, predict a
list of texts (one ISO 639-3 code or "und" each), the ISO 639-3 languages the identifier can name, and the
bytes of its model on disk.

Prediction comes in two halves, so that only the identifier's own work is timed: `predict_raw` calls the
library and returns its answers as it gives them (the timed call), `to_codes` maps those answers to ISO 639-3
codes (the harness's `to_iso3`, run after the clock stops); `predict` is both.

Nothing here imports an identifier at import time: the memory probe measures a contender's import, load and
predictions against the interpreter's own footprint, so the import belongs to the contender.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

UND = "und"
XLING_BATCH = 1024  # texts per `predict` call of xling's detector (its batch API)

# Codes that contenders emit but ISO 639-1/3 no longer has (CLD2/CLD3 keep Google's legacy ones), and codes
# that mean "no language"
LEGACY_CODES = {"iw": "heb", "jw": "jav", "in": "ind", "ji": "yid", "mo": "ron", "zxx": UND, "un": UND}

# CLD3's 107 output codes (gcld3 lists none at run time; from the CLD3 README)
GCLD3_CODES = (  # split where used
    "af am ar bg bg-Latn bn bs ca ceb co cs cy da de el el-Latn en eo es et eu fa fi fil fr fy ga gd gl gu ha haw "
    "hi hi-Latn hmn hr ht hu hy id ig is it iw ja ja-Latn jv ka kk km kn ko ku ky la lb lo lt lv mg mi mk ml mn mr "
    "ms mt my ne nl no ny pa pl ps pt ro ru ru-Latn sd si sk sl sm sn so sq sr st su sv sw ta te tg th tr uk ur uz "
    "vi xh yi yo zh zh-Latn zu"
)


class Unavailable(Exception):
    """A contender that cannot run here (not installed, no model); the message says why."""


def to_iso3(code: str | None) -> str:
    """Return the ISO 639-3 code of a contender's output code, "und" for none or an unknown one."""
    from xling.data.languages import normalize_language
    from xling.errors import LanguageCodeError

    if not code:
        return UND
    code = LEGACY_CODES.get(code.split("-")[0].lower(), code)
    if code == UND:
        return UND
    try:
        return normalize_language(code)
    except LanguageCodeError:
        return UND


def iso3_set(codes: Sequence[str]) -> frozenset[str]:
    """Return the ISO 639-3 codes of `codes`, the unknown and "no language" ones left out."""
    return frozenset(code for code in map(to_iso3, codes) if code != UND)


def file_bytes(path: Path) -> int:
    """Return the size of a file, or the total size of the files under a folder."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


class Contender:
    """A language identifier under test. `load` raises Unavailable when it cannot run here."""

    name = ""
    how = ""  # one line for the report: which API, which settings

    def load(self) -> None:
        raise NotImplementedError

    def predict_raw(self, texts: Sequence[str]) -> list[Any]:
        """Return the identifier's own answer per text, as its API gives it: the call that is timed."""
        raise NotImplementedError

    def to_codes(self, raw: list[Any]) -> list[str]:
        """Return one ISO 639-3 code (or "und") per answer of `predict_raw` (not timed); these are the codes."""
        return list(raw)

    def predict(self, texts: Sequence[str]) -> list[str]:
        """Return one ISO 639-3 code (or "und") per text."""
        return self.to_codes(self.predict_raw(texts))

    def languages(self) -> frozenset[str]:
        """Return the ISO 639-3 languages the identifier can name."""
        raise NotImplementedError

    def size_bytes(self) -> int:
        """Return the bytes of the model as installed."""
        raise NotImplementedError


class Xling(Contender):
    name = "xling"

    def __init__(self, model: str, threads: int):
        self.model = model
        self.how = f"LanguageIdentifier.predict, batches of {XLING_BATCH} ({model})"

    def load(self) -> None:
        try:
            from xling.errors import XlingError
            from xling.langid import LanguageIdentifier
        except ImportError as error:
            raise Unavailable(f"xling.langid does not import ({error})") from error
        try:
            self.ident = LanguageIdentifier.from_pretrained(self.model)
        except XlingError as error:
            raise Unavailable(str(error)) from error

    def predict_raw(self, texts: Sequence[str]) -> list[str]:
        """Return xling's label of each text: its language with the script where the model knows several
        (`srp_Cyrl`, `cmn_Hant`), or `und`."""
        out: list[str] = []
        for start in range(0, len(texts), XLING_BATCH):
            predictions = self.ident.predict(list(texts[start : start + XLING_BATCH]), k=1)
            out.extend(top[0].label for top in predictions)
        return out

    def to_codes(self, raw: list[str]) -> list[str]:  # the label's language is ISO 639-3 already
        return [label.split("_", 1)[0] for label in raw]

    def languages(self) -> frozenset[str]:
        return iso3_set(sorted(self.ident.languages))

    def size_bytes(self) -> int:
        return int(self.ident.size_bytes)


class Py3langid(Contender):
    name = "py3langid"
    how = "py3langid LanguageIdentifier.classify, one text a call (no batch API)"

    def load(self) -> None:
        try:
            from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier
        except ImportError as error:
            raise Unavailable(f"py3langid is not installed ({error})") from error
        self.model_path = MODEL_DIR / MODEL_FILE
        self.ident = LanguageIdentifier.from_model_file(MODEL_FILE)

    def predict_raw(self, texts: Sequence[str]) -> list[str]:
        classify = self.ident.classify
        return [classify(text)[0] for text in texts]

    def to_codes(self, raw: list[str]) -> list[str]:
        return [to_iso3(code) for code in raw]

    def languages(self) -> frozenset[str]:
        return iso3_set(list(self.ident.nb_classes))

    def size_bytes(self) -> int:
        return file_bytes(self.model_path)


class Lingua(Contender):
    """lingua's detector over all its languages; `low` is its low accuracy mode (trigrams only)."""

    def __init__(self, low: bool, threads: int):
        self.low, self.threads = low, threads
        self.name = "lingua-low" if low else "lingua-high"
        mode = "with_low_accuracy_mode()" if low else "high accuracy (default)"
        calls = (
            "detect_language_of, one text a call (single-threaded)"
            if threads == 1
            else f"detect_languages_in_parallel_of ({threads} threads)"
        )
        self.how = f"lingua from_all_languages(), {mode}, {calls}; models load lazily on first use"

    def load(self) -> None:
        os.environ.setdefault("RAYON_NUM_THREADS", str(self.threads))  # before lingua starts its pool
        try:
            import lingua
        except ImportError as error:
            raise Unavailable(f"lingua-language-detector is not installed ({error})") from error
        self.module = lingua
        builder = lingua.LanguageDetectorBuilder.from_all_languages()
        if self.low:
            builder = builder.with_low_accuracy_mode()
        self.detector = builder.build()
        self.codes = {language: language.iso_code_639_3.name.lower() for language in lingua.Language.all()}

    def predict_raw(self, texts: Sequence[str]) -> list[Any]:
        if self.threads > 1:
            return list(self.detector.detect_languages_in_parallel_of(list(texts)))
        detect = self.detector.detect_language_of
        return [detect(text) for text in texts]

    def to_codes(self, raw: list[Any]) -> list[str]:
        return [self.codes[language] if language is not None else UND for language in raw]

    def languages(self) -> frozenset[str]:
        return iso3_set(sorted(self.codes.values()))

    def size_bytes(self) -> int:
        # lingua 2 compiles its n-gram models into its extension module: the package folder is the model
        return file_bytes(Path(self.module.__file__).parent)


class Pycld2(Contender):
    name = "pycld2"
    how = "pycld2.detect(bestEffort=True), one text a call (no batch API)"

    def load(self) -> None:
        try:
            import pycld2
        except ImportError as error:
            raise Unavailable(f"pycld2 is not installed ({error})") from error
        self.module = pycld2
        self.code_of = dict(pycld2.LANGUAGES)  # name -> code; a name's repeats all have the same code

    def predict_raw(self, texts: Sequence[str]) -> list[str | None]:
        return [self._one(text) for text in texts]

    def to_codes(self, raw: list[str | None]) -> list[str]:
        return [to_iso3(code) for code in raw]

    def _one(self, text: str) -> str | None:
        """Return CLD2's code of its best guess at `text`, None when it cannot read it."""
        # bestEffort: without it CLD2 answers "unknown" for most sentences under ~30 bytes, which would
        # measure its reluctance rather than its accuracy
        try:
            details = self.module.detect(text, bestEffort=True)[2]
        except (self.module.error, UnicodeError):
            # CLD2 rejects control characters and lone surrogates anywhere in the text: retry without them
            cleaned = "".join(ch for ch in text if ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF)
            try:
                details = self.module.detect(cleaned, bestEffort=True)[2]
            except (self.module.error, UnicodeError):
                return None
        return details[0][1]

    def languages(self) -> frozenset[str]:
        return iso3_set(
            [self.code_of[name] for name in self.module.DETECTED_LANGUAGES if name in self.code_of]
        )

    def size_bytes(self) -> int:
        return file_bytes(Path(self.module.__file__).parent)  # tables compiled into the extension module


class Gcld3(Contender):
    name = "gcld3"
    how = "gcld3 NNetLanguageIdentifier(min_num_bytes=0).FindLanguage, one text a call"

    def load(self) -> None:
        try:
            import gcld3
        except ImportError as error:
            raise Unavailable(f"gcld3 is not installed (it needs protoc to build) ({error})") from error
        self.module = gcld3
        self.ident = gcld3.NNetLanguageIdentifier(min_num_bytes=0, max_num_bytes=1000)

    def predict_raw(self, texts: Sequence[str]) -> list[str]:
        find = self.ident.FindLanguage
        return [find(text=text).language for text in texts]

    def to_codes(self, raw: list[str]) -> list[str]:
        return [to_iso3(code) for code in raw]

    def languages(self) -> frozenset[str]:
        return iso3_set(GCLD3_CODES.split())

    def size_bytes(self) -> int:
        return file_bytes(Path(self.module.__file__).parent)


CONTENDERS: dict[str, Callable[[str, int], Contender]] = {
    "xling": lambda model, threads: Xling(model, threads),
    "py3langid": lambda model, threads: Py3langid(),
    "lingua-low": lambda model, threads: Lingua(True, threads),
    "lingua-high": lambda model, threads: Lingua(False, threads),
    "pycld2": lambda model, threads: Pycld2(),
    "gcld3": lambda model, threads: Gcld3(),
}
