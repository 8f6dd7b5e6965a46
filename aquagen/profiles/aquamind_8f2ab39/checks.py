"""The plan's counts and DESIGN.md's invariants for this profile's tables, as SQL that runs the
same on a snapshot (Polars' SQL engine) and on a database: each query returns one number,
expected to equal the plan's count or 0 violations. ``{as_of}`` stands for the as-of date."""

from __future__ import annotations

from ...model import domain as D
from ...model.health import EPISODE_TREATMENTS
from ...model.sites import SITES
from ...model.treatment import FASTS


def _count(table: str, where: str = "") -> str:
    return f"SELECT COUNT(*) FROM {table}" + (f" WHERE {where}" if where else "")


PHASE_COUNTS = [
    ("infrastructure", "geographies", _count("infrastructure_geography"), len(D.GEOGRAPHIES)),
    ("infrastructure", "freshwater stations", _count("infrastructure_freshwaterstation"), SITES.n_stations),
    ("infrastructure", "halls", _count("infrastructure_hall"), SITES.n_halls),
    (
        "infrastructure",
        "hall containers",
        _count("infrastructure_container", "hall_id IS NOT NULL"),
        SITES.n_hall_containers,
    ),
    ("infrastructure", "sea areas", _count("infrastructure_area"), SITES.n_areas),
    ("infrastructure", "sea rings", _count("infrastructure_container", "area_id IS NOT NULL"), SITES.n_rings),
    ("infrastructure", "feed containers", _count("infrastructure_feedcontainer"), SITES.n_feed_containers),
    ("infrastructure", "sensors", _count("infrastructure_sensor"), SITES.n_sensors),
    ("master data", "species", _count("batch_species"), 1),
    ("master data", "lifecycle stages", _count("batch_lifecyclestage"), 6),
    ("master data", "environmental parameters", _count("environmental_environmentalparameter"), 7),
    ("master data", "feeds", _count("inventory_feed"), 6),
    (
        "master data",
        "initial feed purchases",
        _count("inventory_feedpurchase", "notes = 'Initial stock'"),
        SITES.n_feed_containers,
    ),
    (
        "master data",
        "initial stock lots",
        "SELECT COUNT(*) FROM inventory_feedcontainerstock s JOIN inventory_feedpurchase p "
        "ON p.id = s.feed_purchase_id WHERE p.notes = 'Initial stock'",
        SITES.n_feed_containers,
    ),
    ("master data", "health parameters", _count("health_healthparameter"), 9),
    ("master data", "mortality reasons", _count("health_mortalityreason"), 7),
    ("master data", "sample types", _count("health_sampletype"), 5),
    ("master data", "vaccination types", _count("health_vaccinationtype"), 3),
    ("master data", "users", _count("auth_user", "username LIKE '%_01' OR username = 'system_admin'"), 4),
    (
        "master data",
        "user profiles",
        "SELECT COUNT(*) FROM users_userprofile p JOIN auth_user u ON u.id = p.user_id "
        "WHERE u.username LIKE '%_01' OR u.username = 'system_admin'",
        4,
    ),
]


BCA = "batch_batchcontainerassignment"
FAR = "DATE '9999-12-31'"
# the farm's last day: its daylight rows run to it (the as-of date of a snapshot, of a database's load)
_LAST_DAY = "(SELECT COALESCE(MAX(date), {as_of}) AS d FROM environmental_photoperioddata)"


def _outside(alias: str, day: str) -> str:
    """SQL: ``day`` lies outside the live window of assignment ``alias``."""
    return (
        f"({day} < {alias}.assignment_date OR ({alias}.departure_date IS NOT NULL AND {day} >= {alias}.departure_date))"
    )


