"""benchmarks/mt_average.py and mt_decode_options.py end to end on a tiny run over the bundled sample corpus."""

from __future__ import annotations

import pytest


@pytest.fixture
def tiny_mt_run(tmp_path, sample_tokenizer_dir):
    """Return (run folder, recipe) of a 4-step tiny eng -> deu run on the bundled sample, checkpoints at 2 and 4."""
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
    return tmp_path / "run", recipe


def test_dev_chrf_of_averaged_checkpoints(tiny_mt_run, load_benchmark, caplog):
    run, recipe = tiny_mt_run
    bench = load_benchmark("mt_average")
    report = bench.main(["--run", str(run), "--recipe", str(recipe), "--k", "1,2,3", "--sentences", "5"])
    one, two, three = report["rows"]
    assert one["steps"] == [4] and two["steps"] == [2, 4] and three["steps"] == [2, 4]
    assert "--k 3: 3 checkpoints asked for" in caplog.text and "the mean of 2" in caplog.text
    assert set(one["dev_chrf++"]) == {"eng-deu"} and 0 <= two["average"] <= 100
    # a recipe other than the run's (here another model shape) would rebuild another model: refused
    other = run.parent / "other.toml"
    other.write_text(recipe.read_text(encoding="utf-8").replace('model = "tiny"', 'model = "small"'), "utf-8")
    with pytest.raises(SystemExit, match=r"other settings than .*other\.toml \(model\)"):
        bench.main(["--run", str(run), "--recipe", str(other), "--k", "1", "--sentences", "5"])


def test_dev_chrf_of_decoding_options(tiny_mt_run, load_benchmark):
    run, recipe = tiny_mt_run
    bench = load_benchmark("mt_decode_options")
    report = bench.main(["--model", str(run), "--recipe", str(recipe), "--options", "1:1.0:0:1.0,2:0.6:3:1.2",
                         "--sentences", "5", "--threads", "1", "--json", str(run.parent / "decode.json")])  # fmt: skip
    greedy, beam = report["rows"]
    assert (greedy["beam_size"], beam["beam_size"], beam["length_penalty"]) == (1, 2, 0.6)
    assert (beam["no_repeat_ngram_size"], beam["repetition_penalty"]) == (3, 1.2)
    assert set(greedy["dev_chrf++"]) == {"eng-deu"} and 0 <= beam["average"] <= 100
    assert (run.parent / "decode.json").is_file()
