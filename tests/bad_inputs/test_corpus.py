"""A corpus of bad inputs: each case is the tiny study with one defect, and the exit code and
message ``atlas validate`` must give (the file, the row or key, what is expected).

Each case names the files it changes (a new text, bytes, or a function of the default text)
and what must come out. Cases are added here as the input readers learn to name a defect
that used to end in a traceback or pass silently.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import STUDY_TOML
from map_fixtures import with_register

from atlas.cli import main

# the tiny study's EV source swapped for shapes allocated by a weight table
EV_FILE = '[profiles.ev]\nsource = "file"\nfile = "ev.csv"\n'
EV_SHAPES = (
    '[profiles.ev]\nsource = "shapes"\nenergy_mwh = { "2030" = 100.0 }\n'
    'allocate = "table"\nweights = "weights.csv"\n'
)


def ev_by_weights(text: str) -> str:
    assert EV_FILE in text
    return text.replace(EV_FILE, EV_SHAPES)


@dataclass
class Case:
    """One defect: the study's changed files, and the exit code and message it gives."""

    id: str
    code: int
    message: list[str]
    toml: object = None  # None: unchanged; str: new text; callable: of the default text
    files: dict[str, str | bytes] = field(default_factory=dict)  # extra or replaced files
    register: bool = False  # the study with a DER register and Voronoi areas (REGISTER)
    edits: dict[str, object] = field(default_factory=dict)  # make_study's file overrides


CASES = [
    Case(
        "study-latin1",
        2,
        ["study.toml:2: ", "byte 0xe9 is not UTF-8 text, expected a UTF-8 TOML file"],
        files={"study.toml": STUDY_TOML.replace("\n", "\n# caff\xe9\n", 1).encode("latin-1")},
    ),
    Case("study-bom", 0, ["ok: study"], toml=lambda t: "\ufeff" + t),
    Case(
        "ev-weights-empty-file",
        2,
        ["weights.csv: ", "cannot be read as CSV"],
        toml=ev_by_weights,
        files={"weights.csv": ""},
    ),
    Case(
        "ev-weights-header-only",
        2,
        ["weights.csv: holds no rows, expected a row (ps_id, weight) per PS with a weight"],
        toml=ev_by_weights,
        files={"weights.csv": "ps_id,weight\n"},
    ),
    Case(
        "ev-weights-text-value",
        2,
        ["weights.csv:3: row 2, column weight: got 'abc', expected a finite number >= 0"],
        toml=ev_by_weights,
        files={"weights.csv": "ps_id,weight\n001,1\nN,abc\n"},
    ),
    Case(
        "ev-weights-negative",
        2,
        ["weights.csv:2: row 1, column weight: got '-1', expected a finite number >= 0"],
        toml=ev_by_weights,
        files={"weights.csv": "ps_id,weight\n001,-1\n"},
    ),
    Case(
        "ev-weights-unknown-id-that-looks-like-a-number",
        2,
        ["weights.csv:3: row 2, ps_id: '1' is not in the substations file"],
        toml=ev_by_weights,
        files={"weights.csv": "ps_id,weight\n001,1\n1,2\n"},
    ),
    Case(
        "ev-weights-id-NA-is-text",
        2,
        ["weights.csv:2: row 1, ps_id: 'NA' is not in the substations file"],
        toml=ev_by_weights,
        files={"weights.csv": "ps_id,weight\nNA,1\n"},
    ),
    Case(
        "ev-weights-duplicate-id",
        2,
        ["weights.csv:3: rows 1 and 2, ps_id: duplicate 'N', expected each ps_id once"],
        toml=ev_by_weights,
        files={"weights.csv": "ps_id,weight\nN,1\nN,2\n"},
    ),
    Case(
        "ev-weights-missing-column",
        2,
        ["weights.csv:1: header: missing column 'weight'"],
        toml=ev_by_weights,
        files={"weights.csv": "ps_id,w\nN,1\n"},
    ),
    Case(
        "ev-weights-latin1",
        2,
        ["weights.csv:3: byte 0xe9 is not UTF-8 text, expected a UTF-8 CSV"],
        toml=ev_by_weights,
        files={"weights.csv": "ps_id,weight\nN,1\n# caff\xe9\n".encode("latin-1")},
    ),
]

CASES += [
    Case(
        "capacity-without-a-scenario",
        2,
        [
            "capacity.csv: scenario: no row for scenario '2030', expected rows for every "
            "scenario of the study ['as-is', '2030']"
        ],
        files={"capacity.csv": "scenario,ps_id,technology,capacity_mw,level\nas-is,N,pv,3,MV\n"},
    ),
]


# the tiny study with a register of plausible installations instead of its capacity table
REGISTER = (
    "der_id,name,technology,capacity_kw,level,location,scenario,lat,lon\n"
    "D1,,pv,800,MV,,,45.461,9.151\n"
    "D2,,chp,5000,MV,,,45.459,9.149\n"
    "D3,,hydro,150,MV,,,45.501,9.201\n"
    "D4,,pv,6,LV,,,45.499,9.199\n"
    "D5,,pv,4.5,LV,,2030,45.421,9.191\n"
    "D6,,ev,22,LV,work,,45.462,9.152\n"
)
BOUNDARY = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[9.1, 45.39], [9.26, 45.39], [9.26, 45.54], [9.1, 45.54], [9.1, 45.39]]
                ],
            },
        }
    ],
}


