"""The aggregate over seeds: rliable's interquartile mean (IQM) and its stratified bootstrap interval.

rliable is the field's library for aggregating RL runs; an agent is reported by its IQM over seeds,
never by its best seed. With three seeds the IQM trims nothing (a quarter of three runs is less than
one) and equals the mean; from four seeds on it drops the extremes.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.stats
from rliable import library as rly
from rliable import metrics as rl_metrics

IQM_TRIM = 0.25  # rliable's interquartile mean cuts a quarter of the runs at each end


def interquartile_mean(values: np.ndarray) -> float:
    """rliable's IQM over runs (a 25 % trimmed mean: with fewer than four runs, the mean)."""
    return float(rl_metrics.aggregate_iqm(np.asarray(values, dtype=float)))


def central(values: np.ndarray) -> float:
    """The value the report gives for several runs of one controller: their IQM."""
    return interquartile_mean(values)


def iqm_per_column(scores: np.ndarray) -> np.ndarray:
    """rliable's IQM (`aggregate_iqm`: scipy's 25 % trimmed mean) of each column at once: the same
    numbers as one `aggregate_iqm` call per column, and fast enough for thousands of resamples."""
    return np.atleast_1d(scipy.stats.trim_mean(scores, proportiontocut=IQM_TRIM, axis=0))


def bootstrap_intervals(scores: np.ndarray, samples: int, confidence_pct: float, seed: int) -> np.ndarray:
    """rliable's stratified bootstrap interval of the IQM of each column (a KPI) over the rows (runs):
    an array (2, columns) of low and high bounds. Each KPI is a stratum, so its runs are resampled
    among themselves, as a task's runs are in rliable. Seeded: rliable's stratified bootstrap draws its
    resamples from numpy's global generator (`np.random.choice`), not from the `random_state` it is
    given, so that generator is seeded here and put back afterwards."""
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        with warnings.catch_warnings():  # arch asks for a Generator; rliable hands it a RandomState
            warnings.simplefilter("ignore", FutureWarning)
            _, intervals = rly.get_interval_estimates(
                {"runs": scores},
                iqm_per_column,
                reps=samples,
                confidence_interval_size=confidence_pct / 100,
                random_state=np.random.RandomState(seed),
            )
    finally:
        np.random.set_state(saved)
    return intervals["runs"]


def bootstrap_interval(values: np.ndarray, samples: int, confidence_pct: float, seed: int):
    """The interval of one KPI's IQM over runs; a single run has no interval."""
    if len(values) < 2:
        return None, None
    column = np.asarray(values, dtype=float).reshape(-1, 1)
    low, high = bootstrap_intervals(column, samples, confidence_pct, seed)[:, 0]
    return float(low), float(high)
