"""SimBench MV grids as atlas inputs: the grid, its yearly profiles in hours, its generators
as atlas technologies.

SimBench (Meinecke et al., Energies 2020; data under ODbL 1.0, the ``simbench`` package,
offline) ships German benchmark grids with 15-minute profiles of 2016 for every load and
generator. The atlas takes hourly means with 29 February dropped (2016 is a leap year; the
atlas's years have 8,760 hours).

Generators by SimBench type, as atlas technologies and grid-code levels (:data:`TECHNOLOGY`):
``PV_MV`` -> pv MV, ``Wind_MV`` -> wind MV, ``Biomass_MV`` -> biomass MV, ``Hydro_MV`` -> hydro
MV, and ``lv_RES``, the renewable generation of the LV grids below each MV/LV substation
aggregated by SimBench (mostly rooftop PV), -> pv LV (CEI 0-21's reactive range).

Needs the ``network`` extra (``pip install ".[network]"``: pandapower, simbench).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: SimBench generator type -> (atlas technology, grid-code level).
TECHNOLOGY = {
    "PV_MV": ("pv", "MV"),
    "Wind_MV": ("wind", "MV"),
    "Biomass_MV": ("biomass", "MV"),
    "Hydro_MV": ("hydro", "MV"),
    "lv_RES": ("pv", "LV"),
}

#: Quarter-hours in SimBench's profile year (2016, a leap year).
QUARTER_HOURS = 366 * 96


def hourly_means(quarter_hours: np.ndarray) -> np.ndarray:
    """SimBench's quarter-hours of 2016 as hourly means on the atlas's UTC axis of 2016.

    SimBench's profiles run in German clock time from 1 January 2016, 00:00 (the spring day
    has 92 values, the autumn day 100), so step k is the UTC instant 2015-12-31 23:00 plus
    k quarter-hours: hour j of their hourly means is UTC hour j - 1 of 2016. Row i of the
    result is UTC hour i of 2016 with 29 February dropped (:func:`atlas.inputs.timeaxis.hourly_axis`);
    the last hour of the year, which SimBench does not reach, takes its first one (31
    December 2015, 23:00 UTC, the same clock hour a year earlier).

    Parameters
    ----------
    quarter_hours : numpy.ndarray
        (35136, n) SimBench's values in their order.

    Returns
    -------
    numpy.ndarray
        (8760, n).

    Raises
    ------
    ValueError
        Not a year of quarter-hours of a leap year.
    """
    values = np.asarray(quarter_hours, dtype=float)
    if values.ndim != 2 or values.shape[0] != QUARTER_HOURS:
        raise ValueError(
            f"profiles of shape {values.shape}, expected ({QUARTER_HOURS}, n): the quarter-hours "
            "of 2016"
        )
    hours = values.reshape(-1, 4, values.shape[1]).mean(axis=1)  # (8784,), from 23:00 UTC
    utc = np.concatenate([hours[1:], hours[:1]])  # row h: UTC hour h of 2016
    feb29 = np.arange(59 * 24, 60 * 24)  # day 60 of a leap year
    return np.delete(utc, feb29, axis=0)


@dataclass
class SimbenchYear:
    """A SimBench grid and its year in hours.

    Attributes
    ----------
    code : str
    net : pandapower.pandapowerNet
    load_p, load_q : numpy.ndarray
        (8760, n_load) each load's hourly mean, load convention. [MW], [Mvar]
    gen_p : numpy.ndarray
        (8760, n_sgen) each generator's hourly mean. [MW]
    """

    code: str
    net: Any
    load_p: np.ndarray
    load_q: np.ndarray
    gen_p: np.ndarray

    def technologies(self) -> list[tuple[str, str]]:
        """Each generator's (technology, level) (:data:`TECHNOLOGY`).

        Raises
        ------
        ValueError
            A generator type the mapping does not know.
        """
        out = []
        for i, kind in zip(self.net.sgen.index, self.net.sgen["type"], strict=True):
            if kind not in TECHNOLOGY:
                raise ValueError(
                    f"SimBench grid {self.code}: generator {i} of type {kind!r}, expected one of "
                    + ", ".join(TECHNOLOGY)
                )
            out.append(TECHNOLOGY[kind])
        return out

    def limits(self, hours) -> dict[str, np.ndarray]:
        """Each generator's operating point and grid-code limits at ``hours``
        (:func:`atlas.engine.capability.box_disc_limits`): ``p0``, ``p_lo``, ``p_hi``,
        ``q_inject``, ``q_absorb``, each (n_hours, n_sgen), or (n_sgen,) for one hour given as an
        int; generator convention. The profile is clipped to [0, 1] of the rating. [MW],
        [Mvar]"""
        from atlas.engine.capability import box_disc_limits, default_parameters

        params = default_parameters()
        sn = self.ratings()
        out: dict[str, list[np.ndarray]] = {}
        for k, tech in enumerate(self.technologies()):
            pu = self.per_unit(hours, k, sn)
            for name, value in box_disc_limits(params[tech], sn[k], np.atleast_1d(pu)).items():
                out.setdefault(name, []).append(value)
        stacked = {name: np.stack(v, axis=-1) for name, v in out.items()}
        if isinstance(hours, int | np.integer):  # one hour: (n_sgen,)
            return {name: v[0] for name, v in stacked.items()}
        return stacked

    def deviation_sets(self, hours, box: bool = False) -> list[np.ndarray]:
        """Each generator's hourly deviation polygons at ``hours``: its grid-code set
        (:func:`atlas.engine.capability.box_disc_set`) or, with ``box``, the P-Q box without
        the circle (:func:`~atlas.engine.capability.box_set`, pandapower's OPF's variant).
        One (n_hours, n_vertices, 2) array per generator. [MW], [Mvar]"""
        from atlas.engine.capability import box_disc_set, box_set, default_parameters

        params = default_parameters()
        make = box_set if box else box_disc_set
        sn = self.ratings()
        out = []
        for k, tech in enumerate(self.technologies()):
            pu = np.atleast_1d(self.per_unit(hours, k, sn))
            vertices = make(params[tech], sn[k], pu).vertices
            assert vertices is not None  # both make polygons by default
            out.append(vertices)
        return out

    def per_unit(self, hours, k: int, sn: np.ndarray) -> np.ndarray:
        """Generator ``k``'s power at ``hours`` over its rating, within [0, 1]; 0 for a
        generator of no rating (SimBench lists a few with neither ``sn_mva`` nor ``p_mw``:
        nothing to offer)."""
        p = np.asarray(self.gen_p[hours, k], dtype=float)
        if not sn[k] > 0:
            return np.zeros_like(p)
        return np.clip(p / sn[k], 0.0, 1.0)

    def at_hour(self, h: int) -> None:
        """Set the network's loads and generators to hour ``h``: loads at their means,
        generators at the grid code's operating point (:meth:`limits`), reactive power 0."""
        self.net.load["p_mw"] = self.load_p[h]
        self.net.load["q_mvar"] = self.load_q[h]
        self.net.sgen["p_mw"] = self.limits(h)["p0"]
        self.net.sgen["q_mvar"] = 0.0

    def ratings(self) -> np.ndarray:
        """Each generator's apparent-power rating (its ``p_mw`` where SimBench gives none). [MVA]"""
        sn = self.net.sgen["sn_mva"].to_numpy(dtype=float)
        return np.where(sn > 0, sn, self.net.sgen["p_mw"].to_numpy(dtype=float))


