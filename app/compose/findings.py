"""The findings as Markdown (`GET .../findings` with `Accept: text/markdown`): one bullet per finding with the runs it
comes from. Names and messages hold people's text (the project's name, approach and parameter names), escaped as
every Markdown answer is (`app.compose.escape`); runs read by their labels (`app.compose.labels`). It lists every
finding: the documents group and count them, and point here for the full list."""

from __future__ import annotations

from app.analysis.model import Findings
from app.compose.escape import inline_code, md_text
from app.compose.labels import named


def render_findings(project_name: str, findings: Findings) -> str:
    """`# <project> — findings on <metric> (<direction>)`, then `- **kind**: message (runs: a, b)` per finding."""
    lines = [f"# {md_text(f'{project_name} — findings on {findings.metric} ({findings.direction})')}", ""]
    for f in findings.findings:
        runs = f" (runs: {', '.join(inline_code(r) for r in f.run_ids)})" if f.run_ids else ""
        lines.append(f"- **{f.kind}**: {md_text(f.message)}{runs}")
    if not findings.findings:
        lines.append("- no findings: no runs stored yet")
    return named("\n".join(lines) + "\n")
