"""xling: cross-lingual language models."""

from xling.errors import ConfigError, DataError, LanguageCodeError, XlingError

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataError",
    "Encoder",
    "LanguageCodeError",
    "Translator",
    "XlingError",
    "__version__",
]


def __getattr__(name: str):
    # `from xling import Encoder` without importing torch for every `import xling`
    if name == "Encoder":
        from xling.embeddings.encoder import Encoder

        return Encoder
    if name == "Translator":
        from xling.translation.translator import Translator

        return Translator
    raise AttributeError(f"module 'xling' has no attribute {name!r}")
