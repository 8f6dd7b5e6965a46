"""The report page: one self-contained HTML file (Plotly's JavaScript embedded, no network needed) that
opens with the state on the report's last day, then the charts, the batches and the validation
collapsed to its failures."""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field

import plotly.graph_objects as go
import plotly.offline
import polars as pl

from aquagen import words


@dataclass
class Chart:
    key: str
    title: str
    caption: str
    figure: go.Figure | None  # None: nothing to draw (the page says so)
    empty: str = "Nothing to draw."


@dataclass
class Today:
    """The state on the report's last day."""

    active: pl.DataFrame  # stage, geography, batches
    fish: int
    biomass_kg: float
    occupancy: dict[str, tuple[int, int]]  # env -> (occupied, containers)
    feed_kg: float
    sizes: pl.DataFrame  # table, rows, bytes


@dataclass
class Page:
    label: str
    end: dt.date
    validation_as_of: dt.date
    info: list[tuple[str, str]]
    today: Today
    charts: list[Chart]
    batches: pl.DataFrame
    results: list = field(default_factory=list)  # validate.Result


def esc(v) -> str:
    return html.escape("—" if v is None else str(v))


def count(v) -> str:
    """A count for people: 3,071,400 (never 3,071,400.0)."""
    return "—" if v is None else f"{round(v):,}"


def tonnes(kg: float) -> str:
    t = kg / 1000
    return f"{t:,.0f} t" if t >= 100 else f"{t:,.1f} t"


def megabytes(n: int) -> str:
    return f"{n / 1e6:,.1f}" if n >= 1e5 else f"{n / 1e6:,.2f}"


CSS = """
:root { --ok: #1e7b34; --okbg: #dcf3e1; --bad: #a50f15; --badbg: #fde2e1; --muted: #5b6770; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 0 auto; max-width: 1440px;
       padding: 1.2em 1.5em 4em; color: #1d2731; background: #fbfbfc; }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 0.4em 1.5em; }
h1 { margin: 0; font-size: 1.6em; } h2 { margin: 1.6em 0 0.5em; font-size: 1.25em; }
.sub { color: var(--muted); }
nav { margin: 0.6em 0 0; font-size: 0.95em; } nav a { margin-right: 1em; color: #1f5fa8; text-decoration: none; }
.badge { padding: 0.25em 0.7em; border-radius: 999px; font-weight: 600; text-decoration: none; }
.badge.ok { background: var(--okbg); color: var(--ok); } .badge.fail { background: var(--badbg); color: var(--bad); }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: 0.8em; margin: 0.8em 0; }
.card { background: white; border: 1px solid #e3e6ea; border-radius: 8px; padding: 0.7em 0.9em; }
.card .v { font-size: 1.55em; font-weight: 650; font-variant-numeric: tabular-nums; }
.card .k { color: var(--muted); font-size: 0.88em; }
.row { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
table { border-collapse: collapse; font-size: 0.9em; background: white; }
th, td { padding: 0.28em 0.7em; text-align: left; border-bottom: 1px solid #eef0f2; }
th { background: #f1f3f5; font-weight: 600; } td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.fail td { background: var(--badbg); } tr.ok td.status { color: var(--ok); font-weight: 600; }
tr.fail td.status { color: var(--bad); font-weight: 700; } tr.empty td { color: var(--bad); }
.tag { font-size: 0.8em; padding: 0.05em 0.45em; border-radius: 4px; background: var(--badbg); color: var(--bad); }
section.chart { background: white; border: 1px solid #e3e6ea; border-radius: 8px; padding: 0.6em 0.8em;
                margin: 1em 0; }
section.chart h2 { margin: 0.2em 0 0.2em; }
.caption { color: #39434c; max-width: 1100px; margin: 0.3em 0 0; font-size: 0.93em; }
.nothing { color: var(--muted); padding: 2em; text-align: center; border: 1px dashed #ccd; border-radius: 6px; }
details { margin: 0.6em 0; } summary { cursor: pointer; color: #1f5fa8; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.15em 1em; font-size: 0.92em; }
dt { font-weight: 600; } dd { margin: 0; } .small { font-size: 0.85em; max-width: 700px; }
"""


