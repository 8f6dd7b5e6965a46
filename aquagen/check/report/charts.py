"""The report's charts: Plotly figures (hover, zoom, legend toggles) built from the small frames of
``queries``. A chart function returns a figure, or None when there is nothing to draw; the page says so."""

from __future__ import annotations

import datetime as dt

import numpy as np
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from .queries import stock_levels

STAGE_COLORS = {1: "#f4a259", 2: "#e9c46a", 3: "#8ab17d", 4: "#2a9d8f", 5: "#5e81ac", 6: "#264653"}
GEO_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"]
TYPE_COLORS = {"SILO": "#8c6d31", "BARGE": "#3182bd", "TANK": "#31a354", "OTHER": "#756bb1"}
BATCH_COLORS = [
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
    "#1b9e77",
    "#d95f02",
    "#7570b3",
    "#e7298a",
    "#66a61e",
    "#a6761d",
]
BATCH_LINES = 5  # batches drawn one by one over the fleet's median and band
LOW, HIGH = 0.1, 0.9  # the band across batches
MS_PER_DAY = 86_400_000
FONT = "system-ui, -apple-system, Segoe UI, sans-serif"


def _layout(fig: go.Figure, title: str, height: int, legend_right: bool = False) -> go.Figure:
    """The common look; panels with titles of their own get the legend on the right, where it hides nothing."""
    legend = (
        {"orientation": "v", "yanchor": "top", "y": 1, "x": 1.01, "xanchor": "left"}
        if legend_right
        else {"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 1, "xanchor": "right"}
    )
    fig.update_layout(
        template="plotly_white",
        title={"text": title, "x": 0, "xanchor": "left"},
        height=height,
        margin={"l": 70, "r": 30, "t": 70, "b": 50},
        font={"family": FONT, "size": 13},
        legend=legend,
        hoverlabel={"namelength": -1},
    )
    return fig


def _end_line(fig: go.Figure, end: dt.date, **where) -> None:
    fig.add_vline(x=end.isoformat(), line={"color": "#c0392b", "dash": "dash", "width": 1}, **where)


def pick(b: pl.DataFrame, n: int = BATCH_LINES) -> pl.DataFrame:
    """At most ``n`` batches, evenly spread over the start dates (all when there are fewer)."""
    if b.height <= n:
        return b
    idx = sorted(set(np.linspace(0, b.height - 1, n).round().astype(int).tolist()))
    return b[idx]


def by_age(
    values: pl.DataFrame, value: str, b: pl.DataFrame, end: dt.date, start_at: float | None = None
) -> pl.DataFrame:
    """``value`` per batch and day since the batch started, on every day of the batch's life up to its
    harvest or ``end`` (a day without a row keeps the previous value; ``start_at`` fills the days before
    the first row)."""
    life = b.select("batch_id", "start_date", pl.coalesce("actual_end_date", pl.lit(end)).alias("last"))
    grid = life.select(
        "batch_id", pl.int_ranges(0, (pl.col("last") - pl.col("start_date")).dt.total_days() + 1).alias("age")
    ).explode("age")
    v = values.join(life.select("batch_id", "start_date"), on="batch_id").select(
        "batch_id", (pl.col("day") - pl.col("start_date")).dt.total_days().alias("age"), value
    )
    full = grid.join(v, on=["batch_id", "age"], how="left").sort("batch_id", "age")
    full = full.with_columns(pl.col(value).forward_fill().over("batch_id"))
    if start_at is not None:
        full = full.with_columns(pl.col(value).fill_null(start_at))
    return full.drop_nulls(value)


def spread(aged: pl.DataFrame, value: str, min_batches: int = 2) -> pl.DataFrame:
    """Median and band of ``value`` across batches per day since the start (days with ``min_batches``)."""
    return (
        aged.group_by("age")
        .agg(
            pl.col(value).median().alias("median"),
            pl.col(value).quantile(LOW).alias("lo"),
            pl.col(value).quantile(HIGH).alias("hi"),
            pl.len().alias("n"),
        )
        .filter(pl.col("n") >= min_batches)
        .sort("age")
    )


def _spread_traces(fig: go.Figure, s: pl.DataFrame, fmt: str, unit: str, **where) -> None:
    age = s["age"].to_list()
    fig.add_trace(
        go.Scatter(
            x=age + age[::-1],
            y=s["hi"].to_list() + s["lo"].to_list()[::-1],
            fill="toself",
            fillcolor="rgba(31,119,180,0.18)",
            line={"width": 0},
            hoverinfo="skip",
            name=f"{LOW:.0%}–{HIGH:.0%} of batches",
        ),
        **where,
    )
    fig.add_trace(
        go.Scatter(
            x=age,
            y=s["median"].to_list(),
            name="median",
            line={"color": "#08306b", "width": 3},
            customdata=np.stack([s["lo"].to_numpy(), s["hi"].to_numpy(), s["n"].to_numpy()], axis=1),
            hovertemplate=f"day %{{x}}: median %{{y:{fmt}}}{unit}<br>{LOW:.0%}–{HIGH:.0%}: "
            f"%{{customdata[0]:{fmt}}}–%{{customdata[1]:{fmt}}}{unit} "
            "(%{customdata[2]} batches)<extra></extra>",
        ),
        **where,
    )


def _batch_traces(
    fig: go.Figure, aged: pl.DataFrame, value: str, shown: pl.DataFrame, fmt: str, unit: str, **where
) -> None:
    for i, row in enumerate(shown.iter_rows(named=True)):
        d = aged.filter(pl.col("batch_id") == row["batch_id"])
        fig.add_trace(
            go.Scatter(
                x=d["age"].to_list(),
                y=d[value].to_list(),
                name=row["batch_number"],
                line={"width": 1.3, "color": BATCH_COLORS[i % len(BATCH_COLORS)]},
                opacity=0.85,
                hovertemplate=f"{row['batch_number']} day %{{x}}: %{{y:{fmt}}}{unit}<extra></extra>",
            ),
            **where,
        )


def _stage_starts(fig: go.Figure, spans: pl.DataFrame, b: pl.DataFrame) -> None:
    """Dotted lines where the stages start, in days since the batch started (median over the batches)."""
    if spans.height == 0:
        return
    offsets = (
        spans.join(b.select("batch_id", "start_date"), on="batch_id")
        .with_columns((pl.col("start") - pl.col("start_date")).dt.total_days().alias("offset"))
        .group_by("stage_order", "stage")
        .agg(pl.col("offset").median())
        .sort("stage_order")
    )
    for r in offsets.iter_rows(named=True):
        if r["offset"]:
            fig.add_vline(
                x=r["offset"],
                line={"color": "#999", "dash": "dot", "width": 1},
                annotation_text=r["stage"],
                annotation_position="top left",
                annotation_textangle=-90,
                annotation_font={"size": 11, "color": "#555"},
            )


def growth(g: pl.DataFrame, b: pl.DataFrame, spans: pl.DataFrame, end: dt.date) -> go.Figure | None:
    """Mean weight by day since the start: the fleet's median and band, and a few batches."""
    if g.height == 0:
        return None
    aged = by_age(g.filter(pl.col("avg_weight_g") > 0), "avg_weight_g", b, end)
    fig = go.Figure()
    _spread_traces(fig, spread(aged, "avg_weight_g"), ",.4~r", " g")
    _batch_traces(fig, aged, "avg_weight_g", pick(b), ",.4~r", " g")
    _stage_starts(fig, spans, b)
    fig.update_yaxes(type="log", title="mean weight (g, log scale)")
    fig.update_xaxes(title="days since the batch started (dotted: median stage starts)")
    return _layout(fig, f"Growth: mean weight across {b.height} batches", 520)


def fleet_stock(g: pl.DataFrame, b: pl.DataFrame, end: dt.date) -> go.Figure | None:
    """Live fish and biomass of the fleet by day and geography."""
    if g.height == 0:
        return None
    d = (
        g.join(b.select("batch_id", "geography"), on="batch_id", how="left")
        .with_columns(pl.col("geography").fill_null("unknown"))
        .group_by("geography", "day")
        .agg(pl.col("population").sum(), pl.col("biomass_kg").sum())
        .sort("geography", "day")
    )
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, subplot_titles=("live fish (millions)", "biomass (t)")
    )
    for j, geo in enumerate(sorted(d["geography"].unique().to_list())):
        x = d.filter(pl.col("geography") == geo)
        color = GEO_COLORS[j % len(GEO_COLORS)]
        fig.add_trace(
            go.Scatter(
                x=x["day"].to_list(),
                y=(x["population"] / 1e6).to_list(),
                name=geo,
                legendgroup=geo,
                stackgroup="fish",
                line={"color": color, "width": 1},
                hovertemplate=f"{geo}: %{{y:,.2f}} million fish<extra></extra>",
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=x["day"].to_list(),
                y=(x["biomass_kg"] / 1000).to_list(),
                name=geo,
                legendgroup=geo,
                showlegend=False,
                stackgroup="biomass",
                line={"color": color, "width": 1},
                hovertemplate=f"{geo}: %{{y:,.1f}} t<extra></extra>",
            ),
            row=2,
            col=1,
        )
    _end_line(fig, end, row="all", col=1)
    fig.update_layout(hovermode="x unified")
    return _layout(fig, "Live fish and biomass of the fleet, by geography (stacked)", 560, legend_right=True)


