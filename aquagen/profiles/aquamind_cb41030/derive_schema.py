"""How ``schemas/aquamind_cb41030.json`` and its choices are derived from the reference extracts
(``python3 -m aquagen.profiles.aquamind_cb41030.derive_schema REFERENCE_DIR``).

The profile's tables are the 103 main-scope tables of AquaMind at cb41030, plus the egg supplier
(and its history twin) from the broodstock app, which the creation workflows name, and the
harvest app's tables (``HARVEST_TABLES``, the same at 8f2ab39 and cb41030), the scenario app's
tables that a batch's baseline scenario fills (``SCENARIO_TABLES``) and the planning app's
(``PLANNING_TABLES``). Foreign keys into tables outside the profile (a finance transaction, an egg
production) cannot be created in a database that lacks those tables: the columns stay
(always NULL here) and the constraints move to ``external_foreign_keys``, where the schema check
ignores them. The history twin of ``batch_creationworkflow``, whose name breaks the usual pattern,
is paired explicitly.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

EXTRA_APP_TABLES = ("broodstock_eggsupplier", "broodstock_historicaleggsupplier")
HARVEST_TABLES = tuple(
    f"harvest_{h}{m}"
    for m in ("harvestevent", "harvestlot", "harvestwaste", "productgrade")
    for h in ("", "historical")
)
# the scenario app: models, temperature profiles, scenarios, their projection runs and rows (a model
# change and an FCR weight override stay outside: nothing writes them)
SCENARIO_TABLES = (
    "scenario",
    "scenario_biological_constraints",
    "scenario_fcrmodel",
    "scenario_fcrmodelstage",
    "scenario_mortality_model_stage",
    "scenario_mortalitymodel",
    "scenario_projection_run",
    "scenario_scenarioprojection",
    "scenario_stage_constraint",
    "scenario_temperatureprofile",
    "scenario_temperaturereading",
    "scenario_tgc_model_stage",
    "scenario_tgcmodel",
)
# the planning app: activity templates and the planned activities of each batch's scenario
PLANNING_TABLES = ("planning_activitytemplate", "planning_historicalplannedactivity", "planning_plannedactivity")
APP_TABLES = EXTRA_APP_TABLES + HARVEST_TABLES + SCENARIO_TABLES + PLANNING_TABLES
IRREGULAR_TWINS = {"batch_creationworkflow": "batch_historicalbatchcreationworkflow"}
# the names the application's migrations give its multi-column CHECKs (the extracts carry no names):
# infrastructure 0001_initial (feed container) and 0009 (container, with the transport carrier)
CHECK_NAMES = {
    "infrastructure_container": "container_in_hall_area_or_carrier",
    "infrastructure_feedcontainer": "feed_container_in_either_hall_or_area",
}


def derive(reference: Path) -> tuple[dict, dict]:
    """(schema, choices) of the profile from the reference folder."""
    head = json.loads((reference / "aquamind-schema-head.json").read_text())
    apps = json.loads((reference / "aquamind-schema-apps-head.json").read_text())
    tables = {**head, **{n: apps[n] for n in APP_TABLES}}
    for base, twin in IRREGULAR_TWINS.items():
        tables[base]["history_table"] = twin
        tables[twin]["history_of"] = base
    for t in tables.values():
        outside = [fk for fk in t["foreign_keys"] if fk["ref_table"] not in tables]
        if outside:
            t["foreign_keys"] = [fk for fk in t["foreign_keys"] if fk["ref_table"] in tables]
            t["external_foreign_keys"] = outside
    for name, check_name in CHECK_NAMES.items():
        (check,) = tables[name]["checks"]
        tables[name]["check_names"] = {check: check_name}
    choices = json.loads((reference / "aquamind-choices-head.json").read_text())
    app_choices = json.loads((reference / "aquamind-choices-apps-head.json").read_text())
    choices.update({n: app_choices[n] for n in APP_TABLES if n in app_choices})
    return dict(sorted(tables.items())), dict(sorted(choices.items()))


def main(reference: str) -> None:
    out = Path(__file__).resolve().parents[3] / "schemas"
    schema, choices = derive(Path(reference))
    (out / "aquamind_cb41030.json").write_text(json.dumps(schema, indent=1) + "\n")
    (out / "aquamind_cb41030.choices.json").write_text(json.dumps(choices, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/reference")
