"""xling: cross-lingual language models."""

from xling.errors import ConfigError, DataError, LanguageCodeError, XlingError

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataError",
    "Encoder",
    "LanguageCodeError",
    "LanguageIdentifier",
    "Translator",
    "XlingError",
    "__version__",
    "detect",
]


def __getattr__(name: str):
    # `from xling import Encoder` without importing torch (or the detector's numpy code) for every `import xling`
    if name == "Encoder":
        from xling.embeddings.encoder import Encoder

        return Encoder
    if name == "Translator":
        from xling.translation.translator import Translator

        return Translator
    if name in ("detect", "LanguageIdentifier"):
        import xling.langid

        return getattr(xling.langid, name)
    raise AttributeError(f"module 'xling' has no attribute {name!r}")
