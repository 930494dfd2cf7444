"""The models a server holds: each loaded once per process, its failure kept and reported, never fatal.

A `ModelRegistry` has one slot per role (encoder, detector, translator, classifier, bot) and one per search
index (`index:NAME`). `load_all` loads every configured slot (at startup when `preload`); `get` loads a
slot on first use otherwise. A slot that fails keeps its error: its endpoints answer 503 naming the model
and why, while /health lists every slot's state and /v1/models every configured one's, and the other
endpoints work. A search index another process holds locked (a large `xling index add`) is no failure: its
slot stays pending, marked busy, its endpoints answer 503 with Retry-After, and the next request loads it
again.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xling.errors import BusyError
from xling.serving.config import ServeConfig
from xling.serving.errors import ModelUnavailable

logger = logging.getLogger(__name__)

ROLES = ("encoder", "detector", "translator", "classifier", "bot")
INDEX_PREFIX = "index:"
# the config field that sets each role, named in 503 messages so the operator knows what to change
SETTINGS = {"encoder": "encoder", "detector": "detector", "translator": "translator", "classifier": "classifier",
            "bot": "bot"}  # fmt: skip


@dataclass
class IndexEntry:
    """A search index opened for serving, and the encoder that makes its query vectors."""

    index: Any
    encoder: Any
    shares_encoder: bool
    """True when the encoder is the server's `encoder` (one copy in memory)."""


@dataclass
class Slot:
    """One model's source and state."""

    name: str
    source: str | None
    state: str = "pending"
    """not configured | pending | loaded | failed"""
    model: Any = None
    error: str | None = None
    seconds: float | None = None
    busy_at: float | None = None
    """time.monotonic() when the last load found the model busy (None: it did not); the slot stays pending"""

    def to_dict(self) -> dict[str, Any]:
        info: dict[str, Any] = {"source": self.source, "state": self.state, "loaded": self.state == "loaded"}
        if self.error is not None:
            info["error"] = self.error
        if self.busy_at is not None:
            info["busy"] = True
        if self.seconds is not None:
            info["load_seconds"] = round(self.seconds, 3)
        return info


