"""The ``aquagen`` command: a thin click layer over the library functions."""

from __future__ import annotations

import datetime as dt
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


@cli.command()
@click.option("--out", type=click.Path(path_type=Path), default=DEFAULT_OUT, show_default=True,
              help="Snapshot folder to write.")
@click.option("--seed", type=click.IntRange(min=0), default=42, show_default=True, help="Random seed.")
@click.option("--batches", type=click.IntRange(min=0), default=0, show_default=True,
              help="Number of batches (0: infrastructure and master data only).")
@click.option("--as-of", type=DATE, default=None, help="Simulated 'today': nothing is dated after it. [default: today]")
@click.option("--first-start", type=DATE, default=None,
              help="Start of the first batch; infrastructure is set up 30 days before. [default: as-of - 1000 days]")
@click.option("--stagger-days", type=click.IntRange(min=1), default=20, show_default=True,
              help="Days between batch starts (geographies alternate).")
@click.option("--force", is_flag=True, help="Replace an existing non-empty output folder.")
def generate(out, seed, batches, as_of, first_start, stagger_days, force):
    """Write a snapshot: one folder of Parquet files per table plus manifest.json.

    \b
    Examples:
      aquagen generate --out output/snapshot --seed 42
      aquagen generate --out /tmp/snap --seed 7 --batches 10 --as-of 2025-10-16 --force
    """
    from .generate import generate as run

    snap = run(out, seed=seed, batches=batches, as_of=as_of, first_start=first_start, force=force,
               stagger_days=stagger_days)
    total = sum(t["rows"] for t in snap.manifest["tables"].values())
    click.echo(f"wrote {total:,} rows in {sum(1 for t in snap.manifest['tables'].values() if t['rows'])} tables to {snap.path}")


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
@click.option("--out", type=click.Path(path_type=Path), default=DEFAULT_OUT, show_default=True,
              help="Snapshot to add the batch to (created with infrastructure and master data when new).")
def batch(start_date, eggs, geography, station, sea_area, batch_name, as_of, seed, out):
    """Generate one batch's whole life into a snapshot (plan phase 3).

    \b
    Examples:
      aquagen batch --start-date 2024-01-01 --eggs 3500000 --geography "Faroe Islands" \\
          --station FI-FW-01 --sea-area FI-SEA-01 --batch-name FI-2024-001 --out output/snapshot
      aquagen batch --start-date 2024-02-01 --eggs 3200000 --geography Scotland
    """
    from .generate import add_batch

    snap, pb = add_batch(out, start_date=start_date, eggs=eggs, geography=geography, station=station,
                         sea_area=sea_area, batch_name=batch_name, as_of=as_of, seed=seed)
    rows = {name: n for name, n in ((k, v["rows"]) for k, v in snap.manifest["tables"].items())}
    click.echo(f"batch {pb.batch_number} (id {pb.batch_id}): {pb.eggs:,} eggs at {pb.station}, sea area "
               f"{pb.sea_area}, from {pb.start_date}; snapshot {snap.path} now has {sum(rows.values()):,} rows")


@cli.command()
@click.argument("snapshot", type=click.Path(path_type=Path), default=DEFAULT_OUT)
@click.option("--dsn", envvar="AQUAGEN_DSN", default=None,
              help="PostgreSQL URL (or env AQUAGEN_DSN). Without it, an embedded server under --pgdata is used.")
@click.option("--pgdata", type=click.Path(path_type=Path), default=DEFAULT_PGDATA, show_default=True,
              help="Data folder of the embedded server.")
def load(snapshot, dsn, pgdata):
    """Load SNAPSHOT into PostgreSQL with binary COPY, in one transaction.

    Creates the schema when the database has none, or verifies an existing one
    (e.g. created by AquaMind's migrations); master rows that already exist are
    matched by natural key, never duplicated.

    \b
    Examples:
      aquagen load output/snapshot
      aquagen load output/snapshot --dsn postgresql://aquamind:secret@localhost/aquamind
    """
    from loaders import embedded, postgres

    from .snapshot import Snapshot

    snap = Snapshot.open(snapshot)
    psql = None
    if dsn is None:
        dsn, psql = embedded.start(pgdata)
    with _progress("loading") as tick:
        result = postgres.load(snap, dsn, progress=tick)
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
    )
    if psql:
        click.echo(f"connect with: {psql}")


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
    from . import validate as v
    from .snapshot import Snapshot

    if (snapshot is None) == (dsn is None):
        raise AquagenError("give either a SNAPSHOT folder or --dsn URL")
    if dsn:
        from loaders.postgres import connect

        with connect(dsn) as conn:
            results = v.run(v.DatabaseSource(conn, as_of))
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
