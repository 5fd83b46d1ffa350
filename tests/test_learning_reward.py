"""The learning reward: the station's marginal effect, its references, its dense EV term."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import PARAMS, data_dir
from evstation.config import apply_overrides, load_settings
from evstation.control.station import StationState
from evstation.problem.learning_reward import (
    LearningReferences,
    MarginalReward,
    energy_behind_kwh,
    learning_components,
    marginal_demand_charge_pen,
    marginal_flows,
    weighted,
)
from evstation.simulation.fast_env import make_fast_env

SETTINGS = load_settings(PARAMS)
REFERENCES = LearningReferences.from_settings(SETTINGS)
LINEAR_TERMS = ("co2", "cost", "solar")


def hand_state(**overrides) -> StationState:
    """Two sockets: a moto with 3 steps left and one empty socket."""
    values = dict(
        step=0,
        hour=12,
        weekday=2,
        load_kwh=1000.0,
        pv_kwh=400.0,
        tariff_pen_per_kwh=0.28,
        emission_factor_kg_per_kwh=0.4521,
        load_forecast_kwh=np.zeros(3),
        pv_forecast_kwh=np.zeros(3),
        battery_soc=0.5,
        battery_capacity_kwh=4520.0,
        battery_power_kw=2712.0,
        battery_min_soc=0.2,
        battery_root_efficiency=0.9**0.5,
        socket_group=np.array([0, 0]),
        connected=np.array([True, False]),
        vehicle_soc=np.array([0.2, 0.0]),
        required_soc=np.array([0.9, 0.0]),
        vehicle_capacity_kwh=np.array([2.5, 2.5]),
        steps_left=np.array([3, 0]),
        socket_power_kw=np.array([2.0, 2.0]),
        kwh_per_step_at_full_power=np.array([0.5, 0.5]),
    )
    values.update(overrides)
    return StationState(**values)


def shift_reward(references: LearningReferences) -> float:
    """Weighted co2 + cost of 1 kWh charged from the grid off-peak and 0.9 kWh discharged at the peak."""
    tariff, ef = SETTINGS.tariff, SETTINGS.emissions.grid_kg_per_kwh
    efficiency = SETTINGS.battery.round_trip_efficiency_pct / 100
    total = 0.0
    for marginal_import, price in ((1.0, tariff.offpeak_pen_per_kwh), (-efficiency, tariff.peak_pen_per_kwh)):
        components = learning_components(marginal_import, 0.0, ef, price, 0.0, marginal_import, references)
        total += sum(references.weights[name] * components[name] for name in ("co2", "cost"))
    return total


def test_grid_to_battery_shifting_does_not_pay_with_the_peak_reference():
    assert shift_reward(REFERENCES) == pytest.approx(-0.0083 / SETTINGS.control.learning_scales.energy_kwh, rel=0.01)
    off_peak = LearningReferences(
        REFERENCES.ef_kg_per_kwh, SETTINGS.tariff.offpeak_pen_per_kwh, REFERENCES.scales, REFERENCES.weights
    )
    assert shift_reward(off_peak) > 0  # the reason the reference is the peak tariff


def test_storing_pv_surplus_pays():
    """1 kWh stored instead of curtailed, 0.9 kWh later displacing import off-peak."""
    store = learning_components(0.0, -1.0, 0.4521, 0.28, 0.0, 0.0, REFERENCES)
    release = learning_components(-0.9, 0.0, 0.4521, 0.28, 0.0, 0.0, REFERENCES)
    assert weighted(store, REFERENCES.weights) > 0 and weighted(release, REFERENCES.weights) > 0


def test_marginal_flows_are_signed_and_relative_to_the_idle_site():
    assert marginal_flows(net_kwh=700.0, load_kwh=1000.0, pv_kwh=400.0) == (100.0, 0.0)
    assert marginal_flows(net_kwh=-50.0, load_kwh=1000.0, pv_kwh=400.0) == (-600.0, 50.0)  # battery covers the mall
    assert marginal_flows(net_kwh=-100.0, load_kwh=400.0, pv_kwh=1000.0) == (0.0, -500.0)  # PV stored


def test_energy_behind_counts_only_what_rated_power_can_no_longer_deliver():
    state = hand_state()  # needs 0.7 * 2.5 = 1.75 kWh, 3 steps of 0.5 kWh
    assert energy_behind_kwh(state, np.array([0.2, np.nan])) == pytest.approx(1.75 - 2 * 0.5)
    assert energy_behind_kwh(state, np.array([0.6, np.nan])) == 0.0
    leaving = hand_state(steps_left=np.array([1, 0]))
    assert energy_behind_kwh(leaving, np.array([0.5, np.nan])) == pytest.approx(0.4 * 2.5)  # what it leaves without
    assert energy_behind_kwh(hand_state(connected=np.array([False, False])), np.array([np.nan, np.nan])) == 0.0


def test_ramp_is_zero_on_the_first_step_then_follows_the_marginal_import():
    reward = MarginalReward(REFERENCES)
    state = hand_state()
    _, first = reward(state, 700.0, np.array([0.4, np.nan]))
    _, second = reward(state, 1700.0, np.array([0.6, np.nan]))
    assert first["grid_stability"] == 0.0
    assert second["grid_stability"] == pytest.approx(-1000.0 / SETTINGS.control.learning_scales.ramp_kwh)
    saved = reward.snapshot()
    reward.reset()
    reward.restore(saved)
    _, third = reward(state, 1700.0, np.array([0.8, np.nan]))
    assert third["grid_stability"] == 0.0


def test_the_demand_charge_is_marginal_over_the_idle_sites_rise():
    mt3 = LearningReferences.from_settings(
        apply_overrides(
            SETTINGS,
            {"tariff.demand.generation_pen_per_kw_month": 56.09, "tariff.demand.distribution_pen_per_kw_month": 16.40},
        )
    )
    # the idle site imports 600 kWh (1000 load - 400 PV); month-to-date peaks 650 (site) and 550 (idle), at any hour
    state = hand_state(
        billed_peak_any_kw=650.0, idle_peak_any_kw=550.0, billed_peak_window_kw=0.0, idle_peak_window_kw=0.0
    )
    assert marginal_demand_charge_pen(state, 700.0, mt3.billing) == pytest.approx(16.40 * (50.0 - 50.0))
    assert marginal_demand_charge_pen(state, 800.0, mt3.billing) == pytest.approx(16.40 * (150.0 - 50.0))
    # the battery keeps the site below the idle site's rise: a gain
    assert marginal_demand_charge_pen(state, 500.0, mt3.billing) == pytest.approx(-16.40 * 50.0)
    evening = hand_state(in_peak_window=True, billed_peak_any_kw=650.0, idle_peak_any_kw=550.0)
    assert marginal_demand_charge_pen(evening, 800.0, mt3.billing) == pytest.approx(
        16.40 * 100.0 + 56.09 * (800.0 - 600.0)
    )
    # in reference kWh at the peak tariff, in the cost term only
    _, charged = MarginalReward(mt3)(state, 800.0, np.array([0.4, np.nan]))
    _, plain = MarginalReward(REFERENCES)(state, 800.0, np.array([0.4, np.nan]))
    scale = REFERENCES.tariff_pen_per_kwh * SETTINGS.control.learning_scales.energy_kwh
    assert charged["cost"] == pytest.approx(plain["cost"] - 16.40 * 100.0 / scale)
    assert {k: v for k, v in charged.items() if k != "cost"} == {k: v for k, v in plain.items() if k != "cost"}
    assert marginal_demand_charge_pen(state, 800.0, REFERENCES.billing) == 0.0


def run_schedule(env, battery_action) -> list:
    """(load, pv, net, ef, tariff) of every step with every socket at full power."""
    env.reset()
    rows, step, done = [], 0, False
    while not done:
        action = np.concatenate([[battery_action(step)], np.ones(len(env.charger_ids))])
        _, _, done, _, _ = env.step(action)
        flows = env.last_flows
        rows.append(
            (
                flows.load_kwh,
                flows.pv_kwh,
                flows.net_kwh,
                float(env.data.carbon_intensity[step]),
                float(env.data.pricing[step]),
            )
        )
        step += 1
    return rows


def linear_total(rows, marginal: bool) -> float:
    total = 0.0
    for load, pv, net, ef, tariff in rows:
        imported, surplus = marginal_flows(net, load, pv) if marginal else (max(net, 0.0), max(-net, 0.0))
        components = learning_components(imported, surplus, ef, tariff, 0.0, 0.0, REFERENCES)
        total += sum(REFERENCES.weights[name] * components[name] for name in LINEAR_TERMS)
    return total


def station_linear_total(rows, settings) -> float:
    """The reported reward's co2 + cost + solar terms, unclipped: on absolute import."""
    scales, weights = settings.reward.scales, settings.reward.weights
    total = 0.0
    for _, _, net, ef, tariff in rows:
        imported, surplus = max(net, 0.0), max(-net, 0.0)
        total -= (
            weights["co2"] * imported * ef / scales.co2_kg
            + weights["cost"] * imported * tariff / scales.cost_pen
            + weights["solar"] * surplus / scales.solar_surplus_kwh
        )
    return total


