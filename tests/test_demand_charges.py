"""Demand charges at small size: both oracles and every rule on one dataset with the MT3 charges,
each run for real (the held-out week in CityLearn), and the bill checked from the files alone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import data_dir, results_dir, run_cli, run_cli_in_process, write_params
from evstation.config import load_settings
from evstation.stages.baselines import run_rule
from evstation.stages.optimum import lp_record_path, run_oracle
from evstation.tariff.model import BillingTariff

GENERATION_PEN_PER_KW_MONTH, DISTRIBUTION_PEN_PER_KW_MONTH = 56.09, 16.40
DEMAND = {
    "tariff.demand.generation_pen_per_kw_month": GENERATION_PEN_PER_KW_MONTH,
    "tariff.demand.distribution_pen_per_kw_month": DISTRIBUTION_PEN_PER_KW_MONTH,
    "objective": "bill",
}
RULES = ("uncontrolled", "rule_based", "self_consumption", "least_laxity", "hold_for_peak", "peak_shaving")
NEW_RULES = ("hold_for_peak", "peak_shaving")
SPLITS = ("train", "eval")
# CityLearn keeps its flows in float32: a replay's import differs from the plan's in the 7th digit
REPLAY_REL = 1e-5


@pytest.fixture(scope="module")
def runs(built_small, tmp_path_factory) -> Path:
    """Every controller on the small station billed as MT3; oracle_bill and peak_shaving through the command line."""
    folder = tmp_path_factory.mktemp("demand_charges")
    shutil.copytree(built_small, folder, dirs_exist_ok=True)  # the demand charges are not in the dataset
    write_params(folder, DEMAND)
    for name in ("oracle_bill", "peak_shaving"):
        run_cli_in_process("baseline", name, cwd=folder)
    settings = load_settings(folder / "params.yaml")
    data, results = data_dir(folder), results_dir(folder)
    run_oracle(settings, data, results, name="oracle")
    for name in RULES:
        if name != "peak_shaving":
            run_rule(settings, data, results, name=name)
    return folder


def _metrics(folder: Path, name: str) -> dict:
    return json.loads((results_dir(folder) / "metrics" / f"{name}.json").read_text())


def _timeseries(folder: Path, name: str, split: str) -> pd.DataFrame:
    return pd.read_csv(results_dir(folder) / "timeseries" / f"{name}_{split}.csv")


def test_the_bill_first_optimum_pays_no_more_than_any_rule(runs):
    for split in SPLITS:
        optimum = _metrics(runs, "oracle_bill")[split]
        assert optimum["bill_demand_generation_pen"] > 0 and optimum["bill_demand_distribution_pen"] > 0
        for name in RULES:
            assert optimum["bill_pen"] <= _metrics(runs, name)[split]["bill_pen"] * (1 + REPLAY_REL), f"{split}: {name}"


def test_each_mode_wins_on_its_own_metric(runs):
    for split in SPLITS:
        co2_first = json.loads(lp_record_path(results_dir(runs), "oracle", split).read_text())
        bill_first = json.loads(lp_record_path(results_dir(runs), "oracle_bill", split).read_text())
        assert co2_first["objective"] == "grid_co2" and bill_first["objective"] == "bill"
        assert bill_first["lp_bill_pen"] <= co2_first["lp_bill_pen"] * (1 + 1e-9)
        assert co2_first["lp_grid_co2_kg"] <= bill_first["lp_grid_co2_kg"] * (1 + 1e-9)
        replayed_bill = {name: _metrics(runs, name)[split]["bill_pen"] for name in ("oracle", "oracle_bill")}
        assert replayed_bill["oracle_bill"] <= replayed_bill["oracle"] * (1 + REPLAY_REL)


def test_the_lps_bill_is_the_bill_of_its_replay(runs):
    billing = BillingTariff.from_settings(load_settings(runs / "params.yaml").tariff)
    for name in ("oracle", "oracle_bill"):
        for split in SPLITS:
            report = json.loads(lp_record_path(results_dir(runs), name, split).read_text())
            replayed = billing.bill(_timeseries(runs, name, split))
            for part in ("bill_pen", "bill_energy_pen", "bill_demand_generation_pen", "bill_demand_distribution_pen"):
                assert report[f"lp_{part}"] == pytest.approx(replayed[part], rel=REPLAY_REL), f"{name}/{split}: {part}"
            assert report["replay_bill_pen"] == pytest.approx(replayed["bill_pen"])
            assert abs(report["gap_bill_pct"]) < 100 * REPLAY_REL


def test_the_new_rules_serve_the_fleet_and_close_the_balance(runs):
    for name in NEW_RULES:
        for split in SPLITS:
            metrics = _metrics(runs, name)[split]
            assert metrics["sessions_departed"] > 0
            assert metrics["ev_satisfaction_pct"] >= 99.0, f"{name}/{split}"
            assert metrics["max_energy_balance_error_kwh"] <= 1e-6


def test_hold_for_peak_gives_the_battery_back_only_in_the_peak_hours(runs):
    params = yaml.safe_load((runs / "params.yaml").read_text())["tariff"]
    for split in SPLITS:
        timeseries = _timeseries(runs, "hold_for_peak", split)
        hour = pd.to_datetime(timeseries["timestamp"]).dt.hour
        in_peak = (hour >= params["peak_start_hour"]) & (hour < params["peak_end_hour"])
        assert (timeseries.loc[in_peak, "bess_out_kwh"] > 0).any()
        assert (timeseries.loc[~in_peak, "bess_out_kwh"] == 0).all()


def test_peak_shaving_is_tuned_on_the_training_year_and_records_its_choice(runs):
    record = _metrics(runs, "peak_shaving")
    tuning = record["tuning"]
    rule = yaml.safe_load((runs / "params.yaml").read_text())["peak_shaving"]
    low, high = rule["threshold_pct"]
    expected = (round((high - low) / rule["threshold_step_pct"]) + 1) * len(rule["recharge_soc_pct"])
    assert tuning["split"] == "train" and tuning["objective"] == "bill"
    assert len(tuning["candidates"]) == expected
    best = min(tuning["candidates"], key=lambda row: row["bill_pen"])
    assert (tuning["threshold_kw"], tuning["recharge_soc_pct"]) == (best["threshold_kw"], best["recharge_soc_pct"])
    # the training year's record is the chosen candidate's run: the same rule on the same simulator
    assert record["train"]["bill_pen"] == pytest.approx(best["bill_pen"], rel=1e-12)
    worst = max(row["bill_pen"] for row in tuning["candidates"])
    assert worst > best["bill_pen"]  # the threshold matters: a grid that changes nothing would tune nothing


def _bill_from_csv(timeseries: pd.DataFrame, tariff: dict) -> dict:
    """The bill from a timeseries CSV and the tariff's numbers alone, with pandas (not tariff/bill.py)."""
    times = pd.to_datetime(timeseries["timestamp"])
    frame = pd.DataFrame({"month": times.dt.month, "hour": times.dt.hour, "kw": timeseries["import_kwh"]})
    window = frame[(frame["hour"] >= tariff["peak_start_hour"]) & (frame["hour"] < tariff["peak_end_hour"])]
    generation = tariff["demand"]["generation_pen_per_kw_month"] * window.groupby("month")["kw"].max().sum()
    distribution = tariff["demand"]["distribution_pen_per_kw_month"] * frame.groupby("month")["kw"].max().sum()
    energy = float((timeseries["import_kwh"] * timeseries["tariff_pen_per_kwh"]).sum())
    return {
        "bill_energy_pen": energy,
        "bill_demand_generation_pen": generation,
        "bill_demand_distribution_pen": distribution,
        "bill_pen": energy + generation + distribution,
    }