def render(page: Page) -> str:
    """The whole page as one HTML string."""
    failed = [r for r in page.results if not r.ok]
    cls = "fail" if failed else "ok"
    verdict = (
        f"validation: {len(failed)} of {len(page.results)} checks failed"
        if failed
        else f"validation: all {len(page.results)} checks passed"
    )
    p = [
        (
            "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>aquagen report · {page.end.isoformat()}</title><style>{CSS}</style>"
            f"<script>{plotly.offline.get_plotlyjs()}</script></head><body>"
        ),
        (
            f"<header><h1>aquagen report · {page.end.isoformat()}</h1><span class='sub'>{esc(page.label)}</span>"
            f"<a class='badge {cls}' href='#validation'>{esc(verdict)}</a></header>"
        ),
        "<nav>"
        + "".join(f"<a href='#{c.key}'>{esc(c.title)}</a>" for c in page.charts)
        + "<a href='#batches'>Batches</a><a href='#validation'>Validation</a><a href='#source'>Source</a></nav>",
    ]
    p.append(_today(page))
    for c in page.charts:
        p.append(f"<section class='chart' id='{c.key}'><h2>{esc(c.title)}</h2>")
        if c.figure is None:
            p.append(f"<div class='nothing'>{esc(c.empty)}</div>")
        else:
            p.append(
                c.figure.to_html(
                    full_html=False,
                    include_plotlyjs=False,
                    div_id=f"chart-{c.key}",
                    config={"displaylogo": False, "responsive": True},
                )
            )
        p.append(f"<p class='caption'>{esc(c.caption)}</p></section>")
    p.append(_batches(page.batches))
    p.append(_validation(page))
    p.append(
        "<h2 id='source'>Source</h2><dl>"
        + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in page.info)
        + "</dl>"
    )
    p.append("</body></html>\n")
    return "\n".join(p)


def _today(page: Page) -> str:
    t = page.today
    active = int(t.active["batches"].sum()) if t.active.height else 0
    cards = [
        (count(active), "active batches"),
        (count(t.fish), "live fish"),
        (tonnes(t.biomass_kg), "biomass"),
        (tonnes(t.feed_kg), "feed on hand"),
    ]
    for env, label in (("freshwater", "freshwater containers occupied"), ("sea", "sea pens occupied")):
        occupied, total = t.occupancy.get(env, (0, 0))
        pct = f" ({occupied / total:.0%})" if total else ""
        cards.append((f"{occupied:,} / {total:,}", label + pct))
    occupied, total = (sum(v[i] for v in t.occupancy.values()) for i in (0, 1))
    if total:
        cards.append((f"{occupied / total:.0%}", f"of all {total:,} containers hold fish"))
    p = [
        f"<h2 id='today'>On {page.end.isoformat()}</h2><div class='cards'>"
        + "".join(f"<div class='card'><div class='v'>{v}</div><div class='k'>{esc(k)}</div></div>" for v, k in cards)
        + "</div><div class='row'>"
    ]
    if t.active.height:
        geos = sorted(t.active["geography"].unique().to_list())
        stages = t.active.select("stage_order", "stage").unique().sort("stage_order")["stage"].to_list()
        cell = {(r["stage"], r["geography"]): r["batches"] for r in t.active.iter_rows(named=True)}
        p.append(
            "<table><tr><th>active batches</th>"
            + "".join(f"<th class='n'>{esc(g)}</th>" for g in geos)
            + "<th class='n'>total</th></tr>"
        )
        for s in stages:
            row = [cell.get((s, g), 0) for g in geos]
            p.append(
                f"<tr><td>{esc(s)}</td>"
                + "".join(f"<td class='n'>{count(v) if v else ''}</td>" for v in row)
                + f"<td class='n'>{count(sum(row))}</td></tr>"
            )
        totals = [sum(cell.get((s, g), 0) for s in stages) for g in geos]
        p.append(
            "<tr><th>total</th>"
            + "".join(f"<th class='n'>{count(v)}</th>" for v in totals)
            + f"<th class='n'>{count(sum(totals))}</th></tr></table>"
        )
    else:
        p.append("<p class='sub'>No active batches on this day.</p>")
    s = t.sizes.sort("table")
    empty = s.filter(pl.col("rows") == 0)["table"].to_list()
    p.append(
        f"<div><details><summary>{s.height} tables: {count(s['rows'].sum())} rows, "
        f"{megabytes(int(s['bytes'].sum()))} MB</summary>"
        "<table><tr><th>table</th><th class='n'>rows</th><th class='n'>MB</th></tr>"
    )
    for r in s.iter_rows(named=True):
        tag = " <span class='tag'>empty</span>" if r["rows"] == 0 else ""
        p.append(
            f"<tr class='{'empty' if tag else ''}'><td>{esc(r['table'])}{tag}</td>"
            f"<td class='n'>{count(r['rows'])}</td><td class='n'>{megabytes(r['bytes'])}</td></tr>"
        )
    p.append("</table></details>")
    if empty:
        p.append(
            f"<details><summary><span class='tag'>{len(empty)} empty tables</span> (no rows)</summary>"
            f"<p class='small'>{', '.join(esc(e) for e in empty)}</p></details>"
        )
    p.append("<p class='sub'>Rows and sizes are the whole source's (not cut at the report's day).</p></div></div>")
    return "\n".join(p)


