"""Built-in profiles: physical sanity against independent computations."""

from pathlib import Path

import numpy as np
import pandas as pd
import pvlib
import pytest
from numpy.testing import assert_allclose

from atlas.inputs.timeaxis import hourly_axis
from atlas.timeseries.pv import (
    PvSystem,
    Tmy,
    clearsky_ineichen,
    daily_from_monthly,
    linke_turbidity_climatology,
    linke_turbidity_from_tmy,
    move_to_mid_hour,
    pv_clearsky,
    pv_tmy,
    read_tmy,
    solar_position_sites,
    sun_above_horizon,
)
from atlas.timeseries.seasonal import (
    BIOMASS_BASE_PU,
    BIOMASS_MAINTENANCE_PU,
    biomass_profile,
    default_coefficients,
    fit_polynomial,
    polynomial_profile,
    scaled_hour,
)

MILAN = (45.4642, 9.19)


@pytest.fixture(scope="module")
def tmy():
    return read_tmy()


@pytest.fixture(scope="module")
def pv(tmy):
    """Clear sky at Milan on the study axis (the middle of each hour), default settings."""
    return pv_clearsky(hourly_axis(2030), [MILAN[0]], [MILAN[1]], tmy=tmy)[0]


def test_pv_range_and_night(pv):
    axis = hourly_axis(2030)
    assert pv.shape == (8760,)
    assert pv.min() >= 0.0 and pv.max() <= 1.0
    elevation = pvlib.solarposition.get_solarposition(axis + pd.Timedelta(minutes=30), *MILAN)[
        "elevation"
    ]
    assert np.all(pv[elevation.to_numpy() <= 0] == 0.0)
    assert np.all(pv[elevation.to_numpy() > 10] > 0.0)


def test_pv_peaks_at_solar_noon(pv):
    """Mean output by UTC hour peaks at the hour holding solar noon (~11:20 UTC at 9.19 E)."""
    axis = hourly_axis(2030)
    for month in (1, 7):
        m = axis.month == month
        by_hour = pd.Series(pv[m]).groupby(axis.hour[m]).mean()
        # the stamp's hour covers [h, h+1); solar noon 11:23 UTC +- 15 min (equation of time)
        assert by_hour.idxmax() in (10, 11)


def test_pv_clear_sky_yield_is_plausible(pv):
    """A clear-sky year on a 30-degree south plane, 14 % losses: above a typical year's
    (about 1,370 kWh/kWp from the shipped TMY) but below the ~2,100 of a cloudless desert."""
    yield_kwh_per_kwp = pv.sum()
    assert 1500 < yield_kwh_per_kwp < 2100


def test_pv_losses_scale_linearly_below_clipping(tmy):
    axis = hourly_axis(2030)
    site = [MILAN[0]], [MILAN[1]]
    a = pv_clearsky(axis, *site, PvSystem(system_losses=0.0, dc_ac_ratio=0.5), tmy=tmy)
    b = pv_clearsky(axis, *site, PvSystem(system_losses=0.5, dc_ac_ratio=0.5), tmy=tmy)
    assert_allclose(b, 0.5 * a)


def test_linke_climatology_is_pvlibs_lookup():
    """The grid read once for many sites equals pvlib's per-site lookup, month by month."""
    mid_month = pd.date_range("2030-01-01", periods=12, freq="MS", tz="UTC") + pd.Timedelta(days=14)
    lats, lons = [45.4642, 37.5, -33.9, 64.1, 0.04, 89.99], [9.19, 15.1, 151.2, -21.9, -179.99, 0.0]
    got = linke_turbidity_climatology(lats, lons)
    assert got.shape == (6, 12)
    for i, (lat, lon) in enumerate(zip(lats, lons, strict=True)):
        ref = pvlib.clearsky.lookup_linke_turbidity(mid_month, lat, lon, interp_turbidity=False)
        assert_allclose(got[i], ref.to_numpy(), rtol=0, atol=1e-12)


