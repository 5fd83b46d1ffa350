"""The rules that read the station state (`self_consumption`, `least_laxity`), run for real in CityLearn."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import PARAMS, results_dir, run_cli_in_process
from evstation.config import load_settings
from evstation.control.floor import floor_fraction
from evstation.control.rules import HoldForPeak, LeastLaxity, PeakShaving, SelfConsumption, StationSpec, make_baseline
from test_floor import station_state

RULES = ("self_consumption", "least_laxity")


def _metrics(folder: Path, name: str) -> dict:
    return json.loads((results_dir(folder) / "metrics" / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def ran(built_small, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("station_rules")
    shutil.copytree(built_small, folder, dirs_exist_ok=True)
    for name in ("uncontrolled", *RULES):
        run_cli_in_process("baseline", name, cwd=folder)
    return folder


def test_both_rules_serve_every_session_and_close_the_energy_balance(ran):
    for name in RULES:
        for split in ("train", "eval"):
            metrics = _metrics(ran, name)[split]
            assert metrics["sessions_departed"] > 0
            assert metrics["ev_satisfaction_pct"] == 100.0, f"{name}/{split}"
            assert metrics["max_energy_balance_error_kwh"] <= 1e-6


def test_least_laxity_imports_no_more_than_uncontrolled(ran):
    for split in ("train", "eval"):
        assert _metrics(ran, "least_laxity")[split]["import_kwh"] <= _metrics(ran, "uncontrolled")[split]["import_kwh"]
        assert (
            _metrics(ran, "self_consumption")[split]["import_kwh"] <= _metrics(ran, "uncontrolled")[split]["import_kwh"]
        )


def test_self_consumption_never_discharges_while_pv_exceeds_demand(ran):
    for split in ("train", "eval"):
        timeseries = pd.read_csv(results_dir(ran) / "timeseries" / f"self_consumption_{split}.csv")
        pv_exceeds = timeseries["pv_kwh"] > timeseries["load_kwh"] + timeseries["ev_kwh"]
        assert pv_exceeds.any() and (timeseries["bess_out_kwh"] > 0).any()
        assert (timeseries.loc[pv_exceeds, "bess_out_kwh"] == 0).all()


def test_least_laxity_charges_to_the_requirement_not_to_full(ran):
    """Full power fills every vehicle; least laxity stops at the required SOC (every session still served)."""
    rule = pd.read_csv(results_dir(ran) / "timeseries" / "least_laxity_train.csv")
    full = pd.read_csv(results_dir(ran) / "timeseries" / "uncontrolled_train.csv")
    assert not np.allclose(rule["ev_kwh"], full["ev_kwh"])
    assert rule["ev_kwh"].sum() < full["ev_kwh"].sum()
    assert rule["departing_delivered_kwh"].sum() == pytest.approx(rule["departing_required_kwh"].sum(), rel=0.01)


# ---------------------------------------------------------------- one step on hand-made states


def test_self_consumption_battery_stores_surplus_and_covers_import():
    rule = SelfConsumption()
    charging = rule.act({}, 10, station_state(pv_kwh=1000.0, load_kwh=300.0, vehicle_soc=np.full(4, 0.2)))
    ev_kwh = 3 * 2.0 + 3.0
    assert np.all(charging[1:] == 1.0)
    assert charging[0] == pytest.approx((1000.0 - 300.0 - ev_kwh) / 2712)
    night = rule.act({}, 10, station_state(pv_kwh=0.0, load_kwh=300.0))
    assert night[0] == pytest.approx(-(300.0 + ev_kwh) / 2712)
    empty = rule.act({}, 10, station_state(pv_kwh=0.0, load_kwh=300.0, battery_soc=0.2))
    assert empty[0] == 0.0  # at its minimum SOC: nothing to give


def test_least_laxity_gives_the_floor_at_night_and_surplus_least_laxity_first():
    rule = LeastLaxity()
    state = station_state(pv_kwh=0.0, steps_left=np.array([1, 2, 5, 1]))
    night = rule.act({}, 10, state)
    sockets = night[1:]
    assert sockets[1] == 0.0 and sockets[2] == 0.0  # time enough: wait
    assert sockets[0] == pytest.approx(1.75 / 1.9)  # the last step: what it needs
    assert sockets[3] == pytest.approx(2.7 / 2.85)
    sunny = rule.act({}, 10, station_state(pv_kwh=303.0, load_kwh=300.0, steps_left=np.array([3, 2, 5, 3])))[1:]
    # 3 kWh of surplus, one pool for both groups: moto 1 (laxity 1.08) gets its need (1.84 kWh from
    # the bus), the mototaxi (laxity 2.05) the rest, moto 0 (2.08) and moto 2 (4.08) nothing
    assert sunny[1] == pytest.approx(1.75 / 1.9)
    assert sunny[3] == pytest.approx((3.0 - 2 * 1.75 / 1.9) / 3.0)
    assert sunny[0] == 0.0 and sunny[2] == 0.0
    surplus_left = rule.act({}, 10, station_state(pv_kwh=303.0, load_kwh=300.0, steps_left=np.array([3, 2, 5, 3])))[0]
    assert surplus_left == 0.0  # nothing left over for the battery


def test_rules_refuse_to_act_without_the_state():
    with pytest.raises(ValueError, match="needs the station state"):
        LeastLaxity().act({}, 0)


# ---------------------------------------------------------------- hold_for_peak and peak_shaving on hand-made states

SPEC = StationSpec.from_settings(load_settings(PARAMS))  # tariff peak 18:00-22:59, battery 2,712 kW
BATTERY_KW = 2712.0
# the four vehicles' needs at once (1.75, 1.75, 1.75 and 2.7 kWh into their batteries), drawn from the bus
EV_AT_ONCE_KWH = (3 * 1.75 + 2.7) / 0.95
AT_ONCE = [1.75 / 1.9, 1.75 / 1.9, 1.75 / 1.9, 2.7 / 2.85]


def test_hold_for_peak_charges_at_once_and_keeps_the_battery_for_the_peak_hours():
    rule = HoldForPeak(SPEC)
    afternoon = rule.act({}, 10, station_state(hour=15, pv_kwh=0.0, load_kwh=300.0))
    assert afternoon[1:] == pytest.approx(AT_ONCE)
    assert afternoon[0] == 0.0  # import off-peak: the battery waits
    evening = rule.act({}, 10, station_state(hour=19, pv_kwh=0.0, load_kwh=300.0))
    assert evening[0] == pytest.approx(-(300.0 + EV_AT_ONCE_KWH) / BATTERY_KW)
    sunny = rule.act({}, 10, station_state(hour=12, pv_kwh=1000.0, load_kwh=300.0))
    assert sunny[0] == pytest.approx((1000.0 - 300.0 - EV_AT_ONCE_KWH) / BATTERY_KW)


def _shaving(threshold_kw: float, recharge_soc: float = 0.2) -> PeakShaving:
    return PeakShaving(SPEC, threshold_kw, recharge_soc)


def test_peak_shaving_discharges_what_exceeds_the_threshold_in_the_peak_hours_only():
    evening = _shaving(200.0).act({}, 10, station_state(hour=19, pv_kwh=0.0, load_kwh=300.0))
    assert evening[1:] == pytest.approx(AT_ONCE)
    assert evening[0] == pytest.approx(-(300.0 + EV_AT_ONCE_KWH - 200.0) / BATTERY_KW)
    morning = _shaving(200.0).act({}, 10, station_state(hour=10, pv_kwh=0.0, load_kwh=300.0))
    assert morning[0] == 0.0 and morning[1:] == pytest.approx(AT_ONCE)  # kept for the peak hours


def test_peak_shaving_with_an_empty_battery_holds_vehicles_at_their_floor():
    state = station_state(hour=19, pv_kwh=0.0, load_kwh=300.0, battery_soc=0.2, steps_left=np.array([1, 2, 5, 1]))
    actions = _shaving(200.0).act({}, 10, state)
    assert actions[0] == 0.0
    np.testing.assert_allclose(actions[1:], floor_fraction(state))
    assert actions[1] > 0 and actions[2] == 0.0  # the floor is still served


def test_peak_shaving_refills_from_the_grid_off_peak_only_and_under_the_threshold():
    rule = _shaving(1000.0, recharge_soc=0.6)
    morning = rule.act({}, 10, station_state(hour=4, pv_kwh=0.0, load_kwh=300.0, battery_soc=0.5))
    refill_kwh = min(0.1 * 4520.0 / 0.9**0.5, 1000.0 - 300.0 - EV_AT_ONCE_KWH)
    assert morning[0] == pytest.approx(refill_kwh / BATTERY_KW)
    low_threshold = _shaving(350.0, recharge_soc=0.6).act(
        {}, 10, station_state(hour=4, pv_kwh=0.0, load_kwh=300.0, battery_soc=0.5)
    )
    assert low_threshold[0] == pytest.approx((350.0 - 300.0 - EV_AT_ONCE_KWH) / BATTERY_KW)
    full = _shaving(1000.0, recharge_soc=0.6).act(
        {}, 10, station_state(hour=4, pv_kwh=0.0, load_kwh=300.0, battery_soc=0.7)
    )
    assert full[0] == 0.0  # above its refill SOC: no grid energy
    evening = _shaving(1000.0, recharge_soc=0.6).act(
        {}, 10, station_state(hour=19, pv_kwh=0.0, load_kwh=300.0, battery_soc=0.5)
    )
    assert evening[0] == 0.0  # under the threshold in the peak: idle


def test_peak_shaving_holds_only_the_months_billed_peak_once_it_is_passed():
    """The limit is the larger of the threshold and the meter's month-to-date peak in the peak hours."""

    def evening(billed_peak_kw: float) -> np.ndarray:
        return _shaving(200.0).act(
            {},
            4,
            station_state(hour=20, pv_kwh=0.0, load_kwh=500.0, battery_soc=0.5, billed_peak_window_kw=billed_peak_kw),
        )

    assert evening(608.0)[0] == 0.0  # ~508 kW is under the month's 608 kW: no discharge
    assert evening(400.0)[0] == pytest.approx(-(500.0 + EV_AT_ONCE_KWH - 400.0) / BATTERY_KW)
    assert evening(0.0)[0] == pytest.approx(-(500.0 + EV_AT_ONCE_KWH - 200.0) / BATTERY_KW)  # a new month


def test_peak_shaving_is_only_made_after_tuning():
    with pytest.raises(ValueError, match="tuned on the training year"):
        make_baseline("peak_shaving", load_settings(PARAMS))
