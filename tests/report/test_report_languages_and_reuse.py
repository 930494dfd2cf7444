"""`xling report`: few-shot rows keyed by UMSAB folder names, a pretrain model's training data, a report inside
the model folder, --fail-under language forms and NaN, mining over every Bible, and a damaged task file."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest

from xling.errors import ConfigError, DataError
from xling.evaluation.result import Result
from xling.report import ReportConfig, run_report
from xling.report.run import TaskOutcome, check_guards, parse_guard, training_data


def test_few_shot_rows_keyed_by_language_names_are_matched_as_languages():
    from xling.report.html import unseen_keys

    result = {"scores": {"french": {"k0": 40.0}, "german": {"k0": 41.0}, "arabic": {"k0": 30.0},
                         "swahili": {"k0": 20.0}}}  # fmt: skip
    # arabic's ara is the macrolanguage of the model's arb
    assert unseen_keys(result, ["eng", "deu", "fra", "arb"]) == ["swahili"]


def test_training_data_of_a_pretrain_model_reads_its_data_section_and_its_languages(
    tiny_encoder, report_data, tmp_path
):
    from xling.report.tasks import describe_model

    model = describe_model(str(tiny_encoder))
    metadata = {"kind": "masked-lm", "languages": ["eng", "deu"],
                "config": {"data": {"corpus": "bible", "languages": [], "heldout_prefixes": ["JHN."]}}}  # fmt: skip
    model = dataclasses.replace(model, metadata=metadata)
    scores = {lang: {"accuracy": 50.0} for lang in ("deu", "fra")}
    result = Result(task="tatoeba", model="m", data="d", scores=scores, average=50.0, primary="accuracy")
    config = ReportConfig(model=str(tiny_encoder), data=str(report_data), output=str(tmp_path / "out"))
    found = training_data(config, model, [TaskOutcome("tatoeba", "done", result=result)])
    lines = (report_data / "bible" / "deu.tsv").read_text(encoding="utf-8").splitlines()
    outside = sum(1 for line in lines if line.strip() and not line.startswith("JHN."))
    assert 0 < outside < len(lines)
    assert found["counts"] == {"deu": outside}  # fra has a Bible but the model never trained on it
    assert "JHN." in found["source"]


def test_a_report_inside_the_model_folder_is_reused(tiny_encoder, report_data, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(tiny_encoder, model)
    config = ReportConfig(model=str(model), data=str(report_data), output=str(model / "report"),
                          tasks=["tatoeba"], languages=["deu"])  # fmt: skip
    first = run_report(config)
    assert first.tasks[0].status == "done"
    again = run_report(config)
    assert again.tasks[0].status == "cached"
    assert again.report["model"]["fingerprint"] == first.report["model"]["fingerprint"]


def test_fail_under_matches_the_language_in_any_code_form():
    ran = {"tasks": {"tatoeba": {"status": "done", "result": {"primary": "accuracy", "average": 50.0,
                                                                "scores": {"deu": {"accuracy": 50.0}}}},
                     "transfer": {"status": "done", "result": {"primary": "macro_f1", "average": 40.0,
                                  "scores": {"german": {"macro_f1": 40.0, "language": "deu"}}}}}}  # fmt: skip
    guards = ["tatoeba:accuracy@de=49", "tatoeba:accuracy@deu=49", "transfer:macro_f1@de=39",
              "transfer:macro_f1@german=39", "transfer:macro_f1@deu=39"]  # fmt: skip
    assert check_guards(ran, [parse_guard(text) for text in guards]) == []
    assert check_guards(ran, [parse_guard("tatoeba:accuracy@de=51")]) == [
        "tatoeba:accuracy@de=51: tatoeba accuracy for de is 50, below 51"
    ]
    # a macrolanguage is the member the tasks read for it: ms is zsm (not Indonesian), no is nob (not nynorsk)
    rows = {
        "ind": {"accuracy": 92.0},
        "nno": {"accuracy": 20.0},
        "nob": {"accuracy": 90.0},
        "zsm": {"accuracy": 30.0},
    }
    ran["tasks"]["tatoeba"]["result"]["scores"] = rows
    assert check_guards(
        ran, [parse_guard("tatoeba:accuracy@ms=50"), parse_guard("tatoeba:accuracy@no=50")]
    ) == ["tatoeba:accuracy@ms=50: tatoeba accuracy for ms is 30, below 50"]
    # a member with no row of its own is not measured, not its macrolanguage's row: Tatoeba's kur is
    # Kurmanji, which Sorani (ckb) was scored as; ara is Standard Arabic, not Moroccan (ary)
    ran["tasks"]["tatoeba"]["result"]["scores"] = {"kur": {"accuracy": 70.0}, "ara": {"accuracy": 80.0}}
    failures = check_guards(ran, [parse_guard("tatoeba:accuracy@ckb=50"), parse_guard("tatoeba:accuracy@ary=50"),
                                  parse_guard("tatoeba:accuracy@kmr=50")])  # fmt: skip
    assert [line.split(":")[1] for line in failures] == ["accuracy@ckb=50", "accuracy@ary=50"]
    assert all("was not measured" in line for line in failures)


@pytest.mark.parametrize(
    "text",
    ["tatoeba:accuracy=nan", "tatoeba:accuracy@deu=NaN", "tatoeba:accuracy=inf", "ntrex:accuracy=-Infinity"],
)
def test_a_threshold_that_is_no_finite_number_is_refused(text):
    # inf: every report fails; -inf: the guard never can
    with pytest.raises(ConfigError, match="--fail-under.*not a finite number"):
        parse_guard(text)


def test_mining_with_all_languages_mines_every_bible(tiny_encoder, report_data, tmp_path):
    from xling.report.tasks import TASKS, Context, describe_model

    model = describe_model(str(tiny_encoder))
    config = ReportConfig(model=model.ref, data=str(report_data), output=str(tmp_path / "out"),
                          languages=["all"], mining_languages=["deu"])  # fmt: skip
    assert TASKS["mining"].plan(Context(config, model)).settings["languages"] == ["deu", "fra"]


def test_a_damaged_task_file_runs_the_task_again(tiny_encoder, report_data, tmp_path):
    config = ReportConfig(model=str(tiny_encoder), data=str(report_data), output=str(tmp_path / "out"),
                          tasks=["tatoeba"], languages=["deu"])  # fmt: skip
    run_report(config)
    path = tmp_path / "out" / "tasks" / "tatoeba.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    del data["result"]["average"]
    path.write_text(json.dumps(data), encoding="utf-8")
    again = run_report(config)
    assert again.tasks[0].status == "done"
    assert "average" in json.loads(path.read_text(encoding="utf-8"))["result"]


def test_output_folder_fingerprint_helper_is_path_independent(tmp_path):
    from xling.report.tasks import model_fingerprint

    (tmp_path / "a.txt").write_text("x", encoding="utf-8")
    before = model_fingerprint(tmp_path)
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "report.json").write_text("{}", encoding="utf-8")
    assert model_fingerprint(tmp_path, exclude=tmp_path / "report") == before
    assert model_fingerprint(tmp_path) != before


def _umsab_copy(report_data, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(report_data, data)
    return data, data / "sentiment" / "umsab"


def test_transfer_never_adapts_on_the_test_texts_it_scores(tiny_encoder, report_data, tmp_path, monkeypatch):
    """A target without a train split was adapted (and self-trained) on its test texts, then scored on them."""
    import xling.transfer.classifier as classifier

    data, umsab = _umsab_copy(report_data, tmp_path)
    for name in ("train_text.txt", "train_labels.txt"):
        (umsab / "german" / name).unlink()
    adapted: dict[str, int] = {}
    adapt = classifier.FrozenEncoderClassifier._adapt

    def spy(self, code, vectors, **options):
        adapted[code] = len(vectors)
        return adapt(self, code, vectors, **options)

    monkeypatch.setattr(classifier.FrozenEncoderClassifier, "_adapt", spy)
    outcome = run_report(ReportConfig(model=str(tiny_encoder), output=str(tmp_path / "out"), data=str(data),
                                      tasks=["transfer"]))  # fmt: skip
    assert outcome.tasks[0].status == "done" and "deu" not in adapted


def test_umsabs_pooled_all_folder_is_no_target_language(tiny_encoder, report_data, tmp_path):
    """cardiffnlp/xlm-t's `all/` pools every language's tweets; `all` is also an ISO 639-3 code (Allar)."""
    from xling.data.labelled import umsab_languages

    data, umsab = _umsab_copy(report_data, tmp_path)
    shutil.copytree(umsab / "german", umsab / "all")
    assert "all" not in umsab_languages(umsab) and "german" in umsab_languages(umsab)
    outcome = run_report(ReportConfig(model=str(tiny_encoder), output=str(tmp_path / "out"), data=str(data),
                                      tasks=["transfer"]))  # fmt: skip
    assert outcome.tasks[0].settings["targets"] == ["german"]


class _RecordingEncoder:
    """An encoder that records every text it encodes (one-hot rows: each text retrieves its own line)."""

    def __init__(self):
        self.seen: list[str] = []

    def encode(self, texts, **options):
        import numpy as np

        self.seen.extend(texts)
        return np.eye(len(texts), dtype="float32")


def test_ntrex_keeps_the_script_and_region_a_language_is_asked_in(tmp_path):
    """zh-TW, zh-Hant and zho-TW read the Traditional reference (zho-TW), sr-Latn the Latin one; the plain
    codes their language's default (zho-CN, srp-Cyrl); rows are keyed by the file tag read."""
    import gzip
    from types import SimpleNamespace

    from xling.report.tasks import TASKS, Context

    ntrex = tmp_path / "ntrex"
    ntrex.mkdir()
    for tag in ("src.eng", "ref.zho-CN", "ref.zho-TW", "ref.srp-Cyrl", "ref.srp-Latn"):
        with gzip.open(ntrex / f"newstest2019-{tag}.txt.gz", "wt", encoding="utf-8") as handle:
            handle.writelines(f"{tag} {n}\n" for n in range(3))
    config = ReportConfig(data=str(tmp_path), languages=["zh-TW", "sr-Latn", "zh-Hant", "zho-TW", "zh", "sr"])
    ctx = Context(config, SimpleNamespace(languages=None, ref="m"))
    plan = TASKS["ntrex"].plan(ctx)
    assert plan.settings["languages"] == ["zho-TW", "srp-Latn", "zho", "srp"]
    # a script and a region find a file tagged by the script alone (sr-Latn-RS was left out)
    serbian = Context(dataclasses.replace(config, languages=["sr-Latn-RS", "zh-Hant-TW"]), ctx.model)
    assert TASKS["ntrex"].plan(serbian).settings["languages"] == ["srp-Latn", "zho-TW"]
    ctx.loaded["encoder"] = encoder = _RecordingEncoder()
    result = TASKS["ntrex"].run(ctx, plan)
    assert list(result.scores) == ["zho-TW", "srp-Latn", "zho", "srp"]
    read = {text.rsplit(" ", 1)[0] for text in encoder.seen}
    assert read == {"src.eng", "ref.zho-CN", "ref.zho-TW", "ref.srp-Cyrl", "ref.srp-Latn"}
    # a script no file is in is said and left out, not scored against another script's text
    hong_kong = Context(dataclasses.replace(config, languages=["zh-HK", "deu"]), ctx.model)
    with pytest.raises(DataError, match="none of the languages asked for has an NTREX reference"):
        TASKS["ntrex"].plan(hong_kong)