def test_the_recorded_bill_is_recomputed_from_the_timeseries_and_the_tariff(runs):
    tariff = yaml.safe_load((runs / "params.yaml").read_text())["tariff"]
    prices = {tariff["peak_pen_per_kwh"], tariff["offpeak_pen_per_kwh"]}
    for name in ("peak_shaving", "oracle_bill"):
        for split in SPLITS:
            timeseries = _timeseries(runs, name, split)
            assert set(np.round(timeseries["tariff_pen_per_kwh"], 6)) <= prices
            recomputed, recorded = _bill_from_csv(timeseries, tariff), _metrics(runs, name)[split]
            for part, value in recomputed.items():
                assert recorded[part] == pytest.approx(value, rel=1e-9, abs=1e-6), f"{name}/{split}: {part}"


def test_without_demand_charges_oracle_keeps_its_records_and_paths(built_small, tmp_path):
    """With no demand charge, `oracle` writes where it always did and its LP has no billed-peak variables."""
    shutil.copytree(built_small, tmp_path, dirs_exist_ok=True)
    run_cli_in_process("baseline", "oracle", cwd=tmp_path)
    for split in SPLITS:
        report = json.loads((results_dir(tmp_path) / "oracle" / f"{split}_lp.json").read_text())
        assert report["objective"] == "grid_co2"
        assert report["lp_bill_demand_generation_pen"] == report["lp_bill_demand_distribution_pen"] == 0.0
        assert report["lp_bill_pen"] == pytest.approx(report["lp_cost_pen"])
        assert report["constraints"] == 2 * report["steps"] + report["sessions"]


