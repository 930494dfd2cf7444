"""`xling report`: few-shot rows keyed by UMSAB folder names, a pretrain model's training data, a report inside
the model folder, --fail-under language forms and NaN, mining over every Bible, and a damaged task file."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest

from xling.errors import ConfigError
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
