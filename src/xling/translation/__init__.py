"""Many-to-many translation: seq2seq data and training (`train`), decoding (`Translator`), language codes of
the model families (`languages`), the CTranslate2 runtime (`ct2`)."""
