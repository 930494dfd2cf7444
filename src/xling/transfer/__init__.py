"""Cross-lingual transfer: train a classifier in one language, use it in all.

- `xling.transfer.config.ClassifierConfig`: what `xling transfer train` is configured by;
- `xling.transfer.classifier`: `train_classifier` (dispatching on `config.method`: "frozen" = a frozen
  sentence encoder + scikit-learn logistic regression; "finetune" registers itself from its own module),
  `load_classifier` (dispatching on the saved folder's `xling.json` "kind"), `FrozenEncoderClassifier`;
- `xling.transfer.metrics`: macro-F1 / accuracy and the transfer report.

Modules are imported where used, so importing this package stays light (no torch, no scikit-learn).
"""
