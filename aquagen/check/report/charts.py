"""The report's charts: Plotly figures (hover, zoom, legend toggles) built from the small frames of
``queries``. A chart function returns a figure, or None when there is nothing to draw; the page says so."""

from __future__ import annotations

import datetime as dt

import numpy as np
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from aquagen import words

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
    return _layout(fig, f"Growth: mean weight across {words.count(b.height, 'batch')}", 520)


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
    return _layout(fig, f"Cumulative mortality across {words.count(eggs.height, 'batch')}", 480)


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
        fig,
        f"Batches by lifecycle stage ({words.count(b.height, 'batch')}, red: {end.isoformat()})",
        max(300, 22 * b.height + 140),
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
        f"Occupancy of halls and sea areas: {words.count(len(order), 'site')}, "
        f"{words.count(occ['batch_id'].n_unique(), 'batch')} "
        f"(red: {end.isoformat()})",
        max(320, 24 * len(order) + 140),
    )


# --- the farm's variety, occupancy and capacity; health, harvest and weather --------------------------------

EMPTY_COLOR = "#d9dde2"
TREATMENT_COLORS = {"physical": "#e76f51", "medication": "#9b5de5", "vaccination": "#2a9d8f", "other": "#888"}
GRADE_COLORS = ["#1b7837", "#5aae61", "#a6dba0", "#f1b6da", "#c51b7d", "#762a83", "#999"]


def _strip(fig: go.Figure, x: list, y: list, text: list, color: str, name: str, fmt: str, unit: str, **where) -> None:
    """One category's values, one point per batch, with its box (middle half and median)."""
    fig.add_trace(
        go.Box(
            x=x,
            y=y,
            name=name,
            showlegend=False,
            boxpoints="all",
            jitter=0.45,
            pointpos=0,
            marker={"size": 5, "color": color, "opacity": 0.8},
            line={"color": color, "width": 1.2},
            fillcolor="rgba(0,0,0,0)",
            text=text,
            hovertemplate=f"%{{text}}: %{{y:{fmt}}}{unit}<extra>{name}</extra>",
        ),
        **where,
    )


def batch_spread(
    exits: pl.DataFrame,
    spans: pl.DataFrame,
    g: pl.DataFrame,
    feed: pl.DataFrame,
    b: pl.DataFrame,
    end: dt.date,
    last: int,
) -> go.Figure | None:
    """How batches differ, one point per batch: mean weight leaving each stage, days in each stage, survival
    so far (fish alive or harvested / eggs) and FCR over all stages so far."""
    if b.height == 0 or spans.height == 0:
        return None
    names = b.select("batch_id", "batch_number", "geography", "stage", "status", "eggs")
    fig = make_subplots(
        rows=2,
        cols=2,
        vertical_spacing=0.16,
        horizontal_spacing=0.08,
        subplot_titles=(
            "mean weight leaving each stage (g, log scale)",
            "days in each stage (first assignment to the next stage's)",
            "survival so far (fish alive or harvested, % of eggs) by the stage a batch is in",
            "FCR per batch over its stages so far (feed / biomass gain)",
        ),
    )
    w = exits.filter(pl.col("avg_weight_g") > 0).join(names, on="batch_id")
    for (so, stage), d in w.group_by("stage_order", "stage", maintain_order=True):
        _strip(
            fig, [stage] * d.height, d["avg_weight_g"].to_list(), d["batch_number"].to_list(),
            STAGE_COLORS.get(int(so), "#555"), str(stage), ",.4~r", " g", row=1, col=1,
        )  # fmt: skip
    days = (
        spans.sort("batch_id", "stage_order")
        .with_columns((pl.col("start").shift(-1).over("batch_id") - pl.col("start")).dt.total_days().alias("days"))
        .drop_nulls("days")
        .join(names, on="batch_id")
    )
    for (so, stage), d in days.group_by("stage_order", "stage", maintain_order=True):
        _strip(
            fig, [stage] * d.height, d["days"].to_list(), d["batch_number"].to_list(),
            STAGE_COLORS.get(int(so), "#555"), str(stage), "d", " days", row=1, col=2,
        )  # fmt: skip
    harvested = exits.filter(pl.col("stage_order") == last).group_by("batch_id").agg(pl.col("fish").sum())
    alive = g.filter(pl.col("day") == end).select("batch_id", pl.col("population").alias("alive"))
    surv = (
        names.filter(pl.col("eggs") > 0)
        .join(alive, on="batch_id", how="left")
        .join(harvested, on="batch_id", how="left")
        .with_columns(
            ((pl.col("alive").fill_null(0) + pl.col("fish").fill_null(0)) * 100 / pl.col("eggs")).alias("pct"),
            pl.when(pl.col("status") == "ACTIVE")
            .then(pl.col("stage").fill_null("?"))
            .otherwise(pl.lit("harvested"))
            .alias("group"),
        )
        .join(b.select("batch_id", "stage_order"), on="batch_id")
        .sort(pl.col("status") != "ACTIVE", "stage_order")
    )
    for grp, d in surv.group_by("group", maintain_order=True):
        so = d["stage_order"][0] if grp[0] != "harvested" else 7
        _strip(
            fig, [grp[0]] * d.height, d["pct"].to_list(), d["batch_number"].to_list(),
            STAGE_COLORS.get(so, "#264653"), str(grp[0]), ".1f", " %", row=2, col=1,
        )  # fmt: skip
    fcr = (
        feed.group_by("batch_id")
        .agg(pl.col("feed_kg").sum(), pl.col("gain_kg").sum())
        .filter(pl.col("gain_kg") > 0, pl.col("feed_kg") > 0)
        .with_columns((pl.col("feed_kg") / pl.col("gain_kg")).alias("fcr"))
        .join(names, on="batch_id")
        .with_columns(pl.col("geography").fill_null("unknown"))
        .sort("geography")
    )
    for j, (geo, d) in enumerate(fcr.group_by("geography", maintain_order=True)):
        _strip(
            fig, [geo[0]] * d.height, d["fcr"].to_list(), d["batch_number"].to_list(),
            GEO_COLORS[j % len(GEO_COLORS)], str(geo[0]), ".3f", "", row=2, col=2,
        )  # fmt: skip
    fig.update_yaxes(type="log", dtick=1, row=1, col=1)
    fig.update_yaxes(rangemode="tozero", row=1, col=2)
    fig.update_yaxes(rangemode="tozero", row=2, col=2)
    return _layout(
        fig,
        f"How {words.count(b.height, 'batch')} {'differs' if b.height == 1 else 'differ'} (one point per batch)",
        820,
    )


