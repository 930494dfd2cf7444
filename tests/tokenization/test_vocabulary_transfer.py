"""Vocabulary transfer: a tiny English BERT teacher given the multilingual sample vocabulary (FVT rows)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from xling.alignment.sentences.align import TRANSFER_DIR, AlignConfig, align_sentences
from xling.data.config import CorpusConfig
from xling.data.readers import AlignedCorpus
from xling.data.sources import sample_corpus_dir
from xling.embeddings.encoder import Encoder
from xling.embeddings.transformer import TransformerSentenceEncoder
from xling.errors import ConfigError
from xling.tokenization.vocabulary import load_tokenizer, save_tokenizer
from xling.tokenization.vocabulary_transfer import (
    cached_transfer,
    transfer_embeddings,
    transfer_vocabulary,
    unknown_rate,
)
from xling.training import TrainingConfig

BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def sample_texts(lang: str, n: int = 60) -> list[str]:
    return [text for _, text in AlignedCorpus.from_dir(sample_corpus_dir()).sentences(lang)][:n]


@pytest.fixture(scope="module")
def bert_teacher(tmp_path_factory) -> Path:
    """Return a sentence-transformers folder: a random tiny BERT over a WordPiece vocabulary of English only."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    backend = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)  # uncased, accents stripped, as MiniLM
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.decoder = decoders.WordPiece()
    backend.train_from_iterator(
        sample_texts("eng", 400), trainers.WordPieceTrainer(vocab_size=500, special_tokens=BERT_SPECIALS)
    )
    cls, sep = backend.token_to_id("[CLS]"), backend.token_to_id("[SEP]")
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="[PAD]", unk_token="[UNK]",
                                        cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")  # fmt: skip
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, pad_token_id=0)  # fmt: skip
    folder = tmp_path_factory.mktemp("bert_teacher")
    TransformerSentenceEncoder(BertModel(config), tokenizer, pooling="mean", max_length=128).save(folder)
    save_tokenizer(tokenizer, folder)
    return folder


@pytest.fixture(scope="module")
def transferred(bert_teacher, sample_tokenizer_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("transfer") / "student"
    transfer_vocabulary(bert_teacher, sample_tokenizer_dir, out, seed=0)
    return out


def _transfer(bert_teacher, sample_tokenizer_dir, seed=0):
    teacher = Encoder.load(bert_teacher).module
    new = load_tokenizer(sample_tokenizer_dir)
    weights = teacher.model.get_input_embeddings().weight.detach().numpy()
    result = transfer_embeddings(teacher.hf_tokenizer, weights, new, seed=seed)
    return teacher.hf_tokenizer, weights, new, result


def test_rows_are_copied_composed_or_drawn(bert_teacher, sample_tokenizer_dir):
    old, weights, new, result = _transfer(bert_teacher, sample_tokenizer_dir)
    vocab, old_vocab = new.get_vocab(), old.get_vocab()
    assert result.table.shape == (len(new), weights.shape[1]) and len(result.kinds) == len(new)
    counts = result.counts()
    assert counts["special"] == 5 and min(counts.values()) > 0 and sum(counts.values()) == len(new), counts
    for mine, theirs in [("<s>", "[CLS]"), ("</s>", "[SEP]"), ("<pad>", "[PAD]"), ("<unk>", "[UNK]"),
                         ("<mask>", "[MASK]")]:  # fmt: skip
        assert np.array_equal(result.table[vocab[mine]], weights[old_vocab[theirs]]), mine
    # copied: a word start is the teacher's word (lowercased), a continuation its ##-form
    the = vocab["▁the"]
    assert result.kinds[the] == "copied" and np.array_equal(result.table[the], weights[old_vocab["the"]])
    cased = next(t for t in ("▁The", "▁I", "▁We") if t in vocab)
    assert result.sources[vocab[cased]] == [old_vocab[cased[1:].lower()]]
    copied = [i for i, k in enumerate(result.kinds) if k == "copied"]
    assert all(np.array_equal(result.table[i], weights[result.sources[i][0]]) for i in copied)
    continued = [i for i in copied if not result.tokens[i].startswith("▁")]
    assert any(old.convert_ids_to_tokens(result.sources[i][0]).startswith("##") for i in continued)
    # composed: the mean of the teacher's sub-token rows, split as the teacher's tokenizer splits the word
    composed = [i for i, k in enumerate(result.kinds) if k == "composed"]
    for i in composed:
        assert len(result.sources[i]) > 1
        np.testing.assert_allclose(result.table[i], weights[result.sources[i]].mean(0), rtol=1e-6, atol=1e-7)
    checked = 0
    for i in composed:
        token = result.tokens[i]
        teacher_ids = old(token[1:], add_special_tokens=False)["input_ids"]
        if token.startswith("▁") and old.unk_token_id not in teacher_ids:
            assert result.sources[i] == teacher_ids, token
            checked += 1
    assert checked > 20
    # random: a script the teacher never saw
    chinese = [i for i, t in enumerate(result.tokens) if any("\u4e00" <= c <= "\u9fff" for c in t)]
    assert chinese and all(result.kinds[i] == "random" for i in chinese)
    rows = result.table[chinese]
    assert np.isfinite(rows).all() and (np.abs(rows).sum(1) > 0).all()
    assert len({tuple(r) for r in rows}) == len(rows)
    spread = weights.std(0).mean()
    assert 0.3 * spread < rows.std(0).mean() < 3 * spread  # drawn with the teacher's scale


def test_random_rows_follow_the_seed_and_nothing_else_does(bert_teacher, sample_tokenizer_dir):
    *_, a = _transfer(bert_teacher, sample_tokenizer_dir, seed=1)
    *_, b = _transfer(bert_teacher, sample_tokenizer_dir, seed=1)
    *_, c = _transfer(bert_teacher, sample_tokenizer_dir, seed=2)
    drawn = np.array([k == "random" for k in a.kinds])
    assert np.array_equal(a.table, b.table)
    assert np.array_equal(a.table[~drawn], c.table[~drawn])
    assert not np.array_equal(a.table[drawn], c.table[drawn])


def test_saved_folder_reloads_with_the_new_vocabulary(transferred, bert_teacher, sample_tokenizer_dir):
    from transformers import AutoModel

    new = load_tokenizer(sample_tokenizer_dir)
    model = AutoModel.from_pretrained(transferred)
    assert model.config.vocab_size == len(new) == model.get_input_embeddings().weight.shape[0]
    assert model.config.pad_token_id == new.pad_token_id
    meta = json.loads((transferred / "xling.json").read_text())
    counts = meta["vocabulary_transfer"]["counts"]
    assert sum(counts.values()) == len(new) and counts["random"] > 0 and meta["pooling"] == "mean"
    teacher, student = Encoder.load(bert_teacher), Encoder.load(transferred)
    assert student.module.pooling == teacher.module.pooling and student.dimension == teacher.dimension
    # the rest of the network is the teacher's
    old_state, new_state = teacher.module.model.state_dict(), student.module.model.state_dict()
    assert all(torch.equal(old_state[k], v) for k, v in new_state.items() if "word_embeddings" not in k)
    for lang in ("zho", "rus"):
        texts = sample_texts(lang)
        assert unknown_rate(teacher.module.hf_tokenizer, texts) > 0.5
        assert unknown_rate(student.module.hf_tokenizer, texts) < 0.02
        vectors = student.encode(texts)
        assert np.isfinite(vectors).all() and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)


