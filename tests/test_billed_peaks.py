"""Monthly demand charges as a per-step quantity: they add up to the bill, both simulators count
them and see the month's billed peaks alike across a month boundary, and without demand rates
every reward is what it was without them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from conftest import PARAMS, data_dir, run_cli_in_process, with_station_only, write_params
from evstation.config import apply_overrides, load_settings
from evstation.learning.station_env import make_learner_env
from evstation.problem.features import feature_names, features
from evstation.problem.learning_reward import LearningReferences, MarginalReward, baseline_import_kwh, marginal_flows
from evstation.problem.reward import penalty
from evstation.simulation.citylearn_env import make_station_env
from evstation.simulation.fast_check import compare, run_citylearn, run_fast
from evstation.simulation.fast_env import make_fast_env
from evstation.simulation.observer import StationObserver, state_from_citylearn, state_from_fast_env
from evstation.tariff.demand import (
    DemandRates,
    MonthPeaks,
    demand_charge_pen,
    demand_charge_steps,
    month_start_steps,
    running_peaks_before,
)
from evstation.tariff.model import BillingTariff

MT3 = {"tariff.demand.generation_pen_per_kw_month": 56.09, "tariff.demand.distribution_pen_per_kw_month": 16.40}
NO_DEMAND = {"tariff.demand.generation_pen_per_kw_month": 0.0, "tariff.demand.distribution_pen_per_kw_month": 0.0}
SPAN_HOURS = 24 * 40  # 1 January to 9 February: one month boundary
STEP_TOLERANCE = 1e-6
SETTINGS = apply_overrides(load_settings(PARAMS), MT3)
BILLING = BillingTariff.from_settings(SETTINGS.tariff)


@pytest.fixture(scope="module")
def two_months(tmp_path_factory):
    """The small station over 40 days, billed with MT3's demand rates."""
    folder = tmp_path_factory.mktemp("two_months")
    write_params(folder, {"simulation.horizon_hours": SPAN_HOURS, **MT3})
    run_cli_in_process("build-dataset", cwd=folder)
    return load_settings(folder / "params.yaml"), data_dir(folder) / "train"


def monthly_demand_pen(parts: dict, settings) -> dict[int, float]:
    """Each month's demand charge from `BillingTariff.bill_parts_pen`'s billed peaks."""
    demand = settings.tariff.demand
    return {
        month: demand.generation_pen_per_kw_month * parts["billed_peak_window_kw"][month]
        + demand.distribution_pen_per_kw_month * parts["billed_peak_any_hour_kw"][month]
        for month in parts["billed_peak_window_kw"]
    }


def by_month(values: np.ndarray, month: np.ndarray) -> dict[int, float]:
    return {int(m): float(np.sum(values[month == m])) for m in np.unique(month)}


# ---------------------------------------------------------------- pure


def test_per_step_charges_add_up_to_each_months_bill_over_a_year():
    stamps = pd.date_range("2023-01-01", periods=8760, freq="h", tz="-05:00")
    rng = np.random.default_rng(3)
    import_kwh = rng.gamma(4.0, 400.0, len(stamps)) * (rng.random(len(stamps)) > 0.1)  # some hours import nothing
    month, in_peak = BILLING.calendar(pd.Series(stamps))
    steps = demand_charge_steps(import_kwh, month, in_peak, BILLING.rates)
    parts = BILLING.bill_parts_pen(import_kwh, np.full(len(stamps), 0.3), month, in_peak)
    expected = monthly_demand_pen(parts, SETTINGS)
    assert len(expected) == 12
    for m, charge in by_month(steps, month).items():
        assert charge == pytest.approx(expected[m], rel=1e-12)
    assert steps.sum() == pytest.approx(
        parts["bill_demand_generation_pen"] + parts["bill_demand_distribution_pen"], rel=1e-12
    )
    assert (steps >= 0).all() and (steps[month == 2] > 0).sum() < 0.1 * (month == 2).sum()  # few steps raise a peak


def test_the_billing_clock_counts_hours_left_in_the_month_and_to_the_peak_window():
    stamps = pd.DatetimeIndex(
        pd.to_datetime(
            [
                "2023-01-31 23:00",
                "2023-02-01 00:00",
                "2023-02-28 17:00",
                "2023-02-28 18:00",
                "2023-02-28 22:00",
                "2023-02-28 23:00",
            ]
        )
    ).tz_localize("-05:00")
    clock = BILLING.clock(stamps)
    assert list(clock["month"]) == [1, 2, 2, 2, 2, 2]
    assert list(clock["hours_left_in_month"]) == [1, 28 * 24, 7, 6, 2, 1]
    assert list(clock["hours_to_peak_window"]) == [19, 18, 1, 0, 0, 19]
    assert list(clock["in_window"]) == list(BILLING.calendar(pd.Series(stamps))[1])
    assert list(month_start_steps(clock["month"])) == [0, 1, 1, 1, 1, 1]


