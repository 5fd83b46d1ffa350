"""Energy, CO2, cost and EV metrics from a simulation timeseries: pure functions, no simulator.

Accounting (all per step, kWh over the step, at the meter bus):
    net = load + ev + bess_in - bess_out - pv;  import = max(net, 0);  surplus = max(-net, 0)
    pv_used = pv - surplus
    co2_emitted   = sum((load + ev + bess_in - bess_out) * ef)   what buying everything would emit
    co2_indirect  = sum(pv_used * ef)                             avoided by solar (+ battery)
    co2_direct    = sum(ev_delivered * gasoline_kg_per_kwh)       gasoline displaced (gross)
    co2_net       = emitted - indirect - direct
and the identities co2_grid = sum(import * ef) = emitted - indirect, so net = co2_grid - direct.
The gasoline factor is gross (2.596 kg/kWh): the charging emissions are already in co2_grid, so
using the often quoted 2.146 here would count them twice.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .config import Settings
from .errors import BalanceError
from .tariff.model import BillingTariff

FLOAT32_RELATIVE_RESOLUTION = 2.0**-23
FLOAT32_TOLERANCE_ULPS = 4


def consumption_kwh(ts: pd.DataFrame) -> pd.Series:
    """What the site consumes behind the meter each step, before PV: load + EV + battery net charge."""
    return ts["load_kwh"] + ts["ev_kwh"] + ts["bess_in_kwh"] - ts["bess_out_kwh"]


def pv_used_kwh(ts: pd.DataFrame) -> pd.Series:
    return ts["pv_kwh"] - ts["surplus_kwh"]


def energy_balance_error_kwh(ts: pd.DataFrame) -> pd.Series:
    """Per-step residual of import - surplus = load + EV + battery in - out - PV (0 when it closes)."""
    return (ts["import_kwh"] - ts["surplus_kwh"]) - (consumption_kwh(ts) - ts["pv_kwh"])


def citylearn_net_excess_kwh(ts: pd.DataFrame) -> pd.Series:
    """How far CityLearn's own net consumption strays from the float64 sum of its device flows,
    beyond what storing the flows in float32 explains (<= 0 when they agree)."""
    scale = ts[["load_kwh", "pv_kwh", "bess_in_kwh", "bess_out_kwh", "ev_kwh"]].abs().max(axis=1).clip(lower=1.0)
    deviation = (ts["net_citylearn_kwh"] - ts["net_kwh"]).abs()
    return deviation - FLOAT32_TOLERANCE_ULPS * FLOAT32_RELATIVE_RESOLUTION * scale


def battery_soc_error_kwh(
    ts: pd.DataFrame,
    round_trip_efficiency: float,
    standby_loss_fraction: float = 0.0,
    capacity_kwh: float = 0.0,
    min_soc_fraction: float = 0.0,
) -> pd.Series:
    """Measured change of stored energy against what the flows, efficiency and standby loss say it
    must be. CityLearn decays the SOC by the standby loss between steps (not before the first),
    never below the SOC floor."""
    root = math.sqrt(round_trip_efficiency)
    before_kwh = ts["bess_soc_pct"] / 100 * capacity_kwh - ts["bess_stored_kwh"]
    decayed_kwh = np.maximum(before_kwh * (1 - standby_loss_fraction), min_soc_fraction * capacity_kwh)
    standby_kwh = (before_kwh - np.minimum(decayed_kwh, before_kwh)).where(ts.index > ts.index[0], 0.0)
    expected = ts["bess_in_kwh"] * root - ts["bess_out_kwh"] / root - standby_kwh
    return ts["bess_stored_kwh"] - expected


def check_energy(
    ts: pd.DataFrame,
    *,
    tolerance_kwh: float,
    round_trip_efficiency: float,
    battery_capacity_kwh: float,
    standby_loss_fraction: float = 0.0,
    min_soc_fraction: float = 0.0,
    label: str = "run",
) -> dict:
    """Fail the run (BalanceError) if the meter balance, CityLearn's net or the battery do not close."""
    balance = float(energy_balance_error_kwh(ts).abs().max()) if len(ts) else 0.0
    if not balance <= tolerance_kwh:
        step = int(energy_balance_error_kwh(ts).abs().idxmax())
        raise BalanceError(
            f"{label}: energy balance off by {balance:.3g} kWh at step {step} (limit {tolerance_kwh} kWh)"
        )
    excess = float(citylearn_net_excess_kwh(ts).max()) if len(ts) else 0.0
    if excess > 0:
        raise BalanceError(
            f"{label}: CityLearn's net consumption departs from its device flows by "
            f"{excess:.3g} kWh beyond float32 resolution"
        )
    soc_error = (
        float(
            battery_soc_error_kwh(
                ts, round_trip_efficiency, standby_loss_fraction, battery_capacity_kwh, min_soc_fraction
            )
            .abs()
            .max()
        )
        if len(ts)
        else 0.0
    )
    soc_limit = FLOAT32_TOLERANCE_ULPS * FLOAT32_RELATIVE_RESOLUTION * battery_capacity_kwh * 8
    if soc_error > soc_limit:
        raise BalanceError(
            f"{label}: battery stored energy departs from its flows by {soc_error:.3g} kWh (limit {soc_limit:.3g} kWh)"
        )
    return {
        "max_energy_balance_error_kwh": balance,
        "max_citylearn_net_deviation_kwh": float((ts["net_citylearn_kwh"] - ts["net_kwh"]).abs().max())
        if len(ts)
        else 0.0,
        "max_battery_soc_error_kwh": soc_error,
    }


