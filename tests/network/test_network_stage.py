"""The network-aware stage of a study (atlas.network.stage): a pandapower feeder given as a
file, the register's DERs placed on its buses, the year's network-aware figures in the run
folder, and its checks."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest

network = pytest.mark.network

#: The feeder's buses: (lon, lat); bus 0 is the HV side of the PS, bus 1 its MV busbar.
BUS_LONLAT = [(9.180, 45.460), (9.181, 45.460), (9.200, 45.460), (9.220, 45.460),
              (9.240, 45.460), (9.260, 45.460)]  # fmt: skip


def _feeder(path) -> None:
    """A 110/20 kV transformer and a 20 kV feeder of four 1.6 km lines, a load at each bus."""
    import pandapower as pp

    net = pp.create_empty_network()
    buses = [
        pp.create_bus(net, vn_kv=110.0 if i == 0 else 20.0, name=f"b{i}", geodata=xy)
        for i, xy in enumerate(BUS_LONLAT)
    ]
    pp.create_ext_grid(net, buses[0], vm_pu=1.03)
    pp.create_transformer(net, buses[0], buses[1], std_type="40 MVA 110/20 kV")
    for a, b in itertools.pairwise(buses[1:]):
        pp.create_line(net, a, b, length_km=1.6, std_type="NA2XS2Y 1x240 RM/25 12/20 kV")
    for b in buses[2:]:
        pp.create_load(net, b, p_mw=1.0, q_mvar=0.3)
    pp.create_sgen(net, buses[3], p_mw=0.5)  # the file's own generator: taken out
    pp.to_json(net, str(path))


def _study(
    folder, v_max: float = 1.035, ders: str | None = None, extra: str = "", two: bool = False
) -> None:
    """A one-PS study (ps_id 007) on the feeder, two scenarios, a register of five DERs;
    with ``two``, PS 008 beside it (the east half of the area) on a copy of the feeder."""
    folder.mkdir(parents=True, exist_ok=True)
    _feeder(folder / "feeder.json")
    (folder / "substations.csv").write_text(
        "ps_id,name,lat,lon,rated_mva\n007,Feeder PS,45.460,9.180,40\n"
        + ("008,East PS,45.460,9.270,40\n" if two else "")
    )
    east = 9.225 if two else 9.28
    square = [[9.17, 45.45], [east, 45.45], [east, 45.47], [9.17, 45.47], [9.17, 45.45]]
    other = [[east, 45.45], [9.28, 45.45], [9.28, 45.47], [east, 45.47], [east, 45.45]]
    (folder / "areas.geojson").write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"ps_id": ps_id},
                        "geometry": {"type": "Polygon", "coordinates": [ring]},
                    }
                    for ps_id, ring in [("007", square), ("008", other)][: 2 if two else 1]
                ],
            }
        )
    )
    (folder / "ders.csv").write_text(
        ders
        or (
            "der_id,technology,level,capacity_mw,lat,lon,bus,scenario\n"
            "pv1,pv,MV,3.0,45.4605,9.2195,,\n"  # nearest: bus 3 (about 60 m)
            "chp1,chp,MV,2.0,45.4650,9.2000,5,\n"  # bus given: 5, far from its point
            "pv2,pv,LV,0.1,45.4600,9.2010,,\n"  # nearest: bus 2
            "far,pv,MV,1.0,45.4690,9.2300,,\n"  # about 1 km from every bus
            "pv3,pv,MV,4.0,45.4601,9.2601,,2030\n"  # nearest: bus 5, in 2030 only
        )
    )
    hours = pd.date_range("2025-01-01", periods=8760, freq="h", tz="UTC")
    p = 4.0 + 1.5 * np.sin(np.arange(8760) * 2 * np.pi / 24)
    pd.concat(
        pd.DataFrame(
            {
                "time": hours.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "ps_id": ps_id,
                "p_mw": p.round(6),
                "q_mvar": 1.0,
            }
        )
        for ps_id in ["007", "008"][: 2 if two else 1]
    ).to_csv(folder / "load.csv", index=False)
    (folder / "study.toml").write_text(
        f"""[study]
