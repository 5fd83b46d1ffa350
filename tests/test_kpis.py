"""The accounting identities and the energy checks, on hand-made and random timeseries."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from conftest import PARAMS
from evstation.config import load_settings
from evstation.errors import BalanceError
from evstation.kpis import check_energy, co2_kg, compute_kpis, energy_balance_error_kwh, peak_metrics
from evstation.tariff.model import BillingTariff

GASOLINE = 2.596
EFFICIENCY = 0.9
CAPACITY = 4520.0
BILLING = BillingTariff.from_settings(load_settings(PARAMS).tariff)


def make_timeseries(load, pv, ev, bess_in, bess_out, ef, tariff=0.3, charger_efficiency=0.95, soc0=0.5):
    """A consistent timeseries from flows: net, import, surplus and the battery's stored energy derived."""
    ts = pd.DataFrame({"load_kwh": load, "pv_kwh": pv, "ev_kwh": ev, "bess_in_kwh": bess_in, "bess_out_kwh": bess_out})
    ts["net_kwh"] = ts["load_kwh"] + ts["ev_kwh"] + ts["bess_in_kwh"] - ts["bess_out_kwh"] - ts["pv_kwh"]
    ts["import_kwh"] = ts["net_kwh"].clip(lower=0)
    ts["surplus_kwh"] = (-ts["net_kwh"]).clip(lower=0)
    ts["net_citylearn_kwh"] = ts["net_kwh"].astype(np.float32).astype(float)
    root = math.sqrt(EFFICIENCY)
    ts["bess_stored_kwh"] = ts["bess_in_kwh"] * root - ts["bess_out_kwh"] / root
    ts["bess_soc_pct"] = 100 * (soc0 + ts["bess_stored_kwh"].cumsum() / CAPACITY)
    ts["ev_delivered_kwh"] = ts["ev_kwh"] * charger_efficiency
    ts["emission_factor_kg_per_kwh"] = ef
    ts["tariff_pen_per_kwh"] = tariff
    ts["reward"] = 0.0
    ts["sessions_departing"] = 1
    ts["sessions_fulfilled"] = 1
    ts["departing_required_kwh"] = ts["ev_delivered_kwh"]
    ts["departing_delivered_kwh"] = ts["ev_delivered_kwh"]
    ts.insert(0, "timestamp", pd.date_range("2025-01-01", periods=len(ts), freq="h").strftime("%Y-%m-%d %H:%M:%S"))
    return ts