def test_daily_interpolation_pins_mid_month_and_wraps():
    monthly = np.arange(1.0, 13.0)  # 1 in January ... 12 in December
    times = pd.DatetimeIndex(
        ["2030-01-16", "2030-07-16 12:00", "2030-12-31", "2030-01-01"], tz="UTC"
    )
    got = daily_from_monthly(times, monthly)
    # 16 January and mid-July are pinned; 31 Dec and 1 Jan lie between December (day 350)
    # and January (day 16 + 365): weights by the day of year
    assert_allclose(got[:2], [1.0, 7.0])
    assert_allclose(got[2], 12.0 + (1.0 - 12.0) * (365 - 350) / (381 - 350))
    assert_allclose(got[3], 12.0 + (1.0 - 12.0) * (366 - 350) / (381 - 350))


def test_turbidity_retrieval_inverts_ineichen(tmy):
    """A TMY whose GHI is Ineichen's clear sky for known monthly TL gives those TL back."""
    import dataclasses

    axis = hourly_axis(2030)
    times = axis + pd.Timedelta(hours=tmy.time_offset_h)
    true_tl = np.linspace(2.2, 4.4, 12)
    location = pvlib.location.Location(tmy.latitude, tmy.longitude, altitude=tmy.altitude_m)
    solpos = pvlib.solarposition.get_solarposition(times, tmy.latitude, tmy.longitude)
    am = location.get_airmass(solar_position=solpos)["airmass_absolute"]
    tl = pd.Series(true_tl[axis.month - 1], index=times)
    cs = pvlib.clearsky.ineichen(
        solpos["apparent_zenith"],
        am,
        tl,
        tmy.altitude_m,
        pvlib.irradiance.get_extra_radiation(times),
        perez_enhancement=True,
    )
    data = tmy.data.copy()
    data["ghi"] = cs["ghi"].fillna(0.0).to_numpy()
    clear = dataclasses.replace(tmy, data=data)
    # to the ~1e-3 deg agreement of pvlib's get_solarposition with solar_position_sites
    assert_allclose(linke_turbidity_from_tmy(clear), true_tl, rtol=1e-4)


def test_calibrated_turbidity_is_below_the_climatology_in_milan(tmy):
    """The climatology (TL 3.2-5.4 at Milan) is hazier than the satellite TMY's clear hours."""
    retrieved = linke_turbidity_from_tmy(tmy)
    climatology = linke_turbidity_climatology([tmy.latitude], [tmy.longitude])[0]
    assert np.all(retrieved < climatology)
    assert np.all((retrieved > 2.0) & (retrieved < 3.5))


def test_fixed_turbidity_and_bad_values(tmy):
    axis = hourly_axis(2030)
    site = [MILAN[0]], [MILAN[1]]
    clear = pv_clearsky(axis, *site, turbidity=np.full(12, 2.0), tmy=tmy)
    hazy = pv_clearsky(axis, *site, turbidity=np.full(12, 6.0), tmy=tmy)
    assert clear.sum() > 1.15 * hazy.sum()
    with pytest.raises(ValueError, match="12 monthly"):
        pv_clearsky(axis, *site, turbidity=np.full(11, 3.0), tmy=tmy)
    with pytest.raises(ValueError, match="calibrated"):
        pv_clearsky(axis, *site, turbidity="hazy", tmy=tmy)


@pytest.fixture(scope="module")
def tmy_pv(tmy):
    return pv_tmy(hourly_axis(2030), [MILAN[0]], [MILAN[1]], tmy)[0]


