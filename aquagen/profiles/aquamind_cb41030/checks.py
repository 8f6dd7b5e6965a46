"""The plan profile's counts and invariants for cb41030's tables: the same checks where the tables
are the same; conservation through transfer actions instead of ``batch_batchtransfer``; and the
invariants of what is new here (workflow totals, creation workflows, seeded master data, mortality
per assignment, placeholder assignments of batches not yet started); the plan's health, harvest,
environment, lice and sampling checks with lice counts by type and mortality records per assignment,
plus the growth samples' fish, area groups, carriers and operator scopes. ``{as_of}``: the as-of date."""

from __future__ import annotations

import re

from aquagen.model.sites import SITES
from aquagen.profiles.aquamind_8f2ab39 import checks as plan
from aquagen.profiles.aquamind_8f2ab39.checks import BCA, _count, _outside

from .health import COUNTED
from .masterdata import CARRIERS, HEALTH_PARAMETERS, LICE_TYPES, SCOPED_USERS

WF, ACT = "batch_batchtransferworkflow", "batch_transferaction"
CWF, CACT = "batch_creationworkflow", "batch_creationaction"
DS = "batch_actualdailyassignmentstate"
# assignments of batches that exist (not only planned): the plan's invariants hold for these
LIVE_BCA = (
    f"(SELECT a.* FROM {BCA} a JOIN batch_batch b ON b.id = a.batch_id "
    "WHERE b.status NOT IN ('PLANNED', 'RECEIVING', 'CANCELLED'))"
)
_SCOPED = ", ".join(f"'{u[0]}'" for u in SCOPED_USERS)

# the rows the migrations seed (they have no history rows in a migrated database)
SEEDED = {
    "health_healthparameter": "name IN (" + ", ".join(f"'{n}'" for n in HEALTH_PARAMETERS) + ")",
    "health_licetype": "CONCAT(species, '/', gender, '/', development_stage) IN ("
    + ", ".join(f"'{s}/{g}/{d}'" for s, g, d, _ in LICE_TYPES)
    + ")",
}

PHASE_COUNTS = [c for c in plan.PHASE_COUNTS if c[1] not in ("users", "user profiles")] + [
    (
        "master data",
        "users",
        _count("auth_user", f"username LIKE '%_01' OR username = 'system_admin' OR username IN ({_SCOPED})"),
        4 + len(SCOPED_USERS),
    ),
    (
        "master data",
        "user profiles scoped to one geography",
        f"SELECT COUNT(*) FROM users_userprofile p JOIN auth_user u ON u.id = p.user_id WHERE u.username IN ({_SCOPED}) "
        "AND p.geography IN ('FO', 'SC')",
        len(SCOPED_USERS),
    ),
    (
        "master data",
        "health parameters scored 0-3, 4 score definitions each",
        "SELECT COUNT(*) FROM health_healthparameter p JOIN (SELECT parameter_id, COUNT(*) AS n, MIN(score_value) AS lo, "
        "MAX(score_value) AS hi FROM health_parameterscoredefinition GROUP BY parameter_id) d ON d.parameter_id = p.id "
        "WHERE p.min_score = 0 AND p.max_score = 3 AND d.n = 4 AND d.lo = 0 AND d.hi = 3",
        9,
    ),
    ("master data", "lice types", _count("health_licetype"), len(LICE_TYPES)),
    (
        "master data",
        "holding containers",
        _count("infrastructure_container", "hierarchy_role = 'HOLDING'"),
        SITES.n_hall_containers + SITES.n_rings,
    ),
]

_EXCLUDED = {
    "batches where eggs <> alive + deaths + transfer losses + harvested",
    "transfers where source count <> transferred + lost",
    "transfers whose source assignment left with another count",
    "transfers whose destination did not start with the fish moved",
    "event rows dated after the as-of date",
    "containers holding two assignments at once",
}


# words that may follow a table named without an alias (a subquery in FROM needs one before PostgreSQL 16)
_CLAUSES = {"WHERE", "GROUP", "ORDER", "JOIN", "LEFT", "INNER", "CROSS", "ON", "LIMIT", "UNION", "HAVING", "WINDOW"}


