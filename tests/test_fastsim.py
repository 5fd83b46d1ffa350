"""The fast simulator against CityLearn 3.0.2 on the small station (8 sockets, one week).

Both simulators run the same episode under seeded random actions, uncontrolled full-power
charging and the rule-based controller (closed loop: each acts on its own observations); every
per-step quantity, observation, reward and KPI must agree. The tolerance is 1e-6 relative with an
absolute floor of 1e-6 for values below 1 (SOCs, small flows): the fast simulator stores SOCs and
flows in float32 where CityLearn does, so in practice the two agree bit for bit (difference 0);
the floor only keeps a comparison of quantities near zero meaningful.
"""

from __future__ import annotations

import functools
import pickle

import numpy as np
import pytest

from conftest import data_dir, run_cli_in_process, write_params
from evstation.config import load_settings
from evstation.control.rules import make_baseline
from evstation.simulation.citylearn_env import CentralAgentEnv, make_station_env
from evstation.simulation.fast_check import (
    MODES,
    compare,
    kpi_differences_pct,
    run_citylearn,
    run_fast,
    trace_kpis,
    trace_timeseries,
)
from evstation.simulation.fast_env import FastStationEnv, make_fast_env, make_fast_training_env
from evstation.simulation.runner import simulate

STEP_TOLERANCE = 1e-6
KPI_TOLERANCE_PCT = 0.01
SOC_LIMIT_TOLERANCE = 1e-6
CONTROL_LAYER_COLUMNS = ("learning_reward", "floor_raised_sockets", "floor_kwh")


@pytest.fixture(scope="module")
def small(built_small):
    folder = data_dir(built_small) / "train"
    settings = load_settings(built_small / "params.yaml")
    return settings, folder


@pytest.fixture(scope="module")
def traces(small):
    settings, folder = small
    return {
        mode: (run_citylearn(settings, folder, mode, seed=7), run_fast(settings, folder, mode, seed=7))
        for mode in MODES
    }


def test_spaces_names_and_episode_length_match_citylearn(small):
    settings, folder = small
    reference = CentralAgentEnv(make_station_env(settings, folder))
    fast = make_fast_env(settings, folder)
    assert fast.observation_names == reference.observation_names
    assert fast.observation_space == reference.observation_space
    assert np.array_equal(fast.observation_space.low, reference.observation_space.low)
    assert np.array_equal(fast.observation_space.high, reference.observation_space.high)
    assert fast.action_space == reference.action_space
    assert fast.steps_per_episode == reference.env.time_steps - 1 == settings.simulation.horizon_hours
    observation, _ = fast.reset()
    assert observation.dtype == np.float32 and observation.shape == fast.observation_space.shape


@pytest.mark.parametrize("mode", MODES)
def test_every_step_agrees(traces, mode):
    reference, fast = traces[mode]
    differences = compare(reference, fast)
    assert differences["steps"] == 0
    too_far = {name: value for name, value in differences.items() if not value <= STEP_TOLERANCE}
    assert not too_far, f"{mode}: {too_far}"
    # the quantities the brief names, checked directly as well
    np.testing.assert_allclose(fast.import_kwh, reference.import_kwh, rtol=STEP_TOLERANCE, atol=STEP_TOLERANCE)
    np.testing.assert_allclose(
        fast.array("battery_soc"), reference.array("battery_soc"), rtol=STEP_TOLERANCE, atol=STEP_TOLERANCE
    )
    np.testing.assert_allclose(
        fast.array("vehicle_soc"), reference.array("vehicle_soc"), rtol=STEP_TOLERANCE, atol=STEP_TOLERANCE
    )
    np.testing.assert_allclose(
        np.stack(fast.observations), np.stack(reference.observations), rtol=STEP_TOLERANCE, atol=STEP_TOLERANCE
    )
    np.testing.assert_allclose(fast.rewards, reference.rewards, rtol=STEP_TOLERANCE, atol=STEP_TOLERANCE)


