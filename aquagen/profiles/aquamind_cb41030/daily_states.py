"""``batch_actualdailyassignmentstate``: what the application's growth assimilation derives from
the measured data, one row per assignment and live day (from its arrival to the day before its
departure, or to the as-of date), so its growth-analysis screen works without its own slow
recomputation.

Per row, as the application computes it (its reference: ``aquamind-apps.md`` §7.1):
- weight: on a growth-sample day the sample's mean (anchor ``growth_sample``, confidence 1.0);
  otherwise the last anchor grown day by day with the thermal growth model (``tgc_computed``,
  confidence min(temperature confidence, 0.8)): the cube root of the weight keeps the model's daily
  increments, so a day's growth is the simulation's own TGC step at that day's temperature;
- population: the previous day's + fish placed in by transfer actions − the day's mortality (the
  simulation's end-of-day count); mortality ``actual`` from the day's mortality events, else
  ``model`` (0 deaths);
- temperature: the day's mean of the container's Temperature readings (``measured``, 1.0);
- feed: the day's feeding events of the container (``actual``, or ``none`` 0.0);
- observed FCR: feed ÷ biomass gain when fed and the gain exceeds 1 kg, capped at 10;
- stage: the assignment's, moved to the next one once the weight reaches the stage's maximum;
- ``last_computed_at``: that night, 23:50 (the nightly recomputation).
"""

from __future__ import annotations

import datetime as dt
from functools import cache

import numpy as np
import polars as pl

from aquagen.model import domain as D
from aquagen.model.simulate import BatchSim
from aquagen.profiles.aquamind_8f2ab39.batches import BatchTables
from aquagen.profiles.aquamind_8f2ab39.records import collected
from aquagen.tables.order import sort_unique

TABLE = "batch_actualdailyassignmentstate"
COMPUTED = dt.timedelta(hours=23, minutes=50)
TEMPERATURE = next(i for i, p in enumerate(D.PARAMETERS) if p.name == "Temperature")
FCR_CAP = 10.0


def _json(quoted: bool, **values: pl.Expr) -> pl.Expr:
    """A flat JSON object of string (``quoted``) or number values, as text for a jsonb column."""
    q = '"' if quoted else ""
    parts: list[pl.Expr] = []
    for i, (key, value) in enumerate(values.items()):
        parts += [pl.lit(("{" if i == 0 else ", ") + f'"{key}": {q}'), value, pl.lit(q)]
    return pl.concat_str([*parts, pl.lit("}")])


# what a row's texts depend on: the day's flags (its anchor, temperature, deaths, feed and FCR)
FLAGS = ("anchored", "measured", "died", "fed", "has_fcr")


@cache
def _texts() -> pl.DataFrame:
    """``sources`` and ``confidence_scores`` of every combination of ``FLAGS``, row ``code`` (the flags
    as bits, the first highest): a row's texts are then a gather, not two strings built per row."""
    code = np.arange(1 << len(FLAGS))
    flags = pl.DataFrame({f: (code >> (len(FLAGS) - 1 - i)) & 1 == 1 for i, f in enumerate(FLAGS)})
    anchored, measured, died, fed, has_fcr = (pl.col(f) for f in FLAGS)
    temp_conf = pl.when(measured).then(1.0).otherwise(0.5)
    weight_conf = pl.when(anchored).then(1.0).otherwise(pl.min_horizontal(temp_conf, pl.lit(0.8)))
    feed_conf = pl.when(fed).then(1.0).otherwise(0.0)
    fcr_conf = pl.when(has_fcr).then(pl.min_horizontal(feed_conf, pl.lit(0.9))).otherwise(0.0)
    word = lambda cond, yes, no: pl.when(cond).then(pl.lit(yes)).otherwise(pl.lit(no))
    num = lambda e: e.round(2).cast(pl.String)
    return flags.select_seq(
        sources=_json(
            weight=word(anchored, "measured", "tgc_computed"),
            temp=word(measured, "measured", "profile"),
            mortality=word(died, "actual", "model"),
            feed=word(fed, "actual", "none"),
            fcr=word(has_fcr, "calculated", "insufficient_data"),
            quoted=True,
        ),
        confidence_scores=_json(
            weight=num(weight_conf),
            temp=num(temp_conf),
            mortality=num(pl.when(died).then(1.0).otherwise(0.4)),
            feed=num(feed_conf),
            fcr=num(fcr_conf),
            quoted=False,
        ),
    )


