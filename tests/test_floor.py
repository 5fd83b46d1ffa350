"""The feasibility floor and least-laxity-first allocation, on hand-made station states, and the
floor's promise on the fast simulator: a vehicle that can still make it always does."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from conftest import data_dir
from evstation.config import apply_overrides, load_settings
from evstation.control.allocation import headroom_kwh_by_group, least_laxity_first, least_laxity_order
from evstation.control.floor import battery_limits, energy_needed_kwh, floor_fraction, laxity_steps, room_fraction
from evstation.control.station import StationState
from evstation.problem.actions import ActionPipeline
from evstation.simulation.fast_env import make_fast_env
from evstation.simulation.observer import StationObserver, state_from_fast_env

CHARGER_EFFICIENCY = 0.95


def station_state(**overrides) -> StationState:
    """Four sockets: three motos (2 kW, 2.5 kWh) and one mototaxi (3 kW, 4.5 kWh), all connected."""
    power_kw = np.array([2.0, 2.0, 2.0, 3.0])
    fields = dict(
        step=10,
        hour=10,
        weekday=2,
        load_kwh=300.0,
        pv_kwh=500.0,
        tariff_pen_per_kwh=0.3,
        emission_factor_kg_per_kwh=0.45,
        load_forecast_kwh=np.zeros(3),
        pv_forecast_kwh=np.zeros(3),
        battery_soc=0.5,
        battery_capacity_kwh=4520.0,
        battery_power_kw=2712.0,
        battery_min_soc=0.2,
        battery_root_efficiency=0.9**0.5,
        socket_group=np.array([0, 0, 0, 1]),
        connected=np.ones(4, dtype=bool),
        vehicle_soc=np.array([0.2, 0.2, 0.2, 0.25]),
        required_soc=np.array([0.9, 0.9, 0.9, 0.85]),
        vehicle_capacity_kwh=np.array([2.5, 2.5, 2.5, 4.5]),
        steps_left=np.array([1, 2, 5, 2]),
        socket_power_kw=power_kw,
        kwh_per_step_at_full_power=power_kw * CHARGER_EFFICIENCY,
    )
    fields.update(overrides)
    return StationState(**fields)


# ---------------------------------------------------------------- floor


def test_energy_needed_is_the_gap_to_the_required_soc_and_nothing_at_empty_or_charged_sockets():
    state = station_state(connected=np.array([True, True, False, True]), vehicle_soc=np.array([0.2, 0.95, 0.2, 0.25]))
    np.testing.assert_allclose(energy_needed_kwh(state), [1.75, 0.0, 0.0, 0.6 * 4.5])


def test_laxity_is_steps_left_less_steps_needed_at_rated_power():
    state = station_state()
    np.testing.assert_allclose(laxity_steps(state), [1 - 1.75 / 1.9, 2 - 1.75 / 1.9, 5 - 1.75 / 1.9, 2 - 2.7 / 2.85])


def test_floor_is_what_cannot_wait_and_full_power_where_the_vehicle_cannot_make_it():
    state = station_state(
        vehicle_soc=np.array([0.2, 0.2, 0.2, 0.0]),
        required_soc=np.array([0.9, 0.9, 0.9, 0.85]),
        steps_left=np.array([1, 2, 5, 1]),
    )
    floor = floor_fraction(state)
    assert floor[0] == pytest.approx(1.75 / 1.9)  # the last step: all of it now
    assert floor[1] == 0.0 and floor[2] == 0.0  # time enough to wait
    assert floor[3] == 1.0  # 3.825 kWh in one 2.85 kWh step: best effort


def test_charging_only_the_floor_every_step_reaches_the_required_soc_exactly():
    """The floor's promise by hand: a vehicle with less than a step of slack, charged only at its floor."""
    soc, steps_left = 0.2, 3
    for _ in range(3):
        state = station_state(vehicle_soc=np.array([soc, 0.9, 0.9, 0.85]), steps_left=np.array([steps_left, 1, 1, 1]))
        soc += floor_fraction(state)[0] * 1.9 / 2.5
        steps_left -= 1
    assert soc == pytest.approx(0.9, abs=1e-12)


def test_battery_limits_are_its_soc_window_and_power():
    root = 0.9**0.5
    low, high = battery_limits(station_state(battery_soc=0.5))  # 1,356 kWh above 20 %, 2,260 kWh of room
    assert low == pytest.approx(-0.3 * 4520 * root / 2712) and high == pytest.approx(0.5 * 4520 / root / 2712)
    assert battery_limits(station_state(battery_soc=0.5, battery_capacity_kwh=20000.0)) == (-1.0, 1.0)
    low, high = battery_limits(station_state(battery_soc=0.2))
    assert low == 0.0 and high == 1.0
    low, high = battery_limits(station_state(battery_soc=1.0))
    assert low == -1.0 and high == 0.0
    low, high = battery_limits(station_state(battery_soc=0.25))  # 226 kWh above the window's floor
    assert low == pytest.approx(-0.05 * 4520 * 0.9**0.5 / 2712)
    low, high = battery_limits(station_state(battery_soc=0.9))  # 452 kWh of room
    assert high == pytest.approx(0.1 * 4520 / 0.9**0.5 / 2712)


