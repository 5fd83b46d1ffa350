"""The rolling-horizon planner `mpc` at small size, billed as MT3: recorded like a rule through the
command line, its bill against the optimum and the rules, the month-to-date peak floors of its
window's LP, its forecasts, and its noise reproducible."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import data_dir, results_dir, run_cli_in_process, write_params
from evstation.config import apply_overrides, load_settings
from evstation.control.mpc import (
    REACH_MARGIN,
    MpcController,
    charge_before_windows,
    floor_peaks,
    prefer_early_charge,
    reachable_stored_kwh,
)
from evstation.control.oracle import build_lp, solve_lp
from evstation.dataset import read_dataset
from evstation.forecast.history import Calendar, training_profiles
from evstation.simulation.fast_check import simulate_fast
from evstation.stages.baselines import run_rule
from evstation.stages.optimum import run_oracle
from evstation.stages.planner import run_mpc
from evstation.stages.tuning import run_peak_shaving
from evstation.tariff.demand import demand_charge_pen
from evstation.tariff.model import BillingTariff

DEMAND = {
    "tariff.demand.generation_pen_per_kw_month": 56.09,
    "tariff.demand.distribution_pen_per_kw_month": 16.40,
    "objective": "bill",
}
RULES = ("least_laxity", "hold_for_peak")
SPLITS = ("train", "eval")
REPLAY_REL = 1e-5  # CityLearn's float32 flows, as in test_demand_charges
PERFECT = "perfect"


def _settings(folder: Path, **forecast) -> object:
    """The folder's params, with these `forecast` settings (kind=..., noise_pct=..., seed=...)."""
    settings = load_settings(folder / "params.yaml")
    return apply_overrides(settings, {f"forecast.{key}": value for key, value in forecast.items()})


@pytest.fixture(scope="module")
def runs(built_small, tmp_path_factory) -> Path:
    """The planner (its forecast the params' default) through the command line; with perfect forecasts,
    the bill-first optimum and the bill rules in-process."""
    folder = tmp_path_factory.mktemp("mpc")
    shutil.copytree(built_small, folder, dirs_exist_ok=True)  # the demand charges are not in the dataset
    write_params(folder, DEMAND)
    run_cli_in_process("baseline", "mpc", cwd=folder)
    settings, data, results = _settings(folder), data_dir(folder), results_dir(folder)
    run_mpc(_settings(folder, kind=PERFECT), data, folder / PERFECT)
    run_oracle(settings, data, results, name="oracle_bill")
    run_peak_shaving(settings, data, results)
    for name in RULES:
        run_rule(settings, data, results, name=name)
    return folder


def _metrics(folder: Path, name: str) -> dict:
    return json.loads((folder / "metrics" / f"{name}.json").read_text())


def test_the_planner_is_recorded_like_a_rule_and_serves_the_fleet(runs):
    for folder in (results_dir(runs), runs / PERFECT):
        record = _metrics(folder, "mpc")
        assert record["controller"] == "mpc" and record["simulator"] == {"train": "fast", "eval": "citylearn"}
        assert record["planner"]["objective"] == "bill"
        for split in SPLITS:
            metrics = record[split]
            assert metrics["sessions_departed"] > 0
            assert metrics["ev_satisfaction_pct"] >= 99.0, f"{folder.name}/{split}"
            assert metrics["max_energy_balance_error_kwh"] <= 1e-6
            assert (folder / "timeseries" / f"mpc_{split}.csv").is_file()
    assert _metrics(results_dir(runs), "mpc")["planner"]["forecast"]["kind"] == _settings(runs).forecast.kind


def test_with_perfect_forecasts_its_bill_lies_between_the_optimum_and_the_best_rule(runs):
    results = results_dir(runs)
    for split in SPLITS:
        planner = _metrics(runs / PERFECT, "mpc")[split]["bill_pen"]
        optimum = _metrics(results, "oracle_bill")[split]["bill_pen"]
        best_rule = min(_metrics(results, name)[split]["bill_pen"] for name in RULES + ("peak_shaving",))
        assert optimum * (1 - REPLAY_REL) <= planner < best_rule, split


