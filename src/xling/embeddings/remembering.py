"""An encoder wrapper that encodes each distinct text once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["RememberingEncoder"]


class RememberingEncoder:
    """A frozen encoder that encodes each distinct text once: a later call takes the vectors it gave before
    (per set of encode options). For runs that encode the same texts again and again: a few-shot curve
    retrains dozens of heads on the same source train and dev texts, target texts and test sets
    (xling.transfer.fewshot), and `transfer predict --language` adapts on the texts it then labels. Every
    other attribute is the wrapped encoder's."""

    def __init__(self, encoder: Any):
        self.encoder = encoder
        self._vectors: dict[tuple[tuple[str, Any], ...], dict[str, np.ndarray]] = {}

    def __getattr__(self, name: str) -> Any:
        if name == "encoder" or name.startswith("__"):  # not set yet (copy.copy makes one without __init__)
            raise AttributeError(name)
        return getattr(self.encoder, name)

    def encode(self, texts: Sequence[str], batch_size: int = 64, normalize: bool | None = None,
               show_progress: bool = False, **options: Any) -> np.ndarray:  # fmt: skip
        """Return the vectors of `texts` as the wrapped encoder gives them (TextEncoder's arguments, in its
        order), encoding only texts it has not encoded before with these `normalize` and `options`."""
        from xling.embeddings.encoder import check_texts

        # as Encoder.encode checks them: a string is no list of one-character texts, and an error names the
        # text's place in `texts`, not in the distinct texts passed on
        texts = check_texts(texts)
        if normalize is not None:  # left out as not given: an encoder's own default stands
            options = {**options, "normalize": normalize}
        if not texts:  # the wrapped encoder's own answer, of its shape
            return self.encoder.encode([], batch_size=batch_size, show_progress=show_progress, **options)
        known = self._vectors.setdefault(tuple(sorted(options.items())), {})
        new = [text for text in dict.fromkeys(texts) if text not in known]
        if new:
            vectors = self.encoder.encode(new, batch_size=batch_size, show_progress=show_progress, **options)
            known.update(zip(new, vectors, strict=True))
        return np.stack([known[text] for text in texts])
