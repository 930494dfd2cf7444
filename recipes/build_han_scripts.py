"""Build src/xling/langid/han_scripts.txt: the Han characters written in Simplified Chinese only and in
Traditional Chinese only, from OpenCC's conversion tables (BYVoid/OpenCC, Apache-2.0).

    .venv/bin/pip install opencc        # the bench extra has it
    .venv/bin/python recipes/build_han_scripts.py             # ~10 s; prints what it kept and dropped
    .venv/bin/python recipes/build_han_scripts.py --output /tmp/han_scripts.txt
    .venv/bin/python recipes/build_han_scripts.py --measure    # then the shipped detector before/after, ~30 s

The detector reads the file to settle Simplified against Traditional from the characters themselves
(xling.langid.han), so prediction never needs OpenCC. One character at a time (no phrase can match):

- Traditional-only: OpenCC's t2s (or tw2s, hk2s) changes it, and OpenCC's table of Traditional characters
  (TSCharacters) does not list it among its own Simplified forms (乾 -> 干 乾: 乾 is Simplified too, 乾隆).
- Simplified-only: s2t, s2tw and s2hk all change it (群 becomes 羣 in OpenCC's standard but stays 群 in
  Taiwan's: written in Traditional text), and STCharacters does not list it among its own Traditional forms
  (后 -> 後 后: 皇后 is Traditional).
- A character both ways (t2s and s2t both change it: 藴, 麽) is dropped: it tells neither.

`--measure` scores the shipped detector without and with the rule (`han_scripts`) on text that is no test
set: UD Chinese-GSD dev (Traditional; the treebank has no train split here) and the Bible's cmn (Simplified),
whole and cropped as the trainer crops (1-6 characters), GSD also as 1-3 UD words; then on the same text
converted to the other script with OpenCC (text the weights never saw in that script; the same tables the
sets come from, so the rule's figure there is flattering).
"""

from __future__ import annotations

import argparse
import gzip
import random
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import opencc

OUTPUT = Path(__file__).resolve().parents[1] / "src" / "xling" / "langid" / "han_scripts.txt"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# CJK unified ideographs: basic, extension A, and extensions B-I (TSCharactersExt simplifies rare
# Traditional characters into them); compatibility ideographs are left out: NFKC, which the detector's
# normalisation applies, turns them into unified ones.
HAN_RANGES = ((0x4E00, 0xA000), (0x3400, 0x4DC0), (0x20000, 0x2EBF0), (0x30000, 0x323B0))
PER_LINE = 80
HEADER = """\
# Han characters written in one script only: `Hans` lines hold characters of Simplified Chinese that
# Traditional Chinese writes otherwise, `Hant` lines the reverse. Characters of both scripts are in neither.
# Derived from OpenCC's conversion tables (https://github.com/BYVoid/OpenCC, Apache License 2.0; Python
# package opencc {version}) by recipes/build_han_scripts.py; do not edit by hand. {hans} Hans, {hant} Hant.
"""


def converters(*names: str) -> list[Callable[[str], str]]:
    """Return OpenCC's converters of the named configurations (`s2t`), in order."""
    return [opencc.OpenCC(name).convert for name in names]


def own_candidates(table: str) -> set[str]:
    """Return the characters an OpenCC character table lists among their own conversions (`后 -> 後 后`):
    characters the target script writes the same way."""
    share = Path(opencc.__file__).parent / "clib" / "share" / "opencc"
    tool = Path(opencc.__file__).parent / "clib" / "bin" / "opencc_dict"
    with tempfile.TemporaryDirectory() as folder:
        text = Path(folder) / f"{table}.txt"
        # the package ships the tables compiled (.ocd2); its own tool writes them back as text
        subprocess.run([str(tool), "-i", str(share / f"{table}.ocd2"), "-o", str(text), "-f", "ocd2", "-t", "text"],
                       check=True)  # fmt: skip
        lines = text.read_text(encoding="utf-8").splitlines()
    found = set()
    for line in lines:
        source, _, targets = line.partition("\t")
        if len(source) == 1 and source in targets.split(" "):
            found.add(source)
    return found


def changed(char: str, convert: Iterable[Callable[[str], str]]) -> list[bool]:
    """Return, per converter, whether it changes `char`."""
    return [function(char) != char for function in convert]


def han_scripts() -> tuple[str, str, dict[str, str]]:
    """Return (Simplified-only characters, Traditional-only characters, dropped characters by reason)."""
    to_traditional = converters("s2t", "s2tw", "s2hk")
    to_simplified = converters("t2s", "tw2s", "hk2s")
    simplified_too = own_candidates("TSCharacters")  # Traditional characters Simplified Chinese keeps
    traditional_too = own_candidates("STCharacters")  # Simplified characters Traditional Chinese keeps
    hans, hant = [], []
    dropped = {"both": "", "own Traditional form": "", "kept by a Traditional standard": "",
               "own Simplified form": ""}  # fmt: skip
    for start, end in HAN_RANGES:
        for code in range(start, end):
            char = chr(code)
            to_hant = changed(char, to_traditional)
            to_hans = any(changed(char, to_simplified))
            # both ways by OpenCC's standard tables alone: s2hk changes Traditional 溫 and 說 to Hong Kong's
            # 温 and 説, which are variants within Traditional Chinese, not a change of script
            if to_hans and to_hant[0]:
                dropped["both"] += char
            elif to_hans:
                if char in simplified_too:
                    dropped["own Simplified form"] += char
                else:
                    hant.append(char)
            elif any(to_hant):
                if char in traditional_too:
                    dropped["own Traditional form"] += char
                elif not all(to_hant):
                    dropped["kept by a Traditional standard"] += char
                else:
                    hans.append(char)
    return "".join(hans), "".join(hant), dropped


