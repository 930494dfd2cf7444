from pathlib import Path

import pytest

from xling.alignment.sentences.align import AlignConfig
from xling.config import check_int, load_config
from xling.errors import ConfigError
from xling.pretraining.pretrain import PretrainConfig
from xling.tokenization.vocabulary import VocabConfig


def test_defaults_recipe_options_then_overrides(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text(
        '[pretrain]\ntokenizer = "tok"\nmodel = "base"\n[pretrain.training]\nlr = 1e-3\nmax_steps = 50\n'
    )
    config = load_config(PretrainConfig, recipe, ["training.max_steps=70", "data.languages=eng,deu"], section="pretrain",
                         model="small")  # fmt: skip
    assert config.tokenizer == "tok"
    assert config.model == "small"  # an option beats the recipe
    assert config.training.lr == 1e-3 and config.training.max_steps == 70  # --set beats both
    assert config.data.languages == ["eng", "deu"]
    assert config.training.batch_size == PretrainConfig().training.batch_size


def test_a_recipe_saved_with_a_byte_order_mark_loads(tmp_path):
    """Editors on Windows save UTF-8 with a BOM, which TOML took for a statement ("Invalid statement")."""
    recipe = tmp_path / "r.toml"
    recipe.write_bytes('\ufeff[pretrain]\ntokenizer = "t"\nmodel = "tiny"\n'.encode())
    assert load_config(PretrainConfig, recipe, section="pretrain").model == "tiny"


def test_unknown_field_names_the_field_and_file(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text('tokenizer = "t"\n[training]\nlearning_rate = 1\n')
    with pytest.raises(ConfigError, match=r"r\.toml.*unknown field 'training\.learning_rate'"):
        load_config(PretrainConfig, recipe)


def test_set_takes_what_a_shell_user_types_for_numbers_and_booleans():
    """`.5` and `True` are not TOML: they were refused with "cannot parse"."""
    config = load_config(
        PretrainConfig, None, ["tokenizer=t", "tlm_ratio=.5", "resume=True", "training.lr=1."]
    )
    assert (config.tlm_ratio, config.resume, config.training.lr) == (0.5, True, 1.0)
    assert load_config(PretrainConfig, None, ["tokenizer=t", "resume=FALSE"]).resume is False
    with pytest.raises(ConfigError, match=r"resume: expected bool, cannot parse 'yes'"):
        load_config(PretrainConfig, None, ["tokenizer=t", "resume=yes"])
    with pytest.raises(ConfigError, match=r"tlm_ratio: expected float, cannot parse 'half'"):
        load_config(PretrainConfig, None, ["tokenizer=t", "tlm_ratio=half"])


def test_bad_values_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"training.max_steps: expected int.*many"):
        load_config(PretrainConfig, None, ["tokenizer=t", "training.max_steps=many"])
    with pytest.raises(ConfigError, match="expected key=value"):
        load_config(PretrainConfig, None, ["tokenizer"])
    with pytest.raises(ConfigError, match="tlm_ratio"):
        load_config(PretrainConfig, None, ["tokenizer=t", "tlm_ratio=1.5"])
    with pytest.raises(ConfigError, match="recipe file not found"):
        load_config(PretrainConfig, tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("this is = = not toml")
    with pytest.raises(ConfigError, match="not a valid TOML"):
        load_config(PretrainConfig, bad)
    # infinity passed every `> 0` check (lr=inf trained NaN weights, saved as a finished model), and an
    # integer of hundreds of digits broke float() with a traceback
    for value, message in (("inf", "must be a finite number, got inf"), ("-inf", "must be a finite number"),
                           ("1" + "0" * 400, "must be a number within float range")):  # fmt: skip
        with pytest.raises(ConfigError, match=f"training.lr {message}"):
            load_config(PretrainConfig, None, ["tokenizer=t", f"training.lr={value}"])


def test_a_quoted_list_item_keeps_its_commas_and_an_unreadable_list_is_refused():
    """A quoted `--set` value for a list was split on its commas, quotes kept (`"Hello`, `world"`), and
    `[money, shop]` became `[money` and `shop]`."""
    from xling.quickstart import QuickstartConfig

    def queries(value: str) -> list[str]:
        return load_config(QuickstartConfig, None, [f"search_queries={value}"]).search_queries

    assert queries('"Hello, world"') == ["Hello, world"] and queries("'Wo ist es, bitte?'") == [
        "Wo ist es, bitte?"
    ]
    assert queries("a,b") == ["a", "b"] and queries('["a, b", "c"]') == ["a, b", "c"]
    assert queries('"a","b"') == ["a", "b"] and queries("'a, b','c'") == [
        "a, b",
        "c",
    ]  # quoted, comma-separated
    with pytest.raises(ConfigError, match=r"search_queries: '\[money, shop\]' is no TOML list"):
        queries("[money, shop]")


def test_optional_fields_accept_none():
    config = load_config(PretrainConfig, None, ["tokenizer=t", "eval_layer=3"])
    assert config.eval_layer == 3
    assert load_config(PretrainConfig, None, ["tokenizer=t", "eval_layer=none"]).eval_layer is None


def test_explicit_false_from_the_cli_beats_the_recipe_and_not_given_keeps_it(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text('[pretrain]\ntokenizer = "t"\nresume = true\n[pretrain.training]\nprogress = true\n')
    kept = load_config(PretrainConfig, recipe, section="pretrain", resume=None)
    assert kept.resume is True
    turned_off = load_config(PretrainConfig, recipe, section="pretrain", resume=False)
    assert turned_off.resume is False
    assert (
        load_config(
            PretrainConfig, recipe, section="pretrain", training={"progress": False}
        ).training.progress
        is False
    )


def test_no_resume_flag_overrides_a_recipe_through_the_command_line(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from xling.cli import app

    recipe = tmp_path / "r.toml"
    recipe.write_text('[pretrain]\ntokenizer = "t"\nresume = true\n')
    seen = {}

    def fake_pretrain(config):
        seen["resume"] = config.resume
        raise SystemExit(0)

    monkeypatch.setattr("xling.pretraining.pretrain.pretrain", fake_pretrain)
    for flags, expected in (([], True), (["--no-resume"], False), (["--resume"], True)):
        result = CliRunner().invoke(app, ["pretrain", "--recipe", str(recipe), *flags])
        assert result.exit_code == 0, result.output
        assert seen.pop("resume") is expected


def test_data_section_is_shared_and_merged_with_the_recipe(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text(
        '[tokenizer.data]\ncorpus = "c"\nlanguages = ["eng", "deu"]\nheldout_prefixes = ["JHN."]\n'
    )
    config = load_config(VocabConfig, recipe, ["data.skip_bad=true"], section="tokenizer",
                         data={"corpus": "sample", "languages": None})  # fmt: skip
    assert config.data.corpus == "sample"  # the option beats the recipe ...
    assert config.data.languages == ["eng", "deu"] and config.data.heldout_prefixes == [
        "JHN."
    ]  # ... and merges
    assert config.data.skip_bad is True
    assert type(config.data) is type(load_config(AlignConfig, None, ["data.corpus=x", "tokenizer=t"]).data)


def test_a_field_moved_into_the_data_section_is_named(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text('[pretrain]\ntokenizer = "t"\ncorpus = "sample"\n')
    with pytest.raises(ConfigError, match=r"unknown field 'corpus' \(did you mean 'data.corpus'"):
        load_config(PretrainConfig, recipe, section="pretrain")
    with pytest.raises(ConfigError, match="data.heldout_fraction"):
        load_config(PretrainConfig, None, ["tokenizer=t", "data.heldout_fraction=1.5"])


RECIPES = sorted((Path(__file__).resolve().parents[1] / "recipes").glob("*.toml"))


@pytest.mark.parametrize("recipe", RECIPES, ids=[p.name for p in RECIPES])
def test_every_recipe_loads(recipe):
    import tomllib

    from xling.langid.train import LangidTrainConfig
    from xling.translation.train import MTTrainConfig

    sections = {
        "tokenizer": VocabConfig,
        "pretrain": PretrainConfig,
        "align": AlignConfig,
        "mt": MTTrainConfig,
        "langid": LangidTrainConfig,
    }
    tables = tomllib.loads(recipe.read_text(encoding="utf-8"))
    if "languages" in tables:  # recipes/xling-mini-languages.toml: [adapt] shared + [languages.<code>] each
        _check_languages_recipe(tables)
        return
    assert set(tables) <= set(sections), f"{recipe.name}: a table no test loads"
    for section in tables:
        config = load_config(sections[section], recipe, section=section)
        if section == "langid":
            assert config.data.corpora, f"{recipe.name} [{section}]: no data.corpora"
            continue
        assert config.data.corpus, f"{recipe.name} [{section}]: no data.corpus"


def _check_languages_recipe(tables: dict) -> None:
    from xling.adaptation.config import AdaptConfig

    # every shipped language (`order`) is described; others may be described to be measured only
    assert set(tables) == {"order", "adapt", "languages"} and set(tables["order"]) <= set(tables["languages"])
    shared = dict(tables["adapt"])
    for lang in tables["languages"]:
        config = load_config(AdaptConfig, None, [], language=lang, **shared, **tables["languages"][lang])
        assert config.text or config.dictionary or config.parallel
        assert config.training.lr == AdaptConfig().training.lr  # the recipe's table keeps the other defaults


def test_table_entries_set_one_by_one_get_the_value_type():
    from xling.adaptation.config import AdaptConfig

    config = load_config(
        AdaptConfig,
        None,
        ["static.weights.text=0", "static.weights.parallel=2.5"],
        language="tur",
        text=["t.txt"],
    )
    assert config.static.weights == {"text": 0.0, "parallel": 2.5}
    with pytest.raises(ConfigError, match=r"static.weights.text: expected float"):
        load_config(AdaptConfig, None, ["static.weights.text=lots"], language="tur", text=["t.txt"])


def test_a_section_named_in_part_keeps_the_command_defaults_of_the_rest(tmp_path):
    # AlignConfig's training defaults are not TrainingConfig's: setting the learning rate must not reset them
    config = load_config(
        AlignConfig, None, ["training.lr=0.01"], data={"corpus": str(tmp_path)}, tokenizer="t"
    )
    assert (config.training.lr, config.training.weight_decay, config.training.warmup_steps) == (0.01, 0.0, 50)
    recipe = tmp_path / "r.toml"
    recipe.write_text("[adapt.training]\nmax_steps = 7\n", encoding="utf-8")
    from xling.adaptation.config import AdaptConfig

    adapt = load_config(AdaptConfig, recipe, [], section="adapt", language="tur", text=["t.txt"])
    assert (adapt.training.max_steps, adapt.training.lr, adapt.training.batch_size) == (7, 0.05, 256)


def test_a_table_of_the_section_written_beside_it_is_an_error_not_skipped(tmp_path):
    from xling.serving.config import ServeConfig

    recipe = tmp_path / "serve.toml"
    recipe.write_text('[serve]\nport = 9000\n[limits]\napi_keys = ["k"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"did you mean \[serve\.limits\]"):  # else: no authentication
        load_config(ServeConfig, recipe, section="serve")
    recipe.write_text('[serve]\nport = 9000\n[serve.limits]\napi_keys = ["k"]\n[tokenizer]\nx = 1\n', "utf-8")
    assert load_config(ServeConfig, recipe, section="serve").limits.api_keys == ["k"]  # other sections: fine
    # the section misspelt beside it: its settings were never read, without a word
    # in any case: `[Limits]` and `[Serve_limits]` passed the checks written in lower case
    for table, named in (("[Serve.limits]", "Serve"), ("[serve_limits]", "serve_limits"),
                         ("[Serve_limits]", "Serve_limits"), ("[Limits]", "Limits")):  # fmt: skip
        recipe.write_text(f'[serve]\nport = 9000\n{table}\napi_keys = ["k"]\n', encoding="utf-8")
        with pytest.raises(ConfigError, match=rf"\[{named}\] is read by no command here"):
            load_config(ServeConfig, recipe, section="serve")
    recipe.write_text("Port = 9000\n[serve]\nworkers = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"Port = \.\.\. stands outside \[serve\]"):
        load_config(ServeConfig, recipe, section="serve")


@pytest.mark.parametrize(
    ("value", "low", "high", "bound"),
    [(0, 1, None, "at least 1"), (True, 0, None, "at least 0"), (2.0, 1, None, "at least 1"),
     ("3", 1, None, "at least 1"), (11, 1, 10, "from 1 to 10"), (-1, 0, 10, "from 0 to 10")],
)  # fmt: skip
def test_check_int_refuses_anything_but_a_whole_number_in_range(value, low, high, bound):
    with pytest.raises(ConfigError, match=rf"^threads: {value!r} must be a whole number {bound}$"):
        check_int("threads", value, low, high)


def test_check_int_passes_the_bounds_themselves():
    check_int("seed", 0, 0, 10)
    check_int("seed", 10, 0, 10)
    check_int("sample_sentences", 10**9, 1)


def test_set_lists_of_numbers_and_one_item_lists_toml_reads_as_a_scalar():
    config = load_config(
        PretrainConfig, None, ["tokenizer=t", "training.adam_betas=0.9,0.98", "data.languages=nan"]
    )
    assert config.training.adam_betas == (0.9, 0.98)  # items parsed as numbers, as in [0.9, 0.98]
    assert config.data.languages == ["nan"]  # Min Nan's code, not a float
    assert load_config(PretrainConfig, None, ["tokenizer=t", "data.languages=1"]).data.languages == ["1"]


def test_set_takes_a_toml_quoted_string_for_its_value():
    config = load_config(PretrainConfig, None, ["tokenizer=t", 'output="runs/x"', "data.text='deu=a.txt'"])
    assert str(config.output) == "runs/x" and config.data.text == ["deu=a.txt"]


def test_a_path_field_given_a_number_is_a_config_error(tmp_path):
    recipe = tmp_path / "r.toml"
    from xling.export.config import OnnxExportConfig

    recipe.write_text("[export_onnx]\nsample = 5\n")  # was a TypeError traceback
    with pytest.raises(ConfigError, match=r"r\.toml: sample must be a path \(a string\), got 5"):
        load_config(OnnxExportConfig, recipe, section="export_onnx")


def test_recipe_keys_and_tables_outside_the_commands_section_are_refused(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text(
        '[pretrain]\ntokenizer = "t"\n[training]\nmax_steps = 5\n[pretrain.data]\nlanguages = ["deu"]\n'
    )
    with pytest.raises(
        ConfigError, match=r"\[training\] is read by no command here; did you mean \[pretrain.training\]"
    ):
        load_config(PretrainConfig, recipe, section="pretrain")
    recipe.write_text('model = "base"\n[pretrain]\ntokenizer = "t"\n')
    with pytest.raises(ConfigError, match=r"model = \.\.\. stands outside \[pretrain\]"):
        load_config(PretrainConfig, recipe, section="pretrain")
    recipe.write_text(
        'tokenizer = "t"\n[pretrain]\nmodel = "small"\n'
    )  # a field named like a command's table
    with pytest.raises(ConfigError, match=r"tokenizer = \.\.\. stands outside \[pretrain\]"):
        load_config(PretrainConfig, recipe, section="pretrain")
    recipe.write_text('order = ["tur"]\n[tokenizer]\nvocab_size = 8000\n[pretrain]\ntokenizer = "t"\n')
    assert load_config(PretrainConfig, recipe, section="pretrain").tokenizer == "t"  # other keys: fine


def test_an_error_in_a_set_names_set_not_the_recipe(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text('[pretrain]\ntokenizer = "t"\n')
    with pytest.raises(ConfigError, match=r"^--set: unknown field 'bogus'"):
        load_config(PretrainConfig, recipe, ["bogus=1"], section="pretrain")
    recipe.write_text('[pretrain]\nmodel = "small"\n')  # not valid alone: the --set gives its tokenizer
    with pytest.raises(ConfigError, match=r"^--set: training\.lr: expected float"):
        load_config(PretrainConfig, recipe, ["tokenizer=t", "training.lr=fast"], section="pretrain")
    recipe.write_text('[pretrain]\ntokenizer = "t"\nbogus = 1\n')
    with pytest.raises(ConfigError, match=r"r\.toml: unknown field 'bogus'"):
        load_config(PretrainConfig, recipe, ["model=small"], section="pretrain")


def test_a_negative_seed_is_a_config_error_naming_it():
    with pytest.raises(ConfigError, match=r"training\.seed must be 0 or more, got -1"):
        load_config(PretrainConfig, None, ["tokenizer=t", "training.seed=-1"])


def test_every_commands_recipe_table_is_a_known_command_section():
    import re

    from xling.config import COMMAND_SECTIONS

    source = Path(__file__).resolve().parents[1] / "src" / "xling"
    used = {
        match for path in source.rglob("*.py") for match in re.findall(r'section="(\w+)"', path.read_text())
    }
    # a table missing from the list would be refused as a misplaced table in a recipe holding two commands
    assert used and used <= COMMAND_SECTIONS, used - COMMAND_SECTIONS


def test_an_error_in_the_recipe_names_the_recipe_whatever_the_set_items_are(tmp_path):
    """The label was chosen by searching the message for a --set key: a recipe's misplaced max_steps, whose
    hint names training.max_steps, was blamed on `--set training.max_steps=7` (what --max-steps becomes)."""
    recipe = tmp_path / "r2.toml"
    recipe.write_text('[pretrain]\ntokenizer = "x"\nmax_steps = 5\n')
    with pytest.raises(
        ConfigError, match=r"^\S*r2\.toml: unknown field 'max_steps' \(did you mean 'training"
    ):
        load_config(PretrainConfig, recipe, ["training.max_steps=7"], section="pretrain")
    recipe.write_text(
        '[pretrain]\ntokenizer = "x"\n[pretrain.training]\nlr = "fast"\n'
    )  # a --set of the same table
    with pytest.raises(ConfigError, match=r"^\S*r2\.toml: training\.lr must be a number"):
        load_config(PretrainConfig, recipe, ["training.max_steps=7"], section="pretrain")
    # without a recipe, a --set's error names --set, not "options"
    with pytest.raises(ConfigError, match=r"^--set: unknown field 'bogus'"):
        load_config(PretrainConfig, None, ["tokenizer=t", "bogus=1"])
    with pytest.raises(ConfigError, match=r"^--set: tokenizer\.x: tokenizer is not a table"):
        load_config(PretrainConfig, None, ["tokenizer=t", "tokenizer.x=1"])


def test_a_recipe_with_other_commands_tables_but_not_this_ones_is_refused_naming_them(tmp_path):
    """It was read as if the whole file were the command's table ("tokenizer must be a string, got {...}")."""
    from xling.evaluation.tatoeba import TatoebaConfig

    recipe = tmp_path / "r.toml"
    recipe.write_text(
        '[tokenizer]\nvocab_size = 8000\n[align]\ntokenizer = "t"\n[align.training]\nlr = 1.0\n'
    )
    with pytest.raises(ConfigError, match=r"r\.toml: no \[pretrain\] table for this command; the recipe has "
                                          r"\[tokenizer\], \[align\]$"):  # fmt: skip
        load_config(PretrainConfig, recipe, section="pretrain")
    with pytest.raises(ConfigError, match=r"r\.toml: no \[tatoeba\] table"):
        load_config(TatoebaConfig, recipe, section="tatoeba", model="xling-mini")
    # a recipe of one command, its fields at the top: read whole, as before
    recipe.write_text('tokenizer = "t"\n[training]\nmax_steps = 5\n')
    assert load_config(PretrainConfig, recipe, section="pretrain").training.max_steps == 5


def test_a_set_gives_a_whole_section_as_an_inline_table_merged_like_a_recipe_table(tmp_path):
    """`--set 'training={max_steps=5}'` said "training must be a table of fields" although it is one."""
    recipe = tmp_path / "r.toml"
    recipe.write_text(
        '[align]\ntokenizer = "t"\n[align.data]\ncorpus = "sample"\n[align.training]\nlr = 0.5\n'
    )
    config = load_config(AlignConfig, recipe, ["training={max_steps=5, batch_size=4}"], section="align")
    assert (config.training.max_steps, config.training.batch_size) == (5, 4)
    assert config.training.lr == 0.5  # the recipe's, kept
    assert config.training.warmup_steps == AlignConfig().training.warmup_steps  # the command's default
    with pytest.raises(ConfigError, match=r"^--set: unknown field 'training\.bogus'; known: "):
        load_config(AlignConfig, recipe, ["training={bogus=1}"], section="align")
    with pytest.raises(ConfigError, match=r"^--set: training\.max_steps must be an integer, got '5'"):
        load_config(AlignConfig, recipe, ['training={max_steps="5"}'], section="align")
    with pytest.raises(ConfigError, match=r"^--set: training: not a valid inline TOML table"):
        load_config(AlignConfig, recipe, ["training={max_steps=}"], section="align")
    with pytest.raises(ConfigError, match=r"^--set: training must be a table of fields, got '5'; give them one "
                                          r"by one \(training\.\w+=\.\.\.\) or as an inline table"):  # fmt: skip
        load_config(AlignConfig, recipe, ["training=5"], section="align")
