"""Health tables of one batch (``aquagen.model.health``): mortality records per container and day,
weekly lice counts per ring, delousings and the vaccination, and the journal entries that go with
them (issue -> diagnosis -> treatment, by the farm operator, the veterinarian and the manager)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import partial

import polars as pl

from aquagen.model import health
from aquagen.model.domain import MANAGER_ID, MORTALITY_CAUSES, MORTALITY_REASONS, OPERATOR_ID, VACCINATION_TYPES, VET_ID
from aquagen.model.simulate import BatchSim
from aquagen.model.sites import SITES
from aquagen.profiles import BatchPlan
from aquagen.tables.cut import up_to
from aquagen.tables.ids import IdBook, when_column

from .records import add, at, collected, linked, utc

MORTALITY_TIME = dt.timedelta(hours=13)  # with the batch's daily mortality registration
LICE_COUNT_TIME = dt.timedelta(hours=10)
DIAGNOSIS_TIME = dt.timedelta(hours=15)  # the vet confirms the count the same afternoon
TREATMENT_TIME = dt.timedelta(hours=8)  # the day after the count
VACCINATION_TIME = dt.timedelta(hours=8)
_REASON = {
    "DISEASE": "Disease",
    "HANDLING": "Handling",
    "PREDATION": "Predation",
    "ENVIRONMENTAL": "Environmental",
    "UNKNOWN": "UNKNOWN",
    "OTHER": "Natural",
}
REASON_ID = {cause: [r[0] for r in MORTALITY_REASONS].index(_REASON[cause]) + 1 for cause in MORTALITY_CAUSES}
_JOURNAL_COLUMNS: dict[str, pl.DataType | type[pl.DataType]] = {
    "entry_time": pl.Datetime("us", "UTC"),
    "assignment_no": pl.Int32,
    "category": pl.String,
    "severity": pl.String,
    "description": pl.String,
    "resolution_status": pl.Boolean,
    "resolution_notes": pl.String,
    "user_id": pl.Int32,
}


def _method(col: str, k: int) -> pl.Expr:
    return pl.col(col).replace_strict({i: m[k] for i, m in enumerate(health.DELOUSING)})


def lice_counts(out: dict, counts: pl.DataFrame, ids: IdBook) -> None:
    """One ``health_licecount`` per count: adult females, adult males and juveniles (this profile's form)."""
    add(out, "health_licecount", counts, OPERATOR_ID, ids)


def build(
    out: dict,
    plan: BatchPlan,
    sim: BatchSim,
    link: pl.DataFrame,
    ids: IdBook,
    counts_section: Callable[[dict, pl.DataFrame, IdBook], None] = lice_counts,
) -> pl.DataFrame:
    """Health rows of ``sim`` into ``out`` (``link``: assignment_no, bca_id, container_id); returns the
    journal entries to add to the batch's journal (columns of ``sim.journal`` plus user_id). The lice
    counts (a frame per count, with the ring's number) are written by ``counts_section``; the columns a
    newer schema adds (``assignment_id``, ``includes_weighing``) are set and dropped where the table lacks them."""
    geography = [g for a, g, _ in SITES.areas() if a == plan.area_id][0].name
    counts, treats = health.lice(sim, geography)
    first_ring = SITES.ring_id(plan.area_id, 0)
    ring = (pl.col("container_id") - first_ring + 1).cast(pl.String).str.zfill(2)
    batch = pl.lit(plan.batch_id, dtype=pl.Int64)

    # --- mortality records: per container and day, the cause of its deaths (a handled delousing's ring:
    # handling; ``health.mortality_by_container``) ---
    mr = collected(
        linked(health.mortality_by_container(sim), link)
        .lazy()
        .with_columns_seq(
            event_date=at("date", MORTALITY_TIME),
            notes=pl.when(pl.col("handled"))
            .then(pl.format("{} fish lost after delousing", pl.col("count")))
            .otherwise(pl.format("{} fish, cause {}", pl.col("count"), pl.col("cause").str.to_lowercase())),
            batch_id=batch,
            assignment_id=pl.col("bca_id"),
            reason_id=pl.col("cause").replace_strict(REASON_ID, return_dtype=pl.Int64),
        )
        .sort("event_date", "container_id", maintain_order=True)
    )
    mr = up_to(mr, when_column("health_mortalityrecord", ids.profile), plan.horizon)
    add(out, "health_mortalityrecord", mr, OPERATOR_ID, ids)

    # --- lice counts (none before the sea: ``add`` gives the empty tables) ---
    if counts.height:
        counts = up_to(
            collected(
                linked(counts, link)
                .lazy()
                .with_columns_seq(
                    count_date=at("date", LICE_COUNT_TIME),
                    notes=pl.format(
                        "Weekly count, ring {}: {} adult females on {} fish",
                        ring,
                        pl.col("adult_female_count"),
                        pl.col("fish_sampled"),
                    ),
                    batch_id=batch,
                    user_id=pl.lit(OPERATOR_ID, dtype=pl.Int32),
                    ring=ring,
                )
                .sort("count_date", "container_id", maintain_order=True)
            ),
            "count_date",
            plan.horizon,
        )
    counts_section(out, counts, ids)

    # --- delousings, the vaccination and the treatments of disease (and jellyfish) episodes, one per
    # ring affected: one query for the treatments of every kind that the batch has (a young batch: none)
    parts: list[pl.LazyFrame] = []
    if treats.height:
        parts.append(
            linked(treats, link)
            .lazy()
            .with_columns_seq(
                treatment_date=at("date", TREATMENT_TIME),
                treatment_type=_method("method", 1),
                description=pl.format(
                    "{} against sea lice in ring {}: {} adult females per fish counted",
                    _method("method", 0),
                    ring,
                    pl.col("adult_females_per_fish").round(2),
                )
                + pl.when(pl.col("handling_loss") > 0)
                .then(pl.lit("; fish starved on the day and the day after"))
                .otherwise(pl.lit("")),
                dosage=_method("method", 2),
                duration_days=_method("method", 3).cast(pl.Int32),
                withholding_period_days=_method("method", 4).cast(pl.Int32),
                outcome=pl.when(_method("method", 5).cast(pl.Float64) >= 0.9)
                .then(pl.lit("successful"))
                .otherwise(pl.lit("partial")),
                batch_id=batch,
                batch_assignment_id=pl.col("bca_id"),
                user_id=pl.lit(VET_ID, dtype=pl.Int32),
            )
        )
    vac = health.vaccination(sim)
    if vac is not None:  # of the whole batch: in no one container
        v = VACCINATION_TYPES[vac["vaccine"]]
        parts.append(
            pl.DataFrame(
                {
                    "date": [vac["date"]],
                    "container_id": pl.Series([None], dtype=link.schema["container_id"]),
                    "treatment_type": ["vaccination"],
                    "description": [
                        f"{v[0]} by intraperitoneal injection of every freshwater tank over {vac['days']} days, "
                        "about seven weeks before sea transfer"
                    ],
                    "dosage": [v[2]],
                    "duration_days": [vac["days"]],
                    "withholding_period_days": [0],
                    "outcome": ["successful"],
                    "batch_id": [plan.batch_id],
                    "user_id": [VET_ID],
                    "vaccination_type_id": [vac["vaccine"] + 1],
                }
            )
            .lazy()
            .with_columns_seq(treatment_date=at("date", VACCINATION_TIME))
        )
    dz = linked(health.disease_treatments(sim), link) if sim.episodes.height else None
    if dz is not None:
        parts.append(
            dz.lazy().with_columns_seq(
                treatment_date=at("date", TREATMENT_TIME),
                description=pl.format("{} in ring {}: {}", pl.col("name"), ring, pl.col("diagnosis")),
                withholding_period_days="withholding_days",
                batch_id=batch,
                batch_assignment_id=pl.col("bca_id"),
                user_id=pl.lit(VET_ID, dtype=pl.Int32),
            )
        )
    tr = (
        collected(
            pl.concat(parts, how="diagonal_relaxed")
            .with_columns_seq(includes_weighing=pl.lit(False))  # no fish weighed with a treatment
            .sort("treatment_date", "container_id", nulls_last=False, maintain_order=True)
        )
        if parts
        else treats  # none yet: the empty table (``add``)
    )
    add(out, "health_treatment", tr, VET_ID, ids)

    _sampling(out, sim, link, ids, plan.horizon)
    _lab(out, sim, link, ids)

    # --- journal: count (issue, operator) -> diagnosis (vet) -> treatment (vet), manager signs off ---
    journal: list[pl.LazyFrame] = []
    if treats.height:
        t = treats.with_columns_seq(count_date=pl.col("date") - pl.duration(days=1)).join(
            link.select_seq("assignment_no", "container_id"), on="assignment_no", maintain_order="left"
        )
        per = pl.col("adult_females_per_fish").round(2).cast(pl.String)
        entry = partial(_journal_entry, t)
        journal += [
            entry(
                at("count_date", LICE_COUNT_TIME + dt.timedelta(minutes=30)),
                "issue",
                "medium",
                pl.format("Sea lice above the treatment threshold in ring {}: {} adult females per fish.", ring, per),
                OPERATOR_ID,
                True,
                pl.lit("Reported to the fish health team."),
            ),
            entry(
                at("count_date", DIAGNOSIS_TIME),
                "diagnosis",
                "medium",
                pl.format(
                    "Lepeophtheirus salmonis infestation confirmed in ring {} ({} adult females per fish); {} prescribed.",
                    ring,
                    per,
                    _method("method", 0).str.to_lowercase(),
                ),
                VET_ID,
                True,
                pl.lit("Treatment scheduled for the next day."),
            ),
            entry(
                at("date", TREATMENT_TIME + dt.timedelta(hours=6)),
                "treatment",
                "low",
                pl.format("{} completed in ring {}.", _method("method", 0), ring),
                VET_ID,
                True,
                pl.format("Follow-up count due in a week; withholding {} days.", _method("method", 4)),
            ),
        ]
    if dz is not None:
        journal += _episode_journal(dz, ring)
    if vac is not None:
        when = dt.datetime.combine(vac["date"], dt.time(), dt.UTC) + VACCINATION_TIME + dt.timedelta(hours=7)
        tank = sim.assignments.filter(
            (pl.col("stage") < health.ADULT)
            & (pl.col("assignment_date") <= vac["date"])
            & (pl.col("departure_date").is_null() | (pl.col("departure_date") > vac["date"]))
        )
        journal.append(
            pl.DataFrame(
                {
                    "entry_time": utc([when]),
                    "assignment_no": [tank["assignment_no"].min()],
                    "category": ["vaccination"],
                    "severity": [None],
                    "description": [
                        f"Batch vaccinated with {VACCINATION_TYPES[vac['vaccine']][0]} before sea transfer."
                    ],
                    "resolution_status": [True],
                    "resolution_notes": ["Fish recovering well; vaccination signed off."],
                    "user_id": [MANAGER_ID],
                },
                schema=_JOURNAL_COLUMNS,
            ).lazy()
        )
    if not journal:
        return pl.DataFrame(schema=_JOURNAL_COLUMNS)
    return collected(
        pl.concat([j.select_seq([pl.col(c).cast(d) for c, d in _JOURNAL_COLUMNS.items()]) for j in journal])
    )


def _journal_entry(
    rows: pl.DataFrame,
    when: pl.Expr,
    category: str,
    severity: str | None,
    text: pl.Expr,
    user: int,
    done: bool,
    notes: pl.Expr,
) -> pl.LazyFrame:
    """A journal entry per row of ``rows``: its time, the row's assignment, what was written by whom."""
    return rows.lazy().select_seq(
        entry_time=when,
        assignment_no="assignment_no",
        category=pl.lit(category),
        severity=pl.lit(severity, dtype=pl.String),
        description=text,
        resolution_status=pl.lit(done),
        resolution_notes=notes,
        user_id=pl.lit(user, dtype=pl.Int32),
    )


def _episode_journal(dz: pl.DataFrame, ring: pl.Expr) -> list[pl.LazyFrame]:
    """A disease episode's journal in each ring treated: raised mortality reported (operator), the
    diagnosis (veterinarian), the treatment (veterinarian) with its outcome."""
    kind = pl.col("kind")

    def entry(day: str, time: dt.timedelta, category: str, severity: str, text: pl.Expr, user: int, notes: pl.Expr):
        return _journal_entry(dz, at(day, time), category, severity, text, user, True, notes)

    return [
        entry(
            "issue_date",
            dt.timedelta(hours=9, minutes=30),
            "issue",
            "high",
            pl.format("Raised mortality and lethargic fish in ring {}; {} suspected.", ring, kind),
            OPERATOR_ID,
            pl.lit("Dead fish sampled for the veterinarian."),
        ),
        entry(
            "diagnosis_date",
            DIAGNOSIS_TIME,
            "diagnosis",
            "high",
            pl.format("Ring {}: {}.", ring, pl.col("diagnosis")),
            VET_ID,
            pl.format("{} prescribed.", pl.col("name")),
        ),
        entry(
            "date",
            TREATMENT_TIME + dt.timedelta(hours=6),
            "treatment",
            "medium",
            pl.format("{} started in ring {} ({}).", pl.col("name"), ring, pl.col("dosage")),
            VET_ID,
            pl.format("Outcome {}; mortality followed up daily.", pl.col("outcome")),
        ),
    ]


SAMPLING_TIME = dt.timedelta(hours=11, minutes=30)
LAB_RESULT_TIME = dt.timedelta(hours=16)  # a lab sample is recorded with its results


def _sampling(out: dict, sim: BatchSim, link: pl.DataFrame, ids: IdBook, horizon: dt.date | None = None) -> None:
    """Health sampling events with their fish and scores; the event's aggregates from its stored fish.
    Events after ``horizon`` are left out, with their fish and scores (``up_to``)."""
    events, fish, scores = health.sampling(sim)
    weight, length = pl.col("weight_g").round(2), pl.col("length_cm").round(2)  # as stored
    fish = fish.with_columns_seq(weight_g=weight, length_cm=length, k=100 * weight / length**3)
    agg = fish.group_by("event").agg(
        avg_weight_g=pl.col("weight_g").mean(),
        std_dev_weight_g=pl.col("weight_g").std(),
        min_weight_g=pl.col("weight_g").min(),
        max_weight_g=pl.col("weight_g").max(),
        avg_length_cm=pl.col("length_cm").mean(),
        std_dev_length_cm=pl.col("length_cm").std(),
        min_length_cm=pl.col("length_cm").min(),
        max_length_cm=pl.col("length_cm").max(),
        avg_k_factor=pl.col("k").mean(),
        calculated_sample_size=pl.len().cast(pl.Int32),
    )
    ev = collected(
        events.lazy()
        .join(agg.lazy(), on="event", maintain_order="left")
        .join(link.lazy(), on="assignment_no", maintain_order="left")
        .sort("event")
        .with_columns_seq(
            sampling_date=pl.col("date"),
            number_of_fish_sampled=pl.col("n_fish").cast(pl.Int32),
            notes=pl.when(pl.col("episode"))
            .then(pl.lit("Sampled during raised mortality: gills, skin and fins scored."))
            .otherwise(pl.lit("Routine monthly health sampling.")),
            created_at=at("date", SAMPLING_TIME),
            assignment_id=pl.col("bca_id"),
            sampled_by_id=pl.lit(VET_ID, dtype=pl.Int32),
        )
        .with_columns_seq(updated_at=pl.col("created_at"))
    )
    ev = up_to(ev, "created_at", horizon)
    base = add(out, "health_healthsamplingevent", ev, VET_ID, ids)
    event_id = ev.select_seq("event", "created_at", sampling_event_id=base["id"])
    obs = collected(
        fish.lazy()
        .join(event_id.lazy(), on="event", maintain_order="left")
        .sort("event", "fish_no")
        .with_columns_seq(fish_identifier=pl.col("fish_no").cast(pl.String), updated_at=pl.col("created_at"))
    )
    obs_base = add(out, "health_individualfishobservation", obs, VET_ID, ids)
    obs_id = obs.select_seq("event", "fish_no", "created_at", individual_fish_observation_id=obs_base["id"])
    sc = collected(
        scores.lazy()
        .join(obs_id.lazy(), on=["event", "fish_no"], maintain_order="left")
        .with_columns_seq(parameter_id=pl.col("parameter").cast(pl.Int64) + 1, updated_at=pl.col("created_at"))
    )
    add(out, "health_fishparameterscore", sc, VET_ID, ids)


def _lab(out: dict, sim: BatchSim, link: pl.DataFrame, ids: IdBook) -> None:
    samples = health.lab_samples(sim)
    if not samples.height:  # no episode yet (a young batch's): the empty table, no query
        add(out, "health_healthlabsample", samples, VET_ID, ids)
        return
    lab = collected(
        linked(samples, link)
        .lazy()
        .with_columns_seq(
            sample_date=pl.col("date"),
            date_sent_to_lab=pl.col("sent"),
            date_results_received=pl.col("received"),
            lab_reference_id=pl.format(
                "LAB-{}-{}-{}", pl.col("date").dt.strftime("%Y%m%d"), pl.col("container_id"), pl.col("sample_type") + 1
            ),
            findings_summary=pl.col("finding"),
            # jsonb as the application's help text shows it: {"<param>": value, "unit": "<unit>"}
            quantitative_results=pl.concat_str(
                pl.lit('{"'),
                "key",
                pl.lit('": '),
                pl.col("value").cast(pl.String),
                pl.lit(', "unit": "'),
                "unit",
                pl.lit('"}'),
            ),
            notes=pl.format("Taken during raised mortality; {} = {}", pl.col("key"), pl.col("value")),
            created_at=at("received", LAB_RESULT_TIME),
            batch_container_assignment_id=pl.col("bca_id"),
            recorded_by_id=pl.lit(VET_ID, dtype=pl.Int32),
            sample_type_id=pl.col("sample_type").cast(pl.Int64) + 1,
        )
        .with_columns_seq(updated_at=pl.col("created_at"))
        .sort("created_at", "container_id", maintain_order=True)
    )
    add(out, "health_healthlabsample", lab, VET_ID, ids)
