"""A label prior for language identification: how much a language is spoken in the world, so that a short
text that fits Spanish, Asturian and Ladino alike goes to Spanish. The detector is trained on balanced labels
(its softmax assumes every label equally likely); `log_prior(labels)` gives each label the log of its
language's speakers, which the detector adds to its logits times a weight chosen on held-out data.

Speakers are total speakers (first and second language) in millions, rounded: approximate figures as
Wikipedia's "List of languages by total number of speakers" and the languages' own Wikipedia articles give
them (mostly Ethnologue estimates), written down by hand for the larger languages xling-langid knows. Only
orders of magnitude matter under a logarithm; every language not listed (and every language without native
speakers: Latin, Sanskrit, Esperanto, Classical Chinese, Biblical Hebrew...) gets the floor.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from xling.data.languages import MACROLANGUAGES

__all__ = ["FLOOR_MILLIONS", "SPEAKERS_MILLIONS", "log_prior"]

FLOOR_MILLIONS = 0.1
"""Speakers (millions) of a language the table does not list, and the least any listed language gets."""

SPEAKERS_MILLIONS: dict[str, float] = {
    # the world's largest languages
    "eng": 1500, "cmn": 1100, "hin": 600, "spa": 560, "fra": 310, "arb": 330, "ben": 270, "por": 260,
    "rus": 255, "urd": 230, "ind": 200, "deu": 135, "jpn": 125, "pcm": 120, "mar": 99, "tur": 90, "tam": 87,
    "vie": 86, "tgl": 83, "kor": 82, "pes": 80, "hau": 80, "swh": 70, "jav": 68, "ita": 68, "pnb": 67,
    "guj": 62, "tha": 61, "kan": 59, "amh": 58, "bho": 52, "yor": 46, "mya": 43, "pol": 40, "ukr": 40,
    "lin": 40, "mal": 38, "zsm": 35, "uzn": 35, "pan": 33, "sun": 32, "nep": 32, "ibo": 31, "nld": 30,
    "ceb": 28, "zul": 28, "ron": 28, "skr": 26, "plt": 25, "mlg": 25, "azj": 24, "som": 22, "pbu": 20,
    # 5-20 million
    "xho": 19, "afr": 18, "khm": 18, "kaz": 15, "kin": 15, "nya": 15, "sna": 15, "mai": 14, "bam": 14,
    "tsn": 14, "ell": 13, "hun": 13, "swe": 13, "mag": 13, "sot": 13, "hat": 12, "run": 12, "wol": 12,
    "ces": 11, "lug": 11, "aka": 11, "ilo": 10, "cat": 10, "srp": 10, "uig": 10, "gax": 10, "heb": 9,
    "hil": 9, "tir": 9, "bul": 8, "tgk": 8, "mos": 8, "kri": 8, "slk": 7, "tuk": 7, "hye": 7, "ewe": 7,
    "vmw": 7, "mad": 7, "lao": 7, "kng": 7, "gug": 6.5, "lua": 6.3, "als": 6, "dan": 6, "ckb": 6, "umb": 6,
    "fin": 5.5, "hrv": 5.5, "min": 5.5, "suk": 5.4, "bel": 5, "kir": 5, "tat": 5, "khk": 5, "fuc": 5,
    "ktu": 5, "nso": 4.7, "nob": 4.5,
    # 1-5 million
    "kat": 4, "tso": 4, "bem": 4, "ibb": 4, "tiv": 4, "bug": 4, "tpi": 4, "emk": 4, "knc": 4, "vec": 3.9,
    "war": 3.6, "ace": 3.5, "nyn": 3.4, "ban": 3.3, "lit": 3, "glg": 3, "bos": 2.5, "slv": 2.5, "bcl": 2.5,
    "tem": 2.5, "ssw": 2.3, "pam": 2.3, "fon": 2.3, "yao": 2.2, "mkd": 2, "nds": 2, "men": 2, "snk": 2,
    "iii": 2, "ayr": 1.7, "lvs": 1.5, "lav": 1.5, "sco": 1.5, "bin": 1.5, "sus": 1.5, "toi": 1.5,
    "quz": 1.5, "kha": 1.4, "ven": 1.3, "srr": 1.3, "kde": 1.3, "cjk": 1.3, "gle": 1.2, "bod": 1.2,
    "kea": 1.2, "dag": 1.2, "est": 1.1, "ekk": 1.1, "nbl": 1.1, "quc": 1.1, "quy": 1, "src": 1, "nym": 1,
    # under a million
    "cym": 0.9, "eus": 0.9, "lus": 0.9, "tet": 0.8, "ndo": 0.8, "yua": 0.8, "kek": 0.8, "hni": 0.75,
    "loz": 0.7, "lue": 0.7, "pcd": 0.7, "nno": 0.6, "ydd": 0.6, "fur": 0.6, "wln": 0.6, "fij": 0.6,
    "dzo": 0.6, "tzh": 0.6, "mam": 0.6, "mlt": 0.5, "oss": 0.5, "smo": 0.5, "cak": 0.5, "rmn": 0.5,
    "rmy": 0.5, "sah": 0.45, "ltz": 0.4, "ast": 0.4, "lun": 0.4, "isl": 0.35, "div": 0.34, "pis": 0.3,
    "tyv": 0.28, "njo": 0.26, "bis": 0.2, "bre": 0.2, "abk": 0.2, "ton": 0.2, "nav": 0.17, "mri": 0.15,
    "gag": 0.15, "cos": 0.15, "gla": 0.13,
}  # fmt: skip


def speakers(language: str) -> float:
    """Return the speakers (millions) the prior gives a language: its table entry, for a macrolanguage the
    table lists by its members (`zho`, `ara`, `msa`: a detector trained on data labelled `zh`) their sum,
    at least the floor."""
    listed = SPEAKERS_MILLIONS.get(language)
    if listed is None:
        listed = sum(SPEAKERS_MILLIONS.get(member, 0.0) for member in MACROLANGUAGES.get(language, ()))
    return max(listed, FLOOR_MILLIONS)


def log_prior(labels: Sequence[str]) -> np.ndarray:
    """Return (labels,) float32: the log of each label's language's speakers, less their mean (a label
    `srp_Cyrl` takes its language `srp`'s figure; scripts of one language share it)."""
    values = np.log([speakers(label.split("_", 1)[0]) for label in labels])
    return (values - values.mean()).astype(np.float32)
