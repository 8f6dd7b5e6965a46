"""The farm's fixed layout: stations with five halls of ten tanks, sea areas with twenty rings
and three barges. Ids are dense and follow the natural order of the sites (Scotland first), so
any container's, sensor's or feed container's id is computed arithmetically instead of joined
on names; every profile numbers its infrastructure this way."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import domain as D

# the farm is set up (sensors installed, initial feed stock delivered) this long before its first batch
SETUP_LEAD_DAYS = 30


@dataclass(frozen=True)
class Sites:
    """Id arithmetic over the fixed infrastructure layout."""

    n_stations: int = sum(g.stations for g in D.GEOGRAPHIES)
    n_areas: int = sum(g.areas for g in D.GEOGRAPHIES)

    @property
    def n_halls(self) -> int:
        return self.n_stations * len(D.HALLS)

    @property
    def n_hall_containers(self) -> int:
        return self.n_halls * D.CONTAINERS_PER_HALL

    @property
    def n_rings(self) -> int:
        return self.n_areas * D.RINGS_PER_AREA

    @property
    def n_feed_containers(self) -> int:
        """A silo per hall and the barges of every sea area."""
        return self.n_halls + self.n_areas * D.BARGES_PER_AREA

    @property
    def n_sensors(self) -> int:
        """A sensor per parameter in every hall container, per sea parameter in every ring."""
        return self.n_hall_containers * len(D.PARAMETERS) + self.n_rings * len(D.SEA_PARAMETERS)

    def hall_id(self, station_id, hall_index):
        return (station_id - 1) * len(D.HALLS) + hall_index + 1

    def tank_id(self, hall_id, slot):
        return (hall_id - 1) * D.CONTAINERS_PER_HALL + slot + 1

    def ring_id(self, area_id, slot):
        return self.n_hall_containers + (area_id - 1) * D.RINGS_PER_AREA + slot + 1

    def tank_sensor_id(self, container_id, parameter):
        return (container_id - 1) * len(D.PARAMETERS) + parameter + 1

    def ring_sensor_id(self, container_id, sea_parameter_index):
        ring = container_id - self.n_hall_containers - 1
        return self.n_hall_containers * len(D.PARAMETERS) + ring * len(D.SEA_PARAMETERS) + sea_parameter_index + 1

    def container_ids(self, station_id: int, area_id: int, stage: np.ndarray, slot: np.ndarray) -> np.ndarray:
        """The containers of a batch's (stage, slot) pairs: a hall tank of its station, or a ring of its sea area."""
        tank = self.tank_id(self.hall_id(station_id, stage), slot)
        return np.where(stage == len(D.STAGES) - 1, self.ring_id(area_id, slot), tank)

    def sensor_ids(self, container_id: np.ndarray, parameter: np.ndarray) -> np.ndarray:
        """The sensor of ``parameter`` in each container (the sea parameters are 0..3, their own index)."""
        sea = container_id > self.n_hall_containers
        return np.where(sea, self.ring_sensor_id(container_id, parameter), self.tank_sensor_id(container_id, parameter))

    def sensor_places(self, sensor_id: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(container, probe index in the container) of each sensor: the inverse of ``sensor_ids``."""
        s = np.asarray(sensor_id) - 1
        n_tank = self.n_hall_containers * len(D.PARAMETERS)
        ring = s - n_tank
        tank = s < n_tank
        container = np.where(
            tank, s // len(D.PARAMETERS) + 1, self.n_hall_containers + ring // len(D.SEA_PARAMETERS) + 1
        )
        return container, np.where(tank, s % len(D.PARAMETERS), ring % len(D.SEA_PARAMETERS))

    def silo_id(self, hall_id):
        return hall_id

    def barge_id(self, area_id, barge):
        return self.n_halls + (area_id - 1) * D.BARGES_PER_AREA + barge + 1

    def stations(self) -> list[tuple[int, D.Geography, str]]:
        """(station id, geography, name) in id order."""
        names = [(g, f"{g.station_prefix}-{i:02d}") for g in D.GEOGRAPHIES for i in range(1, g.stations + 1)]
        return [(k, g, name) for k, (g, name) in enumerate(names, 1)]

    def areas(self) -> list[tuple[int, D.Geography, str]]:
        names = [(g, f"{g.area_prefix}-{i:02d}") for g in D.GEOGRAPHIES for i in range(1, g.areas + 1)]
        return [(k, g, name) for k, (g, name) in enumerate(names, 1)]


SITES = Sites()


def station_id(name: str) -> int:
    return next(s for s, _, n in SITES.stations() if n == name)


def area_id(name: str) -> int:
    return next(a for a, _, n in SITES.areas() if n == name)
