"""Sentence embeddings from encoder models: `Encoder` (xling.embeddings.encoder), the `TextEncoder` protocol
that mining, the index and evaluation take, mean pooling, and the ONNX Runtime backend (backends/)."""

from xling.embeddings.pooling import encode_mean_pooled, mean_pool
from xling.embeddings.protocol import TextEncoder

__all__ = ["TextEncoder", "encode_mean_pooled", "mean_pool"]