def read_simbench(code: str) -> SimbenchYear:
    """A SimBench grid (its code, such as ``1-MV-semiurb--0-sw``) and its year in hours.

    Raises
    ------
    ValueError
        Not a SimBench grid code.
    """
    import simbench as sb

    if code not in sb.collect_all_simbench_codes():
        mv = [c for c in sb.collect_all_simbench_codes() if c.startswith("1-MV-") and "sw" in c]
        raise ValueError(
            f"{code!r} is not a SimBench grid code, expected one such as "
            + ", ".join(c for c in mv if c.endswith("--0-sw"))
        )
    net = sb.get_simbench_net(code)
    profiles = sb.get_absolute_values(net, profiles_instead_of_study_cases=True)
    return SimbenchYear(
        code=code,
        net=net,
        load_p=hourly_means(profiles[("load", "p_mw")].to_numpy()),
        load_q=hourly_means(profiles[("load", "q_mvar")].to_numpy()),
        gen_p=hourly_means(profiles[("sgen", "p_mw")].to_numpy()),
    )


def ps_exchange(year: SimbenchYear) -> tuple[np.ndarray, np.ndarray]:
    """The PS's hourly exchange with transmission, from an AC power flow of every hour.

    The grid's loads and generators (their profiles as they are) at each hour, every hour
    solved at once (:func:`atlas.network.powerflow.batch_voltages` on pandapower's admittance
    matrix); the exchange is the power the external grid injects at its bus, on the HV side of
    the HV/MV transformers, losses included.

    Returns
    -------
    p, q : numpy.ndarray
        (8760,) each, PS load convention: P > 0 from transmission into distribution, Q > 0
        absorbed by distribution. [MW], [Mvar]
    """
    import pandapower as pp

    from atlas.network.powerflow import batch_voltages

    net = year.net
    pp.runpp(net, numba=False)
    ppc = net._ppc["internal"]
    base = float(ppc["baseMVA"])
    lookup = net._pd2ppc_lookups["bus"]
    n_hours = len(year.load_p)
    s_bus = np.zeros((len(ppc["V"]), n_hours), dtype=complex)
    load_on = net.load["in_service"].to_numpy(dtype=bool)
    gen_on = net.sgen["in_service"].to_numpy(dtype=bool)
    load_s = (year.load_p + 1j * year.load_q) * net.load["scaling"].to_numpy(dtype=float)
    gen_s = year.gen_p * net.sgen["scaling"].to_numpy(dtype=float)
    np.add.at(s_bus, lookup[net.load.bus.to_numpy()[load_on]], -load_s[:, load_on].T / base)
    np.add.at(s_bus, lookup[net.sgen.bus.to_numpy()[gen_on]], gen_s[:, gen_on].T / base)
    ref = np.asarray(ppc["ref"])
    v = batch_voltages(ppc["Ybus"], ref, np.asarray(ppc["V"])[ref], s_bus)
    s_ref = (v[ref] * np.conj(ppc["Ybus"][ref] @ v)).sum(axis=0) * base
    return s_ref.real, s_ref.imag


