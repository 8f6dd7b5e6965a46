"""The farm's fixed layout: stations with five halls of ten tanks, sea areas with twenty rings
and three barges. Ids are dense and follow the natural order of the sites (Scotland first), so
any container's, sensor's or feed container's id is computed arithmetically instead of joined
on names; every profile numbers its infrastructure this way."""

from __future__ import annotations

from dataclasses import dataclass

from . import domain as D


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
