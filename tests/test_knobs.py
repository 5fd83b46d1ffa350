"""The knob problem (control/knobs.py): zero knobs are the tuned threshold rule exactly, and whatever the
knobs, no step imports above the month's billed peak, the knobs' cap or the rule's import unless the
feasibility floor forces it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import data_dir
from evstation.config import ConfigError, apply_overrides
from evstation.control.floor import HOURS_PER_STEP, battery_limits, floor_fraction
from evstation.control.knobs import KNOB_NAMES, knob_rule
from evstation.control.peak_guard import import_kwh
from evstation.control.peak_shaving import make_rule
from evstation.problem.actions import ActionPipeline
from evstation.simulation.fast_check import simulate_fast
from evstation.simulation.fast_env import make_fast_env
from evstation.simulation.observer import StationObserver, state_from_fast_env
from test_actions import _settings

THRESHOLD_KW = 300.0  # the small station's mall less PV peaks at ~520 kW: a threshold the rule works at
RECHARGE_SOC_PCT = 60.0
TUNED = {"threshold_kw": THRESHOLD_KW, "recharge_soc_pct": RECHARGE_SOC_PCT}


def _knob_settings(**control):
    return _settings(residual="peak_shaving", residual_tuning=TUNED, **control)


def test_zero_knobs_are_the_tuned_rule_over_a_week(built_small):
    settings = _knob_settings()
    folder = data_dir(built_small) / "train"
    rule = simulate_fast(settings, folder, make_rule(settings, THRESHOLD_KW, RECHARGE_SOC_PCT))
    knobs = simulate_fast(settings, folder, knob_rule(settings))
    assert rule["import_kwh"].max() > THRESHOLD_KW  # the rule is at work, not idle
    pd.testing.assert_frame_equal(knobs, rule)


def _floor_import_kwh(state) -> float:
    """The least a step can import: the battery discharging all it can, every vehicle at its floor."""
    return import_kwh(state, battery_limits(state)[0], floor_fraction(state))


def test_no_knobs_raise_import_above_the_cap_unless_the_floor_forces_it(built_small):
    settings = _knob_settings()
    folder = data_dir(built_small) / "train"
    env = make_fast_env(settings, folder)
    observer = StationObserver(settings, folder, data=env.data)
    rule, tuned = knob_rule(settings), knob_rule(settings)
    rng = np.random.default_rng(0)
    env.reset()
    bound_steps = 0
    for _ in range(env.steps_per_episode):
        state = state_from_fast_env(observer, env)
        knobs = rng.uniform(-1.0, 1.0, len(KNOB_NAMES))
        action = rule.act_with(knobs, state)
        zero = tuned.act_with(np.zeros(len(KNOB_NAMES)), state)
        cap = rule.cap_kwh(state, import_kwh(state, zero[0], zero[1:]))
        imported = import_kwh(state, action[0], action[1:])
        assert np.all(action[1:] >= floor_fraction(state) - 1e-12)  # the floor is always served
        assert imported <= max(cap, _floor_import_kwh(state)) + 1e-6
        _, _, done, _, _ = env.step(action)
        # the simulator imports what the layer predicted (the battery within its window, vehicles as asked)
        assert max(env.last_flows.net_kwh, 0.0) == pytest.approx(imported, abs=1e-3)
        bound_steps += imported > state.billed_peak_any_kw * HOURS_PER_STEP
        if done:
            break
    assert bound_steps > 0  # some steps set a new peak: the property was tested where it matters


def test_knobs_in_the_action_pipeline_are_the_rule_at_zero(built_small):
    settings = _knob_settings(action_space="knobs")
    pipeline = ActionPipeline(settings)
    assert pipeline.policy_action_space.shape == (len(KNOB_NAMES),)
    folder = data_dir(built_small) / "train"
    env = make_fast_env(settings, folder)
    observer = StationObserver(settings, folder, data=env.data)
    rule = make_rule(settings, THRESHOLD_KW, RECHARGE_SOC_PCT)
    env.reset()
    for _ in range(48):
        state = state_from_fast_env(observer, env)
        action, _ = pipeline.to_citylearn(np.zeros(len(KNOB_NAMES)), state)
        np.testing.assert_array_equal(action, rule.act({}, state.step, state))
        env.step(action)


def test_knobs_need_the_tuned_threshold_rule():
    with pytest.raises(ConfigError, match="action_space: knobs move the tuned threshold rule"):
        _settings(residual="least_laxity", action_space="knobs")


@pytest.mark.parametrize(
    "key, value, said",
    [
        ("knobs.window_cap_span_pct", 150.0, "knobs.window_cap_span_pct: must be < 100, got 150.0"),
        ("agents.es.population", 1, "agents.es.population: must be >= 2, got 1"),
        ("agents.es.sigma0", 0.0, "agents.es.sigma0: must be > 0, got 0.0"),
    ],
)
def test_bad_knob_and_es_params_are_refused_in_one_line(key, value, said):
    with pytest.raises(ConfigError) as refused:
        apply_overrides(_settings(), {key: value})
    assert str(refused.value) == said
