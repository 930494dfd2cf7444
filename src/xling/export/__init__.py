"""Export models to fast runtimes, each export checked against its source model.

`xling.export.onnx`: a transformer sentence encoder to ONNX Runtime graphs (fp32, fused); `quantize`: their
dynamic int8 versions (per-channel weights, FFN outlier channels in fp32); `measure`: cosine to the source
and speed. The runtime side (loading a graph into `Encoder`) is `xling.embeddings.backends.onnx`, which
imports nothing from here.
"""
