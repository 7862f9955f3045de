"""Firm values, runs and the screening against independent pandas computations."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atlas.analysis.stats import firm_value, longest_run, screening


def _firm_brute(values, availability):
    """Largest v among the values with #(x >= v) >= availability * n, by brute force."""
    s = pd.Series(values)
    need = availability * len(s)
    ok = [v for v in s.unique() if (s >= v).sum() >= need - 1e-9]
    return max(ok)


def test_firm_value_is_the_877th_smallest_of_8760():
    values = np.arange(8760, dtype=float)[::-1]  # 8759 .. 0, unsorted on purpose
    assert firm_value(values, 0.90) == 876.0  # the 877th smallest (0-based 876)
    assert firm_value(values, 0.90) != np.percentile(values, 10)  # not the interpolated P10
    assert firm_value(values, 1.0) == 0.0 and firm_value(values, 1 / 8760) == 8759.0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from([0.0, 5.0, 9.99, 10.0, 10.0, 12.5, 30.0]), min_size=1, max_size=60),
    st.sampled_from([0.5, 0.9, 0.95, 1.0, 0.1]),
)
def test_firm_value_matches_brute_force_with_ties(values, availability):
    assert firm_value(np.array(values), availability) == _firm_brute(values, availability)
    # meets <=> share at or above the threshold >= availability (METHOD.md), ties included
    v = np.array(values)
    for threshold in (10.0, 9.99, 12.5):
        assert (firm_value(v, availability) >= threshold) == (
            (v >= threshold).mean() >= availability - 1e-12
        )


def test_longest_run():
    assert longest_run([0, 1, 1, 0, 1, 1, 1, 0]) == 3
    assert longest_run([0, 0]) == 0 and longest_run([1, 1]) == 2


def test_screening_table_by_hand():
    hours = pd.date_range("2030-01-01", periods=10, freq="h", tz="UTC")
    up = np.array([10.0, 10.0, 10.0, 12.0, 0.0, 11.0, 10.0, 10.0, 10.0, 9.0])  # 8 of 10 >= 10
    hourly = pd.DataFrame(
        {
            "scenario": "2030",
            "ps_id": "SUD",
            "time": hours,
            "p_up_mw": up,
            "p_down_mw": 20.0,
            "q_up_mvar": 9.5,
            "q_down_mvar": np.r_[np.full(9, 10.0), 0.0],
        }
    )
    t = screening(hourly, {"SUD": "PS Sud"}, availability=0.8).set_index("direction")
    assert t.loc["p_up", "firm"] == 10.0 and t.loc["p_up", "meets"]  # ties at the threshold count
    assert t.loc["p_up", "share_at_or_above"] == 0.8 and t.loc["p_up", "longest_run_h"] == 4
    assert t.loc["q_up", "firm"] == 9.5 and not t.loc["q_up", "meets"]
    assert t.loc["q_down", "meets"] and t.loc["q_down", "longest_run_h"] == 9
    assert (
        t.loc["p_down", "mean"] == 20.0
        and t.loc["p_down", "unit"] == "MW"
        and t.loc["q_up", "unit"] == "Mvar"
    )
    strict = screening(hourly, availability=0.9).set_index("direction")
    assert not strict.loc["p_up", "meets"] and strict.loc["p_up", "firm"] == 9.0