INVARIANTS = [
    # 1. events inside a live assignment of the same batch and container
    (
        "1 live assignment",
        "readings without batch, container, sensor or assignment",
        "SELECT COUNT(*) FROM environmental_environmentalreading WHERE batch_id IS NULL OR container_id IS NULL "
        "OR sensor_id IS NULL OR batch_container_assignment_id IS NULL",
        0,
    ),
    (
        "1 live assignment",
        "readings outside their assignment",
        f"SELECT COUNT(*) FROM environmental_environmentalreading r JOIN {BCA} a ON a.id = r.batch_container_assignment_id "
        f"WHERE r.batch_id <> a.batch_id OR r.container_id <> a.container_id OR "
        + _outside("a", "CAST(r.reading_time AS DATE)"),
        0,
    ),
    (
        "1 live assignment",
        "readings whose assignment does not exist",
        f"SELECT COUNT(*) FROM environmental_environmentalreading r LEFT JOIN {BCA} a "
        "ON a.id = r.batch_container_assignment_id WHERE a.id IS NULL",
        0,
    ),
    (
        "1 live assignment",
        "readings whose sensor is not on their container",
        "SELECT COUNT(*) FROM environmental_environmentalreading r JOIN infrastructure_sensor s ON s.id = r.sensor_id "
        "WHERE s.container_id <> r.container_id",
        0,
    ),
    (
        "1 live assignment",
        "feedings outside their assignment",
        f"SELECT COUNT(*) FROM inventory_feedingevent f JOIN {BCA} a ON a.id = f.batch_assignment_id "
        f"WHERE f.batch_id <> a.batch_id OR f.container_id <> a.container_id OR " + _outside("a", "f.feeding_date"),
        0,
    ),
    (
        "1 live assignment",
        "feedings without assignment",
        "SELECT COUNT(*) FROM inventory_feedingevent WHERE batch_assignment_id IS NULL",
        0,
    ),
    (
        "1 live assignment",
        "growth samples outside their assignment",
        f"SELECT COUNT(*) FROM batch_growthsample g JOIN {BCA} a ON a.id = g.assignment_id WHERE "
        + _outside("a", "g.sample_date"),
        0,
    ),
    (
        "1 live assignment",
        "journal entries outside a live assignment",
        "SELECT (SELECT COUNT(*) FROM health_journalentry) - (SELECT COUNT(DISTINCT j.id) FROM health_journalentry j "
        f"JOIN {BCA} a ON a.batch_id = j.batch_id AND a.container_id = j.container_id WHERE NOT "
        + _outside("a", "CAST(j.entry_date AS DATE)")
        + ")",
        0,
    ),
    # 2. occupancy
    (
        "2 occupancy",
        "containers holding two assignments at once",
        f"SELECT COUNT(*) FROM {BCA} a1 JOIN {BCA} a2 ON a1.container_id = a2.container_id WHERE a1.id < a2.id "
        f"AND a1.assignment_date < COALESCE(a2.departure_date, {FAR}) "
        f"AND a2.assignment_date < COALESCE(a1.departure_date, {FAR})",
        0,
    ),
    (
        "2 occupancy",
        "halls or sea areas holding two batches at once",
        "SELECT COUNT(*) FROM (SELECT a.batch_id, COALESCE(c.hall_id, -c.area_id) AS site, MIN(a.assignment_date) AS s, "
        f"MAX(COALESCE(a.departure_date, {FAR})) AS e FROM {BCA} a JOIN infrastructure_container c ON c.id = a.container_id "
        "GROUP BY a.batch_id, COALESCE(c.hall_id, -c.area_id)) x JOIN (SELECT a.batch_id, COALESCE(c.hall_id, -c.area_id) "
        f"AS site, MIN(a.assignment_date) AS s, MAX(COALESCE(a.departure_date, {FAR})) AS e FROM {BCA} a "
        "JOIN infrastructure_container c ON c.id = a.container_id GROUP BY a.batch_id, COALESCE(c.hall_id, -c.area_id)) y "
        "ON x.site = y.site WHERE x.batch_id < y.batch_id AND x.s < y.e AND y.s < x.e",
        0,
    ),
    (
        "2 occupancy",
        "assignments (or their history rows) above their container's max_biomass_kg",
        f"SELECT (SELECT COUNT(*) FROM {BCA} a JOIN infrastructure_container c ON c.id = a.container_id "
        "WHERE a.biomass_kg > c.max_biomass_kg) + (SELECT COUNT(*) FROM batch_historicalbatchcontainerassignment h "
        "JOIN infrastructure_container c ON c.id = h.container_id WHERE h.biomass_kg > c.max_biomass_kg)",
        0,
    ),
    # 3. fish conserved
    (
        "3 conservation",
        "batches where eggs <> alive + deaths + transfer losses + harvested",
        "SELECT COUNT(*) FROM (SELECT e.batch_id, e.eggs, COALESCE(al.n, 0) + COALESCE(d.n, 0) + COALESCE(t.n, 0) "
        "+ COALESCE(h.n, 0) AS accounted FROM "
        f"(SELECT a.batch_id, SUM(hh.population_count) AS eggs FROM batch_historicalbatchcontainerassignment hh "
        f"JOIN {BCA} a ON a.id = hh.id JOIN batch_lifecyclestage s ON s.id = a.lifecycle_stage_id "
        "WHERE hh.history_type = '+' AND s.\"order\" = 1 GROUP BY a.batch_id) e "
        f"LEFT JOIN (SELECT batch_id, SUM(population_count) AS n FROM {BCA} WHERE is_active GROUP BY batch_id) al "
        "ON al.batch_id = e.batch_id "
        "LEFT JOIN (SELECT batch_id, SUM(count) AS n FROM batch_mortalityevent GROUP BY batch_id) d ON d.batch_id = e.batch_id "
        "LEFT JOIN (SELECT source_batch_id AS batch_id, SUM(mortality_count) AS n FROM batch_batchtransfer "
        "GROUP BY source_batch_id) t ON t.batch_id = e.batch_id "
        f"LEFT JOIN (SELECT a.batch_id, SUM(a.population_count) AS n FROM {BCA} a JOIN batch_lifecyclestage s "
        'ON s.id = a.lifecycle_stage_id WHERE NOT a.is_active AND s."order" = 6 GROUP BY a.batch_id) h '
        "ON h.batch_id = e.batch_id) x WHERE eggs <> accounted",
        0,
    ),
    (
        "3 conservation",
        "transfers where source count <> transferred + lost",
        "SELECT COUNT(*) FROM (SELECT source_assignment_id, MAX(source_count) AS sc, "
        "SUM(transferred_count + mortality_count) AS moved FROM batch_batchtransfer GROUP BY source_assignment_id) t "
        "WHERE sc <> moved",
        0,
    ),
    (
        "3 conservation",
        "transfers whose source assignment left with another count",
        f"SELECT COUNT(*) FROM batch_batchtransfer t JOIN {BCA} a ON a.id = t.source_assignment_id "
        "WHERE a.population_count <> t.source_count OR a.departure_date <> t.transfer_date",
        0,
    ),
    (
        "3 conservation",
        "transfers whose destination did not start with the fish moved",
        "SELECT COUNT(*) FROM batch_batchtransfer t JOIN batch_historicalbatchcontainerassignment h "
        "ON h.id = t.destination_assignment_id WHERE h.history_type = '+' AND (h.population_count <> t.transferred_count "
        "OR h.assignment_date <> t.transfer_date)",
        0,
    ),
    # 4. weight, biomass and population consistent
    (
        "4 biomass",
        "assignments where biomass <> population x weight",
        f"SELECT COUNT(*) FROM {BCA} WHERE ABS(biomass_kg - population_count * avg_weight_g / 1000) > 0.005",
        0,
    ),
    (
        "4 biomass",
        "assignment history rows where biomass <> population x weight",
        "SELECT COUNT(*) FROM batch_historicalbatchcontainerassignment "
        "WHERE ABS(biomass_kg - population_count * avg_weight_g / 1000) > 0.005",
        0,
    ),
    (
        "4 biomass",
        "feedings where percentage <> amount / biomass",
        "SELECT COUNT(*) FROM inventory_feedingevent WHERE feeding_percentage IS NULL OR "
        "ABS(feeding_percentage - amount_kg / batch_biomass_kg * 100) > 0.000001 + 0.00005 * 100 / batch_biomass_kg",
        0,
    ),
    (
        "4 biomass",
        "growth samples with min > avg, avg > max or a wrong condition factor",
        "SELECT COUNT(*) FROM batch_growthsample WHERE min_weight_g > avg_weight_g OR avg_weight_g > max_weight_g "
        "OR ABS(condition_factor - 100 * avg_weight_g / (avg_length_cm * avg_length_cm * avg_length_cm)) > 0.0051",
        0,
    ),
    (
        "4 biomass",
        "active assignments whose last weighing is not their latest sample",
        f"SELECT COUNT(*) FROM {BCA} a LEFT JOIN (SELECT assignment_id, MAX(sample_date) AS d FROM batch_growthsample "
        "GROUP BY assignment_id) g ON g.assignment_id = a.id WHERE COALESCE(a.last_weighing_date, DATE '1900-01-01') "
        "<> COALESCE(g.d, DATE '1900-01-01')",
        0,
    ),
    # 5. feed stock never negative, drawn only after delivery, conserved; summaries equal their children
    (
        "5 feed stock",
        "stock lots (or lot history rows) below zero",
        "SELECT (SELECT COUNT(*) FROM inventory_feedcontainerstock WHERE quantity_kg < 0) "
        "+ (SELECT COUNT(*) FROM inventory_historicalfeedcontainerstock WHERE quantity_kg < 0)",
        0,
    ),
    (
        "5 feed stock",
        "lot decrements before the lot's delivery",
        "SELECT COUNT(*) FROM inventory_historicalfeedcontainerstock WHERE history_type = '~' AND history_date < entry_date",
        0,
    ),
    (
        "5 feed stock",
        "feed drawn from a lot after its expiry date",
        "SELECT COUNT(*) FROM inventory_historicalfeedcontainerstock h JOIN inventory_feedpurchase p "
        "ON p.id = h.feed_purchase_id WHERE h.history_type = '~' AND CAST(h.history_date AS DATE) > p.expiry_date",
        0,
    ),
    (
        "5 feed stock",
        "lots still holding feed after their expiry date",  # written off at noon on it (model.inventory)
        "SELECT COUNT(*) FROM inventory_feedcontainerstock s JOIN inventory_feedpurchase p ON p.id = s.feed_purchase_id "
        f"CROSS JOIN {_LAST_DAY} f WHERE s.quantity_kg > 0 AND p.expiry_date <= LEAST({{last_full_day}}, f.d)",
        0,
    ),
    (
        "5 feed stock",
        "lots delivered before their purchase",
        "SELECT COUNT(*) FROM inventory_feedcontainerstock s JOIN inventory_feedpurchase p ON p.id = s.feed_purchase_id "
        "WHERE CAST(s.entry_date AS DATE) < p.purchase_date",
        0,
    ),
    (
        "5 feed stock",
        "lots holding more than their purchase",
        "SELECT COUNT(*) FROM inventory_historicalfeedcontainerstock h JOIN inventory_feedpurchase p "
        "ON p.id = h.feed_purchase_id WHERE h.quantity_kg > p.quantity_kg",
        0,
    ),
    (
        "5 feed stock",
        "(hall or sea area, feed) where delivered <> fed + remaining",
        "SELECT COUNT(*) FROM (SELECT COALESCE(fc.hall_id, -fc.area_id) AS site, p.feed_id, "
        "SUM(h.quantity_kg) AS bought, SUM(s.quantity_kg + COALESCE(w.kg, 0)) AS remaining, COUNT(*) AS lots "
        "FROM inventory_historicalfeedcontainerstock h JOIN inventory_feedcontainerstock s ON s.id = h.id "
        "JOIN infrastructure_feedcontainer fc ON fc.id = s.feed_container_id "
        "JOIN inventory_feedpurchase p ON p.id = s.feed_purchase_id "
        # a written-off lot: what it held before its write-off (its quantity only falls) less what
        # the write-off left (0, or what a purge gave back to it)
        "LEFT JOIN (SELECT id, MIN(CASE WHEN history_change_reason = 'Expired: written off' THEN NULL "
        "ELSE quantity_kg END) - MAX(CASE WHEN history_change_reason = 'Expired: written off' THEN quantity_kg "
        "END) AS kg FROM inventory_historicalfeedcontainerstock GROUP BY id "
        "HAVING MAX(CASE WHEN history_change_reason = 'Expired: written off' THEN 1 ELSE 0 END) = 1) w "
        "ON w.id = s.id WHERE h.history_type = '+' GROUP BY 1, 2) b "
        "LEFT JOIN (SELECT COALESCE(c.hall_id, -c.area_id) AS site, f.feed_id, SUM(f.amount_kg) AS fed "
        "FROM inventory_feedingevent f JOIN infrastructure_container c ON c.id = f.container_id GROUP BY 1, 2) e "
        "ON e.site = b.site AND e.feed_id = b.feed_id "
        "WHERE ABS(b.bought - COALESCE(e.fed, 0) - b.remaining) > 0.005 * b.lots + 0.0001",
        0,
    ),
    (
        "5 feed stock",
        "feeding events without a FIFO cost",
        "SELECT COUNT(*) FROM inventory_feedingevent WHERE feed_cost IS NULL",
        0,
    ),
    (
        "5 feed stock",
        "feeding events costing outside the prices of their site's lots of that feed",
        "SELECT COUNT(*) FROM inventory_feedingevent f JOIN infrastructure_container c ON c.id = f.container_id "
        "JOIN (SELECT COALESCE(fc.hall_id, -fc.area_id) AS site, p.feed_id, MIN(p.cost_per_kg) AS lo, "
        "MAX(p.cost_per_kg) AS hi FROM inventory_feedcontainerstock s JOIN infrastructure_feedcontainer fc "
        "ON fc.id = s.feed_container_id JOIN inventory_feedpurchase p ON p.id = s.feed_purchase_id GROUP BY 1, 2) l "
        "ON l.site = COALESCE(c.hall_id, -c.area_id) AND l.feed_id = f.feed_id "
        "WHERE f.feed_cost < f.amount_kg * l.lo - 0.005 OR f.feed_cost > f.amount_kg * l.hi + 0.005",
        0,
    ),
    (
        "5 summaries",
        "container summaries whose totals differ from their feeding events",
        # the periods join the feedings summed by assignment and day (exact decimal sums): fewer rows to
        # join by a range, and a hash join instead of an index scan of each assignment's feedings per period
        "SELECT COUNT(*) FROM inventory_containerfeedingsummary s LEFT JOIN (SELECT s2.id, SUM(f.kg) AS kg, "
        "SUM(f.n) AS n FROM inventory_containerfeedingsummary s2 JOIN (SELECT batch_assignment_id AS a, "
        "feeding_date AS d, SUM(amount_kg) AS kg, COUNT(*) AS n FROM inventory_feedingevent "
        "GROUP BY batch_assignment_id, feeding_date) f "
        "ON f.a = s2.container_assignment_id AND f.d >= s2.period_start AND f.d <= s2.period_end GROUP BY s2.id) e "
        "ON e.id = s.id "
        "WHERE e.id IS NULL OR ABS(s.total_feed_kg - e.kg) > 0.005 OR s.data_points <> e.n",
        0,
    ),
    (
        "5 summaries",
        "batch summaries whose totals differ from their feeding events",
        "SELECT COUNT(*) FROM inventory_batchfeedingsummary s LEFT JOIN (SELECT s2.id, SUM(f.kg) AS kg, "
        "COUNT(DISTINCT f.a) AS n FROM inventory_batchfeedingsummary s2 JOIN (SELECT batch_id AS b, "
        "batch_assignment_id AS a, feeding_date AS d, SUM(amount_kg) AS kg FROM inventory_feedingevent "
        "GROUP BY batch_id, batch_assignment_id, feeding_date) f "
        "ON f.b = s2.batch_id AND f.d >= s2.period_start AND f.d <= s2.period_end GROUP BY s2.id) e ON e.id = s.id WHERE e.id IS NULL OR ABS(s.total_feed_kg - e.kg) > 0.005 "
        "OR s.container_count <> e.n",
        0,
    ),
    (
        "5 summaries",
        "summaries with an FCR but no positive growth",
        "SELECT (SELECT COUNT(*) FROM inventory_containerfeedingsummary WHERE fcr IS NOT NULL AND NOT growth_kg > 0) "
        "+ (SELECT COUNT(*) FROM inventory_batchfeedingsummary WHERE fcr IS NOT NULL AND NOT total_growth_kg > 0)",
        0,
    ),
    (
        "5 summaries",
        "summaries dated after their period or after the as-of date",
        "SELECT (SELECT COUNT(*) FROM inventory_containerfeedingsummary WHERE CAST(created_at AS DATE) < period_end "
        "OR period_end > {as_of} OR period_start > period_end) + (SELECT COUNT(*) FROM inventory_batchfeedingsummary "
        "WHERE CAST(created_at AS DATE) < period_end OR period_end > {as_of} OR period_start > period_end)",
        0,
    ),
    # 6. nothing after the as-of date; COMPLETED only when harvested
    (
        "6 as-of",
        "event rows dated after the as-of date",
        "SELECT (SELECT COUNT(*) FROM environmental_environmentalreading WHERE CAST(reading_time AS DATE) > {as_of}) "
        "+ (SELECT COUNT(*) FROM inventory_feedingevent WHERE feeding_date > {as_of}) "
        "+ (SELECT COUNT(*) FROM batch_mortalityevent WHERE event_date > {as_of}) "
        "+ (SELECT COUNT(*) FROM batch_growthsample WHERE sample_date > {as_of}) "
        "+ (SELECT COUNT(*) FROM batch_batchtransfer WHERE transfer_date > {as_of}) "
        "+ (SELECT COUNT(*) FROM health_journalentry WHERE CAST(entry_date AS DATE) > {as_of}) "
        f"+ (SELECT COUNT(*) FROM {BCA} WHERE assignment_date > {{as_of}} OR departure_date > {{as_of}}) "
        "+ (SELECT COUNT(*) FROM batch_historicalbatchcontainerassignment WHERE CAST(history_date AS DATE) > {as_of}) "
        "+ (SELECT COUNT(*) FROM batch_batch WHERE start_date > {as_of} OR actual_end_date > {as_of})",
        0,
    ),
    (
        "6 as-of",
        "COMPLETED batches not fully harvested",
        f"SELECT COUNT(*) FROM batch_batch b LEFT JOIN (SELECT batch_id, COUNT(*) AS n FROM {BCA} WHERE is_active "
        "GROUP BY batch_id) a ON a.batch_id = b.id WHERE b.status = 'COMPLETED' AND (COALESCE(a.n, 0) > 0 "
        "OR b.actual_end_date IS NULL)",
        0,
    ),
    (
        "6 as-of",
        "ACTIVE batches without a live assignment or with an end date",
        f"SELECT COUNT(*) FROM batch_batch b LEFT JOIN (SELECT batch_id, COUNT(*) AS n FROM {BCA} WHERE is_active "
        "GROUP BY batch_id) a ON a.batch_id = b.id WHERE b.status = 'ACTIVE' AND (COALESCE(a.n, 0) = 0 "
        "OR b.actual_end_date IS NOT NULL)",
        0,
    ),
    # sensors calibrated when commissioned, then yearly (``aquagen.model.sensors.Calibrations``)
    (
        "sensors",
        "sensors calibrated before their installation or after the as-of date",
        "SELECT (SELECT COUNT(*) FROM infrastructure_sensor WHERE last_calibration_date < installation_date "
        "OR last_calibration_date > {as_of}) + (SELECT COUNT(*) FROM infrastructure_historicalsensor "
        "WHERE last_calibration_date < installation_date OR last_calibration_date > {as_of} "
        "OR last_calibration_date > CAST(history_date AS DATE))",
        0,
    ),
    (
        "sensors",
        "sensors installed over a year ago not calibrated in the last 366 days",
        # a year before the as-of date, or before the farm's last day when a database is older than it
        f"SELECT COUNT(*) FROM infrastructure_sensor s CROSS JOIN {_LAST_DAY} f "
        "WHERE s.installation_date < CAST({as_of} - INTERVAL '365 days' AS DATE) "
        "AND s.installation_date < CAST(f.d - INTERVAL '365 days' AS DATE) "
        "AND (s.last_calibration_date IS NULL OR (s.last_calibration_date < CAST({as_of} - INTERVAL '366 days' AS DATE) "
        "AND s.last_calibration_date < CAST(f.d - INTERVAL '366 days' AS DATE)))",
        0,
    ),
]