def areas_geojson(crs: str, scale: float = 1.0, ring_of=None) -> str:
    """Service areas of the three PS as a GeoJSON declaring ``crs``, coordinates x ``scale``."""
    boxes = {
        "001": [[9.1, 45.39], [9.18, 45.39], [9.18, 45.48], [9.1, 45.48], [9.1, 45.39]],
        "N": [[9.18, 45.48], [9.26, 45.48], [9.26, 45.54], [9.18, 45.54], [9.18, 45.48]],
        "S": [[9.18, 45.39], [9.26, 45.39], [9.26, 45.48], [9.18, 45.48], [9.18, 45.39]],
    }
    if ring_of is not None:
        boxes = {k: ring_of(k, v) for k, v in boxes.items()}
    features = [
        {
            "type": "Feature",
            "properties": {"ps_id": k},
            "geometry": (
                None
                if ring is None
                else {"type": "Polygon", "coordinates": [[[x * scale, y * scale] for x, y in ring]]}
            ),
        }
        for k, ring in boxes.items()
    ]
    return json.dumps(
        {
            "type": "FeatureCollection",
            "crs": {"type": "name", "properties": {"name": crs}},
            "features": features,
        }
    )


def with_areas(text: str) -> str:
    return with_register(text).replace(
        'boundary = "boundary.geojson"', 'service_areas = "areas.geojson"'
    )


TOML_EV_BY_POINTS = '[profiles.ev]\nsource = "shapes"\nenergy_mwh = { "2030" = 100.0 }\n'


def ev_by_points(text: str) -> str:
    assert EV_FILE in text
    return text.replace(EV_FILE, TOML_EV_BY_POINTS)


def accept(check: str):
    return lambda t: t + f'\n[checks]\naccept = ["{check}"]\n'


def cells(old: str, new: str, count: int = 1):
    """An edit of a default file's text: ``old`` replaced by ``new`` (checked present)."""

    def edit(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, count)

    return edit


def lines_without(pick):
    return lambda t: "".join(ln for i, ln in enumerate(t.splitlines(True)) if not pick(i, ln))


