"""Cross-lingual retrieval: margin-based bitext mining and a persistent multilingual search index."""

from xling.retrieval.index import Hit, SearchIndex
from xling.retrieval.mining import (
    MineConfig,
    MinedPair,
    MineReport,
    knn,
    margin_scores,
    mine_embeddings,
    mine_files,
)

__all__ = [
    "Hit",
    "MineConfig",
    "MineReport",
    "MinedPair",
    "SearchIndex",
    "knn",
    "margin_scores",
    "mine_embeddings",
    "mine_files",
]
