"""The ``aquagen`` command: a thin click layer over the library functions."""

from __future__ import annotations

import datetime as dt
import errno
import os
import signal
import sys
import traceback
import warnings
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

from . import words
from .errors import AquagenError

# aquagen calls no BLAS routine, and OpenBLAS starts a thread per core when NumPy is imported, each
# spinning about a tenth of a second before it sleeps: 0.06-0.1 CPU-s of every process (the command's
# and each worker's, which inherit this), measured. One thread, unless the user chose otherwise.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

if TYPE_CHECKING:
    from rich.progress import TaskID

DEFAULT_OUT = Path("output") / "snapshot"
DSN_HELP = "PostgreSQL URL. [default: env AQUAGEN_DSN, else the embedded server (aquagen db status)]"
PGDATA_HELP = (
    "Data folder of the embedded server. [default: env AQUAGEN_PGDATA, else output/pgdata of the project "
    "folder above, else a per-user folder]"
)


class Date(click.ParamType):
    name = "DATE"

    def convert(self, value, param, ctx):
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not a date; use YYYY-MM-DD", param, ctx)


DATE = Date()


class Moment(click.ParamType):
    """A date, or a moment to the minute on it (UTC unless it names its zone): an as-of cut."""

    name = "DATE[THH:MM]"

    def convert(self, value, param, ctx):
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(value) if len(value) <= 10 else dt.datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not a date or a moment; use YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)", param, ctx)


MOMENT = Moment()


def _pgdata_option(f):
    return click.option("--pgdata", type=click.Path(path_type=Path), default=None, help=PGDATA_HELP)(f)


def _target_options(f):
    """``--dsn`` and ``--pgdata``: the database a command works on (one rule, ``loaders.dsn``)."""
    return click.option("--dsn", default=None, help=DSN_HELP)(_pgdata_option(f))


def _workers_option(help: str):
    return click.option(
        "--workers",
        type=click.IntRange(min=1, max=64),
        default=os.cpu_count() or 1,
        show_default="all cores",
        help=help,
    )


def _one_polars_thread(workers: int) -> None:
    """With worker processes beside it, this process runs its share of the shards as they do: on one
    Polars thread (the processes are the parallelism; 10-batch fleets with 2 workers, 5 pairs: 0.91x
    the CPU-seconds and 0.90x the wall time of Polars' own pool here, medians). Set before Polars is imported (its
    pool reads it once); a POLARS_MAX_THREADS of the user is kept."""
    if workers > 1 and "polars" not in sys.modules:
        os.environ.setdefault("POLARS_MAX_THREADS", "1")


_GIVEN: list[str] = []  # the paths the command at hand was given (absolute): a missing file there is the user's


class _Command(click.Command):
    """A command that notes the paths it is given, by an option, an argument or their default (``_GIVEN``)."""

    def invoke(self, ctx: click.Context):
        for p in self.params:
            value = ctx.params.get(p.name)
            if value is not None and (isinstance(p.type, click.Path) or p.name == "out"):
                _GIVEN.append(os.path.abspath(value))
        return super().invoke(ctx)


class _Group(click.Group):
    command_class = _Command
    group_class = type  # db's commands too


@click.group(cls=_Group, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="aquagen")
@click.option("--debug", is_flag=True, help="On an internal error, show the traceback (else one line).")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Generate realistic AquaMind test data as a Parquet snapshot and load it into PostgreSQL.

    \b
    Typical session (7 batches, one in every stage on the as-of date; rerunning it is a no-op):
      aquagen generate --batches 7 --stagger-days 90 --first-start 2024-12-01 --as-of 2026-06-30 \\
          --out output/snapshot --force
      aquagen load output/snapshot        # into this project's embedded PostgreSQL (aquagen db status)
      aquagen validate                    # that database; or: aquagen validate output/snapshot
      aquagen report output/snapshot      # -> output/snapshot/report/index.html
    The database of load, purge, validate and report: --dsn, else env AQUAGEN_DSN, else the embedded one.
    """
    _help_without_command(ctx)


def _help_without_command(ctx: click.Context) -> None:
    """A group run without a command (``aquagen``, ``aquagen db``) prints its help, as --help does (exit 0)."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


class _Bar:
    """A rich progress display on stderr, silent when stderr is not a terminal; a context manager."""

    def __init__(self, *columns, transient: bool = False) -> None:
        from rich.console import Console
        from rich.progress import Progress

        console = Console(stderr=True)
        self.bar = Progress(*columns, console=console, transient=transient, disable=not console.is_terminal)

    def __enter__(self):
        self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        self.bar.__exit__(*exc)