def test_the_per_step_demand_charges_of_its_run_add_up_to_its_bill(runs):
    settings = _settings(runs)
    billing = BillingTariff.from_settings(settings.tariff)
    for split in SPLITS:
        timeseries = pd.read_csv(results_dir(runs) / "timeseries" / f"mpc_{split}.csv")
        month, in_peak = billing.calendar(timeseries["timestamp"])
        window_kw = any_kw = 0.0
        steps_pen = 0.0
        for kw, _month, peak, first in zip(
            timeseries["import_kwh"], month, in_peak, np.r_[True, month[1:] != month[:-1]]
        ):
            window_kw, any_kw = (0.0, 0.0) if first else (window_kw, any_kw)
            steps_pen += demand_charge_pen(kw, bool(peak), window_kw, any_kw, billing.rates)
            window_kw, any_kw = (max(window_kw, kw) if peak else window_kw), max(any_kw, kw)
        bill = billing.bill(timeseries)
        assert steps_pen > 0
        assert steps_pen == pytest.approx(
            bill["bill_demand_generation_pen"] + bill["bill_demand_distribution_pen"], rel=1e-9
        )


class Recorder:
    """The planner, keeping the state it saw at one step."""

    def __init__(self, planner: MpcController, at_step: int):
        self.planner, self.at_step, self.state = planner, at_step, None
        self.name = planner.name

    def reset(self) -> None:
        self.planner.reset()

    def act(self, observation, step, state=None):
        if step == self.at_step:
            self.state = state
        return self.planner.act(observation, step, state)


def _planner(folder: Path, split: str = "train", **forecast) -> MpcController:
    settings = _settings(folder, **forecast)
    profiles = read_dataset(data_dir(folder) / split).profiles
    return MpcController(settings, profiles, training_profiles(settings, data_dir(folder)), split)


def _window(planner: MpcController, step: int, state):
    lp = build_lp(planner.window_inputs(step, state), planner.options, planner.objective)
    floor_peaks(lp, state)
    return lp, solve_lp(lp, planner.options)


def test_the_month_to_date_peaks_floor_the_windows_billed_peaks(runs):
    """With the meter's peaks as floors the window pays the demand rates only on a rise above them; floors
    above anything the window imports cost it no demand charge at all, and never a higher energy bill."""
    step = 3 * 24 + 19  # the fourth day's second peak hour: the month has billed peaks by then
    recorder = Recorder(_planner(runs, kind=PERFECT), step)
    simulate_fast(_settings(runs, kind=PERFECT), data_dir(runs) / "train", recorder, label="mpc")
    state = recorder.state
    assert state.in_peak_window and state.billed_peak_window_kw > 0 and state.billed_peak_any_kw > 0
    planner = recorder.planner
    lp, solution = _window(planner, step, state)
    layout, x = lp.layout, solution.values
    current = int(layout.peaks.month_index[0])
    window_kw, any_kw = x[layout.block("peak_window")][current], x[layout.block("peak_any")][current]
    assert window_kw >= state.billed_peak_window_kw - 1e-9 and any_kw >= state.billed_peak_any_kw - 1e-9
    imports = x[layout.block("import")]
    inputs = planner.window_inputs(step, state)
    # the plan's billed peaks are the larger of the floor and its own import: what the meter would bill
    assert window_kw == pytest.approx(max(state.billed_peak_window_kw, imports[inputs.in_peak].max()), abs=1e-6)
    assert any_kw == pytest.approx(max(state.billed_peak_any_kw, imports.max()), abs=1e-6)
    # floors above every import of the window: no rise to pay, and no dearer energy than with the meter's floors
    high = dataclasses.replace(state, billed_peak_window_kw=2 * window_kw, billed_peak_any_kw=2 * any_kw)
    lp_high, solution_high = _window(planner, step, high)
    x_high = solution_high.values
    assert x_high[lp_high.layout.block("peak_window")][current] == pytest.approx(2 * window_kw)
    assert x_high[lp_high.layout.block("peak_any")][current] == pytest.approx(2 * any_kw)
    energy = float(imports @ inputs.tariff_pen_per_kwh)
    energy_high = float(x_high[lp_high.layout.block("import")] @ inputs.tariff_pen_per_kwh)
    assert energy_high <= energy + 1e-3


