"""Domain constants of a salmon operation: geographies, sites, stages, parameters,
feeds and the other master data, with the numbers DESIGN.md and the plan give."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Geography:
    name: str
    code: str  # batch-name prefix
    profile_code: str  # users_userprofile.geography
    station_prefix: str
    stations: int
    area_prefix: str
    areas: int
    lat: float  # centre of the sites
    lon: float


# Six freshwater stations per geography, each supplying 3–4 sea areas: a real operation runs a few
# freshwater sites for many sea sites (Mowi Scotland's hatcheries and smolt sites Inchmore, Lochailort,
# Inverpolly, Loch Ness, Glenfinnan and Loch Arkaig: salmonbusiness.com, "Mowi Scotland achieves record
# freshwater production"; Bakkafrost's Faroese hatcheries Viðareiði, Glyvradal, Norðtoftir, Klaksvík and
# the planned Skálavík: fishfarmingexpert.com, "Bakkafrost signs deal to expand hatchery" and "Bakkafrost
# building world's largest smolt farm"; intrafish.com, "Bakkafrost building new hatchery"). The plan's
# 10 + 12 stations left two thirds of the tanks empty while every sea area was in use: the rings decide
# how many batches the farm holds, and with six stations 65–85 % of all containers hold fish.
GEOGRAPHIES = (
    Geography("Scotland", "SCO", "SC", "S-FW", 6, "S-SEA", 20, 57.2, -5.6),
    Geography("Faroe Islands", "FI", "FO", "FI-FW", 6, "FI-SEA", 22, 62.0, -6.9),
)
GEOGRAPHY_BY_NAME = {g.name: g for g in GEOGRAPHIES}

# Where the sites are (lat, lon): sea areas in the sea lochs and sounds of the Scottish west coast
# and the Hebrides, and in the fjords of the Faroes (as the farms listed by Marine Scotland and the
# Faroese Food and Veterinary Authority); freshwater stations inland, by lochs and rivers.
AREA_SITES = {
    "Scotland": (
        (56.62, -5.42),
        (56.08, -5.27),
        (56.69, -5.80),
        (57.27, -6.08),
        (57.55, -5.72),
        (57.80, -5.62),
        (57.90, -5.25),
        (56.47, -5.92),
        (55.85, -6.10),
        (55.60, -5.52),
        (57.85, -6.78),
        (58.18, -6.58),
        (57.43, -7.32),
        (56.98, -5.70),
        (57.10, -5.62),
        (56.33, -5.55),
        (56.52, -5.48),
        (57.38, -5.65),
        (58.05, -5.30),
        (56.88, -5.95),
    ),
    "Faroe Islands": (
        (62.06, -6.86),
        (62.15, -7.02),
        (62.25, -6.95),
        (62.12, -6.76),
        (62.10, -6.94),
        (62.15, -7.17),
        (61.60, -6.95),
        (61.56, -6.83),
        (61.47, -6.80),
        (62.07, -7.32),
        (62.22, -6.59),
        (62.25, -6.80),
        (61.85, -6.82),
        (61.91, -6.87),
        (62.29, -6.52),
    ),
}
STATION_SITES: dict[str, tuple[tuple[float, float], ...]] = {
    "Scotland": (
        (57.15, -4.68),
        (56.80, -4.25),
        (57.45, -4.45),
        (57.62, -4.78),
        (56.42, -4.85),
        (57.02, -5.05),
    ),
    "Faroe Islands": (
        (62.04, -6.92),
        (62.16, -6.86),
        (62.26, -6.72),
        (62.10, -7.08),
        (61.57, -6.88),
        (62.20, -7.10),
    ),
}
HALLS = "ABCDE"
CONTAINERS_PER_HALL = 10
RINGS_PER_AREA = 20
BARGES_PER_AREA = 3
# Feed container capacity (infrastructure_feedcontainer.capacity_kg): sized so a batch needs a few
# deliveries per stage (a hall's stage eats ~20 t Fry .. ~830 t Post-Smolt; a barge ~5,400 t in 400 days).
SILO_CAPACITY_KG = {"A": 5_000.0, "B": 10_000.0, "C": 40_000.0, "D": 100_000.0, "E": 200_000.0}
BARGE_CAPACITY_KG = 1_000_000.0
# the plan's initial stock: one full lot per feed container
INITIAL_SILO_STOCK_KG = 5_000.0
INITIAL_BARGE_STOCK_KG = 25_000.0


@dataclass(frozen=True)
class Stage:
    name: str
    order: int
    days: int
    hall: str | None  # None: sea rings
    container_type: str
    weight_min_g: float
    weight_max_g: float
    length_min_cm: float
    length_max_cm: float


STAGES = (
    Stage("Egg&Alevin", 1, 90, "A", "Egg & Alevin Tray", 0.05, 0.3, 0.5, 2.5),
    Stage("Fry", 2, 90, "B", "Fry Tank (small)", 0.2, 10.0, 2.5, 10.0),
    Stage("Parr", 3, 90, "C", "Parr Tank (medium)", 8.0, 60.0, 9.0, 17.0),
    Stage("Smolt", 4, 90, "D", "Smolt Tank (large)", 50.0, 250.0, 16.0, 28.0),
    Stage("Post-Smolt", 5, 90, "E", "Post-Smolt Tank (pre-transfer)", 150.0, 700.0, 22.0, 38.0),
    Stage("Adult", 6, 400, None, "Sea Ring", 400.0, 7000.0, 33.0, 85.0),
)


@dataclass(frozen=True)
class ContainerType:
    name: str
    category: str  # TANK, PEN, TRAY, OTHER
    max_volume_m3: float
    volume_m3: float  # of the containers built
    max_biomass_kg: float
    description: str


# Sized so that the most a tank of a batch of up to 3.8 M eggs holds at the end of its stage stays
# within the stage's density limit (kg/m³), with ~15 % headroom: fry ≤ 30, parr ≤ 45, smolt ≤ 60,
# post-smolt ≤ 75 (RAS practice: Thorarensen & Farrell 2011; Norwegian welfare guidance),
# sea ≤ 25 (Norway's legal maximum, Akvakulturdriftsforskriften § 46); max_biomass_kg = limit × volume.
# Trays hold eggs and alevins by count, not by density.
CONTAINER_TYPES = (
    ContainerType("Egg & Alevin Tray", "TRAY", 5.0, 2.5, 250.0, "Incubation tray for eggs and alevins"),
    ContainerType("Fry Tank (small)", "TANK", 160.0, 140.0, 4_200.0, "Fry tank, 7 m diameter (≤ 30 kg/m³)"),
    ContainerType("Parr Tank (medium)", "TANK", 600.0, 560.0, 25_200.0, "Parr tank, 13 m diameter (≤ 45 kg/m³)"),
    ContainerType("Smolt Tank (large)", "TANK", 1_500.0, 1_400.0, 84_000.0, "Smolt tank, 20 m diameter (≤ 60 kg/m³)"),
    ContainerType(
        "Post-Smolt Tank (pre-transfer)",
        "TANK",
        3_000.0,
        2_800.0,
        210_000.0,
        "Post-smolt RAS tank, 28 m diameter (≤ 75 kg/m³)",
    ),
    ContainerType(
        "Sea Ring",
        "PEN",
        45_000.0,
        42_000.0,
        1_050_000.0,
        "Circular sea pen, 160 m circumference, 20 m deep (≤ 25 kg/m³)",
    ),
)


@dataclass(frozen=True)
class Parameter:
    name: str
    unit: str
    sensor_type: str  # infrastructure_sensor.sensor_type enum
    min_value: float  # physical range
    max_value: float
    optimal_min: float  # safe range
    optimal_max: float
    at_sea: bool  # sea rings carry a sensor for it
    description: str


PARAMETERS = (
    Parameter("Dissolved Oxygen", "%", "OXYGEN", 0, 150, 80, 100, True, "Oxygen saturation; critical below 30 %"),
    Parameter("CO2", "mg/L", "CO2", 0, 60, 0, 15, True, "Dissolved carbon dioxide; critical above 25 mg/L"),
    Parameter("pH", "pH", "PH", 4, 10, 6.5, 8.5, True, "Acidity; critical below 6.0 or above 9.0"),
    Parameter(
        "Temperature",
        "°C",
        "TEMPERATURE",
        -2,
        30,
        4,
        16,
        True,
        "Water temperature; safe 4-16 °C in freshwater, 6-18 °C at sea",
    ),
    Parameter("NO2", "mg/L", "OTHER", 0, 5, 0, 0.1, False, "Nitrite; critical above 0.5 mg/L"),
    Parameter("NO3", "mg/L", "OTHER", 0, 300, 0, 50, False, "Nitrate; critical above 100 mg/L"),
    Parameter("NH4", "mg/L", "OTHER", 0, 2, 0, 0.02, False, "Ammonium; critical above 0.1 mg/L"),
)
SEA_PARAMETERS = tuple(i for i, p in enumerate(PARAMETERS) if p.at_sea)


@dataclass(frozen=True)
class Feed:
    name: str
    pellet_mm: float
    size_category: str  # MICRO, SMALL, MEDIUM, LARGE
    protein: float
    fat: float
    carbohydrate: float
    base_price: float  # EUR/kg, inside the plan's 1.80-2.80 band


FEEDS = (
    Feed("Starter Feed 0.5mm", 0.5, "MICRO", 50, 18, 20, 2.65),
    Feed("Starter Feed 1.0mm", 1.0, "SMALL", 48, 18, 22, 2.50),
    Feed("Grower Feed 2.0mm", 2.0, "SMALL", 45, 20, 23, 2.25),
    Feed("Grower Feed 3.0mm", 3.0, "MEDIUM", 43, 22, 23, 2.10),
    Feed("Finisher Feed 4.5mm", 4.5, "LARGE", 40, 24, 24, 1.95),
    Feed("Finisher Feed 6.0mm", 6.0, "LARGE", 38, 26, 24, 1.90),
)
FEED_BRAND = "AquaNutrition"
# feed stored in each hall's silo (hall A holds starter feed for first feeding) and in barges
HALL_FEED = {"A": 0, "B": 0, "C": 1, "D": 2, "E": 3}
BARGE_FEED = 4
SUPPLIERS = ("BioMar", "Skretting", "Cargill Aqua Nutrition", "Mowi Feed")

HEALTH_PARAMETERS = (
    ("Gill Condition", "gills"),
    ("Eye Condition", "eyes"),
    ("Wounds", "skin wounds"),
    ("Fin Condition", "fins"),
    ("Body Condition", "body shape"),
    ("Swimming Behavior", "swimming"),
    ("Appetite", "appetite"),
    ("Mucous Membrane Condition", "mucous membranes"),
    ("Color/Pigmentation", "colour"),
)
MORTALITY_REASONS = (
    ("Natural", "Natural causes, background mortality"),
    ("Disease", "Infectious or parasitic disease"),
    ("Stress", "Environmental or handling stress"),
    ("Handling", "Injury during handling or transfer"),
    ("Predation", "Seals, birds or other predators"),
    ("Environmental", "Temperature, oxygen or water-quality event"),
    ("UNKNOWN", "Cause not determined"),
)
SAMPLE_TYPES = (
    ("Blood", "Blood sample for haematology and serology"),
    ("Tissue", "Tissue sample for histopathology"),
    ("Gill", "Gill swab or biopsy"),
    ("Kidney", "Kidney sample for bacteriology and virology"),
    ("Fecal", "Fecal sample for parasitology"),
)
VACCINATION_TYPES = (
    ("IPN Vaccine", "MSD Animal Health", "0.1 ml/fish", "Infectious pancreatic necrosis"),
    ("VHS Vaccine", "Pharmaq", "0.1 ml/fish", "Viral haemorrhagic septicaemia"),
    ("Multi-component Vaccine", "Elanco", "0.1 ml/fish", "Furunculosis, vibriosis, IPN (multivalent)"),
)


@dataclass(frozen=True)
class User:
    username: str
    first_name: str
    last_name: str
    is_superuser: bool
    role: str  # users_userprofile.role: ADMIN, MGR, OPR, VET, ...
    job_title: str


USERS = (
    User("system_admin", "System", "Administrator", True, "ADMIN", "System Administrator"),
    User("operator_01", "Farm", "Operator", False, "OPR", "Farm Operator"),
    User("vet_01", "Fish", "Veterinarian", False, "VET", "Veterinarian"),
    User("manager_01", "Farm", "Manager", False, "MGR", "Operations Manager"),
)
DEFAULT_PASSWORD = "aquamind"  # every generated user can log in with it
USER_ID = {u.username: i for i, u in enumerate(USERS, 1)}  # auth_user ids: the users in this order
SYSTEM_ID = USER_ID["system_admin"]  # creates the master data, runs the nightly summaries
OPERATOR_ID = USER_ID["operator_01"]  # records feedings, moves, mortality and samples
VET_ID = USER_ID["vet_01"]  # writes the health journal
MANAGER_ID = USER_ID["manager_01"]  # orders feed

# The most eggs a batch may start with: its whole-life feed (under 10 kg a fish: harvest weight ≤ 7 kg
# × FCR ≤ 1.3) must fit the application's batch feed totals (total_feed_kg numeric(10,2): < 10^8 kg).
MAX_EGGS = 10**8 // 10
# The fewest: a batch spreads its eggs over a hall's 10 tanks (lineages) and then 20 sea rings, and the
# simulation's deaths leave some of those without a fish below about a hundred eggs (a sea ring harvested
# empty); a thousand (a research or broodstock batch; commercial intakes are 100k-3.5M) keeps every tank
# and ring stocked through harvest (sampled: 20 random batches of 1,000-10,000 eggs pass every check).
MIN_EGGS = 1_000

# The simulation's vocabularies (each profile maps them to its tables; validate checks them
# against the application's choices)
MORTALITY_CAUSES = ("DISEASE", "HANDLING", "PREDATION", "ENVIRONMENTAL", "UNKNOWN", "OTHER")
JOURNAL_CATEGORIES = ("observation", "issue", "action", "diagnosis", "treatment", "vaccination", "sample")
SEVERITIES = (None, "low", "medium", "high")
