"""benchmarks/mt_warm_start.py end to end on a tiny recipe over the bundled sample corpus."""

from __future__ import annotations

import json

import torch


def test_random_and_warm_runs_differ_only_by_the_start(tmp_path, sample_tokenizer_dir, load_benchmark):
    from tokenizers import Tokenizer

    from xling.embeddings.static import StaticSentenceEncoder

    tokenizer = Tokenizer.from_file(str(sample_tokenizer_dir / "tokenizer.json"))
    encoder = tmp_path / "static"
    rows = torch.randn(tokenizer.get_vocab_size(), 32, generator=torch.Generator().manual_seed(0))
    StaticSentenceEncoder(tokenizer, rows).save(encoder)
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(
        f"""[mt]
tokenizer = "{sample_tokenizer_dir}"
model = "tiny"
dev_fraction = 0.2
dev_directions = ["eng-deu"]
dev_max_sentences = 5
[mt.data]
corpus = "sample"
languages = ["eng", "deu"]
[mt.training]
batch_size = 8
""",
        encoding="utf-8",
    )
    bench = load_benchmark("mt_warm_start")
    out = tmp_path / "figures.json"
    figures = bench.main(["--recipe", str(recipe), "--encoder", str(encoder), "--steps", "4", "--warmup", "1",
                          "--json", str(out)])  # fmt: skip
    random_run, warm_run = figures["runs"]["random"], figures["runs"]["warm"]
    assert sorted(random_run["loss"]) == sorted(warm_run["loss"]) and 4 in random_run["loss"]
    assert random_run["loss"][1] != warm_run["loss"][1]  # the same first batch, a different start
    assert "dev_chrf" in random_run["dev"] and "dev_chrf" in warm_run["dev"]
    assert json.loads(out.read_text())["settings"]["encoder"] == str(encoder)