def _live(sql: str) -> str:
    """A plan check over the assignments of started batches only (in one pass: the assignments of
    ``LIVE_BCA`` itself are not wrapped again, a second join of the batches to every row read)."""

    def wrapped(m: re.Match[str]) -> str:
        after = m[2] or ""  # the plan's alias, or the clause that follows a table named without one
        named = after.strip() and after.strip().upper() not in _CLAUSES
        return f"{m[1]} {LIVE_BCA}{after}" if named else f"{m[1]} {LIVE_BCA} {BCA}{after}"

    return re.sub(rf"\b(JOIN|FROM) {BCA}\b(\s+\w+)?", wrapped, sql)


INVARIANTS = [(g, n, _live(sql), e) for g, n, sql, e in plan.INVARIANTS if n not in _EXCLUDED] + [
    (
        "2 occupancy",
        "containers holding two assignments at once",
        f"SELECT COUNT(*) FROM {BCA} a1 JOIN {BCA} a2 ON a1.container_id = a2.container_id WHERE a1.id < a2.id "
        f"AND a1.assignment_date < COALESCE(a2.departure_date, {plan.FAR}) "
        f"AND a2.assignment_date < COALESCE(a1.departure_date, {plan.FAR})",
        0,
    ),
    (
        "3 conservation",
        "batches where eggs delivered <> alive + deaths + harvested",
        "SELECT COUNT(*) FROM (SELECT w.batch_id, w.total_eggs_received AS eggs, COALESCE(al.n, 0) + COALESCE(d.n, 0) "
        f"+ COALESCE(h.n, 0) AS accounted FROM {CWF} w "
        f"LEFT JOIN (SELECT batch_id, SUM(population_count) AS n FROM {BCA} WHERE is_active GROUP BY batch_id) al "
        "ON al.batch_id = w.batch_id "
        "LEFT JOIN (SELECT batch_id, SUM(count) AS n FROM batch_mortalityevent GROUP BY batch_id) d "
        "ON d.batch_id = w.batch_id "
        f"LEFT JOIN (SELECT a.batch_id, SUM(a.population_count) AS n FROM {BCA} a JOIN batch_lifecyclestage s "
        'ON s.id = a.lifecycle_stage_id WHERE NOT a.is_active AND s."order" = 6 GROUP BY a.batch_id) h '
        "ON h.batch_id = w.batch_id WHERE w.status = 'COMPLETED') x WHERE eggs <> accounted",
        0,
    ),
    (
        "3 conservation",
        "sources where population before <> transferred + lost (completed actions)",
        f"SELECT COUNT(*) FROM (SELECT source_assignment_id, MAX(source_population_before) AS sc, "
        f"SUM(transferred_count + mortality_during_transfer) AS moved FROM {ACT} WHERE status = 'COMPLETED' "
        "GROUP BY source_assignment_id) t JOIN " + BCA + " a ON a.id = t.source_assignment_id "
        "WHERE a.departure_date IS NOT NULL AND sc <> moved",
        0,
    ),
    (
        "3 conservation",
        "completed actions whose source left with another count or on another day",
        f"SELECT COUNT(*) FROM {ACT} t JOIN {BCA} a ON a.id = t.source_assignment_id JOIN (SELECT source_assignment_id, "
        f"MAX(source_population_before) AS before FROM {ACT} GROUP BY 1) m "
        "ON m.source_assignment_id = t.source_assignment_id WHERE t.status = 'COMPLETED' "
        "AND (a.departure_date <> t.actual_execution_date OR a.population_count <> m.before)",
        0,
    ),
    (
        "3 conservation",
        "completed actions whose destination did not start with the fish moved",
        f"SELECT COUNT(*) FROM {ACT} t JOIN batch_historicalbatchcontainerassignment h ON h.id = t.dest_assignment_id "
        "WHERE t.status = 'COMPLETED' AND h.history_type = '+' AND (h.population_count <> t.transferred_count "
        "OR h.assignment_date <> t.actual_execution_date)",
        0,
    ),
    (
        "3 conservation",
        "transfer losses without their HANDLING mortality event",
        f"SELECT COUNT(*) FROM (SELECT source_assignment_id AS a, actual_execution_date AS d, "
        f"SUM(mortality_during_transfer) AS n FROM {ACT} WHERE status = 'COMPLETED' GROUP BY 1, 2) t "
        "LEFT JOIN (SELECT assignment_id AS a, event_date AS d, SUM(count) AS n FROM batch_mortalityevent "
        "WHERE cause = 'HANDLING' GROUP BY 1, 2) m ON m.a = t.a AND m.d = t.d WHERE COALESCE(m.n, 0) <> t.n",
        0,
    ),
    (
        "3 conservation",
        "mortality events without an assignment of their batch",
        f"SELECT COUNT(*) FROM batch_mortalityevent m LEFT JOIN {BCA} a ON a.id = m.assignment_id "
        "WHERE a.id IS NULL OR a.batch_id <> m.batch_id",
        0,
    ),
    (
        "3 conservation",
        "mortality events outside their assignment's stay",
        f"SELECT COUNT(*) FROM batch_mortalityevent m JOIN {BCA} a ON a.id = m.assignment_id WHERE m.event_date < "
        "a.assignment_date OR (a.departure_date IS NOT NULL AND m.event_date > a.departure_date)",
        0,
    ),
    # transfer workflows: totals are the sums of their actions
    (
        "7 workflows",
        "transfer workflows whose totals differ from their actions",
        f"SELECT COUNT(*) FROM {WF} w JOIN (SELECT workflow_id, COUNT(*) AS n, "
        "SUM(CASE WHEN status IN ('COMPLETED', 'SKIPPED') THEN 1 ELSE 0 END) AS done, "
        "SUM(source_population_before) AS src, "
        "SUM(CASE WHEN status = 'COMPLETED' THEN transferred_count ELSE 0 END) AS moved, "
        "SUM(CASE WHEN status = 'COMPLETED' THEN mortality_during_transfer ELSE 0 END) AS lost, "
        "SUM(CASE WHEN status = 'COMPLETED' THEN transferred_biomass_kg ELSE 0 END) AS kg "
        f"FROM {ACT} GROUP BY workflow_id) a ON a.workflow_id = w.id WHERE w.total_actions_planned <> a.n "
        "OR w.actions_completed <> a.done OR w.total_source_count <> a.src OR w.total_transferred_count <> a.moved "
        "OR w.total_mortality_count <> a.lost OR ABS(w.total_biomass_kg - a.kg) > 0.005 "
        "OR ABS(w.completion_percentage - 100.0 * a.done / a.n) > 0.005",
        0,
    ),
    (
        "7 workflows",
        "transfer workflows whose status disagrees with their actions",
        f"SELECT COUNT(*) FROM {WF} WHERE (status = 'COMPLETED') <> (actions_completed = total_actions_planned) "
        "OR (status = 'PLANNED') <> (actions_completed = 0) OR (status = 'COMPLETED') <> (actual_completion_date IS "
        "NOT NULL) OR (status = 'COMPLETED' AND completed_by_id IS NULL) OR initiated_by_id IS NULL",
        0,
    ),
    (
        "7 workflows",
        "transfer workflows per batch other than one per stage transition",
        f"SELECT COUNT(*) FROM (SELECT batch_id, source_lifecycle_stage_id FROM {WF} GROUP BY 1, 2 "
        "HAVING COUNT(*) > 1) x",
        0,
    ),
    (
        "7 workflows",
        "intercompany flag other than exactly on the freshwater -> sea transfer",
        f"SELECT COUNT(*) FROM {WF} w JOIN batch_lifecyclestage s ON s.id = w.dest_lifecycle_stage_id "
        'WHERE w.is_intercompany <> (s."order" = 6)',
        0,
    ),
    (
        "7 workflows",
        "completed actions without destination assignment in their container and stage",
        f"SELECT COUNT(*) FROM {ACT} t JOIN {WF} w ON w.id = t.workflow_id "
        f"LEFT JOIN {BCA} a ON a.id = t.dest_assignment_id "
        "WHERE t.status = 'COMPLETED' AND (a.id IS NULL OR a.container_id <> t.dest_container_id "
        "OR a.lifecycle_stage_id <> w.dest_lifecycle_stage_id OR a.batch_id <> w.batch_id)",
        0,
    ),
    (
        "7 workflows",
        "stage transitions without their water values",
        f"SELECT COUNT(*) FROM {WF} w LEFT JOIN environmental_stagetransitionenvironmental e "
        "ON e.batch_transfer_workflow_id = w.id WHERE w.status <> 'PLANNED' "
        "AND (e.id IS NULL OR e.temperature IS NULL)",
        0,
    ),
    # creation workflows
    (
        "7 workflows",
        "batches without exactly one creation workflow",
        f"SELECT COUNT(*) FROM batch_batch b LEFT JOIN (SELECT batch_id, COUNT(*) AS n FROM {CWF} GROUP BY 1) w "
        "ON w.batch_id = b.id WHERE COALESCE(w.n, 0) <> 1",
        0,
    ),
    (
        "7 workflows",
        "creation workflows whose totals differ from their actions",
        f"SELECT COUNT(*) FROM {CWF} w JOIN (SELECT workflow_id, COUNT(*) AS n, "
        "SUM(CASE WHEN status = 'COMPLETED' THEN 1 ELSE 0 END) AS done, SUM(egg_count_planned) AS planned, "
        "SUM(COALESCE(egg_count_actual, 0)) AS got, SUM(mortality_on_arrival) AS doa "
        f"FROM {CACT} GROUP BY workflow_id) a ON a.workflow_id = w.id WHERE w.total_actions <> a.n "
        "OR w.actions_completed <> a.done OR w.total_eggs_planned <> a.planned OR w.total_eggs_received <> a.got "
        "OR w.total_mortality_on_arrival <> a.doa OR ABS(w.progress_percentage - 100.0 * a.done / a.n) > 0.005",
        0,
    ),
    (
        "7 workflows",
        "delivered trays whose first population is not the eggs received",
        f"SELECT COUNT(*) FROM {CACT} c JOIN (SELECT h.id, h.population_count FROM "
        "batch_historicalbatchcontainerassignment h JOIN (SELECT id, MIN(history_date) AS d FROM "
        "batch_historicalbatchcontainerassignment WHERE history_type = '~' GROUP BY id) f ON f.id = h.id "
        "AND f.d = h.history_date) first ON first.id = c.dest_assignment_id WHERE c.status = 'COMPLETED' AND "
        "(c.egg_count_actual <> c.egg_count_planned - c.mortality_on_arrival "
        "OR c.egg_count_actual <> first.population_count)",
        0,
    ),
    (
        "7 workflows",
        "batch status other than its creation workflow's (PLANNED / ACTIVE or COMPLETED)",
        f"SELECT COUNT(*) FROM batch_batch b JOIN {CWF} w ON w.batch_id = b.id WHERE (w.status = 'PLANNED') "
        "<> (b.status = 'PLANNED') OR (w.status = 'COMPLETED') <> (b.status IN ('ACTIVE', 'COMPLETED'))",
        0,
    ),
    (
        "7 workflows",
        "creation workflows without an external supplier",
        f"SELECT COUNT(*) FROM {CWF} WHERE egg_source_type <> 'EXTERNAL' OR external_supplier_id IS NULL",
        0,
    ),
    (
        "7 workflows",
        "planned batches' assignments that are not empty placeholders",
        f"SELECT COUNT(*) FROM {BCA} a JOIN batch_batch b ON b.id = a.batch_id WHERE b.status = 'PLANNED' "
        "AND (a.population_count <> 0 OR a.is_active)",
        0,
    ),
    # daily assignment states
    (
        "8 daily states",
        "daily states outside their assignment's live days or of another batch or container",
        f"SELECT COUNT(*) FROM {DS} s JOIN {BCA} a ON a.id = s.assignment_id WHERE s.batch_id <> a.batch_id "
        "OR s.container_id <> a.container_id OR " + _outside("a", "s.date") + " OR s.date > {as_of}",
        0,
    ),
    (
        "8 daily states",
        "assignments whose daily states have gaps or do not start on arrival",
        f"SELECT COUNT(*) FROM (SELECT assignment_id, COUNT(*) AS n, MIN(day_number) AS lo, MAX(day_number) AS hi, "
        f"MIN(date) AS first FROM {DS} GROUP BY assignment_id) s JOIN {BCA} a ON a.id = s.assignment_id "
        "WHERE s.n <> s.hi - s.lo + 1 OR s.first <> a.assignment_date",
        0,
    ),
    (
        "8 daily states",
        "live assignments of started batches without daily states",
        f"SELECT COUNT(*) FROM {LIVE_BCA} a LEFT JOIN (SELECT assignment_id FROM {DS}) s "
        "ON s.assignment_id = a.id WHERE s.assignment_id IS NULL AND (a.departure_date IS NULL "
        "OR a.departure_date > a.assignment_date) "
        "AND a.assignment_date <= {last_full_day}",  # a day's states are computed at its end
        0,
    ),
    (
        "8 daily states",
        "days whose population <> the previous day's - mortality",
        f"SELECT COUNT(*) FROM {DS} s JOIN {DS} p ON p.assignment_id = s.assignment_id "
        "AND p.day_number = s.day_number - 1 WHERE s.population <> p.population - s.mortality_count",
        0,
    ),
    (
        "8 daily states",
        "days whose mortality differs from the assignment's mortality events",
        f"SELECT COUNT(*) FROM {DS} s LEFT JOIN (SELECT assignment_id, event_date, SUM(count) AS n FROM "
        "batch_mortalityevent GROUP BY 1, 2) m ON m.assignment_id = s.assignment_id AND m.event_date = s.date "
        "WHERE s.mortality_count <> COALESCE(m.n, 0)",
        0,
    ),
    (
        "8 daily states",
        "days whose biomass <> population x weight",
        f"SELECT COUNT(*) FROM {DS} WHERE ABS(biomass_kg - population * avg_weight_g / 1000) "
        "> population * 0.005 / 1000 + 0.01",
        0,
    ),
    (
        "8 daily states",
        "growth-sample anchors whose weight is not the sample's",
        f"SELECT COUNT(*) FROM {DS} s LEFT JOIN batch_growthsample g ON g.assignment_id = s.assignment_id "
        "AND g.sample_date = s.date WHERE s.anchor_type = 'growth_sample' AND (g.id IS NULL "
        "OR ABS(g.avg_weight_g - s.avg_weight_g) > 0.005)",
        0,
    ),
    (
        "8 daily states",
        "growth samples without their anchor",
        f"SELECT COUNT(*) FROM batch_growthsample g LEFT JOIN {DS} s ON s.assignment_id = g.assignment_id "
        "AND s.date = g.sample_date WHERE (s.anchor_type IS NULL OR s.anchor_type <> 'growth_sample') "
        "AND g.sample_date <= {last_full_day}",  # a day's states are computed at its end
        0,
    ),
    (
        "8 daily states",
        "days whose feed differs from the container's feeding events",
        f"SELECT COUNT(*) FROM {DS} s LEFT JOIN (SELECT container_id, feeding_date, SUM(amount_kg) AS kg FROM "
        "inventory_feedingevent GROUP BY 1, 2) f ON f.container_id = s.container_id AND f.feeding_date = s.date "
        "WHERE ABS(s.feed_kg - COALESCE(f.kg, 0)) > 0.005",
        0,
    ),
    # as-of, over what exists (planned batches are dated at their planned start)
    (
        "6 as-of",
        "event rows dated after the as-of date",
        "SELECT (SELECT COUNT(*) FROM environmental_environmentalreading WHERE CAST(reading_time AS DATE) > {as_of}) "
        "+ (SELECT COUNT(*) FROM inventory_feedingevent WHERE feeding_date > {as_of}) "
        "+ (SELECT COUNT(*) FROM batch_mortalityevent WHERE event_date > {as_of}) "
        "+ (SELECT COUNT(*) FROM batch_growthsample WHERE sample_date > {as_of}) "
        f"+ (SELECT COUNT(*) FROM {ACT} WHERE actual_execution_date > {{as_of}}) "
        f"+ (SELECT COUNT(*) FROM {CACT} WHERE actual_delivery_date > {{as_of}}) "
        "+ (SELECT COUNT(*) FROM health_journalentry WHERE CAST(entry_date AS DATE) > {as_of}) "
        f"+ (SELECT COUNT(*) FROM {LIVE_BCA} x WHERE assignment_date > {{as_of}} OR departure_date > {{as_of}}) "
        "+ (SELECT COUNT(*) FROM batch_historicalbatchcontainerassignment WHERE CAST(history_date AS DATE) > {as_of}) "
        "+ (SELECT COUNT(*) FROM batch_batch WHERE (start_date > {as_of} AND status <> 'PLANNED') "
        "OR actual_end_date > {as_of})",
        0,
    ),
]


