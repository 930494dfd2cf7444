"""Cross-lingual word embeddings: normalise, map (Procrustes, adversarial, self-learning), retrieve (CSLS).

The adversarial and self-learning modules are imported only when their method runs.
"""

from xling.alignment.words.align import METHODS, WordAlignConfig, align_words
from xling.alignment.words.csls import (
    csls_scores_topk,
    mean_topk_similarity,
    nearest_neighbors,
    translate,
)
from xling.alignment.words.dictionary import (
    Dictionary,
    DictionaryCoverage,
    identical_strings,
    induce_dictionary,
    numeral_pairs,
    read_dictionary,
)
from xling.alignment.words.mapping import WordMapping
from xling.alignment.words.normalize import (
    fit_normalization,
    normalize_embeddings,
    parse_normalization,
    unit_length,
)
from xling.alignment.words.procrustes import procrustes, refine, unsupervised_criterion

__all__ = [
    "METHODS",
    "Dictionary",
    "DictionaryCoverage",
    "WordAlignConfig",
    "WordMapping",
    "align_words",
    "csls_scores_topk",
    "fit_normalization",
    "identical_strings",
    "induce_dictionary",
    "mean_topk_similarity",
    "nearest_neighbors",
    "normalize_embeddings",
    "numeral_pairs",
    "parse_normalization",
    "procrustes",
    "read_dictionary",
    "refine",
    "translate",
    "unit_length",
    "unsupervised_criterion",
]