def test_month_peaks_restart_each_month_and_from_an_episodes_first_step():
    peaks = MonthPeaks().after(1, 500.0, False).after(1, 300.0, True)
    assert (peaks.window_kw, peaks.any_kw) == (300.0, 500.0)
    assert peaks.before(2) == MonthPeaks(2)
    rates = BILLING.rates
    # a step in the window above both peaks pays both rates on its rise; below them nothing
    assert demand_charge_pen(600.0, True, 300.0, 500.0, rates) == pytest.approx(56.09 * 300 + 16.40 * 100)
    assert demand_charge_pen(400.0, False, 300.0, 500.0, rates) == 0.0
    assert demand_charge_pen(600.0, True, 300.0, 500.0, DemandRates()) == 0.0
    window, any_hour = running_peaks_before(
        np.array([5.0, 9.0, 7.0, 4.0, 6.0]),
        np.array([1, 1, 1, 2, 2]),
        np.array([True, False, True, True, True]),
        start=1,
    )
    assert list(any_hour) == [0.0, 0.0, 9.0, 0.0, 4.0] and list(window) == [0.0, 0.0, 0.0, 0.0, 4.0]


# ---------------------------------------------------------------- both simulators, across a month boundary


def _assert_equal_states(fast, reference) -> None:
    for field in dataclasses.fields(fast):
        a, b = getattr(fast, field.name), getattr(reference, field.name)
        assert np.array_equal(np.asarray(a), np.asarray(b)), f"step {fast.step}: {field.name} {a} != {b}"


@pytest.fixture(scope="module")
def stepped(two_months):
    """Both simulators stepped together under seeded random actions (noisy forecasts on): every state,
    feature vector, reward and each step's demand charge of each."""
    settings, folder = two_months
    settings = apply_overrides(settings, {"forecast.kind": "noisy"})
    observer = StationObserver(settings, folder)
    fast, citylearn = make_fast_env(settings, folder), make_station_env(settings, folder)
    fast.reset(), citylearn.reset()
    marginal = MarginalReward(LearningReferences.from_settings(settings))
    rng = np.random.default_rng(5)
    run = {
        "states": [],
        "fast_features": [],
        "citylearn_features": [],
        "fast_reward": [],
        "citylearn_reward": [],
        "fast_demand_pen": [],
        "citylearn_demand_pen": [],
        "import_kwh": [],
        "marginal_demand_pen": [],
    }
    for step in range(observer.steps):
        state, reference = state_from_fast_env(observer, fast), state_from_citylearn(observer, citylearn, step)
        _assert_equal_states(state, reference)
        run["states"].append(state)
        run["fast_features"].append(features(state, settings))
        run["citylearn_features"].append(features(reference, settings))
        action = rng.uniform(fast.action_space.low, fast.action_space.high)
        _, reward, *_ = fast.step(action)
        _, citylearn_reward, *_ = citylearn.step([action.tolist()])
        net_kwh = float(citylearn.buildings[0].net_electricity_consumption[step])
        marginal(state, net_kwh, fast.last_flows.vehicle_soc)
        run["fast_reward"].append(reward), run["citylearn_reward"].append(float(citylearn_reward[0]))
        run["fast_demand_pen"].append(fast.last_demand_charge_pen)
        run["citylearn_demand_pen"].append(citylearn.reward_function.last_demand_charge_pen)
        run["import_kwh"].append(max(net_kwh, 0.0)), run["marginal_demand_pen"].append(marginal.last_demand_charge_pen)
    return (
        settings,
        observer,
        {name: (values if name == "states" else np.array(values)) for name, values in run.items()},
    )


def test_both_simulators_see_the_same_billed_peaks_and_features_across_a_month_boundary(stepped):
    settings, observer, run = stepped
    states = run["states"]
    np.testing.assert_array_equal(run["fast_features"], run["citylearn_features"])
    first_february = next(s.step for s in states if s.month == 2)
    last_january = states[first_february - 1]
    assert last_january.hours_left_in_month == 1 and states[first_february].hours_left_in_month == 28 * 24
    assert last_january.billed_peak_any_kw > 0 and last_january.billed_peak_window_kw > 0
    assert states[first_february].billed_peak_any_kw == 0 == states[first_february].idle_peak_any_kw
    # the state's peaks are those of the imports before the step, in its month
    month = np.array([s.month for s in states])
    window = np.array([s.in_peak_window for s in states])
    imports = run["import_kwh"]
    for step in (first_february - 1, first_february + 30, len(states) - 1):
        same = (month == month[step]) & (np.arange(len(states)) < step)
        assert states[step].billed_peak_any_kw == imports[same].max()
        assert states[step].billed_peak_window_kw == imports[same & window].max()
    # the features stay about [0, 1] (the mall's noise may pass its modelled peak, as in the load feature)
    names = feature_names(settings)
    values = np.array(run["fast_features"])
    for name in (
        "billed_peak_window",
        "billed_peak_any",
        "idle_peak_window",
        "idle_peak_any",
        "hours_left_in_month",
        "hours_to_peak_window",
    ):
        column = values[:, names.index(name)]
        assert 0.0 <= column.min() and column.max() <= 1.3 and column.max() > 0.1, name


