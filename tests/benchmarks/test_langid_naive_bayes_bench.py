"""benchmarks/langid_naive_bayes.py: the model families compared on a recipe's held-out sets."""

from __future__ import annotations

import json

import pytest

from xling.langid import LanguageIdentifier


def test_compares_on_the_recipes_held_out_sets(
    load_benchmark, tiny_detector_folder, tiny_langid_recipe, tmp_path
):
    bench = load_benchmark("langid_naive_bayes")
    report = bench.main(["--model", str(tiny_detector_folder), "--recipe", str(tiny_langid_recipe), "--alphas", "0.01,1e9",
                         "--umsab", str(tmp_path / "none"), "--json", str(tmp_path / "out.json")])  # fmt: skip
    fasttext, fitted, flattened = report["rows"].values()
    assert set(report["sizes"]) == {"lines", "short", "medium"} and report["sizes"]["lines"] >= 90
    assert fasttext["lines"] >= 80 and fitted["lines"] >= 80
    # smoothing that swamps every count leaves the labels nearly alike: far below a fitted model
    assert flattened["short"] < fitted["short"] - 20
    # the same counts at any alpha: the same non-zeros; the trained model's size as it reports it
    assert fitted["size_mb"] == flattened["size_mb"]
    assert fasttext["size_mb"] == LanguageIdentifier.from_pretrained(tiny_detector_folder).size_bytes / 1e6
    assert all(row["texts_per_s"] > 0 for row in report["rows"].values())
    assert json.loads((tmp_path / "out.json").read_text("utf-8"))["rows"] == json.loads(
        json.dumps(report["rows"])
    )


def test_the_model_to_compare_with_must_be_named(load_benchmark):
    # its default was once the shipped detector, naive Bayes itself since 359ebc4: naive Bayes against itself
    with pytest.raises(SystemExit):
        load_benchmark("langid_naive_bayes").main(["--alphas", "0.1"])
