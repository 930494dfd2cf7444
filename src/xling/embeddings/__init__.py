"""Sentence embeddings from encoder models."""

from xling.embeddings.pooling import encode_mean_pooled, mean_pool

__all__ = ["encode_mean_pooled", "mean_pool"]