def test_screen_command(tmp_path, tiny_study_path):
    import io

    from click.testing import CliRunner

    from atlas.cli import main
    from atlas.pipeline import run_study

    run_study(tiny_study_path, tmp_path, figures="none", webmap="none")
    result = CliRunner().invoke(
        main, ["screen", str(tmp_path), "--direction", "p_up", "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    printed = pd.read_csv(io.StringIO(result.output), dtype={"ps_id": str})
    assert set(printed["direction"]) == {"p_up"} and len(printed) == 2 * 3
    table = pd.read_csv(tmp_path / "screening.csv", dtype={"ps_id": str})
    assert len(table) == 2 * 3 * 4  # the file keeps every scenario, PS and direction
    table_out = CliRunner().invoke(main, ["screen", str(tmp_path)])
    assert table_out.exit_code == 0
    lines = table_out.output.splitlines()
    assert all(len(line) <= 80 for line in lines if not line.startswith("rewrote "))
    ids = ("001 ", "N ", "S ")
    assert sum(line.strip().startswith(ids) for line in lines) == 2 * 4 * 3
    firm = table.query("scenario == '2030' and direction == 'p_up'")["firm"]
    level = float(firm[firm > 0].min())
    lower = CliRunner().invoke(
        main, ["screen", str(tmp_path), "--direction", "p_up", "--threshold-mw", str(level)]
    )
    assert lower.exit_code == 0
    again = pd.read_csv(tmp_path / "screening.csv", dtype={"ps_id": str})
    meets = again.query("scenario == '2030' and direction == 'p_up'")
    assert (meets["meets"] == (meets["firm"] >= level)).all() and meets["meets"].any()
    bad = CliRunner().invoke(main, ["screen", str(tmp_path), "--scenario", "2050"])
    assert bad.exit_code == 2 and "'2050' is not in the run" in bad.stderr
    missing = CliRunner().invoke(main, ["screen", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "expected the output folder of `atlas run`" in missing.stderr


def test_statistics_match_pandas():
    from atlas.analysis.stats import statistics
    from atlas.inputs.timeaxis import hourly_axis

    axis = hourly_axis(2030)
    rng = np.random.default_rng(5)
    v = np.round(rng.uniform(0, 20, len(axis)), 1)
    hourly = pd.DataFrame(
        {
            "scenario": "2030",
            "ps_id": "X",
            "time": axis,
            "p_up_mw": v,
            "p_down_mw": 0.0,
            "q_up_mvar": 10.0,
            "q_down_mvar": 0.0,
        }
    )
    s = statistics(hourly, "Europe/Rome")
    up = s[s["figure"] == "p_up"]
    year = up[up["month"].isna()].set_index("statistic")["value"]
    series = pd.Series(v)
    assert year["mean"] == pytest.approx(series.mean()) and year["std"] == pytest.approx(
        series.std(ddof=0)
    )
    assert year["p10"] == pytest.approx(series.quantile(0.1)) and year["max"] == series.max()
    local = axis.tz_convert("Europe/Rome")
    cells = up[up["hour"].notna()].set_index(["statistic", "month", "hour"])["value"]
    want = series.groupby([local.month, local.hour]).mean()
    assert cells.loc["mean", 7, 13] == pytest.approx(want.loc[(7, 13)])
    share = (series >= 10).groupby([local.month, local.hour]).mean()
    assert cells.loc["share_at_or_above", 1, 0] == pytest.approx(share.loc[(1, 0)])
    boxes = up[up["month"].notna() & up["hour"].isna()].set_index(["statistic", "month"])["value"]
    assert boxes.loc["box_q3", 3] == pytest.approx(series[local.month == 3].quantile(0.75))
    q_up = s[(s["figure"] == "q_up") & (s["statistic"] == "longest_run_h")].set_index("month")[
        "value"
    ]
    # a constant 10 Mvar holds all month: local January on the 2030 UTC axis starts at
    # 01:00 on 1 January (743 consecutive hours; its last hour, 00:00 on 1 January 2031, is
    # apart), local March loses an hour to summer time (743)
    assert q_up.loc[1] == 743 and q_up.loc[3] == 743 and q_up.loc[4] == 30 * 24


def _grid_table(seed=11, n_ps=3, scenarios=("as-is", "2030")):
    """A full year for several PS and scenarios, values on a 0.5 grid (many ties at 10)."""
    from atlas.inputs.timeaxis import hourly_axis

    axis = hourly_axis(2030)
    rng = np.random.default_rng(seed)
    frames = []
    for s, scenario in enumerate(scenarios):
        for k in range(n_ps):
            ps = f"0{k}" if k else "X/../y"  # ids stay text; odd characters allowed
            frames.append(
                pd.DataFrame(
                    {
                        "scenario": scenario,
                        "ps_id": ps,
                        "time": axis,
                        **{
                            col: np.round(rng.uniform(0, 10 + 5 * k + 3 * s, len(axis)) * 2) / 2
                            for col in ("p_up_mw", "p_down_mw", "q_up_mvar", "q_down_mvar")
                        },
                        "over_rating": rng.uniform(size=len(axis)) < 0.01 * k,
                        "daylight": (axis.hour >= 6 + k) & (axis.hour < 17),
                    }
                )
            )
    table = pd.concat(frames, ignore_index=True)
    return table.sample(frac=1.0, random_state=3).reset_index(drop=True)  # any row order


@pytest.mark.parametrize("availability", [0.9, 1.0, 1 / 8760, 0.5, 0.90001])
def test_screening_matches_pandas_on_a_full_year(availability):
    table = _grid_table()
    got = screening(table, {"01": "Uno"}, 10.0, 12.0, availability, rated_mva={"02": np.nan})
    assert len(got) == 2 * 3 * 4
    for (scenario, ps), g in table.groupby(["scenario", "ps_id"]):
        g = g.sort_values("time")
        for direction, col, thr in (
            ("p_up", "p_up_mw", 10.0),
            ("p_down", "p_down_mw", 10.0),
            ("q_up", "q_up_mvar", 12.0),
            ("q_down", "q_down_mvar", 12.0),
        ):
            row = got[(got.scenario == scenario) & (got.ps_id == ps) & (got.direction == direction)]
            row = row.iloc[0]
            s = g[col].reset_index(drop=True)
            need = availability * len(s)
            firm = max(v for v in s.unique() if (s >= v).sum() >= need - 1e-9)
            assert row["firm"] == firm
            share = (s >= thr).mean()
            assert row["share_at_or_above"] == pytest.approx(share)
            assert row["meets"] == (share >= availability - 1e-12) == (firm >= thr)
            assert row["mean"] == pytest.approx(s.mean())
            runs = (s >= thr).astype(int).groupby((s < thr).cumsum()).sum()
            assert row["longest_run_h"] == runs.max()
            assert row["threshold"] == thr and row["unit"] == ("MW" if thr == 10.0 else "Mvar")
            if ps == "02":
                assert pd.isna(row["hours_over_rating"])
            else:
                assert row["hours_over_rating"] == g["over_rating"].sum()
            assert row["name"] == ("Uno" if ps == "01" else "")
    # ranked: within a scenario and direction, firm values never increase
    for _, g in got.groupby(["scenario", "direction"], sort=False):
        assert (np.diff(g["firm"].to_numpy()) <= 0).all()


def test_statistics_layout_and_daily_maxima_match_pandas():
    from atlas.analysis.stats import statistics

    table = _grid_table(n_ps=2)
    stats = statistics(table, "Europe/Rome", 10.0, 12.0)
    for (scenario, ps), g in table.groupby(["scenario", "ps_id"]):
        g = g.sort_values("time")
        local = pd.DatetimeIndex(g["time"]).tz_convert("Europe/Rome")
        for figure, col in (("p_down", "p_down_mw"), ("q_up", "q_up_mvar")):
            s = pd.Series(g[col].to_numpy())
            mine = stats[
                (stats.scenario == scenario) & (stats.ps_id == ps) & (stats.figure == figure)
            ]
            year = mine[mine.month.isna()].set_index("statistic")["value"]
            assert year["p90"] == pytest.approx(s.quantile(0.9))
            assert year["min"] == s.min()
            monthly = mine[mine.month.notna() & mine.hour.isna()].set_index(["statistic", "month"])
            assert monthly.loc[("box_median", 8), "value"] == pytest.approx(
                s[local.month == 8].median()
            )
            cells = mine[mine.hour.notna()].set_index(["statistic", "month", "hour"])["value"]
            thr = 10.0 if figure == "p_down" else 12.0
            share = (s >= thr).groupby([local.month, local.hour]).mean()
            assert cells.loc[("share_at_or_above", 12, 23)] == pytest.approx(share.loc[(12, 23)])
            # daily maxima by local date, daylight and night apart
            frame = pd.DataFrame(
                {"v": s, "day": local.date, "sun": g["daylight"].to_numpy(), "m": local.month}
            )
            for name, sun in (("daily_max_day", True), ("daily_max_night", False)):
                daily = frame[frame.sun == sun].groupby("day").agg(v=("v", "max"), m=("m", "first"))
                assert year[name] == pytest.approx(daily["v"].mean())
                assert monthly.loc[(name, 3), "value"] == pytest.approx(
                    daily[daily.m == 3]["v"].mean()
                )


def test_incomplete_table_is_refused():
    table = _grid_table(n_ps=2)
    with pytest.raises(ValueError, match="not one full grid"):
        screening(table.iloc[1:])


def test_rows_without_an_id_are_refused():
    table = _grid_table(n_ps=2)
    table["ps_id"] = table["ps_id"].astype(object)
    table.loc[5, "ps_id"] = None
    with pytest.raises(ValueError, match="without a scenario or a ps_id"):
        screening(table)