def mortality(m: pl.DataFrame, b: pl.DataFrame, spans: pl.DataFrame, end: dt.date) -> go.Figure | None:
    """Cumulative deaths as % of eggs by day since the start: median and band, and a few batches."""
    eggs = b.filter(pl.col("eggs") > 0)
    if m.height == 0 or eggs.height == 0:
        return None
    pct = m.join(eggs.select("batch_id", "eggs"), on="batch_id").select(
        "batch_id", "day", (pl.col("cumulative") * 100 / pl.col("eggs")).alias("pct")
    )
    aged = by_age(pct, "pct", eggs, end, start_at=0.0)
    fig = go.Figure()
    _spread_traces(fig, spread(aged, "pct"), ".2f", " %")
    _batch_traces(fig, aged, "pct", pick(eggs), ".2f", " %")
    _stage_starts(fig, spans, b)
    fig.update_yaxes(title="cumulative deaths (% of eggs)", rangemode="tozero")
    fig.update_xaxes(title="days since the batch started (dotted: median stage starts)")
    return _layout(fig, f"Cumulative mortality across {eggs.height} batches", 480)


def feed_fcr(f: pl.DataFrame, b: pl.DataFrame) -> go.Figure | None:
    """Feed per stage and geography (t, linear) and FCR per stage across batches (box: median, quartiles)."""
    if f.height == 0:
        return None
    f = f.join(b.select("batch_id", "batch_number", "geography"), on="batch_id", how="left").with_columns(
        pl.col("geography").fill_null("unknown")
    )
    stages = f.select("stage_order", "stage").unique().sort("stage_order")["stage"].to_list()
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.08,
        subplot_titles=("feed given per stage (t)", "FCR per stage across batches (feed / biomass gain)"),
    )
    per = f.group_by("stage_order", "stage", "geography").agg(pl.col("feed_kg").sum()).sort("stage_order")
    for j, geo in enumerate(sorted(per["geography"].unique().to_list())):
        d = per.filter(pl.col("geography") == geo)
        fig.add_trace(
            go.Bar(
                x=d["stage"].to_list(),
                y=(d["feed_kg"] / 1000).to_list(),
                name=geo,
                legendgroup=geo,
                marker_color=GEO_COLORS[j % len(GEO_COLORS)],
                hovertemplate=f"{geo} · %{{x}}: %{{y:,.1f}} t<extra></extra>",
            ),
            row=1,
            col=1,
        )
    fcr = f.filter(pl.col("fcr").is_not_null())
    for stage in stages:
        d = fcr.filter(pl.col("stage") == stage)
        if d.height == 0:
            continue
        fig.add_trace(
            go.Box(
                x=[stage] * d.height,
                y=d["fcr"].to_list(),
                name=stage,
                showlegend=False,
                boxpoints="all",
                jitter=0.4,
                pointpos=0,
                marker={"size": 5, "color": "#08306b"},
                line={"color": "#2a9d8f"},
                text=d["batch_number"].to_list(),
                hovertemplate="%{text}: FCR %{y:.2f}<extra>" + stage + "</extra>",
            ),
            row=1,
            col=2,
        )
    fig.update_xaxes(categoryorder="array", categoryarray=stages)
    fig.update_yaxes(title_text="t", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="FCR", rangemode="tozero", row=1, col=2)
    fig.update_layout(barmode="group")
    return _layout(fig, "Feed and FCR per lifecycle stage", 460, legend_right=True)


