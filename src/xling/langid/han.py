"""Simplified or Traditional Chinese, settled from the characters: after the model picks a language written in
both Han scripts (`cmn_Hans` / `cmn_Hant`), the text's characters of one script only decide the label, as
CLD-style detectors do. The model's character n-grams weigh the many characters both scripts share, and
took "今天天氣很好" (氣: Traditional only) for Simplified Chinese.

The character sets, `han_scripts.txt`, come from OpenCC's conversion tables (BYVoid/OpenCC, Apache-2.0)
through recipes/build_han_scripts.py: prediction does not need OpenCC."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from importlib.resources import files

import numpy as np

__all__ = ["HAN_SCRIPTS", "han_script", "han_script_counts", "script_pairs", "settle_han_scripts"]

HAN_SCRIPTS = ("Hans", "Hant")
"""ISO 15924: Simplified and Traditional Han."""
DATA_FILE = "han_scripts.txt"
MAJORITY = 2
"""A script decides when it has more than this many times the other script's characters (1-0, 3-1, 5-2):
one stray character of the other script (a quoted name, a rare form OpenCC's tables give the other side:
the Simplified Bible writes 繸 and 摺, at most 1 against 3 of its own) must not turn a text; near ties
(2-1, 2-2) are mixed text, left to the model."""


@lru_cache(maxsize=1)
def script_characters() -> dict[str, frozenset[str]]:
    """Return the characters written in only one Han script, by script (`Hans`, `Hant`), as shipped."""
    found: dict[str, set[str]] = {script: set() for script in HAN_SCRIPTS}
    text = files("xling.langid").joinpath(DATA_FILE).read_text(encoding="utf-8")
    for line in text.splitlines():
        if line and not line.startswith("#"):
            script, _, chars = line.partition("\t")
            found[script].update(chars)
    return {script: frozenset(chars) for script, chars in found.items()}


def han_script_counts(text: str) -> tuple[int, int]:
    """Return (Simplified-only, Traditional-only) characters in `text`, each occurrence counted."""
    sets = script_characters()
    hans, hant = sets["Hans"], sets["Hant"]
    return sum(char in hans for char in text), sum(char in hant for char in text)


def han_script(text: str) -> str | None:
    """Return the Han script (`Hans`, `Hant`) the characters of `text` decide, None when they do not:
    no character of one script only, or no clear majority (`MAJORITY`)."""
    hans, hant = han_script_counts(text)
    if hans > MAJORITY * hant:
        return "Hans"
    if hant > MAJORITY * hans:
        return "Hant"
    return None


def script_pairs(labels: Sequence[str]) -> dict[int, dict[str, int]]:
    """Return, for each label of a language the labels give in both Han scripts (`cmn_Hans`, `cmn_Hant`), its
    language's label index by script: {index of cmn_Hans: {"Hans": i, "Hant": j}, index of cmn_Hant: same}."""
    index = {label: i for i, label in enumerate(labels)}
    pairs: dict[int, dict[str, int]] = {}
    for label in labels:
        language, _, script = label.partition("_")
        if script == "Hans" and f"{language}_Hant" in index:
            both = {"Hans": index[label], "Hant": index[f"{language}_Hant"]}
            pairs[both["Hans"]] = pairs[both["Hant"]] = both
    return pairs


def settle_han_scripts(
    logits: np.ndarray, texts: Sequence[str], pairs: dict[int, dict[str, int]]
) -> np.ndarray:
    """Return `logits` (log-probabilities up to a constant per text, one row a text; changed in place) where
    each text whose characters decide its script (`han_script`) has, for each language of `pairs` it may be
    in, the other script's probability moved onto that script's label (log-sum-exp; the other gets -inf), so
    that the probabilities still sum to 1 and the ranking follows them. Every such row, not only those whose
    best label is of `pairs`: a Simplified text the detector took for `lzh` listed `cmn_Hant` second.

    A label already at -inf is one a restriction left out (`languages=["zh-Hans"]`): nothing is moved onto
    it, the restriction stands."""
    if not pairs:
        return logits
    languages = list({both["Hans"]: both for both in pairs.values()}.values())
    columns = sorted(pairs)
    # the rows where a pair's label is still possible: most rows of other scripts have none (script masks)
    for row in np.flatnonzero(np.isfinite(logits[:, columns]).any(axis=1)):
        script = han_script(texts[row])
        if script is None:
            continue
        for both in languages:
            chosen, other = both[script], both[HAN_SCRIPTS[1 - HAN_SCRIPTS.index(script)]]
            if not np.isfinite(logits[row, chosen]):
                continue
            logits[row, chosen] = np.logaddexp(logits[row, chosen], logits[row, other])
            logits[row, other] = -np.inf
    return logits
