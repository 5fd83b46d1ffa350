"""The simulation runner and the baselines, run for real in CityLearn on small stations."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import data_dir, results_dir, run_cli_in_process, with_station_only, write_params
from evstation.config import REWARD_COMPONENTS, load_settings
from evstation.control.rules import make_baseline
from evstation.kpis import split_kpis
from evstation.simulation.runner import simulate

BASELINES = ("without_solar", "uncontrolled", "rule_based")


def _metrics(folder: Path, name: str, scenario: str = "mall") -> dict:
    return json.loads((results_dir(folder, scenario) / "metrics" / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def mall_baselines(built_small, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("mall_baselines")
    shutil.copytree(built_small, folder, dirs_exist_ok=True)
    for name in BASELINES:
        run_cli_in_process("baseline", name, cwd=folder)
    return folder


@pytest.fixture(scope="module")
def station_only(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("station_only")
    write_params(folder, with_station_only())
    run_cli_in_process("--scenario", "station_only", "build-dataset", cwd=folder)
    for name in ("uncontrolled", "rule_based"):
        run_cli_in_process("--scenario", "station_only", "baseline", name, cwd=folder)
    return folder


def test_every_baseline_writes_metrics_and_timeseries_for_both_years(mall_baselines):
    for name in BASELINES:
        record = _metrics(mall_baselines, name)
        assert record["controller"] == name and record["scenario"] == "mall"
        for split in ("train", "eval"):
            metrics = record[split]
            assert metrics["steps"] == 168
            assert metrics["max_energy_balance_error_kwh"] <= 1e-6
            timeseries = pd.read_csv(results_dir(mall_baselines) / "timeseries" / f"{name}_{split}.csv")
            assert len(timeseries) == 168
            for column in (
                "load_kwh",
                "pv_kwh",
                "ev_kwh",
                "ev_delivered_kwh",
                "bess_in_kwh",
                "bess_out_kwh",
                "bess_soc_pct",
                "import_kwh",
                "surplus_kwh",
                "tariff_pen_per_kwh",
                "emission_factor_kg_per_kwh",
                "sessions_departing",
                "sessions_fulfilled",
                *(f"reward_{c}" for c in REWARD_COMPONENTS),
            ):
                assert column in timeseries.columns
            assert metrics["import_kwh"] == pytest.approx(timeseries["import_kwh"].sum())


def test_without_solar_is_its_own_simulation_and_imports_more(mall_baselines):
    without = pd.read_csv(results_dir(mall_baselines) / "timeseries" / "without_solar_train.csv")
    with_pv = pd.read_csv(results_dir(mall_baselines) / "timeseries" / "uncontrolled_train.csv")
    assert without["pv_kwh"].sum() == 0 and with_pv["pv_kwh"].sum() > 0
    assert (without["import_kwh"] >= with_pv["import_kwh"] - 1e-6).all()
    for split in ("train", "eval"):
        assert (
            _metrics(mall_baselines, "without_solar")[split]["import_kwh"]
            > _metrics(mall_baselines, "uncontrolled")[split]["import_kwh"]
        )
        assert (
            _metrics(mall_baselines, "without_solar")[split]["co2_grid_kg"]
            > _metrics(mall_baselines, "uncontrolled")[split]["co2_grid_kg"]
        )


def test_full_power_charging_satisfies_every_feasible_session(mall_baselines):
    for name in BASELINES:
        for split in ("train", "eval"):
            metrics = _metrics(mall_baselines, name)[split]
            assert metrics["sessions_departed"] > 0
            assert metrics["ev_satisfaction_pct"] == 100.0
            assert metrics["ev_energy_fulfilment_pct"] == pytest.approx(100.0)


def test_rule_based_imports_less_where_pv_surplus_exists(station_only):
    for split in ("train", "eval"):
        uncontrolled = _metrics(station_only, "uncontrolled", "station_only")[split]
        rule_based = _metrics(station_only, "rule_based", "station_only")[split]
        assert uncontrolled["surplus_kwh"] > 0
        assert rule_based["bess_out_kwh"] > 0
        assert rule_based["import_kwh"] < uncontrolled["import_kwh"]
        assert rule_based["solar_utilization_pct"] > uncontrolled["solar_utilization_pct"]
        assert rule_based["co2_grid_kg"] < uncontrolled["co2_grid_kg"]


def test_same_parameters_and_seed_give_the_same_metrics(mall_baselines, tmp_path):
    shutil.copytree(mall_baselines / "data", tmp_path / "data")
    shutil.copy(mall_baselines / "params.yaml", tmp_path / "params.yaml")
    run_cli_in_process("baseline", "rule_based", cwd=tmp_path)
    assert _metrics(tmp_path, "rule_based") == _metrics(mall_baselines, "rule_based")


def test_training_year_from_the_fast_simulator_matches_citylearn(mall_baselines, tmp_path):
    """The baselines' training year runs on the fast twin (params simulation.training_year_simulator),
    the held-out year in CityLearn; the twin's figures are CityLearn's to within its float32 noise."""
    fast = _metrics(mall_baselines, "rule_based")
    assert fast["simulator"] == {"train": "fast", "eval": "citylearn"}
    assert _metrics(mall_baselines, "without_solar")["simulator"] == {"train": "citylearn", "eval": "citylearn"}
    shutil.copytree(mall_baselines / "data", tmp_path / "data")
    write_params(tmp_path, {"simulation.training_year_simulator": "citylearn"})
    run_cli_in_process("baseline", "rule_based", cwd=tmp_path)
    slow = _metrics(tmp_path, "rule_based")
    assert slow["simulator"] == {"train": "citylearn", "eval": "citylearn"}
    assert slow["eval"] == fast["eval"]
    for kpi, value in slow["train"].items():
        if isinstance(value, float) and kpi != "max_energy_balance_error_kwh":
            assert fast["train"][kpi] == pytest.approx(value, rel=1e-4, abs=1e-3), kpi


class RandomActions:
    name = "random"

    def __init__(self, n_actions: int, seed: int):
        self.n_actions, self.seed = n_actions, seed

    def reset(self):
        self.rng = np.random.default_rng(self.seed)

    def act(self, observation, step, state=None):
        return np.concatenate([self.rng.uniform(-1, 1, 1), self.rng.uniform(0, 1, self.n_actions - 1)])


def test_energy_closes_under_random_actions(built_small):
    settings = load_settings(built_small / "params.yaml")
    folder = data_dir(built_small) / "train"
    timeseries = simulate(settings, folder, RandomActions(1 + settings.sockets.total, seed=3), progress=False)
    metrics = split_kpis(settings, timeseries, "random")
    assert metrics["max_energy_balance_error_kwh"] <= 1e-6
    assert metrics["bess_in_kwh"] > 0 and metrics["bess_out_kwh"] > 0
    assert metrics["max_battery_soc_error_kwh"] < 0.02
    assert 0 < metrics["ev_satisfaction_pct"] <= 100


def test_a_failing_balance_fails_the_stage(mall_baselines, tmp_path, monkeypatch):
    """The check is live in the stage: a runner that misreports import makes `baseline` exit non-zero."""
    from evstation import cli, kpis

    original = kpis.energy_balance_error_kwh
    monkeypatch.setattr(kpis, "energy_balance_error_kwh", lambda ts: original(ts) + 1e-3)
    shutil.copytree(mall_baselines / "data", tmp_path / "data")
    shutil.copy(mall_baselines / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["baseline", "uncontrolled"]) == 1
    assert not (results_dir(tmp_path) / "metrics" / "uncontrolled.json").exists()


def test_reward_does_not_saturate_on_the_uncontrolled_year(tmp_path):
    """A full year at the site's real magnitudes (full mall and PV, 8 sockets): no component pinned at -1.
    On the fast simulator, whose rewards equal CityLearn's (tests/test_fastsim.py): a CityLearn year
    costs the suite 20 s."""
    from evstation.simulation.fast_check import simulate_fast

    write_params(tmp_path, {"simulation.horizon_hours": 8760, "validation.pv_yield_kwh_per_kwp": [1200.0, 1550.0]})
    run_cli_in_process("build-dataset", "--split", "train", cwd=tmp_path)
    settings = load_settings(tmp_path / "params.yaml")
    timeseries = simulate_fast(settings, data_dir(tmp_path) / "train", make_baseline("uncontrolled", settings))
    assert len(timeseries) == 8760
    for component in REWARD_COMPONENTS:
        saturated = (timeseries[f"reward_{component}"] <= -1.0).mean()
        assert saturated < 0.01, f"{component} saturated on {100 * saturated:.1f} % of the year"
    assert timeseries["reward_co2"].std() > 0.05  # it varies: it can teach something


def test_battery_check_accounts_for_standby_loss(tmp_path):
    """With a standby loss the battery's SOC decays between steps: the check expects exactly that."""
    from evstation.errors import BalanceError
    from evstation.kpis import check_energy

    write_params(tmp_path, {"battery.standby_loss_pct_per_step": 0.5})
    run_cli_in_process("build-dataset", "--split", "train", cwd=tmp_path)
    settings = load_settings(tmp_path / "params.yaml")
    timeseries = simulate(settings, data_dir(tmp_path) / "train", make_baseline("rule_based", settings), progress=False)
    metrics = split_kpis(settings, timeseries, "lossy")
    assert metrics["max_battery_soc_error_kwh"] < 0.02
    with pytest.raises(BalanceError, match="battery stored energy"):
        check_energy(
            timeseries,
            tolerance_kwh=1e-6,
            round_trip_efficiency=0.9,
            battery_capacity_kwh=4520.0,
            standby_loss_fraction=0.0,
        )
