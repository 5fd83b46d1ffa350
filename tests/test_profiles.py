"""The site models at the real site settings: PV (synthetic and PVGIS TMY), the mall, EV sessions."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pvlib
import pytest

from conftest import PARAMS, SMALL, with_station_only
from evstation.config import VEHICLE_KINDS, apply_overrides, load_settings, scenario_settings
from evstation.errors import DataError
from evstation.site import calendar, mall, sessions, solar
from evstation.site.year import build_station_year

YEAR = 2023
WEATHER_SEED, MALL_SEED, SESSION_SEED = 11, 22, 33


@pytest.fixture(scope="module")
def settings():
    return load_settings(PARAMS)


@pytest.fixture(scope="module")
def hours(settings):
    return calendar.year_hours(YEAR, settings.site.utc_offset_h)


@pytest.fixture(scope="module")
def weather(settings, hours):
    return solar.synthetic_weather(hours, settings.site, settings.weather, WEATHER_SEED)


@pytest.fixture(scope="module")
def pv(settings, weather):
    return solar.pv_output(weather, settings.site, settings.pv)


@pytest.fixture(scope="module")
def sun_zenith(settings, hours):
    location = pvlib.location.Location(
        settings.site.latitude_deg, settings.site.longitude_deg, altitude=settings.site.altitude_m
    )
    return location.get_solarposition(calendar.mid_hours(hours))["apparent_zenith"].to_numpy()


# ---------------------------------------------------------------- calendar


def test_year_hours_are_local_and_whole(hours):
    assert len(hours) == 8760
    assert hours[0] == pd.Timestamp("2023-01-01 05:00", tz="UTC")
    assert hours[0].utcoffset() == pd.Timedelta(hours=-5)
    assert hours[0].hour == 0 and hours[-1].hour == 23 and hours[-1].day == 31 and hours[-1].month == 12
    assert (hours[1:] - hours[:-1] == pd.Timedelta(hours=1)).all()


def test_year_hours_rejects_a_leap_year():
    with pytest.raises(ValueError, match="2024 is a leap year"):
        calendar.year_hours(2024, -5)


# ---------------------------------------------------------------- PV


def test_synthetic_weather_shape_and_annual_ghi(settings, weather):
    assert len(weather) == 8760
    assert not weather.isna().to_numpy().any()
    assert (weather[["ghi_w_m2", "dni_w_m2", "dhi_w_m2"]] >= 0).to_numpy().all()
    assert weather["ghi_w_m2"].sum() / 1000 == pytest.approx(settings.weather.annual_ghi_kwh_m2, rel=1e-5)
    assert weather["ghi_w_m2"].max() < 1200
    assert 20 < weather["air_temperature_c"].mean() < 33


def test_pv_zero_at_night(weather, pv, sun_zenith):
    ac = pv["pv_ac_kw"].to_numpy()
    ghi = weather["ghi_w_m2"].to_numpy()
    assert (ac[ghi <= 0] == 0).all()
    below_horizon = sun_zenith > 90
    assert below_horizon.sum() > 3000
    assert (ghi[below_horizon] == 0).all()
    assert (ac[below_horizon] == 0).all()
    local_hour = pv.index.hour.to_numpy()
    night = (local_hour < 5) | (local_hour >= 19)
    assert (ac[night] == 0).all()
    assert (pv["poa_w_m2"].to_numpy()[night] == 0).all()


def test_pv_produces_every_day_around_noon(pv):
    ac = pv["pv_ac_kw"].to_numpy().reshape(365, 24)
    assert (ac[:, 9:15] > 0).all(), "every day has some light between 09 and 15 h"


def test_pv_peak_at_local_solar_noon(pv):
    by_hour = pv["pv_ac_kw"].groupby(pv.index.hour).mean()
    assert by_hour.idxmax() in (11, 12), by_hour.round(0).to_dict()
    # solar noon at lon -73.25 in UTC-5: 12:00 - 1.75 deg * 4 min ~ 11:53 local (mean over the year)
    centre = float(((by_hour.index + 0.5) * by_hour).sum() / by_hour.sum())
    assert abs(centre - 11.9) < 0.5, centre
    daily_peak_hour = pv["pv_ac_kw"].to_numpy().reshape(365, 24).argmax(axis=1)
    assert np.isin(daily_peak_hour, (10, 11, 12, 13)).mean() > 0.9


def test_pv_annual_yield_and_performance_ratio(settings, pv):
    figures = solar.pv_year_summary(pv, settings.pv)
    low_y, high_y = settings.validation.pv_yield_kwh_per_kwp
    low_r, high_r = settings.validation.performance_ratio
    assert low_y <= figures["pv_yield_kwh_per_kwp"] <= high_y, figures
    assert low_r <= figures["performance_ratio"] <= high_r, figures
    assert figures["pv_ac_kwh"] == pytest.approx(pv["pv_ac_kw"].sum())
    assert figures["pv_yield_kwh_per_kwp"] == pytest.approx(figures["pv_ac_kwh"] / settings.pv.dc_capacity_kwp)
    # POA on a 10 deg tilt near the equator: close to GHI
    assert (
        0.9 * settings.weather.annual_ghi_kwh_m2
        < figures["poa_insolation_kwh_m2"]
        < 1.05 * settings.weather.annual_ghi_kwh_m2
    )


def test_pv_within_physical_limits(settings, pv):
    ac = pv["pv_ac_kw"].to_numpy()
    assert (ac >= 0).all()
    assert ac.max() <= settings.pv.inverter_ac_limit_kw + 1e-9
    assert ac.max() <= settings.pv.dc_capacity_kwp
    assert (ac <= pv["pv_dc_kw"].to_numpy() + 1e-9).all(), "AC never exceeds DC after losses"


def test_synthetic_weather_seeded(settings, hours, weather):
    again = solar.synthetic_weather(hours, settings.site, settings.weather, WEATHER_SEED)
    pd.testing.assert_frame_equal(again, weather)
    other = solar.synthetic_weather(hours, settings.site, settings.weather, WEATHER_SEED + 1)
    assert not np.allclose(other["ghi_w_m2"], weather["ghi_w_m2"])
    assert other["ghi_w_m2"].sum() / 1000 == pytest.approx(settings.weather.annual_ghi_kwh_m2, rel=1e-5)


# ---------------------------------------------------------------- PVGIS TMY files


def _utc_rows(weather: pd.DataFrame, utc_offset_h: float) -> np.ndarray:
    """The local-time weather laid out as a TMY file in UTC (first rows wrap from the year's end)."""
    columns = ["ghi_w_m2", "dni_w_m2", "dhi_w_m2", "air_temperature_c", "relative_humidity_pct", "wind_speed_m_s"]
    return np.roll(weather[columns].to_numpy(), -int(round(utc_offset_h)), axis=0)


def _utc_stamps() -> list[str]:
    return list(pd.date_range("2010-01-01", periods=8760, freq="h").strftime("%Y%m%d:%H%M"))


def write_tmy_json(path, weather, settings):
    rows = _utc_rows(weather, settings.site.utc_offset_h)
    hourly = [
        {
            "time(UTC)": stamp,
            "T2m": t,
            "RH": rh,
            "G(h)": g,
            "Gb(n)": b,
            "Gd(h)": d,
            "IR(h)": 380.0,
            "WS10m": ws,
            "WD10m": 90.0,
            "SP": 100000.0,
        }
        for stamp, (g, b, d, t, rh, ws) in zip(_utc_stamps(), rows.tolist())
    ]
    document = {
        "inputs": {
            "location": {
                "latitude": settings.site.latitude_deg,
                "longitude": settings.site.longitude_deg,
                "elevation": settings.site.altitude_m,
            },
            "meteo_data": {"radiation_db": "PVGIS-SARAH2", "year_min": 2005, "year_max": 2020},
        },
        "outputs": {"months_selected": [{"month": m, "year": 2010} for m in range(1, 13)], "tmy_hourly": hourly},
        "meta": {"inputs": {"location": {"description": "Selected location"}}, "outputs": {}},
    }
    path.write_text(json.dumps(document))
    return path


def write_tmy_csv(path, weather, settings):
    rows = _utc_rows(weather, settings.site.utc_offset_h)
    lines = [
        f"Latitude (decimal degrees): {settings.site.latitude_deg:.3f}",
        f"Longitude (decimal degrees): {settings.site.longitude_deg:.3f}",
        f"Elevation (m): {settings.site.altitude_m:.1f}",
        "month,year",
        *[f"{m},2010" for m in range(1, 13)],
        "time(UTC),T2m,RH,G(h),Gb(n),Gd(h),IR(h),WS10m,WD10m,SP",
    ]
    for stamp, (g, b, d, t, rh, ws) in zip(_utc_stamps(), rows.tolist()):
        lines.append(f"{stamp},{t!r},{rh!r},{g!r},{b!r},{d!r},380.0,{ws!r},90.0,100000.0")
    lines += ["", "T2m: 2-m air temperature (degree Celsius)", "G(h): Global irradiance on the horizontal plane (W/m2)"]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    return path


@pytest.fixture(scope="module")
def tmy_json(tmp_path_factory, weather, settings):
    return write_tmy_json(tmp_path_factory.mktemp("tmy") / "iquitos_tmy.json", weather, settings)


@pytest.mark.parametrize("writer", [write_tmy_json, write_tmy_csv], ids=["json", "csv"])
def test_pvlib_reads_the_written_tmy(tmp_path, weather, settings, writer):
    path = writer(tmp_path / f"tmy.{writer.__name__.split('_')[-1]}", weather, settings)
    data = pvlib.iotools.read_pvgis_tmy(str(path), map_variables=True)[0]
    assert len(data) == 8760
    for column in ("ghi", "dni", "dhi", "temp_air", "relative_humidity", "wind_speed"):
        assert column in data.columns
    assert str(data.index.tz) == "UTC"
    local = solar.tmy_weather(weather.index, settings.site, path, settings.inputs.limits)
    assert local.index.equals(weather.index)
    np.testing.assert_allclose(
        local.to_numpy(dtype=float), weather[local.columns].to_numpy(dtype=float), rtol=1e-12, atol=1e-9
    )


def test_tmy_file_shifted_to_local_time(tmy_json, settings, hours):
    """A file in UTC: at 12:00 UTC it is 07:00 in Iquitos; the sun must peak near local noon."""
    local = solar.tmy_weather(hours, settings.site, tmy_json, settings.inputs.limits)
    by_hour = local["ghi_w_m2"].groupby(local.index.hour).mean()
    assert by_hour.idxmax() in (11, 12)
    assert (by_hour.loc[[0, 1, 2, 3, 4, 20, 21, 22, 23]] == 0).all()


def both_splits(path) -> dict:
    """One file for both splits (a test's input: the splits' own files are tested in test_inputs.py)."""
    return {"train": str(path), "eval": str(path)}


def test_settings_with_tmy_source_produce_pv_from_it(tmy_json, settings, weather, pv):
    small = apply_overrides(settings, {**SMALL, "weather.source": "file", "weather.files": both_splits(tmy_json)})
    year = build_station_year(small, "train")
    horizon = small.simulation.horizon_hours
    np.testing.assert_allclose(year.weather["ghi_w_m2"].to_numpy(), weather["ghi_w_m2"].to_numpy()[:horizon], atol=1e-9)
    np.testing.assert_allclose(
        year.pv["pv_ac_kw"].to_numpy(), pv["pv_ac_kw"].to_numpy()[:horizon], rtol=1e-9, atol=1e-6
    )
    assert year.pv["pv_ac_kw"].sum() > 0
    night = year.weather["ghi_w_m2"].to_numpy() <= 0
    assert (year.pv["pv_ac_kw"].to_numpy()[night] == 0).all()


def test_missing_tmy_file_is_a_data_error(tmp_path, settings, hours):
    path = tmp_path / "no_such_tmy.json"
    with pytest.raises(DataError, match="no_such_tmy.json"):
        solar.tmy_weather(hours, settings.site, path, settings.inputs.limits)
    small = apply_overrides(settings, {**SMALL, "weather.source": "file", "weather.files": both_splits(path)})
    with pytest.raises(DataError, match="no_such_tmy.json"):
        build_station_year(small, "train")


def test_broken_tmy_file_is_a_data_error(tmp_path, settings, hours):
    path = tmp_path / "broken_tmy.json"
    path.write_text('{"outputs": {"tmy_hourly": [')
    with pytest.raises(DataError, match="broken_tmy.json"):
        solar.tmy_weather(hours, settings.site, path, settings.inputs.limits)


def test_short_tmy_file_is_a_data_error(tmp_path, settings, weather, hours):
    path = write_tmy_json(tmp_path / "short_tmy.json", weather, settings)
    document = json.loads(path.read_text())
    document["outputs"]["tmy_hourly"] = document["outputs"]["tmy_hourly"][:8000]
    path.write_text(json.dumps(document))
    with pytest.raises(DataError, match="short_tmy.json.*8760"):
        solar.tmy_weather(hours, settings.site, path, settings.inputs.limits)


# ---------------------------------------------------------------- mall


@pytest.fixture(scope="module")
def mall_kwh(settings, hours):
    return mall.mall_load_kwh(hours, settings.mall, MALL_SEED)


def test_mall_annual_energy(settings, mall_kwh):
    assert len(mall_kwh) == 8760
    assert (mall_kwh >= 0).all()
    assert mall_kwh.sum() / 1000 == pytest.approx(settings.mall.annual_energy_mwh, rel=1e-9)
    assert mall_kwh.mean() == pytest.approx(1412.1, abs=0.1)
    assert 2300 < mall_kwh.max() < 3200


def test_mall_daily_and_weekly_shape(hours, mall_kwh):
    hour = hours.hour.to_numpy()
    night = mall_kwh[hour < 6].mean()
    midday = mall_kwh[(hour >= 11) & (hour <= 20)].mean()
    assert 400 < night < 550, night
    assert 1900 < midday < 2500, midday
    assert night < 0.3 * midday
    assert mall_kwh[hour == 22].mean() < mall_kwh[hour == 21].mean() < midday
    sunday = hours.dayofweek.to_numpy() == 6
    assert sunday.sum() == 53 * 24
    assert mall_kwh[sunday].mean() < 0.9 * mall_kwh[~sunday].mean()
    # every Sunday below the mean weekday of its own week
    daily = mall_kwh.reshape(365, 24).sum(axis=1)
    for day in np.flatnonzero(sunday[::24]):
        if day >= 6:
            assert daily[day] < daily[day - 6 : day].mean()


def test_mall_seeded(settings, hours, mall_kwh):
    np.testing.assert_array_equal(mall.mall_load_kwh(hours, settings.mall, MALL_SEED), mall_kwh)
    assert not np.allclose(mall.mall_load_kwh(hours, settings.mall, MALL_SEED + 1), mall_kwh)


def test_station_only_has_no_mall_load(settings, hours, tmp_path):
    station_only = apply_overrides(
        scenario_settings(apply_overrides(settings, with_station_only()), "station_only"), SMALL
    )
    assert not station_only.mall.enabled
    assert (mall.mall_load_kwh(hours, station_only.mall, MALL_SEED) == 0).all()
    year = build_station_year(station_only, "train")
    assert len(year.mall_kwh) == SMALL["simulation.horizon_hours"]
    assert (year.mall_kwh == 0).all()


def _write_load(path, values, hours):
    pd.DataFrame({"timestamp": hours[: len(values)].strftime("%Y-%m-%d %H:%M"), "mall_kwh": values}).to_csv(
        path, index=False
    )
    return path


def test_mall_load_file_is_used(settings, hours, tmp_path):
    values = 1000.0 + 100 * np.sin(np.arange(8760) / 24)
    path = _write_load(tmp_path / "mall_measured.csv", values, hours)
    np.testing.assert_allclose(
        mall.load_file_kwh(path, hours, settings.site.utc_offset_h, settings.inputs.limits), values
    )
    small = apply_overrides(settings, {**SMALL, "mall.load_files": both_splits(path)})
    np.testing.assert_allclose(build_station_year(small, "train").mall_kwh, values[:168])
    alone = apply_overrides(small, {"mall.enabled": False})
    assert (build_station_year(alone, "train").mall_kwh == 0).all(), "no mall: its file is not read"


@pytest.mark.parametrize(
    "problem", ["missing", "short", "long", "no column", "text", "negative", "nan", "empty", "ragged", "no timestamp"]
)
def test_broken_mall_load_file(tmp_path, settings, hours, problem):
    path = tmp_path / f"mall_{problem.replace(' ', '_')}.csv"
    good = np.full(8760, 1000.0)
    if problem == "short":
        _write_load(path, good[:8759], hours)
    elif problem == "long":
        table = pd.DataFrame(
            {
                "timestamp": pd.date_range("2023-01-01", periods=8761, freq="h").strftime("%Y-%m-%d %H:%M"),
                "mall_kwh": 1000.0,
            }
        )
        table.to_csv(path, index=False)
    elif problem == "no column":
        pd.DataFrame({"timestamp": hours.strftime("%Y-%m-%d %H:%M"), "load_kwh": good}).to_csv(path, index=False)
    elif problem == "no timestamp":
        pd.DataFrame({"mall_kwh": good}).to_csv(path, index=False)
    elif problem == "text":
        _write_load(path, ["lots"] + [1000.0] * 8759, hours)
    elif problem == "negative":
        _write_load(path, np.r_[good[:-1], -1.0], hours)
    elif problem == "nan":
        _write_load(path, np.r_[np.nan, good[1:]], hours)
    elif problem == "empty":
        path.write_text("")
    elif problem == "ragged":
        path.write_text("timestamp,mall_kwh\n2023-01-01 00:00,1000\n2023-01-01 01:00,1000,2,3,4\n")
    with pytest.raises(DataError, match=re.escape(str(path))) as caught:
        mall.load_file_kwh(path, hours, -5.0, settings.inputs.limits)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value).strip()