def sensors(s: pl.DataFrame, end: dt.date) -> go.Figure | None:
    """Daily mean of every parameter per geography: sea areas solid, freshwater halls dotted."""
    if s.height == 0:
        return None
    params = s.select("parameter", "unit").unique().sort("parameter").rows()
    cols = 2
    rows = -(-len(params) // cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        shared_xaxes=True,
        vertical_spacing=0.35 / rows,
        horizontal_spacing=0.07,
        subplot_titles=[f"{p} ({u})" for p, u in params],
    )
    geos = sorted(s["geography"].unique().to_list())
    for i, (param, unit) in enumerate(params):
        r, c = i // cols + 1, i % cols + 1
        for j, geo in enumerate(geos):
            for env, dash in (("sea", "solid"), ("freshwater", "dot")):
                d = s.filter((pl.col("parameter") == param) & (pl.col("geography") == geo) & (pl.col("env") == env))
                if d.height == 0:
                    continue
                name = f"{geo}, {'sea areas' if env == 'sea' else 'freshwater halls'}"
                fig.add_trace(
                    go.Scatter(
                        x=d["day"].to_list(),
                        y=d["mean"].to_list(),
                        mode="lines",
                        name=name,
                        legendgroup=name,
                        showlegend=i == 0,
                        line={"color": GEO_COLORS[j % len(GEO_COLORS)], "dash": dash, "width": 1.2},
                        hovertemplate=f"{name}<br>%{{x|%Y-%m-%d}}: %{{y:,.2f}} {unit}<extra></extra>",
                    ),
                    row=r,
                    col=c,
                )
    _end_line(fig, end, row="all", col="all")
    return _layout(
        fig,
        f"Sensor readings: daily mean of {len(params)} parameters by geography",
        230 * rows + 120,
        legend_right=True,
    )