def _live(table: str, alias: str, day: str, container: str = "container_id") -> str:
    """SQL: rows of ``table`` with no assignment of their batch live in their container on ``day``."""
    return (
        f"SELECT (SELECT COUNT(*) FROM {table}) - (SELECT COUNT(DISTINCT {alias}.id) FROM {table} {alias} "
        f"JOIN {BCA} a ON a.batch_id = {alias}.batch_id AND a.container_id = {alias}.{container} WHERE NOT "
        + _outside("a", day)
        + ")"
    )


# issue 14: health records and harvest
HEALTH = [
    ("master data", "product grades", _count("harvest_productgrade"), 5),
    (
        "7 harvest",
        "harvested rings without a harvest event",
        # the ring empties with the day's moves (09:00), its harvest is recorded at 10:00: a ring of a
        # cut's own day may not have it yet
        f"SELECT COUNT(*) FROM {BCA} a JOIN batch_lifecyclestage s ON s.id = a.lifecycle_stage_id "
        "LEFT JOIN harvest_harvestevent e ON e.assignment_id = a.id "
        'WHERE s."order" = 6 AND NOT a.is_active AND e.id IS NULL AND a.departure_date <= {last_full_day}',
        0,
    ),
    (
        "7 harvest",
        "harvest events whose fish <> the population that left the ring",
        # a harvest's lots are graded that afternoon: an event of a cut's own day may not have them yet
        f"SELECT COUNT(*) FROM harvest_harvestevent e JOIN {BCA} a ON a.id = e.assignment_id "
        "LEFT JOIN (SELECT event_id, SUM(unit_count) AS n FROM harvest_harvestlot GROUP BY event_id) l "
        "ON l.event_id = e.id WHERE (COALESCE(l.n, -1) <> a.population_count "
        "AND CAST(e.event_date AS DATE) <= {last_full_day}) OR a.batch_id <> e.batch_id "
        "OR CAST(e.event_date AS DATE) <> a.departure_date",
        0,
    ),
    (
        "7 harvest",
        "harvest events whose live weight differs from the ring's biomass by more than 1 kg",
        f"SELECT COUNT(*) FROM harvest_harvestevent e JOIN {BCA} a ON a.id = e.assignment_id "
        "JOIN (SELECT event_id, SUM(live_weight_kg) AS kg FROM harvest_harvestlot GROUP BY event_id) l "
        "ON l.event_id = e.id WHERE ABS(l.kg - a.biomass_kg) > 1",
        0,
    ),
    (
        "7 harvest",
        "lots with gutted > live or fillet > gutted weight",
        "SELECT COUNT(*) FROM harvest_harvestlot WHERE gutted_weight_kg > live_weight_kg "
        "OR fillet_weight_kg > gutted_weight_kg",
        0,
    ),
    (
        "7 harvest",
        "harvest events without waste",
        "SELECT COUNT(*) FROM harvest_harvestevent e LEFT JOIN (SELECT event_id FROM harvest_harvestwaste) w "
        "ON w.event_id = e.id WHERE w.event_id IS NULL AND CAST(e.event_date AS DATE) <= {last_full_day}",
        0,
    ),
    (
        "7 harvest",
        "COMPLETED batches whose end date is not their last harvest",
        "SELECT COUNT(*) FROM batch_batch b LEFT JOIN (SELECT batch_id, MAX(CAST(event_date AS DATE)) AS d "
        "FROM harvest_harvestevent GROUP BY batch_id) e ON e.batch_id = b.id "
        "WHERE b.status = 'COMPLETED' AND (e.d IS NULL OR b.actual_end_date <> e.d)",
        0,
    ),
    (
        "7 mortality",
        "mortality records outside a live assignment of their batch and container",
        _live("health_mortalityrecord", "m", "CAST(m.event_date AS DATE)"),
        0,
    ),
    (
        "7 mortality",
        "(batch, day) where mortality records <> mortality events",
        "SELECT COUNT(*) FROM (SELECT batch_id, CAST(event_date AS DATE) AS d, SUM(count) AS n "
        "FROM health_mortalityrecord GROUP BY 1, 2) r FULL JOIN (SELECT batch_id, event_date AS d, SUM(count) AS n "
        "FROM batch_mortalityevent GROUP BY 1, 2) e ON e.batch_id = r.batch_id AND e.d = r.d "
        "WHERE r.n IS NULL OR e.n IS NULL OR r.n <> e.n",
        0,
    ),
    (
        "6 as-of",
        "health and harvest rows dated after the as-of date",
        "SELECT (SELECT COUNT(*) FROM health_mortalityrecord WHERE CAST(event_date AS DATE) > {as_of}) "
        "+ (SELECT COUNT(*) FROM harvest_harvestevent WHERE CAST(event_date AS DATE) > {as_of}) "
        "+ (SELECT COUNT(*) FROM harvest_harvestlot WHERE CAST(created_at AS DATE) > {as_of})",
        0,
    ),
]

