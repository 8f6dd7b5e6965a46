"""A test profile, kept outside the package as a plug-in: the plan's profile without
``batch_batchcomposition`` and its history table (an application version without mixed
batches). Its ``schema.json`` and ``choices.json`` are derived by the test that uses it.

It proves the claim of ``aquagen.profiles``: a profile is one folder; generate, validate,
load and purge reach it through the same code as the built-in ones."""

from __future__ import annotations

import dataclasses

from aquagen.profiles.aquamind_8f2ab39 import PROFILE as PLAN

PROFILE = dataclasses.replace(PLAN, name="aquamind-nocomposition@test")
DROPPED = ("batch_batchcomposition", "batch_historicalbatchcomposition")
