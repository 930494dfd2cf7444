import numpy as np
import pytest

from xling.data.sources import TextSources
from xling.errors import ConfigError
from xling.pretraining.data import POSITION_OFFSET, PretrainBatches, build_pretraining_data
from xling.pretraining.masking import IGNORE_INDEX
from xling.tokenization.vocabulary import load_tokenizer


@pytest.fixture(scope="module")
def data_and_tokenizer(sample_tokenizer_dir):
    tok = load_tokenizer(sample_tokenizer_dir)
    sources = TextSources.from_options("sample", [], [], heldout_fraction=0.1)
    return build_pretraining_data(sources, tok), tok


def _batches(data, tok, **kw):
    args = dict(batch_size=16, max_length=64, mask_id=tok.mask_token_id,
                first_regular_id=max(tok.all_special_ids) + 1, vocab_size=len(tok))  # fmt: skip
    args.update(kw)
    return PretrainBatches(data=data, **args)


def test_heldout_sentences_are_not_trained_on(data_and_tokenizer):
    data, _ = data_and_tokenizer
    assert all(len(rows) > 0 for rows in data.heldout.values())
    n_held = len(data.heldout["eng"])
    assert len(data.pools["eng"]) == 330 - n_held
    assert data.units.shape == (330 - n_held, 9)


def test_tlm_pairs_are_translations_with_language_tokens_and_restarting_positions(data_and_tokenizer):
    data, tok = data_and_tokenizer
    batch = _batches(data, tok, tlm_ratio=1.0, mlm_probability=0.0001).get(0, 0, 0, 1)
    id_to_lang = {v: k for k, v in data.lang_token_ids.items()}
    for row in range(16):
        n = int(batch["attention_mask"][row].sum())
        ids = batch["input_ids"][row, :n].tolist()
        labels = batch["labels"][row, :n]
        ids = [lab if lab != IGNORE_INDEX else i for i, lab in zip(ids, labels.tolist(), strict=True)]
        positions = batch["position_ids"][row, :n].tolist()
        starts = [i for i, t in enumerate(ids) if t in id_to_lang]
        assert starts[0] == 0 and len(starts) == 2, "each side opens with its language token"
        a, b = id_to_lang[ids[0]], id_to_lang[ids[starts[1]]]
        assert a != b
        assert positions[0] == positions[starts[1]] == POSITION_OFFSET, "positions restart on the second side"
        assert ids[starts[1] - 1] == ids[-1] == tok.eos_token_id, "each side ends with </s>, even a cut one"
        # compared without </s>: a side cut to fit has it in place of its last token
        side_a, side_b = ids[1 : starts[1] - 1], ids[starts[1] + 1 : -1]
        # both sides are the same aligned unit: find the unit whose sentences these are
        col = {lang: j for j, lang in enumerate(data.languages)}
        units = [u for u in data.units if u[col[a]] >= 0 and u[col[b]] >= 0
                 and data.pools[a].sentence(u[col[a]])[1:].tolist()[: len(side_a)] == side_a]  # fmt: skip
        assert any(data.pools[b].sentence(u[col[b]])[1:].tolist()[: len(side_b)] == side_b for u in units)


def test_tlm_sides_cut_to_fit_keep_their_end_token(data_and_tokenizer):
    """A side longer than half of max_length was cut to `<lang> ...` without its `</s>` (XLM's truncate puts
    eos back): at max_length 128 on a Bible, 2,592 of 6,400 sides had none."""
    data, tok = data_and_tokenizer
    id_to_lang = {v: k for k, v in data.lang_token_ids.items()}
    col = {lang: j for j, lang in enumerate(data.languages)}
    max_length, cut = 16, 0
    for step in range(4):
        batch = _batches(data, tok, tlm_ratio=1.0, mlm_probability=0.0001, max_length=max_length).get(
            step, 0, 0, 1
        )
        for row in range(16):
            n = int(batch["attention_mask"][row].sum())
            labels = batch["labels"][row, :n].tolist()
            ids = [
                lab if lab != IGNORE_INDEX else i
                for i, lab in zip(batch["input_ids"][row, :n].tolist(), labels, strict=True)
            ]
            assert n <= max_length
            second = next(i for i in range(1, n) if ids[i] in id_to_lang)
            for side in (ids[:second], ids[second:]):
                assert side[-1] == tok.eos_token_id, f"a TLM side without its end token: {side}"
                lang = id_to_lang[side[0]]
                # the side is the start of one of its language's sentences, then the end token
                sentences = [
                    data.pools[lang].sentence(u[col[lang]]).tolist() for u in data.units if u[col[lang]] >= 0
                ]
                assert any(s[1 : len(side) - 1] == side[1:-1] for s in sentences)
                cut += not any(s[1:] == side[1:] for s in sentences)
    assert cut > 0, "some sides were long enough to be cut"