# ---------------------------------------------------------------- sessions


@pytest.fixture(scope="module")
def fleet(settings, hours):
    """The full year of sessions at the real station (sessions all end inside the year)."""
    return sessions.generate_sessions(hours, settings, SESSION_SEED)


def test_sessions_columns_and_ids(settings, fleet):
    table = fleet.sessions
    assert list(table.columns) == sessions.SESSION_COLUMNS
    assert len(table) > 100_000
    assert table["session_id"].is_unique
    ids = sessions.charger_ids(settings)
    kinds = sessions.socket_kinds(settings)
    assert len(ids) == 128 and ids[0] == "moto_000" and ids[-1] == "mototaxi_015"
    assert (table["charger_id"] == [ids[s] for s in table["socket"]]).all()
    assert (table["kind"] == [kinds[s] for s in table["socket"]]).all()
    assert set(table["charger_id"]) == set(ids), "every socket serves someone in a year"


def test_arrivals_only_in_opening_hours(settings, fleet):
    hour = fleet.sessions["arrival_step"].to_numpy() % 24
    opening = settings.opening_hours
    assert hour.min() >= opening.open_hour and hour.max() < opening.close_hour
    assert set(range(opening.open_hour, opening.close_hour)) <= set(hour)


def test_sessions_feasible(settings, fleet):
    table = fleet.sessions
    power = table["kind"].map({k: settings.sockets.group(k).power_kw for k in VEHICLE_KINDS})
    per_step = power * settings.sockets.efficiency_pct / 100
    assert (table["stay_steps"] >= 1).all()
    assert (table["min_steps"] >= 1).all()
    assert (table["stay_steps"] >= table["min_steps"]).all()
    assert (table["departure_step"] == table["arrival_step"] + table["stay_steps"]).all()
    assert (table["energy_required_kwh"] > 0).all()
    assert (table["energy_required_kwh"] <= per_step * table["stay_steps"] + 1e-9).all()
    assert (table["energy_required_kwh"] <= per_step * table["min_steps"] + 1e-9).all()
    assert (table["energy_required_kwh"] > per_step * (table["min_steps"] - 1) - 1e-9).all()
    expected = (table["required_soc_pct"] - table["arrival_soc_pct"]) / 100 * table["battery_kwh"]
    np.testing.assert_allclose(table["energy_required_kwh"], expected)
    assert (table["energy_required_kwh"] <= table["battery_kwh"]).all()
    slack_max = settings.fleet.stay_slack_steps_max
    assert (table["stay_steps"] <= table["min_steps"] + slack_max).all()
    # stays end by closing time unless the vehicle needs longer
    closing = table["arrival_step"] // 24 * 24 + settings.opening_hours.close_hour
    late = table["departure_step"] > closing
    assert (table.loc[late, "stay_steps"] == table.loc[late, "min_steps"]).all()
    for kind in VEHICLE_KINDS:
        vehicle = settings.vehicles.kind(kind)
        of_kind = table[table["kind"] == kind]
        assert (of_kind["battery_kwh"] == vehicle.battery_kwh).all()
        assert (of_kind["required_soc_pct"] == vehicle.required_soc_pct).all()
        low, high = (
            vehicle.arrival_soc_pct - vehicle.arrival_soc_spread_pct,
            vehicle.arrival_soc_pct + vehicle.arrival_soc_spread_pct,
        )
        assert of_kind["arrival_soc_pct"].between(low, high).all()
        assert of_kind["arrival_soc_pct"].mean() == pytest.approx(vehicle.arrival_soc_pct, abs=0.5)