def feed_stock(fcs: pl.DataFrame, lots: pl.DataFrame, buys: pl.DataFrame, end: dt.date) -> go.Figure | None:
    """Fleet feed stock by feed-container type (step) and purchases per month."""
    if fcs.height == 0 or lots.height == 0:
        return None
    types = fcs.select("feed_container_id", "container_type")
    fleet = stock_levels(lots.join(types, on="feed_container_id", how="left"), ["container_type"])
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.1,
        row_heights=[0.62, 0.38],
        subplot_titles=("feed stock on hand by container type (t)", "feed purchased per month (t)"),
    )
    for ctype in sorted(fleet["container_type"].drop_nulls().unique().to_list()):
        d = fleet.filter(pl.col("container_type") == ctype)
        x, y = d["day"].to_list(), (d["stock_kg"] / 1000).to_list()
        if x and x[-1] < end:
            x, y = x + [end], y + [y[-1]]
        n = types.filter(pl.col("container_type") == ctype).height
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                name=f"{ctype} ({n} containers)",
                legendgroup=ctype,
                line_shape="hv",
                line={"color": TYPE_COLORS.get(ctype, "#555"), "width": 1.5},
                hovertemplate=f"{ctype} %{{x|%Y-%m-%d}}: %{{y:,.1f}} t<extra></extra>",
            ),
            row=1,
            col=1,
        )
    if buys.height:
        monthly = (
            buys.join(types, on="feed_container_id", how="left")
            .with_columns(pl.col("day").dt.truncate("1mo").alias("month"))
            .group_by("container_type", "month")
            .agg(pl.col("quantity_kg").sum(), pl.len().alias("n"))
            .sort("month")
        )
        for ctype in sorted(monthly["container_type"].drop_nulls().unique().to_list()):
            d = monthly.filter(pl.col("container_type") == ctype)
            fig.add_trace(
                go.Bar(
                    x=d["month"].to_list(),
                    y=(d["quantity_kg"] / 1000).to_list(),
                    legendgroup=ctype,
                    name=ctype,
                    showlegend=False,
                    marker_color=TYPE_COLORS.get(ctype, "#555"),
                    customdata=d["n"].to_list(),
                    xperiod="M1",
                    xperiodalignment="middle",
                    hovertemplate=f"{ctype} %{{x|%b %Y}}: %{{y:,.1f}} t in %{{customdata}} purchases<extra></extra>",
                ),
                row=2,
                col=1,
            )
    fig.update_layout(barmode="stack")
    _end_line(fig, end, row="all", col=1)
    fig.update_yaxes(rangemode="tozero")
    return _layout(fig, "Feed stock and purchases", 560, legend_right=True)