_PHOTO = "environmental_photoperioddata"
ENVIRONMENT = [
    (
        "8 environment",
        "sea areas whose daylight does not run from the setup day to the last simulated day",
        f"SELECT COUNT(*) FROM infrastructure_area a LEFT JOIN (SELECT area_id, MIN(date) AS mn, MAX(date) AS mx "
        f"FROM {_PHOTO} GROUP BY area_id) p ON p.area_id = a.id WHERE p.mn IS NULL "
        "OR p.mn > (SELECT MIN(CAST(created_at AS DATE)) FROM infrastructure_area) "
        "OR p.mx < (SELECT MAX(CAST(history_date AS DATE)) FROM batch_historicalbatchcontainerassignment) "
        "OR p.mx > {as_of}",
        0,
    ),
    (
        "8 environment",
        "gaps in a sea area's daylight days",
        f"SELECT COUNT(*) FROM {_PHOTO} a LEFT JOIN {_PHOTO} b ON b.area_id = a.area_id "
        "AND b.date = CAST(a.date + INTERVAL '1 day' AS DATE) "
        f"WHERE b.id IS NULL AND a.date < (SELECT MAX(date) FROM {_PHOTO})",
        0,
    ),
    (
        "8 environment",
        "sea-area days with fewer than 8 weather observations",
        f'SELECT COUNT(*) FROM {_PHOTO} p LEFT JOIN (SELECT area_id, CAST("timestamp" AS DATE) AS d, COUNT(*) AS n '
        "FROM environmental_weatherdata GROUP BY 1, 2) w ON w.area_id = p.area_id AND w.d = p.date "
        "WHERE (w.n IS NULL OR w.n < 8) AND p.date <= {last_full_day}",  # a day cut part-way has fewer
        0,
    ),
    (
        "8 environment",
        "day lengths outside 0-24 h or light without daylight",
        f"SELECT COUNT(*) FROM {_PHOTO} WHERE day_length_hours < 0 OR day_length_hours > 24 OR light_intensity < 0",
        0,
    ),
    (
        "8 environment",
        "transfers without their stage-transition conditions",
        "SELECT COUNT(*) FROM batch_batchtransfer t LEFT JOIN environmental_stagetransitionenvironmental e "
        "ON e.batch_transfer_id = t.id WHERE e.id IS NULL",
        0,
    ),
    (
        "8 environment",
        "stage-transition temperatures off the destination's readings that day by > 1 °C",
        "SELECT COUNT(*) FROM environmental_stagetransitionenvironmental e JOIN batch_batchtransfer t "
        "ON t.id = e.batch_transfer_id JOIN (SELECT r.batch_container_assignment_id AS a, "
        "CAST(r.reading_time AS DATE) AS d, "
        "AVG(r.value) AS v FROM environmental_environmentalreading r JOIN environmental_environmentalparameter p "
        "ON p.id = r.parameter_id WHERE p.name = 'Temperature' GROUP BY 1, 2) r ON r.a = t.destination_assignment_id "
        "AND r.d = t.transfer_date WHERE ABS(e.temperature - r.v) > 1",
        0,
    ),
    (
        "6 as-of",
        "weather and daylight dated after the as-of date",
        'SELECT (SELECT COUNT(*) FROM environmental_weatherdata WHERE CAST("timestamp" AS DATE) > {as_of}) '
        f"+ (SELECT COUNT(*) FROM {_PHOTO} WHERE date > {{as_of}})",
        0,
    ),
]

