"""One runner that drives any controller through a split's year in CityLearn and records every step.

The timeseries it returns is the single source of every reported number: energy flows at the
meter bus (kWh over the step), the battery's SOC, tariff and emission factor, each reward
component, and the sessions that end at the step with their fulfilment. Net consumption is
summed here in float64 from CityLearn's device flows; CityLearn's own net (kept in float32) is
recorded beside it so the KPIs can show that the two agree.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import REWARD_COMPONENTS, Settings
from ..control.rules import Controller
from ..dataset import read_dataset
from ..problem.learning_reward import LearningReferences, MarginalReward
from .citylearn_env import connected_vehicle_socs, make_station_env, read_step
from .observer import StationObserver, state_from_citylearn
from .progress import progress_bar

log = logging.getLogger(__name__)
PROGRESS_MIN_STEPS = 500  # short runs (tests) print no bar


def departures_by_step(sessions: pd.DataFrame) -> dict[int, list[tuple]]:
    """Sessions grouped by the step after which their vehicle leaves (its last plugged-in step)."""
    grouped = defaultdict(list)
    for row in sessions.itertuples(index=False):
        grouped[int(row.departure_step) - 1].append(
            (row.charger_id, row.required_soc_pct, row.arrival_soc_pct, row.battery_kwh)
        )
    return grouped


def _departure_record(
    env, step: int, leaving: list[tuple], charger_index: dict[str, int], tolerance_pct: float
) -> dict:
    chargers = env.buildings[0].electric_vehicle_chargers
    fulfilled, required_kwh, delivered_kwh = 0, 0.0, 0.0
    for charger_id, required_pct, arrival_pct, battery_kwh in leaving:
        vehicle = chargers[charger_index[charger_id]].past_connected_evs[step]
        final_pct = 100 * float(vehicle.battery.soc[step]) if vehicle is not None else arrival_pct
        fulfilled += int(final_pct >= required_pct - tolerance_pct)
        required_kwh += (required_pct - arrival_pct) / 100 * battery_kwh
        # charging past the required SOC is no extra fulfilment: count up to the requirement
        delivered_kwh += max(min(final_pct, required_pct) - arrival_pct, 0.0) / 100 * battery_kwh
    return {
        "sessions_departing": len(leaving),
        "sessions_fulfilled": fulfilled,
        "departing_required_kwh": required_kwh,
        "departing_delivered_kwh": delivered_kwh,
    }


class ControlRecorder:
    """Each step's learning reward and the feasibility layer's work, recorded alike by CityLearn's
    runner and the fast simulator's (`fast_check.simulate_fast`), whatever the controller."""

    def __init__(self, settings: Settings):

        self.marginal = (
            MarginalReward(LearningReferences.from_settings(settings))
            if settings.control.learning_reward == "marginal"
            else None
        )

    def columns(
        self, state, net_kwh: float, vehicle_soc_after: np.ndarray, station_reward: float, controller: Controller
    ) -> dict:
        learning = station_reward if self.marginal is None else self.marginal(state, net_kwh, vehicle_soc_after)[0]
        layer = getattr(controller, "last_stats", None)
        return {
            "learning_reward": learning,
            "floor_raised_sockets": layer.sockets_raised if layer is not None else 0,
            "floor_kwh": layer.floor_added_kwh if layer is not None else 0.0,
        }


def simulate(
    settings: Settings,
    folder: Path,
    controller: Controller,
    *,
    without_solar: bool = False,
    progress: bool = True,
    label: str = "",
) -> pd.DataFrame:
    """Run `controller` through the dataset in `folder` and return the per-step timeseries."""
    dataset = read_dataset(Path(folder))
    env = make_station_env(settings, folder, without_solar=without_solar)
    observer = StationObserver(settings, folder, without_solar=without_solar)
    building = env.buildings[0]
    names = env.observation_names[0]
    charger_index = {charger.charger_id: index for index, charger in enumerate(building.electric_vehicle_chargers)}
    leaving_at = departures_by_step(dataset.sessions)
    efficiency = settings.sockets.efficiency_pct / 100
    capacity = settings.battery.capacity_kwh
    tolerance = settings.validation.soc_tolerance_pct
    recorder = ControlRecorder(settings)
    observations, _ = env.reset()
    controller.reset()
    steps = env.time_steps - 1
    previous_soc = settings.battery.initial_soc_pct / 100
    rows = []
    bar = progress_bar(
        total=steps, desc=label or controller.name, mininterval=2.0, disable=not progress or steps < PROGRESS_MIN_STEPS
    )
    started = time.perf_counter()
    for step in range(steps):
        state = state_from_citylearn(observer, env, step)
        actions = controller.act(dict(zip(names, observations[0])), step, state)
        observations, reward, terminated, _, _ = env.step([np.asarray(actions, dtype=float).tolist()])
        flows = read_step(env, step)
        net_kwh = flows.load_kwh + flows.ev_kwh + flows.battery_kwh - flows.pv_kwh
        socs_after = np.array([np.nan if soc is None else soc for soc in connected_vehicle_socs(env, step)])
        row = {
            "step": step,
            "load_kwh": flows.load_kwh,
            "pv_kwh": flows.pv_kwh,
            "ev_kwh": flows.ev_kwh,
            "ev_delivered_kwh": flows.ev_kwh * efficiency,
            "bess_in_kwh": max(flows.battery_kwh, 0.0),
            "bess_out_kwh": max(-flows.battery_kwh, 0.0),
            "bess_soc_pct": 100 * flows.battery_soc,
            "bess_stored_kwh": (flows.battery_soc - previous_soc) * capacity,
            "net_kwh": net_kwh,
            "import_kwh": max(net_kwh, 0.0),
            "surplus_kwh": max(-net_kwh, 0.0),
            "net_citylearn_kwh": flows.net_kwh_reported,
            "tariff_pen_per_kwh": float(building.pricing.electricity_pricing[step]),
            "emission_factor_kg_per_kwh": float(building.carbon_intensity.carbon_intensity[step]),
            "reward": float(reward[0]),
            **{f"reward_{name}": env.reward_function.last_components[name] for name in REWARD_COMPONENTS},
            **_departure_record(env, step, leaving_at.get(step, []), charger_index, tolerance),
            **recorder.columns(state, net_kwh, socs_after, float(reward[0]), controller),
        }
        previous_soc = flows.battery_soc
        rows.append(row)
        bar.update()
        if terminated:
            break
    bar.close()
    elapsed = time.perf_counter() - started
    log.info(
        "%s: %d steps in %.1f s (%.0f steps/s)",
        label or controller.name,
        len(rows),
        elapsed,
        len(rows) / elapsed if elapsed else math.inf,
    )
    timeseries = pd.DataFrame(rows)
    timeseries.insert(1, "timestamp", dataset.profiles["timestamp"].iloc[: len(rows)].to_numpy())
    return timeseries
