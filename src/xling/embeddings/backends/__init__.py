"""Ways to run a sentence encoder besides PyTorch (`Encoder.load(..., backend=...)`): ONNX Runtime."""
