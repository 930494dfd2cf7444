"""benchmarks/adapt.py: `--set` overrides win over the script's own settings, and a dev figure is one only
on data the adaptation did not train on."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def bench() -> ModuleType:
    """Return benchmarks/adapt.py as a module (it imports bench_common from its folder)."""
    name = "adapt_bench"
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / "adapt.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(BENCHMARKS))
    sys.modules[name] = module  # dataclasses look their module up there while the class is made
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
        sys.modules.pop(name, None)
    return module


@pytest.fixture
def adapted(bench, monkeypatch) -> list:
    """Return the configs `adapt` is called with; it writes a model folder's files and reads no data."""
    configs = []

    def fake_adapt(config):
        configs.append(config)
        output = Path(config.output)
        (output / "0_StaticEmbedding").mkdir(parents=True, exist_ok=True)
        for name in ("modules.json", "xling.json"):
            (output / name).write_text("{}", encoding="utf-8")
        sources = [{"kind": "parallel", "source": spec, "items": 1} for spec in config.parallel]
        return SimpleNamespace(vocabulary={}, examples={}, before={}, after={}, data=sources)

    monkeypatch.setattr(bench, "adapt", fake_adapt)
    return configs


def test_a_set_training_threads_wins_over_the_scripts_two(bench, adapted, tmp_path):
    """`threads = 2` was set after the overrides, so `--set training.threads=1` was ignored."""
    recipe = bench.Recipe(dictionary=["d.tsv"])
    bench.run_adaptation("base", "tur", recipe, tmp_path / "a", {"training": {"max_steps": 5}}, None)
    bench.run_adaptation("base", "tur", recipe, tmp_path / "b", {}, None, ["training.threads=1"])
    assert [c.training.threads for c in adapted] == [2, 1]
    assert adapted[0].training.max_steps == 5


def test_the_udhr_dev_figure_follows_the_data_the_adaptation_read(bench, adapted, tmp_path, monkeypatch):
    """A recipe without UDHR pairs, run with `--set 'parallel=["udhr"]'`, reported its trained articles as
    dev figures."""
    recipe = tmp_path / "recipe.toml"
    recipe.write_text('[adapt]\npivot = "eng"\n[languages.tur]\ndictionary = ["d.tsv"]\n', encoding="utf-8")
    dev_runs = []
    monkeypatch.setattr(bench, "write_protect_files", lambda shared, data: None)
    monkeypatch.setattr(bench, "scores", lambda model, lang, data: {"tatoeba": 1.0, "ntrex": 1.0})
    monkeypatch.setattr(bench, "old_average", lambda model, data: 1.0)
    monkeypatch.setattr(bench, "udhr_dev", lambda model, lang, data: dev_runs.append(model) or 1.0)
    base = tmp_path / "base"
    base.mkdir()
    (base / "xling.json").write_text('{"languages": ["eng", "deu"]}', encoding="utf-8")
    command = ["adapt.py", "--recipe", str(recipe), "--data", str(tmp_path), "--work", str(tmp_path / "w"),
               "--langs", "tur", "--model", str(base)]  # fmt: skip
    monkeypatch.setattr(sys, "argv", command)
    assert bench.main() == 0 and len(dev_runs) == 2  # before and after: the recipe trains on no UDHR
    dev_runs.clear()
    monkeypatch.setattr(sys, "argv", [*command, "--set", 'parallel=["udhr"]'])
    assert bench.main() == 0 and dev_runs == []
    assert adapted[-1].parallel == ["udhr"]
    # a UDHR file read as text is training data too
    udhr = tmp_path / "udhr"
    udhr.mkdir()
    (udhr / "tur.txt.gz").write_bytes(b"")
    assert bench.trains_on_udhr([{"kind": "text", "source": str(udhr / "tur.txt.gz")}], tmp_path)
    assert not bench.trains_on_udhr([{"kind": "dictionary", "source": "d.tsv"}], tmp_path)


def test_a_model_that_already_lists_a_language_is_refused_naming_the_base(bench, tmp_path):
    """The shipped xling-mini has the recipe's languages: adapt refused Turkish after the run had begun."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "xling.json").write_text('{"languages": ["eng", "tur", "arb"]}', encoding="utf-8")
    with pytest.raises(SystemExit, match=r"already lists tur, arb.*runs/xling-mini-languages/base"):
        bench.check_not_listed(str(model), ["tur", "arb", "hin"])
    bench.check_not_listed(str(model), ["hin", "tha"])


def test_a_languages_own_static_settings_join_the_shared_ones(bench, adapted, tmp_path):
    recipe = bench.Recipe(parallel=["udhr"], static={"clause_pairs": 8})
    shared = {"static": {"margin": 0.2}}
    bench.run_adaptation("base", "arb", recipe, tmp_path / "a", shared, None)
    bench.run_adaptation("base", "tur", bench.Recipe(parallel=["udhr"]), tmp_path / "b", shared, None)
    assert [(c.static.clause_pairs, c.static.margin) for c in adapted] == [(8, 0.2), (0, 0.2)]


def test_the_json_holds_the_issues_keys_with_cpu_seconds_and_the_old_languages_drop(
    bench, adapted, tmp_path, monkeypatch
):
    """The issue's `{"languages": {lang: {"before", "after", "seconds"}}, "old_languages": {"before", "after"}}`,
    `seconds` being CPU seconds (it held the wall time), and whether the old languages kept within 0.5."""
    import json

    monkeypatch.setattr(bench, "check_not_listed", lambda model, langs: None)
    monkeypatch.setattr(bench, "load_recipe", lambda path: ({}, {"tur": bench.Recipe(dictionary=["d.tsv"])}))
    monkeypatch.setattr(bench, "write_protect_files", lambda shared, data: None)
    monkeypatch.setattr(bench, "trains_on_udhr", lambda sources, data: True)
    monkeypatch.setattr(
        bench, "scores", lambda model, lang, data: {"tatoeba": 10.0 + ("+" in model) * 20, "ntrex": 5.0}
    )
    monkeypatch.setattr(bench, "old_average", lambda model, data: 55.3 if "+" not in model else 54.6)
    monkeypatch.setattr(bench, "data_root", lambda data: SimpleNamespace(path=tmp_path))
    report = tmp_path / "adapt.json"
    monkeypatch.setattr(sys, "argv", ["adapt.py", "--model", str(tmp_path / "base"), "--langs", "tur",
                                      "--work", str(tmp_path / "work"), "--json", str(report)])  # fmt: skip
    assert bench.main() == 0
    saved = json.loads(report.read_text(encoding="utf-8"))
    tur = saved["languages"]["tur"]
    assert tur["before"] == {"tatoeba": 10.0, "ntrex": 5.0} and tur["after"] == {
        "tatoeba": 30.0,
        "ntrex": 5.0,
    }
    assert tur["seconds"] >= 0 and tur["wall_seconds"] >= 0 and "cpu_seconds" not in tur
    assert saved["old_languages"] == {"before": 55.3, "after": 54.6, "drop": 0.7, "within_0_5": False}
