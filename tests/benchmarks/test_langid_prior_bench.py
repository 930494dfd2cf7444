"""benchmarks/langid_prior.py: the held-out sets are the trainer's (a detector trained by the same recipe
scores high on them), and the prior weight reaches the predictions (a huge weight gives every text to the
most-spoken language)."""

from __future__ import annotations

import json


def test_sweep_on_the_recipes_held_out_lines(
    tiny_detector_folder, tiny_langid_recipe, tmp_path, load_benchmark
):
    bench = load_benchmark("langid_prior")  # with benchmarks/ on the path: the script imports bench_common
    umsab = tmp_path / "umsab"
    (umsab / "german").mkdir(parents=True)
    (umsab / "german" / "val_text.txt").write_text(
        "Das Wetter ist heute sehr schön\nIch habe keine Zeit\n", "utf-8"
    )
    report = bench.main(["--model", str(tiny_detector_folder), "--recipe", str(tiny_langid_recipe), "--weights", "0,1000",
                         "--umsab", str(umsab), "--json", str(tmp_path / "out.json")])  # fmt: skip
    plain, swamped = report["rows"]
    assert report["sizes"]["lines"] >= 9 * 10 and report["sizes"]["umsab"] == 2
    assert plain["lines"] >= 80 and plain["umsab"] == 100.0
    # 9 languages: every text given to English scores 1/9 on the macro average
    assert abs(swamped["lines"] - 100 / 9) < 1 and swamped["umsab"] == 0.0
    assert json.loads((tmp_path / "out.json").read_text("utf-8"))["best_weight"] == 0.0


def test_a_split_other_than_the_models_is_refused(tiny_detector_folder, tiny_langid_recipe, load_benchmark):
    import pytest

    bench = load_benchmark("langid_prior")
    # another seed holds out other lines: the model would be scored on lines it trained on
    with pytest.raises(SystemExit, match="held-out split"):
        bench.main(["--model", str(tiny_detector_folder), "--recipe", str(tiny_langid_recipe), "--set", "seed=7",
                    "--weights", "0"])  # fmt: skip