def occupancy_today(o: pl.DataFrame, end: dt.date) -> go.Figure | None:
    """Containers per freshwater station and sea area on the day: stacked by the stage they hold, empty grey."""
    if o.height == 0:
        return None
    o = o.with_columns(pl.col("geography").fill_null("unknown"), pl.col("site").fill_null("?"))
    sites = o.select("geography", "env", "site").unique().sort("geography", "env", "site")
    envs = [e for e in ("freshwater", "sea") if e in set(sites["env"])]
    held = o.filter(pl.col("stage").is_not_null())
    total, occupied = int(o["containers"].sum()), int(held["containers"].sum())
    titles = []
    for env in envs:
        d = o.filter(pl.col("env") == env)
        n, k = int(d["containers"].sum()), int(d.filter(pl.col("stage").is_not_null())["containers"].sum())
        used = d.filter(pl.col("stage").is_not_null())["site"].n_unique()
        what = "freshwater stations" if env == "freshwater" else "sea areas"
        titles.append(
            f"{what}: {k:,} of {n:,} containers hold fish ({k / n:.0%}); {used} of {d['site'].n_unique()} used"
        )
    rows = [sites.filter(pl.col("env") == env).height for env in envs]
    fig = make_subplots(
        rows=1, cols=len(envs), horizontal_spacing=0.12, subplot_titles=titles or None, shared_yaxes=False
    )
    label = {r["site"]: f"{r['site']} · {r['geography']}" for r in sites.iter_rows(named=True)}
    stages = held.select("stage_order", "stage").unique().sort("stage_order").rows()
    for c, env in enumerate(envs, start=1):
        d = o.filter(pl.col("env") == env)
        order = [label[s] for s in sites.filter(pl.col("env") == env)["site"].to_list()]
        for so, stage in [*stages, (None, None)]:
            x = d.filter(pl.col("stage").is_null() if stage is None else pl.col("stage") == stage)
            if x.height == 0:
                continue
            name = stage or "empty"
            n = int(held.filter(pl.col("stage") == stage)["containers"].sum()) if stage else total - occupied
            fig.add_trace(
                go.Bar(
                    orientation="h",
                    y=[label[s] for s in x["site"].to_list()],
                    x=x["containers"].to_list(),
                    name=f"{name} ({n:,} containers)",
                    legendgroup=name,
                    showlegend=c == 1 or not any(t.legendgroup == name for t in fig.data),
                    marker_color=EMPTY_COLOR if stage is None else STAGE_COLORS.get(so, "#555"),
                    hovertemplate=f"%{{y}}: %{{x}} containers {'empty' if stage is None else 'with ' + stage}"
                    "<extra></extra>",
                ),
                row=1,
                col=c,
            )
        fig.update_yaxes(categoryorder="array", categoryarray=order[::-1], tickfont={"size": 11}, row=1, col=c)
        fig.update_xaxes(title_text="containers", row=1, col=c)
    fig.update_layout(barmode="stack", bargap=0.25)
    return _layout(
        fig,
        f"Occupancy on {end.isoformat()}: {occupied:,} of {total:,} containers hold fish ({occupied / total:.0%})",
        max(360, 17 * max(rows or [1]) + 170),
        legend_right=True,
    )