def test_output_is_protected_and_the_cache_is_reused(
    tmp_path, transferred, bert_teacher, sample_tokenizer_dir
):
    import shutil

    with pytest.raises(ConfigError, match="output"):
        transfer_vocabulary(bert_teacher, sample_tokenizer_dir, transferred)
    stamp = (transferred / "model.safetensors").stat().st_mtime_ns
    assert cached_transfer(bert_teacher, sample_tokenizer_dir, transferred, seed=0) == transferred
    assert (transferred / "model.safetensors").stat().st_mtime_ns == stamp
    copy = shutil.copytree(transferred, tmp_path / "copy")
    cached_transfer(bert_teacher, sample_tokenizer_dir, copy, seed=1)  # another seed: made again
    assert json.loads((copy / "xling.json").read_text())["vocabulary_transfer"]["seed"] == 1
    assert not list(tmp_path.glob(".copy.*"))  # no staging folder left behind
    with pytest.raises(ConfigError, match="transformer"):  # a static encoder has no vocabulary to transfer
        transfer_vocabulary("xling-mini", sample_tokenizer_dir, transferred.parent / "static")


def test_overwrite_replaces_only_an_encoder_and_never_an_input(tmp_path, bert_teacher, sample_tokenizer_dir):
    from xling.errors import XlingError

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "mine.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(XlingError, match="holds files that are not a sentence encoder"):
        transfer_vocabulary(bert_teacher, sample_tokenizer_dir, notes, overwrite=True)
    assert (notes / "mine.txt").read_text(encoding="utf-8") == "mine"
    with pytest.raises(ConfigError, match="is the tokenizer folder"):
        transfer_vocabulary(bert_teacher, sample_tokenizer_dir, sample_tokenizer_dir, overwrite=True)
    with pytest.raises(ConfigError, match="contains the (model|tokenizer) folder"):
        transfer_vocabulary(bert_teacher, sample_tokenizer_dir, Path(bert_teacher).parent, overwrite=True)
    assert (Path(bert_teacher) / "modules.json").is_file() and (
        sample_tokenizer_dir / "tokenizer.json"
    ).is_file()


