"""The replay report's stylesheet, inlined into ``report.html`` (no external resource).

Class names are the report's and the timeline's (``station.training.report``,
``station.training.timeline``); outcome colours serve both the SVG bars
(``fill``) and the legend's swatches (``background``).
"""

__all__ = ["REPORT_CSS"]

REPORT_CSS = """
:root { --ok: #2e7d32; --bad: #c62828; --ink: #1f2933; --muted: #616e7c; --rule: #d9e2ec; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); background: #f5f7fa; }
header, main, footer { max-width: 1200px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 24px; }
h1 { margin: 0 0 4px; font-size: 24px; }
h2 { margin: 32px 0 8px; font-size: 18px; border-bottom: 1px solid var(--rule); }
.description { white-space: pre-line; color: var(--muted); margin: 4px 0 12px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.verdict { display: inline-block; margin: 12px 0 0; padding: 4px 12px; border-radius: 4px;
  font-weight: 600; color: #fff; }
.verdict.ok { background: var(--ok); }
.verdict.bad { background: var(--bad); }
.note { color: var(--muted); font-size: 13px; }
table { border-collapse: collapse; background: #fff; margin: 8px 0; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--rule); text-align: left;
  vertical-align: top; }
th { background: #e4e7eb; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.miss td { background: #fdecea; }
td.mark { font-weight: 700; text-align: center; }
td.mark.ok, .good { color: var(--ok); }
td.mark.bad, .poor { color: var(--bad); font-weight: 600; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  font-size: 12.5px; }
.transcript td { padding: 1px 8px; }
.transcript tr.line-event td { color: var(--bad); font-weight: 600; }
.transcript tr.line-decision td { font-weight: 600; }
.grid { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
.timeline-scroll { overflow-x: auto; background: #fff; border: 1px solid var(--rule); }
.legend { display: flex; flex-wrap: wrap; gap: 16px; margin: 4px 0 8px; font-size: 13px; }
.swatch { display: inline-block; width: 14px; height: 10px; margin-right: 4px;
  vertical-align: middle; border-radius: 2px; }
.outcome-accepted { fill: #2e7d32; background: #2e7d32; }
.outcome-referred { fill: #ef6c00; background: #ef6c00; }
.outcome-rejected { fill: #c62828; background: #c62828; }
.outcome-aborted { fill: #757575; background: #757575; }
.outcome-other { fill: #90a4ae; background: #90a4ae; }
svg text { font: 11px system-ui, sans-serif; fill: var(--ink); }
svg .lane-bg { fill: #f0f4f8; }
svg .lane-bg.odd { fill: #e6ecf2; }
svg .gate-label { font-weight: 600; }
svg .tick { stroke: #cbd2d9; stroke-width: 1; }
svg .bar.miss { stroke: #000; stroke-width: 2; stroke-dasharray: 4 2; }
svg .bar-label { fill: #fff; font-weight: 600; pointer-events: none; }
svg .mismatch { fill: #fff; stroke: var(--bad); stroke-width: 2; }
svg .mismatch-mark { fill: var(--bad); font-weight: 700; text-anchor: middle; }
svg .event line { stroke: #6a1b9a; stroke-width: 2; }
svg .event path { fill: #6a1b9a; }
svg .bar-label.outside { fill: var(--ink); }
svg .fault { fill: #c62828; fill-opacity: 0.13; stroke: #c62828; stroke-opacity: 0.5;
  stroke-dasharray: 3 2; }
svg .fault-label { font-size: 9px; fill: #8e1b1b; }
.swatch.fault { background: #f5d5d5; border: 1px dashed #c62828; }
.near-threshold { color: #8a4b00; background: #fff3e0; font-weight: 600; }
p.near-threshold { padding: 4px 8px; border-left: 4px solid #ef6c00; margin: 4px 0; }
.faces td { vertical-align: middle; }
.faces img { display: block; height: 96px; width: auto; border-radius: 2px; }
.no-photo { display: inline-block; width: 72px; padding: 36px 0; text-align: center;
  color: var(--muted); background: #eef1f4; font-size: 12px; }
footer { margin: 32px auto 24px; color: var(--muted); font-size: 12px; }
"""
