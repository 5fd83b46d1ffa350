"""A user's input files: each reader takes a good file's values as they are and refuses a wrong one in
one line naming the file, the column and the problem; the command line exits 2 on it and leaves no
dataset behind; the example site under data/examples builds into a dataset holding its files' values."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import PARAMS, ROOT, SMALL, data_dir, main_in_process, run_cli, run_cli_in_process, write_params
from evstation.config import SPLITS, VEHICLE_KINDS, apply_overrides, load_settings
from evstation.errors import DataError
from evstation.site import calendar, grid, mall, session_file, solar

OFFSET_H = -5.0
YEAR = 2023
HORIZON = SMALL["simulation.horizon_hours"]
HOURS = calendar.year_hours(YEAR, OFFSET_H)[:HORIZON]
LIMITS = load_settings(PARAMS).inputs.limits  # the plausibility limits of params.yaml
EXAMPLES = ROOT / "data" / "examples"
KINDS = {
    "weather": "weather.files",
    "load": "mall.load_files",
    "sessions": "fleet.sessions_files",
    "energy_price": "tariff.energy_price_files",
    "grid_factor": "emissions.grid_factor_files",
}


@pytest.fixture(scope="module")
def settings():
    return apply_overrides(load_settings(PARAMS), SMALL)


def local_stamps(count: int = HORIZON, year: int = YEAR) -> list[str]:
    return list(pd.date_range(f"{year}-01-01", periods=count, freq="h").strftime("%Y-%m-%d %H:%M"))


def write_series(path: Path, column: str, values, stamps=None) -> Path:
    values = list(values)
    stamps = local_stamps(len(values)) if stamps is None else stamps
    pd.DataFrame({"timestamp": stamps, column: values}).to_csv(path, index=False)
    return path


def one_line_error(call, *fragments: str) -> str:
    """The DataError `call` raises: one line holding every fragment (file, column, problem), the first
    of them (the file) where pytest.raises looks."""
    with pytest.raises(DataError, match=re.escape(fragments[0])) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


# ---------------------------------------------------------------- hourly series


def test_series_values_are_the_files(tmp_path):
    values = np.round(0.2 + 0.3 * np.random.default_rng(0).random(HORIZON), 4)
    path = write_series(tmp_path / "price.csv", "tariff_pen_per_kwh", values)
    np.testing.assert_array_equal(grid.tariff_file_pen_per_kwh(path, HOURS, OFFSET_H, LIMITS), values)


def test_timestamps_with_an_offset_are_converted_to_local_time(tmp_path):
    values = np.arange(HORIZON, dtype=float) / 100  # distinct each hour, within the limit of a factor
    utc = list((HOURS.tz_convert("UTC")).strftime("%Y-%m-%dT%H:%MZ"))
    lima = [stamp.isoformat(timespec="minutes") for stamp in HOURS]
    profiles = list(HOURS.strftime("%Y-%m-%d %H:%M%z"))  # a dataset's profiles.csv: 2023-01-01 00:00-0500
    for name, stamps in (("utc", utc), ("lima", lima), ("profiles", profiles)):
        path = write_series(tmp_path / f"factor_{name}.csv", "emission_factor_kg_per_kwh", values, stamps)
        np.testing.assert_array_equal(grid.emission_factor_file_kg_per_kwh(path, HOURS, OFFSET_H, LIMITS), values)
    # the same UTC hours read as local time are five hours early: refused, not shifted silently
    naive_utc = list(HOURS.tz_convert("UTC").strftime("%Y-%m-%d %H:%M"))
    path = write_series(tmp_path / "factor_naive_utc.csv", "emission_factor_kg_per_kwh", values, naive_utc)
    one_line_error(
        lambda: grid.emission_factor_file_kg_per_kwh(path, HOURS, OFFSET_H, LIMITS),
        str(path),
        "column timestamp",
        "line 2",
        "expected 2023-01-01 00:00",
    )


def test_rows_past_the_horizon_are_checked_but_not_used(tmp_path):
    year = np.full(8760, 500.0)
    path = write_series(tmp_path / "load_year.csv", "mall_kwh", year, local_stamps(8760))
    assert len(mall.load_file_kwh(path, HOURS, OFFSET_H, LIMITS)) == HORIZON
    year[4000] = np.nan
    path = write_series(tmp_path / "load_year_nan.csv", "mall_kwh", year, local_stamps(8760))
    one_line_error(lambda: mall.load_file_kwh(path, HOURS, OFFSET_H, LIMITS), str(path), "column mall_kwh", "line 4002")


def _broken_series(path: Path, problem: str) -> Path:
    values, stamps = [0.3] * HORIZON, local_stamps()
    if problem == "missing file":
        return path
    if problem == "empty":
        path.write_text("")
        return path
    if problem == "header only":
        path.write_text("timestamp,tariff_pen_per_kwh\n")
        return path
    if problem == "short":
        values, stamps = values[:-1], stamps[:-1]
    elif problem == "long":
        values, stamps = [0.3] * 8761, local_stamps(8761)
    elif problem == "nan":
        values[5] = float("nan")
    elif problem == "text":
        values[5] = "cheap"
    elif problem == "negative":
        values[5] = -0.1
    elif problem == "bad timestamp":
        stamps[5] = "1st of January"
    elif problem == "half hour":
        stamps[5] = "2023-01-01 05:30"
    elif problem == "gap":
        stamps[5:] = local_stamps(HORIZON + 1)[6:]
    elif problem == "out of order":
        stamps[5], stamps[6] = stamps[6], stamps[5]
    elif problem == "wrong year":
        stamps = local_stamps(year=2022)
    elif problem == "mixed offsets":
        stamps[5] = "2023-01-01T05:00-05:00"
    elif problem == "wrong column":
        return write_series(path, "price", values, stamps)
    return write_series(path, "tariff_pen_per_kwh", values, stamps)


SERIES_PROBLEMS = {
    "missing file": ("tariff.energy_price_files", "file not found"),
    "empty": ("tariff.energy_price_files", "not a readable CSV"),
    "header only": ("tariff.energy_price_files", "no rows"),
    "wrong column": ("column tariff_pen_per_kwh", "missing"),
    "short": ("column timestamp", "167 rows, needs at least 168"),
    "long": ("column timestamp", "8761 rows"),
    "nan": ("column tariff_pen_per_kwh", "line 7: missing value"),
    "text": ("column tariff_pen_per_kwh", "line 7: 'cheap' is not a number"),
    "negative": ("column tariff_pen_per_kwh", "line 7: -0.1 is below 0"),
    "bad timestamp": ("column timestamp", "line 7: '1st of January' is not an ISO 8601 timestamp"),
    "half hour": ("column timestamp", "line 7: 2023-01-01 05:30 is not on the hour"),
    "gap": ("column timestamp", "line 7: 2023-01-01 06:00 expected 2023-01-01 05:00"),
    "out of order": ("column timestamp", "line 7"),
    "wrong year": ("column timestamp", "line 2: 2022-01-01 00:00 is not in 2023"),
    "mixed offsets": ("column timestamp", "line 7"),
}


@pytest.mark.parametrize("problem", list(SERIES_PROBLEMS))
def test_a_wrong_series_file_is_one_line(tmp_path, problem):
    path = _broken_series(tmp_path / f"price_{problem.replace(' ', '_')}.csv", problem)
    one_line_error(
        lambda: grid.tariff_file_pen_per_kwh(path, HOURS, OFFSET_H, LIMITS), str(path), *SERIES_PROBLEMS[problem]
    )


# ---------------------------------------------------------------- plausibility limits, vague and missing messages

LOAD_IN_W = 1000.0 * 420.0  # a 420 kWh hour of a site's load, written in W


@pytest.mark.parametrize(
    "column, value, key, hint",
    [
        ("mall_kwh", 9e12, "load_kwh_max", "is it in W"),
        ("mall_kwh", LOAD_IN_W, "load_kwh_max", "is it in W"),
        ("tariff_pen_per_kwh", 45.0, "price_pen_per_kwh_max", "centimos"),  # 0.45 PEN in centimos
        ("emission_factor_kg_per_kwh", 452.1, "emission_factor_kg_per_kwh_max", "in g"),  # 0.4521 kg in g
    ],
    ids=["9e12 kWh", "load in W", "price in centimos", "factor in g"],
)
def test_a_value_above_its_plausibility_limit_is_refused_naming_the_key(tmp_path, column, value, key, hint):
    reader = {
        "mall_kwh": mall.load_file_kwh,
        "tariff_pen_per_kwh": grid.tariff_file_pen_per_kwh,
        "emission_factor_kg_per_kwh": grid.emission_factor_file_kg_per_kwh,
    }[column]
    values = np.full(HORIZON, 420.0 if column == "mall_kwh" else 0.3)
    values[9:] = value
    path = write_series(tmp_path / f"{column}.csv", column, values)
    limit = getattr(LIMITS, key)
    one_line_error(
        lambda: reader(path, HOURS, OFFSET_H, LIMITS),
        str(path),
        f"column {column}",
        "line 11",
        f"{value:g} is above {limit:g}",
        f"inputs.limits.{key}",
        hint,
    )
    at_the_limit = write_series(tmp_path / f"{column}_at_limit.csv", column, np.full(HORIZON, limit))
    assert (reader(at_the_limit, HOURS, OFFSET_H, LIMITS) == limit).all(), "the limit itself is plausible"


def test_a_missing_hour_of_a_whole_year_is_named_by_its_line(tmp_path):
    """A year's file without 5 March 10:00 is one row short: the message names the missing hour and its
    line, not the row count."""
    year = calendar.year_hours(YEAR, OFFSET_H)
    stamps = local_stamps(8760)
    missing = stamps.index("2023-03-05 10:00")
    del stamps[missing]
    path = write_series(tmp_path / "price_gap.csv", "tariff_pen_per_kwh", [0.3] * len(stamps), stamps)
    message = one_line_error(
        lambda: grid.tariff_file_pen_per_kwh(path, year, OFFSET_H, LIMITS),
        str(path),
        "column timestamp",
        f"line {missing + 2}: 2023-03-05 11:00 expected 2023-03-05 10:00, which is missing",
    )
    assert "8759 rows" not in message, message


@pytest.mark.parametrize("kind", ["series", "sessions", "weather"])
def test_a_folder_where_a_file_is_expected_is_named_a_folder(tmp_path, settings, kind):
    folder = tmp_path / "site_data"
    folder.mkdir()
    call, key = {
        "series": (lambda: grid.tariff_file_pen_per_kwh(folder, HOURS, OFFSET_H, LIMITS), "tariff.energy_price_files"),
        "sessions": (lambda: session_file.sessions_from_file(folder, HOURS, settings), "fleet.sessions_files"),
        "weather": (
            lambda: solar.file_weather(calendar.year_hours(YEAR, OFFSET_H), HOURS, settings.site, folder, LIMITS),
            "weather.files",
        ),
    }[kind]
    message = one_line_error(call, str(folder), key, "is a folder, not a file")
    assert "not found" not in message


def test_spaces_around_header_names_are_dropped(tmp_path):
    values = np.round(np.linspace(0.2, 0.5, HORIZON), 4)
    path = write_series(tmp_path / "price.csv", "tariff_pen_per_kwh", values)
    lines = path.read_text().splitlines()
    path.write_text("\n".join([" timestamp ,  tariff_pen_per_kwh ", *lines[1:]]) + "\n")
    np.testing.assert_array_equal(grid.tariff_file_pen_per_kwh(path, HOURS, OFFSET_H, LIMITS), values)


@pytest.mark.parametrize(
    "header", ["timestamp,tariff_pen_per_kwh,tariff_pen_per_kwh", "timestamp,tariff_pen_per_kwh, tariff_pen_per_kwh "]
)
def test_a_column_named_twice_is_refused(tmp_path, header):
    """A reader would take one of the two silently (pandas renames the second `.1`); with spaces around
    one of them, the two are one name once the spaces are dropped."""
    path = tmp_path / "price_twice.csv"
    rows = [f"{stamp},0.3,0.4" for stamp in local_stamps()]
    path.write_text("\n".join([header, *rows]) + "\n")
    one_line_error(
        lambda: grid.tariff_file_pen_per_kwh(path, HOURS, OFFSET_H, LIMITS),
        str(path),
        "column tariff_pen_per_kwh",
        "line 1",
        "named twice",
    )


# ---------------------------------------------------------------- weather

WEATHER = ["ghi_w_m2", "dni_w_m2", "dhi_w_m2", "air_temperature_c", "relative_humidity_pct", "wind_speed_m_s"]


@pytest.fixture(scope="module")
def week_weather(settings):
    hours = calendar.year_hours(YEAR, OFFSET_H)
    return solar.synthetic_weather(hours, settings.site, settings.weather, 7).iloc[:HORIZON]


def write_weather(path: Path, weather: pd.DataFrame, columns=WEATHER) -> Path:
    table = weather[list(columns)].copy()
    table.insert(0, "timestamp", local_stamps())
    table.to_csv(path, index=False)
    return path


def test_weather_csv_is_read_as_written(tmp_path, settings, week_weather):
    path = write_weather(tmp_path / "weather.csv", week_weather)
    assert solar.is_plain_csv(path)
    read = solar.file_weather(calendar.year_hours(YEAR, OFFSET_H), HOURS, settings.site, path, LIMITS)
    np.testing.assert_allclose(read.to_numpy(), week_weather[WEATHER].to_numpy(), rtol=1e-14)
    assert read.index.equals(HOURS)


def test_weather_without_beam_and_diffuse_splits_the_ghi(tmp_path, settings, week_weather):
    """The synthetic weather's DNI and DHI come from its GHI by Erbs: a file of GHI alone gives them back."""
    columns = ["ghi_w_m2", "air_temperature_c", "relative_humidity_pct", "wind_speed_m_s"]
    path = write_weather(tmp_path / "weather_ghi.csv", week_weather, columns)
    read = solar.csv_weather(HOURS, settings.site, path, LIMITS)
    np.testing.assert_allclose(
        read[["dni_w_m2", "dhi_w_m2"]].to_numpy(),
        week_weather[["dni_w_m2", "dhi_w_m2"]].to_numpy(),
        rtol=1e-9,
        atol=1e-9,
    )
    only_dni = write_weather(tmp_path / "weather_dni.csv", week_weather, [*columns, "dni_w_m2"])
    one_line_error(
        lambda: solar.csv_weather(HOURS, settings.site, only_dni, LIMITS), str(only_dni), "column dhi_w_m2", "missing"
    )