class ModelRegistry:
    """Loads and holds the configured models (see the module docstring)."""

    def __init__(self, config: ServeConfig):
        self.config = config
        self.slots: dict[str, Slot] = {}
        for role in ROLES:
            source = getattr(config, role)
            self.slots[role] = Slot(role, source or None, "pending" if source else "not configured")
        for name, folder in config.indexes.items():
            self.slots[INDEX_PREFIX + name] = Slot(INDEX_PREFIX + name, folder)
        self._locks = {name: threading.Lock() for name in self.slots}
        self._loaders: dict[str, Callable[[str], Any]] = {
            "encoder": self._load_encoder, "detector": self._load_detector, "translator": self._load_translator,
            "classifier": self._load_classifier, "bot": self._load_bot,
        }  # fmt: skip

    def load_all(self) -> None:
        """Return nothing; load every configured slot not tried yet (a failure is kept, not raised)."""
        for name in self.slots:
            self._ensure(name)

    def loaded(self, name: str) -> bool:
        """Return True when the slot's model is loaded (without loading it)."""
        slot = self.slots.get(name)
        return slot is not None and slot.state == "loaded"

    def get(self, name: str) -> Any:
        """Return the slot's model, loading it on first use; ModelUnavailable (503) naming it and why when it
        is not configured or failed to load; BusyError (503 with Retry-After) when it was busy, to be loaded
        again by the next call."""
        slot = self._ensure(name)
        if slot.state == "loaded":
            return slot.model
        if slot.busy_at is not None:
            raise BusyError(str(slot.error))
        if slot.state == "not configured":
            what = "support bot" if name == "bot" else name
            raise ModelUnavailable(name, f"no {what} configured: set `{SETTINGS.get(name, name)}` in the [serve] "
                                         "config (or --set) and restart the server")  # fmt: skip
        raise ModelUnavailable(name, f"the {name} ({slot.source}) failed to load: {slot.error}")

    def status(self) -> dict[str, dict[str, Any]]:
        """Return every slot's state: source, loaded, error, load seconds."""
        return {name: slot.to_dict() for name, slot in self.slots.items()}

    def close(self) -> None:
        """Return nothing; close the open search indexes."""
        for name, slot in self.slots.items():
            if name.startswith(INDEX_PREFIX) and slot.state == "loaded":
                slot.model.index.close()

    def _ensure(self, name: str) -> Slot:
        """Return the slot, loading its model if it is pending; a failure is kept in the slot, not raised."""
        slot = self.slots.get(name)
        if slot is None:
            raise ModelUnavailable(name, f"no model slot {name!r}")
        if slot.state != "pending":
            return slot
        asked = time.monotonic()
        with self._locks[name]:
            if slot.state != "pending":  # another thread loaded it while this one waited
                return slot
            if slot.busy_at is not None and slot.busy_at >= asked:
                # another thread found it busy while this one waited: its answer, rather than a queue of
                # requests each waiting out the lock again (WRITE_WAIT_S apiece)
                return slot
            self._load(slot)
        return slot

    def _load(self, slot: Slot) -> None:
        """Return nothing; load the slot's model (the caller holds its lock), keeping its failure in it."""
        started = time.perf_counter()
        try:
            if slot.name.startswith(INDEX_PREFIX):
                model = self._load_index(str(slot.source))
            else:
                model = self._loaders[slot.name](str(slot.source))
        except BusyError as error:
            # another process holds it for now (an index being written to): not a failure, as that would
            # hold until a restart; the slot stays pending and the next request loads it again
            slot.error, slot.busy_at = str(error), time.monotonic()
            logger.warning("%s (%s) is busy; loading it again on the next request: %s", slot.name, slot.source,
                           slot.error)  # fmt: skip
        except Exception as error:  # any failure: the server stays up and says why on this slot's endpoints
            slot.error = f"{type(error).__name__}: {error}" if not _is_xling_error(error) else str(error)
            slot.state, slot.busy_at = "failed", None
            logger.error("%s (%s) failed to load: %s", slot.name, slot.source, slot.error)
        else:
            slot.model, slot.error, slot.busy_at = model, None, None
            slot.state = "loaded"
            logger.info("%s loaded from %s", slot.name, slot.source)
        slot.seconds = time.perf_counter() - started

    def _load_encoder(self, source: str) -> Any:
        from xling.embeddings.encoder import Encoder

        return Encoder.load(source, device=self._encoder_device())

    def _encoder_device(self) -> str:
        """Return the device an encoder runs on: the configured one, `auto` resolved (Encoder.load resolves it
        the same way; resolved here too, so that every encoder the server loads is on the one device)."""
        from xling.devices import resolve_device

        return resolve_device(self.config.device)

    def _load_detector(self, source: str) -> Any:
        from xling.langid import LanguageIdentifier

        return LanguageIdentifier.from_pretrained(source)

    def _load_translator(self, source: str) -> Any:
        from xling.translation.translator import Translator

        # the server's detector object when it is loaded, so `source: auto` uses the configured one
        detector = (
            self.get("detector") if self.config.detector and self._try("detector") else self.config.detector
        )
        return Translator.from_pretrained(source, backend=self.config.translator_backend, device=self.config.device,
                                          threads=self.config.threads, detector=detector or "xling-langid")  # fmt: skip

    def _load_classifier(self, source: str) -> Any:
        from xling.transfer.classifier import load_classifier

        # on the server's device, as its encoder is (every kind's loader takes it; the CPU by default)
        return load_classifier(source, device=self._encoder_device())

    def _load_bot(self, source: str) -> Any:
        from xling.artifacts import read_metadata
        from xling.langid import load_identifier
        from xling.langid.model import DEFAULT_IDENTIFIER
        from xling.retrieval.index import model_reference

        if importlib.util.find_spec("xling.bot") is None:
            raise RuntimeError("this xling has no support bot package (xling.bot)")
        bot = importlib.import_module("xling.bot")
        built_with = read_metadata(Path(source)).get("encoder") if Path(source).is_dir() else None
        # the server's encoder when the bot was built with it; else the bot loads the one it was built with
        same = bool(built_with and self.config.encoder) and (
            model_reference(str(self.config.encoder)) == model_reference(str(built_with))
        )
        encoder = self.get("encoder") if same and self._try("encoder") else None
        if encoder is None and built_with:  # its own, on the server's device (SupportBot.load's is the CPU)
            from xling.embeddings.encoder import Encoder

            encoder = Encoder.load(built_with, device=self._encoder_device())
        # the bot tells the asker's language with the server's detector; one that failed to load fails the bot
        # too (its answers would all come in the FAQ's language); with none configured the shipped one is
        # loaded now, so that one that cannot load fails the bot's slot (503), not its first question (400)
        detector = self.get("detector") if self.config.detector else load_identifier(DEFAULT_IDENTIFIER)
        # a translator of the bot's own, loaded here with the server's settings so that a bad path fails the
        # bot's slot (503 naming it) rather than its first question: the server's translator runs in another
        # thread, and a Hugging Face tokenizer must not be used by two threads at once
        translator = self._load_translator(self.config.bot_translator) if self.config.bot_translator else None
        return bot.SupportBot.load(source, encoder=encoder, detector=detector, translator=translator)

    def _load_index(self, source: str) -> IndexEntry:
        from xling.embeddings.encoder import Encoder
        from xling.retrieval.index import SearchIndex, model_reference

        index = SearchIndex.open(source)
        try:
            shares = bool(self.config.encoder) and model_reference(str(self.config.encoder)) == index.model
            encoder = self.get("encoder") if shares and self._try("encoder") else None
            if encoder is None:
                shares = False
                encoder = Encoder.load(index.model, device=self._encoder_device())
            # checks the encoder's fingerprint against the index's (a folder changed since the build fails here)
            index.search_texts(encoder, ["fingerprint"], k=1)
        except BaseException:
            index.close()
            raise
        return IndexEntry(index, encoder, shares)

    def _try(self, name: str) -> bool:
        return self._ensure(name).state == "loaded"


def _is_xling_error(error: Exception) -> bool:
    from xling.errors import XlingError

    return isinstance(error, XlingError)