def test_a_macrolanguage_picks_the_member_it_stands_for_not_every_member():
    """--languages zh scores Mandarin (cmn), as `xling eval tatoeba` reads zh, not also Cantonese and Wu; the
    default yardstick ara (Standard Arabic) not also Algerian and Egyptian Arabic."""
    from types import SimpleNamespace

    from xling.report.tasks import Context

    available = ["ara", "arq", "arz", "cmn", "deu", "wuu", "yue"]

    def pick(languages, yardstick=()):
        return Context(ReportConfig(languages=languages), SimpleNamespace(languages=None)).pick(
            available, yardstick
        )

    assert pick(["zh"]) == pick(["zho"]) == pick(["cmn"]) == ["cmn"]
    assert pick(["ar"]) == pick(["arb"]) == ["ara"]
    assert pick(["yue", "de"]) == ["deu", "yue"]
    assert pick([], ["ara", "deu"]) == ["ara", "deu"]
    assert pick(["all"]) == available
    # a macrolanguage none of whose members there it stands for is each of them (sh: nothing was scored)
    serbo_croatian = ["bos", "deu", "hrv", "srp"]
    assert Context(ReportConfig(languages=["sh", "de"]), SimpleNamespace(languages=None)).pick(
        serbo_croatian
    ) == (serbo_croatian)