def _binned(values: pl.Series, width: float) -> pl.DataFrame:
    """Counts per bin of ``width`` (left edges), computed here so the page carries bins, not every value."""
    return (
        values.drop_nulls()
        .to_frame("v")
        .select(((pl.col("v") / width).floor() * width).alias("bin"))
        .group_by("bin")
        .agg(pl.len().alias("n"))
        .sort("bin")
    )


def capacity(c: pl.DataFrame) -> go.Figure | None:
    """Peak biomass of every assignment against its container's max_biomass_kg (histogram per stage, the
    100 % line) and peak density per stage (kg/m³: box from quantiles, whiskers min–max)."""
    c = c.filter(pl.col("pct").is_not_null() | pl.col("kg_m3").is_not_null())
    if c.height == 0:
        return None
    over = c.filter(pl.col("pct") > 100).height
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.08,
        column_widths=[0.58, 0.42],
        subplot_titles=(
            f"peak biomass / max_biomass_kg per assignment (%): {over:,} of {c.height:,} above 100 %",
            "peak density per stage (kg/m³)",
        ),
    )
    stages = c.select("stage_order", "stage").unique().sort("stage_order").rows()
    for so, stage in stages:
        d = c.filter(pl.col("stage_order") == so)
        color = STAGE_COLORS.get(so, "#555")
        h = _binned(d["pct"], 5.0)
        fig.add_trace(
            go.Bar(
                x=(h["bin"] + 2.5).to_list(),
                y=h["n"].to_list(),
                width=5.0,
                name=stage,
                legendgroup=stage,
                marker_color=color,
                customdata=h["bin"].to_list(),
                hovertemplate=f"{stage}: %{{y}} assignments at %{{customdata}}–%{{x:.0f}}+2.5 %<extra></extra>",
            ),
            row=1,
            col=1,
        )
        k = d["kg_m3"].drop_nulls()
        if k.len():
            q = k.quantile(0.25), k.median(), k.quantile(0.75)
            fig.add_trace(
                go.Box(
                    x=[stage],
                    q1=[q[0]],
                    median=[q[1]],
                    q3=[q[2]],
                    lowerfence=[k.min()],
                    upperfence=[k.max()],
                    name=stage,
                    legendgroup=stage,
                    showlegend=False,
                    marker_color=color,
                    hoverinfo="y",
                ),
                row=1,
                col=2,
            )
    fig.add_vline(x=100, line={"color": "#c0392b", "dash": "dash", "width": 1.5}, row=1, col=1)
    fig.update_layout(barmode="stack", bargap=0.05)
    fig.update_xaxes(title_text="% of the container's max_biomass_kg (red: 100 %)", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="assignments", row=1, col=1)
    fig.update_yaxes(title_text="kg/m³", rangemode="tozero", row=1, col=2)
    fig.update_xaxes(categoryorder="array", categoryarray=[s for _, s in stages], row=1, col=2)
    return _layout(fig, "Densities against capacity", 470, legend_right=True)