name = "feeder"
year = 2025

[inputs]
substations = "substations.csv"
service_areas = "areas.geojson"
ders = "ders.csv"
load = "load.csv"

[scenarios]
names = ["2025", "2030"]

[network{"" if not two else ".grids.007"}]
file = "feeder.json"
{"" if not two else "[network.grids.008]" + chr(10) + 'file = "feeder.json"' + chr(10) + "[network]" + chr(10)}v_max = {v_max}
check_hours = 8
{extra}"""
    )


@pytest.fixture(scope="module")
def feeder_run(tmp_path_factory):
    pytest.importorskip("pandapower", reason="the network extra is not installed")
    from atlas.pipeline import run_study

    folder = tmp_path_factory.mktemp("feeder")
    _study(folder / "study")
    run = run_study(folder / "study" / "study.toml", folder / "run", figures="none", webmap="none")
    return run, folder


@network
def test_the_ders_are_placed_on_their_given_or_nearest_bus(feeder_run):
    from pyproj import Geod

    run, _ = feeder_run
    placed = run.placement.set_index("der_id")
    geod = Geod(ellps="WGS84")
    register = pd.read_csv(feeder_run[1] / "study" / "ders.csv").set_index("der_id")
    for der in ("pv1", "pv2", "far", "pv3"):  # brute force over the MV buses, on the ellipsoid
        lat, lon = register.loc[der, ["lat", "lon"]]
        d = [geod.inv(lon, lat, x, y)[2] for x, y in BUS_LONLAT[1:]]
        nearest = 1 + int(np.argmin(d))
        assert placed.loc[der, "distance_m"] == pytest.approx(min(d), rel=2e-3)  # UTM vs geodesic
        if der == "far":
            assert min(d) > 1000 and placed.loc[der, "placed"] == "far"
            assert placed.loc[der, "bus"] == -1
        else:
            assert placed.loc[der, "placed"] == "nearest" and placed.loc[der, "bus"] == nearest
    assert placed.loc["chp1", ["bus", "placed", "distance_m"]].tolist() == [5, "given", 0.0]
    assert list(run.placement["ps_id"].unique()) == ["007"]  # text, not 7
    notes = run.manifest["network"]["ps"]["007"]["notes"]
    assert any("1 static generators taken out" in n for n in notes)


@network
def test_network_aware_figures_are_the_blind_ones_unless_a_limit_binds(feeder_run):
    """Where no network limit binds, the network-aware figure is the engine's network-blind
    figure (the groups split over the buses add up to the groups); where one binds it is
    lower; never above."""
    from atlas.conventions import FIGURES
    from atlas.runfolder import Run

    run, folder = feeder_run
    net = run.network_hourly
    blind = run.hourly.set_index(["scenario", "ps_id", "time"])
    aware = net.set_index(["scenario", "ps_id", "time"]).reindex(blind.index)
    assert len(net) == 2 * 8760 and aware.notna().all().all()
    bound_somewhere = 0
    for fig in FIGURES:
        a, b = aware[f"{fig}_net"].to_numpy(), blind[fig].to_numpy()
        binding = aware[f"{fig}_binding"].to_numpy()
        assert np.all(a <= b + 1e-9)
        free = binding == ""
        np.testing.assert_allclose(a[free], b[free], atol=1e-6)
        bound_somewhere += int((~free).sum())
        assert np.all(a[~free] >= 0)
    assert bound_somewhere > 100  # v_max 1.035 binds upward Q
    q_up = aware["q_up_mvar_binding"]
    assert q_up.str.startswith("v_max").sum() > 100
    # the AC power flow of the dispatch at the sampled hours keeps the limits
    for scenario, info in run.manifest["network"]["ps"]["007"]["scenarios"].items():
        checks = info["ac_checks"]
        assert len(checks["hours"]) == 8, scenario
        for d in ("p_up", "p_down", "q_up", "q_down"):
            assert checks[d]["violations"] == [] and checks[d]["not_converged"] == []
    # more resources in 2030 (pv3): more upward Q, network-blind
    means = run.manifest["network"]["ps"]["007"]["scenarios"]
    assert means["2030"]["mean_blind"]["q_up_mvar"] > means["2025"]["mean_blind"]["q_up_mvar"]
    again = Run.load(folder / "run")  # read back from the folder
    pd.testing.assert_frame_equal(again.network_hourly, net)
    assert again.placement.equals(run.placement)


@network
def test_a_register_bus_that_is_not_in_the_network_is_named(tmp_path):
    pytest.importorskip("pandapower", reason="the network extra is not installed")
    from atlas.errors import AtlasInputError
    from atlas.pipeline import run_study

    _study(
        tmp_path,
        ders="der_id,technology,level,capacity_mw,lat,lon,bus\n"
        "pv1,pv,MV,3.0,45.4605,9.2195,\npv9,pv,MV,1.0,45.4605,9.2195,b9\n",
    )
    with pytest.raises(AtlasInputError) as err:
        run_study(tmp_path / "study.toml", figures="none", webmap="none")
    text = str(err.value)
    assert "ders.csv:3: bus (der_id 'pv9')" in text and "'b9'" in text


def test_network_settings_are_checked(tmp_path):
    """The [network] section: one source per grid, a band that makes sense, the shorthand
    for one PS only (no network extra needed to be refused)."""
    from atlas.errors import AtlasInputError
    from atlas.inputs.study import NetworkSection, load_study

    _study_text = """[study]
