"""Shared fixtures: a small tokenizer trained once per session on the bundled sample corpus."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]


# The slowest test files, sent to the xdist workers first: whole files go to one worker (--dist loadfile), so
# one of these started late would run alone at the end while the other worker idles (longest-first
# scheduling); every other file keeps its place. `make test` passes --no-loadscope-reorder, else xdist would
# send the files with the most tests first instead. Their tests' seconds in `make test` on 2 cores
# (2026-12-07, late, --junitxml): 46, 42, 38, 36, 25, 22, 19, 19; the next file takes 16.
SLOW_FILES_FIRST = (
    "tests/test_quickstart.py",
    "tests/embeddings/test_onnx.py",
    "tests/pretraining/test_pretrain.py",
    "tests/translation/test_mt_train.py",
    "tests/adaptation/test_static.py",
    "tests/training/test_loop.py",
    "tests/transfer/test_finetune.py",
    "tests/adaptation/test_transformer.py",
)


@pytest.hookimpl(trylast=True)  # after any plugin's reordering
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move the tests of SLOW_FILES_FIRST to the front, in that order (a stable sort: the rest keep theirs)."""
    rank = {name: i for i, name in enumerate(SLOW_FILES_FIRST)}

    def file_rank(item: pytest.Item) -> int:
        try:
            return rank.get(item.path.relative_to(REPO).as_posix(), len(rank))
        except ValueError:  # a test outside the repository
            return len(rank)

    items.sort(key=file_rank)


def shared_data() -> Path | None:
    """Return ../shared/data (or $XLING_DATA) when it is there, else None."""
    path = Path(os.environ.get("XLING_DATA", REPO.parent / "shared" / "data"))
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def xling_mini_rows() -> np.ndarray:
    """Return the first 2,500 rows of the shipped xling-mini table as float32 (as its loader reads them)."""
    from xling.embeddings.static import MODULE_DIR, StaticSentenceEncoder

    folder = REPO / "src/xling/models/xling-mini" / MODULE_DIR
    if not (folder / "model.safetensors").is_file():
        pytest.skip("needs src/xling/models/xling-mini (shipped with the repository)")
    return StaticSentenceEncoder.load(folder).embedding.weight[:2500].detach().numpy().copy()


@pytest.fixture(scope="session")
def sample_tokenizer_dir(tmp_path_factory) -> Path:
    from xling.data.sources import TextSources
    from xling.tokenization.vocabulary import VocabConfig, train_vocabulary

    out = tmp_path_factory.mktemp("tokenizer")
    sources = TextSources.from_options("sample", [], [])
    train_vocabulary(
        sources.text_factories(), VocabConfig(output=str(out), vocab_size=1600, sample_sentences=20_000)
    )
    return out


@pytest.fixture
def shared_data_dir() -> Path:
    """Return ../shared/data (or $XLING_DATA); skip the test cleanly when it is absent."""
    path = shared_data()
    if path is None:
        pytest.skip("needs the shared data folder (../shared/data or $XLING_DATA)")
    return path


@pytest.fixture
def renumbered_bible(tmp_path) -> Path:
    """Return a tiny id-aligned Bible (eng, deu, fra) where German counts Psalm 3's title as verse 1, so its
    PSA.3 runs to verse 9 and each of its verses sits one id later than the English and French one; English
    leaves out Matthew 17:21 (as modern editions do); Genesis 1 is numbered alike. Every verse's text opens
    with the English verse id it translates (the title with PSA.3.0), then a second clause."""
    folder = tmp_path / "bible"
    folder.mkdir()
    chapters = {"GEN.1": 5, "PSA.3": 8, "MAT.17": 27}
    for lang in ("eng", "deu", "fra"):
        shift = {"PSA.3": 1} if lang == "deu" else {}
        rows = [("PSA.3.1", f"PSA.3.0 title in {lang}, of David.")] if shift else []
        rows += [(f"{chapter}.{verse + shift.get(chapter, 0)}", f"{chapter}.{verse} in {lang}, and so on.")
                 for chapter, last in chapters.items() for verse in range(1, last + 1)
                 if not (lang == "eng" and f"{chapter}.{verse}" == "MAT.17.21")]  # fmt: skip
        (folder / f"{lang}.tsv").write_text("".join(f"{i}\t{t}\n" for i, t in rows), "utf-8")
    return folder