def _batches(b: pl.DataFrame) -> str:
    if b.height == 0:
        return "<h2 id='batches'>Batches</h2><p>No batches (infrastructure and master data only).</p>"
    cols = [
        ("batch_number", "batch"),
        ("status", "status"),
        ("stage", "stage"),
        ("geography", "geography"),
        ("station", "station"),
        ("sea_area", "sea area"),
        ("start_date", "start"),
        ("actual_end_date", "harvested"),
        ("eggs", "eggs"),
    ]
    p = [
        f"<h2 id='batches'>Batches</h2><details><summary>{words.count(b.height, 'batch')}</summary><table><tr>"
        + "".join(f"<th class='{'n' if c == 'eggs' else ''}'>{h}</th>" for c, h in cols)
        + "</tr>"
    ]
    for r in b.iter_rows(named=True):
        p.append(
            "<tr>"
            + "".join(f"<td class='n'>{count(r[c])}</td>" if c == "eggs" else f"<td>{esc(r[c])}</td>" for c, _ in cols)
            + "</tr>"
        )
    p.append("</table></details>")
    return "\n".join(p)


def _validation(page: Page) -> str:
    failed = [r for r in page.results if not r.ok]
    p = [
        (
            f"<h2 id='validation'>Validation</h2><p>The checks of <code>aquagen validate</code> (the plan's counts and "
            f"DESIGN.md's invariants) on the whole source, as of {page.validation_as_of.isoformat()}.</p>"
        )
    ]
    if failed:
        p.append(f"<p><span class='badge fail'>{len(failed)} of {len(page.results)} checks failed</span></p>")
        p.append(validation_table(failed))
    else:
        p.append(f"<p><span class='badge ok'>all {len(page.results)} checks passed</span></p>")
    p.append(
        f"<details id='all-checks'><summary>all {len(page.results)} checks</summary>"
        f"{validation_table(page.results)}</details>"
    )
    return "\n".join(p)


def validation_table(results: list) -> str:
    """The HTML table of ``aquagen.validate.run``'s results: one row per check, failures red."""
    p = [
        (
            "<table><tr><th>group</th><th>check</th><th class='n'>expected</th><th class='n'>actual</th>"
            "<th>status</th></tr>"
        )
    ]
    for r in results:
        p.append(
            f"<tr class='{'ok' if r.ok else 'fail'}'><td>{esc(r.check.group)}</td><td>{esc(r.check.name)}</td>"
            f"<td class='n'>{count(r.check.expected)}</td><td class='n'>{count(r.actual)}</td>"
            f"<td class='status'>{'pass' if r.ok else 'FAIL'}</td></tr>"
        )
    p.append("</table>")
    return "\n".join(p)
