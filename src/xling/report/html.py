"""report.html: one self-contained page (inline CSS and SVG, no script, nothing fetched) drawn from report.json.

Sections (element ids): `summary` (task, primary metric, average, languages, status); `task-<name>` per task
(per-language bars sorted by score, languages the model never trained on marked, the figures as a table);
for encoders `training-data` (retrieval accuracy against training sentences per language, log x) and
`fewshot` (the few-shot curves); for translators `mt-heatmap` (chrF++ source x target); with a baseline
`baseline` (the difference per language, regressions highlighted); `details` (versions, machine, settings).
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from xling.data.languages import language_code_of, same_language
from xling.errors import LanguageCodeError
from xling.report import plots

__all__ = ["render_html", "unseen_keys"]

CSS = """
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:0 auto;max-width:1150px;padding:1.2em 1.6em;color:#111;
 line-height:1.4}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.2em;border-bottom:2px solid #0072B2;padding-bottom:.15em;
 margin-top:1.8em}h3{font-size:1.02em;margin:1.2em 0 .3em}
.meta{color:#444;font-size:.9em}table{border-collapse:collapse;font-size:.88em;margin:.5em 0}
th,td{border:1px solid #bbb;padding:.22em .55em;text-align:right}th{background:#eef4fa}
td:first-child,th:first-child{text-align:left}.skipped{color:#8a4b00}.regression{background:#fbe3d6;
 font-weight:bold}.note{color:#555;font-style:italic}figure{margin:.4em 0 1em}svg{max-width:100%;height:auto}
details{margin:.4em 0}summary{cursor:pointer;color:#0072B2}pre{font-size:.78em;white-space:pre-wrap;
 background:#f6f6f6;padding:.6em}.tag{display:inline-block;padding:0 .4em;border-radius:3px;font-size:.8em}
.tag.done{background:#d7ecf9}.tag.cached{background:#e2f2ea}.tag.skipped{background:#fbe9cf}.tag.failed{background:#f6c9c4}
@media print{body{max-width:none;padding:0}details{display:none}h2{page-break-after:avoid}
 figure{page-break-inside:avoid}}
"""


def _number(value: Any, digits: int = 2) -> str:
    """Return a figure as text ("" for None, "—" for what is not a number)."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return escape(str(value))
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _same(a: str, b: str) -> bool:
    try:
        return same_language(a, b)
    except LanguageCodeError:
        return a == b


def unseen_keys(result: dict[str, Any], languages: list[str] | None) -> list[str]:
    """Return the rows of a Result whose language the model never trained on: the row's own `covered` flag
    (transfer, language id) when it has one, else its `language` or its key's first language (a code, or an
    English name such as the few-shot rows' "french") checked against `languages`."""
    out = []
    for key, row in result["scores"].items():
        if isinstance(row, dict) and isinstance(row.get("covered"), bool):
            if not row["covered"]:
                out.append(key)
            continue
        if languages is None:
            continue
        first = key.split("-")[0]
        # few-shot rows are keyed by UMSAB folder names ("french"): the name's code, not the name
        code = (
            row.get("language")
            if isinstance(row, dict) and row.get("language")
            else (language_code_of(first) or first)
        )
        if not any(_same(str(code), lang) for lang in languages):
            out.append(key)
    return out


def _primary_points(result: dict[str, Any], scale: float) -> dict[str, float]:
    return {key: float(row[result["primary"]]) * scale for key, row in result["scores"].items()
            if isinstance(row, dict) and isinstance(row.get(result["primary"]), int | float)}  # fmt: skip


def render_html(report: dict[str, Any]) -> str:
    """Return the whole page for a report.json payload."""
    model = report["model"]
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>xling report: "
             f"{escape(model['name'])}</title><style>{CSS}</style></head><body>",
             f"<h1>xling report: {escape(model['name'])}</h1>",
             f"<p class='meta'>{escape(model['kind'])} · {escape(model['path'])} · fingerprint "
             f"{escape(model['fingerprint'])} · {escape(report['created'])} · xling "
             f"{escape(str(report['versions'].get('xling')))} · "
             f"{len(model['languages'] or [])} training languages</p>"]  # fmt: skip
    parts.append(_summary(report))
    for task, entry in report["tasks"].items():
        parts.append(_task_section(report, task, entry))
    if model["family"] == "encoder":
        parts.append(_training_data_section(report))
        parts.append(_fewshot_section(report))
    if model["family"] == "translator":
        parts.append(_heatmap_section(report))
    if "baseline" in report:
        parts.append(_baseline_section(report))
    parts.append(_details_section(report))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _unit(primary: str, scale: float) -> str:
    """Return how a task's figures are shown: the primary metric, times its scale when it has one."""
    return primary + (f" × {scale:g}" if scale != 1 else "")


def _summary(report: dict[str, Any]) -> str:
    baseline = report.get("baseline", {}).get("tasks", {})
    head = ["task", "status", "primary metric", "average", "languages", "seconds"]
    if "baseline" in report:
        # over the rows both reports have, as the difference is: the "average" column may hold more
        head += ["shared languages: now / baseline", "difference", "regressions"]
    rows = []
    for task, entry in report["tasks"].items():
        result = entry.get("result")
        title = report["titles"].get(task, task)
        status = f"<span class='tag {entry['status']}'>{escape(entry['status'])}</span>"
        if result is None:
            rows.append(f"<tr class='skipped'><td><a href='#task-{task}'>{escape(task)}</a></td><td>{status}</td>"
                        f"<td colspan='{len(head) - 2}' style='text-align:left'>{escape(entry['reason'])}</td></tr>")  # fmt: skip
            continue
        # averages in the points the bars and the baseline difference use (mining's F1 x 100)
        scale = report["scales"].get(task, 1.0)
        cells = [f"<a href='#task-{task}' title='{escape(title)}'>{escape(task)}</a>", status,
                 escape(_unit(result["primary"], scale)), _number(result["average"] * scale),
                 str(len(result["scores"])), _number(entry["seconds"], 1)]  # fmt: skip
        if "baseline" in report:
            compared = baseline.get(task)
            if compared:
                diff = compared["average_now"] - compared["average_before"]
                cells += [
                    f"{_number(compared['average_now'])} / {_number(compared['average_before'])}",
                    f"{diff:+.2f}",
                    escape(", ".join(compared["regressions"]) or "none"),
                ]
            else:
                cells += ["", "", ""]
        rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    table = (
        "<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>" + "".join(rows) + "</table>"
    )
    return f"<section id='summary'><h2>Summary</h2>{table}</section>"


def _task_section(report: dict[str, Any], task: str, entry: dict[str, Any]) -> str:
    title = escape(report["titles"].get(task, task))
    result = entry.get("result")
    if result is None:
        return (f"<section id='task-{task}'><h2>{title}</h2><p class='skipped'>"
                f"{escape(entry['status'].capitalize())}: {escape(entry['reason'])}</p></section>")  # fmt: skip
    scale = report["scales"].get(task, 1.0)
    values = _primary_points(result, scale)
    unseen = unseen_keys(result, report["model"]["languages"])
    unit = _unit(result["primary"], scale)
    chart = plots.bar_chart(values, unseen=unseen, ylabel=unit) if values else ""
    marked = (f"<p class='meta'>Hatched orange: never in the model's training languages "
              f"({escape(', '.join(unseen))}).</p>" if unseen else "")  # fmt: skip
    columns = [name for name, value in next(iter(result["scores"].values()), {}).items()
               if isinstance(value, int | float | bool | str) and name != "language"]  # fmt: skip
    rows = "".join(
        "<tr><td>" + escape(key) + "</td>" + "".join(f"<td>{_number(row.get(c))}</td>" for c in columns) + "</tr>"
        for key, row in sorted(result["scores"].items(), key=lambda item: -values.get(item[0], 0)))  # fmt: skip
    table = ("<details><summary>figures per language</summary><table><tr><th>row</th>"
             + "".join(f"<th>{escape(c)}</th>" for c in columns) + f"</tr>{rows}</table></details>")  # fmt: skip
    return (f"<section id='task-{task}'><h2>{title}</h2><p class='meta'>average {escape(unit)} "
            f"<b>{_number(result['average'] * scale)}</b> over {len(result['scores'])} rows · data {escape(result['data'])}"
            f" · {_number(entry['seconds'], 1)} s ({escape(entry['status'])})</p><figure>{chart}</figure>{marked}"
            f"{table}</section>")  # fmt: skip


def _training_data_section(report: dict[str, Any]) -> str:
    info = report.get("training_data") or {}
    head = "<section id='training-data'><h2>Retrieval accuracy against training data per language</h2>"
    counts = info.get("counts") or {}
    series = {}
    for task in ("tatoeba", "ntrex"):
        result = (report["tasks"].get(task) or {}).get("result")
        if result:
            series[task] = _primary_points(result, report["scales"].get(task, 1.0))
    if not counts or not series:
        note = info.get("note") or "no Tatoeba or NTREX figures, or no training counts to plot them against"
        return f"{head}<p class='note'>Not drawn: {escape(note)}.</p></section>"
    absent = sorted({key for values in series.values() for key in values if not counts.get(key)})
    chart = plots.scatter_training_data(series, counts)
    rest = (f"<p class='meta'>Not on the log axis (no training sentences): {escape(', '.join(absent))}.</p>"
            if absent else "")  # fmt: skip
    return (
        f"{head}<p class='meta'>Training sentences: {escape(info.get('source', ''))}.</p>"
        f"<figure>{chart}</figure>{rest}</section>"
    )


def _fewshot_section(report: dict[str, Any]) -> str:
    head = "<section id='fewshot'><h2>Few-shot curves</h2>"
    result = (report["tasks"].get("fewshot") or {}).get("result")
    if not result:
        reason = (report["tasks"].get("fewshot") or {}).get("reason") or "the fewshot task was not run"
        return f"{head}<p class='note'>Not drawn: {escape(reason)}.</p></section>"
    curves = {}
    for lang, row in result["scores"].items():
        curves[lang] = [(k, row[f"k{k}"], row.get(f"k{k}_std", 0.0)) for k in result["settings"]["ks"]
                        if f"k{k}" in row]  # fmt: skip
    averages = result["settings"].get("averages", {})
    line = ", ".join(f"{key}: {value}" for key, value in averages.items())
    return (
        f"{head}<p class='meta'>macro-F1, mean ± std over {escape(str(result['settings']['seeds']))} draws per k; "
        f"averages {escape(line)}</p><figure>{plots.fewshot_chart(curves)}</figure></section>"
    )


def _heatmap_section(report: dict[str, Any]) -> str:
    out = ["<section id='mt-heatmap'><h2>MT chrF++ per direction (source × target)</h2>"]
    drawn = False
    for task, entry in report["tasks"].items():
        result = entry.get("result")
        if not task.startswith("mt-") or not result:
            continue
        cells = {tuple(key.split("-", 1)): row["chrf++"] for key, row in result["scores"].items()
                 if "-" in key and "chrf++" in row}  # fmt: skip
        if cells:
            drawn = True
            n = escape(str(result["settings"].get("max_sentences") or "all"))
            out.append(f"<h3>{escape(report['titles'].get(task, task))} ({n} sentences a direction)</h3>"
                       f"<figure>{plots.heat_map(cells)}</figure>")  # fmt: skip
    if not drawn:
        out.append("<p class='note'>Not drawn: no MT task has figures.</p>")
    out.append("</section>")
    return "".join(out)


def _baseline_section(report: dict[str, Any]) -> str:
    baseline = report["baseline"]
    out = [f"<section id='baseline'><h2>Against the baseline</h2><p class='meta'>baseline "
           f"{escape(baseline['path'])} ({escape(str((baseline.get('model') or {}).get('name')))}, "
           f"{escape(str(baseline.get('created')))}); a drop of more than {baseline['threshold']:g} points is a "
           f"regression (vermillion, cross-hatched, bold in the tables)</p>"]  # fmt: skip
    if not baseline["tasks"]:
        out.append("<p class='note'>No task has figures in both reports.</p>")
    for task, compared in baseline["tasks"].items():
        rows = compared["rows"]
        out.append(f"<h3 id='baseline-{task}'>{escape(report['titles'].get(task, task))}: average "
                   f"{compared['average_before']:.2f} → {compared['average_now']:.2f} points; regressions: "
                   f"{escape(', '.join(compared['regressions']) or 'none')}</h3>")  # fmt: skip
        if compared.get("settings_differ"):
            changed = "; ".join(
                f"{key} {before} → {now}" for key, (before, now) in compared["settings_differ"].items()
            )
            out.append(
                f"<p class='note'>Not comparable, no regression flagged: the settings differ ({escape(changed)}).</p>"
            )
        if rows:
            out.append("<figure>" + plots.difference_chart({k: r["diff"] for k, r in rows.items()},
                       compared["regressions"], threshold=baseline["threshold"]) + "</figure>")  # fmt: skip
            lines = "".join(
                f"<tr class='{'regression' if r['regression'] else ''}'><td>{escape(k)}</td><td>{r['before']:.2f}"
                f"</td><td>{r['now']:.2f}</td><td>{r['diff']:+.2f}</td></tr>"
                for k, r in sorted(rows.items(), key=lambda item: item[1]["diff"]))  # fmt: skip
            out.append("<details open><summary>per language</summary><table><tr><th>row</th><th>baseline</th>"
                       f"<th>now</th><th>difference</th></tr>{lines}</table></details>")  # fmt: skip
    out.append("</section>")
    return "".join(out)


def _details_section(report: dict[str, Any]) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in report["versions"].items())
    machine = ", ".join(f"{k} {v}" for k, v in report["machine"].items())
    settings = {task: entry.get("settings") for task, entry in report["tasks"].items()}
    return (f"<section id='details'><h2>How this was made</h2><p class='meta'>Versions: {escape(versions)}<br>"
            f"Machine: {escape(machine)}</p><details><summary>settings per task</summary><pre>"
            f"{escape(json.dumps(settings, indent=1, ensure_ascii=False))}</pre></details><details><summary>"
            f"the model's xling.json</summary><pre>{escape(json.dumps(report['xling_json'], indent=1, ensure_ascii=False)[:20000])}"
            f"</pre></details></section>")  # fmt: skip