def boundary_of(box: tuple[float, float, float, float], keep: bool = False) -> str:
    """A boundary GeoJSON of the square (lon0, lat0, lon1, lat1), after BOUNDARY's
    polygon if ``keep``."""
    x0, y0, x1, y1 = box
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    square = {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
    kept = BOUNDARY["features"] if keep else []
    return json.dumps({**BOUNDARY, "features": [*kept, square]})


def register_edit(old: str, new: str) -> dict[str, str]:
    assert old in REGISTER, old
    return {"ders.csv": REGISTER.replace(old, new)}


HEADER = REGISTER.splitlines()[0] + "\n"
IN_MW = REGISTER
for _kw in ("800", "5000", "150", "6", "4.5", "22"):
    IN_MW = IN_MW.replace(f",{_kw},", f",{float(_kw) / 1000:g},")


def load_in_kw(text: str) -> str:
    """Every P and Q of the load x 1000 (kW and kvar under the MW and Mvar headers)."""
    lines = text.splitlines()
    out = [lines[0]]
    for line in lines[1:]:
        time, ps_id, p, q = line.split(",")
        out.append(f"{time},{ps_id},{float(p) * 1000:g},{float(q) * 1000:g}")
    return "\n".join(out) + "\n"


CASES += [
    # --- the DER register --------------------------------------------------------------------
    Case("register-ok", 0, ["ok: study"], register=True),
    Case(
        "register-header-only",
        2,
        ["ders.csv: holds no installation, expected one row (or point) per DER installation"],
        register=True,
        files={"ders.csv": HEADER},
    ),
    Case(
        "register-1e9-kw",
        2,
        [
            "ders.csv:3: row 2, capacity_kw: 1 installation(s) beyond the plausible size",
            "chp MV installation of 1e+06 MW above 10 MW",
            "accept = ['der_max_mw']",
        ],
        register=True,
        files=register_edit("D2,,chp,5000", "D2,,chp,1e9"),
    ),
    Case(
        "register-kw-values-under-a-capacity_mw-header",
        2,
        [
            "ders.csv:7: rows 4, 5 and 6, capacity_mw: 3 of 3 LV installations are beyond the LV "
            "limit (their median is 6 MW), which looks like kW"
        ],
        register=True,
        files={"ders.csv": REGISTER.replace("capacity_kw", "capacity_mw")},
    ),
    Case(
        "register-mw-values-under-a-capacity_kw-header",
        2,
        ["ders.csv: capacity_kw: the typical LV installation is 0.006 kW", "which looks like MW"],
        register=True,
        files={"ders.csv": IN_MW},
    ),
    Case(
        "register-large-plant-accepted-is-a-warning",
        0,
        [
            "warning: ",
            "ders.csv:3: row 2, capacity_kw: 1 installation(s) beyond",
            "of 50 MW above 10 MW",
            "(accepted)",
            "ok: study",
        ],
        register=True,
        toml=accept("der_max_mw"),
        files=register_edit("D2,,chp,5000", "D2,,chp,50000"),
    ),
    Case(
        "register-every-point-outside",
        2,
        [
            "ders.csv: none of its 6 installations lies in a service area (the nearest is",
            "check that the register, the areas and the substations cover the same place",
        ],
        register=True,
        files={"ders.csv": REGISTER.replace(",45.", ",55.")},
    ),
    Case(
        "register-unknown-technology",
        2,
        [
            "ders.csv:3: row 2, technology: 'tidal', expected one of ['pv', 'chp', 'biomass', "
            "'hydro', 'wind', 'bess', 'statcom', 'ev']"
        ],
        register=True,
        files=register_edit(",chp,", ",tidal,"),
    ),
    Case(
        "register-negative-capacity",
        2,
        ["ders.csv:4: row 3, capacity_kw: '-150', expected a number >= 0"],
        register=True,
        files=register_edit(",150,", ",-150,"),
    ),
    Case(
        "register-duplicate-der-id",
        2,
        ["ders.csv:4: rows 1 and 3, der_id: duplicate 'D1'"],
        register=True,
        files=register_edit("D3,", "D1,"),
    ),
    Case(
        "register-latitude-out-of-range",
        2,
        ["ders.csv:4: row 3: lat/lon '95.501', '9.201', expected WGS84 degrees"],
        register=True,
        files=register_edit("45.501", "95.501"),
    ),
    Case(
        "register-unknown-level",
        2,
        ["ders.csv:4: row 3, level: 'HV', expected one of ['MV', 'LV']"],
        register=True,
        files=register_edit("150,MV", "150,HV"),
    ),
    Case(
        "register-unknown-scenario",
        2,
        ["ders.csv:6: row 5, scenario: '2040', expected empty (all scenarios) or one of"],
        register=True,
        files=register_edit(",2030,", ",2040,"),
    ),
    Case(
        "register-semicolons",
        2,
        ["ders.csv:1: header: one column 'der_id;name;", "separated by ';', expected commas"],
        register=True,
        files={"ders.csv": REGISTER.replace(",", ";")},
    ),
    Case(
        "register-utf16",
        2,
        ["ders.csv: is UTF-16 text, expected a UTF-8 CSV"],
        register=True,
        files={"ders.csv": REGISTER.encode("utf-16")},
    ),
    Case(
        "register-latin1",
        2,
        ["ders.csv:2: byte 0xe8 is not UTF-8 text, expected a UTF-8 CSV"],
        register=True,
        files={
            "ders.csv": REGISTER.replace(
                "D1,,", "D1,Centrale Sant'Agata sul Santerno caff\xe8,"
            ).encode("latin-1")
        },
    ),
    Case(
        "register-bom-and-crlf",
        0,
        ["ok: study"],
        register=True,
        files={"ders.csv": ("\ufeff" + REGISTER.replace("\n", "\r\n")).encode()},
    ),
    Case(
        "register-control-character-in-a-name",
        2,
        ["ders.csv:3: row 2, name: control character U+001B", "expected printable text"],
        register=True,
        files=register_edit("D2,,", "D2,Plant\x1b[31m,"),
    ),
    Case(
        "register-name-of-10000-characters",
        2,
        ["ders.csv:3: row 2, name: 10000 characters long, expected at most 200"],
        register=True,
        files=register_edit("D2,,", "D2," + "x" * 10_000 + ","),
    ),
    Case(
        "register-one-technology-with-ev-by-charging-points",
        2,
        [
            "ders.csv: technology: no charging point (technology ev) for scenario '2030' among its "
            "5 installations (technologies: chp, hydro, pv)"
        ],
        register=True,
        toml=ev_by_points,
        files=register_edit("D6,,ev,22,LV,work,,45.462,9.152\n", ""),
    ),
    # --- service areas -------------------------------------------------------------------
    Case(
        "areas-projected-crs-holding-degrees",
        2,
        [
            "areas.geojson: crs: the service areas layer declares the projected CRS EPSG:32632 but "
            "every coordinate lies within +-180/+-90",
            "looks like longitude/latitude degrees",
        ],
        register=True,
        toml=with_areas,
        files={"areas.geojson": areas_geojson("urn:ogc:def:crs:EPSG::32632")},
    ),
    Case(
        "areas-geographic-crs-holding-metres",
        2,
        [
            "areas.geojson: crs: the service areas layer declares the geographic CRS",
            "which looks like metres",
        ],
        register=True,
        toml=with_areas,
        files={"areas.geojson": areas_geojson("urn:ogc:def:crs:OGC:1.3:CRS84", scale=10_000.0)},
    ),
    Case(
        "areas-self-intersecting",
        2,
        ["areas.geojson: feature 2: invalid geometry (Self-intersection"],
        register=True,
        toml=with_areas,
        files={
            "areas.geojson": areas_geojson(
                "urn:ogc:def:crs:OGC:1.3:CRS84",
                ring_of=lambda k, r: [r[0], r[2], r[1], r[3], r[0]] if k == "N" else r,
            )
        },
    ),
    Case(
        "areas-empty-geometry",
        2,
        ["areas.geojson: feature 3: empty geometry, expected a service areas geometry"],
        register=True,
        toml=with_areas,
        files={
            "areas.geojson": areas_geojson(
                "urn:ogc:def:crs:OGC:1.3:CRS84", ring_of=lambda k, r: None if k == "S" else r
            )
        },
    ),
    # --- substations -------------------------------------------------------------------------
    Case(
        "substations-duplicate-id",
        2,
        ["substations.csv:5: row 4, ps_id: duplicate ps_id 'N', expected each PS once"],
        edits={"substations": lambda t: t + "N,Nord2,45.51,9.21,100\n"},
    ),
    Case(
        "substations-header-only",
        2,
        ["substations.csv: no substation, expected at least one row"],
        edits={"substations": "ps_id,name,lat,lon,rated_mva\n"},
    ),
    Case(
        "substations-rating-in-kva",
        2,
        [
            "substations.csv:3: row 2, rated_mva: a rating of 200000 MVA, beyond any primary "
            "substation (at most 1000 MVA, [checks] ps_rated_mva_max): a rating in kVA?"
        ],
        edits={"substations": cells(",200\n", ",200000\n")},
    ),
    Case(
        "substations-rating-text",
        2,
        ["substations.csv:3: row 2, column rated_mva: got 'abc', expected a finite number >= 0"],
        edits={"substations": cells(",200\n", ",abc\n")},
    ),
    Case(
        "substations-control-character",
        2,
        ["substations.csv:3: row 2, name: control character U+0007"],
        edits={"substations": cells("Nord", "No\x07rd")},
    ),
    Case(
        "substations-name-of-10000-characters",
        2,
        ["substations.csv:3: row 2, name: 10000 characters long, expected at most 200"],
        edits={"substations": cells("Nord", "N" * 10_000)},
    ),
    Case(
        "substations-one-site-twice-for-voronoi",
        2,
        ["substations.csv: sites: substations 001, N share one site"],
        register=True,
        edits={"substations": cells("45.50,9.20", "45.46,9.15")},
    ),
    # --- capacity table ----------------------------------------------------------------------
    Case(
        "capacity-in-kw-under-capacity_mw",
        2,
        [
            "capacity.csv: ps_id '001', scenario 'as-is': 10004 MW of DER under a PS rated 120 MVA "
            "(rated_mva in ",
            "substations.csv), 83.4 times its rating; expected at most 3 times",
            "accept = ['ps_capacity_max_ratio']",
        ],
        edits={"capacity": cells(",10,", ",10000,")},
    ),
    Case(
        "capacity-beyond-the-rating-accepted",
        0,
        ["warning: ", "capacity.csv: ps_id '001', scenario 'as-is': 10004 MW", "(accepted)"],
        toml=accept("ps_capacity_max_ratio"),
        edits={"capacity": cells(",10,", ",10000,")},
    ),
    Case(
        "capacity-unknown-technology",
        2,
        ["capacity.csv:4: row 3, technology: 'tidal' expected one of"],
        edits={"capacity": cells("hydro", "tidal")},
    ),
    Case(
        "capacity-duplicate-key",
        2,
        ["capacity.csv:14: row 13: duplicate key (as-is, 001, pv, MV)"],
        edits={"capacity": lambda t: t + "as-is,001,pv,1,MV\n"},
    ),
    Case(
        "capacity-infinite",
        2,
        ["capacity.csv:4: row 3, column capacity_mw: got inf, expected a finite number >= 0"],
        edits={"capacity": cells(",1.5,", ",inf,")},
    ),
    # --- load --------------------------------------------------------------------------------
    Case(
        "load-gap",
        2,
        [
            "load.csv: ps_id=001: missing stamp 2030-01-01T09:00:00Z, expected all 8760 hours of 2030"
        ],
        edits={"load": lines_without(lambda i, ln: i == 10)},
    ),
    Case(
        "load-duplicate-hour",
        2,
        ["load.csv:12: row 11, ps_id=001: duplicate stamp 2030-01-01T09:00:00Z"],
        edits={"load": lambda t: "".join(t.splitlines(True)[:11] + t.splitlines(True)[10:])},
    ),
    Case(
        "load-local-stamps-without-zone",
        2,
        ["load.csv:2: row 1, time: got '2030-01-01T00:00:00', expected an ISO 8601 UTC stamp"],
        edits={"load": lambda t: t.replace("Z,", ",")},
    ),
    Case(
        "load-15-minute-data",
        2,
        ["load.csv:3: row 2, time: stamp '2030-01-01T00:15:00Z' is not an hour of the 2030 axis"],
        edits={"load": lambda t: t.replace("T01:00:00Z", "T00:15:00Z", 1)},
    ),
    Case(
        "load-a-ps-missing",
        2,
        ["load.csv: ps_id=S: no row for this substation, expected its 8760 hours of 2030"],
        edits={"load": lines_without(lambda i, ln: ",S," in ln)},
    ),
    Case(
        "areas-boundary-without-polygons",
        2,
        [
            "boundary.geojson: every service area is empty: the boundary holds no polygon around "
            "the substations"
        ],
        register=True,
        files={"boundary.geojson": '{"type": "FeatureCollection", "features": []}'},
    ),
    Case(
        "areas-boundary-far-from-the-substations",
        2,
        ["boundary.geojson: 3 of 3 substations of ", "lie more than 50 km from the boundary"],
        register=True,
        files={"boundary.geojson": json.dumps(BOUNDARY).replace("45.", "55.")},
    ),
    Case(
        "load-in-kw",
        2,
        [
            "load.csv: ps_id=",
            "times its rating (2 other PS too); expected at most 2 times",
            "kW and kvar where MW and Mvar are expected?",
        ],
        edits={"load": load_in_kw},
    ),
    # --- per-unit profiles, EV ---------------------------------------------------------------
    Case(
        "profile-above-one",
        2,
        ["pv.csv:101: row 100, column pu: got 1.5, expected a finite number >= 0.0 and <= 1.0"],
        edits={
            "pv": lambda t: "".join(
                ln if i != 100 else "1.5\n" for i, ln in enumerate(t.splitlines(True))
            )
        },
    ),
    Case(
        "profile-in-percent",
        2,
        ["pv.csv:", "column pu: got", "expected a finite number >= 0.0 and <= 1.0"],
        edits={
            "pv": lambda t: "pu\n" + "".join(f"{float(v) * 100:g}\n" for v in t.splitlines()[1:])
        },
    ),
    Case(
        "profile-one-hour-short",
        2,
        ["pv.csv: rows: 8759 rows, expected 8760 (one per hour of the study axis)"],
        edits={"pv": lambda t: "".join(t.splitlines(True)[:-1])},
    ),
    Case(
        "ev-unknown-location",
        2,
        ["ev.csv:2: row 1, location: 'garage' expected one of ['home', 'work', 'b2c', 'public']"],
        edits={"ev": cells("work", "garage")},
    ),
    Case(
        "ev-half-hour-stamp",
        2,
        ["ev.csv:2: row 1, time: stamp '2030-01-01T09:30:00Z' is not an hour of the 2030 axis"],
        edits={"ev": cells("2030-01-01T09:00:00Z", "2030-01-01T09:30:00Z")},
    ),
    # --- found by a fresh corpus written without this file ----------------------------------
    Case(
        "substations-a-column-twice",
        2,
        ["substations.csv:1: header: column 'rated_mva' appears twice, expected each column once"],
        edits={
            "substations": lambda t: (
                t.replace("rated_mva\n", "rated_mva,rated_mva\n", 1)
                .replace(",120\n", ",120,1\n")
                .replace(",200\n", ",200,1\n")
                .replace(",376\n", ",376,1\n")
            )
        },
    ),
    Case(
        "substations-rated-zero",
        2,
        ["substations.csv:3: row 2, rated_mva: 0, expected the transformers' rating > 0 [MVA]"],
        edits={"substations": cells(",200\n", ",0\n")},
    ),
    Case(
        "substations-lat-lon-swapped",
        2,
        [
            "substations.csv:3: row 2, ps_id 'N': ",
            "km from the boundary of ",
            "(lat and lon swapped?)",
        ],
        register=True,
        edits={"substations": cells("45.50,9.20", "9.20,45.50")},
    ),
    Case(
        "boundary-with-a-stray-polygon",
        2,
        ["boundary.geojson: polygon 2: ", "km from the nearest substation of "],
        register=True,
        files={"boundary.geojson": boundary_of((12.4, 41.8, 12.6, 41.95), keep=True)},
    ),
    Case(
        "boundary-a-tiny-square-around-one-substation",
        2,
        ["boundary.geojson: 2 of 3 service areas are empty and none of the 6 installations of "],
        register=True,
        files={"boundary.geojson": boundary_of((9.1899, 45.4199, 9.1901, 45.4201))},
    ),
    Case(
        "growth-weights-text-value",
        2,
        ["gw.csv:3: row 2, column weight: got 'abc', expected a finite number >= 0"],
        register=True,
        toml=lambda t: (
            t
            + (
                '\n[[growth]]\nscenario = "2030"\ntechnology = "pv"\nadded_mw = 1.0\n'
                'allocate = "weight"\nweights = "gw.csv"\n'
            )
        ),
        files={"gw.csv": "ps_id,weight\n001,1\nN,abc\n"},
    ),
    Case(
        "register-one-point-outside-is-a-warning",
        0,
        [
            "warning: ",
            "ders.csv:2: row 1: 1 of 6 installations (0.8 MW) lie outside every service area",
            "ok: study",
        ],
        register=True,
        files=register_edit("D1,,pv,800,MV,,,45.461,9.151", "D1,,pv,800,MV,,,0,0"),
    ),
    Case(
        "register-location-on-pv-is-a-warning",
        0,
        [
            "warning: ",
            "ders.csv:5: row 4, location/v2g: 1 installation(s) of another technology than ev "
            "give a location or a v2g (the first a 'pv' row): not used",
            "ok: study",
        ],
        register=True,
        files=register_edit("D4,,pv,6,LV,,,", "D4,,pv,6,LV,home,,"),
    ),
    Case(
        "capacity-bess-without-energy",
        2,
        [
            "capacity.csv:14: row 13, technology: a bess row without energy_mwh, expected the "
            "battery's usable energy in a column energy_mwh"
        ],
        edits={"capacity": lambda t: t + "2030,S,bess,10,MV\n"},
    ),
    Case(
        "capacity-energy-on-a-pv-row",
        2,
        [
            "capacity.csv:2: row 1, energy_mwh: '5' on a 'pv' row, expected an energy only on "
            "bess rows"
        ],
        edits={
            "capacity": lambda t: t.replace("level\n", "level,energy_mwh\n", 1).replace(
                "as-is,001,pv,4,MV\n", "as-is,001,pv,4,MV,5\n", 1
            )
        },
    ),
    Case(
        "register-bess-energy-text",
        2,
        ["ders.csv:8: row 7, energy_kwh: got 'lots', expected a finite number >= 0"],
        register=True,
        files={
            "ders.csv": REGISTER.replace("lat,lon\n", "lat,lon,energy_kwh\n", 1)
            .replace("\n", ",\n")
            .replace("energy_kwh,\n", "energy_kwh\n")
            + "B1,,bess,2000,MV,,,45.462,9.152,lots\n"
        },
    ),
    Case(
        "bess-schedule-out-of-range",
        2,
        ["sched.csv:3: row 2, column pu: got 1.5, expected a finite number >= -1.0 and <= 1.0"],
        toml=lambda t: t + '\n[profiles.bess]\nsource = "file"\nfile = "sched.csv"\n',
        files={"sched.csv": "time,pu\n2030-01-01T00:00:00Z,0\n2030-01-01T01:00:00Z,1.5\n"},
    ),
    Case(
        "bess-schedule-file-key-without-source",
        2,
        ["study.toml", "'file' is only read with source = 'file', not 'idle'"],
        toml=lambda t: t + '\n[profiles.bess]\nfile = "sched.csv"\n',
    ),
    Case(
        "wind-capacity-without-a-profile",
        2,
        [
            "capacity.csv: technology: wind capacity (3 MW under PS 'S' in scenario '2030') "
            "without a wind profile"
        ],
        edits={"capacity": lambda t: t + "2030,S,wind,3,MV\n"},
    ),
    Case(
        "register-truncated-gzip",
        2,
        ["ders.csv.gz: cannot be read as CSV (Compressed file ended before the end-of-stream"],
        register=True,
        toml=lambda t: t.replace('ders = "ders.csv"', 'ders = "ders.csv.gz"'),
        files={"ders.csv.gz": gzip.compress(REGISTER.encode() * 200, mtime=0)[:400]},
    ),
    Case(
        "load-text-that-reads-as-missing",
        2,
        ["load.csv:6: row 5, column p_mw: got empty or a missing-value word (NA, n/a, null...)"],
        edits={
            "load": lambda t: "".join(
                ln if i != 5 else ",".join([*ln.split(",")[:2], "n/a", ln.split(",")[3]])
                for i, ln in enumerate(t.splitlines(True))
            )
        },
    ),
    Case(
        "study-year-as-a-boolean",
        2,
        ["study.toml:3: study.year: Input should be a valid integer"],
        toml=lambda t: t.replace("year = 2030", "year = true"),
    ),
    Case(
        "study-input-path-is-a-folder",
        2,
        ["study.toml:9: inputs.load: is a folder: ", "expected a data file"],
        toml=lambda t: t.replace('load = "load.csv"', 'load = "."'),
    ),
    Case(
        "study-nan-coefficient",
        2,
        ["profiles.chp.coefficients.0: Input should be a finite number"],
        toml=lambda t: t.replace(
            '[profiles.chp]\nsource = "file"\nfile = "chp.csv"',
            '[profiles.chp]\nsource = "polynomial"\ncoefficients = [nan, 0, 0, 0, 0, 0]',
        ),
    ),
    Case(
        "study-infinite-threshold",
        2,
        ["screening.threshold_mw: Input should be a finite number"],
        toml=lambda t: t + "\n[screening]\nthreshold_mw = inf\n",
    ),
    Case(
        "ev-shapes-pointing-at-another-table",
        2,
        ["substations.csv:1: header: missing column 'location', expected location, day_type"],
        toml=lambda t: ev_by_weights(t).replace(
            'weights = "weights.csv"\n', 'weights = "weights.csv"\nshapes = "substations.csv"\n'
        ),
        files={"weights.csv": "ps_id,weight\n001,1\nN,1\n"},
    ),
    # --- the study file ----------------------------------------------------------------------
    Case(
        "study-unknown-key",
        2,
        ["study.toml:3: study.nme: unknown key, see docs/study-file.md for the keys"],
        toml=lambda t: t.replace('name = "tiny"', 'name = "tiny"\nnme = "x"'),
    ),
    Case(
        "study-unknown-check-accepted",
        2,
        ["study.toml:35: checks.accept: unknown check 'everything', expected some of"],
        toml=accept("everything"),
    ),
    Case(
        "study-unknown-level-limit",
        2,
        ["checks.der_max_mw: unknown key 'HV', expected a level ['MV', 'LV'] or technology.level"],
        toml=lambda t: t + "\n[checks]\nder_max_mw = { HV = 1.0 }\n",
    ),
    Case(
        "study-scenario-name-with-a-newline",
        2,
        [
            "scenarios.names: scenario name 'a\\nb': control character U+000A, expected printable text"
        ],
        toml=lambda t: t.replace('names = ["as-is", "2030"]', 'names = ["as-is", "a\\nb"]'),
    ),
    Case(
        "study-name-of-10000-characters",
        2,
        ["study.name: study name of 10000 characters, expected at most 200"],
        toml=lambda t: t.replace('name = "tiny"', 'name = "' + "t" * 10_000 + '"'),
    ),
    Case(
        "study-unknown-time-zone",
        2,
        ["study.toml:4: study.timezone: unknown time zone 'Europe/Milano'"],
        toml=lambda t: t.replace("Europe/Rome", "Europe/Milano"),
    ),
    Case(
        "study-missing-input-file",
        2,
        ["study.toml:9: inputs.load: file not found: ", "nope.csv"],
        toml=lambda t: t.replace("load.csv", "nope.csv"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, make_study, tmp_path):
    kwargs: dict = dict(case.edits)
    if case.register:
        kwargs["capacity"] = False
        kwargs["extra"] = {"ders.csv": REGISTER, "boundary.geojson": json.dumps(BOUNDARY)}
        base = case.toml if case.toml is not None else (lambda t: t)
        kwargs["toml"] = lambda t: base(with_register(t)) if callable(base) else base
    elif case.toml is not None:
        kwargs["toml"] = case.toml
    study = make_study(**kwargs)
    for name, content in case.files.items():
        target = Path(study).parent / name
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(study)])
    output = result.output  # stdout and stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    assert result.exit_code == case.code, output
    for fragment in case.message:
        assert fragment in output, output
    if case.code == 2:  # one line, no traceback
        assert output.count("\n") == 1 and output.startswith("error: "), output


@pytest.mark.parametrize("code", ["NA", "null", "None", "nan", "007", "1e3"])
def test_ids_and_names_that_look_like_missing_values_or_numbers_stay_text(
    code, make_study, tmp_path
):
    """PS ``N`` renamed to a code pandas would read as a missing value or a number (Napoli's
    province code ``NA``, say), in every table: the run keeps it as text, as its name too."""
    import pandas as pd

    from atlas.pipeline import run_study

    def rename(text: str) -> str:
        lines = text.splitlines(keepends=True)
        out = []
        for line in lines:
            cells = line.rstrip("\n").split(",")
            out.append(",".join(code if c in ("N", "Nord") else c for c in cells) + "\n")
        return "".join(out)

    study = make_study(substations=rename, capacity=rename, load=rename, ev=rename)
    run = run_study(study, out=tmp_path / "out", figures="none", webmap="none")
    assert code in run.screening["ps_id"].tolist()
    screening = pd.read_csv(tmp_path / "out" / "screening.csv", dtype=str, keep_default_na=False)
    row = screening[screening["ps_id"] == code]
    assert set(row["name"]) == {code} and set(row["scenario"]) == {"as-is", "2030"}


HOSTILE = {
    "001": '=HYPERLINK("http://x.example","click")',
    "N": "+cmd|' /C calc'!A0",
    "S": "@SUM(1,2)",
}


def test_spreadsheet_formulas_in_names_are_escaped_in_csv_only(make_study, tmp_path):
    """Names and ids that a spreadsheet would run as formulas get one apostrophe in the run's
    CSV files (numbers untouched); Parquet, the run loaded back and the report keep them
    exactly (escaped as HTML)."""
    import csv
    import io

    import pandas as pd

    from atlas.dataset import read_dataset
    from atlas.runfolder import Run

    def hostile(text: str) -> str:
        df = pd.read_csv(io.StringIO(text), dtype=str)
        df["name"] = df["ps_id"].map(HOSTILE)
        df["ps_id"] = df["ps_id"].replace({"001": "-2+3+cmd|x"})
        return df.to_csv(index=False, lineterminator="\n")

    def rename_id(text: str) -> str:
        return "".join(
            ",".join("-2+3+cmd|x" if c == "001" else c for c in line.split(",")) + "\n"
            for line in text.splitlines()
        )

    study = make_study(substations=hostile, capacity=rename_id, load=rename_id, ev=rename_id)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        ["run", "--config", str(study), "--out", str(out), "--format", "csv", "--figures", "none"],
    )
    assert result.exit_code == 0, result.output
    with open(out / "screening.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    names = {r["ps_id"]: r["name"] for r in rows}
    assert names == {
        "'-2+3+cmd|x": "'" + HOSTILE["001"],
        "N": "'" + HOSTILE["N"],
        "S": "'" + HOSTILE["S"],
    }
    text_columns = {"scenario", "ps_id", "name", "direction", "unit"}
    for row in rows:  # numbers (a negative one too) are not escaped
        for key, cell in row.items():
            if key not in text_columns and cell:
                assert not cell.startswith("'"), (key, cell)
    with open(out / "flexibility_hourly.csv", newline="") as fh:
        ids = {r["ps_id"] for r in csv.DictReader(fh)}
    assert ids == {"'-2+3+cmd|x", "N", "S"}
    hourly = read_dataset(out / "flexibility_hourly.parquet", columns=["ps_id"])
    assert set(hourly["ps_id"]) == {"-2+3+cmd|x", "N", "S"}
    run = Run.load(out)
    assert dict(zip(run.screening["ps_id"], run.screening["name"], strict=True)) == {
        "-2+3+cmd|x": HOSTILE["001"],
        "N": HOSTILE["N"],
        "S": HOSTILE["S"],
    }
    report = (out / "report.html").read_text()
    assert "=HYPERLINK(&#34;http" in report or "=HYPERLINK(&quot;http" in report
    assert '=HYPERLINK("http' not in report


def test_accepted_findings_are_listed_in_run_json(make_study, tmp_path):
    """A run that accepts two findings (one found while reading, one by the chunks) lists
    both in run.json and prints them; a run without findings lists none."""
    import json as _json

    from atlas.pipeline import run_study

    toml = lambda t: t + '\n[checks]\naccept = ["ps_capacity_max_ratio", "load_max_ratio"]\n'  # noqa: E731
    study = make_study(toml=toml, capacity=cells(",10,", ",10000,"), load=load_in_kw)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        ["run", "--config", str(study), "--out", str(out), "--figures", "none", "--map", "none",
         "--workers", "1", "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    warnings = _json.loads((out / "run.json").read_text())["warnings"]
    assert [w["check"] for w in warnings] == ["ps_capacity_max_ratio", "load_max_ratio"]
    assert warnings[0]["file"].endswith("capacity.csv") and warnings[0]["where"] == (
        "ps_id '001', scenario 'as-is'"
    )
    assert warnings[1]["file"].endswith("load.csv")
    assert "times its rating (2 other PS too)" in warnings[1]["problem"]
    assert result.output.count("warning: ") == 2
    clean = run_study(
        make_study(folder=tmp_path / "clean"), tmp_path / "out2", figures="none", webmap="none"
    )
    assert clean.manifest["warnings"] == []


def test_a_load_finding_stops_a_run_on_two_workers(make_study, tmp_path):
    """The load is checked chunk by chunk (a Parquet load is read so): a chunk's finding ends
    the run with the one-line error, whatever the engine, and no run folder is written."""
    study = make_study(load=load_in_kw)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        ["run", "--config", str(study), "--out", str(out), "--figures", "none", "--map", "none",
         "--workers", "2", "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and "load.csv: ps_id=" in result.output
    assert "expected at most 2 times ([checks] load_max_ratio)" in result.output
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_a_run_folder_missing_a_substation_is_one_error(make_study, tmp_path):
    """A row deleted by hand from a run's substations.csv: ``atlas screen`` names the table
    that no longer agrees (it ended in a KeyError)."""
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["run", "--config", str(make_study()), "--out", str(out), "--figures", "none",
               "--map", "none", "--workers", "1", "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    path = out / "substations.csv"
    path.write_text(
        "".join(ln for ln in path.read_text().splitlines(True) if not ln.startswith("S,"))
    )
    result = CliRunner().invoke(main, ["screen", str(out)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1
    assert "screening.csv: ps_id: ps_id 'S' is not in substations.csv" in result.output


def test_a_damaged_part_of_a_run_is_named_in_the_run_folder(make_study, tmp_path):
    """``atlas map`` on a run whose statistics part was emptied: the error names the file in
    the run folder, not its link in the update's staging folder (which is gone)."""
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["run", "--config", str(make_study()), "--out", str(out), "--figures", "none",
               "--map", "none", "--workers", "1", "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    part = sorted((out / "statistics.parquet").glob("*.parquet"))[0]
    part.write_bytes(b"")
    result = CliRunner().invoke(main, ["map", str(out)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: {out}/statistics.parquet/{part.name}: "), result.output
    assert "atlas-staging" not in result.output


def test_empty_lines_of_a_one_column_series_are_gaps(tmp_path):
    """``atlas profiles fit``: a one-column series with empty lines keeps its 8760 rows, the
    empty ones gaps (pandas drops blank lines by default)."""
    from atlas.timeseries.seasonal import read_measured

    values = ["0.5"] * 8760
    values[10] = values[20] = ""
    path = tmp_path / "measured.csv"
    path.write_text("pu\n" + "\n".join(values) + "\n")
    pu = read_measured(path)
    assert len(pu) == 8760
    assert sorted(int(i) for i in (pu != pu).nonzero()[0]) == [10, 20]


def test_an_out_that_is_a_file_is_one_error(make_study, tmp_path):
    """``--out`` naming a file: the atlas's one line (click's usage error had three)."""
    target = tmp_path / "results.txt"
    target.write_text("mine\n")
    result = CliRunner().invoke(
        main, ["run", "--config", str(make_study()), "--out", str(target), "--no-progress"]
    )
    assert result.exit_code == 2, result.output
    assert result.output == (
        f"error: {target}: cannot write into it (a file, not a folder), expected a folder you "
        "may write to (or choose another --out)\n"
    )
    assert target.read_text() == "mine\n"