def test_tmy_yield_and_night(tmy_pv, pv, tmy):
    """Milan, 30 deg south, 14 % losses, from the shipped PVGIS TMY (45 N 8 E, 2005-2023).

    PVGIS 5.3 gives 1,369 kWh/kWp for Milan at its optimal 39 deg tilt (docs/profiles.md);
    this model gives 1,368 at 30 deg and 1,380 at 39 deg."""
    assert 1150 < tmy_pv.sum() < 1400  # kWh/kWp
    assert tmy_pv.sum() < pv.sum()  # clear sky yields more than the typical year
    assert tmy_pv.min() >= 0.0 and tmy_pv.max() <= 1.0
    times = hourly_axis(2030) + pd.Timedelta(hours=0.5)  # PV stands for the hour's middle
    elevation = pvlib.solarposition.get_solarposition(times, *MILAN)["elevation"].to_numpy()
    assert np.all(tmy_pv[elevation <= 0] == 0.0)
    at_39 = pv_tmy(hourly_axis(2030), [MILAN[0]], [MILAN[1]], tmy, PvSystem(tilt_deg=39.0))
    assert at_39.sum() == pytest.approx(1369, rel=0.03)


def test_clear_sky_bounds_the_tmy(tmy_pv, tmy):
    """Hour by hour, at the middle of each hour: the clear sky is the upper envelope.

    Relative excess over 10 % is confined to hours with the sun at grazing incidence on the
    plane (AOI > 75 deg), where output is diffuse light and a bright overcast sky beats a
    clear one (docs/profiles.md gives the figures)."""
    axis = hourly_axis(2030)
    times = axis + pd.Timedelta(hours=0.5)
    clear = pv_clearsky(axis, [MILAN[0]], [MILAN[1]], tmy=tmy)[0]
    solpos = pvlib.solarposition.get_solarposition(times, *MILAN)
    day = solpos["elevation"].to_numpy() > 0
    aoi = pvlib.irradiance.aoi(30, 180, solpos["apparent_zenith"], solpos["azimuth"]).to_numpy()
    facing = day & (aoi < 75)
    over = tmy_pv > 1.1 * clear
    assert (over & facing).sum() < 0.01 * facing.sum()
    assert ((tmy_pv > clear + 0.10) & day).sum() < 0.01 * day.sum()  # 10 % of the AC rating
    assert tmy_pv.sum() < clear.sum()


def test_tmy_is_the_pvgis_year_in_axis_order():
    tmy = read_tmy()
    assert (tmy.latitude, tmy.longitude) == (45.0, 8.0)
    assert tmy.time_offset_h == pytest.approx(0.1761)
    assert len(tmy.data) == 8760 and tmy.data["ghi"].iloc[:8].sum() == 0.0  # January nights
    assert tmy.data["ghi"].sum() / 1000 == pytest.approx(1435.9, abs=0.1)  # kWh/m2, from the file


def test_chp_default_is_winter_high_within_paper_range():
    axis = hourly_axis(2030)
    pu = polynomial_profile(default_coefficients()["chp"])
    assert pu.min() >= 0.29 and pu.max() <= 0.71  # seed paper: within about 0.3-0.7 pu
    monthly = pd.Series(pu).groupby(axis.month).mean()
    assert monthly.idxmax() == 1 and monthly.idxmin() == 7


def test_hydro_default_peaks_late_winter():
    axis = hourly_axis(2030)
    pu = polynomial_profile(default_coefficients()["hydro"])
    monthly = pd.Series(pu).groupby(axis.month).mean()
    assert monthly.idxmax() in (2, 3)
    assert 0.0 <= pu.min() and pu.max() <= 1.0


def test_biomass_default_dip_in_first_half_of_august():
    axis = hourly_axis(2030)
    pu = biomass_profile(axis, "Europe/Rome")
    local = (axis + pd.Timedelta(minutes=30)).tz_convert("Europe/Rome")
    in_dip = (local.month == 8) & (local.day <= 14)
    assert np.all(pu[in_dip] == BIOMASS_MAINTENANCE_PU)
    assert np.all(pu[~in_dip] == BIOMASS_BASE_PU)


def test_fit_reproduces_a_fifth_degree_series():
    coefficients = (0.41, 1.7, -6.2, 9.9, -7.3, 2.05)
    x = scaled_hour()
    y = sum(c * x**k for k, c in enumerate(coefficients))  # independent evaluation
    fit = fit_polynomial(y)
    assert_allclose(fit.coefficients, coefficients, atol=1e-9)
    assert_allclose(np.polyval(fit.coefficients[::-1], x), y, atol=1e-9)
    assert fit.r2 == pytest.approx(1.0, abs=1e-12)


