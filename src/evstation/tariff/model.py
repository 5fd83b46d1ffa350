"""The tariff as one object: `BillingTariff`, built once from the settings (`config.Tariff`).

It is the way in to the bill: `tariff/bill.py` and `tariff/demand.py` hold the pure functions of
the demand rates and the peak window it is built on, and take no settings; `from_settings` is where
the bill's numbers are picked from `config.Tariff`, once.

A medium-voltage bill (`tariff/bill.py`) is read in three forms, and each user needs one of them:
- the monthly bill of a timeseries, on the tariff's calendar (billing month, peak hours): the KPIs,
  the tuning of a rule;
- the per-step charge: each step pays the demand rates times the rise it causes in the month's
  billed peaks so far (`tariff/demand.py`), which sums to the month's demand charges: the rewards,
  the simulators and the state builders;
- its rows in a linear program: per billing month a billed-peak variable above every import it
  bounds, priced at the rate (`PeakRows`): the oracle and the rolling planner.
All three are read from this one object, so they cannot drift apart (tests/test_tariff.py checks
that they agree). The object holds only what the bill depends on beyond the timeseries itself (the
per-step energy price is a column of every timeseries and every LP): the two demand rates and the
peak window, as plain numbers, so a reward that CityLearn builds from keyword arguments rebuilds it
from plain data (`as_plain`, `from_plain`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..config import Tariff
from ..schema import as_plain
from .bill import peak_hours_calendar, rated_bill_parts_pen
from .demand import (
    DemandRates,
    MonthPeaks,
    demand_charge_pen,
    demand_charge_steps,
    month_start_steps,
    peak_hours_clock,
    peaks_before,
    running_peaks_before,
)

# ---------------------------------------------------------------- the LP's rows


@dataclass(frozen=True)
class PeakRows:
    """The billed-peak block of an LP: per billing month a `peak_window` variable (when the generation
    rate is charged) and a `peak_any` variable (when the distribution rate is), and one row
    `import_t - peak_m <= 0` per step each of them bounds: the window rows first, then the any-hour rows.
    At the optimum each variable is its month's billed demand (kW; a step is one hour, so kWh = kW)."""

    window_steps: np.ndarray  # steps with a `peak_window` row (none when its rate is 0)
    any_steps: np.ndarray  # steps with a `peak_any` row (none when its rate is 0)
    month_index: np.ndarray  # per step: 0..months-1
    months: int

    @property
    def window_peaks(self) -> int:
        """How many `peak_window` variables (columns) the block adds."""
        return self.months if len(self.window_steps) else 0

    @property
    def any_peaks(self) -> int:
        """How many `peak_any` variables (columns) the block adds."""
        return self.months if len(self.any_steps) else 0

    @property
    def row_count(self) -> int:
        return len(self.window_steps) + len(self.any_steps)

    def triplets(
        self, first_row: int, import_columns: np.ndarray, window_first_column: int, any_first_column: int
    ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """The rows' coefficients as (row, column, value) arrays: +1 on the step's import, -1 on its
        month's peak; rows numbered from `first_row`, the window rows first."""
        triplets = []
        for steps, first_column in ((self.window_steps, window_first_column), (self.any_steps, any_first_column)):
            rows = first_row + np.arange(len(steps))
            month_columns = first_column + self.month_index[steps]
            triplets += [
                (rows, import_columns[steps], np.ones(len(steps))),
                (rows, month_columns, -np.ones(len(steps))),
            ]
            first_row += len(steps)
        return triplets

    def row_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) of the rows: import - peak <= 0."""
        return np.full(self.row_count, -np.inf), np.zeros(self.row_count)


# ---------------------------------------------------------------- the tariff


@dataclass(frozen=True)
class BillingTariff:
    """The bill's demand rates and peak window, and every form of the bill built from them."""

    rates: DemandRates = field(default_factory=DemandRates)

    @classmethod
    def from_settings(cls, tariff: Tariff | None) -> BillingTariff:
        """The tariff of params' `tariff` (None: no demand charge and no peak window)."""
        if tariff is None:
            return cls()
        return cls(
            DemandRates(
                generation_pen_per_kw_month=tariff.demand.generation_pen_per_kw_month,
                distribution_pen_per_kw_month=tariff.demand.distribution_pen_per_kw_month,
                peak_start_hour=tariff.peak_start_hour,
                peak_end_hour=tariff.peak_end_hour,
            )
        )

    @classmethod
    def from_plain(cls, data: Mapping[str, float] | None) -> BillingTariff:
        """The tariff back from `as_plain`'s data (None or empty: no demand charge)."""
        return cls(DemandRates(**(data or {})))

    def as_plain(self) -> dict:
        """Plain data (numbers by name) that `from_plain` rebuilds the same tariff from."""
        return as_plain(self.rates)

    # ------------------------------------------------------------ calendar and monthly bill

    def calendar(self, timestamps: pd.Series | pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
        """For each step of local timestamps: its billing month (1-12) and whether it is in the peak hours."""
        return peak_hours_calendar(timestamps, self.rates.peak_start_hour, self.rates.peak_end_hour)

    def in_peak_hours(self, local_hour: int) -> bool:
        """Whether a local clock hour (0-23) lies in the peak window (the generation charge's)."""
        return self.rates.in_window(local_hour)

    def clock(self, stamps: pd.DatetimeIndex) -> dict[str, np.ndarray]:
        """Per step: month, in the peak window, hours left in the month, hours to the peak window."""
        return peak_hours_clock(stamps, self.rates.peak_start_hour, self.rates.peak_end_hour)

    def bill_parts_pen(
        self,
        import_kwh: np.ndarray,
        price_pen_per_kwh: np.ndarray,
        month: np.ndarray,
        in_peak: np.ndarray,
        step_hours: float = 1.0,
    ) -> dict:
        """The bill's parts (PEN), its total and each month's billed peaks (kW), from per-step arrays."""
        return rated_bill_parts_pen(
            import_kwh,
            price_pen_per_kwh,
            month,
            in_peak,
            step_hours=step_hours,
            generation_pen_per_kw_month=self.rates.generation_pen_per_kw_month,
            distribution_pen_per_kw_month=self.rates.distribution_pen_per_kw_month,
        )

    def bill(self, ts: pd.DataFrame) -> dict:
        """The bill of a simulation timeseries (`timestamp`, `import_kwh`, `tariff_pen_per_kwh` columns)."""
        month, in_peak = self.calendar(ts["timestamp"])
        return self.bill_parts_pen(ts["import_kwh"].to_numpy(), ts["tariff_pen_per_kwh"].to_numpy(), month, in_peak)

    # ------------------------------------------------------------ per-step charge

    @property
    def charged(self) -> bool:
        """Whether any demand charge applies (without one every per-step charge is exactly 0.0)."""
        return self.rates.charged

    def charge_pen(self, import_kw: float, in_window: bool, window_peak_kw: float, any_peak_kw: float) -> float:
        """The demand charge a step adds against given month-to-date peaks: each rate times the rise."""
        return demand_charge_pen(import_kw, in_window, window_peak_kw, any_peak_kw, self.rates)

    def step_charge(self, peaks: MonthPeaks, month: int, import_kw: float, in_window: bool) -> tuple[float, MonthPeaks]:
        """A step of `month` billed against the month's peaks so far (`peaks`, restarted when the
        month has changed): the charge it adds, and the peaks once it has imported `import_kw`."""
        current = peaks.before(month)
        charge = self.charge_pen(import_kw, in_window, current.window_kw, current.any_kw)
        return charge, current.after(month, import_kw, in_window)

    def step_charges_pen(self, import_kw: np.ndarray, month: np.ndarray, in_window: np.ndarray) -> np.ndarray:
        """Each step's charge along a series; over each month they sum to its demand charges."""
        return demand_charge_steps(import_kw, month, in_window, self.rates)

    # ------------------------------------------------------------ month-to-date billed peaks

    @staticmethod
    def month_starts(month: np.ndarray) -> np.ndarray:
        """For each step, the first step of its billing month (of its run of equal months)."""
        return month_start_steps(month)

    @staticmethod
    def peaks_before(import_kw: np.ndarray, in_window: np.ndarray, first: int, step: int) -> tuple[float, float]:
        """The (peak-window, any-hour) billed peaks a step is charged against, from the imports of
        steps [first, step) (kW; 0 over none)."""
        return peaks_before(import_kw, in_window, first, step)

    @staticmethod
    def running_peaks_before(
        import_kw: np.ndarray, month: np.ndarray, in_window: np.ndarray, start: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """`peaks_before` of every step of a series, billed from `start` (an episode's first step)."""
        return running_peaks_before(import_kw, month, in_window, start)

    # ------------------------------------------------------------ the LP's rows

    def lp_peak_rows(self, month: np.ndarray, in_peak: np.ndarray) -> PeakRows | None:
        """The billed-peak block of an LP over steps of billing `month` and peak hours `in_peak`; only a
        rate that is not 0 gets rows and variables (None when neither is: the LP without demand charges)."""
        month, in_peak = np.asarray(month), np.asarray(in_peak, dtype=bool)
        _, month_index = np.unique(month, return_inverse=True)
        none = np.array([], dtype=np.int64)
        window = np.flatnonzero(in_peak) if self.rates.generation_pen_per_kw_month > 0 else none
        every = np.arange(len(month)) if self.rates.distribution_pen_per_kw_month > 0 else none
        rows = PeakRows(window, every, month_index.astype(np.int64), int(month_index.max(initial=-1)) + 1)
        return rows if rows.window_peaks or rows.any_peaks else None

    def lp_prices_per_kw(self, weight: float = 1.0) -> tuple[float, float]:
        """The objective's price of a kW of a month's (peak-window, any-hour) billed peak: the rates,
        times `weight` where the bill is only an LP's tie-break."""
        return weight * self.rates.generation_pen_per_kw_month, weight * self.rates.distribution_pen_per_kw_month

    def lp_demand_charges_pen(self, peak_window_kw: np.ndarray, peak_any_kw: np.ndarray) -> tuple[float, float]:
        """(generation, distribution) demand charges of an LP's billed-peak variables (per month, kW)."""
        return (
            float(self.rates.generation_pen_per_kw_month * peak_window_kw.sum()),
            float(self.rates.distribution_pen_per_kw_month * peak_any_kw.sum()),
        )
