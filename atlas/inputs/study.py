"""The study file (TOML): schema, validation and resolved paths. No computation here.

See docs/study-file.md for every key. Relative paths resolve against the study file's folder.
Any problem is an :class:`~atlas.errors.AtlasInputError` naming the file, the line where it can
be found, the key and what is expected.
"""

from __future__ import annotations

import re
import tomllib
import zoneinfo
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from atlas.conventions import (
    AVAILABILITY,
    CAPACITY_TECHNOLOGIES,
    EV_LOCATIONS,
    EV_V2G_DEFAULT,
    INSTALLED_TECHNOLOGIES,
    LEVELS,
    THRESHOLD_MVAR,
    THRESHOLD_MW,
)
from atlas.errors import AtlasInputError
from atlas.inputs.checks import MAX_ID_CHARS, MAX_NAME_CHARS, control_character


class _Strict(BaseModel):
    # no NaN or infinity in any number of the study file: a limit, a coefficient or an
    # energy of inf or nan runs to NaN figures or to nothing at all
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _printable(value: str, what: str, max_chars: int) -> str:
    """A name or id without control characters, at most ``max_chars`` long (it heads
    tables, figures and the map)."""
    control = control_character(value)
    if control is not None:
        raise ValueError(f"{what} {value[:40]!r}: {control}, expected printable text")
    if len(value) > max_chars:
        raise ValueError(f"{what} of {len(value)} characters, expected at most {max_chars}")
    return value


class StudySection(_Strict):
    name: str = Field(min_length=1)
    year: int = Field(ge=1900, le=2200, strict=True)  # not true, 2030.0 or "2030"
    timezone: str = "Europe/Rome"
    description: str = ""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _printable(value, "study name", MAX_NAME_CHARS)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}, expected an IANA name such as 'Europe/Rome'"
            ) from None
        return value


class InputsSection(_Strict):
    substations: Path
    capacity: Path | None = None
    load: Path
    load_year: int | None = Field(default=None, ge=1900, le=2200, strict=True)
    service_areas: Path | None = None
    boundary: Path | None = None
    ders: Path | None = None

    @model_validator(mode="after")
    def _capacity_source(self):
        if self.capacity is None and self.ders is None:
            raise ValueError(
                "give the installed capacity: 'capacity' (a table) or 'ders' (a register of points)"
            )
        if self.capacity is not None and self.ders is not None:
            raise ValueError(
                "'capacity' and 'ders' both given, expected one of them (the register yields the capacity)"
            )
        if self.ders is not None and self.service_areas is None and self.boundary is None:
            raise ValueError(
                "'ders' needs 'service_areas' or a 'boundary' to build Voronoi service areas in"
            )
        return self


class AreasSection(_Strict):
    """How service areas are built and DERs joined to them (docs/study-file.md)."""

    crs: str = "auto"
    substation_id: str = "ps_id"
    overlap_tolerance_m2: float = Field(default=1.0, ge=0.0)
    snap_distance_m: float = Field(default=0.0, ge=0.0)
    # where DERs are joined: "local" (in memory) or "dask" (a GeoParquet register on a dask
    # cluster, atlas.geo.dask_join; the same assignment)
    join: Literal["local", "dask"] = "local"

    @field_validator("crs")
    @classmethod
    def _crs(cls, value: str) -> str:
        if value == "auto":
            return value
        import pyproj

        try:
            crs = pyproj.CRS.from_user_input(value)
        except pyproj.exceptions.CRSError:
            raise ValueError(
                f"unknown CRS {value!r}, expected 'auto' or e.g. 'EPSG:32632'"
            ) from None
        if not crs.is_projected:
            raise ValueError(f"{value!r} is not a projected CRS, expected metres (e.g. a UTM zone)")
        return value


class GrowthEntry(_Strict):
    """City-wide capacity added in a scenario and allocated to the service areas."""

    scenario: str
    technology: Literal["pv", "chp", "biomass", "hydro"]
    added_mw: float = Field(ge=0.0)
    level: Literal["MV", "LV"] = "MV"
    allocate: Literal["capacity", "area", "weight"] = "capacity"
    weights: Path | None = None
    weight_column: str | None = None

    @model_validator(mode="after")
    def _weights(self):
        if self.allocate == "weight" and self.weights is None:
            raise ValueError(
                "allocate = 'weight' needs 'weights' (a layer or a ps_id,weight table)"
            )
        if self.allocate != "weight" and self.weights is not None:
            raise ValueError(
                f"'weights' is only read with allocate = 'weight', not {self.allocate!r}"
            )
        return self