def random_timeseries(seed: int, steps: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    charging = rng.random(steps) < 0.5
    power = rng.uniform(0, 2712, steps)
    return make_timeseries(
        load=rng.uniform(0, 2800, steps),
        pv=rng.uniform(0, 3200, steps) * (rng.random(steps) < 0.5),
        ev=rng.uniform(0, 272, steps),
        bess_in=np.where(charging, power, 0.0),
        bess_out=np.where(charging, 0.0, power),
        ef=rng.uniform(0.3, 0.9, steps),
        tariff=rng.choice([0.28, 0.45], steps),
    )


def kpis(ts):
    return compute_kpis(
        ts,
        gasoline_kg_per_kwh=GASOLINE,
        tolerance_kwh=1e-6,
        round_trip_efficiency=EFFICIENCY,
        battery_capacity_kwh=CAPACITY,
        billing=BILLING,
    )


def test_hand_made_two_steps():
    # step 0: load 10, ev 2, battery out 1, pv 4 -> import 7; step 1: load 1, battery in 2, pv 5 -> surplus 2
    ts = make_timeseries(
        load=[10.0, 1.0], pv=[4.0, 5.0], ev=[2.0, 0.0], bess_in=[0.0, 2.0], bess_out=[1.0, 0.0], ef=0.5
    )
    metrics = kpis(ts)
    assert metrics["import_kwh"] == pytest.approx(7.0)
    assert metrics["surplus_kwh"] == pytest.approx(2.0)
    assert metrics["pv_used_kwh"] == pytest.approx(7.0)
    assert metrics["solar_utilization_pct"] == pytest.approx(100 * 7 / 9)
    assert metrics["co2_emitted_kg"] == pytest.approx((11 + 3) * 0.5)
    assert metrics["co2_indirect_avoided_kg"] == pytest.approx(7 * 0.5)
    assert metrics["co2_grid_kg"] == pytest.approx(3.5)
    assert metrics["co2_direct_avoided_kg"] == pytest.approx(2 * 0.95 * GASOLINE)
    assert metrics["co2_net_kg"] == pytest.approx(3.5 - 2 * 0.95 * GASOLINE)
    assert metrics["cost_pen"] == pytest.approx(7 * 0.3)
    assert metrics["peak_import_kw"] == pytest.approx(7.0)


@pytest.mark.parametrize("seed", range(5))
def test_identities_on_random_timeseries(seed):
    ts = random_timeseries(seed)
    co2 = co2_kg(ts, GASOLINE)
    assert co2["co2_grid_kg"] == pytest.approx(co2["co2_emitted_kg"] - co2["co2_indirect_avoided_kg"], rel=1e-9)
    assert co2["co2_net_kg"] == pytest.approx(co2["co2_grid_kg"] - co2["co2_direct_avoided_kg"], rel=1e-9)
    metrics = kpis(ts)
    assert 0 <= metrics["solar_utilization_pct"] <= 100
    assert metrics["max_energy_balance_error_kwh"] <= 1e-6


def test_solar_counted_once():
    """The grid CO2 of a site with PV is what it emits without PV minus the solar credit, not less."""
    ts = random_timeseries(7)
    co2 = co2_kg(ts, GASOLINE)
    imported_without_using_pv = (ts["import_kwh"] + ts["pv_kwh"] - ts["surplus_kwh"]) * ts["emission_factor_kg_per_kwh"]
    assert co2["co2_emitted_kg"] == pytest.approx(imported_without_using_pv.sum(), rel=1e-9)


def test_balance_check_fails_on_a_tampered_import():
    ts = random_timeseries(1)
    ts.loc[10, "import_kwh"] += 1e-3
    with pytest.raises(BalanceError, match="energy balance off by 0.001 kWh at step 10"):
        kpis(ts)


def test_balance_check_fails_when_citylearn_net_disagrees():
    ts = random_timeseries(2)
    ts.loc[3, "net_citylearn_kwh"] += 0.5
    with pytest.raises(BalanceError, match="CityLearn's net consumption"):
        kpis(ts)


def test_battery_check_fails_when_discharge_exceeds_what_was_stored():
    """The earlier attempt's battery discharged far more than it charged: the SOC check catches it."""
    ts = random_timeseries(3)
    ts["bess_out_kwh"] *= 15
    ts["net_kwh"] = ts["load_kwh"] + ts["ev_kwh"] + ts["bess_in_kwh"] - ts["bess_out_kwh"] - ts["pv_kwh"]
    ts["import_kwh"], ts["surplus_kwh"] = ts["net_kwh"].clip(lower=0), (-ts["net_kwh"]).clip(lower=0)
    ts["net_citylearn_kwh"] = ts["net_kwh"]
    assert energy_balance_error_kwh(ts).abs().max() < 1e-9
    with pytest.raises(BalanceError, match="battery stored energy"):
        kpis(ts)


def test_checks_report_their_largest_errors():
    result = check_energy(
        random_timeseries(4), tolerance_kwh=1e-6, round_trip_efficiency=EFFICIENCY, battery_capacity_kwh=CAPACITY
    )
    assert set(result) == {
        "max_energy_balance_error_kwh",
        "max_citylearn_net_deviation_kwh",
        "max_battery_soc_error_kwh",
    }
    assert result["max_citylearn_net_deviation_kwh"] > 0  # the float32 rounding is seen, and tolerated


def test_mean_daily_peak():
    ts = pd.DataFrame({"import_kwh": np.r_[np.arange(24.0), 2 * np.arange(24.0)]})
    assert peak_metrics(ts) == {"peak_import_kw": 46.0, "mean_daily_peak_import_kw": (23 + 46) / 2}