def test_weather_columns_in_any_order(tmp_path, settings, week_weather):
    """docs/your-site.md: columns are found by name, in any order; the timestamp need not come first."""
    path = write_weather(tmp_path / "weather_reordered.csv", week_weather)
    table = pd.read_csv(path, dtype=str)
    table[[*reversed(WEATHER), "timestamp"]].to_csv(path, index=False)
    assert solar.is_plain_csv(path)
    read = solar.file_weather(calendar.year_hours(YEAR, OFFSET_H), HOURS, settings.site, path, LIMITS)
    np.testing.assert_allclose(read.to_numpy(), week_weather[WEATHER].to_numpy(), rtol=1e-14)


@pytest.mark.parametrize("column", ["ghi_w_m2", "dni_w_m2", "dhi_w_m2"])
def test_irradiance_above_its_limit_is_refused(tmp_path, settings, week_weather, column):
    bright = week_weather.copy()
    bright.iloc[12, bright.columns.get_loc(column)] = 1500.0
    path = write_weather(tmp_path / f"weather_{column}.csv", bright)
    one_line_error(
        lambda: solar.csv_weather(HOURS, settings.site, path, LIMITS),
        str(path),
        f"column {column}",
        "line 14: 1500 is above 1400",
        "inputs.limits.irradiance_w_per_m2_max",
    )


