"""Language identification: `LanguageIdentifier` (hashed character n-grams and words scored by multinomial
naive Bayes or a fastText-style linear layer), trained by `xling langid train` on any mix of corpora, used by
`xling detect`, `--src auto` and search."""

from __future__ import annotations

import threading
from functools import lru_cache

from xling.errors import ConfigError
from xling.langid.labels import UNDETERMINED, Label, label_matches, parse_label
from xling.langid.model import DEFAULT_IDENTIFIER, LanguageIdentifier, Prediction
from xling.langid.spans import Span, language_spans

__all__ = [
    "DEFAULT_IDENTIFIER", "UNDETERMINED", "Label", "LanguageIdentifier", "Prediction", "Span", "detect",
    "label_matches", "language_spans", "load_identifier", "parse_label",
]  # fmt: skip


def load_identifier(name_or_path: str = DEFAULT_IDENTIFIER) -> LanguageIdentifier:
    """Return the identifier in a folder or shipped under a name, loaded once per process and folder
    (`load_identifier()`, `load_identifier("xling-langid")` and its folder's path give the same object).

    The object is shared with `detect` and every other caller: a setting changed on it (`prior_weight`,
    `han_scripts`) changes their answers too; `LanguageIdentifier.from_pretrained` gives a copy of one's own."""
    from xling.langid.model import resolve_identifier

    folder = str(resolve_identifier(name_or_path).resolve())
    # lru_cache does not lock while it loads: two threads asking first (a server's batchers) each loaded one,
    # and held different objects
    with _LOADING:
        return _load_folder(folder)


_LOADING = threading.Lock()


@lru_cache(maxsize=4)
def _load_folder(folder: str) -> LanguageIdentifier:
    """Return the identifier in `folder` (an absolute path), loaded once per process."""
    return LanguageIdentifier.from_pretrained(folder)


def detect(
    text: str | list[str],
    k: int = 1,
    model: str = DEFAULT_IDENTIFIER,
    threshold: float | None = None,
    languages: list[str] | None = None,
):
    """Return the language of a text (a `Prediction`), or a list of them for a list of texts; with k > 1,
    the top-k `Prediction`s of each text instead. `threshold` (default: the model's) and `languages` (the
    only codes the answer may be, in any form) as in `LanguageIdentifier.predict`."""
    from collections.abc import Iterable

    if not isinstance(text, str | Iterable):  # None was a TypeError from list()
        raise ConfigError(f"text: give a string or a list of strings, not {type(text).__name__}")
    identifier = load_identifier(model)
    texts = [text] if isinstance(text, str) else list(text)
    predictions = identifier.predict(texts, k=k, threshold=threshold, languages=languages)
    picked = [top if k > 1 else top[0] for top in predictions]
    return picked[0] if isinstance(text, str) else picked
