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
to this module's monthly demand charges (tests/test_billed_peaks.py). Callers outside `tariff/` reach
both forms, and the LP's, through `tariff.model.BillingTariff`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import Tariff

BILL_PARTS = ("bill_energy_pen", "bill_demand_generation_pen", "bill_demand_distribution_pen", "bill_export_credit_pen")


def billing_calendar(timestamps: pd.Series | pd.DatetimeIndex, tariff: Tariff) -> tuple[np.ndarray, np.ndarray]:
    """For each step: its billing month (1-12) and whether it lies in the tariff's peak hours."""
    return peak_hours_calendar(timestamps, tariff.peak_start_hour, tariff.peak_end_hour)


def peak_hours_calendar(
    timestamps: pd.Series | pd.DatetimeIndex, peak_start_hour: int, peak_end_hour: int
) -> tuple[np.ndarray, np.ndarray]:
    """`billing_calendar` from the peak window's hours alone (local hours [start, end)), for a caller that
    holds the window rather than the settings (`tariff.model.BillingTariff`)."""
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


def bill_parts_pen(
    import_kwh: np.ndarray,
    price_pen_per_kwh: np.ndarray,
    month: np.ndarray,
    in_peak: np.ndarray,
    tariff: Tariff,
    step_hours: float = 1.0,
) -> dict:
    """The bill's parts (PEN), its total and each month's billed peaks (kW)."""
    return rated_bill_parts_pen(
        import_kwh,
        price_pen_per_kwh,
        month,
        in_peak,
        step_hours=step_hours,
        generation_pen_per_kw_month=tariff.demand.generation_pen_per_kw_month,
        distribution_pen_per_kw_month=tariff.demand.distribution_pen_per_kw_month,
    )


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
    """`bill_parts_pen` from the two demand rates alone, for a caller that holds the rates rather than the
    settings (`tariff.model.BillingTariff`)."""
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


def timeseries_bill(ts: pd.DataFrame, tariff: Tariff) -> dict:
    """The bill of a simulation timeseries (`timestamp`, `import_kwh`, `tariff_pen_per_kwh` columns)."""
    month, in_peak = billing_calendar(ts["timestamp"], tariff)
    return bill_parts_pen(ts["import_kwh"].to_numpy(), ts["tariff_pen_per_kwh"].to_numpy(), month, in_peak, tariff)