def test_weather_values_out_of_range(tmp_path, settings, week_weather):
    humid = week_weather.copy()
    humid.iloc[3, humid.columns.get_loc("relative_humidity_pct")] = 101.0
    path = write_weather(tmp_path / "weather_humid.csv", humid)
    one_line_error(
        lambda: solar.csv_weather(HOURS, settings.site, path, LIMITS),
        str(path),
        "column relative_humidity_pct",
        "line 5: 101 is above 100",
    )


# ---------------------------------------------------------------- sessions


def write_sessions(path: Path, rows: list[tuple], energy_column: str = "arrival_soc_pct") -> Path:
    columns = ["arrival", "departure", "kind", energy_column, "required_soc_pct"]
    pd.DataFrame(rows, columns=columns).to_csv(path, index=False)
    return path


def test_session_times_round_to_the_nearest_hour(tmp_path, settings):
    rows = [
        ("2023-01-02 09:29", "2023-01-02 11:30", "moto", 20.0, 90.0),  # 09 -> 12: three steps
        ("2023-01-02 09:30", "2023-01-02 10:10", "moto", 50.0, 80.0),  # 10 -> 10: kept one step long
        ("2023-01-02 18:05", "2023-01-02 19:55", "mototaxi", 25.0, 85.0),
    ]  # 18 -> 20
    year = session_file.sessions_from_file(write_sessions(tmp_path / "s.csv", rows), HOURS, settings)
    table = year.sessions
    assert list(table["arrival_step"]) == [24 + 9, 24 + 10, 24 + 18]
    assert list(table["departure_step"]) == [24 + 12, 24 + 11, 24 + 20]
    assert list(table["stay_steps"]) == [3, 1, 2]
    np.testing.assert_allclose(table["energy_required_kwh"], [0.7 * 2.5, 0.3 * 2.5, 0.6 * 4.5])
    assert list(table["min_steps"]) == [1, 1, 1]
    assert year.arrivals["moto"].sum() == 2 and year.turned_away[list(VEHICLE_KINDS)].to_numpy().sum() == 0