def test_fit_skips_gaps_and_profiles_are_clipped():
    x = scaled_hour()
    y = 0.5 + 0.8 * (x - 0.5)  # a line from 0.1 to 0.9
    y[100:200] = np.nan
    fit = fit_polynomial(y)
    assert fit.n == 8660
    assert_allclose(fit.coefficients[:2], (0.1, 0.8), atol=1e-9)
    pu = polynomial_profile((1.5, -3.0, 0, 0, 0, 0))  # from 1.5 down to -1.5: clipped
    assert pu.max() == 1.0 and pu.min() == 0.0


def test_wrong_number_of_coefficients():
    with pytest.raises(ValueError, match="expected 6 coefficients"):
        polynomial_profile((1.0, 2.0))


def test_profiles_fit_command(tmp_path):
    from click.testing import CliRunner

    from atlas.cli import main
    from atlas.timeseries.seasonal import read_coefficients

    coefficients = (0.3, 2.0, -5.0, 6.0, -3.5, 0.6)
    x = scaled_hour()
    mw = 12.0 * sum(c * x**k for k, c in enumerate(coefficients))
    series = pd.Series(mw)
    series[500:510] = np.nan  # a gap
    series.to_frame("p_mw").to_csv(tmp_path / "measured.csv", index=False)
    args = ["profiles", "fit", "hydro", str(tmp_path / "measured.csv"), "--column", "p_mw"]
    result = CliRunner().invoke(main, [*args, "--sn-mva", "12", "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert_allclose(
        read_coefficients(tmp_path / "o" / "hydro_coefficients.csv")["hydro"],
        coefficients,
        atol=1e-9,
    )
    assert (tmp_path / "o" / "hydro_fit.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "o")])  # MW read as per unit
    assert bad.exit_code == 2 and "outside [0, 1] per unit" in bad.stderr


def test_solar_position_for_many_sites_matches_pvlib():
    from atlas.timeseries.pv import solar_position_sites

    times = hourly_axis(2030)[::7] + pd.Timedelta(minutes=10)
    lats, lons = [45.46, 37.5, -33.9, 64.1], [9.19, 15.1, 151.2, -21.9]
    got = solar_position_sites(times, lats, lons)
    for i, (lat, lon) in enumerate(zip(lats, lons, strict=True)):
        ref = pvlib.solarposition.get_solarposition(times, lat, lon)
        for key in ("apparent_zenith", "zenith", "apparent_elevation", "elevation", "azimuth"):
            assert_allclose(got[key][i], ref[key].to_numpy(), atol=1e-3)  # deg


def test_tmy_peak_hour_is_within_an_hour_of_local_solar_noon(tmy_pv, tmy):
    """The local clock hour (summer time included) of the largest mean output, taken at the
    middle of the hour, lies within one hour of local solar noon (pvlib's SPA transit on the
    15th: about 12:33 CET in January, 13:29 CEST in July)."""
    axis = hourly_axis(2030)
    local = axis.tz_convert("Europe/Rome")
    for month in (1, 7):
        day = pd.DatetimeIndex([f"2030-{month:02d}-15"]).tz_localize("Europe/Rome")
        transit = pvlib.solarposition.sun_rise_set_transit_spa(day, *MILAN)["transit"].iloc[0]
        noon_h = transit.hour + transit.minute / 60
        sel = local.month == month
        peak = pd.Series(tmy_pv[sel]).groupby(local.hour[sel]).mean().idxmax()
        assert abs(peak + 0.5 - noon_h) <= 1.0, (month, peak, noon_h)


def _mid_hour_weather(axis, lat, lon):
    """Clear-sky irradiance at the middle of each hour of the axis (pvlib, independent of
    the atlas), with constant weather: a year whose timing is known exactly."""
    times = axis + pd.Timedelta(minutes=30)
    cs = pvlib.location.Location(lat, lon).get_clearsky(times)  # Ineichen, climatological TL
    return {
        "ghi": cs["ghi"].to_numpy(),
        "dni": cs["dni"].to_numpy(),
        "dhi": cs["dhi"].to_numpy(),
        "temp_air": np.full(len(axis), 20.0),
        "wind_speed": np.full(len(axis), 1.0),
    }


def _expected_pv(axis, lat, lon, weather):
    from atlas.timeseries.pv import pv_power_pu, solar_position_sites

    times = axis + pd.Timedelta(minutes=30)
    solpos = {k: v[0] for k, v in solar_position_sites(times, [lat], [lon]).items()}
    return pv_power_pu(
        times,
        solpos,
        *(weather[c] for c in ("ghi", "dni", "dhi")),
        weather["temp_air"],
        weather["wind_speed"],
    )


def _write_epw(path, lat, lon, weather):
    """An EPW of local standard time (UTC+1): its row r is the hour starting r hours after
    local midnight of 1 January, i.e. UTC hour r - 1 (field 'hour' = r mod 24 + 1)."""
    lines = [
        f"LOCATION,Milano SYNTHETIC,MI,ITA,atlas-test,000000,{lat},{lon},1.0,120.0",
        "DESIGN CONDITIONS,0",
        "TYPICAL/EXTREME PERIODS,0",
        "GROUND TEMPERATURES,0",
        "HOLIDAYS/DAYLIGHT SAVINGS,No,0,0,0",
        "COMMENTS 1,SYNTHETIC clear-sky year written by the atlas tests",
        "COMMENTS 2,",
        "DATA PERIODS,1,1,Data,Sunday, 1/ 1,12/31",
    ]
    local = pd.date_range("2019-01-01", periods=8760, freq="h")  # hour starts, LST
    for r, t in enumerate(local):
        k = (r - 1) % 8760  # the UTC hour of the axis this local hour is
        fields = (
            [2019, t.month, t.day, t.hour + 1, 60, "?"]
            + [
                weather["temp_air"][k],
                10.0,
                50,
                101325,
                0,
                0,
                300,
                f"{weather['ghi'][k]:.6f}",
                f"{weather['dni'][k]:.6f}",
                f"{weather['dhi'][k]:.6f}",
                0,
                0,
                0,
                0,
                180,
                weather["wind_speed"][k],
            ]
            + [0] * 13
        )
        lines.append(",".join(str(x) for x in fields))
    path.write_text("\n".join(lines) + "\n")


def _write_tmy3(path, lat, lon, weather):
    """pvlib's sample TMY3 with its site, time zone and weather replaced: row r ends at local
    standard time r + 1 h after local midnight of 1 January (UTC+1), i.e. is UTC hour r - 1."""
    sample = Path(pvlib.__file__).parent / "data" / "723170TYA.CSV"
    _station, columns, *rows = sample.read_text().splitlines()
    names = columns.split(",")
    col = {
        n: names.index(n)
        for n in ("GHI (W/m^2)", "DNI (W/m^2)", "DHI (W/m^2)", "Dry-bulb (C)", "Wspd (m/s)")
    }
    out = [f'999999,"MILANO SYNTHETIC",MI,1.0,{lat},{lon},120', columns]
    for r, row in enumerate(rows):
        k = (r - 1) % 8760
        cells = row.split(",")
        cells[col["GHI (W/m^2)"]] = f"{weather['ghi'][k]:.6f}"
        cells[col["DNI (W/m^2)"]] = f"{weather['dni'][k]:.6f}"
        cells[col["DHI (W/m^2)"]] = f"{weather['dhi'][k]:.6f}"
        cells[col["Dry-bulb (C)"]] = f"{weather['temp_air'][k]:.1f}"
        cells[col["Wspd (m/s)"]] = f"{weather['wind_speed'][k]:.1f}"
        out.append(",".join(cells))
    path.write_text("\n".join(out) + "\n")


@pytest.mark.parametrize("fmt", ["epw", "tmy3"])
def test_local_time_tmy_files_land_on_the_right_utc_hour(tmp_path, fmt):
    """EPW (hour-starting stamps in pvlib) and TMY3 (hour-ending) hourly means in local
    standard time: read, moved to UTC, they give exactly the PV of the same weather computed
    on the axis at mid-hour. An hour's slip would break the equality by far."""
    from atlas.timeseries.pv import tmy_format

    axis = hourly_axis(2030)
    weather = _mid_hour_weather(axis, *MILAN)
    path = tmp_path / ("milan.epw" if fmt == "epw" else "milan_tmy.csv")
    (_write_epw if fmt == "epw" else _write_tmy3)(path, *MILAN, weather)
    assert tmy_format(path) == fmt
    tmy = read_tmy(path)
    assert tmy.time_offset_h == 0.5 and (tmy.latitude, tmy.longitude) == MILAN
    assert_allclose(tmy.data["ghi"].to_numpy(), weather["ghi"], atol=1e-6)
    got = pv_tmy(axis, [MILAN[0]], [MILAN[1]], tmy)[0]
    assert_allclose(got, _expected_pv(axis, *MILAN, weather), atol=1e-6)
    shifted = np.roll(_expected_pv(axis, *MILAN, weather), 1)
    assert np.abs(got - shifted).max() > 0.05  # one hour off would be visible


def test_bad_tmy_files_are_named(tmp_path):
    from atlas.demo import data_root
    from atlas.errors import AtlasInputError

    text = data_root("profiles") / "pvgis_tmy_45.000_8.000_2005_2023.csv"
    with pytest.raises(AtlasInputError, match="cannot be read as a TMY"):
        (tmp_path / "junk.csv").write_text("not,a,tmy\n1,2,3\n")
        read_tmy(tmp_path / "junk.csv")
    short = tmp_path / "short.csv"
    lines = text.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("time(UTC)"))
    first = start + 1
    lines[first + 51] = lines[first + 50]  # an hour twice, the next one missing
    short.write_text("\n".join(lines) + "\n")
    with pytest.raises(AtlasInputError, match=r"8759 distinct hours.*each of the 8760 hours once"):
        read_tmy(short)


@pytest.mark.parametrize("given", [0, 5])
def test_profiles_fit_of_a_series_with_too_few_values(tmp_path, given):
    """All gaps, or five values for six coefficients: one line naming the file, no traceback."""
    from click.testing import CliRunner

    from atlas.cli import main

    cells = ["0.5"] * given + [""] * (8760 - given)
    (tmp_path / "m.csv").write_text("pu\n" + "\n".join(cells) + "\n")
    result = CliRunner().invoke(
        main, ["profiles", "fit", "chp", str(tmp_path / "m.csv"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"error: {tmp_path / 'm.csv'}: pu: {given} values and {8760 - given} empty cells, "
        "expected more than 5 values to fit the polynomial (empty cells are gaps)\n"
    )


def _clear_sky_tmy(offset_h: float, turbidity: float = 3.0) -> Tmy:
    """A TMY of Milan whose every hour is Ineichen's clear sky, sampled ``offset_h`` into
    the hour as PVGIS samples (0.1761 h for the shipped file), 20 degC, 1 m/s."""
    axis = hourly_axis(2030)
    times = axis + pd.Timedelta(hours=offset_h)
    sun = solar_position_sites(times, [MILAN[0]], [MILAN[1]])
    ghi, dni, dhi = (
        x[0] for x in clearsky_ineichen(times, sun, np.full((1, len(times)), turbidity), [0.0])
    )
    data = pd.DataFrame({"ghi": ghi, "dni": dni, "dhi": dhi, "temp_air": 20.0, "wind_speed": 1.0})
    return Tmy(data, MILAN[0], MILAN[1], offset_h, "synthetic clear sky", 0.0)


@pytest.mark.parametrize("offset_h", [0.1761, 0.8])
def test_a_clear_sky_tmy_gives_the_clear_sky_curve(offset_h):
    """One time convention for every PV source: a TMY that is the clear sky sampled at
    PVGIS's instant (or late in the hour) gives, once moved to the middle of each hour, the
    clear-sky source's curve (evaluated there): within 1 % of the rating every hour, the
    same peak hour every day, and nothing in an hour whose middle is night."""
    axis = hourly_axis(2030)
    from_tmy = pv_tmy(axis, [MILAN[0]], [MILAN[1]], _clear_sky_tmy(offset_h))[0]
    clear = pv_clearsky(
        axis, [MILAN[0]], [MILAN[1]], turbidity=np.full(12, 3.0), altitudes_m=[0.0],
        temp_air=20.0, wind_speed=1.0,
    )[0]  # fmt: skip
    assert np.abs(from_tmy - clear).max() < 0.01
    days_t, days_c = from_tmy.reshape(365, 24), clear.reshape(365, 24)
    assert (days_t.argmax(axis=1) == days_c.argmax(axis=1)).all()
    night = ~sun_above_horizon(axis, [MILAN[0]], [MILAN[1]])[0]
    assert (from_tmy[night] == 0).all() and (clear[night] == 0).all()


def test_samples_already_at_mid_hour_are_kept():
    tmy = _clear_sky_tmy(0.5)
    ghi = tmy.data["ghi"].to_numpy()
    assert move_to_mid_hour(ghi, hourly_axis(2030), *MILAN, 0.5) is ghi
    with pytest.raises(ValueError, match="offset_h"):
        move_to_mid_hour(ghi, hourly_axis(2030), *MILAN, 1.0)


def test_mid_hour_by_hand():
    """A clear-sky index that is constant, or linear in time, moves exactly: the value at
    mid-hour is the index there times Ineichen's clear sky there (pvlib, Perez enhancement,
    Linke turbidity 3); samples whose clear sky is under 1 W/m2 lend no index (the other
    sample's is used); night at the middle gives 0."""
    axis = hourly_axis(2030)
    lat, lon = MILAN

    def clear_ghi(times):
        sun = pvlib.solarposition.get_solarposition(times, lat, lon, delta_t=None)
        am = pvlib.atmosphere.get_absolute_airmass(
            pvlib.atmosphere.get_relative_airmass(sun["apparent_zenith"])
        )
        cs = pvlib.clearsky.ineichen(
            sun["apparent_zenith"], am, 3.0, altitude=0.0,
            dni_extra=pvlib.irradiance.get_extra_radiation(times), perez_enhancement=True,
        )  # fmt: skip
        up = sun["apparent_elevation"].to_numpy() > 0
        return np.where(up, np.nan_to_num(cs["ghi"].to_numpy()), 0.0)

    sample, middle = axis + pd.Timedelta(hours=0.25), axis + pd.Timedelta(hours=0.5)
    cs_sample, cs_mid = clear_ghi(sample), clear_ghi(middle)
    args = (axis, lat, lon, 0.25, "ghi", 0.0, np.full(12, 3.0))
    moved = move_to_mid_hour(0.6 * cs_sample, *args)
    lit = cs_mid >= 1.0
    assert_allclose(moved[lit], 0.6 * cs_mid[lit], rtol=1e-6)  # two SPA codes agree to 1e-7
    assert (moved[~lit] == 0).all()
    # an index rising linearly through the year: exact where both samples lend one
    hours = np.arange(8760.0)
    trend = 0.4 + 1e-5 * hours
    moved = move_to_mid_hour(trend * cs_sample, *args)  # index 0.4 + 1e-5 i at hour i + 0.25
    both = lit & (cs_sample >= 1.0) & (np.roll(cs_sample, -1) >= 1.0)
    both[-1] = False  # the year wraps there
    assert_allclose(moved[both], (trend[both] + 0.25e-5) * cs_mid[both], rtol=1e-6)