_DELOUSING = "t.description LIKE '%sea lice%'"  # a delousing's description names the lice (profile health.py)
_HANDLED = "t.description LIKE '%starved%'"  # a delousing that handles the fish (not in-feed)
_JOURNAL_DAY = "CAST(j.entry_date AS DATE)"
# a disease treatment that stops feeding (a bath, a jellyfish bloom: ``treatment.FASTS``), by its
# name at the start of its description, and the days around it without feed
_UNFED = " OR ".join(
    f"(t.description LIKE '{EPISODE_TREATMENTS[kind][0]}%' AND ("
    + " OR ".join(
        f"f.feeding_date = CAST(t.treatment_date {'-' if k < 0 else '+'} INTERVAL '{abs(k)} day' AS DATE)"
        for k in range(*days)
    )
    + "))"
    for kind, days in FASTS.items()
)

LICE = [
    (
        "7 lice",
        "lice counts outside a live assignment of their batch and container",
        _live("health_licecount", "l", "CAST(l.count_date AS DATE)"),
        0,
    ),
    (
        "7 lice",
        "treatments on a container outside a live assignment of their batch there",
        "SELECT (SELECT COUNT(*) FROM health_treatment WHERE container_id IS NOT NULL) - (SELECT COUNT(DISTINCT t.id) "
        f"FROM health_treatment t JOIN {BCA} a ON a.id = t.batch_assignment_id AND a.batch_id = t.batch_id "
        "AND a.container_id = t.container_id WHERE NOT " + _outside("a", "CAST(t.treatment_date AS DATE)") + ")",
        0,
    ),
    (
        "7 lice",
        "treatments outside their batch's life",
        "SELECT COUNT(*) FROM health_treatment t JOIN batch_batch b ON b.id = t.batch_id "
        "WHERE CAST(t.treatment_date AS DATE) < b.start_date OR CAST(t.treatment_date AS DATE) > "
        "COALESCE(b.actual_end_date, {as_of})",
        0,
    ),
    (
        "7 lice",
        "delousings without a count above 0.5 adult females per fish the day before",
        "SELECT COUNT(*) FROM health_treatment t LEFT JOIN (SELECT batch_id, container_id, "
        "CAST(count_date + INTERVAL '1 day' AS DATE) AS d FROM health_licecount "
        "WHERE adult_female_count > 0.5 * fish_sampled) l ON l.container_id = t.container_id "
        "AND l.batch_id = t.batch_id AND l.d = CAST(t.treatment_date AS DATE) "
        f"WHERE {_DELOUSING} AND l.d IS NULL",
        0,
    ),
    (
        "7 lice",
        "batches at sea without exactly one vaccination",
        f"SELECT COUNT(*) FROM (SELECT DISTINCT a.batch_id FROM {BCA} a JOIN batch_lifecyclestage s "
        'ON s.id = a.lifecycle_stage_id WHERE s."order" = 6) b LEFT JOIN (SELECT batch_id, COUNT(*) AS n '
        "FROM health_treatment WHERE treatment_type = 'vaccination' GROUP BY batch_id) v ON v.batch_id = b.batch_id "
        "WHERE COALESCE(v.n, 0) <> 1",
        0,
    ),
    (
        "7 lice",
        # (a ring so small that no fish died that day has no record at all)
        "handled delousings whose ring's deaths that day are not recorded as Handling",
        "SELECT COUNT(*) FROM health_treatment t JOIN (SELECT r.batch_id, r.container_id, "
        "CAST(r.event_date AS DATE) AS d, MAX(CASE WHEN m.name = 'Handling' THEN 1 ELSE 0 END) AS handling "
        "FROM health_mortalityrecord r JOIN health_mortalityreason m ON m.id = r.reason_id GROUP BY 1, 2, 3) h "
        "ON h.batch_id = t.batch_id AND h.container_id = t.container_id AND h.d = CAST(t.treatment_date AS DATE) "
        f"WHERE {_HANDLED} AND h.handling = 0",
        0,
    ),
    (
        "7 lice",
        "feedings of a ring on the day of its handled delousing or the day after",
        "SELECT COUNT(*) FROM health_treatment t JOIN inventory_feedingevent f ON f.batch_id = t.batch_id "
        "AND f.container_id = t.container_id AND (f.feeding_date = CAST(t.treatment_date AS DATE) "
        f"OR f.feeding_date = CAST(t.treatment_date + INTERVAL '1 day' AS DATE)) WHERE {_HANDLED}",
        0,
    ),
    (
        "7 lice",
        "feedings of a ring the day before its freshwater bath or while a jellyfish bloom is treated",
        "SELECT COUNT(*) FROM health_treatment t JOIN inventory_feedingevent f ON f.batch_id = t.batch_id "
        f"AND f.container_id = t.container_id AND ({_UNFED})",
        0,
    ),
    (
        "7 lice",
        "container treatments without an issue, a diagnosis and a treatment entry in their container's journal",
        # the vet writes the treatment's entry later that day: a treatment of a cut's own day may not have it yet
        "SELECT COUNT(*) FROM health_treatment t LEFT JOIN (SELECT j.batch_id, j.container_id, "
        f"MIN(CASE WHEN j.category = 'issue' THEN {_JOURNAL_DAY} END) AS issue, "
        f"MAX(CASE WHEN j.category = 'diagnosis' THEN {_JOURNAL_DAY} END) AS diagnosis, "
        f"MAX(CASE WHEN j.category = 'treatment' THEN {_JOURNAL_DAY} END) AS treatment "
        "FROM health_journalentry j GROUP BY j.batch_id, j.container_id) j ON j.batch_id = t.batch_id "
        "AND j.container_id = t.container_id WHERE t.container_id IS NOT NULL AND (j.issue IS NULL "
        "OR j.issue > CAST(t.treatment_date AS DATE) OR j.diagnosis IS NULL OR j.treatment IS NULL "
        "OR j.treatment < CAST(t.treatment_date AS DATE)) AND CAST(t.treatment_date AS DATE) <= {last_full_day}",
        0,
    ),
    (
        "7 lice",
        "vaccinations not 6-8 weeks before the batch's first sea transfer",
        # the first sea transfer: the first day an assignment of the batch is at sea (a form both profiles share)
        f"SELECT COUNT(*) FROM health_treatment t JOIN (SELECT a.batch_id, MIN(a.assignment_date) AS d FROM {BCA} a "
        'JOIN batch_lifecyclestage s ON s.id = a.lifecycle_stage_id WHERE s."order" = 6 '
        "GROUP BY a.batch_id) sea ON sea.batch_id = t.batch_id WHERE t.treatment_type = 'vaccination' "
        "AND (CAST(t.treatment_date AS DATE) > CAST(sea.d - INTERVAL '42 days' AS DATE) "
        "OR CAST(t.treatment_date AS DATE) < CAST(sea.d - INTERVAL '56 days' AS DATE))",
        0,
    ),
    (
        "6 as-of",
        "lice counts and treatments dated after the as-of date",
        "SELECT (SELECT COUNT(*) FROM health_licecount WHERE CAST(count_date AS DATE) > {as_of}) "
        "+ (SELECT COUNT(*) FROM health_treatment WHERE CAST(treatment_date AS DATE) > {as_of})",
        0,
    ),
]