def test_sessions_without_a_free_socket_are_turned_away(tmp_path, settings):
    """Two mototaxi sockets: a third mototaxi at the same hour is turned away; it comes back when one leaves."""
    rows = [
        ("2023-01-03 18:10", "2023-01-03 20:00", "mototaxi", 25.0, 85.0),
        ("2023-01-03 18:00", "2023-01-03 19:00", "mototaxi", 25.0, 85.0),
        ("2023-01-03 18:20", "2023-01-03 19:00", "mototaxi", 25.0, 85.0),  # both sockets busy: away
        ("2023-01-03 19:00", "2023-01-03 20:00", "mototaxi", 30.0, 85.0),
    ]  # the 18:00 one has left
    year = session_file.sessions_from_file(write_sessions(tmp_path / "s.csv", rows), HOURS, settings)
    assert year.arrivals.loc[2, "mototaxi"] == 4 and year.turned_away.loc[2, "mototaxi"] == 1
    assert year.arrivals.drop(index=2)[list(VEHICLE_KINDS)].to_numpy().sum() == 0
    # per step: the one turned away arrived at 18:00 on day 2, wanting 60 % of a 4.5 kWh battery
    turned = year.by_step["turned_away_mototaxi"]
    assert turned.sum() == 1 and turned[2 * 24 + 18] == 1 and year.by_step["arrivals_mototaxi"].sum() == 4
    assert year.by_step["turned_away_energy_kwh_mototaxi"].sum() == pytest.approx(0.6 * 4.5)
    served = year.sessions
    assert list(served["arrival_step"]) == [66, 66, 67], "met in order of exact arrival time"
    assert list(served["departure_step"]) == [67, 68, 68]
    assert served.loc[2, "socket"] == served.loc[0, "socket"], "the socket freed at 19:00 is taken at 19:00"
    assert list(served["session_id"]) == [0, 1, 2]


