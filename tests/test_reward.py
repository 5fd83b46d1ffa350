"""The reward: its components' formulas, its weights, and its response inside CityLearn."""

from __future__ import annotations

import pytest

from conftest import PARAMS, data_dir
from evstation.config import REWARD_COMPONENTS, apply_overrides, load_settings
from evstation.errors import ConfigError
from evstation.problem.reward import penalty, reward_components, unmet_departure_kwh, weighted
from evstation.simulation.citylearn_env import make_station_env

SETTINGS = load_settings(PARAMS)
SCALES = {"co2_kg": 1500.0, "solar_surplus_kwh": 3200.0, "cost_pen": 1500.0, "ev_unmet_kwh": 50.0, "ramp_kwh": 2000.0}


def test_weights_come_from_params_and_sum_to_one():
    assert dict(SETTINGS.reward.weights) == {
        "co2": 0.5,
        "solar": 0.2,
        "cost": 0.15,
        "ev_satisfaction": 0.1,
        "grid_stability": 0.05,
    }
    assert weighted(dict.fromkeys(REWARD_COMPONENTS, -1.0), SETTINGS.reward.weights) == pytest.approx(-1.0)


def test_weights_not_summing_to_one_are_rejected():
    with pytest.raises(ConfigError, match="reward.weights: must sum to 1"):
        apply_overrides(
            SETTINGS,
            {
                "reward.weights": {
                    "co2": 0.6,
                    "solar": 0.2,
                    "cost": 0.15,
                    "ev_satisfaction": 0.1,
                    "grid_stability": 0.05,
                }
            },
        )


def test_penalty_is_linear_then_clipped():
    assert penalty(0.0, 10) == 0.0
    assert penalty(5.0, 10) == -0.5
    assert penalty(25.0, 10) == -1.0
    assert penalty(-3.0, 10) == 0.0


def test_more_import_gives_a_lower_co2_and_cost_component():
    low = reward_components(1000, 0, 0.4521, 0.45, 0, 1000, SCALES)
    high = reward_components(1200, 0, 0.4521, 0.45, 0, 1000, SCALES)
    assert high["co2"] < low["co2"] < 0
    assert high["cost"] < low["cost"] < 0
    assert high["grid_stability"] < low["grid_stability"] == 0


def test_surplus_and_unmet_energy_are_penalised():
    components = reward_components(0, 1600, 0.4521, 0.28, 25, 0, SCALES)
    assert components["solar"] == pytest.approx(-0.5)
    assert components["ev_satisfaction"] == pytest.approx(-0.5)
    assert components["co2"] == 0.0


def test_a_steps_demand_charge_adds_to_the_cost_term_and_none_leaves_it_as_it_was():
    energy_only = reward_components(1000, 0, 0.4521, 0.45, 0, 1000, SCALES)
    assert reward_components(1000, 0, 0.4521, 0.45, 0, 1000, SCALES, 0.0) == energy_only
    charged = reward_components(1000, 0, 0.4521, 0.45, 0, 1000, SCALES, 300.0)
    assert charged["cost"] == pytest.approx(-(1000 * 0.45 + 300.0) / SCALES["cost_pen"])
    assert {name: value for name, value in charged.items() if name != "cost"} == {
        name: value for name, value in energy_only.items() if name != "cost"
    }


def test_the_citylearn_reward_bills_each_month_from_its_own_peaks():
    from evstation.problem.reward import StationReward

    mt3 = apply_overrides(
        SETTINGS,
        {"tariff.demand.generation_pen_per_kw_month": 56.09, "tariff.demand.distribution_pen_per_kw_month": 16.40},
    )
    reward = StationReward({"central_agent": True}, **StationReward.kwargs_from(mt3.reward, mt3.tariff))

    def step(month: int, hour: int, import_kwh: float) -> float:
        reward.calculate(
            [
                {
                    "net_electricity_consumption": import_kwh,
                    "solar_generation": 0.0,
                    "carbon_intensity": 0.4521,
                    "electricity_pricing": 0.45,
                    "electric_vehicles_chargers_dict": {},
                    "month": month,
                    "hour": hour,
                }
            ]
        )
        return reward.last_demand_charge_pen

    assert step(1, 13, 1000.0) == pytest.approx(16.40 * 1000)  # 12:00 local: any-hour peak only
    assert step(1, 19, 1200.0) == pytest.approx(16.40 * 200 + 56.09 * 1200)  # 18:00 local: the peak window
    assert step(1, 20, 1100.0) == 0.0  # below both peaks
    assert step(2, 1, 500.0) == pytest.approx(16.40 * 500)  # a new month bills from nothing
    plain = StationReward({"central_agent": True}, **StationReward.kwargs_from(SETTINGS.reward, SETTINGS.tariff))
    plain.calculate(
        [
            {
                "net_electricity_consumption": 2000.0,
                "solar_generation": 0.0,
                "carbon_intensity": 0.4521,
                "electricity_pricing": 0.45,
                "electric_vehicles_chargers_dict": {},
                "month": 1,
                "hour": 19,
            }
        ]
    )
    assert plain.last_demand_charge_pen == 0.0 and plain.last_components["cost"] == penalty(2000 * 0.45, 1500.0)


def test_unmet_energy_counts_only_vehicles_leaving_now():
    chargers = {
        "a": {
            "connected": True,
            "hours_until_departure": 1.0,
            "required_soc": 0.9,
            "battery_soc": 0.5,
            "battery_capacity": 2.5,
        },
        "b": {
            "connected": True,
            "hours_until_departure": 3.0,
            "required_soc": 0.9,
            "battery_soc": 0.2,
            "battery_capacity": 2.5,
        },
        "c": {
            "connected": True,
            "hours_until_departure": 1.0,
            "required_soc": 0.85,
            "battery_soc": 0.95,
            "battery_capacity": 4.5,
        },
        "d": {"connected": False, "hours_until_departure": None},
    }
    assert unmet_departure_kwh(chargers) == pytest.approx(0.4 * 2.5)


def test_charging_the_battery_from_the_grid_lowers_the_co2_component(built_small):
    """In CityLearn: at night, charging the battery adds import, so the CO2 component must fall."""
    settings = load_settings(built_small / "params.yaml")
    folder = data_dir(built_small) / "train"
    idle, charging = make_station_env(settings, folder), make_station_env(settings, folder)
    idle.reset()
    charging.reset()
    n_sockets = idle.action_space[0].shape[0] - 1
    idle.step([[0.0] + [1.0] * n_sockets])
    charging.step([[1.0] + [1.0] * n_sockets])
    idle_components = idle.reward_function.last_components
    charging_components = charging.reward_function.last_components
    assert charging_components["co2"] < idle_components["co2"] < 0
    assert charging_components["cost"] < idle_components["cost"]
    assert idle.buildings[0].net_electricity_consumption[0] < charging.buildings[0].net_electricity_consumption[0]