# PPO whose actor is held for its whole budget (the critic's warm-up): its policy is the zero change
HELD_ACTOR = {
    "agents.ppo.total_timesteps": 128,
    "agents.ppo.n_steps": 64,
    "agents.ppo.n_envs": 1,
    "agents.ppo.batch_size": 32,
    "agents.ppo.net_arch": [16, 16],
    "agents.ppo.critic_warmup_steps": 1000,
    "training.checkpoint_every_steps": 64,
    "training.seeds": [0],
    "control.residual": "peak_shaving",
}


def test_a_policy_that_corrects_nothing_is_the_tuned_peak_shaving_rule(runs, tmp_path):
    """With `control.residual: peak_shaving`, the train and evaluate stages take the rule as the
    scenario's peak_shaving baseline tuned it: an untouched policy replays that rule, in CityLearn too."""
    project = Path(shutil.copytree(runs, tmp_path / "project"))
    write_params(project, {**DEMAND, **HELD_ACTOR})
    run_cli_in_process("train", "ppo", cwd=project)
    run_cli_in_process("evaluate", "ppo", "--seed", "0", cwd=project)
    policy, rule = _metrics(project, "ppo_seed0"), _metrics(project, "peak_shaving")
    for split in SPLITS:
        for key in ("bill_pen", "import_kwh", "co2_grid_kg", "ev_satisfaction_pct"):
            assert policy[split][key] == pytest.approx(rule[split][key], rel=1e-9), f"{split}: {key}"
    trained_with = json.loads(
        (results_dir(project) / "checkpoints" / "ppo" / "seed0" / "final" / "meta.json").read_text()
    )
    assert trained_with["settings"]["control"]["residual_tuning"] == {
        key: rule["tuning"][key] for key in ("threshold_kw", "recharge_soc_pct")
    }


def test_a_peak_shaving_residual_without_its_record_is_refused_in_one_line(built_small, tmp_path):
    shutil.copytree(built_small / "data", tmp_path / "data")
    write_params(tmp_path, {**DEMAND, **HELD_ACTOR})
    result = run_cli("train", "ppo", cwd=tmp_path, check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "metrics/peak_shaving.json: not found" in lines[0], result.stderr
    assert "run `evstation --scenario mall baseline peak_shaving` first" in lines[0]