def test_sessions_past_the_horizon_are_left_out(tmp_path, settings):
    rows = [
        ("2023-01-07 21:00", "2023-01-07 23:00", "moto", 20.0, 90.0),
        ("2023-01-07 23:00", "2023-01-08 01:00", "moto", 20.0, 90.0),  # leaves after the week
        ("2023-03-01 10:00", "2023-03-01 12:00", "moto", 20.0, 90.0),
    ]  # arrives after it
    year = session_file.sessions_from_file(write_sessions(tmp_path / "s.csv", rows), HOURS, settings)
    assert len(year.sessions) == 1 and year.arrivals["moto"].sum() == 1
    assert len(year.arrivals) == len(year.turned_away) == HORIZON // 24


def test_energy_requested_gives_the_arrival_soc(tmp_path, settings):
    rows = [
        ("2023-01-02 10:00", "2023-01-02 12:00", "moto", 1.5, 90.0),
        ("2023-01-02 10:00", "2023-01-02 12:00", "mototaxi", 2.7, 85.0),
    ]
    path = write_sessions(tmp_path / "s.csv", rows, "energy_requested_kwh")
    table = session_file.sessions_from_file(path, HOURS, settings).sessions
    np.testing.assert_allclose(table["arrival_soc_pct"], [90.0 - 1.5 / 2.5 * 100, 85.0 - 2.7 / 4.5 * 100])
    np.testing.assert_allclose(table["energy_required_kwh"], [1.5, 2.7])


GOOD = ("2023-01-02 10:00", "2023-01-02 12:00", "moto", 20.0, 90.0)
SESSION_PROBLEMS = {
    "unknown kind": (
        (GOOD[0], GOOD[1], "car", 20.0, 90.0),
        "arrival_soc_pct",
        ("column kind", "line 3", "'car' is not a vehicle kind"),
    ),
    "departure before arrival": (
        (GOOD[0], "2023-01-02 09:00", "moto", 20.0, 90.0),
        "arrival_soc_pct",
        ("column departure", "line 3", "is not after the arrival"),
    ),
    "arrival SOC above 100": (
        (*GOOD[:3], 120.0, 90.0),
        "arrival_soc_pct",
        ("column arrival_soc_pct", "120 is above 100"),
    ),
    "required SOC above 100": ((*GOOD[:4], 101.0), "arrival_soc_pct", ("column required_soc_pct", "101 is above 100")),
    "negative SOC": ((*GOOD[:3], -5.0, 90.0), "arrival_soc_pct", ("column arrival_soc_pct", "-5 is below 0")),
    "needs nothing": ((*GOOD[:3], 95.0, 90.0), "arrival_soc_pct", ("column arrival_soc_pct", "needs no energy")),
    "SOC missing": ((*GOOD[:3], "", 90.0), "arrival_soc_pct", ("column arrival_soc_pct", "line 3: missing value")),
    "energy over the battery": (
        (*GOOD[:3], 3.0, 90.0),
        "energy_requested_kwh",
        ("column energy_requested_kwh", "3.0 kWh does not fit a 2.5 kWh moto battery"),
    ),
    "negative energy": ((*GOOD[:3], -1.0, 90.0), "energy_requested_kwh", ("column energy_requested_kwh", "below 0")),
    "infeasible stay": (
        ("2023-01-02 10:00", "2023-01-02 11:00", "moto", 5.0, 95.0),
        "arrival_soc_pct",
        ("column arrival_soc_pct", "line 3", "needs 2.25 kWh", "delivers 1.90 kWh in its 1-hour stay"),
    ),
    "wrong year": (
        ("2022-12-31 10:00", "2022-12-31 12:00", "moto", 20.0, 90.0),
        "arrival_soc_pct",
        ("column arrival", "line 3", "is not in 2023"),
    ),
    "bad time": (
        ("noon", GOOD[1], "moto", 20.0, 90.0),
        "arrival_soc_pct",
        ("column arrival", "line 3", "'noon' is not an ISO 8601 timestamp"),
    ),
}


