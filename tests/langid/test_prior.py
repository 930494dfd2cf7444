from __future__ import annotations

import json
from dataclasses import replace

import numpy as np

from xling.langid import LanguageIdentifier
from xling.langid.prior import FLOOR_MILLIONS, log_prior, speakers
from xling.langid.train import (
    LangidDataConfig,
    assign_labels,
    build_examples,
    collect_sources,
    train_identifier,
)

from .conftest import tiny_config


def test_log_prior_ranks_languages_by_speakers_and_scripts_share_theirs():
    labels = ["spa", "ast", "srp_Cyrl", "srp_Latn", "xyz"]
    prior = dict(zip(labels, log_prior(labels), strict=True))
    assert prior["spa"] > prior["srp_Latn"] == prior["srp_Cyrl"] > prior["ast"] > prior["xyz"]
    assert speakers("xyz") == FLOOR_MILLIONS  # a language the table does not list gets the floor
    assert abs(sum(prior.values())) < 1e-5  # centred: only differences between labels matter
    # a detector trained on data labelled by macrolanguage (`zh`, `ar`) gives them their members' speakers
    assert speakers("zho") == speakers("cmn") and speakers("ara") == speakers("arb")
    assert speakers("msa") == speakers("zsm") + speakers("ind")


def _close_call(identifier: LanguageIdentifier) -> tuple[str, str, str]:
    """Return (text, first label, second label) of a sample text the identifier is least sure of."""
    texts = ["das", "la", "en", "de", "Das ist gut.", "el gato", "le chat"]
    probabilities, _ = identifier.probabilities(texts)
    margins = np.sort(probabilities, axis=1)[:, -1] - np.sort(probabilities, axis=1)[:, -2]
    row = int(margins.argmin())
    first, second = np.argsort(-probabilities[row])[:2]
    return texts[row], identifier.labels[first], identifier.labels[second]


def test_prior_tips_a_close_call_and_is_saved_and_reloaded(sample_identifier, tmp_path):
    text, first, second = _close_call(sample_identifier)
    assert sample_identifier.detect(text).label == first
    # a prior that favours the runner-up by 10 nats (weight 0.5) tips the answer to it
    prior = np.array(
        [10.0 if label == second else 0.0 for label in sample_identifier.labels], dtype=np.float32
    )
    tipped = replace(sample_identifier, log_prior=prior, prior_weight=0.5)
    assert tipped.detect(text).label == second
    assert replace(tipped, prior_weight=0.0).detect(text).label == first  # weight 0: no prior
    # every detector carries the speakers prior, off until weighted
    assert sample_identifier.prior_weight == 0.0 and sample_identifier.log_prior is not None
    folder = tipped.save_pretrained(tmp_path / "with-prior")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    assert config["prior_weight"] == 0.5 and config["log_prior"][second] == 10.0
    reloaded = LanguageIdentifier.from_pretrained(folder)
    assert reloaded.prior_weight == 0.5
    assert reloaded.detect(text).label == second
    np.testing.assert_allclose(reloaded.probabilities([text])[0], tipped.probabilities([text])[0], rtol=1e-5)


def test_held_out_lines_do_not_depend_on_the_training_caps():
    # runs with different caps are compared on the same held-out lines
    grouped = assign_labels(collect_sources(LangidDataConfig(corpora=["sample"])))
    _, few = build_examples(grouped, LangidDataConfig(corpora=["sample"], max_units_per_label=20), seed=0)
    _, many = build_examples(grouped, LangidDataConfig(corpora=["sample"], max_units_per_label=500), seed=0)
    assert few.lines.texts and few.lines.texts == many.lines.texts
    assert few.short.texts == many.short.texts and few.medium.texts == many.medium.texts


def test_crops_keep_short_entries_whole_and_cut_unspaced_scripts_by_characters():
    import random

    from xling.langid.train import crop

    rng = random.Random(0)
    for text in ("water", "good morning"):  # word-list entries: never a fragment such as "ater" or "rnin"
        assert {crop(text, rng, short) for short in (True, False) for _ in range(20)} <= {
            text,
            *text.split(),
        }
    crops = {crop("起初神创造天地地是空虚混沌", rng, short=True) for _ in range(20)}
    assert all(1 <= len(crop) <= 6 and crop in "起初神创造天地地是空虚混沌" for crop in crops)


def test_crops_and_chunks_follow_the_script_not_the_spaces():
    # a Thai line with spaces between phrases gave "1-3 word" crops of 20-60 characters; an Amharic line
    # parted by the Ethiopic wordspace was one "word"; a long Latin word or URL was cut into fragments
    import random

    from xling.langid.train import _chunks, crop

    rng = random.Random(0)
    thai = "ข้อ ๑ มนุษย์ทั้งหลายเกิดมามีอิสระและเสมอภาคกันในเกียรติศักดิ์และสิทธิ ต่างมีเหตุผลและมโนธรรม"
    assert all(1 <= len(crop(thai, rng, short=True)) <= 6 for _ in range(50))
    amharic = "የሰው፡ልጅ፡ሁሉ፡ሲወለድ፡ነጻና፡በክብርና፡በመብትም፡እኩልነት፡ያለው፡ነው።"
    assert all(1 <= len(crop(amharic, rng, short=True).split()) <= 3 for _ in range(50))
    assert _chunks(amharic, 4)[0] == "የሰው ልጅ ሁሉ ሲወለድ"
    long_word = "Donaudampfschifffahrtselektrizitätenhauptbetriebswerkbauunterbeamtengesellschaft Kunden"
    assert _chunks(long_word, 24) == [long_word]
    assert {crop(long_word, rng, short=True) for _ in range(20)} <= {long_word, *long_word.split()}


def test_lines_of_one_normalised_form_are_one_line(tmp_path):
    """ "Article 5" and "Article 12" are one text to the model: one of them is kept, so a held-out line is
    never a training line in disguise."""
    from xling.langid.labels import parse_label
    from xling.langid.sources import Source

    texts = [f"Article {i}" for i in range(40)] + [
        f"line number {word}" for word in "abcdefghijklmnopqrstuvwxyz"
    ]
    grouped = {"eng": [Source(parse_label("eng"), tuple(texts), "memory")]}
    train, dev = build_examples(grouped, LangidDataConfig(dev_fraction=0.2, min_examples_per_label=0), seed=0)
    assert dev.lines.texts.count("article") + train.texts.count("article") <= 2  # whole, and its one crop
    assert not set(dev.lines.texts) & set(train.texts[::2])  # held-out lines are not training lines


def test_trainer_saves_the_speakers_prior_with_its_weight(tmp_path):
    config = replace(tiny_config(tmp_path / "det"), prior_weight=0.3, epochs=1)
    identifier = LanguageIdentifier.from_pretrained(train_identifier(config).output)
    assert identifier.prior_weight == 0.3
    np.testing.assert_allclose(identifier.log_prior, log_prior(identifier.labels), rtol=1e-6)