#: SimBench's scenario digit -> the year its grid and generation describe.
SCENARIO_YEARS = {"0": "2016", "1": "2024", "2": "2034"}


def study_files(year: SimbenchYear) -> dict[str, str]:
    """The text of every file of an atlas study of a SimBench grid, by file name.

    One PS, the grid's HV/MV transformers (its id the grid's code; rated the sum of the
    transformers in service; at the external grid's bus's coordinates); one scenario named
    by the year SimBench's scenario describes; a DER register of every generator at its bus
    (its rating as capacity, its technology and level by :data:`TECHNOLOGY`, the bus's
    coordinates), the PS's service area around the grid's buses, and ``[network]`` naming the
    grid (docs/network.md); each technology's profile,
    its generators' power (each within [0, its rating]) over their summed rating; the PS
    load, the exchange with transmission from an AC power flow of every hour
    (:func:`ps_exchange`). Year 2016 (the profiles' own), time zone Europe/Berlin, no EV
    charging (SimBench's charging stations are loads of the grid, in the exchange).
    """
    from atlas.inputs.timeaxis import hourly_axis

    net = year.net
    code = year.code
    ps_id = code
    sc_year = SCENARIO_YEARS.get(code.split("--")[-1][:1], "2016")
    ext_bus = int(net.ext_grid["bus"].iloc[0])
    lon, lat = json.loads(net.bus.loc[ext_bus, "geo"])["coordinates"]
    on = net.trafo["in_service"].to_numpy(dtype=bool)
    rated = float((net.trafo["sn_mva"] * net.trafo["parallel"]).to_numpy()[on].sum())
    techs = year.technologies()
    sn = year.ratings()
    files: dict[str, str] = {}
    files["substations.csv"] = (
        "ps_id,name,lat,lon,rated_mva\n"
        f"{ps_id},SimBench {code} HV/MV,{lat:.6f},{lon:.6f},{rated:g}\n"
    )
    lonlat = {int(b): json.loads(g)["coordinates"][:2] for b, g in net.bus["geo"].items()}
    files["ders.csv"] = "der_id,name,technology,level,capacity_mw,lat,lon,bus\n" + "".join(
        f"sgen{i},{_csv_safe(name)} ({kind}),{t},{lv},{mw:.6f},{lonlat[int(b)][1]:.6f},"
        f"{lonlat[int(b)][0]:.6f},{int(b)}\n"
        for i, name, kind, b, (t, lv), mw in zip(
            net.sgen.index, net.sgen["name"], net.sgen["type"], net.sgen["bus"], techs, sn,
            strict=True,
        )
    )  # fmt: skip
    files["service_area.geojson"] = _service_area(np.array(list(lonlat.values())), ps_id)
    profiles = {}
    for tech in sorted({t for t, _ in techs}):
        cols = [k for k, (t, _) in enumerate(techs) if t == tech]
        # each generator within [0, its rating] first (SimBench's wind turbines draw a
        # little at standstill: no generation to curtail), as the per-generator sets do
        power = np.clip(year.gen_p[:, cols], 0.0, sn[cols])
        rated = sn[cols].sum()
        profiles[tech] = (
            np.clip(power.sum(axis=1) / rated, 0.0, 1.0) if rated > 0 else 0 * power[:, 0]
        )
        files[f"{tech}.csv"] = "pu\n" + "".join(f"{x:.9g}\n" for x in profiles[tech])
    p, q = ps_exchange(year)
    stamps = hourly_axis(2016).strftime("%Y-%m-%dT%H:%M:%SZ")
    files["load.csv"] = "time,ps_id,p_mw,q_mvar\n" + "".join(
        f"{t},{ps_id},{a:.6f},{b:.6f}\n" for t, a, b in zip(stamps, p, q, strict=True)
    )
    sections = "".join(
        f"\n[profiles.{tech}]\n# {tech} power of the grid's generators over their rating\n"
        f'source = "file"\nfile = "{tech}.csv"\n'
        for tech in sorted(profiles)
    )
    files["study.toml"] = f"""\
# An atlas study of SimBench's MV grid {code}, written by `atlas import simbench {code}`.
# SimBench (Meinecke et al., Energies 13(12) 3290, 2020): a German benchmark grid with its
# loads, generators and 15-minute profiles of 2016, (c) University of Kassel, TU Dortmund,
# RWTH Aachen, Fraunhofer IEE, Open Database License 1.0; these files are a derivative
# database under the same licence. Hourly means on the UTC axis of 2016, 29 February dropped
# (docs/network.md, "A SimBench study").

[study]
name = "simbench-{code}"
year = 2016
timezone = "Europe/Berlin"
description = "SimBench MV grid {code} (ODbL 1.0): its HV/MV transformers as one PS, its generators by technology, the PS load from an AC power flow of every hour of 2016."

[inputs]
# the HV/MV transformers in service, at the external grid's bus
substations = "substations.csv"
# every generator of the grid at its bus, its rating as capacity (SimBench type ->
# technology: PV_MV pv MV, Wind_MV wind MV, Biomass_MV biomass MV, Hydro_MV hydro MV,
# lv_RES pv LV)
ders = "ders.csv"
# the convex hull of the grid's buses, 500 m around
service_areas = "service_area.geojson"
# the exchange with transmission from an AC power flow of every hour (load convention)
load = "load.csv"
{sections}
[profiles.ev]
# SimBench's charging stations are loads of the grid: in the PS load already
source = "none"

[scenarios]
# the year SimBench's scenario {code.split("--")[-1][:1]} describes
names = ["{sc_year}"]

[checks]
# lv_RES rows are the generation of whole LV grids, which SimBench aggregates, not single
# installations of CEI 0-21's size
der_max_mw = {{ LV = {max(10.0, float(np.ceil(sn.max()))):g} }}

[network]
# network-aware figures on the grid itself (docs/network.md); its loads at SimBench's profiles
simbench = "{code}"
"""
    return files


