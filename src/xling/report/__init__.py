"""`xling report`: every evaluation that applies to a model's kind, in one report.json and one report.html.

`config` (ReportConfig), `tasks` (which task applies to which kind, each run through xling.evaluation and
returning the shared Result), `run` (the incremental runner, baseline comparison, --fail-under guards),
`plots` (matplotlib, inline SVG), `html` (the self-contained page).
"""

from xling.report.config import ReportConfig
from xling.report.run import ReportOutcome, run_report

__all__ = ["ReportConfig", "ReportOutcome", "run_report"]
