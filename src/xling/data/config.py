"""The data section shared by every command that reads a corpus: `[<command>.data]` in a recipe.

`xling tokenizer train`, `xling pretrain` and `xling align sentences` nest one `CorpusConfig` as their `data`
field, so "which corpus, which languages, which sentences are held out" is spelled, typed and documented once
(`--set data.languages=eng,deu`, `--corpus` and `--languages` on the command line).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xling.data.sources import HeldOut
from xling.errors import ConfigError


@dataclass
class CorpusConfig:
    """Which text a command reads, and which of it is held out of training."""

    corpus: str = ""
    """A folder of id-aligned `<lang>.tsv[.gz]` files (`id<TAB>text` lines), or `sample` for the bundled
    sample corpus; "" for none (then `text` must name files)."""

    languages: list[str] = field(default_factory=list)
    """Languages to read from `corpus`, in any code form (`de`, `deu`, `de-DE`); empty: every file there."""

    text: list[str] = field(default_factory=list)
    """Extra monolingual files as `lang=path` (plain or .gz, one sentence a line), added to that language."""

    heldout_prefixes: list[str] = field(default_factory=list)
    """Sentence ids starting with one of these (e.g. `JHN.`, the Gospel of John) are never trained on."""

    heldout_fraction: float = 0.0
    """A stable hashed share of sentence ids (the same in every run and process) also held out, in [0, 1)."""

    skip_bad: bool = False
    """Skip bad lines (no tab, bad UTF-8, duplicate id) instead of stopping at the first with file:line."""

    def heldout(self) -> HeldOut:
        """Return the held-out split these fields describe."""
        return HeldOut(tuple(self.heldout_prefixes), self.heldout_fraction)

    def validate(self) -> None:
        """Return nothing; raise ConfigError for a field out of range."""
        if not 0 <= self.heldout_fraction < 1:
            raise ConfigError(f"data.heldout_fraction: {self.heldout_fraction} must be in [0, 1)")
        for item in self.text:
            if "=" not in item:
                raise ConfigError(f"data.text: {item!r} must be lang=path, e.g. deu=news.de.txt.gz")
