"""benchmarks/adapt_transformer.py end to end on a tiny XLM-R and a made-up data root: base, full and LoRA
rows with perplexities, retrieval, CPU seconds and sizes, and the table prints. A few steps, a few seconds."""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import random
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
SYLLABLES = ["ka", "to", "ri", "mu", "len", "sa", "po", "ne", "dra", "vi", "lo", "te", "bu", "gor", "hi"]


@pytest.fixture(scope="module")
def bench():
    pytest.importorskip("peft")
    sys.path.insert(0, str(BENCHMARKS))  # the script imports bench_common
    try:
        spec = importlib.util.spec_from_file_location(
            "adapt_transformer_bench", BENCHMARKS / "adapt_transformer.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCHMARKS))


def _turkish(text: str) -> str:
    """Return `text` in the made-up "Turkish": Latin with Turkish letters (its own pieces to learn)."""
    return text.translate(str.maketrans("aoiuk", "çöışğ"))


def _write_gz(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def _data_root(root: Path, words: list[str], rng: random.Random) -> Path:
    """Write a data root with the layout the script reads: UD text, BLI dictionary, Tatoeba, NTREX, John."""

    def sentence() -> str:
        return " ".join(rng.choice(words) for _ in range(rng.randint(4, 8)))

    data = root / "data"
    conllu = []
    for i in range(80):
        tokens = _turkish(sentence()).split()
        conllu += [f"# sent_id = {i}", f"# text = {' '.join(tokens)}"]
        conllu += [f"{j}\t{t}\t{t}\tNOUN\t_\t_\t0\troot\t_\t_" for j, t in enumerate(tokens, 1)] + [""]
    _write_gz(data / "ud/UD_Turkish-IMST/tr_imst-ud-train.conllu.gz", conllu)
    bli = data / "bli_xling_eval/en-tr/yacle.train.freq.5k.en-tr.tsv"
    bli.parent.mkdir(parents=True)
    bli.write_text("".join(f"{w}\t{_turkish(w)}\n" for w in words), encoding="utf-8")
    english = [sentence() for _ in range(20)]
    (data / "tatoeba").mkdir()
    (data / "tatoeba/tatoeba.tur-eng.tur").write_text(
        "\n".join(map(_turkish, english)) + "\n", encoding="utf-8"
    )
    (data / "tatoeba/tatoeba.tur-eng.eng").write_text("\n".join(english) + "\n", encoding="utf-8")
    (data / "tatoeba/tatoeba.deu-eng.deu").write_text("\n".join(english[::-1]) + "\n", encoding="utf-8")
    (data / "tatoeba/tatoeba.deu-eng.eng").write_text("\n".join(english[::-1]) + "\n", encoding="utf-8")
    _write_gz(data / "ntrex/newstest2019-src.eng.txt.gz", english)
    _write_gz(data / "ntrex/newstest2019-ref.tur.txt.gz", [_turkish(s) for s in english])
    _write_gz(data / "bible/eng.tsv.gz", [f"MRK.1.{i}\t{sentence()}" for i in range(1, 60)])
    return data


def _base_model(root: Path, words: list[str], rng: random.Random) -> Path:
    """Write a tiny XLM-R masked LM (random weights) whose tokenizer knows the Latin words."""
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    from xling.artifacts import write_metadata
    from xling.tokenization.vocabulary import VocabConfig, load_tokenizer, train_vocabulary

    old = [" ".join(rng.choice(words) for _ in range(6)) for _ in range(300)]
    train_vocabulary({"eng": lambda: iter(old)},
                     VocabConfig(output=str(root / "tokenizer"), vocab_size=320, sample_sentences=300, threads=1))  # fmt: skip
    tokenizer = load_tokenizer(root / "tokenizer")
    torch.manual_seed(0)
    config = XLMRobertaConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                              intermediate_size=64, max_position_embeddings=130, pad_token_id=tokenizer.pad_token_id)  # fmt: skip
    base = root / "tiny-base"
    XLMRobertaForMaskedLM(config).save_pretrained(base)
    tokenizer.save_pretrained(base)
    write_metadata(base, {"kind": "masked-lm", "languages": ["eng", "deu"], "pooling": "mean"})
    return base


def test_base_full_and_lora_side_by_side(bench, tmp_path, capsys):
    rng = random.Random(0)
    words = sorted({"".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3))) for _ in range(80)})
    data = _data_root(tmp_path, words, rng)
    base = _base_model(tmp_path, words, rng)
    args = argparse.Namespace(base=base, steps=2, udhr=False, old_tatoeba=True, threads=1, seed=0,
                              work=tmp_path / "work", pretrain_steps=None)  # fmt: skip
    bench.ensure_base(base, None)  # present: nothing to build
    report = bench.build_report(args, data)
    models = report["models"]
    assert list(models) == ["base", "full", "lora"]
    assert report["old_tatoeba_languages"] == ["deu"]  # listed, in Tatoeba, not English
    for name in models:
        assert {"tatoeba", "ntrex", "old_tatoeba", "mlm_perplexity", "tokens_per_sentence",
                "old_mlm_perplexity", "size_mb"} <= set(models[name]), name  # fmt: skip
    for name in ("full", "lora"):
        assert models[name]["seconds"] > 0 and models[name]["added_pieces"] > 0
        # the new pieces spell the made-up letters: shorter segmentations than the base's
        assert models[name]["tokens_per_sentence"] < models["base"]["tokens_per_sentence"]
    assert models["lora"]["adapter_mb"] > 0 and models["full"]["adapter_mb"] is None
    bench.print_table(report)
    out = capsys.readouterr().out
    assert "Turkish held-out MLM perplexity" in out and "LoRA adapter MB" in out


def test_a_missing_foreign_base_is_not_built(bench, tmp_path):
    with pytest.raises(SystemExit, match="no model there"):
        bench.ensure_base(tmp_path / "nothing", None)
