"""xling: cross-lingual language models."""

from xling.errors import ConfigError, DataError, LanguageCodeError, XlingError

__version__ = "0.1.0"

__all__ = ["ConfigError", "DataError", "LanguageCodeError", "XlingError", "__version__"]