def test_training_data_counts_leave_out_the_heldout_fraction_the_training_held_out(
    tiny_encoder, report_data, tmp_path
):
    """An `xling pretrain` model with data.heldout_fraction never saw that hashed share of the verses."""
    from xling.data.sources import HeldOut
    from xling.report.tasks import describe_model

    model = describe_model(str(tiny_encoder))
    data = {"corpus": "bible", "heldout_prefixes": ["JHN."], "heldout_fraction": 0.5}
    model = dataclasses.replace(
        model, metadata={"kind": "masked-lm", "languages": ["deu"], "config": {"data": data}}
    )
    result = Result(task="tatoeba", model="m", data="d", scores={"deu": {"accuracy": 50.0}}, average=50.0,
                    primary="accuracy")  # fmt: skip
    config = ReportConfig(model=str(tiny_encoder), data=str(report_data), output=str(tmp_path / "out"))
    found = training_data(config, model, [TaskOutcome("tatoeba", "done", result=result)])
    held = HeldOut(("JHN.",), 0.5)
    lines = (report_data / "bible" / "deu.tsv").read_text(encoding="utf-8").splitlines()
    trained = sum(1 for line in lines if line.strip() and line.split("\t", 1)[0] not in held)
    outside = sum(1 for line in lines if line.strip() and not line.startswith("JHN."))
    assert 0 < trained < outside  # the hash holds some of the verses outside John out
    assert found["counts"] == {"deu": trained}
    assert "50%" in found["source"]


