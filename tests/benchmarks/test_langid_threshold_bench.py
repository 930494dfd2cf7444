"""benchmarks/langid_threshold.py: what the `und` threshold costs on held-out text and buys on text in
languages the detector never learnt."""

from __future__ import annotations

import gzip
import json

FINNISH = [  # written for this test; Finnish is not among the bundled sample's languages
    "Kaikki ihmiset syntyvät vapaina ja tasavertaisina arvoltaan ja oikeuksiltaan.",
    "Jokaisella on oikeus elämään, vapauteen ja henkilökohtaiseen turvallisuuteen kaikkialla.",
    "Ketään ei saa pitää orjana tai maaorjana missään muodossa tai olosuhteissa.",
]


def test_measures_known_and_never_learnt_text(
    load_benchmark, tiny_detector_folder, tiny_langid_recipe, tmp_path
):
    data = tmp_path / "data"
    (data / "udhr").mkdir(parents=True)
    for name, lines in [("fin", FINNISH), ("007", ["Kala ui järvessä hyvin nopeasti tänään illalla."]),
                        ("deu", ["Alle Menschen sind frei und gleich an Würde und Rechten geboren."])]:  # fmt: skip
        with gzip.open(data / "udhr" / f"{name}.txt.gz", "wt", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
    (data / "swadesh" / "swadesh207").mkdir(parents=True)
    (data / "swadesh" / "swadesh207" / "fin-000.txt").write_text("minä\nsinä\nhän\n", "utf-8")
    (data / "swadesh" / "swadesh207" / "deu-000.txt").write_text("ich\ndu\ner\n", "utf-8")
    bench = load_benchmark("langid_threshold")
    report = bench.main(["--model", str(tiny_detector_folder), "--recipe", str(tiny_langid_recipe),
                         "--set", f"data.data={data}", "--thresholds", "0,0.5,0.999",
                         "--json", str(tmp_path / "out.json")])  # fmt: skip
    # the learnt language (deu) is no negative; Finnish and the unnamed file are
    assert report["sizes"]["unknown varieties"] == 2 and report["sizes"]["unknown word-list varieties"] == 1
    assert report["sizes"]["unknown udhr lines"] == 4 and report["sizes"]["unknown swadesh words"] == 3
    zero, half, strict = report["rows"]
    assert (
        zero["known lines accuracy"] > 80
        and zero["known short und"] == 0
        and zero["unknown udhr lines und"] == 0
    )
    for looser, stricter in [(zero, half), (half, strict)]:
        for column in looser:
            if column.endswith("und"):
                assert stricter[column] >= looser[column], column
            elif column.endswith("accuracy"):
                assert stricter[column] <= looser[column], column
    assert strict["unknown swadesh words und"] > zero["unknown swadesh words und"]
    assert json.loads((tmp_path / "out.json").read_text("utf-8"))["rows"] == json.loads(
        json.dumps(report["rows"])
    )
