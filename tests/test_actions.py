"""The action pipeline: affine map, the two interfaces, the aggregated decode and the layer's stats."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import PARAMS, SMALL
from evstation.config import apply_overrides, load_settings
from evstation.control.floor import battery_limits, floor_fraction, room_fraction
from evstation.problem.actions import ActionPipeline, LayerStats
from test_floor import station_state


def _settings(**control):
    """The small station (6 motos, 2 mototaxis) with `control.<key>` overrides; the policy acts alone
    (no residual) unless a test asks for one."""
    control = {"residual": "none", **control}
    return apply_overrides(load_settings(PARAMS), {**SMALL, **{f"control.{k}": v for k, v in control.items()}})


def _state(**overrides):
    """A hand-made state of the small station's 8 sockets: 6 motos, 2 mototaxis, all connected."""
    power_kw = np.array([2.0] * 6 + [3.0] * 2)
    fields = dict(
        socket_group=np.array([0] * 6 + [1] * 2),
        connected=np.ones(8, dtype=bool),
        vehicle_soc=np.full(8, 0.2),
        required_soc=np.full(8, 0.9),
        vehicle_capacity_kwh=np.array([2.5] * 6 + [4.5] * 2),
        steps_left=np.array([1, 2, 3, 4, 5, 6, 2, 6]),
        socket_power_kw=power_kw,
        kwh_per_step_at_full_power=power_kw * 0.95,
    )
    fields.update(overrides)
    return station_state(**fields)


def test_policy_spaces_per_interface_and_action_space():
    assert ActionPipeline(_settings()).policy_action_space.shape == (3,)  # battery + moto + mototaxi
    space = ActionPipeline(_settings()).policy_action_space
    assert (space.low == -1).all() and (space.high == 1).all()
    space = ActionPipeline(_settings(action_interface="citylearn", action_space="per_socket")).policy_action_space
    assert space.shape == (9,) and space.low[0] == -1 and (space.low[1:] == 0).all() and (space.high == 1).all()
    only_motos = apply_overrides(_settings(), {"sockets.mototaxi.count": 0})
    assert ActionPipeline(only_motos).policy_action_space.shape == (2,)  # groups present only


def test_affine_map_sends_minus_one_and_one_to_citylearns_bounds():
    pipeline = ActionPipeline(_settings(action_space="per_socket", feasibility_floor=False))
    state = _state()
    low, _ = pipeline.to_citylearn(-np.ones(9), state)
    high, _ = pipeline.to_citylearn(np.ones(9), state)
    middle, _ = pipeline.to_citylearn(np.zeros(9), state)
    np.testing.assert_array_equal(low, [-1.0] + [0.0] * 8)
    np.testing.assert_array_equal(high, np.ones(9))
    np.testing.assert_array_equal(middle, [0.0] + [0.5] * 8)  # a Gaussian's centre: half power, battery idle
    outside, _ = pipeline.to_citylearn(np.full(9, 3.0), state)  # samples outside are clipped
    np.testing.assert_array_equal(outside, np.ones(9))


def test_citylearn_interface_passes_its_box_through():
    pipeline = ActionPipeline(
        _settings(action_interface="citylearn", action_space="per_socket", feasibility_floor=False)
    )
    action = np.array([-0.3, 0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 1.0])
    result, _ = pipeline.to_citylearn(action, _state())
    np.testing.assert_array_equal(result, action)
    result, _ = pipeline.to_citylearn(np.full(9, -0.5), _state())
    np.testing.assert_array_equal(result, [-0.5] + [0.0] * 8)


def test_aggregated_zero_gives_exactly_the_floor_and_one_fills_every_vehicle():
    pipeline = ActionPipeline(_settings())
    state = _state(vehicle_soc=np.array([0.2, 0.5, 0.85, 0.2, 0.2, 0.2, 0.3, 0.99]))
    floor = floor_fraction(state)
    assert floor.any()
    nothing, stats = pipeline.to_citylearn(np.array([0.0, -1.0, -1.0]), state)
    np.testing.assert_array_equal(nothing[1:], floor)
    assert stats.sockets_raised == int((floor > 0).sum())
    assert stats.floor_added_kwh == pytest.approx(float((floor * state.socket_power_kw).sum()))
    everything, stats = pipeline.to_citylearn(np.array([0.0, 1.0, 1.0]), state)
    np.testing.assert_allclose(everything[1:], room_fraction(state))
    assert stats.sockets_raised == 0 and stats.floor_added_kwh == pytest.approx(0.0)


def test_aggregated_half_hands_half_the_headroom_least_laxity_first():
    pipeline = ActionPipeline(_settings(feasibility_floor=False))
    state = _state()
    action, _ = pipeline.to_citylearn(np.array([0.0, 0.0, 0.0]), state)  # symmetric 0: half of each group
    motos = action[1:7]
    assert motos.sum() * 2.0 == pytest.approx(0.5 * 6 * 2.0)
    np.testing.assert_allclose(motos, [1, 1, 1, 0, 0, 0])  # least laxity (soonest to leave) first


def test_the_floor_raises_a_per_socket_policy_and_says_so():
    pipeline = ActionPipeline(_settings(action_space="per_socket"))
    state = _state()
    action, stats = pipeline.to_citylearn(-np.ones(9), state)
    floor = floor_fraction(state)
    np.testing.assert_array_equal(action[1:], floor)
    assert stats == LayerStats(
        int((floor > 0).sum()), pytest.approx(float((floor * state.socket_power_kw).sum())), True
    )
    low, high = battery_limits(state)
    assert action[0] == low > -1.0  # the battery cut to its window
    asked_more, stats = pipeline.to_citylearn(np.ones(9), state)
    assert high < 1.0 and asked_more[0] == high
    assert stats.sockets_raised == 0 and stats.floor_added_kwh == 0.0 and stats.battery_cut
    np.testing.assert_array_equal(asked_more[1:], np.ones(8))


