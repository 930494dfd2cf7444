"""benchmarks/mt_average.py end to end on a tiny run over the bundled sample corpus."""

from __future__ import annotations


def test_dev_chrf_of_averaged_checkpoints(tmp_path, sample_tokenizer_dir, load_benchmark):
    from xling.config import load_config
    from xling.translation.train import MTTrainConfig, train_translation

    recipe = tmp_path / "recipe.toml"
    recipe.write_text(
        f"""[mt]
tokenizer = "{sample_tokenizer_dir}"
model = "tiny"
output = "{tmp_path / "run"}"
dev_fraction = 0.2
dev_directions = ["eng-deu"]
[mt.data]
corpus = "sample"
languages = ["eng", "deu"]
[mt.training]
batch_size = 8
max_steps = 4
checkpoint_every = 2
keep_checkpoints = 0
""",
        encoding="utf-8",
    )
    train_translation(load_config(MTTrainConfig, recipe, section="mt"))
    bench = load_benchmark("mt_average")
    report = bench.main(
        ["--run", str(tmp_path / "run"), "--recipe", str(recipe), "--k", "1,2", "--sentences", "5"]
    )
    one, two = report["rows"]
    assert one["steps"] == [4] and two["steps"] == [2, 4]
    assert set(one["dev_chrf++"]) == {"eng-deu"} and 0 <= two["average"] <= 100