# ---------------------------------------------------------------- least laxity first


def test_order_is_least_laxity_first_connected_only():
    state = station_state(connected=np.array([True, True, False, True]))
    assert list(least_laxity_order(state)) == [0, 3, 1]


def test_extra_energy_goes_least_laxity_first_inside_a_group():
    state = station_state(steps_left=np.array([3, 2, 5, 2]))  # no floor anywhere
    floor = floor_fraction(state)
    assert not floor.any()
    fractions = least_laxity_first(state, floor, [3.0, 0.0])
    # moto 1 (laxity 1.08) takes a full step (its 2 kWh of room exceed a step), moto 0 (laxity 2.08)
    # the remaining 1 kWh, moto 2 (laxity 4.08) and the mototaxi (another group) nothing
    np.testing.assert_allclose(fractions, [0.5, 1.0, 0.0, 0.0])


def test_fraction_zero_is_the_floor_and_all_headroom_is_every_vehicle_full():
    state = station_state(vehicle_soc=np.array([0.2, 0.8, 0.2, 0.25]))
    floor = floor_fraction(state)
    np.testing.assert_array_equal(least_laxity_first(state, floor, [0.0, 0.0]), floor)
    fractions = least_laxity_first(state, floor, headroom_kwh_by_group(state, floor))
    np.testing.assert_allclose(fractions, room_fraction(state))
    assert fractions[1] == pytest.approx(0.5 / 1.9)  # nearly full: only its room
    assert fractions[3] == 1.0


def test_groups_do_not_share_energy_and_empty_sockets_get_none():
    state = station_state(connected=np.array([True, False, True, True]), steps_left=np.array([4, 0, 5, 4]))
    fractions = least_laxity_first(state, floor_fraction(state), [100.0, 0.0])
    assert fractions[1] == 0.0 and fractions[3] == 0.0
    assert fractions[0] > 0 and fractions[2] > 0


# ---------------------------------------------------------------- the promise on the simulator


@pytest.fixture(scope="module")
def small(built_small):
    settings = load_settings(built_small / "params.yaml")
    return settings, data_dir(built_small) / "train"


def _policies(size: int):
    rng = np.random.default_rng(5)
    return {
        "nothing": lambda step: -np.ones(size),  # sockets and battery at their lowest
        "random": lambda step: rng.uniform(-1, 1, size),
        "flip": lambda step: np.full(size, 1.0 if step % 2 else -1.0),  # full one hour, nothing the next
    }


@pytest.mark.parametrize("action_space", ["per_socket", "aggregated"])
def test_a_vehicle_that_can_still_make_it_always_does(small, action_space):
    settings, folder = small
    settings = apply_overrides(settings, {"control.action_space": action_space, "control.feasibility_floor": True})
    observer, pipeline = StationObserver(settings, folder), ActionPipeline(settings)
    env = make_fast_env(settings, folder)
    sessions = observer.data.sessions
    tolerance = settings.validation.soc_tolerance_pct / 100
    for name, policy in _policies(pipeline.policy_action_space.shape[0]).items():
        env.reset()
        feasible = np.zeros(observer.data.sessions.connected.shape[1], dtype=bool)
        served = departed = raised = 0
        for step in range(observer.steps):
            state = state_from_fast_env(observer, env)
            arriving = sessions.new_session[step]
            feasible = np.where(arriving, laxity_steps(state) >= 0, feasible)
            action, stats = pipeline.to_citylearn(policy(step), state)
            raised += stats.sockets_raised
            env.step(action)
            leaving = sessions.leaving[step] & feasible
            departed += int(leaving.sum())
            served += int((env.vehicle_soc[leaving] >= sessions.required_soc[step][leaving] - tolerance).sum())
        assert departed > 100, name
        assert served == departed, f"{name}: {departed - served} of {departed} feasible sessions left short"
        if name == "nothing":
            assert raised > 0


def test_without_the_floor_a_policy_that_asks_nothing_serves_nobody(small):
    """The property above can fail: switched off, the same adversary leaves every vehicle short."""
    settings, folder = small
    settings = apply_overrides(settings, {"control.feasibility_floor": False})
    observer, pipeline = StationObserver(settings, folder), ActionPipeline(settings)
    env = make_fast_env(settings, folder)
    env.reset()
    sessions, short = observer.data.sessions, 0
    for step in range(observer.steps):
        action, stats = pipeline.to_citylearn(
            -np.ones(pipeline.policy_action_space.shape[0]), state_from_fast_env(observer, env)
        )
        assert stats == dataclasses.replace(stats, sockets_raised=0, floor_added_kwh=0.0, battery_cut=False)
        env.step(action)
        leaving = sessions.leaving[step]
        short += int((env.vehicle_soc[leaving] < sessions.required_soc[step][leaving] - 0.02).sum())
    assert short > 100