def co2_kg(ts: pd.DataFrame, gasoline_kg_per_kwh: float) -> dict:
    ef = ts["emission_factor_kg_per_kwh"]
    emitted = float((consumption_kwh(ts) * ef).sum())
    indirect = float((pv_used_kwh(ts) * ef).sum())
    direct = float(ts["ev_delivered_kwh"].sum() * gasoline_kg_per_kwh)
    return {
        "co2_emitted_kg": emitted,
        "co2_indirect_avoided_kg": indirect,
        "co2_direct_avoided_kg": direct,
        "co2_grid_kg": float((ts["import_kwh"] * ef).sum()),
        "co2_net_kg": emitted - indirect - direct,
    }


def energy_totals(ts: pd.DataFrame) -> dict:
    totals = {
        f"{name}_total": float(ts[name].sum())
        for name in (
            "load_kwh",
            "pv_kwh",
            "ev_kwh",
            "ev_delivered_kwh",
            "bess_in_kwh",
            "bess_out_kwh",
            "import_kwh",
            "surplus_kwh",
        )
    }
    totals = {key.replace("_kwh_total", "_kwh"): value for key, value in totals.items()}
    totals["pv_used_kwh"] = float(pv_used_kwh(ts).sum())
    return totals


def ev_metrics(ts: pd.DataFrame) -> dict:
    departing = float(ts["sessions_departing"].sum())
    required = float(ts["departing_required_kwh"].sum())
    return {
        "sessions_departed": int(departing),
        "ev_satisfaction_pct": 100 * float(ts["sessions_fulfilled"].sum()) / departing if departing else 100.0,
        "ev_energy_fulfilment_pct": 100 * float(ts["departing_delivered_kwh"].sum()) / required if required else 100.0,
    }


def peak_metrics(ts: pd.DataFrame, step_hours: float = 1.0) -> dict:
    import_kw = ts["import_kwh"].to_numpy() / step_hours
    steps_per_day = int(round(24 / step_hours))
    whole_days = len(import_kw) // steps_per_day
    daily_peaks = (
        import_kw[: whole_days * steps_per_day].reshape(whole_days, steps_per_day).max(axis=1)
        if whole_days
        else import_kw
    )
    return {
        "peak_import_kw": float(import_kw.max()) if len(import_kw) else 0.0,
        "mean_daily_peak_import_kw": float(np.mean(daily_peaks)) if len(daily_peaks) else 0.0,
    }


def reward_metrics(ts: pd.DataFrame) -> dict:
    """Mean of the reported reward and each component; the learning reward's mean and what the
    feasibility layer added (socket-steps it raised, kWh), where the timeseries records them."""
    columns = [column for column in ts.columns if column.startswith("reward")]
    metrics = {f"{column}_mean": float(ts[column].mean()) for column in columns}
    if "learning_reward" in ts.columns:
        metrics["learning_reward_mean"] = float(ts["learning_reward"].mean())
    if "floor_raised_sockets" in ts.columns:
        metrics["floor_raised_steps"] = int(ts["floor_raised_sockets"].sum())
        metrics["floor_raised_kwh"] = float(ts["floor_kwh"].sum())
    return metrics


def compute_kpis(
    ts: pd.DataFrame,
    *,
    gasoline_kg_per_kwh: float,
    tolerance_kwh: float,
    round_trip_efficiency: float,
    battery_capacity_kwh: float,
    billing: BillingTariff,
    standby_loss_fraction: float = 0.0,
    min_soc_fraction: float = 0.0,
    label: str = "run",
) -> dict:
    """Every metric of a run, the bill's parts and monthly billed peaks included; raises BalanceError
    first if its energy does not close."""
    metrics = {"steps": int(len(ts))}
    metrics.update(
        check_energy(
            ts,
            tolerance_kwh=tolerance_kwh,
            round_trip_efficiency=round_trip_efficiency,
            battery_capacity_kwh=battery_capacity_kwh,
            standby_loss_fraction=standby_loss_fraction,
            min_soc_fraction=min_soc_fraction,
            label=label,
        )
    )
    totals = energy_totals(ts)
    metrics.update(totals)
    metrics["solar_utilization_pct"] = 100 * totals["pv_used_kwh"] / totals["pv_kwh"] if totals["pv_kwh"] > 0 else 0.0
    metrics["cost_pen"] = float((ts["import_kwh"] * ts["tariff_pen_per_kwh"]).sum())  # the energy part of the bill
    metrics.update(billing.bill(ts))
    metrics.update(co2_kg(ts, gasoline_kg_per_kwh))
    metrics.update(ev_metrics(ts))
    metrics.update(peak_metrics(ts))
    metrics.update(reward_metrics(ts))
    return metrics


def split_kpis(settings: Settings, timeseries: pd.DataFrame, label: str) -> dict:
    """The metrics of one split's timeseries under the scenario's settings (emissions, battery, tariff)."""
    return compute_kpis(
        timeseries,
        gasoline_kg_per_kwh=settings.emissions.gasoline_avoided_kg_per_kwh,
        tolerance_kwh=settings.validation.energy_balance_tolerance_kwh,
        round_trip_efficiency=settings.battery.round_trip_efficiency_pct / 100,
        battery_capacity_kwh=settings.battery.capacity_kwh,
        billing=BillingTariff.from_settings(settings.tariff),
        standby_loss_fraction=settings.battery.standby_loss_pct_per_step / 100,
        min_soc_fraction=settings.battery.min_soc_pct / 100,
        label=label,
    )