@pytest.fixture
def greek_psalms_bible(tmp_path) -> Path:
    """Return a tiny id-aligned Bible (eng, rus) whose languages.tsv names the NRSV and the Synodal schemes:
    Psalm 62 ends at verse 12 in both, yet the Synodal one is the NRSV's Psalm 63 (a shifted psalm the last
    verse cannot tell); Psalm 2 and Matthew 17 are numbered alike."""
    folder = tmp_path / "greek-psalms"
    folder.mkdir()
    ids = [f"PSA.{c}.{v}" for c, last in ((2, 12), (62, 12)) for v in range(1, last + 1)]
    ids += [f"MAT.17.{v}" for v in range(1, 28)]
    for lang in ("eng", "rus"):
        (folder / f"{lang}.tsv").write_text(
            "".join(f"{i}\t{i} in {lang}, and so on.\n" for i in ids), "utf-8"
        )
    (folder / "languages.tsv").write_text("lang\tversification\neng\tNRSV\nrus\tSynodal\n", "utf-8")
    return folder


@pytest.fixture
def make_tiny_mlm():
    """Return a function that writes a tiny XLM-R masked LM with the sample tokenizer (as `xling pretrain`
    does) into root/mlm and returns that folder."""

    def make(root: Path, tokenizer_dir: Path) -> Path:
        import torch
        from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

        from xling.tokenization.vocabulary import load_tokenizer

        tokenizer = load_tokenizer(tokenizer_dir)
        torch.manual_seed(0)
        config = XLMRobertaConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1,
                                  num_attention_heads=2, intermediate_size=32, max_position_embeddings=40,
                                  pad_token_id=tokenizer.pad_token_id)  # fmt: skip
        folder = root / "mlm"
        XLMRobertaForMaskedLM(config).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        return folder

    return make


@pytest.fixture(scope="session")
def tiny_detector_folder(tmp_path_factory) -> Path:
    """Return the folder of a tiny language detector (the bundled sample's 9 languages, trained in seconds)."""
    from langid.conftest import tiny_config

    from xling.langid.train import train_identifier

    return train_identifier(tiny_config(tmp_path_factory.mktemp("langid") / "detector")).output


CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium_path() -> str | None:
    """Return the Chromium executable ($XLING_CHROMIUM, else the first of CHROMIUM_NAMES on PATH)."""
    import shutil

    given = os.environ.get("XLING_CHROMIUM")
    if given:
        return given if Path(given).is_file() else None
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


@pytest.fixture(scope="module")
def browser():
    """Return a headless Chromium driven by Playwright (the web page and report tests); skip when either is
    missing or it cannot start."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    executable = chromium_path()
    if executable is None:
        pytest.skip("no Chromium: apt-get install chromium (or set XLING_CHROMIUM to its executable)")
    with sync_api.sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=executable, headless=True)
        except sync_api.Error as error:
            pytest.skip(f"{executable} does not start headless: {str(error).splitlines()[0]}")
        yield browser
        browser.close()


@pytest.fixture
def bad_file_paths(tmp_path):
    """Return a maker of (input file, output path, the error expected) for a command's bad --input/--output
    case: "missing input" (or "missing, ..."), "folder output", "output is the input"; `text` fills the input."""

    def make(bad: str, text: str, output_name: str = "out.txt") -> tuple[Path, Path, str]:
        source, output = tmp_path / "in.txt", tmp_path / output_name
        source.write_text(text, encoding="utf-8")
        if bad.startswith("missing"):
            return tmp_path / "missing.txt", output, "file not found"
        if bad == "folder output":
            output.mkdir()
            return source, output, "is a folder"
        assert bad == "output is the input", bad
        return source, source, "is also an input file"

    return make
