"""Monolingual word vectors: formats (.vec, .bin, .npy), training, and the in-memory `WordVectors`."""

from xling.vectors.core import WordVectors
from xling.vectors.formats import check_output, check_savable, convert_vectors, load_vectors, save_vectors
from xling.vectors.train import VectorsTrainConfig, tokenize_words, train_vectors

__all__ = [
    "VectorsTrainConfig",
    "WordVectors",
    "check_output",
    "check_savable",
    "convert_vectors",
    "load_vectors",
    "save_vectors",
    "tokenize_words",
    "train_vectors",
]
