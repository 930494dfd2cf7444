"""The report's plots as inline SVG: matplotlib's Agg backend, the Okabe-Ito palette (safe for colour-blind
readers), hatching where colour carries meaning (so a grey print still shows it), text kept as text."""

from __future__ import annotations

import io
import itertools
import math
import re
from collections.abc import Mapping, Sequence

__all__ = ["bar_chart", "difference_chart", "fewshot_chart", "heat_map", "scatter_training_data"]

# Okabe & Ito (2008), "Color Universal Design": distinguishable under the common colour-vision deficiencies
BLUE, ORANGE, GREEN, VERMILLION, SKY, PURPLE, YELLOW, BLACK = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#000000")  # fmt: skip
SERIES = (BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, BLACK, YELLOW)
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_FIGURES = itertools.count(1)


def _pyplot():
    """Return matplotlib.pyplot on the Agg backend with the report's style (no display needed)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "svg.fonttype": "none",  # text stays text: smaller files, searchable, sharp in print
        "svg.hashsalt": "xling-report",  # the same figure gives the same SVG
        "text.parse_math": False,  # labels are names from data folders: "$^$" is text, not a formula
        "font.size": 9, "axes.titlesize": 10, "axes.spines.top": False, "axes.spines.right": False,
        "axes.grid": True, "grid.color": "#dddddd", "grid.linewidth": 0.6, "axes.axisbelow": True,
        "hatch.linewidth": 0.8, "font.family": "DejaVu Sans",
    })  # fmt: skip
    return plt


def _rotation(items: list) -> int:
    """Return the tick label angle: upright labels only when few and short (MT directions, `spa-eng`, need
    turning even when there are only a dozen)."""
    longest = max((len(str(key)) for key, _ in items), default=0)
    return 90 if len(items) > 12 or len(items) * longest > 40 else 0


def _svg(fig) -> str:
    """Return the figure as an <svg> element (no XML header, no fixed ids clashing between figures)."""
    plt = _pyplot()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    # ids are unique within one SVG only: prefix them, so that figures inlined in one page never share one
    prefix = f"f{next(_FIGURES)}-"
    text = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}\1"', text)
    text = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}\1)", text)
    return re.sub(r'href="#([^"]+)"', rf'href="#{prefix}\1"', text)


def bar_chart(values: Mapping[str, float], *, unseen: Sequence[str] = (), ylabel: str = "", title: str = "",
              top: float | None = 100.0) -> str:  # fmt: skip
    """Return a bar per language sorted by score (highest first); languages in `unseen` (never in the model's
    training data) drawn orange and hatched, the others blue, with a legend when both occur."""
    plt = _pyplot()
    items = sorted(values.items(), key=lambda item: -item[1])
    width = min(max(5.0, 0.16 * len(items) + 1.5), 18.0)
    fig, ax = plt.subplots(figsize=(width, 3.0))
    unseen_set = set(unseen)
    for i, (key, value) in enumerate(items):
        new = key in unseen_set
        ax.bar(i, value, color=ORANGE if new else BLUE, hatch="///" if new else None, edgecolor="white" if not new
               else "#7a5200", linewidth=0.4)  # fmt: skip
    ax.set_xticks(range(len(items)), [key for key, _ in items], rotation=_rotation(items),
                  fontsize=7 if len(items) > 40 else 8)  # fmt: skip
    ax.set_xlim(-0.7, len(items) - 0.3)
    if top is not None:
        ax.set_ylim(0, max(top, max((v for _, v in items), default=0)))
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, loc="left")
    if unseen_set & set(values) and len(unseen_set & set(values)) < len(values):
        from matplotlib.patches import Patch

        ax.legend(handles=[Patch(color=BLUE, label="in the model's training languages"),
                           Patch(facecolor=ORANGE, hatch="///", edgecolor="#7a5200", label="never trained on")],
                  loc="upper right", frameon=False, fontsize=8)  # fmt: skip
    ax.grid(axis="x", visible=False)
    return _svg(fig)


def scatter_training_data(series: Mapping[str, Mapping[str, float]], counts: Mapping[str, int], *,
                          ylabel: str = "retrieval accuracy (%)") -> str:  # fmt: skip
    """Return accuracy against training sentences per language (log x): one marker shape and colour per
    series (task), each point labelled with its language."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for i, (name, values) in enumerate(series.items()):
        points = [(counts[key], value, key) for key, value in values.items() if counts.get(key, 0) > 0]
        if not points:
            continue
        xs, ys, keys = zip(*points, strict=True)
        ax.scatter(xs, ys, label=name, color=SERIES[i % len(SERIES)], marker=MARKERS[i % len(MARKERS)], s=22,
                   alpha=0.85, edgecolors="white", linewidths=0.4)  # fmt: skip
        for x, y, key in points:
            ax.annotate(key, (x, y), fontsize=6, xytext=(3, 2), textcoords="offset points", color="#333333")
    ax.set_xscale("log")
    ax.set_xlabel("training sentences of the language (log scale)")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 100)
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    return _svg(fig)