class RichProgress(_Bar):
    """Progress of ``generate``: one bar per phase with rows/s."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

        super().__init__(
            TextColumn("{task.description:<20}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rows]:>12,} rows  {task.fields[rate]:>10,.0f} rows/s"),
            TimeElapsedColumn(),
        )
        self.task: TaskID | None = None  # set by phase()

    def phase(self, name: str, total: int) -> None:
        self.task = self.bar.add_task(name, total=total, rows=0, rate=0.0)

    def advance(self, rows: int) -> None:
        assert self.task is not None, "advance() before phase()"
        task = self.bar.tasks[self.task]
        total = task.fields["rows"] + rows
        self.bar.update(self.task, advance=1, rows=total, rate=total / max(task.elapsed or 0, 1e-3))


def _summary(snap) -> str:
    tables = snap.manifest["tables"].values()
    return f"{sum(t['rows'] for t in tables):,} rows in {sum(1 for t in tables if t['rows'])} tables"


@cli.command()
@click.option(
    "--out",
    default=str(DEFAULT_OUT),
    show_default=True,
    help="Snapshot folder to write (a path, or with --scheduler any fsspec URL).",
)
@click.option("--seed", type=click.IntRange(min=0, max=2**63 - 1), default=42, show_default=True, help="Random seed.")
@click.option(
    "--batches",
    type=click.IntRange(min=0),
    default=None,
    help="Number of batches in the fleet (0: infrastructure and master data only). "
    "[default: a full farm, 4–5 years of egg intakes]",
)
@click.option(
    "--as-of",
    type=MOMENT,
    default=None,
    help="Simulated 'today': nothing is dated after its end, or after a moment on it (YYYY-MM-DDTHH:MM, UTC). "
    "Today is cut at the moment of generation, floored to the hour; a later day is refused. "
    "[default: now]",
)
@click.option(
    "--first-start",
    type=DATE,
    default=None,
    help="Start of the first batch; infrastructure is set up 30 days before. [default: 1 January four years "
    "before the as-of date's year for a full farm; with --batches, as-of - 1000 days or earlier so that every batch has started]",
)
@click.option(
    "--stagger-days",
    type=click.IntRange(min=1, max=3650),
    default=20,
    show_default=True,
    help="Days between batch starts (geographies alternate).",
)
@click.option(
    "--geography",
    default=None,
    help="Put every batch in 'Scotland' or 'Faroe Islands' (any case, or the start: faroe). [default: alternate]",
)
@_workers_option("Worker processes; the output is the same for any number.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run of the same command (kept in OUT.partial).")
@click.option(
    "--scheduler",
    default=None,
    metavar="tcp://HOST:PORT",
    help="Run the shards on this Dask cluster instead of local workers; OUT may then be any fsspec "
    "URL the workers can write (s3://..., a shared folder).",
)
@click.option(
    "--connect-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for the --scheduler to answer.",
)
@click.option(
    "--profile",
    default=None,
    metavar="NAME",
    help="Target schema: aquamind@cb41030 (AquaMind as its users run it today) or aquamind@8f2ab39 "
    "(the original plan's version); the commit alone will do (cb41030). [default: aquamind@cb41030]",
)
@click.option("--force", is_flag=True, help="Replace an existing snapshot at OUT (or an interrupted run).")
@click.option(
    "--clean-sensors",
    is_flag=True,
    help="Sensor readings exactly on the hour with no gaps, spikes, flat-lines or drift "
    "[default: 1-3 % missing, outages, minutes of jitter, rare spikes and flat-lines, drift reset at calibration].",
)
def generate(
    out,
    seed,
    batches,
    as_of,
    first_start,
    stagger_days,
    geography,
    workers,
    resume,
    scheduler,
    connect_timeout,
    force,
    profile,
    clean_sensors,
):
    """Write a snapshot: one folder of Parquet files per table plus manifest.json.

    With --batches N, a fleet: N batches starting every --stagger-days from
    --first-start, each on a free station and sea area (fallow between sea
    batches), simulated over their whole life and cut at --as-of. A later
    --as-of (same other options) only adds rows.

    \b
    Examples:
      aquagen generate --out output/snapshot --seed 42 --batches 50
      aquagen generate --out output/older --seed 7 --batches 10 --as-of 2025-10-16 --force
      aquagen generate --out output/snapshot --seed 42 --batches 50 --resume   # after an interruption
      aquagen generate --batches 500 --scheduler tcp://scheduler:8786 --out s3://bucket/snap
    """
    if (
        batches is None
        and click.get_current_context().get_parameter_source("stagger_days") is not ParameterSource.DEFAULT
    ):
        raise AquagenError(
            f"--stagger-days {stagger_days} spaces the batches of --batches N; a full farm (no --batches) "
            "starts its batches by its own calendar: drop --stagger-days or give --batches"
        )
    _one_polars_thread(workers)
    from .run.generate import generate as run

    _RESUME_HINT.append(f"the run is kept in {out}.partial: rerun the same command with --resume to continue")
    with RichProgress() as progress:
        snap = run(
            out,
            seed=seed,
            batches=batches,
            as_of=as_of,
            first_start=first_start,
            force=force,
            stagger_days=stagger_days,
            geography=geography,
            workers=workers,
            resume=resume,
            progress=progress,
            scheduler=scheduler,
            connect_timeout=connect_timeout,
            profile=profile,
            clean_sensors=clean_sensors,
        )
    if snap.status == "complete":
        click.echo(f"snapshot {snap.path} is already complete ({_summary(snap)}); nothing to do")
    else:
        click.echo(f"wrote {_summary(snap)} to {snap.path}")
        _kept_report(snap)
    from .model.fleet import PlannedBatch, fleet_status
    from .snapshot import moment_of

    planned = [PlannedBatch.from_json(b) for b in snap.manifest.get("batches", [])]
    if planned:
        as_of_day, at = moment_of(snap.manifest["arguments"])
        share, stages = fleet_status(planned, snap.manifest["seed"], as_of_day)
        click.echo(
            f"on {as_of_day}{f' at {at:%H:%M} UTC' if at else ''}: {share:.0%} of containers hold fish; "
            "active batches by stage: " + ", ".join(f"{k} {v}" for k, v in stages.items())
        )


@cli.command()
@click.option("--start-date", type=DATE, required=True, help="Day the eggs are laid in Hall A.")
@click.option("--eggs", type=int, required=True, help="Initial egg count, e.g. 3500000.")
@click.option("--geography", required=True, help="'Scotland' or 'Faroe Islands' (any case, or the start: faroe).")
@click.option("--station", default=None, help="Freshwater station, e.g. FI-FW-01. [default: first one free]")
@click.option("--sea-area", default=None, help="Sea area, e.g. FI-SEA-01. [default: first one free]")
@click.option("--batch-name", default=None, help="Batch number. [default: <FI|SCO>-<year>-<NNN>]")
@click.option(
    "--as-of",
    type=MOMENT,
    default=None,
    help="Cut the life here: a date, or a moment on it (YYYY-MM-DDTHH:MM, UTC), as generate's. "
    "[default: the snapshot's as-of, or now for a new snapshot]",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0, max=2**63 - 1),
    default=42,
    show_default=True,
    help="Random seed of a new snapshot (an existing one keeps its own).",
)
@_workers_option("Worker processes.")
@click.option(
    "--out",
    type=click.Path(),  # as typed: a Path would make s3://b/x the folder s3:/b/x, which add_batch refuses as a URL
    default=DEFAULT_OUT,
    show_default=True,
    help="Snapshot to add the batch to (created with infrastructure and master data when new).",
)
@click.option(
    "--profile",
    default=None,
    metavar="NAME",
    help="Target schema: aquamind@cb41030 or aquamind@8f2ab39 (or the commit alone). "
    "[default: the snapshot's, or aquamind@cb41030 for a new one]",
)
def batch(start_date, eggs, geography, station, sea_area, batch_name, as_of, seed, workers, out, profile):
    """Add one batch's whole life to a snapshot (plan phase 3).

    The snapshot is rebuilt with the new batch beside its others (they share
    feed stock); the old one stays in place until the new one is complete.

    \b
    Examples:
      aquagen batch --start-date 2024-01-01 --eggs 3500000 --geography "Faroe Islands" \\
          --station FI-FW-01 --sea-area FI-SEA-01 --batch-name FI-2024-001 --out output/lifecycle
      aquagen batch --start-date 2024-02-01 --eggs 3200000 --geography Scotland --out output/lifecycle
    """
    from .run.generate import add_batch

    _RESUME_HINT.append(f"the run is kept in {out}.partial: rerun the same command to continue")
    with RichProgress() as progress:
        snap, pb = add_batch(
            out,
            start_date=start_date,
            eggs=eggs,
            geography=geography,
            station=station,
            sea_area=sea_area,
            batch_name=batch_name,
            as_of=as_of,
            seed=seed,
            workers=workers,
            progress=progress,
            profile=profile,
        )
    click.echo(
        f"batch {pb.batch_number} (id {pb.batch_id}): {pb.eggs:,} eggs at {pb.station}, sea area "
        f"{pb.sea_area}, from {pb.start_date}; snapshot {snap.path} now has {_summary(snap)}"
    )
    _kept_report(snap)


def _kept_report(snap) -> None:
    """Say so when a rewritten snapshot kept the report written into its folder (``snapshot.carry``): it
    shows the snapshot before."""
    from .snapshot import Snapshot

    if isinstance(snap, Snapshot) and (snap.path / "report").is_dir():
        click.echo(f"kept {snap.path / 'report'}, the report of the snapshot before: rerun aquagen report {snap.path}")


@cli.command()
@click.argument("snapshot", type=click.Path(path_type=Path), default=DEFAULT_OUT)
@_target_options
@click.option(
    "--skip-existing",
    is_flag=True,
    help="Batches already in the database (by batch number) are left out; the others are loaded.",
)
@click.option("--replace", is_flag=True, help="Batches already in the database are purged first, then loaded again.")
@click.option(
    "--rebuild-indexes",
    is_flag=True,
    help="Existing schema: load in place, in one transaction, with the target tables' secondary "
    "indexes and FKs dropped around the COPY and recreated exactly (the default chooses by itself).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1, max=16),
    default=None,
    show_default="cores, 2 to 4",
    help="Parallel connections building the tables.",
)
def load(snapshot, dsn, pgdata, skip_existing, replace, rebuild_indexes, workers):
    """Load SNAPSHOT into PostgreSQL with binary COPY, all or nothing.

    Into a database without the schema: tables are COPied and their keys,
    indexes and foreign keys built over parallel connections in a staging
    schema, then moved into public by one short transaction. Into an existing
    schema (e.g. created by AquaMind's migrations): verified; master rows that
    already exist are matched by natural key, never duplicated; then copies of
    the tables are built the same way and swapped in, or, into tables that
    already hold far more rows, the rows go in place in one transaction (the
    choice is printed). Killing the load at any moment leaves the database as
    it was; loading the same snapshot again changes nothing.

    \b
    Examples:
      aquagen load output/snapshot        # --dsn, else env AQUAGEN_DSN, else the embedded server
      aquagen load output/snapshot --dsn postgresql://aquamind:secret@localhost:5432/aquamind
      aquagen load output/snapshot --skip-existing
    """
    from loaders import dsn as database
    from loaders import postgres

    from .snapshot import Snapshot

    snap = Snapshot.open(snapshot)
    db = database.choose(dsn, pgdata)
    psql = "aquagen db psql" if db.embedded else None
    with _LoadProgress(sum(e["rows"] for e in snap.manifest["tables"].values())) as tick:
        result = postgres.load(
            snap,
            db.dsn,
            progress=tick,
            skip_existing=skip_existing,
            replace=replace,
            rebuild_indexes=rebuild_indexes,
            workers=workers or postgres.DEFAULT_WORKERS,
        )
    if result.already_loaded:
        click.echo(f"snapshot {snap.path} is already loaded in this database; nothing to do")
        if psql:
            click.echo(f"connect with: {psql}")
        return
    total = sum(result.rows.values())
    matched = sum(result.matched.values())
    click.echo(
        f"loaded {total:,} rows into {sum(1 for n in result.rows.values() if n)} tables in {result.seconds:.1f} s "
        f"({total / max(result.seconds, 1e-9):,.0f} rows/s); "
        + (
            "created the schema"
            if result.created_schema
            else f"existing schema verified, {matched} existing rows reused"
        )
        + (f"; {result.rebuilt[0]} indexes and {result.rebuilt[1]} foreign keys rebuilt" if any(result.rebuilt) else "")
    )
    if result.method and not result.created_schema:
        click.echo(f"rows written: {result.method}")
    if result.skipped_batches:
        click.echo(
            f"skipped {words.count(len(result.skipped_batches), 'batch')} already in the database: "
            + ", ".join(result.skipped_batches)
        )
    if result.replaced_batches:
        click.echo(
            f"replaced {words.count(len(result.replaced_batches), 'batch')}: " + ", ".join(result.replaced_batches)
        )
    if result.other_batches:
        click.echo(
            f"the database also holds {words.count(len(result.other_batches), 'batch')} this snapshot does not carry "
            f"(--replace leaves them; validate may find their rows past its as-of): {words.some(result.other_batches)}"
        )
    if psql:
        click.echo(f"connect with: {psql}")


@cli.command()
@_target_options
@click.option(
    "--to",
    "to",
    type=MOMENT,
    default=None,
    help="The new as-of date, or a moment on it (YYYY-MM-DDTHH:MM, UTC); today means now, floored to the hour, "
    "as generate's --as-of. [default: now]",
)
@_workers_option("Worker processes generating the farm ahead (when the cache does not hold it).")
@click.option(
    "--cache",
    type=click.Path(path_type=Path),
    default=None,
    help="Where the farm generated ahead is kept. [default: $AQUAGEN_CACHE, else ~/.cache/aquagen]",
)
def advance(dsn, pgdata, to, workers, cache):
    """Move a loaded database on to a later as-of date, without reloading.

    Reads from the load log how the data was generated and the date it holds, cuts the
    new days out of the same farm generated a year ahead (kept in a cache: generated on
    the first advance, reused by the next ones) and, in one transaction, adds every row
    created since and moves batches, assignments and stock lots on. Rows added through
    the application are kept; killing it leaves the database at the old date.

    \b
    Examples:
      aquagen advance                        # the embedded database, to now (floored to the hour)
      aquagen advance --dsn $DSN --to 2026-11-24
      aquagen advance --to 2026-11-25T09:30  # to 09:30 UTC on that day
    """
    _one_polars_thread(workers)
    from loaders import dsn as database
    from loaders.advance import advance as run
    from loaders.advance import describe

    with RichProgress() as progress:
        result = run(database.choose(dsn, pgdata).dsn, to, workers=workers, progress=progress, cache=cache)
    click.echo(describe(result))


@cli.command()
@_target_options
@click.option("--batch-id", "batch_ids", type=int, multiple=True, help="Batch id to purge (repeatable).")
@click.option(
    "--batch-name", "batch_names", multiple=True, help="Batch number to purge, e.g. SCO-2024-001 (repeatable)."
)
@click.option("--all", "all_batches", is_flag=True, help="Purge every batch.")
@click.option(
    "--reset-inventory",
    is_flag=True,
    help="Also restore the initial feed stock: later purchases and lots go, initial lots are refilled.",
)
@click.option("--dry-run", is_flag=True, help="Print what would go; change nothing. Alone: as --all.")
@click.option("--confirm", is_flag=True, help="Really delete (required unless --dry-run).")
def purge(dsn, pgdata, batch_ids, batch_names, all_batches, reset_inventory, dry_run, confirm):
    """Delete batches with all their events and history (plan phase 4), in one transaction.

    Infrastructure, master data and users stay; their counts are checked
    before and after and printed.

    \b
    Examples:
      aquagen purge --dry-run             # what --all would delete (--dsn, else env AQUAGEN_DSN, else embedded)
      aquagen purge --batch-name SCO-2024-001 --confirm
      aquagen purge --all --reset-inventory --confirm
    """
    from loaders import dsn as database
    from loaders.purge import purge as run

    if not (all_batches or batch_ids or batch_names or reset_inventory or dry_run):
        raise AquagenError("nothing to purge: give --batch-id N, --batch-name NAME or --all (and/or --reset-inventory)")
    if dry_run and not (batch_ids or batch_names or reset_inventory):
        all_batches = True  # the plan's "always dry-run first": a bare --dry-run shows everything
    if not (dry_run or confirm):
        raise AquagenError("purge deletes data: add --confirm to go ahead, or --dry-run to see what would go")
    dsn = database.choose(dsn, pgdata).dsn
    r = run(
        dsn,
        batch_ids=batch_ids,
        batch_names=batch_names,
        all=all_batches,
        dry_run=dry_run,
        reset_inventory=reset_inventory,
    )
    verb = "would delete" if r.dry_run else "deleted"
    names = words.some([n for _, n in r.batches], 10)
    click.echo(
        f"{verb} {r.total:,} rows of {words.count(len(r.batches), 'batch')}"
        + (f" ({names})" if names else "")
        + (" and reset the feed inventory" if reset_inventory and not r.dry_run else "")
        + (" (dry run: nothing changed)" if r.dry_run else f" in {r.seconds:.1f} s")
    )
    for name, n in sorted(r.deleted.items(), key=lambda kv: (-kv[1], kv[0])):
        click.echo(f"  {n:>12,}  {name}")
    for name, n in sorted(r.restored.items()):
        click.echo(
            f"  {n:>12,}  {name} rows {'would get' if r.dry_run else 'got'} back the feed the purged feedings drew"
        )
    if r.written_off:
        click.echo(
            f"  {r.written_off:>12,}  lots {'would be' if r.dry_run else 'were'} written off at their expiry"
            f" (the feed {'refilled' if reset_inventory else 'given back'} would be past it)"
        )
    for name, n in sorted(r.reset.items()):
        click.echo(f"  {n:>12,}  {name} rows {'would be ' if r.dry_run else ''}reset to their initial values")
    click.echo("kept (unchanged): " + ", ".join(f"{name} {n:,}" for name, n in r.preserved.items() if n))


@cli.command()
@click.argument("snapshot", type=click.Path(path_type=Path), required=False)
@click.option(
    "--dsn",
    default=None,
    help="Validate this database. [default without SNAPSHOT: env AQUAGEN_DSN, else the embedded server]",
)
@click.option(
    "--as-of",
    type=DATE,
    default=None,
    help="For a database: the date nothing may be after. [default: today; a snapshot is validated as of its "
    "own as-of date, and refuses another]",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(1, 64),
    default=None,
    help="For a database: checks run at once, each on a connection of its own. [default: the cores, at most 4]",
)
def validate(snapshot, dsn, as_of, jobs):
    """Check the plan's counts and DESIGN.md's invariants, expected against actual.

    Exits 1 when any check fails.

    \b
    Examples:
      aquagen validate output/snapshot
      aquagen validate                    # the database: --dsn, else env AQUAGEN_DSN, else the embedded one
      aquagen validate -j 8               # a database on a big server: 8 checks at once
    """
    from .check import validate as v
    from .snapshot import Snapshot

    if snapshot is not None and dsn is not None:
        raise AquagenError("give a SNAPSHOT folder or --dsn URL, not both")
    if snapshot is None:
        from loaders import dsn as database
        from loaders.catalog import database_profile, schema_mismatches
        from loaders.session import connect

        db = database.choose(dsn)
        with ExitStack() as stack:
            conn = stack.enter_context(connect(db.dsn))
            if schema_mismatches(conn) is None:
                raise AquagenError(
                    f"{database.describe(db)} has no AquaMind schema: load a snapshot first "
                    "(aquagen load output/snapshot)"
                )
            profile = database_profile(conn)
            # a whole farm's checks are about a minute of server work on one connection
            more = [stack.enter_context(connect(db.dsn)) for _ in range((jobs or DEFAULT_CHECK_JOBS) - 1)]
            sources = [v.DatabaseSource(c, as_of, profile) for c in (conn, *more)]
            results = v.run(sources[0], sources[1:], stack.enter_context(_CheckProgress()))
    else:
        from .snapshot import moment_of

        snap = Snapshot.open(snapshot)
        own = moment_of(snap.manifest["arguments"])[0]
        if as_of is not None and as_of != own:  # its rows go up to its own date: an earlier one fails them all
            raise AquagenError(
                f"--as-of {as_of.isoformat()}: a snapshot is validated as of its own as-of date, {own.isoformat()} "
                "(--as-of is for a database)"
            )
        snap.verify()  # a shared snapshot is untrusted: every file checked before it is read
        results = v.run_snapshot(snap)
    _print_results(results)
    failed = [r for r in results if not r.ok]
    click.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed:
        sys.exit(1)


def _print_results(results) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("group", "check", "expected", "actual", "", box=None, pad_edge=False)
    for r in results:
        table.add_row(
            r.check.group,
            r.check.name,
            f"{r.check.expected:,}",
            f"{r.actual:,}",
            "[green]ok[/]" if r.ok else "[red]FAIL[/]",
        )
    Console(highlight=False).print(table)


@cli.command()
@click.argument("snapshot", type=click.Path(path_type=Path), required=False)
@click.option(
    "--dsn",
    default=None,
    help="Report on this database. [default without SNAPSHOT: env AQUAGEN_DSN, else the embedded server]",
)
@click.option(
    "--as-of",
    type=DATE,
    default=None,
    help="The report's day: nothing later is shown. [default: a snapshot's as-of date, or a database's last "
    "day with data; a later date is refused]",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="HTML file to write (or a folder for index.html), self-contained. "
    "[default: SNAPSHOT/report/index.html, or output/report/index.html with --dsn]",
)
def report(snapshot, dsn, as_of, out):
    """Write an interactive HTML report (one file, works offline): the fleet on the report's day, then
    growth, mortality, feed and FCR, sensors, feed stock and occupancy, and `aquagen validate`'s checks.

    \b
    Examples:
      aquagen report output/snapshot            # -> output/snapshot/report/index.html
      aquagen report --as-of 2026-06-30 --out output/report   # the database (--dsn, AQUAGEN_DSN or embedded)
    """
    from .check import report as r

    if snapshot is not None and dsn is not None:
        raise AquagenError("give a SNAPSHOT folder or --dsn URL, not both")
    if out is not None:
        r.page_path(out)  # refused before the snapshot is checked or a server started
    if snapshot is None:
        from loaders import dsn as database

        rep = r.report_database(database.choose(dsn).dsn, out, as_of)
    else:
        from .snapshot import Snapshot

        Snapshot.open(snapshot).verify()  # untrusted input: checked before it is read
        rep = r.report_snapshot(snapshot, out, as_of)
    click.echo(
        f"wrote {rep.path} ({words.count(len(rep.charts), 'chart')}, {words.count(rep.batches, 'batch')} "
        f"up to {rep.end.isoformat()}); "
        f"validation: {len(rep.results) - rep.failed} passed, {rep.failed} failed"
    )


@cli.group(invoke_without_command=True)
@click.pass_context
def db(ctx: click.Context) -> None:
    """The embedded PostgreSQL: one server per project folder, kept running between commands.

    Its data folder is output/pgdata of the project folder found upward from the
    current folder (the first whose pyproject.toml names aquagen, or that holds an
    output/pgdata database), else a per-user folder; env AQUAGEN_PGDATA overrides.
    load, purge, validate and report use it unless --dsn or env AQUAGEN_DSN is given.

    \b
    Examples:
      aquagen db start --port 5433   # also listen on 127.0.0.1:5433 (for AquaMind's manage.py)
      aquagen db status              # running?, URL, data folder and its size
      aquagen db psql -c 'SELECT count(*) FROM batch_batch'
      aquagen db stop
    """
    _help_without_command(ctx)


def _database_name(ctx, param, value: str) -> str:
    """A database name PostgreSQL keeps as given: not empty, at most 63 bytes (longer ones it cuts short)."""
    if not value or len(value.encode()) > 63 or "\0" in value:
        raise click.BadParameter(f"{value!r}: a database name is 1 to 63 bytes (PostgreSQL cuts longer ones short)")
    return value


def _database_option(f):
    return click.option(
        "--database",
        default="aquamind",
        show_default=True,
        callback=_database_name,
        help="Database on the server (created when missing).",
    )(f)


def _django_settings(st, database: str) -> str:
    """What AquaMind's settings need to reach the server over TCP (the server trusts local connections)."""
    return (
        f"DATABASES = {{'default': {{'ENGINE': 'django.db.backends.postgresql', 'NAME': {database!r}, "
        f"'USER': 'postgres', 'PASSWORD': '', 'HOST': '127.0.0.1', 'PORT': '{st.port}'}}}}"
    )


@db.command("start")
@click.option(
    "--port",
    type=click.IntRange(min=0, max=65535),
    default=None,
    help="Also listen on this TCP port of 127.0.0.1 (a server running without it is restarted: its socket "
    "URL names the port too, so both URLs change); remembered in the data folder, so every later start, "
    "by db start or on demand, uses it too. 0: the Unix socket only. [default: the port chosen before, "
    "else the Unix socket only]",
)
@_database_option
@_pgdata_option
def db_start(port, database, pgdata):
    """Start the server (or find it running) and print how to connect."""
    from loaders import embedded

    was = embedded.status(pgdata)
    st = embedded.ensure_running(pgdata, port=port, database=database)
    verb = (
        "started"
        if not was.running
        else "already running"
        if was.pid == st.pid
        else f"restarted with port {st.port}"
        if st.port
        else "restarted without a TCP port"
    )
    click.echo(f"{verb}: embedded PostgreSQL in {st.folder.path}")
    if was.running and was.pid != st.pid:  # the socket's name carries the port too: every URL changed
        before = f"port {was.port}" if was.port else f"the Unix socket only (port {embedded.SOCKET_PORT})"
        click.echo(
            f"note: it ran on {before}: URLs printed before (aquagen db url, AQUAGEN_DSN, the Django settings) "
            "no longer work; these do"
        )
    click.echo(f"URL: {st.dsn(database)}")
    if st.port:
        click.echo(f"TCP URL: {st.tcp_dsn(database)}")
        click.echo(f"Django settings: {_django_settings(st, database)}")


@db.command("stop")
@_pgdata_option
def db_stop(pgdata):
    """Stop the server (open sessions are ended); the data stays."""
    from loaders import embedded

    st = embedded.stop(pgdata)
    click.echo(f"{'stopped' if st.running else 'not running'}: embedded PostgreSQL in {st.folder.path}")


@db.command("status")
@_database_option
@_pgdata_option
def db_status(database, pgdata):
    """Running or not, URL, data folder (and why there) and its size."""
    from loaders import embedded

    st = embedded.status(pgdata)
    state = (
        f"running (pid {st.pid}, since {st.started:%Y-%m-%d %H:%M})"
        if st.running
        else "stopped"
        if st.initialized
        else "not created yet (aquagen db start, or aquagen load, creates it)"
    )
    click.echo(f"embedded PostgreSQL: {state}")
    size = embedded.folder_bytes(st.folder.path) if st.initialized else 0
    click.echo(f"data folder: {st.folder.path} ({size / 1e6:,.0f} MB)")
    click.echo(f"  chosen as: {st.folder.reason}")
    if st.running:
        click.echo(f"URL: {st.dsn(database)}")
        click.echo(
            f"TCP: {st.tcp_dsn(database)}"
            if st.port
            else "TCP: none (the Unix socket only; aquagen db stop, then aquagen db start --port 5433)"
        )
    elif st.initialized and (port := embedded.chosen_port(st.folder.path)):
        click.echo(f"TCP: port {port} when started (chosen with aquagen db start --port {port}; --port 0: none)")
    if os.environ.get("AQUAGEN_DSN", "").strip():
        from loaders.session import redact

        click.echo(
            f"note: AQUAGEN_DSN is set ({redact(os.environ['AQUAGEN_DSN'])}): load, purge, validate and "
            "report use that database, not this server"
        )


@db.command("url")
@click.option("--tcp", is_flag=True, help="The 127.0.0.1 URL (the server must have been started with --port).")
@_database_option
@_pgdata_option
def db_url(tcp, database, pgdata):
    """Print the server's URL (starting it when needed), e.g. export AQUAGEN_DSN=$(aquagen db url)."""
    from loaders import embedded

    st = embedded.ensure_running(pgdata, database=database)
    if tcp and not st.port:
        raise AquagenError(
            "the embedded PostgreSQL has no TCP port: aquagen db stop, then aquagen db start --port 5433"
        )
    click.echo(st.tcp_dsn(database) if tcp else st.dsn(database))


@db.command("psql", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@_database_option
@_pgdata_option
@click.argument("psql_args", nargs=-1, type=click.UNPROCESSED)
def db_psql(database, pgdata, psql_args):
    """Open psql on the server (starting it when needed); further arguments go to psql, e.g. -c 'SELECT 1'."""
    from loaders import embedded

    st = embedded.ensure_running(pgdata, database=database)
    psql = embedded.psql_command()
    sys.stdout.flush()
    os.execv(psql, [psql, st.dsn(database), *psql_args])


DEFAULT_CHECK_JOBS = max(1, min(4, os.cpu_count() or 1))  # validate's connections to a database


class _CheckProgress(_Bar):
    """``validate``'s bar on a database: checks done / all."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

        super().__init__(
            TextColumn("validating"),
            BarColumn(bar_width=16),
            MofNCompleteColumn(),
            TextColumn("checks"),
            TimeElapsedColumn(),
            transient=True,
        )
        self.task = self.bar.add_task("validate", total=None)  # known with the first result

    def __call__(self, done: int, total: int) -> None:
        self.bar.update(self.task, completed=done, total=total)


class _LoadProgress(_Bar):
    """``load``'s bar: rows copied / total, percentage and time left (the work counts each row
    twice: once copied, once its table's keys, indexes and FKs are built)."""

    def __init__(self, total_rows: int):
        from rich.progress import BarColumn, TaskProgressColumn, TextColumn, TimeRemainingColumn

        super().__init__(
            TextColumn("loading {task.fields[table]:<24.24}"),
            BarColumn(bar_width=16),
            TaskProgressColumn(),
            TextColumn("{task.fields[copied]:>12,} / {task.fields[rows]:,} rows"),
            TimeRemainingColumn(),
            transient=True,
        )
        self.task = self.bar.add_task("load", total=2 * max(total_rows, 1), table="", copied=0, rows=total_rows)

    def __call__(self, table: str, copied: int, done: int) -> None:
        task = self.bar.tasks[0]
        self.bar.update(self.task, advance=copied + done, table=table, copied=task.fields["copied"] + copied)


_RESUME_HINT: list[str] = []  # set by generate/batch: what to say when the run is interrupted


def _on_sigterm(signum, frame) -> None:
    raise KeyboardInterrupt  # the same clean stop as Ctrl-C: workers killed, work folder kept


def main() -> None:
    """Run the CLI: a user error is one line and exit 2, an internal bug "internal error: ..." and
    exit 1 (the traceback only with --debug), an interruption one line with the --resume hint, 130."""
    warnings.filterwarnings("ignore")  # third-party warnings (e.g. platformdirs) are not for users
    command_at = next((i for i, a in enumerate(sys.argv[1:], 1) if a in cli.commands), len(sys.argv))
    debug = "--debug" in sys.argv[1:command_at]  # a global option: before the command
    signal.signal(signal.SIGTERM, _on_sigterm)
    _GIVEN.clear()
    try:
        cli.main(prog_name="aquagen", standalone_mode=False)
    except AquagenError as e:
        _fail(f"error: {e}", 2)
    except click.exceptions.Abort:
        _fail("interrupted" + (f"; {_RESUME_HINT[0]}" if _RESUME_HINT else ""), 130)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        _fail(f"error: {e.format_message()}", e.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted" + (f"; {_RESUME_HINT[0]}" if _RESUME_HINT else ""), 130)
    except OSError as e:
        if e.errno == errno.ENOSPC:
            where = f"in {_folder(e.filename)}" if e.filename else "on the device"
            _fail(f"error: no space left {where}: free some space and rerun; nothing was published", 2)
        if e.errno in (errno.EACCES, errno.EROFS, errno.EPERM, errno.ENOTDIR, errno.EISDIR) or (
            e.errno == errno.ENOENT and _given(e)
        ):
            _fail(f"error: {e.filename or 'a file'}: {e.strerror}", 2)
        _internal(e, debug)
    except Exception as e:
        _internal(e, debug)


def _fail(message: str, code: int) -> None:
    click.echo(message, err=True)
    sys.exit(code)


def _internal(e: BaseException, debug: bool) -> None:
    if debug:
        traceback.print_exception(e)
    first = (str(e).splitlines() or [""])[0][:300]
    hint = "" if debug else " (rerun with --debug for the traceback)"
    _fail(f"internal error: {type(e).__name__}: {first}{hint}", 1)


_PATH_ENV = ("AQUAGEN_PGDATA", "AQUAGEN_CACHE")  # paths given by the environment instead of an option


def _given(e: OSError) -> bool:
    """Whether the file of ``e`` is one the user named, or lies in a folder they named (a snapshot's part);
    any other missing file is aquagen's own bug."""
    given = _GIVEN + [os.path.abspath(v) for v in map(os.environ.get, _PATH_ENV) if v and v.strip()]
    for name in (e.filename, e.filename2):
        if name is not None:
            path = os.path.abspath(os.fsdecode(name))
            if any(path == p or path.startswith(p.rstrip(os.sep) + os.sep) for p in given):
                return True
    return False


def _folder(filename) -> Path:
    """The folder a failed write was writing into (the file's own, not the current folder's device)."""
    return Path(filename).absolute().parent