def lice(lc: pl.DataFrame, tr: pl.DataFrame, threshold: float, end: dt.date) -> go.Figure | None:
    """Adult female lice per fish by week and geography (mean of the rings counted, band 10–90 % of them, the
    treatment threshold) and treatments per month by type."""
    if lc.height == 0 and tr.height == 0:
        return None
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.1,
        row_heights=[0.62, 0.38],
        subplot_titles=(
            "adult female lice per fish, weekly: mean of the rings counted (band: 10–90 % of the rings)",
            "treatments per month by type",
        ),
    )
    weekly = (
        lc.filter(pl.col("fish") > 0)
        .with_columns((pl.col("adult_female") / pl.col("fish")).alias("af"), pl.col("day").dt.truncate("1w"))
        .group_by("geography", "day")
        .agg(
            pl.col("af").mean().alias("mean"),
            pl.col("af").quantile(LOW).alias("lo"),
            pl.col("af").quantile(HIGH).alias("hi"),
            pl.len().alias("n"),
        )
        .sort("geography", "day")
    )
    for j, (geo, d) in enumerate(weekly.group_by("geography", maintain_order=True)):
        color = GEO_COLORS[j % len(GEO_COLORS)]
        x = d["day"].to_list()
        fig.add_trace(
            go.Scatter(
                x=x + x[::-1],
                y=d["hi"].to_list() + d["lo"].to_list()[::-1],
                fill="toself",
                fillcolor=color,
                opacity=0.15,
                line={"width": 0},
                hoverinfo="skip",
                legendgroup=geo[0],
                showlegend=False,
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=d["mean"].to_list(),
                name=geo[0],
                legendgroup=geo[0],
                line={"color": color, "width": 1.6},
                customdata=np.stack([d["lo"].to_numpy(), d["hi"].to_numpy(), d["n"].to_numpy()], axis=1),
                hovertemplate=f"{geo[0]} week of %{{x|%Y-%m-%d}}: %{{y:.2f}} per fish (10–90 %: "
                "%{customdata[0]:.2f}–%{customdata[1]:.2f}, %{customdata[2]} counts)<extra></extra>",
            ),
            row=1,
            col=1,
        )
    if lc.height:
        fig.add_hline(
            y=threshold,
            line={"color": "#c0392b", "dash": "dash", "width": 1.5},
            annotation_text=f"treatment threshold {threshold:g}",
            annotation_position="top left",
            row=1,
            col=1,
        )
    monthly = (
        tr.with_columns(pl.col("day").dt.truncate("1mo").alias("month"))
        .group_by("treatment_type", "month")
        .agg(pl.col("treatments").sum())
        .sort("treatment_type", "month")
    )
    for (ttype,), d in monthly.group_by("treatment_type", maintain_order=True):
        fig.add_trace(
            go.Bar(
                x=d["month"].to_list(),
                y=d["treatments"].to_list(),
                name=f"{ttype} ({int(d['treatments'].sum()):,})",
                marker_color=TREATMENT_COLORS.get(str(ttype), "#888"),
                xperiod="M1",
                xperiodalignment="middle",
                hovertemplate=f"{ttype} %{{x|%b %Y}}: %{{y}}<extra></extra>",
            ),
            row=2,
            col=1,
        )
    fig.update_layout(barmode="stack")
    _end_line(fig, end, row="all", col=1)
    fig.update_yaxes(title_text="per fish", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="treatments", rangemode="tozero", row=2, col=1)
    return _layout(fig, "Sea lice and treatments", 620, legend_right=True)