class FileProfile(_Strict):
    source: Literal["file"]
    file: Path


class Orientation(_Strict):
    """One plane of a mix of PV orientations."""

    tilt_deg: float = Field(ge=0.0, le=90.0)
    azimuth_deg: float = Field(ge=0.0, lt=360.0)
    share: float = Field(gt=0.0, le=1.0)


class PvPlane(_Strict):
    """The PV plane and losses shared by the pvlib sources (docs/profiles.md)."""

    tilt_deg: float = Field(default=30.0, ge=0.0, le=90.0)
    azimuth_deg: float = Field(default=180.0, ge=0.0, lt=360.0)
    system_losses: float = Field(default=0.14, ge=0.0, lt=1.0)
    dc_ac_ratio: float = Field(default=1.0, gt=0.0, le=3.0)
    orientations: list[Orientation] = []

    @field_validator("orientations")
    @classmethod
    def _mix(cls, value: list[Orientation]) -> list[Orientation]:
        if value and abs(sum(o.share for o in value) - 1.0) > 1e-9:
            raise ValueError(f"orientation shares must sum to 1, got {sum(o.share for o in value)}")
        return value

    def planes(self) -> list[tuple[float, float, float]]:
        """(share, tilt, azimuth) of each plane: the mix, or the one plane. [-, deg, deg]"""
        if self.orientations:
            return [(o.share, o.tilt_deg, o.azimuth_deg) for o in self.orientations]
        return [(1.0, self.tilt_deg, self.azimuth_deg)]


class PvDefaultProfile(PvPlane):
    """PV under a clear sky (pvlib, Ineichen-Perez) at each service area."""

    source: Literal["clearsky"]
    turbidity: Literal["calibrated", "climatology"] | list[float] = "calibrated"
    file: Path | None = None

    @field_validator("turbidity")
    @classmethod
    def _monthly(cls, value):
        if isinstance(value, list) and (len(value) != 12 or min(value) < 1.0):
            raise ValueError(
                "turbidity: expected 'calibrated', 'climatology' or 12 monthly Linke turbidities >= 1"
            )
        return value


class PvTmyProfile(PvPlane):
    """PV from a typical meteorological year at each service area (pvlib), shipped or a file."""

    source: Literal["tmy"]
    file: Path | None = None


class PvPvgisProfile(PvPlane):
    """PV from PVGIS online at each service area, the hourly average of several years, cached."""

    source: Literal["pvgis"]
    start_year: int = Field(default=2005, ge=2005)
    end_year: int = Field(default=2020, le=2023)
    cache_dir: Path | None = None
    cache_distance_m: float = Field(default=1000.0, ge=0.0, le=1000.0)


class DefaultProfile(_Strict):
    """Built-in default of a technology (docs/profiles.md)."""

    source: Literal["default"]


class PolynomialProfile(_Strict):
    """A fifth-degree polynomial of the scaled hour x = h / 8760 (c0..c5, increasing powers)."""

    source: Literal["polynomial"]
    coefficients: list[float] = Field(min_length=6, max_length=6)


class NoEv(_Strict):
    source: Literal["none"]


class NoProfile(_Strict):
    """No profile: the technology must have no capacity (wind: the atlas ships none)."""

    source: Literal["none"]


