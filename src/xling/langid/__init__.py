"""Language identification: `LanguageIdentifier` (hashed character n-grams and words scored by multinomial
naive Bayes or a fastText-style linear layer), trained by `xling langid train` on any mix of corpora, used by
`xling detect`, `--src auto` and search."""

from __future__ import annotations

import threading

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
    if (loaded := _LOADED.get(folder)) is not None:
        return loaded
    # loaded under a lock: two threads asking first (a server's batchers) each loaded one (lru_cache does not
    # lock while it computes) and held different objects
    with _LOADING:
        if folder not in _LOADED:
            if len(_LOADED) >= _KEPT:
                del _LOADED[next(iter(_LOADED))]  # the oldest: a process rarely uses more than one
            _LOADED[folder] = LanguageIdentifier.from_pretrained(folder)
        return _LOADED[folder]


_LOADING = threading.Lock()
_LOADED: dict[str, LanguageIdentifier] = {}
_KEPT = 4  # folders kept loaded


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