@pytest.mark.parametrize("problem", list(SESSION_PROBLEMS))
def test_a_wrong_session_is_one_line(tmp_path, settings, problem):
    row, energy_column, fragments = SESSION_PROBLEMS[problem]
    good = GOOD if energy_column == "arrival_soc_pct" else (*GOOD[:3], 1.0, 90.0)
    path = write_sessions(tmp_path / f"sessions_{problem.replace(' ', '_')}.csv", [good, row], energy_column)
    one_line_error(lambda: session_file.sessions_from_file(path, HOURS, settings), str(path), *fragments)


LATER = ("2023-01-03 10:00", "2023-01-03 12:00", "moto")


@pytest.mark.parametrize(
    "rows, column, value",
    [
        ([(*GOOD[:3], 0.2, 0.9), (*LATER, 0.31, 0.85)], "required_soc_pct", 0.9),
        ([(*GOOD[:3], 0.2, 90.0), (*LATER, 0.31, 85.0)], "arrival_soc_pct", 0.2),
    ],
    ids=["both fractions", "arrival fractions"],
)
def test_soc_given_as_fractions_is_refused(tmp_path, settings, rows, column, value):
    """0.31 for 31 % would be read as 0.31 %: a column whose every SOC is at most 1 is refused."""
    path = write_sessions(tmp_path / "sessions_fractions.csv", rows)
    one_line_error(
        lambda: session_file.sessions_from_file(path, HOURS, settings),
        str(path),
        f"column {column}",
        f"line 2: {value:g}",
        "looks like a fraction",
        "percent, 0-100",
    )


def test_empty_batteries_are_no_fraction(tmp_path, settings):
    path = write_sessions(tmp_path / "sessions_empty.csv", [(*GOOD[:3], 0.0, 90.0)])
    assert session_file.sessions_from_file(path, HOURS, settings).sessions["arrival_soc_pct"].tolist() == [0.0]


@pytest.mark.parametrize(
    "columns",
    [
        ["arrival", "departure", "kind", "required_soc_pct"],
        ["arrival", "departure", "kind", "arrival_soc_pct", "energy_requested_kwh", "required_soc_pct"],
        ["arrival", "kind", "arrival_soc_pct", "required_soc_pct"],
    ],
    ids=["neither", "both", "no departure"],
)
def test_session_file_columns(tmp_path, settings, columns):
    values = {
        "arrival": GOOD[0],
        "departure": GOOD[1],
        "kind": "moto",
        "arrival_soc_pct": 20.0,
        "energy_requested_kwh": 1.0,
        "required_soc_pct": 90.0,
    }
    path = tmp_path / "sessions.csv"
    pd.DataFrame([{name: values[name] for name in columns}]).to_csv(path, index=False)
    missing = "column departure" if "departure" not in columns else "column arrival_soc_pct"
    one_line_error(lambda: session_file.sessions_from_file(path, HOURS, settings), str(path), missing)


# ---------------------------------------------------------------- the command line


def example_site(folder: Path) -> dict:
    """The example site's files, copied into a project `folder`, as a scenario's overrides."""
    shutil.copytree(EXAMPLES, folder / "data" / "examples")
    files = {kind: {split: f"data/examples/{kind}_{split}.csv" for split in SPLITS} for kind in KINDS}
    return {
        "weather": {"source": "file", "files": files["weather"]},
        "mall": {"load_files": files["load"]},
        "fleet": {"sessions_files": files["sessions"]},
        "tariff": {"energy_price_files": files["energy_price"]},
        "emissions": {"grid_factor_files": files["grid_factor"]},
    }


def _spoil(path: Path, problem: str) -> None:
    table = pd.read_csv(path, dtype=str)
    if problem == "missing":
        path.unlink()
    elif problem == "nan":
        table.iloc[40, 1] = "NaN"
        table.to_csv(path, index=False)
    elif problem == "short":
        table.iloc[:100].to_csv(path, index=False)
    elif problem == "unknown kind":
        table.loc[20, "kind"] = "bus"
        table.to_csv(path, index=False)
    elif problem == "wrong year":
        table["timestamp"] = table["timestamp"].str.replace("2025", "2024")
        table.to_csv(path, index=False)