def frame(ctx: BatchTables) -> pl.DataFrame:
    """The rows of the batch's whole life (cut at the as-of date with the other tables), by one lazy
    query (a chain of eager steps paid a query each)."""
    sim: BatchSim = ctx.sim
    start = sim.stage_changes["date"][0]
    temps = (
        sim.readings.lazy()
        .filter(pl.col("parameter") == TEMPERATURE)
        .group_by("assignment_no", date=pl.col("reading_time").dt.date())
        .agg(temp_c=pl.col("value").mean())
    )
    samples = sim.samples.lazy().select_seq(
        "assignment_no", date="sample_date", sample_g=pl.col("avg_weight_g").round(2)
    )
    stage_max = pl.col("stage").replace_strict(
        list(range(len(D.STAGES))), [s.weight_max_g for s in D.STAGES], return_dtype=pl.Float64
    )
    cbrt = lambda e: e.pow(1 / 3)
    d = (
        sim.daily.lazy()
        .join(
            ctx.assignments.lazy().select_seq("assignment_no", "id", "container_id", "stage"),
            on="assignment_no",
            maintain_order="left",
        )
        .join(temps, on=["assignment_no", "date"], how="left", maintain_order="left")
        .join(samples, on=["assignment_no", "date"], how="left", maintain_order="left")
        .sort("assignment_no", "date")
        .with_columns_seq(
            # the anchor's offset in cube-root weight, carried forward until the next anchor
            offset=(cbrt(pl.col("sample_g")) - cbrt(pl.col("avg_weight_g")))
            .forward_fill()
            .over("assignment_no")
            .fill_null(0.0),
        )
        .with_columns_seq(
            weight=pl.when(pl.col("sample_g").is_not_null())
            .then(pl.col("sample_g"))
            .otherwise((cbrt(pl.col("avg_weight_g")) + pl.col("offset")).clip(lower_bound=0.0).pow(3)),
        )
        .with_columns_seq(
            biomass=pl.col("population") * pl.col("weight") / 1000,
        )
        .with_columns_seq(
            gain=pl.col("biomass") - pl.col("biomass").shift(1).over("assignment_no"),
            moved=(pl.col("weight") >= stage_max).cum_max().over("assignment_no")
            & (pl.col("stage") < len(D.STAGES) - 1),
        )
    )
    if ctx.plan.horizon is not None:  # the rows after the shard's horizon are cut (``up_to``)
        d = d.filter(pl.col("date") <= ctx.plan.horizon)
    anchored = pl.col("sample_g").is_not_null()
    fed = pl.col("feed_kg") > 0
    has_fcr = fed & (pl.col("gain") > 1.0)
    flags = (anchored, pl.col("temp_c").is_not_null(), pl.col("deaths") > 0, fed, has_fcr)  # FLAGS
    code = pl.sum_horizontal(  # a NULL flag (no gain on an assignment's first day) is false, as in pl.when
        flag.fill_null(False).cast(pl.Int64) * (1 << (len(FLAGS) - 1 - i)) for i, flag in enumerate(flags)
    )
    texts = _texts()
    rows = collected(
        d.select_seq(
            date="date",
            day_number=((pl.col("date") - pl.lit(start)).dt.total_days() + 1).cast(pl.Int32),
            avg_weight_g="weight",
            population="population",
            biomass_kg="biomass",
            temp_c="temp_c",
            mortality_count="deaths",
            feed_kg="feed_kg",
            observed_fcr=pl.when(has_fcr).then(pl.min_horizontal(pl.col("feed_kg") / pl.col("gain"), pl.lit(FCR_CAP))),
            anchor_type=pl.when(anchored).then(pl.lit("growth_sample")),
            sources=pl.lit(texts["sources"]).gather(code),
            confidence_scores=pl.lit(texts["confidence_scores"]).gather(code),
            last_computed_at=(pl.col("date").cast(pl.Datetime("us")) + pl.lit(COMPUTED)).dt.replace_time_zone("UTC"),
            assignment_id="id",
            batch_id=pl.lit(ctx.plan.batch_id, dtype=pl.Int64),
            container_id="container_id",
            lifecycle_stage_id=pl.col("stage").cast(pl.Int64) + 1 + pl.col("moved").cast(pl.Int64),
        )
    )
    return sort_unique(rows, "date", "assignment_id")


def add(ctx: BatchTables) -> None:
    """Numbers the rows (by computation day) and puts them into the batch's tables."""
    rows = frame(ctx)
    ctx.out[TABLE] = ctx.T.conform(TABLE, rows.with_columns_seq(id=ctx.ids.assign(TABLE, rows)))
