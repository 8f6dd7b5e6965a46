"""The health journal: about one entry a month, texts by category and place."""

from __future__ import annotations

import numpy as np
import polars as pl

from .domain import JOURNAL_CATEGORIES, SEVERITIES
from .events import datetimes
from .layout import Layout
from .timeline import ADULT, US_PER_DAY

# category -> (egg trays, freshwater tanks, sea rings) -> descriptions
_VACCINATION_TEXT = (
    "Vaccinated by injection (multivalent, oil-adjuvanted).",
    "IPN vaccination completed.",
    "Vaccination completed; fish recovering well.",
    "Injection sites checked: reactions minimal.",
)
_JOURNAL_TEXT = {
    "observation": (
        (
            "Eggs and alevins developing normally; dead eggs picked.",
            "Hatching progressing evenly across the tray.",
            "Yolk sacs well absorbed; first feeding expected soon.",
            "Water flow through the tray checked; no fungus seen.",
        ),
        (
            "Routine health check: fish active, good appetite, no abnormal behaviour.",
            "Fins and skin in good condition on visual inspection.",
            "Some size variation noted; grading not yet needed.",
            "Even distribution in the tank, water flow normal.",
        ),
        (
            "Routine pen inspection: fish schooling normally, good appetite.",
            "Net and mooring check done; fish behaviour normal.",
            "Jellyfish seen near the pen; no reaction from the fish.",
            "Sea lice count well below the treatment threshold.",
        ),
    ),
    "issue": (
        (
            "Fungus on some dead eggs; picking frequency increased.",
            "Uneven hatching in the tray.",
            "Some alevins with yolk-sac oedema.",
            "Flow disturbance in the tray; restored.",
        ),
        (
            "Slightly raised mortality; fungal growth seen on a few fish.",
            "Reduced feeding response for two days.",
            "CO2 reading above normal; aeration checked.",
            "Some fin erosion observed.",
        ),
        (
            "Sea lice count approaching the treatment threshold.",
            "Reduced appetite after a storm.",
            "Gill score slightly raised; AGD suspected.",
            "Seal activity near the pen; predator net checked.",
        ),
    ),
    "action": (
        (
            "Dead eggs picked and counted.",
            "Tray cleaned and flow adjusted.",
            "Eyed eggs shocked and sorted.",
            "Hatching substrate checked.",
        ),
        (
            "Tank cleaned and water flow adjusted.",
            "Fish graded; ration adjusted to the new size.",
            "Feeding rate adjusted to appetite.",
            "Oxygen diffuser replaced.",
        ),
        (
            "Cleaner fish stocked in the pen.",
            "Nets cleaned.",
            "Feeding reduced during the warm period.",
            "Predator net tensioned.",
        ),
    ),
    "diagnosis": (
        (
            "Saprolegnia confirmed on dead eggs.",
            "Egg samples negative for IPN.",
            "Egg mortality within the normal range for the stage.",
            "No pathogens detected in alevin samples.",
        ),
        (
            "Saprolegnia confirmed on a few fish.",
            "Gill samples clear of pathogens.",
            "Mild nephrocalcinosis in kidney samples.",
            "No pathogens detected in lab screening.",
        ),
        (
            "AGD score 1 in gill samples.",
            "Mild winter ulcer confirmed.",
            "Sea lice mostly at chalimus stage.",
            "Gill histology normal.",
        ),
    ),
    "treatment": (
        (
            "Bronopol treatment against egg fungus.",
            "Formalin treatment of the tray against fungus.",
            "Flow increased through the tray as a precaution.",
            "Iodophor disinfection of newly arrived eggs.",
        ),
        (
            "Salt bath against fungal infection.",
            "Bath treatment against ectoparasites.",
            "Medicated feed started on veterinary advice.",
            "Flow increased and salt added as a precaution.",
        ),
        (
            "Freshwater bath against AGD.",
            "Thermal delousing.",
            "Hydrogen peroxide bath against sea lice.",
            "Mechanical delousing.",
        ),
    ),
    "vaccination": (_VACCINATION_TEXT,) * 3,  # only written for parr and smolt
    "sample": (
        (
            "Eggs sampled for fertilisation rate.",
            "Alevins sampled for development stage.",
            "Water samples taken for lab analysis.",
            "Dead eggs sent to the lab for screening.",
        ),
        (
            "Gill samples taken for histology.",
            "Blood samples taken for smoltification check.",
            "Fish sent to the lab for health screening.",
            "Water samples taken for lab analysis.",
        ),
        (
            "Gill samples taken for AGD screening.",
            "Sea lice counted on 20 fish.",
            "Fish sampled for PD screening.",
            "Water samples taken for plankton analysis.",
        ),
    ),
}
_RESOLUTION_NOTES = {
    "issue": "Back to normal after follow-up.",
    "action": "Completed as planned.",
    "diagnosis": "Findings discussed with the site team; no further action.",
    "treatment": "Treatment completed; mortality at baseline.",
}
# P(category), and P(severity = none/low/medium/high | category)
_CATEGORY_P = np.array([0.38, 0.12, 0.12, 0.08, 0.07, 0.05, 0.18])
_SEVERITY_P = np.array(
    [
        [0.5, 0.5, 0.0, 0.0],
        [0.0, 0.3, 0.5, 0.2],
        [0.4, 0.6, 0.0, 0.0],
        [0.0, 0.4, 0.4, 0.2],
        [0.0, 0.2, 0.6, 0.2],
        [0.7, 0.3, 0.0, 0.0],
        [0.8, 0.2, 0.0, 0.0],
    ]
)