def test_tlm_pivot_puts_the_pivot_on_one_side_of_every_pair_in_either_order(data_and_tokenizer):
    data, tok = data_and_tokenizer
    id_to_lang = {v: k for k, v in data.lang_token_ids.items()}
    sides, others = [], set()
    for step in range(6):
        batch = _batches(data, tok, tlm_ratio=1.0, mlm_probability=0.0001, tlm_pivot="eng").get(step, 0, 0, 1)
        for row in range(16):
            opening = [id_to_lang[t] for t in batch["input_ids"][row].tolist() if t in id_to_lang]
            assert len(opening) == 2 and opening.count("eng") == 1, opening
            sides.append(opening.index("eng"))
            others.update(x for x in opening if x != "eng")
    assert 0.25 < np.mean(sides) < 0.75, "the pivot comes first about half the time"
    assert len(others) >= 5, "the other side spreads over the languages"
    with pytest.raises(ConfigError, match="tlm_pivot"):
        _batches(data, tok, tlm_ratio=1.0, tlm_pivot="xho")


def test_mlm_streams_are_contiguous_text_of_one_language(data_and_tokenizer):
    data, tok = data_and_tokenizer
    batch = _batches(data, tok, tlm_ratio=0.0).get(3, 0, 0, 1)
    assert batch["input_ids"].shape == (16, 64)
    assert (batch["input_ids"][:, 0] == tok.bos_token_id).all()
    assert (batch["position_ids"][0] == np.arange(64) + POSITION_OFFSET).all()
    # the original ids of each row are a slice of one language's token pool
    for row in range(4):
        ids = batch["input_ids"][row].numpy().copy()
        labels = batch["labels"][row].numpy()
        ids[labels != IGNORE_INDEX] = labels[labels != IGNORE_INDEX]
        found = False
        for pool in data.pools.values():
            for start in pool.offsets[:-1]:
                if np.array_equal(pool.tokens[start : start + 64], ids):
                    found = True
                    break
        assert found


def test_batches_are_a_pure_function_of_step_and_rank(data_and_tokenizer):
    data, tok = data_and_tokenizer
    source = _batches(data, tok, tlm_ratio=0.5)
    a, b = source.get(5, 0, 0, 2), source.get(5, 0, 0, 2)
    assert all((a[k] == b[k]).all() for k in a)
    other_rank = source.get(5, 0, 1, 2)
    assert not (
        a["input_ids"].shape == other_rank["input_ids"].shape
        and (a["input_ids"] == other_rank["input_ids"]).all()
    )
    steps = [source.is_tlm_step(s) for s in range(400)]
    assert 0.4 < sum(steps) / 400 < 0.6


def test_tlm_without_parallel_data_is_a_config_error(data_and_tokenizer, tmp_path):
    data, tok = data_and_tokenizer
    data.units, saved = data.units[:0], data.units
    try:
        with pytest.raises(ConfigError, match="tlm_ratio"):
            _batches(data, tok, tlm_ratio=0.5)
    finally:
        data.units = saved