def write(path: Path, hans: str, hant: str) -> None:
    """Write the data file: the header, then `Hans`/`Hant` lines of PER_LINE characters."""
    lines = [HEADER.format(version=opencc_version(), hans=len(hans), hant=len(hant))]
    for script, chars in (("Hans", hans), ("Hant", hant)):
        lines += [f"{script}\t{chars[i : i + PER_LINE]}\n" for i in range(0, len(chars), PER_LINE)]
    path.write_text("".join(lines), encoding="utf-8")


def opencc_version() -> str:
    """Return the installed opencc package's version."""
    from importlib.metadata import version

    return version("opencc")


def gsd_dev(data: Path) -> tuple[list[str], list[list[str]]]:
    """Return UD Chinese-GSD dev's sentences and each one's words (punctuation left out)."""
    sentences: list[str] = []
    words: list[list[str]] = []
    with gzip.open(
        data / "ud" / "UD_Chinese-GSD" / "zh_gsd-ud-dev.conllu.gz", "rt", encoding="utf-8"
    ) as lines:
        for line in lines:
            if line.startswith("# text = "):
                sentences.append(line[9:].strip())
                words.append([])
            elif line[:1].isdigit():
                columns = line.split("\t")
                if columns[0].isdigit() and columns[3] != "PUNCT":  # not a multiword range nor an empty node
                    words[-1].append(columns[1])
    return sentences, words


def bible(data: Path, language: str) -> list[str]:
    """Return the verses of the Bible in `language`."""
    with gzip.open(data / "bible" / f"{language}.tsv.gz", "rt", encoding="utf-8") as lines:
        return [line.rstrip("\n").split("\t", 1)[1] for line in lines]


def measure(data: Path) -> None:
    """Print the shipped detector's label and language accuracy on Chinese text without and with the rule."""
    from xling.langid import LanguageIdentifier
    from xling.langid.train import crop

    rng = random.Random(0)
    sentences, words = gsd_dev(data)
    verses = bible(data, "cmn")
    short = [rng.randint(1, 3) for _ in words]
    to_traditional, to_simplified = opencc.OpenCC("s2twp").convert, opencc.OpenCC("t2s").convert
    sets = {
        "GSD dev (Hant) sentences": (sentences, "cmn_Hant"),
        "GSD dev (Hant) 1-3 UD words": (["".join(w[(s := rng.randint(0, max(0, len(w) - n))) : s + n])
                                         for w, n in zip(words, short, strict=True)], "cmn_Hant"),
        "GSD dev (Hant) 1-6 character crops": ([crop(t, rng, True) for t in sentences for _ in range(3)], "cmn_Hant"),
        "Bible cmn (Hans) verses": (verses, "cmn_Hans"),
        "Bible cmn (Hans) 1-6 character crops": ([crop(t, rng, True) for t in verses], "cmn_Hans"),
        "Bible cmn in Hant (OpenCC s2twp) verses": ([to_traditional(t) for t in verses], "cmn_Hant"),
        "GSD dev in Hans (OpenCC t2s) sentences": ([to_simplified(t) for t in sentences], "cmn_Hans"),
    }  # fmt: skip
    detector = LanguageIdentifier.from_pretrained("xling-langid")
    # label: language and script right; script: among the answers in Mandarin, the script right
    print(
        f"{'text':42} {'n':>6}  label % before -> after  script %  before -> after  language % before -> after"
    )
    for name, (texts, gold) in sets.items():
        figures = []
        for rule in (False, True):
            detector.han_scripts = rule
            labels = [top[0].label for top in detector.predict(texts)]
            mandarin = [label for label in labels if label.startswith("cmn")]
            figures += [100 * sum(label == gold for label in labels) / len(labels),
                        100 * sum(label == gold for label in mandarin) / max(1, len(mandarin)),
                        100 * len(mandarin) / len(labels)]  # fmt: skip
        label_0, script_0, language_0, label_1, script_1, language_1 = figures
        print(f"{name:42} {len(texts):6}  {label_0:14.1f} -> {label_1:5.1f}  {script_0:15.1f} -> {script_1:5.1f}  "
              f"{language_0:17.1f} -> {language_1:5.1f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--measure", action="store_true", help="then score the shipped detector without/with")
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder (ud/, bible/)")
    args = parser.parse_args()
    hans, hant, dropped = han_scripts()
    write(args.output, hans, hant)
    print(f"{args.output}: {len(hans)} Simplified-only, {len(hant)} Traditional-only characters")
    for reason, chars in dropped.items():
        print(f"dropped ({reason}): {len(chars)}  {chars[:120]}")
    if args.measure:
        measure(args.data)


if __name__ == "__main__":
    main()