def harvest(h: pl.DataFrame, grades: pl.DataFrame, b: pl.DataFrame, end: dt.date) -> go.Figure | None:
    """Harvested biomass and fish per month by geography, the mean harvest weight of every harvest event,
    and live weight by product grade."""
    if h.height == 0:
        return None
    h = h.join(b.select("batch_id", "batch_number", "geography"), on="batch_id", how="left").with_columns(
        pl.col("geography").fill_null("unknown"),
        pl.col("batch_number").fill_null(pl.col("batch_id").cast(pl.String)),
        (pl.col("live_kg") / pl.col("fish")).alias("kg_per_fish"),
        pl.col("day").dt.truncate("1mo").alias("month"),
    )
    fig = make_subplots(
        rows=2,
        cols=2,
        vertical_spacing=0.16,
        horizontal_spacing=0.08,
        subplot_titles=(
            "harvested live weight per month (t)",
            "fish harvested per month (thousands)",
            "mean weight of each harvest event (kg per fish)",
            "harvest lots by product grade: live weight (t)",
        ),
    )
    monthly = h.group_by("geography", "month").agg(pl.col("live_kg").sum(), pl.col("fish").sum()).sort("month")
    for j, geo in enumerate(sorted(h["geography"].unique().to_list())):
        color = GEO_COLORS[j % len(GEO_COLORS)]
        d = monthly.filter(pl.col("geography") == geo)
        for col, y, unit, fmt in (
            (1, d["live_kg"] / 1000, "t", ",.1f"),
            (2, d["fish"] / 1000, "thousand fish", ",.1f"),
        ):
            fig.add_trace(
                go.Bar(
                    x=d["month"].to_list(),
                    y=y.to_list(),
                    name=geo,
                    legendgroup=geo,
                    showlegend=col == 1,
                    marker_color=color,
                    xperiod="M1",
                    xperiodalignment="middle",
                    hovertemplate=f"{geo} %{{x|%b %Y}}: %{{y:{fmt}}} {unit}<extra></extra>",
                ),
                row=1,
                col=col,
            )
        e = h.filter(pl.col("geography") == geo)
        fig.add_trace(
            go.Histogram(
                x=e["kg_per_fish"].to_list(),
                name=geo,
                legendgroup=geo,
                showlegend=False,
                marker_color=color,
                opacity=0.75,
                xbins={"size": 0.1},
                hovertemplate=f"{geo}: %{{y}} events at %{{x}} kg<extra></extra>",
            ),
            row=2,
            col=1,
        )
    if grades.height:
        fig.add_trace(
            go.Bar(
                x=grades["grade"].to_list(),
                y=(grades["live_kg"] / 1000).to_list(),
                marker_color=[GRADE_COLORS[i % len(GRADE_COLORS)] for i in range(grades.height)],
                showlegend=False,
                customdata=np.stack([grades["lots"].to_numpy(), grades["fish"].to_numpy()], axis=1),
                hovertemplate="%{x}: %{y:,.1f} t live in %{customdata[0]:,} lots, %{customdata[1]:,} fish"
                "<extra></extra>",
            ),
            row=2,
            col=2,
        )
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title_text="kg per fish", row=2, col=1)
    fig.update_yaxes(title_text="events", row=2, col=1)
    return _layout(
        fig,
        f"Harvest: {h.height:,} events, {h['fish'].sum():,} fish, {h['live_kg'].sum() / 1000:,.0f} t live",
        760,
        legend_right=True,
    )


def weather(w: pl.DataFrame, s: pl.DataFrame, end: dt.date) -> go.Figure | None:
    """Air temperature (weather observations) and sea temperature (the sea areas' sensors), and wind, daily
    per geography."""
    sea = s.filter(pl.col("env") == "sea", pl.col("parameter").str.to_lowercase().str.contains("temp"))
    if w.height == 0 and sea.height == 0:
        return None
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.1,
        subplot_titles=(
            "daily mean temperature (°C): air solid, sea dotted",
            "wind speed (m/s): daily mean, highest observation faint",
        ),
    )
    geos = sorted(set(w["geography"].to_list()) | set(sea["geography"].to_list()))
    for j, geo in enumerate(geos):
        color = GEO_COLORS[j % len(GEO_COLORS)]
        a = w.filter(pl.col("geography") == geo)
        t = sea.filter(pl.col("geography") == geo)
        series = [
            (a, "air_c", f"{geo} air", "solid", 1, 1.2, 1.0, "°C"),
            (t, "mean", f"{geo} sea", "dot", 1, 1.6, 1.0, "°C"),
            (a, "wind_ms", f"{geo} wind", "solid", 2, 1.0, 1.0, "m/s"),
            (a, "wind_max_ms", f"{geo} wind, highest", "solid", 2, 0.8, 0.3, "m/s"),
        ]
        for d, col, name, dash, row, width, opacity, unit in series:
            if d.height == 0:
                continue
            fig.add_trace(
                go.Scatter(
                    x=d["day"].to_list(),
                    y=d[col].round(2).to_list(),
                    mode="lines",
                    name=name,
                    legendgroup=geo,
                    line={"color": color, "dash": dash, "width": width},
                    opacity=opacity,
                    hovertemplate=f"{name} %{{x|%Y-%m-%d}}: %{{y:.1f}} {unit}<extra></extra>",
                ),
                row=row,
                col=1,
            )
    _end_line(fig, end, row="all", col=1)
    fig.update_yaxes(title_text="°C", row=1, col=1)
    fig.update_yaxes(title_text="m/s", rangemode="tozero", row=2, col=1)
    return _layout(fig, "Weather by geography", 600, legend_right=True)