def test_a_wrong_action_size_or_station_is_refused():
    pipeline = ActionPipeline(_settings())
    with pytest.raises(ValueError, match="expects 3"):
        pipeline.to_citylearn(np.zeros(9), _state())
    with pytest.raises(ValueError, match="not those of the settings"):
        pipeline.to_citylearn(np.zeros(3), station_state())


def test_full_size_gives_citylearn_129_actions():
    """At the full station's 128 sockets (per-socket and aggregated alike) CityLearn gets 1 + 128 actions."""
    settings = apply_overrides(
        load_settings(PARAMS), {"simulation.horizon_hours": 24, "control.model_selection.validation_days": 0}
    )
    sockets = settings.sockets.total
    assert sockets == 128
    groups = np.array([0] * 112 + [1] * 16)
    power_kw = np.where(groups == 0, 2.0, 3.0)
    state = station_state(
        socket_group=groups,
        connected=np.arange(128) % 3 == 0,
        vehicle_soc=np.full(128, 0.3),
        required_soc=np.full(128, 0.9),
        vehicle_capacity_kwh=np.where(groups == 0, 2.5, 4.5),
        steps_left=np.arange(128) % 7 + 1,
        socket_power_kw=power_kw,
        kwh_per_step_at_full_power=power_kw * 0.95,
    )
    for space in ("aggregated", "per_socket"):
        pipeline = ActionPipeline(apply_overrides(settings, {"control.action_space": space}))
        action, _ = pipeline.to_citylearn(pipeline.policy_action_space.sample(), state)
        assert action.shape == (129,)
        if space == "aggregated":
            assert (action[1:][~state.connected] == 0).all()


@pytest.mark.parametrize("space", ["aggregated", "per_socket"])
def test_residual_zero_action_is_the_least_laxity_rule(space):
    from evstation.control.rules import LeastLaxity

    pipeline = ActionPipeline(_settings(residual="least_laxity", action_space=space))
    size = pipeline.policy_action_space.shape[0]
    for state in (_state(), _state(pv_kwh=9.0, load_kwh=2.0), _state(pv_kwh=0.0, load_kwh=50.0, battery_soc=0.8)):
        rule = LeastLaxity().act({}, state.step, state)
        action, _ = pipeline.to_citylearn(np.zeros(size), state)
        np.testing.assert_allclose(action, rule, atol=1e-12)


@pytest.mark.parametrize("space", ["aggregated", "per_socket"])
def test_residual_changes_reach_the_floor_and_full_vehicles(space):
    pipeline = ActionPipeline(_settings(residual="least_laxity", action_space=space))
    size = pipeline.policy_action_space.shape[0]
    state = _state(pv_kwh=6.0, load_kwh=2.0)  # some surplus: the rule charges above the floor
    lowest, _ = pipeline.to_citylearn(-np.ones(size), state)
    highest, _ = pipeline.to_citylearn(np.ones(size), state)
    np.testing.assert_allclose(lowest[1:], floor_fraction(state), atol=1e-12)
    np.testing.assert_allclose(np.minimum(highest[1:], room_fraction(state)), room_fraction(state), atol=1e-12)
    low, high = battery_limits(state)
    assert lowest[0] == pytest.approx(max(low, -1.0)) and highest[0] == pytest.approx(min(high, 1.0))


def test_residual_needs_the_symmetric_interface():
    from evstation.errors import ConfigError

    with pytest.raises(ConfigError, match="control.residual"):
        _settings(residual="least_laxity", action_interface="citylearn")


TUNED = {"threshold_kw": 20.0, "recharge_soc_pct": 60.0}


@pytest.mark.parametrize("space", ["aggregated", "per_socket"])
def test_residual_zero_action_is_the_tuned_peak_shaving_rule(space):
    from evstation.control.rules import PeakShaving, StationSpec

    settings = _settings(residual="peak_shaving", residual_tuning=TUNED, action_space=space)
    pipeline = ActionPipeline(settings)
    rule = PeakShaving(StationSpec.from_settings(settings), TUNED["threshold_kw"], TUNED["recharge_soc_pct"] / 100)
    size = pipeline.policy_action_space.shape[0]
    states = (
        _state(hour=19, pv_kwh=0.0, load_kwh=30.0),  # over the threshold in the peak
        _state(hour=19, pv_kwh=0.0, load_kwh=30.0, billed_peak_window_kw=60.0),  # under the month's peak
        _state(hour=4, pv_kwh=0.0, load_kwh=5.0, battery_soc=0.3),  # refills off-peak
        _state(hour=12, pv_kwh=50.0, load_kwh=5.0),
    )  # stores surplus
    discharging = 0
    for state in states:
        expected = rule.act({}, state.step, state)
        action, _ = pipeline.to_citylearn(np.zeros(size), state)
        np.testing.assert_allclose(action, expected, atol=1e-12)
        discharging += expected[0] < 0
    assert discharging == 1  # the states tell the rule's cases apart


def test_a_peak_shaving_residual_needs_its_tuned_rule():
    with pytest.raises(ValueError, match="control.residual peak_shaving: the tuned rule is not set"):
        ActionPipeline(_settings(residual="peak_shaving"))