@pytest.mark.parametrize(
    "kind, split, problem",
    [
        ("sessions", "eval", "unknown kind"),
        ("energy_price", "train", "nan"),
        ("grid_factor", "eval", "missing"),
        ("load", "train", "short"),
        ("weather", "eval", "wrong year"),
    ],
)
def test_cli_refuses_a_wrong_file_in_one_line(tmp_path, kind, split, problem):
    write_params(tmp_path, {"scenarios": {"mall": {}, "example": example_site(tmp_path)}})
    path = tmp_path / "data" / "examples" / f"{kind}_{split}.csv"
    _spoil(path, problem)
    result = run_cli("--scenario", "example", "build-dataset", cwd=tmp_path, check=False)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("evstation: error: "), lines
    assert f"{kind}_{split}.csv" in lines[0] and "Traceback" not in result.stderr
    built = data_dir(tmp_path, "example")
    assert not any((built / name).exists() for name in SPLITS), "no split of a failed build is left"
    assert not (tmp_path / "results" / "scenarios" / "example" / "dataset" / "summary.json").exists()


def test_cli_refuses_a_load_in_w_in_one_line(tmp_path, capsys):
    """The example site's training load written in W: exit 2, one line naming the file, the line, the
    column, the value and the limit key, and no dataset."""
    write_params(tmp_path, {"scenarios": {"mall": {}, "example": example_site(tmp_path)}})
    path = tmp_path / "data" / "examples" / "load_train.csv"
    table = pd.read_csv(path, dtype=str)
    table["mall_kwh"] = (table["mall_kwh"].astype(float) * 1000).map("{:g}".format)
    table.to_csv(path, index=False)
    capsys.readouterr()
    assert main_in_process("--scenario", "example", "build-dataset", cwd=tmp_path) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("evstation: error: data/examples/load_train.csv: "), lines
    for fragment in ("column mall_kwh", "line 2: ", "inputs.limits.load_kwh_max", "is it in W"):
        assert fragment in lines[0], (fragment, lines[0])
    assert not data_dir(tmp_path, "example").exists()


# ---------------------------------------------------------------- the example site, end to end