def scenarios(sc: pl.DataFrame, proj: pl.DataFrame, g: pl.DataFrame, b: pl.DataFrame, end: dt.date) -> go.Figure | None:
    """The scenarios (a table) and, for the batches whose projection ``proj`` holds (a few), the projection in
    use against the measured mean weight by day since the batch started, and their ratio."""
    if sc.height == 0:
        return None
    batch = b.select("batch_id", "batch_number", pl.col("start_date").alias("batch_start"))
    named = sc.join(batch, on="batch_id", how="left")
    fig = make_subplots(
        rows=2,
        cols=2,
        specs=[[{"type": "table", "colspan": 2}, None], [{"type": "xy"}, {"type": "xy"}]],
        row_heights=[0.38, 0.62],
        vertical_spacing=0.1,
        horizontal_spacing=0.08,
        subplot_titles=(
            "",
            "mean weight (g, log scale): projected dashed, measured solid",
            "measured / projected mean weight",
        ),
    )
    cells = [
        named["name"].to_list(),
        named["batch_number"].fill_null("–").to_list(),
        [d.isoformat() for d in named["start_date"].to_list()],
        named["duration_days"].to_list(),
        [f"{n:,}" for n in named["initial_count"].to_list()],
        named["initial_weight"].round(2).to_list(),
        (named["tgc"] + " / " + named["fcr"] + " / " + named["mortality"]).to_list(),
        named["days"].fill_null(0).to_list(),
        named["final_weight_g"].round(0).to_list(),
    ]
    head = ["scenario", "batch", "start", "days", "fish", "start g", "TGC / FCR / mortality model"]
    fig.add_trace(
        go.Table(
            header={"values": [*head, "projected days", "last day g"], "align": "left", "fill_color": "#eef1f5"},
            cells={"values": cells, "align": "left"},
            columnwidth=[2.2, 1.6, 1.2, 0.7, 1.1, 0.8, 5, 1, 1],
        ),
        row=1,
        col=1,
    )
    shown = named.filter(pl.col("scenario_id").is_in(proj["scenario_id"].unique().implode())).sort("batch_start")
    measured = by_age(g.filter(pl.col("avg_weight_g") > 0), "avg_weight_g", b, end)
    for i, row in enumerate(shown.iter_rows(named=True)):
        color = BATCH_COLORS[i % len(BATCH_COLORS)]
        offset = (row["start_date"] - row["batch_start"]).days - 1  # projection day 1 = the scenario's start
        p = proj.filter(pl.col("scenario_id") == row["scenario_id"]).select(
            (pl.col("day_number") + offset).alias("age"), "average_weight"
        )
        m = measured.filter(pl.col("batch_id") == row["batch_id"])
        name = row["batch_number"]
        for d, y, dash, label in ((p, "average_weight", "dash", "projected"), (m, "avg_weight_g", "solid", "measured")):
            fig.add_trace(
                go.Scatter(
                    x=d["age"].to_list(),
                    y=d[y].round(2).to_list(),
                    name=f"{name} {label}",
                    legendgroup=name,
                    line={"color": color, "dash": dash, "width": 1.4},
                    hovertemplate=f"{name} day %{{x}}: %{{y:,.4~r}} g {label}<extra></extra>",
                ),
                row=2,
                col=1,
            )
        r = m.join(p, on="age").filter(pl.col("average_weight") > 0)
        fig.add_trace(
            go.Scatter(
                x=r["age"].to_list(),
                y=(r["avg_weight_g"] / r["average_weight"]).round(3).to_list(),
                name=name,
                legendgroup=name,
                showlegend=False,
                line={"color": color, "width": 1.3},
                hovertemplate=f"{name} day %{{x}}: measured %{{y:.2f}} × projected<extra></extra>",
            ),
            row=2,
            col=2,
        )
    fig.add_hline(y=1, line={"color": "#999", "dash": "dot", "width": 1}, row=2, col=2, exclude_empty_subplots=False)
    fig.update_yaxes(type="log", title_text="g", row=2, col=1)
    fig.update_yaxes(title_text="ratio", row=2, col=2)
    fig.update_xaxes(title_text="days since the batch started", row=2)
    return _layout(
        fig,
        f"Scenarios: {sc.height} scenarios, {int(sc['days'].fill_null(0).sum()):,} projected days",
        860,
        legend_right=True,
    )