@pytest.mark.parametrize("mode", MODES)
def test_kpis_agree(traces, small, mode):
    settings, folder = small
    reference, fast = traces[mode]
    chargers = make_fast_env(settings, folder).charger_ids
    differences = kpi_differences_pct(
        trace_kpis(reference, settings, folder, chargers, f"citylearn/{mode}"),
        trace_kpis(fast, settings, folder, chargers, f"fast/{mode}"),
    )
    assert max(differences.values()) <= KPI_TOLERANCE_PCT, {
        k: v for k, v in differences.items() if v > KPI_TOLERANCE_PCT
    }


def test_random_run_exercises_what_is_compared(traces, small):
    """The comparison means something: random control reaches both battery SOC limits, vehicles
    are charged and some leave short of their requirement, and back-to-back sessions occur."""
    settings, _ = small
    reference, _ = traces["random"]
    soc = reference.array("battery_soc")
    assert soc.min() == pytest.approx(settings.battery.min_soc_pct / 100, abs=SOC_LIMIT_TOLERANCE)
    assert soc.max() == pytest.approx(1.0, abs=SOC_LIMIT_TOLERANCE)
    assert reference.array("charger_kwh").sum() > 0
    assert min(c["ev_satisfaction"] for c in reference.components) < 0


def test_back_to_back_sessions_are_in_the_small_dataset(small):
    fast = make_fast_env(*small)
    sessions = fast.data.sessions
    back_to_back = sessions.new_session[1:] & sessions.connected[:-1]
    assert back_to_back.any()


def test_trace_timeseries_is_what_simulate_records(traces, small):
    """The KPI comparison uses the same columns as the production runner."""
    settings, folder = small
    reference, _ = traces["rule_based"]
    chargers = make_fast_env(settings, folder).charger_ids
    from_trace = trace_timeseries(reference, settings, folder, chargers)
    recorded = simulate(settings, folder, make_baseline("rule_based", settings), progress=False)
    # the control layer's columns (learning reward, the floor's work) are not in a trace: tests/test_station_env.py
    recorded = recorded.drop(columns=list(CONTROL_LAYER_COLUMNS))
    assert list(from_trace.columns) == list(recorded.columns)
    for column in recorded.columns:
        if column == "timestamp":
            assert (from_trace[column] == recorded[column]).all()
        else:
            np.testing.assert_allclose(
                from_trace[column].to_numpy(float), recorded[column].to_numpy(float), rtol=0, atol=0, err_msg=column
            )


def test_training_factory_builds_in_a_subprocess_and_scales_the_reward(small):
    settings, folder = small
    build = functools.partial(make_fast_training_env, settings.as_dict(), str(folder), 0.1)
    env = pickle.loads(pickle.dumps(build))()
    assert isinstance(env, FastStationEnv)
    env.reset()
    _, reward, terminated, truncated, info = env.step(env.action_space.high)
    assert reward == pytest.approx(0.1 * info["reward_unscaled"])
    assert set(info["reward_components"]) == set(settings.reward.weights)
    assert not terminated and not truncated


def test_a_second_episode_repeats_the_first(small):
    settings, folder = small
    env = make_fast_env(settings, folder)
    first = run_fast(settings, folder, "random", seed=3, env=env)
    second = run_fast(settings, folder, "random", seed=3, env=env)
    assert max(compare(first, second).values()) == 0


@pytest.fixture(scope="module")
def lossy_station(tmp_path_factory):
    """The small station with battery standby loss and capacity fade switched on."""
    folder = tmp_path_factory.mktemp("lossy_station")
    write_params(folder, {"battery.standby_loss_pct_per_step": 0.5, "battery.capacity_fade_pct_per_cycle": 0.01})
    run_cli_in_process("build-dataset", "--split", "train", cwd=folder)
    return load_settings(folder / "params.yaml"), data_dir(folder) / "train"


def test_battery_standby_loss_and_degradation_agree(lossy_station):
    settings, folder = lossy_station
    reference, fast = run_citylearn(settings, folder, "random", seed=11), run_fast(settings, folder, "random", seed=11)
    differences = compare(reference, fast)
    assert max(differences.values()) <= STEP_TOLERANCE, differences
