"""A model's own decoding settings (generation_config.json: num_beams, length_penalty, ...) apply where the
caller leaves a field unset, as transformers' generate takes them."""

from __future__ import annotations

import json
import re

import pytest

from xling.config import load_config
from xling.evaluation.mt import MTEvalConfig, _decode_options
from xling.translation.decoding import DecodeOptions
from xling.translation.translator import Translator

from .tiny_models import build_xling

TEXTS = ["the house is small.", "a good day."]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = build_xling(tmp_path_factory.mktemp("model") / "xling")
    path = folder / "generation_config.json"
    config = json.loads(path.read_text()) if path.is_file() else {}
    path.write_text(json.dumps({**config, "num_beams": 3, "length_penalty": 1.5}))
    return folder


def recorded_options(translator: Translator) -> list[DecodeOptions]:
    """Return the list the backend's calls append their options to, from now on."""
    seen: list[DecodeOptions] = []
    generate = translator.backend.generate_hypotheses

    def recording(sources, prefixes, options):
        seen.append(options)
        return generate(sources, prefixes, options)

    translator.backend.generate_hypotheses = recording
    return seen


def test_a_call_without_options_decodes_with_the_models_settings(folder):
    translator = Translator.from_pretrained(folder, backend="torch")
    assert translator.decoding_defaults == {"beam_size": 3, "length_penalty": 1.5}
    seen = recorded_options(translator)
    ours = translator.translate(TEXTS, "eng", "deu")
    assert {(o.beam_size, o.length_penalty) for o in seen} == {(3, 1.5)}
    assert ours == translator.translate(TEXTS, "eng", "deu", DecodeOptions(beam_size=3, length_penalty=1.5))


def test_fields_a_flag_or_recipe_gave_win_and_the_others_are_the_models(folder, tmp_path):
    translator = Translator.from_pretrained(folder, backend="torch")
    flags = load_config(DecodeOptions, None, [], section="translate", beam_size=2, length_penalty=None)
    assert (translator.decode_options(flags).beam_size, translator.decode_options(flags).length_penalty) == (
        2,
        1.5,
    )
    recipe = tmp_path / "recipe.toml"
    recipe.write_text("[translate]\nlength_penalty = 0.8\n")
    given = translator.decode_options(load_config(DecodeOptions, recipe, [], section="translate"))
    assert (given.beam_size, given.length_penalty) == (3, 0.8)
    # built in code: every field was chosen
    assert translator.decode_options(DecodeOptions(beam_size=4)) == DecodeOptions(beam_size=4)
    # xling eval mt: its decode section, from flags (--beam) or the recipe
    evaluation = load_config(MTEvalConfig, None, [], section="eval_mt", decode={"beam_size": None})
    assert _decode_options(translator, evaluation) == DecodeOptions(beam_size=3, length_penalty=1.5)
    evaluation = load_config(MTEvalConfig, None, [], section="eval_mt", decode={"beam_size": 1})
    assert _decode_options(translator, evaluation) == DecodeOptions(beam_size=1, length_penalty=1.5)


def test_settings_in_config_json_count_where_there_is_no_generation_config(folder, tmp_path):
    import shutil

    older = tmp_path / "older"
    shutil.copytree(folder, older)
    (older / "generation_config.json").unlink()
    config = json.loads((older / "config.json").read_text())
    (older / "config.json").write_text(json.dumps({**config, "num_beams": 5, "no_repeat_ngram_size": 3}))
    translator = Translator.from_pretrained(older, backend="torch")
    assert translator.decoding_defaults == {"beam_size": 5, "no_repeat_ngram_size": 3}


@pytest.mark.parametrize(("key", "value"), [("num_beams", "4"), ("num_beams", 0), ("length_penalty", True),
                                            ("repetition_penalty", -1.0), ("length_penalty", 12.0)])  # fmt: skip
def test_a_bad_setting_is_left_out_with_a_warning_naming_the_file_and_field(
    folder, tmp_path, caplog, key, value
):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(folder, bad)
    (bad / "generation_config.json").write_text(json.dumps({key: value, "no_repeat_ngram_size": 3}))
    translator = Translator.from_pretrained(bad, backend="torch")  # still loads and translates
    assert translator.decoding_defaults == {"no_repeat_ngram_size": 3}
    assert re.search(rf"generation_config\.json: {key} .*xling's default", caplog.text), caplog.text
    assert translator.translate(TEXTS[:1], "eng", "deu")