def _csv_safe(text) -> str:
    """A name as one CSV cell (SimBench's names have no commas or quotes; made sure)."""
    return str(text).replace(",", " ").replace('"', "")


def _service_area(lonlat: np.ndarray, ps_id: str) -> str:
    """The PS's service area as GeoJSON: the convex hull of the grid's buses, 500 m around
    (in the UTM zone of their centre), 1e-6 degrees precise."""
    import geopandas as gpd
    import shapely

    points = gpd.GeoSeries(shapely.points(lonlat), crs="EPSG:4326")
    utm = points.estimate_utm_crs()
    hull = gpd.GeoSeries([points.to_crs(utm).union_all().convex_hull.buffer(500.0)], crs=utm)
    area = shapely.set_precision(hull.to_crs("EPSG:4326").iloc[0], 1e-6)
    feature = {
        "type": "Feature",
        "properties": {"ps_id": ps_id},
        "geometry": json.loads(shapely.to_geojson(area)),
    }
    return json.dumps({"type": "FeatureCollection", "features": [feature]}) + "\n"


def write_study(code: str, out: Path, force: bool = False) -> list[Path]:
    """Write an atlas study of a SimBench MV grid into ``out`` (:func:`study_files`).

    Raises
    ------
    AtlasInputError
        ``out`` a file, or holding one of the study's files without ``force``; an unknown
        code.
    """
    from atlas.errors import AtlasInputError
    from atlas.files import write_text_atomic

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise AtlasInputError(out, "", "is a file, expected a folder (new or existing)")
    fixed = ("study.toml", "substations.csv", "ders.csv", "load.csv")
    for name in () if force else fixed:  # before the 10-20 s of reading and power flows
        if (out / name).exists():
            raise AtlasInputError(
                out / name,
                "",
                "already exists, expected a folder without the study's files; choose "
                "another folder or overwrite them with --force",
            )
    try:
        year = read_simbench(code)
    except ValueError as exc:
        raise AtlasInputError(None, "CODE", str(exc)) from None
    files = study_files(year)
    if not force:
        for name in files:
            if (out / name).exists():
                raise AtlasInputError(
                    out / name,
                    "",
                    "already exists, expected a folder without the study's files; choose "
                    "another folder or overwrite them with --force",
                )
    out.mkdir(parents=True, exist_ok=True)
    return [write_text_atomic(out / name, text) for name, text in files.items()]
