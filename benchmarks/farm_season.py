"""The full farm's plan by season, and what tests/test_full_farm_plan checks, for some seeds.

    PYTHONPATH=$PWD python3 benchmarks/farm_season.py 42 7 1 3
    PYTHONPATH=$PWD python3 benchmarks/farm_season.py --brief $(seq 0 47)   # a line a seed, and how many pass

Prints per seed: egg intakes per calendar month (starts 2022–2026) and per season (Dec–Feb,
Mar–May, Jun–Aug, Sep–Nov), sea transfers per month (mid-2023 to mid-2027), and on the test's
dates (every 2 weeks, 2025–2027) the occupancy range, the fewest batches in a stage, the share of
dates with at least 4 in every stage, the share with a batch in every transition window, the share
with two or more near every window (within 10 days), and whether the seed meets every check of
tests/test_fleet.py::test_full_farm_plan (which checks all of these).
Planning only: no simulation, a few seconds a seed.
"""

from __future__ import annotations

import collections
import datetime as dt
import sys

from aquagen.model.fleet import TRANSITION_WINDOWS, calendar_of, fleet_status, plan_farm, sea_window
from aquagen.model.seeds import fleet_eggs
from aquagen.model.sites import SITES

FIRST, LAST = dt.date(2022, 1, 1), dt.date(2027, 12, 31)  # as tests/test_fleet.py
DATES = [dt.date(2025, 1, 1) + dt.timedelta(days=14 * k) for k in range(79)]
SEASONS = {"Dec-Feb": (12, 1, 2), "Mar-May": (3, 4, 5), "Jun-Aug": (6, 7, 8), "Sep-Nov": (9, 10, 11)}


def measure(seed: int) -> dict:
    planned = plan_farm(FIRST, LAST, fleet_eggs(seed), seed)
    months = collections.Counter(b.start_date.month for b in planned if b.start_date.year < 2027)
    seas = [sea_window(b.start_date, calendar_of(b, seed))[0] for b in planned]
    transfers = collections.Counter(d.month for d in seas if dt.date(2023, 7, 1) <= d < dt.date(2027, 7, 1))
    shares, fewest, windows, near, adults = [], [], [], [], []
    for as_of in DATES:
        share, stages = fleet_status(planned, seed, as_of)
        shares.append(share)
        adults.append(stages["Adult"])
        fewest.append(min(stages.values()))
        ages = [(as_of - b.start_date).days for b in planned]
        windows.append(min(sum(lo <= a <= hi for a in ages) for lo, hi in TRANSITION_WINDOWS))
        near.append(min(sum(lo - 10 <= a <= hi + 10 for a in ages) for lo, hi in TRANSITION_WINDOWS))
    seasons = {k: sum(months[m] for m in ms) for k, ms in SEASONS.items()}
    geos = collections.Counter(b.geography for b in planned)
    n = len(DATES)
    checks = {
        "sites": len({b.station for b in planned}) == SITES.n_stations
        and len({b.sea_area for b in planned}) == SITES.n_areas,
        "balance": abs(geos["Scotland"] - geos["Faroe Islands"]) <= 2,
        "occupancy": 0.65 <= min(shares) and max(shares) <= 0.85 and min(adults) >= 25,
        "stages": min(fewest) >= 3 and sum(k >= 4 for k in fewest) >= 0.98 * n,
        "windows": sum(k >= 1 for k in windows) >= 0.85 * n,
        "near": sum(k >= 2 for k in near) >= 0.95 * n,
    }
    return {
        "seed": seed,
        "batches": len(planned),
        "intakes by month 2022-2026": [months[m] for m in range(1, 13)],
        "intakes by season": seasons,
        "Dec-Feb / Jun-Aug": round(seasons["Dec-Feb"] / seasons["Jun-Aug"], 2),
        "sea transfers by month": [transfers[m] for m in range(1, 13)],
        "occupancy": (round(min(shares), 3), round(max(shares), 3)),
        "fewest in a stage": min(fewest),
        "dates with >= 4 in every stage": round(sum(n >= 4 for n in fewest) / len(DATES), 3),
        "dates with every window held": round(sum(n >= 1 for n in windows) / len(DATES), 3),
        "dates with >= 2 near every window": round(sum(k >= 2 for k in near) / n, 3),
        "Scotland - Faroes": geos["Scotland"] - geos["Faroe Islands"],
        "test_full_farm_plan": "pass"
        if all(checks.values())
        else "FAIL " + ", ".join(k for k, ok in checks.items() if not ok),
    }


BRIEF = (
    "occupancy",
    "fewest in a stage",
    "dates with >= 4 in every stage",
    "dates with every window held",
    "dates with >= 2 near every window",
    "Scotland - Faroes",
    "test_full_farm_plan",
)

if __name__ == "__main__":
    args = sys.argv[1:]
    brief = "--brief" in args
    seeds = [int(a) for a in args if a != "--brief"] or [42, 7]
    passed = 0
    for seed in seeds:
        row = measure(seed)
        passed += row["test_full_farm_plan"] == "pass"
        if brief:
            print(f"seed {seed:>3}: " + "  ".join(f"{row[k]}" for k in BRIEF), flush=True)
            continue
        for key, value in row.items():
            print(f"{key:>32}: {value}")
        print()
    if brief:
        print(f"({', '.join(BRIEF[:-1])}); {passed} of {len(seeds)} seeds meet test_full_farm_plan's checks")