def test_a_fewshot_row_without_a_std_is_drawn_without_an_error_bar():
    """A std of None (one draw, or a result without it) or NaN made matplotlib raise ('yerr' must not
    contain None) and the page was not written."""
    from xling.report import plots
    from xling.report.html import _fewshot_section

    assert "<svg" in plots.fewshot_chart(
        {"german": [(0, 40.0, None), (8, 45.0, float("nan")), (32, 50.0, 1.5)]}
    )
    scores = {"german": {"k0": 40.0, "k0_std": None, "k8": 45.0, "k8_std": 2.0}}
    report = {
        "tasks": {
            "fewshot": {
                "status": "done",
                "result": {"scores": scores, "settings": {"ks": [0, 8], "seeds": 1}},
            }
        }
    }
    assert "<svg" in _fewshot_section(report)


def test_a_nan_figure_fails_its_guard_and_is_null_in_report_json(
    tiny_encoder, report_data, tmp_path, monkeypatch
):
    """Every comparison with NaN is false, so `nan < 50` let a NaN figure pass any --fail-under; report.json
    held a bare NaN, which is no JSON."""
    from xling.report.tasks import TASKS

    def broken(ctx, plan):
        scores = {"deu": {"accuracy": float("nan"), "n": 60}}
        return Result(
            task="tatoeba", model="m", data="d", scores=scores, average=float("nan"), primary="accuracy"
        )

    monkeypatch.setitem(TASKS, "tatoeba", dataclasses.replace(TASKS["tatoeba"], run=broken))
    config = ReportConfig(model=str(tiny_encoder), data=str(report_data), output=str(tmp_path / "out"),
                          tasks=["tatoeba"], languages=["deu"],
                          fail_under=["tatoeba:accuracy=50", "tatoeba:accuracy@deu=50"])  # fmt: skip
    outcome = run_report(config)
    assert outcome.failures == [
        "tatoeba:accuracy=50: tatoeba accuracy is NaN (not a number), which fails every threshold",
        "tatoeba:accuracy@deu=50: tatoeba accuracy for deu is NaN (not a number), which fails every threshold",
    ]

    def no_constants(name):
        raise AssertionError(f"report.json holds {name}, which is no JSON")

    written = json.loads(outcome.json_path.read_text(encoding="utf-8"), parse_constant=no_constants)
    assert written["tasks"]["tatoeba"]["result"]["average"] is None
    assert written["tasks"]["tatoeba"]["result"]["scores"]["deu"] == {"accuracy": None, "n": 60}


def test_umsab_languages_of_a_split_leave_out_folders_without_it(tmp_path, caplog):
    # the shared copy's italian and portuguese have no test split: `transfer eval --umsab` stopped at them
    from xling.data.labelled import umsab_languages

    for name, splits in (("german", ("train", "test")), ("italian", ("train",)), ("all", ("test",))):
        (tmp_path / name).mkdir()
        for split in splits:
            (tmp_path / name / f"{split}_text.txt").write_text("x\n", encoding="utf-8")
    assert umsab_languages(tmp_path) == ["german", "italian"]
    with caplog.at_level("WARNING", logger="xling"):
        assert umsab_languages(tmp_path, "test") == ["german"]
    assert "italian without a test split, left out" in caplog.text
    assert umsab_languages(tmp_path, "dev") == []


def test_the_transfer_source_may_be_a_language_code(tiny_encoder, report_data, tmp_path):
    """Only the UMSAB folder's name (`english`) was taken: `en` or `eng` skipped transfer and few-shot."""
    from xling.report.tasks import TASKS, Context, describe_model

    model = describe_model(str(tiny_encoder))
    for source in ("en", "eng", "english"):
        config = ReportConfig(model=model.ref, data=str(report_data), output=str(tmp_path / "out"),
                              transfer_source=source)  # fmt: skip
        assert TASKS["transfer"].plan(Context(config, model)).settings["source"] == "english"