def test_no_two_sessions_share_a_socket(fleet):
    for _, own in fleet.sessions.groupby("socket"):
        own = own.sort_values("arrival_step")
        starts, ends = own["arrival_step"].to_numpy(), own["departure_step"].to_numpy()
        assert (starts[1:] >= ends[:-1]).all()


def test_arrivals_are_served_or_turned_away(settings, fleet):
    arrivals, turned = fleet.arrivals, fleet.turned_away
    assert len(arrivals) == len(turned) == 365
    assert (arrivals["day"] == np.arange(365)).all() and (turned["day"] == np.arange(365)).all()
    served = fleet.sessions.assign(day=fleet.sessions["arrival_step"] // 24)
    for kind in VEHICLE_KINDS:
        assert (turned[kind] >= 0).all()
        assert (turned[kind] <= arrivals[kind]).all()
        per_day = served[served["kind"] == kind].groupby("day").size().reindex(range(365), fill_value=0)
        np.testing.assert_array_equal(arrivals[kind].to_numpy(), per_day.to_numpy() + turned[kind].to_numpy())
        assert arrivals[kind].sum() == (fleet.sessions["kind"] == kind).sum() + turned[kind].sum()
    # the design fleet: about 900 motos and 130 mototaxis a day (Sundays lower)
    assert 0.85 * 900 < arrivals["moto"].mean() < 1.0 * 900
    assert 0.85 * 130 < arrivals["mototaxi"].mean() < 1.0 * 130


def test_turned_away_only_when_every_socket_is_busy(settings, fleet):
    """On a day with turned-away arrivals of a kind, that kind's sockets were all busy at some hour."""
    table = fleet.sessions
    for kind in VEHICLE_KINDS:
        count = settings.sockets.group(kind).count
        days = np.flatnonzero(fleet.turned_away[kind].to_numpy() > 0)[:20]
        of_kind = table[table["kind"] == kind]
        for day in days:
            occupied = np.zeros(24 * 2, dtype=int)
            around = of_kind[(of_kind["arrival_step"] >= day * 24) & (of_kind["arrival_step"] < (day + 1) * 24)]
            for start, end in zip(around["arrival_step"] - day * 24, around["departure_step"] - day * 24):
                occupied[start:end] += 1
            assert occupied.max() == count


def test_sessions_seeded(settings, hours):
    two_weeks = hours[: 24 * 14]
    first = sessions.generate_sessions(two_weeks, settings, 5)
    again = sessions.generate_sessions(two_weeks, settings, 5)
    pd.testing.assert_frame_equal(first.sessions, again.sessions)
    pd.testing.assert_frame_equal(first.arrivals, again.arrivals)
    pd.testing.assert_frame_equal(first.turned_away, again.turned_away)
    other = sessions.generate_sessions(two_weeks, settings, 6)
    assert not first.sessions[["arrival_step", "socket"]].equals(other.sessions[["arrival_step", "socket"]])
    assert not first.arrivals.equals(other.arrivals)


def test_short_horizon_keeps_only_sessions_inside_it(settings):
    small = apply_overrides(settings, SMALL)
    year = build_station_year(small, "train")
    horizon = small.simulation.horizon_hours
    assert len(year.hours) == horizon and len(year.weather) == horizon and len(year.pv) == horizon
    assert len(year.fleet.arrivals) == horizon // 24
    assert (year.fleet.sessions["departure_step"] <= horizon).all()
    assert len(year.fleet.sessions) > 0
