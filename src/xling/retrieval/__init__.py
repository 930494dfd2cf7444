"""Cross-lingual retrieval: margin-based bitext mining and a persistent multilingual search index."""

from xling.retrieval.index import AddResult, Hit, SearchIndex
from xling.retrieval.knn import knn, margin_scores
from xling.retrieval.mining import MineConfig, MinedPair, MineReport, mine_embeddings, mine_files

__all__ = [
    "AddResult",
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
