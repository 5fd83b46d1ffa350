"""The reward a learner is trained on (`control.learning_reward: marginal`): the station's own effect.

The reported reward (`problem/reward.py`) scores the whole site's import, and the mall and the sun
set almost all of it: a controller moves about 4 % of that signal. This reward scores only what the
sockets and the battery change, so the part no action can move is gone from the learner's signal:

- baseline (sockets and battery idle, mall and PV only): import max(load - pv, 0), surplus max(pv - load, 0);
- marginal import  = import - baseline import     (negative when the battery covers part of the mall)
- marginal surplus = surplus - baseline surplus   (negative when the battery stores PV the mall cannot use)

The components, each a signed number of "reference kWh" over `learning_scales.energy_kwh`, never
clipped (a negative marginal import is a gain, and the learner must see it as one):

- co2:             -marginal_import * (ef / ef_reference) / energy_kwh
- cost:            -(marginal_import * tariff + marginal_demand_charge) / tariff_reference / energy_kwh
- solar:           -marginal_surplus / energy_kwh
- ev_satisfaction: -behind / ev_behind_kwh: every step, the energy the connected vehicles can no
                   longer receive by their departure even at rated power (after this step); on a
                   vehicle's last step it is exactly what it leaves without. Dense: a vehicle left
                   behind is charged from the hour it falls behind, not only in the hour it leaves;
                   with the feasibility floor on it stays at ~0.
- grid_stability:  -|marginal import - previous step's marginal import| / ramp_kwh (0 on an
                   episode's first step)

weighted with params `reward.weights`, as the reported reward is.

Demand charges (params `tariff.demand`, 0 outside `mall_mt3`). The month's demand charge is a rate
times the month's billed peak; per step it is the rate times the rise the step causes in the
month's peak so far (`BillingTariff.charge_pen`), which the state carries (`billed_peak_*_kw`), so the
reward stays Markovian. "Marginal" here means against the idle site, as for energy: the idle
site's month-to-date peaks (`idle_peak_*_kw`, from the exogenous load - PV) rise by their own
steps, and

  marginal_demand_charge = rate * rise of the site's billed peak - rate * rise of the idle site's

Over a month it sums to rate * (site's peak - idle site's peak): negative when the battery shaves
below the mall's own peak (a gain, as a negative marginal import is), and the cost term ranks
schedules as the bill does, since the idle site's charge is the same for every schedule. Against the
absolute rise, each month's first day would carry the idle site's whole peak (about 2 MW at
72 PEN/kW-month: -48 reward in one step) that no action can move. PEN count as reference kWh at the
peak tariff, as the energy cost does: a 100 kW rise of the billed peak under MT3 (72.49 PEN/kW)
is 7,249 PEN, 16 reference units, weighed against the energy terms as the bill weighs them. With no
demand rates the term is exactly 0 and every value is as without it.

References. ef_reference is the grid's constant factor (`emissions.grid_kg_per_kwh`), so with the
isolated grid's flat factor a kWh of marginal import weighs exactly 1 reference kWh in co2.
tariff_reference is the **peak** tariff (`tariff.peak_pen_per_kwh`): an off-peak kWh weighs
0.28 / 0.45 = 0.62 in cost, a peak kWh 1.

Does grid-to-battery shifting pay? Charge 1 kWh from the grid off-peak, give back 0.9 kWh at the
peak (90 % round trip, the battery's only loss), per reference kWh, weights 0.50 co2, 0.15 cost:
  co2:  0.50 * (0.9 - 1.0)                        = -0.0500  (the loss is emitted)
  cost: 0.15 * (0.9 * 0.45 - 1.0 * 0.28) / 0.45    = +0.0417  (the tariff spread)
  net                                             = -0.0083: shifting does not pay.
With the off-peak tariff as reference the cost term would be 0.15 * 0.125 / 0.28 = +0.0670 and
shifting would pay (+0.017): the learner would trade CO2, the quantity the project minimises and
reports, for cost by cycling grid energy through the battery. Break-even reference tariff:
0.15 * (0.9 * 0.45 - 0.28) / (0.50 * 0.1) = 0.375 PEN/kWh; the peak tariff stays clear of it.
(`tests/test_learning_reward.py` recomputes this from params.) Storing PV surplus always pays:
+0.20 solar for the kWh not curtailed, then +0.45 co2 and cost for the 0.9 kWh that displace import.

Ranking. The baseline depends on the mall and the PV only, never on an action, and every term but
the ramp is linear in import and surplus: over a year two schedules differ by exactly the same
amount in these terms as in the same terms on absolute import (tested).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..config import REWARD_COMPONENTS, LearningScales, Settings
from ..control.station import StationState
from ..tariff.model import BillingTariff

HOURS_PER_STEP = 1.0  # the datasets are hourly: a step's kWh is its mean kW


@dataclass(frozen=True)
class LearningReferences:
    """What one unit of each component means, from params."""

    ef_kg_per_kwh: float
    tariff_pen_per_kwh: float
    scales: LearningScales
    weights: Mapping[str, float]
    billing: BillingTariff = BillingTariff()  # the demand charges (default: none)

    @classmethod
    def from_settings(cls, settings: Settings) -> LearningReferences:
        return cls(
            ef_kg_per_kwh=settings.emissions.grid_kg_per_kwh,
            tariff_pen_per_kwh=settings.tariff.peak_pen_per_kwh,
            scales=settings.control.learning_scales,
            weights=dict(settings.reward.weights),
            billing=BillingTariff.from_settings(settings.tariff),
        )


def baseline_import_kwh(load_kwh: float, pv_kwh: float) -> float:
    """What the site imports with sockets and battery idle."""
    return max(load_kwh - pv_kwh, 0.0)


def baseline_surplus_kwh(load_kwh: float, pv_kwh: float) -> float:
    """PV the site curtails with sockets and battery idle."""
    return max(pv_kwh - load_kwh, 0.0)


def marginal_flows(net_kwh: float, load_kwh: float, pv_kwh: float) -> tuple[float, float]:
    """(marginal import, marginal surplus) of a step whose meter net was `net_kwh`; signed."""
    return (
        max(net_kwh, 0.0) - baseline_import_kwh(load_kwh, pv_kwh),
        max(-net_kwh, 0.0) - baseline_surplus_kwh(load_kwh, pv_kwh),
    )


def marginal_demand_charge_pen(state: StationState, import_kwh: float, billing: BillingTariff) -> float:
    """The demand charge the step adds on the site, less what it adds on the idle site (signed)."""
    if not billing.charged:
        return 0.0
    idle_kwh = baseline_import_kwh(state.load_kwh, state.pv_kwh)
    site = billing.charge_pen(
        import_kwh / HOURS_PER_STEP, state.in_peak_window, state.billed_peak_window_kw, state.billed_peak_any_kw
    )
    idle = billing.charge_pen(
        idle_kwh / HOURS_PER_STEP, state.in_peak_window, state.idle_peak_window_kw, state.idle_peak_any_kw
    )
    return site - idle


def energy_behind_kwh(state: StationState, vehicle_soc_after: np.ndarray) -> float:
    """Energy the vehicles connected in `state` can no longer receive by departure at rated power,
    given their SOC after the step (NaN or anything where no vehicle is connected)."""
    connected = state.connected
    if not connected.any():
        return 0.0
    soc_after = np.where(connected, np.nan_to_num(np.asarray(vehicle_soc_after, dtype=float)), 0.0)
    needed_kwh = np.maximum(state.required_soc - soc_after, 0.0) * state.vehicle_capacity_kwh
    reachable_kwh = np.maximum(state.steps_left - 1, 0) * state.kwh_per_step_at_full_power
    return float(np.sum(np.where(connected, np.maximum(needed_kwh - reachable_kwh, 0.0), 0.0)))


def learning_components(
    marginal_import_kwh: float,
    marginal_surplus_kwh: float,
    emission_factor: float,
    tariff: float,
    behind_kwh: float,
    previous_marginal_import_kwh: float,
    references: LearningReferences,
    marginal_demand_pen: float = 0.0,
) -> dict[str, float]:
    """The five components of one step (pure; signed, never clipped)."""
    scales = references.scales
    return {
        "co2": -marginal_import_kwh * (emission_factor / references.ef_kg_per_kwh) / scales.energy_kwh,
        "solar": -marginal_surplus_kwh / scales.energy_kwh,
        # the demand part is subtracted apart, so that without demand rates (0.0) the term is bit for bit as before
        "cost": (
            -marginal_import_kwh * (tariff / references.tariff_pen_per_kwh) / scales.energy_kwh
            - marginal_demand_pen / references.tariff_pen_per_kwh / scales.energy_kwh
        ),
        "ev_satisfaction": -behind_kwh / scales.ev_behind_kwh,
        "grid_stability": -abs(marginal_import_kwh - previous_marginal_import_kwh) / scales.ramp_kwh,
    }


def weighted(components: Mapping[str, float], weights: Mapping[str, float]) -> float:
    return sum(weights[name] * components[name] for name in REWARD_COMPONENTS)


class MarginalReward:
    """The learning reward along an episode: remembers the previous marginal import for the ramp."""

    def __init__(self, references: LearningReferences):
        self.references = references
        self.reset()

    def reset(self) -> None:
        self.previous_marginal_import_kwh: float | None = None
        self.last_demand_charge_pen = 0.0

    def __call__(
        self, state: StationState, net_kwh: float, vehicle_soc_after: np.ndarray
    ) -> tuple[float, dict[str, float]]:
        """Reward and components of the step taken from `state` that ended with meter net `net_kwh`."""
        marginal_import, marginal_surplus = marginal_flows(net_kwh, state.load_kwh, state.pv_kwh)
        previous = marginal_import if self.previous_marginal_import_kwh is None else self.previous_marginal_import_kwh
        demand_pen = marginal_demand_charge_pen(state, max(net_kwh, 0.0), self.references.billing)
        components = learning_components(
            marginal_import,
            marginal_surplus,
            state.emission_factor_kg_per_kwh,
            state.tariff_pen_per_kwh,
            energy_behind_kwh(state, vehicle_soc_after),
            previous,
            self.references,
            demand_pen,
        )
        self.previous_marginal_import_kwh = marginal_import
        self.last_demand_charge_pen = demand_pen
        return weighted(components, self.references.weights), components

    def snapshot(self) -> dict:
        return {"previous_marginal_import_kwh": self.previous_marginal_import_kwh}

    def restore(self, snapshot: dict) -> None:
        self.previous_marginal_import_kwh = snapshot["previous_marginal_import_kwh"]
