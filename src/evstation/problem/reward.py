"""The multi-objective reward: five weighted components, each a documented per-step penalty.

Every component is a penalty in [-1, 0] computed from what CityLearn measured at the meter in the
step just taken (kWh over the step), divided by a scale in params `reward.scales` chosen from
the site's real magnitudes (the mall draws megawatts, so a scale of a few hundred kWh would pin
every step at -1 and teach nothing):

- co2:             -(import_kwh * emission_factor) / co2_kg
- solar:           -surplus_kwh / solar_surplus_kwh          (PV neither used on site nor stored)
- cost:            -(import_kwh * tariff + demand_charge_pen) / cost_pen, where demand_charge_pen is
                   the monthly demand charge the step adds: each rate of params `tariff.demand` times
                   the rise the step's import causes in the month's billed peak so far (peak hours,
                   any hour; `BillingTariff.step_charge`). Summed over a month it is the month's demand
                   charge (`BillingTariff.bill`); with no demand rates it is exactly 0 and the term is as before.
                   The month's first steps raise the peak from 0, so with demand rates this term
                   saturates at -1 there (the learning reward counts the rise over the idle site's, which
                   does not).
- ev_satisfaction: -unmet_kwh / ev_unmet_kwh, unmet_kwh = energy still missing, at their required
                   SOC, from the vehicles that leave after this step
- grid_stability:  -|import_kwh - previous import_kwh| / ramp_kwh

Each is clipped at -1 (saturation is tested to be rare on the uncontrolled year); the reward is
the weighted sum with the weights of params `reward.weights`, which sum to 1. The last step's
components are kept in `last_components` so the simulation runner can record them.
"""

from __future__ import annotations

from collections.abc import Mapping

from citylearn.reward_function import RewardFunction

from ..config import REWARD_COMPONENTS, Reward, Tariff
from ..schema import as_plain
from ..tariff.model import BillingTariff, MonthPeaks

REQUIRED_OBSERVATIONS = [
    "net_electricity_consumption",
    "solar_generation",
    "carbon_intensity",
    "electricity_pricing",
    "electric_vehicles_chargers_dict",
    "month",
    "hour",
]
HOURS_PER_STEP = 1.0  # the datasets are hourly: a step's kWh is its mean kW
CITYLEARN_FIRST_HOUR = 1  # CityLearn's hour column counts 1-24: hour 1 is 00:00-00:59 local


def local_hour(citylearn_hour: int) -> int:
    """The local clock hour (0-23) of CityLearn's hour observation."""
    return int(citylearn_hour) - CITYLEARN_FIRST_HOUR


def penalty(amount: float, scale: float) -> float:
    """A non-negative amount as a penalty in [-1, 0]."""
    return -min(max(amount, 0.0) / scale, 1.0)


def unmet_departure_kwh(chargers: Mapping[str, dict]) -> float:
    """Energy missing from vehicles whose session ends with this step (one hour or less left)."""
    unmet = 0.0
    for state in chargers.values():
        if not state.get("connected"):
            continue
        hours_left = state.get("hours_until_departure")
        if hours_left is not None and 0 < hours_left <= 1:
            missing_soc = state["required_soc"] - state["battery_soc"]
            unmet += max(missing_soc, 0.0) * state["battery_capacity"]
    return unmet


def reward_components(
    import_kwh: float,
    surplus_kwh: float,
    emission_factor: float,
    tariff: float,
    unmet_kwh: float,
    previous_import_kwh: float,
    scales: Mapping[str, float],
    demand_charge_pen: float = 0.0,
) -> dict[str, float]:
    """The five components for one step (pure, so it can be tested and reused on a timeseries)."""
    return {
        "co2": penalty(import_kwh * emission_factor, scales["co2_kg"]),
        "solar": penalty(surplus_kwh, scales["solar_surplus_kwh"]),
        "cost": penalty(import_kwh * tariff + demand_charge_pen, scales["cost_pen"]),
        "ev_satisfaction": penalty(unmet_kwh, scales["ev_unmet_kwh"]),
        "grid_stability": penalty(abs(import_kwh - previous_import_kwh), scales["ramp_kwh"]),
    }


def weighted(components: Mapping[str, float], weights: Mapping[str, float]) -> float:
    return sum(weights[name] * components[name] for name in REWARD_COMPONENTS)


class StationReward(RewardFunction):
    """CityLearn reward function of the station (central agent: one value per step). CityLearn builds it
    from plain keyword arguments (`kwargs_from`), so the tariff comes as plain data and is rebuilt here."""

    def __init__(
        self,
        env_metadata,
        weights: Mapping[str, float] = None,
        scales: Mapping[str, float] = None,
        billing: Mapping[str, float] = None,
        **kwargs,
    ):
        super().__init__(env_metadata, **kwargs)
        if weights is None or scales is None:
            raise ValueError("StationReward needs the weights and scales of params.yaml `reward`")
        self.weights = dict(weights)
        self.scales = dict(scales)
        self.billing = BillingTariff.from_plain(billing)
        self.reset()

    @classmethod
    def kwargs_from(cls, reward: Reward, tariff: Tariff | None = None) -> dict:
        """The keyword arguments CityLearn builds the reward from: plain data of params' `reward` and `tariff`."""
        return {
            "weights": dict(reward.weights),
            "scales": as_plain(reward.scales),
            "billing": BillingTariff.from_settings(tariff).as_plain(),
        }

    def reset(self):
        self.previous_import_kwh = None  # no ramp is charged on the first step of an episode
        self.billed_peaks = MonthPeaks()  # the month's billed peaks so far, from the episode's first step
        self.last_components = dict.fromkeys(REWARD_COMPONENTS, 0.0)
        self.last_unmet_kwh = 0.0
        self.last_demand_charge_pen = 0.0

    def get_required_observation_names(self):
        return REQUIRED_OBSERVATIONS

    def calculate(self, observations):
        station = observations[0]
        net_kwh = float(station["net_electricity_consumption"])
        import_kwh, surplus_kwh = max(net_kwh, 0.0), max(-net_kwh, 0.0)
        unmet_kwh = unmet_departure_kwh(station.get("electric_vehicles_chargers_dict") or {})
        previous = import_kwh if self.previous_import_kwh is None else self.previous_import_kwh
        month, in_window = int(station["month"]), self.billing.in_peak_hours(local_hour(station["hour"]))
        demand_pen, billed_peaks = self.billing.step_charge(
            self.billed_peaks, month, import_kwh / HOURS_PER_STEP, in_window
        )
        components = reward_components(
            import_kwh,
            surplus_kwh,
            float(station["carbon_intensity"]),
            float(station["electricity_pricing"]),
            unmet_kwh,
            previous,
            self.scales,
            demand_pen,
        )
        self.previous_import_kwh = import_kwh
        self.billed_peaks = billed_peaks
        self.last_demand_charge_pen = demand_pen
        self.last_components = components
        self.last_unmet_kwh = unmet_kwh
        return [weighted(components, self.weights)]
