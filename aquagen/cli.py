"""The ``aquagen`` command: a thin click layer over the library functions."""

from __future__ import annotations

import datetime as dt
import os
import sys
import warnings
from pathlib import Path

import click

from .errors import AquagenError

DEFAULT_OUT = Path("output") / "snapshot"
DEFAULT_PGDATA = Path("output") / "pgdata"


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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="aquagen")
def cli() -> None:
    """Generate realistic AquaMind test data as a Parquet snapshot and load it into PostgreSQL.

    \b
    Typical session:
      aquagen generate --out output/snapshot --seed 42
      aquagen load output/snapshot              # embedded PostgreSQL under output/pgdata
      aquagen validate --dsn postgresql://...   # or: aquagen validate output/snapshot
    """


class RichProgress:
    """Progress of ``generate``: one bar per phase with rows/s; silent when not on a terminal."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        console = Console(stderr=True)
        self.bar = Progress(TextColumn("{task.description:<20}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[rows]:>12,} rows  {task.fields[rate]:>10,.0f} rows/s"),
                            TimeElapsedColumn(), console=console, disable=not console.is_terminal)
        self.task = None

    def __enter__(self):
        self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        self.bar.__exit__(*exc)

    def phase(self, name: str, total: int) -> None:
        self.task = self.bar.add_task(name, total=total, rows=0, rate=0.0)

    def advance(self, rows: int) -> None:
        task = self.bar.tasks[self.task]
        total = task.fields["rows"] + rows
        self.bar.update(self.task, advance=1, rows=total, rate=total / max(task.elapsed or 0, 1e-3))


def _summary(snap) -> str:
    tables = snap.manifest["tables"].values()
    return f"{sum(t['rows'] for t in tables):,} rows in {sum(1 for t in tables if t['rows'])} tables"


@cli.command()
@click.option("--out", default=str(DEFAULT_OUT), show_default=True,
              help="Snapshot folder to write (a path, or with --scheduler any fsspec URL).")
@click.option("--seed", type=click.IntRange(min=0), default=42, show_default=True, help="Random seed.")
@click.option("--batches", type=click.IntRange(min=0), default=0, show_default=True,
              help="Number of batches in the fleet (0: infrastructure and master data only).")
@click.option("--as-of", type=DATE, default=None, help="Simulated 'today': nothing is dated after it. [default: today]")
@click.option("--first-start", type=DATE, default=None,
              help="Start of the first batch; infrastructure is set up 30 days before. [default: as-of - 1000 days]")
@click.option("--stagger-days", type=click.IntRange(min=1), default=20, show_default=True,
              help="Days between batch starts (geographies alternate).")
@click.option("--geography", default=None, help="Put every batch in 'Scotland' or 'Faroe Islands'. [default: alternate]")
@click.option("--workers", type=click.IntRange(min=1, max=64), default=os.cpu_count() or 1, show_default="all cores",
              help="Worker processes; the output is the same for any number.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run of the same command (kept in OUT.partial).")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="Run the shards on this Dask cluster instead of local workers; OUT may then be any fsspec "
                   "URL the workers can write (s3://..., a shared folder).")
@click.option("--profile", default=None, metavar="NAME",
              help="Target schema, e.g. aquamind@cb41030 or aquamind@8f2ab39. [default: aquamind@8f2ab39]")
@click.option("--force", is_flag=True, help="Replace an existing non-empty output folder (or an interrupted run).")
def generate(out, seed, batches, as_of, first_start, stagger_days, geography, workers, resume, scheduler, force,
             profile):
    """Write a snapshot: one folder of Parquet files per table plus manifest.json.

    With --batches N, a fleet: N batches starting every --stagger-days from
    --first-start, each on a free station and sea area (fallow between sea
    batches), simulated over their whole life and cut at --as-of. A later
    --as-of (same other options) only adds rows.

    \b
    Examples:
      aquagen generate --out output/snapshot --seed 42 --batches 50
      aquagen generate --out /tmp/snap --seed 7 --batches 10 --as-of 2025-10-16 --force
      aquagen generate --out /tmp/snap --batches 50 --resume     # after an interruption
      aquagen generate --batches 500 --scheduler tcp://scheduler:8786 --out s3://bucket/snap
    """
    from .run.generate import generate as run

    with RichProgress() as progress:
        snap = run(out, seed=seed, batches=batches, as_of=as_of, first_start=first_start, force=force,
                   stagger_days=stagger_days, geography=geography, workers=workers, resume=resume, progress=progress,
                   scheduler=scheduler, profile=profile)
    click.echo(f"wrote {_summary(snap)} to {snap.path}")


@cli.command()
@click.option("--start-date", type=DATE, required=True, help="Day the eggs are laid in Hall A.")
@click.option("--eggs", type=int, required=True, help="Initial egg count, e.g. 3500000.")
@click.option("--geography", required=True, help="'Scotland' or 'Faroe Islands'.")
@click.option("--station", default=None, help="Freshwater station, e.g. FI-FW-01. [default: first one free]")
@click.option("--sea-area", default=None, help="Sea area, e.g. FI-SEA-01. [default: first one free]")
@click.option("--batch-name", default=None, help="Batch number. [default: <FI|SCO>-<year>-<NNN>]")
@click.option("--as-of", type=DATE, default=None,
              help="Cut the life here. [default: the snapshot's as-of date, or today for a new snapshot]")
@click.option("--seed", type=click.IntRange(min=0), default=42, show_default=True,
              help="Random seed of a new snapshot (an existing one keeps its own).")
@click.option("--workers", type=click.IntRange(min=1, max=64), default=os.cpu_count() or 1, show_default="all cores",
              help="Worker processes.")
@click.option("--out", type=click.Path(path_type=Path), default=DEFAULT_OUT, show_default=True,
              help="Snapshot to add the batch to (created with infrastructure and master data when new).")
@click.option("--profile", default=None, metavar="NAME",
              help="Target schema, e.g. aquamind@cb41030 or aquamind@8f2ab39. [default: the snapshot's, or aquamind@8f2ab39 for a new one]")
def batch(start_date, eggs, geography, station, sea_area, batch_name, as_of, seed, workers, out, profile):
    """Add one batch's whole life to a snapshot (plan phase 3).

    The snapshot is rebuilt with the new batch beside its others (they share
    feed stock); the old one stays in place until the new one is complete.

    \b
    Examples:
      aquagen batch --start-date 2024-01-01 --eggs 3500000 --geography "Faroe Islands" \\
          --station FI-FW-01 --sea-area FI-SEA-01 --batch-name FI-2024-001 --out output/snapshot
      aquagen batch --start-date 2024-02-01 --eggs 3200000 --geography Scotland
    """
    from .run.generate import add_batch

    with RichProgress() as progress:
        snap, pb = add_batch(out, start_date=start_date, eggs=eggs, geography=geography, station=station,
                             sea_area=sea_area, batch_name=batch_name, as_of=as_of, seed=seed, workers=workers,
                             progress=progress, profile=profile)
    click.echo(f"batch {pb.batch_number} (id {pb.batch_id}): {pb.eggs:,} eggs at {pb.station}, sea area "
               f"{pb.sea_area}, from {pb.start_date}; snapshot {snap.path} now has {_summary(snap)}")


@cli.command()
@click.argument("snapshot", type=click.Path(path_type=Path), default=DEFAULT_OUT)
@click.option("--dsn", envvar="AQUAGEN_DSN", default=None,
              help="PostgreSQL URL (or env AQUAGEN_DSN). Without it, an embedded server under --pgdata is used.")
@click.option("--pgdata", type=click.Path(path_type=Path), default=DEFAULT_PGDATA, show_default=True,
              help="Data folder of the embedded server.")
@click.option("--skip-existing", is_flag=True,
              help="Batches already in the database (by batch number) are left out; the others are loaded.")
@click.option("--replace", is_flag=True, help="Batches already in the database are purged first, then loaded again.")
@click.option("--rebuild-indexes", is_flag=True,
              help="Existing schema: drop the target tables' secondary indexes and FKs around the COPY and "
                   "recreate them exactly, in the same transaction (faster for big loads).")
@click.option("--workers", type=click.IntRange(min=1, max=16), default=None, show_default="cores, 2 to 4",
              help="Parallel connections when creating the schema.")
def load(snapshot, dsn, pgdata, skip_existing, replace, rebuild_indexes, workers):
    """Load SNAPSHOT into PostgreSQL with binary COPY, all or nothing.

    Into a database without the schema: tables are COPied and their keys,
    indexes and foreign keys built over parallel connections in a staging
    schema, then moved into public by one short transaction. Into an existing
    schema (e.g. created by AquaMind's migrations): verified, then loaded in one
    transaction; master rows that already exist are matched by natural key,
    never duplicated. Killing the load at any moment leaves the database as it
    was; loading the same snapshot again changes nothing.

    \b
    Examples:
      aquagen load output/snapshot
      aquagen load output/snapshot --dsn postgresql://aquamind:secret@localhost/aquamind
      aquagen load output/snapshot --dsn $DSN --skip-existing --rebuild-indexes
    """
    from loaders import embedded, postgres

    from .snapshot import Snapshot

    snap = Snapshot.open(snapshot)
    psql = None
    if dsn is None:
        dsn, psql = embedded.start(pgdata)
    with _progress("loading") as tick:
        result = postgres.load(snap, dsn, progress=tick, skip_existing=skip_existing, replace=replace,
                               rebuild_indexes=rebuild_indexes, workers=workers or postgres.DEFAULT_WORKERS)
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
        + ("created the schema" if result.created_schema else f"existing schema verified, {matched} existing rows reused")
        + (f"; {result.rebuilt[0]} indexes and {result.rebuilt[1]} foreign keys rebuilt" if any(result.rebuilt) else "")
    )
    if result.skipped_batches:
        click.echo(f"skipped {len(result.skipped_batches)} batches already in the database: "
                   + ", ".join(result.skipped_batches))
    if result.replaced_batches:
        click.echo(f"replaced {len(result.replaced_batches)} batches: " + ", ".join(result.replaced_batches))
    if psql:
        click.echo(f"connect with: {psql}")


@cli.command()
@click.option("--dsn", envvar="AQUAGEN_DSN", default=None,
              help="PostgreSQL URL (or env AQUAGEN_DSN). Without it, the embedded server under --pgdata.")
@click.option("--pgdata", type=click.Path(path_type=Path), default=DEFAULT_PGDATA, show_default=True,
              help="Data folder of the embedded server.")
@click.option("--batch-id", "batch_ids", type=int, multiple=True, help="Batch id to purge (repeatable).")
@click.option("--batch-name", "batch_names", multiple=True, help="Batch number to purge, e.g. SCO-2024-001 (repeatable).")
@click.option("--all", "all_batches", is_flag=True, help="Purge every batch.")
@click.option("--reset-inventory", is_flag=True,
              help="Also restore the initial feed stock: later purchases and lots go, initial lots are refilled.")
@click.option("--dry-run", is_flag=True, help="Print what would go; change nothing.")
@click.option("--confirm", is_flag=True, help="Really delete (required unless --dry-run).")
def purge(dsn, pgdata, batch_ids, batch_names, all_batches, reset_inventory, dry_run, confirm):
    """Delete batches with all their events and history (plan phase 4), in one transaction.

    Infrastructure, master data and users stay; their counts are checked
    before and after and printed.

    \b
    Examples:
      aquagen purge --dsn $DSN --all --dry-run
      aquagen purge --dsn $DSN --batch-name SCO-2024-001 --confirm
      aquagen purge --dsn $DSN --all --reset-inventory --confirm
    """
    from loaders import embedded
    from loaders.purge import purge as run

    if not (all_batches or batch_ids or batch_names or reset_inventory):
        raise AquagenError("nothing to purge: give --batch-id N, --batch-name NAME or --all (and/or --reset-inventory)")
    if not (dry_run or confirm):
        raise AquagenError("purge deletes data: add --confirm to go ahead, or --dry-run to see what would go")
    if dsn is None:
        dsn, _ = embedded.start(pgdata)
    r = run(dsn, batch_ids=batch_ids, batch_names=batch_names, all=all_batches, dry_run=dry_run,
            reset_inventory=reset_inventory)
    verb = "would delete" if r.dry_run else "deleted"
    names = ", ".join(n for _, n in r.batches[:10]) + (f" and {len(r.batches) - 10} more" if len(r.batches) > 10 else "")
    click.echo(f"{verb} {r.total:,} rows of {len(r.batches)} batch{'' if len(r.batches) == 1 else 'es'}"
               + (f" ({names})" if names else "")
               + (" and reset the feed inventory" if reset_inventory and not r.dry_run else "")
               + (" (dry run: nothing changed)" if r.dry_run else f" in {r.seconds:.1f} s"))
    for name, n in sorted(r.deleted.items(), key=lambda kv: (-kv[1], kv[0])):
        click.echo(f"  {n:>12,}  {name}")
    for name, n in sorted(r.restored.items()):
        click.echo(f"  {n:>12,}  {name} rows {'would get' if r.dry_run else 'got'} back the feed the purged feedings drew")
    for name, n in sorted(r.reset.items()):
        click.echo(f"  {n:>12,}  {name} rows {'would be ' if r.dry_run else ''}reset to their initial values")
    click.echo("kept (unchanged): " + ", ".join(f"{name} {n:,}" for name, n in r.preserved.items() if n))


@cli.command()
@click.argument("snapshot", type=click.Path(path_type=Path), required=False)
@click.option("--dsn", envvar="AQUAGEN_DSN", default=None, help="Validate a database instead of a snapshot.")
@click.option("--as-of", type=DATE, default=None,
              help="With --dsn: the date nothing may be after. [default: today; a snapshot knows its own]")
def validate(snapshot, dsn, as_of):
    """Check the plan's counts and DESIGN.md's invariants, expected against actual.

    Exits 1 when any check fails.

    \b
    Examples:
      aquagen validate output/snapshot
      aquagen validate --dsn postgresql://localhost/aquamind
    """
    from .check import validate as v
    from .snapshot import Snapshot

    if (snapshot is None) == (dsn is None):
        raise AquagenError("give either a SNAPSHOT folder or --dsn URL")
    if dsn:
        from loaders.postgres import connect, database_profile

        with connect(dsn) as conn:
            results = v.run(v.DatabaseSource(conn, as_of, database_profile(conn)))
    else:
        results = v.run(v.SnapshotSource(Snapshot.open(snapshot)))
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
        table.add_row(r.check.group, r.check.name, f"{r.check.expected:,}", f"{r.actual:,}",
                      "[green]ok[/]" if r.ok else "[red]FAIL[/]")
    Console(highlight=False).print(table)


@cli.command()
@click.argument("snapshot", type=click.Path(path_type=Path), required=False)
@click.option("--dsn", envvar="AQUAGEN_DSN", default=None, help="Report on a database instead of a snapshot.")
@click.option("--as-of", type=DATE, default=None,
              help="With --dsn: the validation's as-of date and the charts' last day. [default: today for the "
                   "validation, the last day with data for the charts; a snapshot knows its own]")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="HTML file to write (or a folder for index.html); the PNG charts go beside it. "
                   "[default: SNAPSHOT/report/index.html, or output/report/index.html with --dsn]")
def report(snapshot, dsn, as_of, out):
    """Write an HTML report: charts of growth, population and biomass, mortality, feed and FCR,
    temperature, feed stock and site occupancy, and the validation table of `aquagen validate`.

    \b
    Examples:
      aquagen report output/snapshot            # -> output/snapshot/report/index.html
      aquagen report --dsn postgresql://localhost/aquamind --out /tmp/report
    """
    from . import report as r

    if (snapshot is None) == (dsn is None):
        raise AquagenError("give either a SNAPSHOT folder or --dsn URL")
    if snapshot is not None and as_of is not None:
        raise AquagenError("--as-of is for --dsn; a snapshot has its own as-of date")
    rep = r.report_database(dsn, out, as_of) if dsn else r.report_snapshot(snapshot, out)
    click.echo(f"wrote {rep.path} with {len(rep.charts)} charts ({rep.shown_batches} of {rep.batches} batches "
               f"charted one by one); validation: {len(rep.results) - rep.failed} passed, {rep.failed} failed")


class _progress:
    """A rich progress bar over tables, silent when stderr is not a terminal."""

    def __init__(self, label: str):
        self.label = label

    def __enter__(self):
        if not sys.stderr.isatty():
            return lambda name, rows: None
        from rich.progress import Progress

        self.p = Progress(transient=True)
        self.p.start()
        self.task = self.p.add_task(self.label, total=None)

        def tick(name: str, rows: int) -> None:
            self.p.update(self.task, advance=1, description=f"{self.label} {name} ({rows:,} rows)")

        return tick

    def __exit__(self, *exc):
        if hasattr(self, "p"):
            self.p.stop()


def main() -> None:
    warnings.filterwarnings("ignore")  # third-party warnings (e.g. platformdirs) are not for users
    try:
        cli.main(standalone_mode=False)
    except AquagenError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        click.echo(f"error: {e.format_message()}", err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
