"""Add a language to an existing encoder (static or transformer) from a dictionary, text or translations."""

from xling.adaptation.adapt import adapt
from xling.adaptation.config import AdaptConfig
from xling.adaptation.result import AdaptResult

__all__ = ["AdaptConfig", "AdaptResult", "adapt"]
