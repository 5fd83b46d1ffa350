"""The comparison: central values and intervals over seeds, changes, and the share of the oracle's gain."""

from __future__ import annotations

import numpy as np
import pytest

from evstation.config import apply_overrides, load_settings
from evstation.report import Entry, bootstrap_interval, central, comparison_table, interquartile_mean

from conftest import PARAMS

SETTINGS = load_settings(PARAMS)


def entry(controller, split, co2, ev=100.0, runs=1):
    values = {"co2_grid_kg": co2 if isinstance(co2, list) else [co2] * runs,
              "ev_satisfaction_pct": ev if isinstance(ev, list) else [ev] * runs}
    return Entry(controller, split, {kpi: values.get(kpi, [1.0] * len(values["co2_grid_kg"]))
                                     for kpi in ("co2_grid_kg", "ev_satisfaction_pct", "co2_net_kg", "import_kwh",
                                                 "cost_pen", "solar_utilization_pct")})


def test_interquartile_mean_ignores_the_extremes():
    assert interquartile_mean(np.array([0.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 1000.0])) == pytest.approx(12.5)
    assert central(np.array([1.0, 2.0, 9.0])) == pytest.approx(4.0)                  # under 5 seeds: the mean
    assert central(np.array([1.0, 2.0, 3.0, 4.0, 100.0])) == pytest.approx(3.0)      # from 5 seeds: the IQM


def test_bootstrap_interval_brackets_the_mean_and_is_reproducible():
    values = np.array([10.0, 12.0, 11.0, 13.0])
    low, high = bootstrap_interval(values, 2000, 95.0, np.random.default_rng(0))
    assert low < values.mean() < high
    assert (low, high) == bootstrap_interval(values, 2000, 95.0, np.random.default_rng(0))
    assert bootstrap_interval(np.array([5.0]), 2000, 95.0, np.random.default_rng(0)) == (None, None)


def test_changes_and_share_of_the_oracle_gain():
    entries = [entry("without_solar", "eval", 200.0), entry("uncontrolled", "eval", 100.0),
               entry("oracle", "eval", 80.0), entry("rule_based", "eval", 90.0),
               entry("ppo", "eval", [84.0, 86.0, 85.0], runs=3),
               entry("a2c", "eval", 60.0, ev=0.0)]
    table = comparison_table(SETTINGS, entries).set_index("controller")
    assert table.loc["rule_based", "co2_grid_kg_change_vs_uncontrolled_pct"] == pytest.approx(-10.0)
    assert table.loc["uncontrolled", "co2_grid_kg_change_vs_without_solar_pct"] == pytest.approx(-50.0)
    assert table.loc["rule_based", "share_of_oracle_gain_pct"] == pytest.approx(50.0)
    assert table.loc["ppo", "share_of_oracle_gain_pct"] == pytest.approx(75.0)
    assert table.loc["ppo", "runs"] == 3
    assert table.loc["ppo", "co2_grid_kg_ci_low"] <= 85.0 <= table.loc["ppo", "co2_grid_kg_ci_high"]
    # saving CO2 by leaving every vehicle uncharged is not a share of the oracle's gain
    assert np.isnan(table.loc["a2c", "share_of_oracle_gain_pct"])


def test_never_the_best_seed_alone():
    seeds = [70.0, 95.0, 96.0, 97.0, 98.0]
    table = comparison_table(apply_overrides(SETTINGS, {}), [entry("uncontrolled", "eval", 100.0),
                                                             entry("sac", "eval", seeds, runs=5)]).set_index("controller")
    assert table.loc["sac", "co2_grid_kg"] == pytest.approx(96.0)        # the IQM, not the lucky 70
