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
from evstation.control.mpc import Calendar, Forecast, MpcController, floor_peaks, training_profiles
from evstation.control.oracle import build_lp, solve_lp
from evstation.control.rules import make_baseline
from evstation.dataset import read_dataset
from evstation.simulation.fast_check import simulate_fast
from evstation.stages.optimum import run_oracle
from evstation.stages.planner import run_mpc
from evstation.stages.records import run_controller
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


def _settings(folder: Path, **mpc) -> object:
    settings = load_settings(folder / "params.yaml")
    return apply_overrides(settings, {f"mpc.{key}": value for key, value in mpc.items()}) if mpc else settings


@pytest.fixture(scope="module")
def runs(built_small, tmp_path_factory) -> Path:
    """The planner (persistence, the params' default) through the command line; with perfect forecasts,
    the bill-first optimum and the bill rules in-process."""
    folder = tmp_path_factory.mktemp("mpc")
    shutil.copytree(built_small, folder, dirs_exist_ok=True)  # the demand charges are not in the dataset
    write_params(folder, DEMAND)
    run_cli_in_process("baseline", "mpc", cwd=folder)
    settings, data, results = _settings(folder), data_dir(folder), results_dir(folder)
    run_mpc(_settings(folder, forecast=PERFECT), data, folder / PERFECT)
    run_oracle(settings, data, results, name="oracle_bill")
    run_peak_shaving(settings, data, results)
    for name in RULES:
        run_controller(
            settings,
            name,
            lambda split, name=name: make_baseline(name, settings),
            data_dir=data,
            results_dir=results,
            fast_training_year=True,
        )
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
    assert _metrics(results_dir(runs), "mpc")["planner"]["forecast"] == "persistence"


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


def _planner(folder: Path, split: str = "train", **mpc) -> MpcController:
    settings = _settings(folder, **mpc)
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
    recorder = Recorder(_planner(runs, forecast=PERFECT), step)
    simulate_fast(_settings(runs, forecast=PERFECT), data_dir(runs) / "train", recorder, label="mpc")
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


def test_persistence_forecasts_yesterdays_hour_and_the_profile_before_the_first_day(runs):
    settings = _settings(runs)
    profiles = read_dataset(data_dir(runs) / "eval").profiles
    calendar = Calendar.of(profiles, BillingTariff.from_settings(settings.tariff))
    training = training_profiles(settings, data_dir(runs))
    forecast = Forecast("persistence", profiles, calendar, training, 0.0, 0, "eval")
    state = type("Now", (), {"load_kwh": -1.0, "pv_kwh": -2.0})()
    step = 30
    load, pv = forecast.window(np.arange(step, step + 24), state)
    assert (load[0], pv[0]) == (-1.0, -2.0)  # this hour: what the state reads
    assert np.array_equal(load[1:], profiles["mall_kwh"].to_numpy()[step - 23 : step])
    assert np.array_equal(pv[1:], profiles["pv_kwh"].to_numpy()[step - 23 : step])
    load, _ = forecast.window(np.arange(0, 24), state)
    hours = calendar.hour[1:24]
    assert np.array_equal(load[1:], training.load_kwh[calendar.weekday[1:24], hours])


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
            _settings(runs, forecast="noisy", forecast_noise_pct=10.0, seed=seed),
            data_dir(runs),
            tmp_path / label,
            splits=("train",),
        )
        frames[label] = pd.read_csv(tmp_path / label / "timeseries" / "mpc_train.csv")
    pd.testing.assert_frame_equal(frames["first"], frames["again"])
    assert not frames["first"]["bess_in_kwh"].equals(frames["other"]["bess_in_kwh"]) or not frames["first"][
        "bess_out_kwh"
    ].equals(frames["other"]["bess_out_kwh"])


def test_the_load_margin_raises_only_the_forecast_hours(runs):
    settings = _settings(runs)
    profiles = read_dataset(data_dir(runs) / "eval").profiles
    calendar = Calendar.of(profiles, BillingTariff.from_settings(settings.tariff))
    training = training_profiles(settings, data_dir(runs))
    state = type("Now", (), {"load_kwh": 5.0, "pv_kwh": 1.0})()
    steps = np.arange(40, 64)
    plain = Forecast(PERFECT, profiles, calendar, training, 0.0, 0, "eval").window(steps, state)
    raised = Forecast(PERFECT, profiles, calendar, training, 0.0, 0, "eval", load_margin_pct=10.0).window(steps, state)
    assert raised[0][0] == plain[0][0] == 5.0
    assert np.allclose(raised[0][1:], 1.1 * plain[0][1:]) and np.array_equal(raised[1], plain[1])