def test_sentence_cap_keeps_a_spread_of_ids_that_stay_paired(sample_tokenizer_dir):
    tok = load_tokenizer(sample_tokenizer_dir)
    sources = TextSources.from_options("sample", ["eng", "deu", "zho"], [])
    data = build_pretraining_data(sources, tok, max_sentences_per_language=100)
    sizes = [len(data.pools[lang]) for lang in data.languages]
    assert all(70 <= n <= 130 for n in sizes)
    # the same ids are kept in every language, so nearly every kept sentence has its translations
    assert (data.units >= 0).all() and len(data.units) == sizes[0]


def test_verses_of_a_chapter_numbered_otherwise_than_in_english_are_in_no_unit(
    sample_tokenizer_dir, renumbered_bible
):
    """German counts Psalm 3's title as verse 1: its Psalm 3 verses stay in its pool (MLM) but pair with no
    verse of another language (TLM), as English, the reference, numbers that chapter otherwise."""
    tok = load_tokenizer(sample_tokenizer_dir)
    sources = TextSources.from_options(str(renumbered_bible), [], [])
    data = build_pretraining_data(sources, tok)
    assert data.languages == ["deu", "eng", "fra"] and len(data.pools["deu"]) == 9 + 5 + 27
    # pool row i is the i-th line of the language's file; its text opens with the English verse id
    aligned = sources.aligned()
    verse = {lang: [text.split()[0] for _, text in aligned.sentences(lang)] for lang in data.languages}
    units = [{lang: verse[lang][i] for lang, i in zip(data.languages, row, strict=True) if i >= 0}
             for row in data.units.tolist()]  # fmt: skip
    assert all(len(set(unit.values())) == 1 for unit in units)  # every unit holds one verse
    psalm = [unit for unit in units if next(iter(unit.values())).startswith("PSA.")]
    assert len(psalm) == 8 and all(set(unit) == {"eng", "fra"} for unit in psalm)
    assert {"deu": "MAT.17.21", "fra": "MAT.17.21"} in units  # a verse English lacks stays paired
    assert len(units) == 5 + 8 + 27


def test_shifted_psalms_of_the_greek_numbering_are_in_no_unit(sample_tokenizer_dir, greek_psalms_bible):
    tok = load_tokenizer(sample_tokenizer_dir)
    data = build_pretraining_data(TextSources.from_options(str(greek_psalms_bible), [], []), tok)
    assert data.languages == ["eng", "rus"] and len(data.pools["rus"]) == 12 + 12 + 27  # MLM keeps them all
    paired = (data.units >= 0).all(axis=1).sum()
    assert paired == 12 + 27  # Psalm 62 pairs nothing: the Synodal one is the NRSV's Psalm 63


def test_mlm_streams_reach_every_token_of_lines_longer_than_a_stream():
    """Streams started at line starts only: of 50 lines of 300 tokens at max_length 128, 42.6% of the tokens
    were never trained on (XLM's streams cover the whole corpus)."""
    from xling.pretraining.data import PretrainingData, SentencePool, stream_starts

    lengths = [300] * 50 + [20] * 10
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    tokens = np.arange(100, 100 + offsets[-1]).astype(np.int32)  # every token its own id
    pool = SentencePool(tokens, offsets)
    assert stream_starts(pool, 128).tolist()[:3] == [0, 128, 256]
    short = SentencePool(tokens[:200], np.arange(0, 201, 20))  # no line longer: the line starts alone
    assert stream_starts(short, 128).tolist() == short.offsets[:-1].tolist()
    data = PretrainingData(["xxx"], {"xxx": pool}, np.zeros((0, 1), dtype=np.int32), {"xxx": 5})
    source = PretrainBatches(data=data, batch_size=32, max_length=128, mask_id=4, first_regular_id=6,
                             vocab_size=int(tokens.max()) + 1, tlm_ratio=0.0)  # fmt: skip
    seen = np.zeros(len(tokens), dtype=bool)
    for step in range(60):
        batch = source.get(step, 0, 0, 1)
        ids = batch["input_ids"].numpy().copy()
        masked = batch["labels"].numpy() != IGNORE_INDEX
        ids[masked] = batch["labels"].numpy()[masked]
        seen[ids[ids >= 100] - 100] = True
    assert seen.mean() > 0.99
