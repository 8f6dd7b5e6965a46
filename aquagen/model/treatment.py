"""When the rings of a disease or jellyfish episode are treated, and which treatments stop feeding.

The simulation needs these days before its day loop, as it needs the delousings (``lice``): fish are
starved before a bath and are not fed while a jellyfish bloom is treated, so those rings neither
eat nor grow. ``health.disease_treatments`` records the same days and outcomes (``schedule``'s
columns of the episodes frame).
"""

from __future__ import annotations

import numpy as np

# the disease treatments' purpose among a batch's health streams (``health.stream``)
DISEASE_TREATMENT_PURPOSE = 6
# the operator reports raised mortality 1-2 days into an episode, the veterinarian diagnoses 1-3
# days later and treats 1-3 days after that (uniform, one after the other)
ISSUE_AFTER, DIAGNOSIS_AFTER, TREATMENT_AFTER = (1, 2), (1, 3), (1, 3)
TREATED = ("gill disease", "winter ulcer", "jellyfish")  # the episode kinds a veterinarian treats
# Days without feed, [from, to) around the treatment day, by episode kind. Salmon are starved for a
# day or two before a bath so that they handle the crowding and the well boat (Noble et al. 2018,
# *Welfare Indicators for Farmed Atlantic Salmon*, FISHWELL, ch. 4: feed withdrawal before crowding,
# delousing and transport); feeding stops while jellyfish are in the water (the treatment's three
# days). The in-feed antibiotic against winter ulcer is eaten, so that ring is fed.
FASTS = {"gill disease": (-1, 1), "jellyfish": (0, 3)}
SUCCESS_SHARE = 0.75  # a treatment's outcome: successful, else partial


def schedule(rng: np.random.Generator, first_day: np.ndarray, last_day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, 3) day indices of the issue report, the diagnosis and the treatment of ``n`` treated
    (episode, ring) rows starting on ``first_day``, none after the ring's ``last_day`` alive; and
    whether each treatment succeeds (drawn after the days, from the same stream)."""
    n = len(first_day)
    steps = np.stack(
        [rng.integers(lo, hi + 1, n) for lo, hi in (ISSUE_AFTER, DIAGNOSIS_AFTER, TREATMENT_AFTER)], axis=1
    ).cumsum(1)
    days = np.minimum(np.asarray(first_day)[:, None] + steps, np.asarray(last_day)[:, None])
    return days, rng.random(n) < SUCCESS_SHARE