def fewshot_chart(
    curves: Mapping[str, Sequence[tuple[int, float, float]]], *, ylabel: str = "macro-F1"
) -> str:
    """Return one line per language of (k, mean, std) points, k on a symlog axis, std as error bars (none
    where a std is None or NaN: one draw, or an older result without it)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for i, (name, points) in enumerate(curves.items()):
        ks, means, spreads = zip(*points, strict=True)
        stds = [std if isinstance(std, int | float) and math.isfinite(std) else 0.0 for std in spreads]
        ax.errorbar(ks, means, yerr=stds, label=name, color=SERIES[i % len(SERIES)], marker=MARKERS[i % len(MARKERS)],
                    linestyle=("-", "--", ":", "-.")[i % 4], capsize=2, markersize=4, linewidth=1.2)  # fmt: skip
    ax.set_xscale("symlog", linthresh=1)
    all_ks = sorted({k for points in curves.values() for k, _, _ in points})
    ax.set_xticks(all_ks, [str(k) for k in all_ks])
    ax.set_xlabel("labelled target examples per class (k)")
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, fontsize=8, ncols=2)
    return _svg(fig)


def heat_map(cells: Mapping[tuple[str, str], float], *, label: str = "chrF++") -> str:
    """Return a source x target heat map (viridis, readable in grey) with each cell's value written in it;
    pairs without a figure stay blank."""
    plt = _pyplot()
    import numpy as np

    sources = sorted({s for s, _ in cells})
    targets = sorted({t for _, t in cells})
    grid = np.full((len(sources), len(targets)), np.nan)
    for (s, t), value in cells.items():
        grid[sources.index(s), targets.index(t)] = value
    fig, ax = plt.subplots(figsize=(1.1 * len(targets) + 2.2, 0.8 * len(sources) + 1.4))
    finite = grid[np.isfinite(grid)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    image = ax.imshow(grid, cmap="viridis", vmin=low, vmax=max(high, low + 1e-6), aspect="auto")
    for i in range(len(sources)):
        for j in range(len(targets)):
            if math.isfinite(grid[i, j]):
                dark = (grid[i, j] - low) / max(high - low, 1e-6) < 0.6
                ax.text(j, i, f"{grid[i, j]:.1f}", ha="center", va="center", fontsize=8,
                        color="white" if dark else "black")  # fmt: skip
    ax.set_xticks(range(len(targets)), targets)
    ax.set_yticks(range(len(sources)), sources)
    ax.set_xlabel("target")
    ax.set_ylabel("source")
    ax.grid(False)
    fig.colorbar(image, ax=ax, label=label, shrink=0.8)
    return _svg(fig)


def difference_chart(diffs: Mapping[str, float], regressions: Sequence[str], *, threshold: float) -> str:
    """Return a bar per language of (now - baseline) in points, sorted; regressions (a drop beyond
    `threshold`) vermillion and cross-hatched, the rest blue; the threshold drawn as a dashed line."""
    plt = _pyplot()
    items = sorted(diffs.items(), key=lambda item: item[1])
    width = min(max(5.0, 0.16 * len(items) + 1.5), 18.0)
    fig, ax = plt.subplots(figsize=(width, 2.8))
    bad = set(regressions)
    for i, (key, value) in enumerate(items):
        ax.bar(i, value, color=VERMILLION if key in bad else BLUE, hatch="xx" if key in bad else None,
               edgecolor="white", linewidth=0.4)  # fmt: skip
    ax.axhline(0, color=BLACK, linewidth=0.8)
    ax.axhline(-threshold, color=VERMILLION, linewidth=0.8, linestyle="--")
    ax.set_xticks(range(len(items)), [key for key, _ in items], rotation=_rotation(items),
                  fontsize=7 if len(items) > 40 else 8)  # fmt: skip
    ax.set_xlim(-0.7, len(items) - 0.3)
    ax.set_ylabel("now − baseline (points)")
    ax.grid(axis="x", visible=False)
    return _svg(fig)
