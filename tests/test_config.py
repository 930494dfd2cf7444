import pytest

from xling.config import load_config
from xling.errors import ConfigError
from xling.pretraining.pretrain import PretrainConfig


def test_defaults_recipe_options_then_overrides(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text(
        '[pretrain]\ntokenizer = "tok"\nmodel = "base"\n[pretrain.training]\nlr = 1e-3\nmax_steps = 50\n'
    )
    config = load_config(PretrainConfig, recipe, ["training.max_steps=70", "languages=eng,deu"], section="pretrain",
                         model="small")  # fmt: skip
    assert config.tokenizer == "tok"
    assert config.model == "small"  # an option beats the recipe
    assert config.training.lr == 1e-3 and config.training.max_steps == 70  # --set beats both
    assert config.languages == ["eng", "deu"]
    assert config.training.batch_size == PretrainConfig().training.batch_size


def test_unknown_field_names_the_field_and_file(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text('tokenizer = "t"\n[training]\nlearning_rate = 1\n')
    with pytest.raises(ConfigError, match=r"r\.toml.*unknown field 'training\.learning_rate'"):
        load_config(PretrainConfig, recipe)


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


def test_optional_fields_accept_none():
    config = load_config(PretrainConfig, None, ["tokenizer=t", "eval_layer=3"])
    assert config.eval_layer == 3
    assert load_config(PretrainConfig, None, ["tokenizer=t", "eval_layer=none"]).eval_layer is None
