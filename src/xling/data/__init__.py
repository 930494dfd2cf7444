"""Data layer: language codes, streaming corpus readers and smoothed language sampling."""

from xling.data.languages import language_name, normalize_language, same_language
from xling.data.readers import (
    AlignedCorpus,
    ReadStats,
    open_text,
    read_id_text_tsv,
    read_monolingual,
    read_parallel_files,
    read_parallel_tsv,
    read_tatoeba,
)
from xling.data.sampling import LanguageSampler, sentences_per_language, smoothed_probabilities

__all__ = [
    "AlignedCorpus",
    "LanguageSampler",
    "ReadStats",
    "language_name",
    "normalize_language",
    "open_text",
    "read_id_text_tsv",
    "read_monolingual",
    "read_parallel_files",
    "read_parallel_tsv",
    "read_tatoeba",
    "same_language",
    "sentences_per_language",
    "smoothed_probabilities",
]