def test_both_simulators_charge_each_steps_demand_alike_and_it_adds_up_to_the_bill(stepped):
    settings, observer, run = stepped
    np.testing.assert_allclose(run["fast_reward"], run["citylearn_reward"], rtol=STEP_TOLERANCE, atol=STEP_TOLERANCE)
    np.testing.assert_array_equal(run["fast_demand_pen"], run["citylearn_demand_pen"])
    month, in_peak = observer.clock["month"][: observer.steps], observer.clock["in_window"][: observer.steps]
    billing = BillingTariff.from_settings(settings.tariff)
    parts = billing.bill_parts_pen(run["import_kwh"], np.zeros(observer.steps), month, in_peak)
    expected = monthly_demand_pen(parts, settings)
    charged = by_month(run["citylearn_demand_pen"], month)
    assert set(charged) == {1, 2}
    for m in charged:
        assert charged[m] == pytest.approx(expected[m], rel=1e-12)
    # the learning reward's marginal charges add up to the site's bill less the idle site's
    idle = np.array(
        [baseline_import_kwh(float(load), float(pv)) for load, pv in zip(observer.data.load_kwh, observer.data.pv_kwh)]
    )[: observer.steps]
    idle_expected = monthly_demand_pen(billing.bill_parts_pen(idle, np.zeros(observer.steps), month, in_peak), settings)
    marginal = by_month(run["marginal_demand_pen"], month)
    for m in marginal:
        assert marginal[m] == pytest.approx(expected[m] - idle_expected[m], rel=1e-9, abs=1e-6)
    assert np.abs(run["marginal_demand_pen"]).max() > 0


@pytest.mark.parametrize("mode", ["random", "rule_based"])
def test_fast_twin_agrees_with_citylearn_with_demand_charges_across_a_month_boundary(two_months, mode):
    settings, folder = two_months
    differences = compare(
        run_citylearn(settings, folder, mode, seed=3), run_fast(settings, folder, mode, seed=3), floor=1.0
    )
    assert max(differences.values()) <= STEP_TOLERANCE, {k: v for k, v in differences.items() if v > STEP_TOLERANCE}


# ---------------------------------------------------------------- without demand rates nothing changes


@pytest.fixture(scope="module")
def station_only(tmp_path_factory):
    folder = tmp_path_factory.mktemp("station_only")
    write_params(folder, with_station_only())
    run_cli_in_process("--scenario", "station_only", "build-dataset", cwd=folder)
    return load_settings(folder / "params.yaml", "station_only"), data_dir(folder, "station_only") / "train"


@pytest.mark.parametrize("scenario", ["mall", "station_only"])
def test_without_demand_rates_the_rewards_cost_terms_are_energy_only(scenario, two_months, station_only):
    settings, folder = station_only if scenario == "station_only" else two_months
    settings = apply_overrides(settings, NO_DEMAND)
    env = make_learner_env(settings, folder, window="year")
    references = LearningReferences.from_settings(settings)
    scales = settings.control.learning_scales
    env.reset()
    rng = np.random.default_rng(2)
    done, steps = False, 0
    while not done:
        state = env.state
        _, _, terminated, truncated, info = env.step(rng.uniform(-1, 1, env.action_space.shape))
        done = terminated or truncated
        flows = env.unwrapped.last_flows
        import_kwh = max(flows.net_kwh, 0.0)
        # the reported cost term as before demand charges, bit for bit
        assert info["reward_station_components"]["cost"] == penalty(
            import_kwh * state.tariff_pen_per_kwh, settings.reward.scales.cost_pen
        )
        marginal_import, _ = marginal_flows(flows.net_kwh, state.load_kwh, state.pv_kwh)
        assert (
            info["reward_components"]["cost"]
            == -marginal_import * (state.tariff_pen_per_kwh / references.tariff_pen_per_kwh) / scales.energy_kwh
        )
        steps += 1
    assert steps == settings.simulation.horizon_hours
    # with MT3's rates the same cost terms do change: the check above can fail
    charged = make_learner_env(apply_overrides(settings, MT3), folder, window="year")
    charged.reset()
    state = charged.state
    _, _, _, _, info = charged.step(np.ones(charged.action_space.shape))
    flows = charged.unwrapped.last_flows
    assert info["reward_station_components"]["cost"] < penalty(
        max(flows.net_kwh, 0.0) * state.tariff_pen_per_kwh, settings.reward.scales.cost_pen
    )


def test_a_window_of_the_year_is_billed_from_its_first_step(two_months):
    settings, folder = two_months
    env = make_learner_env(settings, folder, window="validation")
    env.reset()
    start = env.state.step
    assert env.state.month == 2 and env.observer.month_start[start] < start  # starts within February
    assert (env.state.billed_peak_any_kw, env.state.idle_peak_any_kw) == (0.0, 0.0)
    imports, idle = [], []
    for _ in range(30):
        state = env.state
        idle.append(baseline_import_kwh(state.load_kwh, state.pv_kwh))
        env.step(np.zeros(env.action_space.shape))
        imports.append(max(env.unwrapped.last_flows.net_kwh, 0.0))
    assert env.state.billed_peak_any_kw == max(imports) and env.state.idle_peak_any_kw == max(idle)