SAMPLING = [
    (
        "7 sampling",
        "health sampling events outside their assignment",
        f"SELECT COUNT(*) FROM health_healthsamplingevent e JOIN {BCA} a ON a.id = e.assignment_id WHERE "
        + _outside("a", "e.sampling_date"),
        0,
    ),
    (
        "7 sampling",
        "health sampling events whose aggregates differ from their fish",
        "SELECT COUNT(*) FROM health_healthsamplingevent e LEFT JOIN (SELECT sampling_event_id AS id, COUNT(*) AS n, "
        "AVG(weight_g) AS w, MIN(weight_g) AS wmin, MAX(weight_g) AS wmax, AVG(length_cm) AS l, "
        "AVG(100 * weight_g / (length_cm * length_cm * length_cm)) AS k FROM health_individualfishobservation "
        "GROUP BY sampling_event_id) o ON o.id = e.id WHERE o.id IS NULL OR e.number_of_fish_sampled <> o.n "
        "OR e.calculated_sample_size <> o.n OR ABS(e.avg_weight_g - o.w) > 0.0051 OR e.min_weight_g <> o.wmin "
        "OR e.max_weight_g <> o.wmax OR ABS(e.avg_length_cm - o.l) > 0.0051 OR ABS(e.avg_k_factor - o.k) > 0.0001",
        0,
    ),
    (
        "7 sampling",
        "sampled fish without a score on every health parameter",
        "SELECT COUNT(*) FROM health_individualfishobservation o LEFT JOIN (SELECT individual_fish_observation_id AS id, "
        "COUNT(*) AS n FROM health_fishparameterscore GROUP BY 1) s ON s.id = o.id "
        "WHERE COALESCE(s.n, 0) <> (SELECT COUNT(*) FROM health_healthparameter)",
        0,
    ),
    (
        "7 sampling",
        "lab samples outside their assignment or with results before sending",
        f"SELECT COUNT(*) FROM health_healthlabsample s JOIN {BCA} a ON a.id = s.batch_container_assignment_id WHERE "
        + _outside("a", "s.sample_date")
        + " OR s.date_sent_to_lab < s.sample_date "
        "OR s.date_results_received < s.date_sent_to_lab",
        0,
    ),
]