def test_same_vocabulary_sentencepiece_teacher_copies_every_piece(tmp_path, sample_tokenizer_dir):
    """An XLM-R-style teacher (SentencePiece word starts) given its own vocabulary copies its own rows."""
    from transformers import XLMRobertaConfig, XLMRobertaModel

    tokenizer = load_tokenizer(sample_tokenizer_dir)
    config = XLMRobertaConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                              intermediate_size=32, max_position_embeddings=66, pad_token_id=tokenizer.pad_token_id)  # fmt: skip
    torch.manual_seed(0)
    model = XLMRobertaModel(config)
    weights = model.get_input_embeddings().weight.detach().numpy()
    result = transfer_embeddings(tokenizer, weights, tokenizer)
    special = set(tokenizer.all_special_ids)
    plain = [
        i for i, t in enumerate(result.tokens) if i not in special and t != "▁" and not t.startswith("<0x")
    ]
    assert all(result.kinds[i] == "copied" and result.sources[i] == [i] for i in plain)
    assert all(result.sources[i] == [i] for i in range(5))  # <s> <pad> </s> <unk> <mask> map to themselves
    assert np.array_equal(result.table[plain], weights[plain])


def test_align_sentences_trains_a_transferred_student(tmp_path, bert_teacher, sample_tokenizer_dir):
    def run(steps, resume=False):
        config = AlignConfig(
            output=str(tmp_path / "run"), data=CorpusConfig("sample", ["eng", "rus", "zho"]), student=str(bert_teacher),
            student_vocabulary=str(sample_tokenizer_dir), teacher=str(bert_teacher), distill_weight=1.0, resume=resume,
            training=TrainingConfig(max_steps=steps, batch_size=8, lr=1e-3, warmup_steps=0, checkpoint_every=1,
                                    log_every=1, progress=False, device="cpu"),
        )  # fmt: skip
        return align_sentences(config)

    run(2)
    made = tmp_path / "run" / TRANSFER_DIR / "model.safetensors"
    stamp = made.stat().st_mtime_ns
    result = run(3, resume=True)
    assert result.training["steps"] == 3 and np.isfinite(result.training["final_loss"])
    assert result.training["resumed_from"] == 2  # taken up at its checkpoint, not run again
    assert [
        json.loads(line)["step"] for line in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()
    ] == [1, 2, 3]
    assert made.stat().st_mtime_ns == stamp  # the resumed run reused the transferred copy
    encoder = Encoder.load(result.output)
    assert len(encoder.module.hf_tokenizer) == len(load_tokenizer(sample_tokenizer_dir))
    assert json.loads((result.output / "xling.json").read_text())["config"]["student_vocabulary"]
    vectors = encoder.encode(sample_texts("zho", 5))
    assert np.isfinite(vectors).all()


def test_student_vocabulary_needs_an_encoder_student():
    config = AlignConfig(
        data=CorpusConfig(corpus="sample"), tokenizer="t", student="static", student_vocabulary="tok"
    )
    with pytest.raises(ConfigError, match="student_vocabulary"):
        config.validate()


def test_cli_transfer_writes_the_folder_and_report(tmp_path, bert_teacher, sample_tokenizer_dir):
    from typer.testing import CliRunner

    from xling.cli import app

    out, report = tmp_path / "cli", tmp_path / "report.json"
    result = CliRunner().invoke(app, ["tokenizer", "transfer", "--model", str(bert_teacher), "--tokenizer",
                                      str(sample_tokenizer_dir), "--output", str(out), "--json", str(report)])  # fmt: skip
    assert result.exit_code == 0, result.output
    payload = json.loads(report.read_text())
    assert payload["output"] == str(out) and sum(payload["counts"].values()) == payload["vocab_size"]
    assert (out / "config.json").is_file() and (out / "tokenizer.json").is_file()


def test_a_student_reads_texts_as_its_teacher_at_its_layer_and_with_its_prompt(tmp_path, bert_teacher):
    import shutil

    from transformers import BertConfig, BertModel

    teacher = tmp_path / "teacher"
    shutil.copytree(bert_teacher, teacher)
    config = BertConfig.from_pretrained(teacher)
    config.num_hidden_layers = 3
    torch.manual_seed(1)
    BertModel(config).save_pretrained(teacher)
    (teacher / "xling.json").write_text(json.dumps({"layer": -2}), encoding="utf-8")  # the second-to-last
    prompt = {"prompts": {"query": "query: "}, "default_prompt_name": "query"}  # the student keeps it too
    (teacher / "config_sentence_transformers.json").write_text(json.dumps(prompt), encoding="utf-8")
    transfer_vocabulary(teacher, teacher, tmp_path / "student", seed=0)  # its own vocabulary: rows copied
    texts = sample_texts("eng", 8)
    ours, theirs = Encoder.load(tmp_path / "student").encode(texts), Encoder.load(teacher).encode(texts)
    assert np.allclose(ours, theirs, atol=1e-5)  # read one layer too early before: cosine ~0.8
