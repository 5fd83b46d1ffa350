"""Monthly demand charges as a per-step quantity: the billing clock and the month-to-date billed peaks.

A medium-voltage bill charges, each calendar month, a rate per kW on the month's largest hourly
import within the tariff's peak hours (generation) and on its largest hourly import at any hour
(distribution); see `tariff/bill.py`. The charge is not a per-step quantity, but it becomes one
exactly: charge each step the rate times the rise it causes in the month's billed peak so far.
Over a month the rises add up to the month's billed peak, so the per-step charges add up to the
month's demand charge; and with the month-to-date peaks in the state, the charge of a step depends
only on the state and the step's import, so a reward built from it stays Markovian.

Everything here is pure and takes the rates and the peak window as plain numbers (`DemandRates`),
never the settings. The way in is `tariff.model.BillingTariff`, built once from the settings
(`BillingTariff.from_settings`, which picks the `DemandRates`' fields from them; its `rates`,
`clock`, `step_charge`, `step_charges_pen`, ...): the reward functions (reported and learning), the
fast twin and the state builders all reach these through it, so training and evaluation count the
same charge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .bill import peak_hours_calendar

HOURS_PER_DAY = 24


@dataclass(frozen=True)
class DemandRates:
    """PEN per kW-month on the month's peak-hour maximum (generation) and any-hour maximum (distribution),
    and the peak window (`BillingTariff.from_settings` builds them from the settings)."""

    generation_pen_per_kw_month: float = 0.0
    distribution_pen_per_kw_month: float = 0.0
    peak_start_hour: int = 0  # the generation charge's window, local hours [start, end)
    peak_end_hour: int = 0

    @property
    def charged(self) -> bool:
        """Whether any demand charge applies (with none, every reward is exactly as without this module)."""
        return bool(self.generation_pen_per_kw_month or self.distribution_pen_per_kw_month)

    def in_window(self, local_hour: int) -> bool:
        return self.peak_start_hour <= local_hour < self.peak_end_hour


@dataclass(frozen=True)
class MonthPeaks:
    """The month's billed peaks so far (kW) and the month they belong to (0: none counted yet)."""

    month: int = 0
    window_kw: float = 0.0  # largest import within the peak hours
    any_kw: float = 0.0  # largest import at any hour

    def before(self, month: int) -> MonthPeaks:
        """The peaks a step of `month` is billed against: none when the month has changed."""
        return self if month == self.month else MonthPeaks(month)

    def after(self, month: int, import_kw: float, in_window: bool) -> MonthPeaks:
        """The peaks once a step of `month` imported `import_kw`."""
        current = self.before(month)
        return MonthPeaks(
            month, max(current.window_kw, import_kw) if in_window else current.window_kw, max(current.any_kw, import_kw)
        )


def demand_charge_pen(
    import_kw: float, in_window: bool, window_peak_kw: float, any_peak_kw: float, rates: DemandRates
) -> float:
    """The demand charge a step adds: each rate times the rise of its billed peak (0 if none rises).
    Exactly 0.0 when no rate is charged, so the rewards without demand charges are unchanged."""
    if not rates.charged:
        return 0.0
    rise_any = max(import_kw - any_peak_kw, 0.0)
    rise_window = max(import_kw - window_peak_kw, 0.0) if in_window else 0.0
    return rates.distribution_pen_per_kw_month * rise_any + rates.generation_pen_per_kw_month * rise_window


def peak_hours_clock(stamps: pd.DatetimeIndex, peak_start_hour: int, peak_end_hour: int) -> dict[str, np.ndarray]:
    """Per step of local timestamps: the month (1-12) and whether it is in the peak window, local hours
    [start, end) (the bill's own calendar), the hours left in its month (this one included: 1 in a
    month's last hour) and the hours to the next peak window (0 within it) (`BillingTariff.clock`)."""
    stamps = pd.DatetimeIndex(stamps)
    month, in_window = peak_hours_calendar(stamps, peak_start_hour, peak_end_hour)
    hour = stamps.hour.to_numpy(dtype=int)
    to_window = np.where(in_window, 0, (peak_start_hour - hour) % HOURS_PER_DAY)
    left = (
        (stamps.days_in_month.to_numpy(dtype=int) - stamps.day.to_numpy(dtype=int)) * HOURS_PER_DAY
        + HOURS_PER_DAY
        - hour
    )
    return {
        "month": month.astype(int),
        "in_window": in_window,
        "hours_left_in_month": left.astype(int),
        "hours_to_peak_window": to_window.astype(int),
    }


def month_start_steps(month: np.ndarray) -> np.ndarray:
    """For each step, the first step of its run of equal months."""
    month = np.asarray(month)
    change = np.ones(len(month), dtype=bool)
    change[1:] = month[1:] != month[:-1]
    return np.maximum.accumulate(np.where(change, np.arange(len(month)), 0))


def peaks_before(import_kw: np.ndarray, in_window: np.ndarray, first: int, step: int) -> tuple[float, float]:
    """(peak-window, any-hour) maxima of `import_kw` over steps [first, step); 0 over none."""
    if step <= first:
        return 0.0, 0.0
    values = np.asarray(import_kw[first:step], dtype=float)
    window = values[np.asarray(in_window[first:step], dtype=bool)]
    return (float(window.max()) if len(window) else 0.0), float(values.max())


def running_peaks_before(
    import_kw: np.ndarray, month: np.ndarray, in_window: np.ndarray, start: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """For every step, the month-to-date (peak-window, any-hour) maxima of the steps before it, counted
    from `start` (an episode's first step); 0 before `start` and at each month's first step."""
    rows = len(import_kw)
    window_before, any_before = np.zeros(rows), np.zeros(rows)
    peaks = MonthPeaks()
    for step in range(start, rows):
        peaks = peaks.before(int(month[step]))
        window_before[step], any_before[step] = peaks.window_kw, peaks.any_kw
        peaks = peaks.after(int(month[step]), float(import_kw[step]), bool(in_window[step]))
    return window_before, any_before


def demand_charge_steps(
    import_kw: np.ndarray, month: np.ndarray, in_window: np.ndarray, rates: DemandRates
) -> np.ndarray:
    """Each step's demand charge along a series, from its month-to-date peaks (`demand_charge_pen`)."""
    window_before, any_before = running_peaks_before(import_kw, month, in_window)
    return np.array(
        [
            demand_charge_pen(float(kw), bool(peak), w, a, rates)
            for kw, peak, w, a in zip(import_kw, in_window, window_before, any_before)
        ]
    )