def test_marginal_terms_rank_schedules_as_the_station_reward_and_differ_by_exactly_as_much(built_small):
    settings = load_settings(built_small / "params.yaml")
    env = make_fast_env(settings, data_dir(built_small) / "train")
    idle = run_schedule(env, lambda step: 0.0)
    # charge the battery in the small hours, discharge it through the afternoon and the evening
    cycling = run_schedule(env, lambda step: 0.4 if step % 24 < 6 else (-0.4 if step % 24 >= 14 else 0.0))
    assert any(marginal_flows(net, load, pv)[0] < 0 for load, pv, net, _, _ in cycling)  # signs matter here
    station = station_linear_total(cycling, settings) - station_linear_total(idle, settings)
    marginal = linear_total(cycling, marginal=True) - linear_total(idle, marginal=True)
    absolute = linear_total(cycling, marginal=False) - linear_total(idle, marginal=False)
    assert abs(station) > 0 and np.sign(station) == np.sign(marginal)
    assert marginal == pytest.approx(absolute, rel=1e-9, abs=1e-12)


def test_the_references_come_from_params():
    changed = apply_overrides(SETTINGS, {"tariff.peak_pen_per_kwh": 0.5, "emissions.grid_kg_per_kwh": 0.6})
    references = LearningReferences.from_settings(changed)
    assert (references.tariff_pen_per_kwh, references.ef_kg_per_kwh) == (0.5, 0.6)