def test_the_expected_arrivals_carry_the_training_years_ev_energy(runs):
    settings = _settings(runs)
    training = training_profiles(settings, data_dir(runs))
    dataset = read_dataset(data_dir(runs) / "train")
    calendar = Calendar.of(dataset.profiles, BillingTariff.from_settings(settings.tariff))
    hours_in_cell = np.bincount(calendar.weekday * 24 + calendar.hour, minlength=7 * 24).reshape(7, 24)
    expected_kwh = float((training.ev_by_lag_kwh.sum(axis=2) * hours_in_cell).sum())
    sessions = dataset.sessions
    need_kwh = (
        (sessions["required_soc_pct"] - sessions["arrival_soc_pct"]).clip(lower=0) / 100 * sessions["battery_kwh"]
    ).sum() / (settings.sockets.efficiency_pct / 100)
    assert expected_kwh == pytest.approx(need_kwh, rel=0.02)  # only draws past the week's end are left out
    # nothing is expected of vehicles already plugged in: the window's first hour has none
    steps = np.arange(10, 34)
    expected = training.ev_expected_kwh(calendar, steps)
    assert expected[0] == 0.0 and expected.sum() > 0


def test_noisy_forecasts_are_reproducible_and_the_seed_matters(runs, tmp_path):
    frames = {}
    for label, seed in (("first", 3), ("again", 3), ("other", 4)):
        run_mpc(
            _settings(runs, kind="noisy", noise_pct=10.0, seed=seed),
            data_dir(runs),
            tmp_path / label,
            splits=("train",),
        )
        frames[label] = pd.read_csv(tmp_path / label / "timeseries" / "mpc_train.csv")
    pd.testing.assert_frame_equal(frames["first"], frames["again"])
    assert not frames["first"]["bess_in_kwh"].equals(frames["other"]["bess_in_kwh"]) or not frames["first"][
        "bess_out_kwh"
    ].equals(frames["other"]["bess_out_kwh"])


def test_a_window_target_fills_the_battery_before_each_peak_window_as_far_as_power_allows(runs):
    step = 2 * 24 + 9  # the third day's morning: the evening window opens 9 hours later
    recorder = Recorder(_planner(runs), step)
    settings = _settings(runs)
    simulate_fast(settings, data_dir(runs) / "train", recorder, label="mpc")
    planner, state = recorder.planner, recorder.state
    for target_pct in (0.0, 60.0, 100.0):
        inputs = planner.window_inputs(step, state)
        lp = build_lp(inputs, planner.options, planner.objective)
        charge_before_windows(lp, inputs, target_pct)
        stored = solve_lp(lp, planner.options).values[lp.layout.block("stored")]
        before = int(np.flatnonzero(inputs.in_peak)[0]) - 1
        reachable = reachable_stored_kwh(inputs.battery, lp.layout.steps)[before]
        wanted_kwh = min(target_pct / 100 * inputs.battery.capacity_kwh, reachable * (1 - REACH_MARGIN))
        assert stored[before] >= wanted_kwh - 1e-6, target_pct
    assert reachable <= inputs.battery.capacity_kwh


def test_the_early_charge_tiebreak_prices_late_charging_a_little_higher(runs):
    recorder = Recorder(_planner(runs), 10)
    simulate_fast(_settings(runs), data_dir(runs) / "train", recorder, label="mpc")
    planner = recorder.planner
    lp = build_lp(planner.window_inputs(10, recorder.state), planner.options, planner.objective)
    before = lp.cost[lp.layout.block("charge")].copy()
    prefer_early_charge(lp, 1e-5)
    added = lp.cost[lp.layout.block("charge")] - before
    assert added[0] == 0.0 and added[-1] == pytest.approx(1e-5) and np.all(np.diff(added) > 0)