# --- health, harvest, environment, lice and sampling (the plan's, adapted to this schema) ---
_REPLACED = {
    "(batch, day) where mortality records <> mortality events",  # events include the transfer losses here
    "transfers without their stage-transition conditions",  # the workflows' checks above
    "stage-transition temperatures off the destination's readings that day by > 1 °C",
    "delousings without a count above 0.5 adult females per fish the day before",  # counts by type here
}
_ADULT_FEMALES = (
    "SELECT l.batch_id, l.container_id, l.count_date, l.count_value, l.fish_sampled FROM health_licecount l "
    "JOIN health_licetype t ON t.id = l.lice_type_id WHERE t.species = '{}' AND t.gender = '{}' "
    "AND t.development_stage = '{}'".format(*COUNTED[0][1])
)
_OPERATORS = ", ".join(f"'{u[0]}'" for u in SCOPED_USERS if u[3] == "OPR")
_SCOPES = (
    "SELECT userprofile_id AS p FROM users_userprofile_allowed_areas UNION ALL SELECT userprofile_id "
    "FROM users_userprofile_allowed_stations UNION ALL SELECT userprofile_id FROM users_userprofile_allowed_containers"
)
RECORDS = [
    (g, n, sql, e) for g, n, sql, e in plan.HEALTH + plan.ENVIRONMENT + plan.LICE + plan.SAMPLING if n not in _REPLACED
] + [
    (
        "7 mortality",
        "(assignment, day) where mortality records <> mortality events less transfer losses",
        "SELECT COUNT(*) FROM (SELECT assignment_id AS a, CAST(event_date AS DATE) AS d, SUM(count) AS n "
        "FROM health_mortalityrecord GROUP BY 1, 2) r FULL JOIN (SELECT m.a, m.d, m.n - COALESCE(t.n, 0) AS n FROM "
        "(SELECT assignment_id AS a, event_date AS d, SUM(count) AS n FROM batch_mortalityevent GROUP BY 1, 2) m "
        f"LEFT JOIN (SELECT source_assignment_id AS a, actual_execution_date AS d, SUM(mortality_during_transfer) AS n "
        f"FROM {ACT} WHERE status = 'COMPLETED' GROUP BY 1, 2) t ON t.a = m.a AND t.d = m.d "
        "WHERE m.n - COALESCE(t.n, 0) > 0) e ON e.a = r.a AND e.d = r.d WHERE r.n IS NULL OR e.n IS NULL OR r.n <> e.n",
        0,
    ),
    (
        "7 mortality",
        # the ring's loss is most of its deaths that day, whatever the batch's other rings make the day's cause
        "handled delousings whose ring's mortality event that day is not HANDLING",
        "SELECT COUNT(*) FROM health_treatment t JOIN batch_mortalityevent e ON e.assignment_id = "
        "t.batch_assignment_id AND CAST(e.event_date AS DATE) = CAST(t.treatment_date AS DATE) "
        f"WHERE {plan._HANDLED} AND e.cause <> 'HANDLING'",
        0,
    ),
    (
        "7 mortality",
        "mortality records without an assignment of their batch and container",
        f"SELECT COUNT(*) FROM health_mortalityrecord m LEFT JOIN {BCA} a ON a.id = m.assignment_id "
        "WHERE a.id IS NULL OR a.batch_id <> m.batch_id OR a.container_id <> m.container_id",
        0,
    ),
    (
        "7 lice",
        "lice counts not in the per-type form (type and value, legacy counts 0, manual, an assignment there)",
        f"SELECT COUNT(*) FROM health_licecount l LEFT JOIN {BCA} a ON a.id = l.assignment_id "
        "WHERE l.lice_type_id IS NULL OR l.count_value IS NULL OR l.adult_female_count + l.adult_male_count "
        "+ l.juvenile_count <> 0 OR l.detection_method IS NULL OR l.confidence_level NOT BETWEEN 0 AND 1 "
        "OR a.id IS NULL OR a.batch_id <> l.batch_id OR a.container_id <> l.container_id",
        0,
    ),
    (
        "7 lice",
        f"weekly counts without exactly one row of each of the {len(COUNTED)} lice types counted",
        "SELECT COUNT(*) FROM (SELECT assignment_id, count_date, COUNT(*) AS n, COUNT(DISTINCT lice_type_id) AS k "
        f"FROM health_licecount GROUP BY 1, 2) c WHERE n <> {len(COUNTED)} OR k <> {len(COUNTED)}",
        0,
    ),
    (
        "7 lice",
        "delousings without a count above 0.5 adult females per fish the day before",
        "SELECT COUNT(*) FROM health_treatment t LEFT JOIN (SELECT batch_id, container_id, "
        f"CAST(count_date + INTERVAL '1 day' AS DATE) AS d FROM ({_ADULT_FEMALES}) af "
        "WHERE count_value > 0.5 * fish_sampled) l ON l.container_id = t.container_id "
        "AND l.batch_id = t.batch_id AND l.d = CAST(t.treatment_date AS DATE) "
        f"WHERE {plan._DELOUSING} AND l.d IS NULL",
        0,
    ),
    (
        "7 sampling",
        "health scores outside their parameter's min-max",
        "SELECT COUNT(*) FROM health_fishparameterscore s JOIN health_healthparameter p ON p.id = s.parameter_id "
        "WHERE s.score < p.min_score OR s.score > p.max_score",
        0,
    ),
    (
        "7 sampling",
        "growth samples whose fish differ from the sample (count, mean within 0.01 g, min, max)",
        "SELECT COUNT(*) FROM batch_growthsample g LEFT JOIN (SELECT growth_sample_id AS id, COUNT(*) AS n, "
        "AVG(weight_g) AS w, MIN(weight_g) AS lo, MAX(weight_g) AS hi, AVG(length_cm) AS l "
        "FROM batch_individualgrowthobservation GROUP BY 1) o ON o.id = g.id WHERE o.id IS NULL "
        "OR o.n <> g.sample_size OR ABS(o.w - g.avg_weight_g) > 0.0101 OR o.lo <> g.min_weight_g "
        "OR o.hi <> g.max_weight_g OR ABS(o.l - g.avg_length_cm) > 0.0101",
        0,
    ),
    (
        "master data",
        "sea areas outside a leaf group of their geography",
        "SELECT COUNT(*) FROM infrastructure_area a LEFT JOIN infrastructure_areagroup g ON g.id = a.area_group_id "
        "LEFT JOIN infrastructure_areagroup r ON r.id = g.parent_id WHERE g.id IS NULL OR r.id IS NULL "
        "OR g.geography_id <> a.geography_id OR r.geography_id <> a.geography_id",
        0,
    ),
    (
        "master data",
        "transport carriers (well boats and smolt trucks)",
        _count("infrastructure_transportcarrier"),
        sum(len(c) for c in CARRIERS.values()),
    ),
    (
        "master data",
        "scoped operators without a place to work, or places outside their geography",
        f"SELECT (SELECT COUNT(*) FROM users_userprofile p JOIN auth_user u ON u.id = p.user_id WHERE u.username IN "
        f"({_OPERATORS}) AND p.id NOT IN ({_SCOPES})) + (SELECT COUNT(*) FROM users_userprofile_allowed_areas x "
        "JOIN users_userprofile p ON p.id = x.userprofile_id JOIN infrastructure_area a ON a.id = x.area_id "
        "JOIN infrastructure_geography g ON g.id = a.geography_id WHERE p.geography <> CASE g.name "
        "WHEN 'Scotland' THEN 'SC' ELSE 'FO' END) + (SELECT COUNT(*) FROM users_userprofile_allowed_stations x "
        "JOIN users_userprofile p ON p.id = x.userprofile_id JOIN infrastructure_freshwaterstation s "
        "ON s.id = x.freshwaterstation_id JOIN infrastructure_geography g ON g.id = s.geography_id "
        "WHERE p.geography <> CASE g.name WHEN 'Scotland' THEN 'SC' ELSE 'FO' END)",
        0,
    ),
]