class EvShapesProfile(_Strict):
    """EV charging from daily shapes by location, scaled to each scenario's yearly energy."""

    source: Literal["shapes"]
    energy_mwh: dict[str, float]
    location_shares: dict[str, float] = {"home": 0.55, "work": 0.20, "b2c": 0.10, "public": 0.15}
    allocate: Literal["charging_points", "table"] = "charging_points"
    weights: Path | None = None
    shapes: Path | None = None
    country: str = "IT"
    subdiv: str | None = "MI"

    @field_validator("energy_mwh")
    @classmethod
    def _energy(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [k for k, v in value.items() if not v >= 0]
        if bad:
            raise ValueError(f"energy of scenario {bad[0]!r} must be >= 0 MWh")
        return value

    @field_validator("location_shares")
    @classmethod
    def _shares(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [k for k in value if k not in EV_LOCATIONS]
        if bad:
            raise ValueError(f"unknown location {bad[0]!r}, expected some of {list(EV_LOCATIONS)}")
        if any(v < 0 for v in value.values()) or abs(sum(value.values()) - 1.0) > 1e-9:
            raise ValueError(
                f"location shares must be >= 0 and sum to 1, got {sum(value.values())}"
            )
        return value

    @model_validator(mode="after")
    def _weights(self):
        if self.allocate == "table" and self.weights is None:
            raise ValueError("allocate = 'table' needs 'weights' (a CSV ps_id,weight)")
        return self


PvProfile = Annotated[
    FileProfile | PvDefaultProfile | PvTmyProfile | PvPvgisProfile, Field(discriminator="source")
]
SeasonalProfile = Annotated[
    FileProfile | DefaultProfile | PolynomialProfile, Field(discriminator="source")
]
BaseloadProfile = Annotated[FileProfile | DefaultProfile, Field(discriminator="source")]
EvProfile = Annotated[FileProfile | NoEv | EvShapesProfile, Field(discriminator="source")]
WindProfile = Annotated[FileProfile | NoProfile, Field(discriminator="source")]


class BessProfile(_Strict):
    """Battery schedules and state (METHOD.md, "Beyond the seed paper"; docs/profiles.md)."""

    source: Literal["idle", "file"] = "idle"
    file: Path | None = None
    e_init: float = Field(default=0.5, ge=0.0, le=1.0)
    eta_charge: float = Field(default=0.95, gt=0.0, le=1.0)
    eta_discharge: float = Field(default=0.95, gt=0.0, le=1.0)

    @model_validator(mode="after")
    def _file(self):
        if self.source == "file" and self.file is None:
            raise ValueError("source = 'file' needs 'file' (a CSV time,pu or time,ps_id,pu)")
        if self.source == "idle" and self.file is not None:
            raise ValueError("'file' is only read with source = 'file', not 'idle'")
        return self


class ProfilesSection(_Strict):
    pv: PvProfile = PvDefaultProfile(source="clearsky")
    chp: SeasonalProfile = DefaultProfile(source="default")
    hydro: SeasonalProfile = DefaultProfile(source="default")
    biomass: BaseloadProfile = DefaultProfile(source="default")
    ev: EvProfile = NoEv(source="none")
    wind: WindProfile = NoProfile(source="none")
    bess: BessProfile = BessProfile()


class ScenariosSection(_Strict):
    names: list[str] = Field(min_length=1)
    what_if: list[str] = []
    what_if_name: str | None = None

    @field_validator("what_if_name")
    @classmethod
    def _what_if_name(cls, value: str | None) -> str | None:
        if value is not None:
            if not value.strip():
                raise ValueError("what_if_name must not be empty")
            _printable(value, "scenario name", MAX_ID_CHARS)
        return value

    @field_validator("what_if")
    @classmethod
    def _additions(cls, value: list[str]) -> list[str]:
        from atlas.inputs.whatif import parse_addition

        for text in value:
            parse_addition(text)  # a ValueError saying what is expected
        return value

    @field_validator("names", mode="before")
    @classmethod
    def _strings(cls, value):
        if isinstance(value, list):
            bad = [v for v in value if not isinstance(v, str)]
            if bad:
                raise ValueError(
                    f'scenario names must be strings, quote them: {bad[0]!r} -> "{bad[0]}"'
                )
        return value

    @field_validator("names")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("scenario names must be unique")
        if any(not v.strip() for v in value):
            raise ValueError("scenario names must not be empty")
        for v in value:
            _printable(v, "scenario name", MAX_ID_CHARS)
        return value


class EvSection(_Strict):
    v2g_locations: list[str] = sorted(EV_V2G_DEFAULT)

    @field_validator("v2g_locations")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if v not in EV_LOCATIONS]
        if bad:
            raise ValueError(f"unknown location {bad[0]!r}, expected some of {list(EV_LOCATIONS)}")
        return value


class ScreeningSection(_Strict):
    """Relief screening and report settings (docs/study-file.md)."""

    threshold_mw: float = Field(default=THRESHOLD_MW, ge=0.0)
    threshold_mvar: float = Field(default=THRESHOLD_MVAR, ge=0.0)
    availability: float = Field(default=AVAILABILITY, gt=0.0, le=1.0)
    sample_day: str = "09-04"

    @field_validator("sample_day")
    @classmethod
    def _month_day(cls, value: str) -> str:
        import datetime

        try:
            datetime.date.fromisoformat(f"2030-{value}")  # a non-leap year: no 29 February
        except ValueError:
            raise ValueError(
                f"sample_day {value!r}: expected MM-DD, a day of a non-leap year, e.g. '09-04'"
            ) from None
        return value


#: Names of the plausibility checks (:mod:`atlas.inputs.plausibility`), for ``[checks] accept``.
CHECK_NAMES = (
    "der_max_mw",
    "capacity_unit",
    "ps_capacity_max_ratio",
    "ps_rated_mva_max",
    "load_max_ratio",
    "boundary_max_km",
)


class ChecksSection(_Strict):
    """Plausibility limits of the inputs (docs/study-file.md, ``[checks]``).

    A value beyond a limit is an error naming the rows, unless the check is listed in
    ``accept``: then it is a warning, printed and listed in run.json.
    """

    #: Largest plausible single installation per connection level, or per
    #: ``technology.level`` (``"chp.MV"``), which wins over the level. [MW]
    der_max_mw: dict[str, float] = {"LV": 0.2, "MV": 10.0, "statcom.MV": 100.0}
    #: Installed DER capacity of a PS in a scenario at most this multiple of its rating. [-]
    ps_capacity_max_ratio: float = Field(default=3.0, gt=0.0)
    #: Largest plausible rating of one primary substation. [MVA]
    ps_rated_mva_max: float = Field(default=1000.0, gt=0.0)
    #: Largest hourly apparent power of a PS's measured load, as a multiple of its rating. [-]
    load_max_ratio: float = Field(default=2.0, gt=0.0)
    #: Largest distance between a substation and the boundary, or a part of the boundary
    #: and the nearest substation. [km]
    boundary_max_km: float = Field(default=50.0, gt=0.0)
    accept: list[str] = []

    @field_validator("der_max_mw")
    @classmethod
    def _levels(cls, value: dict[str, float]) -> dict[str, float]:
        for key, limit in value.items():
            tech, _, level = key.rpartition(".")
            if level not in LEVELS or (tech and tech not in (*INSTALLED_TECHNOLOGIES, "ev")):
                raise ValueError(
                    f"unknown key {key!r}, expected a level {list(LEVELS)} or "
                    "technology.level such as 'chp.MV'"
                )
            if not limit > 0:
                raise ValueError(f"{key!r} = {limit}, expected a limit > 0 [MW]")
        return {"LV": 0.2, "MV": 10.0, "statcom.MV": 100.0} | value

    @field_validator("accept")
    @classmethod
    def _known_checks(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if v not in CHECK_NAMES]
        if bad:
            raise ValueError(f"unknown check {bad[0]!r}, expected some of {list(CHECK_NAMES)}")
        return value


class OltcSection(_Strict):
    """The PS's on-load tap changers over a voltage-dependent load (METHOD.md, "Beyond the
    seed paper"; docs/method.md). Off unless a band is given."""

    dv_down: float | None = Field(default=None, ge=0.0, lt=0.5)
    dv_up: float | None = Field(default=None, ge=0.0, lt=0.5)
    kp: float = Field(default=1.2, ge=0.0, le=10.0)
    kq: float = Field(default=3.2, ge=0.0, le=10.0)
    ps_ids: list[str] | None = None

    @model_validator(mode="after")
    def _band(self):
        if (self.dv_down is None) != (self.dv_up is None):
            raise ValueError("give both dv_down and dv_up (the band below and above 1 p.u.)")
        if self.ps_ids is not None and self.dv_down is None:
            raise ValueError("'ps_ids' needs a band (dv_down and dv_up)")
        return self

    def band(self, ps_id: str) -> tuple[float, float] | None:
        """``(dv_down, dv_up)`` of a PS by this section, or None where it counts no tap
        changers there."""
        if self.dv_down is None or self.dv_up is None:
            return None
        if self.ps_ids is not None and ps_id not in self.ps_ids:
            return None
        return self.dv_down, self.dv_up

    def bands(
        self, ps_ids: list[str], dv_down: np.ndarray, dv_up: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each PS's band: the substation table's own (columns ``oltc_dv_down``,
        ``oltc_dv_up``) where it gives one, else this section's (:meth:`band`).

        Parameters
        ----------
        ps_ids : list of str
        dv_down, dv_up : numpy.ndarray
            (n_ps,) the table's bands, NaN where it gives none. [p.u.]

        Returns
        -------
        dv_down, dv_up : numpy.ndarray
            (n_ps,) NaN where no tap changer is counted. [p.u.]
        """
        down = np.array(dv_down, dtype=float)
        up = np.array(dv_up, dtype=float)
        for k, ps_id in enumerate(ps_ids):
            band = self.band(ps_id)
            if band is not None and np.isnan(down[k]):
                down[k], up[k] = band
        return down, up


class EnvelopeSection(_Strict):
    concave_ratio: float = Field(default=0.2, gt=0.0, le=1.0)


class CapabilityOverride(_Strict):
    active_range: Literal["curtail", "dispatch", "reduce"] | None = None
    pf_inject: float | None = Field(default=None, ge=0.0, le=1.0)
    pf_absorb: float | None = Field(default=None, ge=0.0, le=1.0)
    p_min_pu: float | None = Field(default=None, ge=0.0, le=1.0)
    q_at_night: bool | None = None


class NetworkGrid(_Strict):
    """One PS's MV network (docs/network.md): a pandapower network file or a SimBench code."""

    #: A pandapower network saved as JSON (``pandapower.to_json``).
    file: Path | None = None
    #: A SimBench grid code, such as ``1-MV-semiurb--0-sw`` (its loads take SimBench's own
    #: profiles of 2016).
    simbench: str | None = Field(default=None, min_length=1, max_length=60)
    #: CRS of the file's bus coordinates (GeoJSON, as pandapower writes them, is WGS84).
    crs: str = "EPSG:4326"

    @model_validator(mode="after")
    def _one_source(self):
        if (self.file is None) == (self.simbench is None):
            raise ValueError(
                "expected exactly one of file (a pandapower JSON) or simbench (a grid code)"
            )
        return self


class NetworkSection(_Strict):
    """Network-aware figures (docs/network.md, METHOD.md "Network-aware figures")."""

    #: The network of the study's only PS (shorthand for ``grids``).
    file: Path | None = None
    simbench: str | None = Field(default=None, min_length=1, max_length=60)
    crs: str = "EPSG:4326"
    #: ``{ps_id: grid}``: the networks of some or all PS.
    grids: dict[str, NetworkGrid] = {}
    #: Voltage band at every bus. [pu]
    v_min: float = Field(default=0.95, gt=0.5, lt=1.0)
    v_max: float = Field(default=1.05, gt=1.0, lt=1.5)
    #: A register DER farther than this from every bus of its PS's network is not placed
    #: (listed in ``network_placement.csv``). [m]
    max_bus_distance_m: float = Field(default=1000.0, gt=0.0)
    #: Hours per scenario and PS whose dispatch goes through pandapower's AC power flow
    #: (half where a network limit binds), worst voltage and loading in run.json.
    check_hours: int = Field(default=24, ge=0, le=8760, strict=True)
    #: AC corrections of the linear model where a limit binds
    #: (:func:`atlas.network.dispatch.corrected_figures`).
    rounds: int = Field(default=2, ge=0, le=10, strict=True)

    @model_validator(mode="after")
    def _shorthand(self):
        if self.file is not None and self.simbench is not None:
            raise ValueError("expected one of file or simbench, not both")
        if (self.file is not None or self.simbench is not None) and self.grids:
            raise ValueError(
                "expected either file/simbench (the study's only PS) or [network.grids.PS_ID] tables, not both"
            )
        if self.v_min >= self.v_max:
            raise ValueError(f"v_min {self.v_min} >= v_max {self.v_max}, expected v_min < v_max")
        return self

    def grid_of(self, ps_ids: list[str]) -> dict[str, NetworkGrid]:
        """``{ps_id: grid}`` for the study's PS (the shorthand names the only one).

        Raises
        ------
        ValueError
            The shorthand with several PS, or a ``grids`` key that is not a PS.
        """
        if self.file is not None or self.simbench is not None:
            if len(ps_ids) != 1:
                raise ValueError(
                    f"network.file/simbench names one network but the study has {len(ps_ids)} PS, "
                    "expected [network.grids.PS_ID] tables"
                )
            return {ps_ids[0]: NetworkGrid(file=self.file, simbench=self.simbench, crs=self.crs)}
        known = set(ps_ids)
        for ps_id in self.grids:
            if ps_id not in known:
                shown = ", ".join(ps_ids[:20]) + (" ..." if len(ps_ids) > 20 else "")
                raise ValueError(f"network.grids: unknown ps_id {ps_id!r}, expected one of {shown}")
        return dict(self.grids)


class StudyModel(_Strict):
    study: StudySection
    inputs: InputsSection
    profiles: ProfilesSection = ProfilesSection()
    scenarios: ScenariosSection
    ev: EvSection = EvSection()
    envelope: EnvelopeSection = EnvelopeSection()
    oltc: OltcSection = OltcSection()
    screening: ScreeningSection = ScreeningSection()
    checks: ChecksSection = ChecksSection()
    areas: AreasSection = AreasSection()
    growth: list[GrowthEntry] = []
    capability: dict[str, dict[str, CapabilityOverride]] = {}
    network: NetworkSection | None = None

    @model_validator(mode="after")
    def _growth_scenarios(self):
        for entry in self.growth:
            if entry.scenario not in self.scenarios.names:
                raise ValueError(
                    f"growth.scenario: {entry.scenario!r} is not in scenarios.names {self.scenarios.names}"
                )
        if self.growth and self.inputs.ders is None:
            raise ValueError(
                "growth.scenario: [[growth]] allocates to service areas and needs inputs.ders (a DER register)"
            )
        ev = self.profiles.ev
        if isinstance(ev, EvShapesProfile):
            unknown = [k for k in ev.energy_mwh if k not in self.scenarios.names]
            if unknown:
                raise ValueError(
                    f"profiles.ev.energy_mwh: {unknown[0]!r} is not in scenarios.names {self.scenarios.names}"
                )
            if ev.allocate == "charging_points" and self.inputs.ders is None:
                raise ValueError(
                    "profiles.ev.allocate: 'charging_points' needs inputs.ders (a register with charging points)"
                )
        return self

    @field_validator("capability")
    @classmethod
    def _known_keys(cls, value):
        for tech, per_level in value.items():
            if tech not in CAPACITY_TECHNOLOGIES:
                raise ValueError(
                    f"unknown technology {tech!r}, expected one of {list(CAPACITY_TECHNOLOGIES)}"
                )
            for level in per_level:
                if level not in (*LEVELS, "*"):
                    raise ValueError(
                        f"unknown level {level!r} under {tech!r}, expected one of {list(LEVELS)} or '*'"
                    )
        return value


class Study:
    """A validated study: the model, the file it came from, and resolved input paths.

    Attributes
    ----------
    path : pathlib.Path
        The study file.
    model : StudyModel
        Validated content.
    """

    def __init__(self, path: Path, model: StudyModel) -> None:
        self.path = Path(path)
        self.model = model

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def name(self) -> str:
        return self.model.study.name

    @property
    def year(self) -> int:
        return self.model.study.year

    @property
    def timezone(self) -> str:
        return self.model.study.timezone

    @property
    def scenarios(self) -> list[str]:
        return list(self.model.scenarios.names)

    def resolve(self, p: Path) -> Path:
        """A path of the study file, absolute (relative ones against the file's folder)."""
        p = Path(p).expanduser()
        return p if p.is_absolute() else (self.folder / p).resolve()

    def input_files(self) -> dict[str, Path]:
        """Every input file the study reads, keyed by its study-file key."""
        m = self.model
        files = {"inputs.substations": m.inputs.substations, "inputs.load": m.inputs.load}
        for key in ("capacity", "service_areas", "boundary", "ders"):
            if getattr(m.inputs, key) is not None:
                files[f"inputs.{key}"] = getattr(m.inputs, key)
        ev = m.profiles.ev
        if isinstance(ev, EvShapesProfile):
            for key in ("weights", "shapes"):
                if getattr(ev, key) is not None:
                    files[f"profiles.ev.{key}"] = getattr(ev, key)
        if m.network is not None:
            if m.network.file is not None:
                files["network.file"] = m.network.file
            for ps_id, grid in m.network.grids.items():
                if grid.file is not None:
                    files[f"network.grids.{ps_id}.file"] = grid.file
        for i, entry in enumerate(m.growth):
            if entry.weights is not None:
                files[f"growth.{i}.weights"] = entry.weights
        for tech in ("pv", "chp", "hydro", "biomass", "ev", "wind", "bess"):
            prof = getattr(m.profiles, tech)
            if (
                isinstance(prof, FileProfile | PvTmyProfile | PvDefaultProfile | BessProfile)
                and prof.file
            ):
                files[f"profiles.{tech}.file"] = prof.file
        return {k: self.resolve(v) for k, v in files.items()}

    def capability_overrides(self) -> dict[str, dict[str, dict[str, object]]]:
        """Study-file overrides of the grid-code parameters, unset fields left out."""
        return {
            tech: {lv: o.model_dump(exclude_none=True) for lv, o in per_level.items()}
            for tech, per_level in self.model.capability.items()
        }


def _line_of(text: str, loc: tuple) -> int | None:
    """1-based line of the TOML text that defines the longest prefix of a key path.

    Tables (``[a.b]``) and assignments (``key = ...``) are matched; a key that is missing
    points at its table's header. Returns None if nothing matches.
    """
    keys = [str(k) for k in loc if not isinstance(k, int)]
    header = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    assign = re.compile(r"^\s*([A-Za-z0-9_\-\"'.]+)\s*=")
    table: list[str] = []
    best_line, best_depth = None, 0
    for i, line in enumerate(text.splitlines(), start=1):
        if m := header.match(line):
            table = [t.strip().strip("\"'") for t in m.group(1).split(".")]
            path = table
        elif m := assign.match(line):
            path = table + [t.strip().strip("\"'") for t in m.group(1).split(".")]
        else:
            continue
        if len(path) > best_depth and keys[: len(path)] == path:
            best_line, best_depth = i, len(path)
    return best_line


def load_study(path: str | Path) -> Study:
    """Read and validate a study file.

    Parameters
    ----------
    path : str or pathlib.Path
        The TOML study file.

    Returns
    -------
    Study

    Raises
    ------
    AtlasInputError
        The file is missing, not TOML, or a key is missing, unknown or of the wrong value.
        Input files are checked for existence here; their content when they are read.
    """
    path = Path(path)
    if not path.is_file():
        raise AtlasInputError(path, "", f"{_not_a_file(path)}, expected the study's TOML file")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")  # a BOM (Windows editors) is no key
    except UnicodeDecodeError as exc:  # TOML is UTF-8 (a Latin-1 editor's 'é' is not)
        raise AtlasInputError(
            path,
            "",
            f"byte 0x{data[exc.start]:02x} is not UTF-8 text, expected a UTF-8 TOML file "
            "(save it as UTF-8)",
            line=data.count(b"\n", 0, exc.start) + 1,
        ) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise AtlasInputError(
            path, "", f"not valid TOML ({exc})", line=int(m.group(1)) if m else None
        ) from None
    try:
        model = StudyModel.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        if loc[:1] == ("profiles",) and len(loc) >= 3 and loc[2] in _UNION_TAGS:
            loc = loc[:2] + loc[3:]  # drop pydantic's union tag ('file', 'clearsky', ...)
        msg = err["msg"]
        if err["type"] == "missing":
            msg = "missing, a value is required"
        elif err["type"] == "extra_forbidden":
            msg = "unknown key, see docs/study-file.md for the keys"
        elif err["type"] == "union_tag_invalid":
            given = err.get("input")
            tag = given.get("source") if isinstance(given, dict) else given
            msg = f"unknown source {tag!r}, expected one of {err['ctx']['expected_tags']}"
            loc = (*loc, "source")
        key = ".".join(str(k) for k in loc)
        msg = msg.removeprefix("Value error, ")
        # a check across keys (a model validator) names its key as "dotted.key: problem"
        if m := re.match(r"^([A-Za-z_][\w-]*(?:\.[\w-]+)+): (.*)$", msg):
            if not loc or ".".join(map(str, loc)) in ("", "inputs"):
                loc = tuple(m.group(1).split("."))
                key, msg = m.group(1), m.group(2)
        raise AtlasInputError(path, key, msg, line=_line_of(text, loc)) from None
    study = Study(path.resolve(), model)
    for key, file in study.input_files().items():
        if not file.is_file():
            raise AtlasInputError(
                path,
                key,
                f"{_not_a_file(file)}: {file}, expected a data file",
                line=_line_of(text, tuple(key.split("."))),
            )
    return study


def _not_a_file(path: Path) -> str:
    """Why a path is no file to read: missing, a folder, or a device or pipe."""
    if not path.exists():
        return "file not found"
    if path.is_dir():
        return "is a folder"
    return "is not a regular file"


_UNION_TAGS = {"file", "clearsky", "tmy", "pvgis", "default", "polynomial", "none", "shapes"}