def _gantt_bar(
    fig: go.Figure, d: pl.DataFrame, y: list, color, text: list, hover: list, name: str, showlegend: bool = False
) -> None:
    start = d["start"].to_list()
    width = [((b - a).days + 1) * MS_PER_DAY for a, b in zip(start, d["stop"].to_list(), strict=True)]
    fig.add_trace(
        go.Bar(
            orientation="h",
            base=[s.isoformat() for s in start],
            x=width,
            y=y,
            name=name,
            marker={"color": color, "line": {"color": "rgba(0,0,0,0.45)", "width": 0.6}},
            text=text,
            textposition="inside",
            insidetextanchor="middle",
            textfont={"size": 11},
            hovertext=hover,
            hoverinfo="text",
            showlegend=showlegend,
        )
    )


def lifecycle(spans: pl.DataFrame, b: pl.DataFrame, end: dt.date) -> go.Figure | None:
    """One row per batch: its stages as bars up to harvest or the report's last day."""
    if spans.height == 0:
        return None
    d = spans.join(b.select("batch_id", "batch_number", "geography"), on="batch_id").sort("batch_id", "stage_order")
    # a stage's band runs to the next stage's start (transfers overlap) or to its last day
    d = d.with_columns(
        pl.coalesce(pl.col("start").shift(-1).over("batch_id") - pl.duration(days=1), pl.col("stop")).alias("stop")
    )
    order = b["batch_number"].to_list()
    fig = go.Figure()
    for so, stage in d.select("stage_order", "stage").unique().sort("stage_order").rows():
        x = d.filter(pl.col("stage_order") == so)
        hover = [
            f"<b>{r['batch_number']}</b> · {r['geography'] or '—'}<br>{stage}: {r['start']} → {r['stop']}"
            for r in x.iter_rows(named=True)
        ]
        _gantt_bar(
            fig,
            x,
            x["batch_number"].to_list(),
            STAGE_COLORS.get(so, "#999"),
            [""] * x.height,
            hover,
            stage,
            showlegend=True,
        )
    _end_line(fig, end)
    fig.update_yaxes(categoryorder="array", categoryarray=order[::-1], tickfont={"size": 12})
    fig.update_xaxes(type="date")
    fig.update_layout(barmode="overlay", bargap=0.25)
    return _layout(
        fig, f"Batches by lifecycle stage ({b.height} batches, red: {end.isoformat()})", max(300, 22 * b.height + 140)
    )


def occupancy(occ: pl.DataFrame, b: pl.DataFrame, end: dt.date) -> go.Figure | None:
    """Gantt of halls and sea areas: one row per site, one bar per batch there (labelled when it fits)."""
    if occ.height == 0:
        return None
    info = b.select("batch_id", "batch_number").with_row_index("i")
    d = occ.join(info, on="batch_id", how="left").with_columns(
        pl.col("batch_number").fill_null(pl.col("batch_id").cast(pl.String)), pl.col("i").fill_null(0)
    )
    sites = d.select("geography", "kind", "station", "site").unique().sort("geography", "kind", "station", "site")
    labels = {
        r["site"]: (
            r["site"] if r["kind"] == 1 or r["site"].startswith(r["station"] or "") else f"{r['station']} · {r['site']}"
        )
        for r in sites.iter_rows(named=True)
    }
    fig = go.Figure()
    hover = [
        f"<b>{r['batch_number']}</b><br>{labels[r['site']]} ({r['geography'] or '—'})<br>"
        f"{r['start']} → {r['stop']} ({(r['stop'] - r['start']).days + 1} days)"
        for r in d.iter_rows(named=True)
    ]
    _gantt_bar(
        fig,
        d,
        [labels[s] for s in d["site"].to_list()],
        [BATCH_COLORS[int(i) % len(BATCH_COLORS)] for i in d["i"].to_list()],
        d["batch_number"].to_list(),
        hover,
        "assignments",
    )
    order = [labels[s] for s in sites["site"].to_list()]
    _end_line(fig, end)
    fig.update_yaxes(categoryorder="array", categoryarray=order[::-1], tickfont={"size": 12})
    fig.update_xaxes(type="date")
    fig.update_layout(barmode="overlay", bargap=0.2, uniformtext={"minsize": 10, "mode": "hide"})
    return _layout(
        fig,
        f"Occupancy of halls and sea areas: {len(order)} sites, {occ['batch_id'].n_unique()} batches "
        f"(red: {end.isoformat()})",
        max(320, 24 * len(order) + 140),
    )