def journal_frame(rng: np.random.Generator, asg: Layout, start: int) -> pl.DataFrame:
    """About one health journal entry a month, each about a container live that day."""
    last_live = int(asg.end_day.max()) - 1  # the last ring's last day
    n = (last_live + 1) // 30
    day = 15 + 30 * np.arange(n) + rng.integers(-5, 6, n)
    day = day[day < last_live]
    n = len(day)
    live = (asg.first_day[None, :] <= day[:, None]) & (day[:, None] < asg.end_day[None, :])
    pick = (rng.random(n) * live.sum(1)).astype(int)  # the pick-th live assignment that day
    no = np.argmax(np.cumsum(live, axis=1) > pick[:, None], axis=1)
    stage = asg.stage[no]
    cat = (rng.random(n)[:, None] > np.cumsum(_CATEGORY_P)).sum(1).clip(0, 6)
    vaccination = JOURNAL_CATEGORIES.index("vaccination")
    cat = np.where((cat == vaccination) & ~np.isin(stage, (2, 3)), 0, cat)  # vaccinated as parr/smolt
    severity = (rng.random(n)[:, None] > np.cumsum(_SEVERITY_P[cat], axis=1)).sum(1).clip(0, 3)
    text = np.array([_JOURNAL_TEXT[c] for c in JOURNAL_CATEGORIES], dtype=object)  # (7, 3, 4)
    place = np.where(stage == 0, 0, np.where(stage == ADULT, 2, 1))
    description = text[cat, place, rng.integers(0, 4, n)]
    categories = np.array(JOURNAL_CATEGORIES)[cat]
    resolvable = np.isin(categories, list(_RESOLUTION_NOTES))
    resolved = resolvable & (rng.random(n) < 0.7)
    notes = np.array([_RESOLUTION_NOTES.get(c, "") for c in JOURNAL_CATEGORIES], dtype=object)[cat]
    minute = rng.integers(8 * 60, 16 * 60, n)
    return pl.DataFrame(
        {
            "entry_time": datetimes((start + day) * US_PER_DAY + minute * 60_000_000),
            "assignment_no": pl.Series(no, dtype=pl.Int32),
            "category": categories,
            "severity": pl.Series(list(np.array(SEVERITIES, dtype=object)[severity]), dtype=pl.String),
            "description": pl.Series(list(description), dtype=pl.String),
            "resolution_status": resolved,
            "resolution_notes": pl.Series(list(np.where(resolved, notes, "")), dtype=pl.String),
        }
    )
