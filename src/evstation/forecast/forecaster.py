"""Load and PV over the hours ahead, as a station could forecast them at the hour it decides.

Kinds (params `forecast.kind`):
- `day_type`: the load of an hour ahead is the mean of the same weekday and hour over the last
  `load_weeks` weeks already seen (a Monday evening is forecast from Monday evenings, never from
  Sunday's), and its PV the mean of the same hour over the last `pv_days` days already seen (one sunny
  day does not make the next one count on the sun);
- `persistence`: the same hour of the latest day already seen (yesterday for the next 24 hours);
- `profile`: the training year's means, load by weekday and hour, PV by hour of day;
- `noisy`: the dataset's own values times 1 + independent Gaussian noise of `noise_pct` per hour,
  drawn from (seed, split, hour of the forecast): the same run gives the same forecast;
- `perfect`: the dataset's own values: a reference for ablations, which no station has.
Where a kind needs hours before the split's first (its first days), the training year's means stand in.
The hour of the decision itself is what the station reads now, whatever the kind.
"""

from __future__ import annotations

import numpy as np

from ..config import SPLITS, Forecast
from .history import DAYS_PER_WEEK, HOURS_PER_DAY, PERCENT, Calendar, TrainingMeans

HOURS_PER_WEEK = DAYS_PER_WEEK * HOURS_PER_DAY


class Forecaster:
    """Load and PV over a window of steps (kWh per step) from what has been seen up to its first step."""

    def __init__(
        self,
        options: Forecast,
        load_kwh: np.ndarray,
        pv_kwh: np.ndarray,
        calendar: Calendar,
        training: TrainingMeans,
        split: str,
    ):
        """`load_kwh`, `pv_kwh`: the split's series, of which only the hours up to a window's first are read
        (all of them by `perfect` and `noisy`); `calendar`: the split's; `training`: the fallback means."""
        self.options, self.calendar, self.training = options, calendar, training
        self.load_kwh = np.asarray(load_kwh, dtype=float)
        self.pv_kwh = np.asarray(pv_kwh, dtype=float)
        self.split_code = SPLITS.index(split)

    def window(self, steps: np.ndarray, load_now_kwh: float, pv_now_kwh: float) -> tuple[np.ndarray, np.ndarray]:
        """The forecast over `steps` (consecutive, steps[0] the hour of the decision): its first hour the
        station's reading, the others the forecast of `forecast.kind`."""
        kind = self.options.kind
        if kind == "perfect":
            load, pv = self.load_kwh[steps].copy(), self.pv_kwh[steps].copy()
        elif kind == "noisy":
            load, pv = self._noisy(steps)
        elif kind == "persistence":
            load, pv = self._profile(steps)
            load = self._seen_mean(steps, self.load_kwh, HOURS_PER_DAY, 1, load)
            pv = self._seen_mean(steps, self.pv_kwh, HOURS_PER_DAY, 1, pv)
        elif kind == "day_type":
            load, pv = self._profile(steps)
            load = self._seen_mean(steps, self.load_kwh, HOURS_PER_WEEK, self.options.load_weeks, load)
            pv = self._seen_mean(steps, self.pv_kwh, HOURS_PER_DAY, self.options.pv_days, pv)
        else:
            load, pv = self._profile(steps)
        load[0], pv[0] = load_now_kwh, pv_now_kwh
        return load, pv

    def _profile(self, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        hour = self.calendar.hour[steps]
        return self.training.load_kwh[self.calendar.weekday[steps], hour].copy(), self.training.pv_kwh[hour].copy()

    @staticmethod
    def _seen_mean(
        steps: np.ndarray, series: np.ndarray, period: int, periods: int, fallback: np.ndarray
    ) -> np.ndarray:
        """Per step, the mean of `series` at the same phase of the last `periods` periods already seen at
        steps[0] (a step ahead is never seen: its latest same phase lies a whole period or more back);
        `fallback` (the training year's mean) where none is seen yet."""
        ahead = steps - steps[0]
        latest = steps - period * np.maximum(np.ceil(ahead / period).astype(int), 1)
        back = latest[:, None] - period * np.arange(periods)[None, :]
        seen = back >= 0
        total = np.where(seen, series[np.clip(back, 0, None)], 0.0).sum(axis=1)
        count = seen.sum(axis=1)
        return np.where(count > 0, total / np.maximum(count, 1), fallback)

    def _noisy(self, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng((self.options.seed, self.split_code, int(steps[0])))
        factor = 1.0 + self.options.noise_pct / PERCENT * rng.standard_normal((2, len(steps)))
        return (
            np.clip(self.load_kwh[steps] * factor[0], 0.0, None),
            np.clip(self.pv_kwh[steps] * factor[1], 0.0, None),
        )


def forecast_record(options: Forecast) -> dict:
    """The forecast as records name it: its kind and the settings that kind reads."""
    own = {"day_type": ("load_weeks", "pv_days"), "noisy": ("noise_pct", "seed")}.get(options.kind, ())
    return {"kind": options.kind, **{key: getattr(options, key) for key in own}}