name = "x"
year = 2025

[inputs]
substations = "s.csv"
capacity = "c.csv"
load = "l.csv"

[scenarios]
names = ["2025"]

[network]
"""
    for body, needle in [
        ('file = "a.json"\nsimbench = "1-MV-rural--0-sw"\n', "not both"),
        ("v_min = 1.0\n", "v_min"),
        ('[network.grids.A]\nfile = "a.json"\nsimbench = "x"\n', "exactly one of file"),
        ("check_hours = 2.5\n", "check_hours"),
    ]:
        path = tmp_path / "study.toml"
        path.write_text(_study_text + body)
        with pytest.raises(AtlasInputError) as err:
            load_study(path)
        assert needle in str(err.value), (body, str(err.value))
    section = NetworkSection(file="a.json")
    with pytest.raises(ValueError, match="the study has 2 PS"):
        section.grid_of(["A", "B"])
    assert list(section.grid_of(["A"])) == ["A"]
    with pytest.raises(ValueError, match="unknown ps_id 'C'"):
        NetworkSection(grids={"C": {"file": "c.json"}}).grid_of(["A", "B"])


def test_sampled_hours_are_half_binding_and_distinct():
    from atlas.network.stage import sample_hours

    bound = np.zeros(8760, dtype=bool)
    bound[100:110] = True
    hours = sample_hours(bound, 8, seed=0)
    assert len(hours) == len(set(hours)) == 8 and np.all(np.diff(hours) > 0)
    assert np.sum(bound[hours]) >= 4
    assert np.array_equal(hours, sample_hours(bound, 8, seed=0))  # the same study, the same hours
    assert len(sample_hours(np.zeros(5, dtype=bool), 8, seed=0)) == 5


@network
def test_the_screening_on_the_network_aware_figures(feeder_run, tmp_path):
    """``atlas screen --figures-basis network`` ranks the PS with a network by its
    network-aware figures (the firm value: the 877th smallest of the 8760 hours at 0.90),
    and back to ``blind`` gives the network-blind screening again."""
    import shutil

    from click.testing import CliRunner

    from atlas.cli import main
    from atlas.runfolder import Run

    run, folder = feeder_run
    copy = tmp_path / "run"
    shutil.copytree(folder / "run", copy)
    blind = Run.load(copy).screening
    result = CliRunner().invoke(main, ["screen", str(copy), "--figures-basis", "network"])
    assert result.exit_code == 0, result.output
    screened = Run.load(copy)
    assert screened.settings["figures_basis"] == "network"
    net = run.network_hourly
    for row in screened.screening.itertuples():
        fig = f"{row.direction}_{row.unit.lower()}"
        values = net.loc[net["scenario"] == row.scenario, f"{fig}_net"].to_numpy()
        assert row.firm == pytest.approx(np.sort(values)[876], abs=1e-12)
        assert row.mean == pytest.approx(values.mean(), rel=1e-12)
    drawn = CliRunner().invoke(main, ["map", str(copy), "--offline"])
    assert drawn.exit_code == 0, drawn.output
    page = (copy / "map.html").read_text()
    assert "network-aware figures for 1 PS with an MV network (007)" in page
    q_up = screened.screening.query("direction == 'q_up'")["firm"].to_numpy()
    assert np.all(q_up < blind.query("direction == 'q_up'")["firm"].to_numpy())
    back = CliRunner().invoke(main, ["screen", str(copy), "--figures-basis", "blind"])
    assert back.exit_code == 0, back.output
    pd.testing.assert_frame_equal(Run.load(copy).screening, blind)


def test_the_network_basis_needs_a_network(make_study, tmp_path):
    from atlas.errors import AtlasInputError
    from atlas.pipeline import run_study

    with pytest.raises(
        AtlasInputError, match=r"--figures-basis: network, but the study has no \[network\]"
    ):
        run_study(make_study(), figures="none", webmap="none", figures_basis="network")
    with pytest.raises(ValueError, match="expected one of"):
        run_study(make_study(), figures_basis="grid")


@network
def test_two_networks_in_two_workers_give_the_same_bytes(tmp_path):
    """PS 007 and 008 each with a network: one worker (here) and two (the engine's worker
    processes, one PS each) write the same network files, byte for byte."""
    pytest.importorskip("pandapower", reason="the network extra is not installed")
    from atlas.pipeline import run_study

    _study(tmp_path / "study", v_max=1.05, two=True)
    runs = {}
    for workers in (1, 2):
        out = tmp_path / f"run{workers}"
        runs[workers] = run_study(
            tmp_path / "study" / "study.toml", out, workers=workers, figures="none", webmap="none"
        )
    assert set(runs[2].manifest["network"]["ps"]) == {"007", "008"}
    assert runs[2].network_hourly["ps_id"].unique().tolist() == ["007", "008"]
    for name in ("network_hourly.parquet", "network_placement.csv", "screening.csv"):
        assert (tmp_path / "run1" / name).read_bytes() == (tmp_path / "run2" / name).read_bytes()


@network
def test_a_capacity_table_puts_each_group_at_the_busbar_and_says_so(tmp_path):
    """Without a register nothing can be placed: each DER group stands at the busbar (the MV
    side of the HV/MV transformer), and `atlas run` says so; the figures still add up to
    the network-blind ones where no limit binds."""
    pytest.importorskip("pandapower", reason="the network extra is not installed")
    from click.testing import CliRunner

    from atlas.cli import main
    from atlas.runfolder import Run

    _study(tmp_path, v_max=1.05)
    (tmp_path / "capacity.csv").write_text(
        "scenario,ps_id,technology,capacity_mw\n2025,007,pv,3\n2030,007,pv,5\n"
    )
    toml = (tmp_path / "study.toml").read_text()
    toml = toml.replace('ders = "ders.csv"\n', 'capacity = "capacity.csv"\n')
    (tmp_path / "study.toml").write_text(toml.replace('service_areas = "areas.geojson"\n', ""))
    out = tmp_path / "run"
    result = CliRunner().invoke(
        main, ["run", "--config", str(tmp_path / "study.toml"), "--out", str(out),
               "--figures", "none", "--map", "none", "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "network 007 (file feeder.json, 6 buses): DERs on buses 0 given" in result.output
    assert "note: 2030: pv/MV has no placed DER of the register, at the busbar (bus 1)" in (
        result.output
    )
    run = Run.load(out)
    aware = run.network_hourly.set_index(["scenario", "time"])["p_down_mw_net"]
    blind = run.hourly.set_index(["scenario", "time"])["p_down_mw"]
    free = run.network_hourly.set_index(["scenario", "time"])["p_down_mw_binding"] == ""
    np.testing.assert_allclose(aware[free], blind.reindex(aware.index)[free], atol=1e-6)
    assert len(run.placement) == 0
