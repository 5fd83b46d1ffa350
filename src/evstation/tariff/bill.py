"""The bill a medium-voltage customer pays: energy by the hour and monthly demand charges.

Osinergmin's MT2/MT3/MT4 tariffs bill, each calendar month, the energy imported at each hour's
price, a generation charge per kW on the month's largest hourly import within the tariff's peak
hours, and a distribution charge per kW on the month's largest hourly import at any hour.
Simplified here: no six-month ratchet on the distribution demand and no reclassification of the
customer (present in the peak or not); export is not modelled (params refuse it), so the export
credit is always 0.

The monthly demand charge is also a sum over steps, exactly: charge each step the rate times the
rise it causes in the month's billed peak so far (0 when the peak does not rise). That per-step
form is what a reward or a rolling planner uses: `tariff.demand.demand_charge_steps`, which sums
to this module's monthly demand charges (tests/test_billed_peaks.py).

The functions here are pure: they take the peak window's hours and the two demand rates as plain
numbers, never the settings. The way in is `tariff.model.BillingTariff`, built once from the
settings (`BillingTariff.from_settings`), whose `calendar`, `bill_parts_pen` and `bill` are this
module's calendar and bill; it holds the per-step and the LP's forms too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

BILL_PARTS = ("bill_energy_pen", "bill_demand_generation_pen", "bill_demand_distribution_pen", "bill_export_credit_pen")


def peak_hours_calendar(
    timestamps: pd.Series | pd.DatetimeIndex, peak_start_hour: int, peak_end_hour: int
) -> tuple[np.ndarray, np.ndarray]:
    """For each step: its billing month (1-12) and whether it lies in the peak window, local hours
    [start, end) (`BillingTariff.calendar`)."""
    times = pd.DatetimeIndex(pd.to_datetime(timestamps))
    hour = times.hour.to_numpy()
    in_peak = (hour >= peak_start_hour) & (hour < peak_end_hour)
    return times.month.to_numpy(), in_peak


def monthly_billed_peaks_kw(
    import_kwh: np.ndarray, month: np.ndarray, in_peak: np.ndarray, step_hours: float = 1.0
) -> pd.DataFrame:
    """Each month's billed demands (kW): the largest import within the peak hours, and at any hour."""
    frame = pd.DataFrame(
        {"month": month, "import_kw": np.asarray(import_kwh, dtype=float) / step_hours, "in_peak": in_peak}
    )
    frame["peak_window_kw"] = frame["import_kw"].where(frame["in_peak"], 0.0)
    peaks = frame.groupby("month", sort=True)[["peak_window_kw", "import_kw"]].max()
    return peaks.rename(columns={"import_kw": "any_hour_kw"})


def rated_bill_parts_pen(
    import_kwh: np.ndarray,
    price_pen_per_kwh: np.ndarray,
    month: np.ndarray,
    in_peak: np.ndarray,
    *,
    generation_pen_per_kw_month: float,
    distribution_pen_per_kw_month: float,
    step_hours: float = 1.0,
) -> dict:
    """The bill's parts (PEN), its total and each month's billed peaks (kW), at the two demand rates
    (PEN per kW-month) (`BillingTariff.bill_parts_pen`, and `BillingTariff.bill` for a timeseries)."""
    peaks = monthly_billed_peaks_kw(import_kwh, month, in_peak, step_hours)
    parts = {
        "bill_energy_pen": float(np.sum(np.asarray(import_kwh, dtype=float) * price_pen_per_kwh)),
        "bill_demand_generation_pen": float(generation_pen_per_kw_month * peaks["peak_window_kw"].sum()),
        "bill_demand_distribution_pen": float(distribution_pen_per_kw_month * peaks["any_hour_kw"].sum()),
        "bill_export_credit_pen": 0.0,
    }
    parts["bill_pen"] = (
        parts["bill_energy_pen"]
        + parts["bill_demand_generation_pen"]
        + parts["bill_demand_distribution_pen"]
        - parts["bill_export_credit_pen"]
    )
    parts["billed_peak_window_kw"] = {int(m): float(v) for m, v in peaks["peak_window_kw"].items()}
    parts["billed_peak_any_hour_kw"] = {int(m): float(v) for m, v in peaks["any_hour_kw"].items()}
    return parts