@pytest.fixture(scope="module")
def example_build(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("example_site")
    write_params(folder, {"scenarios": {"mall": {}, "example": example_site(folder)}})
    run_cli_in_process("--scenario", "example", "build-dataset", cwd=folder)
    return folder


@pytest.mark.parametrize("split", SPLITS)
def test_dataset_holds_the_files_values(example_build, split):
    """Load, prices, factors and weather in the dataset are the files' values, hour by hour; the PV is
    the plant's output under the file's weather."""
    folder, source = data_dir(example_build, "example") / split, EXAMPLES

    def read(name):
        return pd.read_csv(folder / name)

    building, profiles = read("building.csv"), read("profiles.csv")
    np.testing.assert_array_equal(building["non_shiftable_load"], pd.read_csv(source / f"load_{split}.csv")["mall_kwh"])
    np.testing.assert_array_equal(
        read("pricing.csv")["electricity_pricing"],
        pd.read_csv(source / f"energy_price_{split}.csv")["tariff_pen_per_kwh"],
    )
    np.testing.assert_array_equal(
        read("carbon_intensity.csv")["carbon_intensity"],
        pd.read_csv(source / f"grid_factor_{split}.csv")["emission_factor_kg_per_kwh"],
    )
    weather_file = pd.read_csv(source / f"weather_{split}.csv")
    weather = read("weather.csv")
    np.testing.assert_array_equal(weather["direct_solar_irradiance"], weather_file["dni_w_m2"])
    np.testing.assert_array_equal(weather["diffuse_solar_irradiance"], weather_file["dhi_w_m2"])
    np.testing.assert_array_equal(weather["outdoor_dry_bulb_temperature"], weather_file["air_temperature_c"])
    np.testing.assert_array_equal(profiles["ghi_w_m2"], weather_file["ghi_w_m2"])
    settings = load_settings(example_build / "params.yaml", "example")
    hours = calendar.year_hours(settings.splits[split].year, settings.site.utc_offset_h)[:HORIZON]
    frame = weather_file.drop(columns="timestamp").set_axis(hours)
    expected_pv = solar.pv_output(frame, settings.site, settings.pv)["pv_ac_kw"].to_numpy()
    np.testing.assert_allclose(profiles["pv_kwh"], expected_pv, rtol=1e-12)
    assert profiles["pv_kwh"].sum() > 0 and len(building) == HORIZON


def _rounded_visits(split: str, settings) -> pd.DataFrame:
    """The file's visits on hour steps, worked out here from the documented rule (nearest hour, one step at least)."""
    visits = pd.read_csv(EXAMPLES / f"sessions_{split}.csv")
    start = pd.Timestamp(settings.splits[split].year, 1, 1)

    def step(column):
        return ((pd.to_datetime(visits[column]) - start) / pd.Timedelta(minutes=1) + 30) // 60

    visits["arrival_step"] = step("arrival").astype(int)
    visits["departure_step"] = np.maximum(step("departure").astype(int), visits["arrival_step"] + 1)
    battery = visits["kind"].map({kind: settings.vehicles.kind(kind).battery_kwh for kind in VEHICLE_KINDS})
    if "energy_requested_kwh" in visits:
        visits["arrival_soc_pct"] = visits["required_soc_pct"] - visits["energy_requested_kwh"] / battery * 100
    return visits[visits["departure_step"] <= HORIZON]


@pytest.mark.parametrize("split", SPLITS)
def test_dataset_sessions_are_the_files(example_build, split):
    """Every served session is a visit of the file; every other visit of the horizon was turned away,
    at an hour when every socket of its kind was taken."""
    folder = data_dir(example_build, "example") / split
    settings = load_settings(example_build / "params.yaml", "example")
    served, arrivals = pd.read_csv(folder / "sessions.csv"), pd.read_csv(folder / "arrivals.csv")
    visits = _rounded_visits(split, settings)
    keys = ["arrival_step", "departure_step", "kind"]
    counted = visits.assign(n=1).groupby(keys)["n"].sum()
    taken = served.assign(n=1).groupby(keys)["n"].sum()
    assert (taken.reindex(counted.index, fill_value=0) <= counted).all() and taken.index.isin(counted.index).all()
    for row in served.itertuples(index=False):
        same = visits[
            (visits["arrival_step"] == row.arrival_step)
            & (visits["departure_step"] == row.departure_step)
            & (visits["kind"] == row.kind)
        ]
        assert np.isclose(same["arrival_soc_pct"], row.arrival_soc_pct).any()
        assert np.isclose(same["required_soc_pct"], row.required_soc_pct).any()
    day = visits["arrival_step"] // 24
    for kind in VEHICLE_KINDS:
        per_day = visits[visits["kind"] == kind].groupby(day).size().reindex(range(HORIZON // 24), fill_value=0)
        np.testing.assert_array_equal(arrivals[f"{kind}_arrivals"], per_day)
        served_per_day = (
            (served["kind"] == kind).groupby(served["arrival_step"] // 24).sum().reindex(range(7), fill_value=0)
        )
        np.testing.assert_array_equal(arrivals[f"{kind}_turned_away"], per_day - served_per_day)
    away = counted - taken.reindex(counted.index, fill_value=0)
    assert away.sum() == arrivals[[f"{k}_turned_away" for k in VEHICLE_KINDS]].to_numpy().sum() > 0
    for (arrival_step, _, kind), _count in away[away > 0].items():
        busy = served[
            (served["kind"] == kind)
            & (served["arrival_step"] <= arrival_step)
            & (served["departure_step"] > arrival_step)
        ]
        assert len(busy) == settings.sockets.group(kind).count, (arrival_step, kind)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["sessions"] == len(served) and summary["arrivals"] == len(visits)


def test_example_build_passes_validation(example_build):
    """Every physical check holds on the files' week, CityLearn's rollout of the file's sessions included."""
    result = run_cli("--scenario", "example", "validate", cwd=example_build, check=False)
    report = json.loads((example_build / "results" / "scenarios" / "example" / "validation.json").read_text())
    failed = [check["name"] for check in report["checks"] if check["verdict"] != "pass"]
    assert result.returncode == 0 and not failed, failed


def test_the_documented_scenario_names_the_example_files(tmp_path):
    """docs/your-site.md's scenario is valid params and names every example file, each kind once per split."""
    block = re.search(r"```yaml\n(scenarios:.*?)```", (ROOT / "docs" / "your-site.md").read_text(), re.S).group(1)
    scenarios = yaml.safe_load(block)["scenarios"]
    params = write_params(tmp_path, {"scenarios": scenarios})
    settings = load_settings(params, "example_site")
    named = settings.input_files()
    assert set(named) == {f"{key}.{split}" for key in KINDS.values() for split in SPLITS}
    assert sorted(Path(path).name for path in named.values()) == sorted(path.name for path in EXAMPLES.glob("*.csv"))
    assert all((ROOT / path).is_file() for path in named.values())
