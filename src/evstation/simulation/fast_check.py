"""Driving CityLearn and the fast simulator with the same controller and measuring how far apart they are.

Used by tests/test_fastsim.py (8 sockets, one week) and scripts/check_fastsim_equality.py (the
full station and year). Each simulator runs one episode under one control mode and leaves a
`Trace` of every step: observations, rewards and their components, the flows at the bus, the
battery's and each plugged-in vehicle's SOC. `compare` reports the largest difference of each
quantity; `trace_timeseries` turns a trace into the columns `simulate.simulate` writes, so the
KPIs of both runs can be computed with `evstation.kpis` and compared too.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import REWARD_COMPONENTS, Settings
from ..control.rules import Controller, make_baseline
from ..dataset import read_dataset
from ..kpis import split_kpis
from .citylearn_env import CentralAgentEnv, connected_vehicle_socs, make_station_env, read_step
from .fast_env import FastStationEnv, make_fast_env
from .observer import StationObserver, state_from_fast_env
from .runner import ControlRecorder, departures_by_step

log = logging.getLogger(__name__)
MODES = ("random", "uncontrolled", "rule_based")
Policy = Callable[[np.ndarray, int], np.ndarray]


@dataclass
class Trace:
    """Every step of one episode (arrays over steps; per-socket arrays are steps x sockets)."""

    observations: list = field(default_factory=list)  # steps + 1 observation vectors
    rewards: list = field(default_factory=list)
    components: list = field(default_factory=list)
    load_kwh: list = field(default_factory=list)
    pv_kwh: list = field(default_factory=list)
    battery_kwh: list = field(default_factory=list)
    net_kwh: list = field(default_factory=list)
    battery_soc: list = field(default_factory=list)
    charger_kwh: list = field(default_factory=list)
    vehicle_soc: list = field(default_factory=list)  # NaN where no vehicle is plugged in
    tariff_pen_per_kwh: list = field(default_factory=list)
    emission_factor_kg_per_kwh: list = field(default_factory=list)
    seconds: float = 0.0

    def array(self, name: str) -> np.ndarray:
        return np.asarray(getattr(self, name), dtype=float)

    @property
    def import_kwh(self) -> np.ndarray:
        return np.maximum(self.array("net_kwh"), 0.0)


def make_policy(mode: str, settings: Settings, observation_names: list[str], action_space, seed: int = 0) -> Policy:
    """The controller of a mode as a function of (observation vector, step)."""
    if mode == "random":
        rng = np.random.default_rng(seed)
        return lambda observation, step: rng.uniform(action_space.low, action_space.high).astype(np.float32)
    controller = make_baseline(mode, settings)
    controller.reset()
    return lambda observation, step: controller.act(dict(zip(observation_names, observation)), step)


def _record_common(trace: Trace, observation, reward: float, info: dict) -> None:
    trace.observations.append(np.asarray(observation, dtype=np.float32))
    trace.rewards.append(float(info["reward_unscaled"]))
    trace.components.append(dict(info["reward_components"]))


def run_citylearn(settings: Settings, folder: Path, mode: str, seed: int = 0) -> Trace:
    env = CentralAgentEnv(make_station_env(settings, Path(folder)))
    return _run(env, settings, mode, seed, _citylearn_flows)


def run_fast(settings: Settings, folder: Path, mode: str, seed: int = 0, env: FastStationEnv | None = None) -> Trace:
    return _run(env or make_fast_env(settings, folder), settings, mode, seed, _fast_flows)


def _citylearn_flows(env: CentralAgentEnv, step: int, trace: Trace) -> None:
    flows = read_step(env.env, step)
    trace.load_kwh.append(flows.load_kwh), trace.pv_kwh.append(flows.pv_kwh)
    trace.battery_kwh.append(flows.battery_kwh), trace.net_kwh.append(flows.net_kwh_reported)
    trace.battery_soc.append(flows.battery_soc), trace.charger_kwh.append(flows.charger_kwh)
    trace.vehicle_soc.append([math.nan if soc is None else soc for soc in connected_vehicle_socs(env.env, step)])
    building = env.env.buildings[0]
    trace.tariff_pen_per_kwh.append(float(building.pricing.electricity_pricing[step]))
    trace.emission_factor_kg_per_kwh.append(float(building.carbon_intensity.carbon_intensity[step]))


def _fast_flows(env: FastStationEnv, step: int, trace: Trace) -> None:
    flows = env.last_flows
    trace.load_kwh.append(flows.load_kwh), trace.pv_kwh.append(flows.pv_kwh)
    trace.battery_kwh.append(flows.battery_kwh), trace.net_kwh.append(flows.net_kwh)
    trace.battery_soc.append(flows.battery_soc), trace.charger_kwh.append(flows.charger_kwh.astype(float))
    trace.vehicle_soc.append(flows.vehicle_soc.astype(float))
    trace.tariff_pen_per_kwh.append(float(env.data.pricing[step]))
    trace.emission_factor_kg_per_kwh.append(float(env.data.carbon_intensity[step]))


def _run(env, settings: Settings, mode: str, seed: int, record_flows) -> Trace:
    return _run_policy(env, make_policy(mode, settings, env.observation_names, env.action_space, seed), record_flows)


def _run_policy(env, policy: Policy, record_flows) -> Trace:
    trace = Trace()
    started = time.perf_counter()
    observation, _ = env.reset()
    trace.observations.append(np.asarray(observation, dtype=np.float32))
    step, terminated = 0, False
    while not terminated:
        observation, reward, terminated, _, info = env.step(policy(observation, step))
        _record_common(trace, observation, reward, info)
        record_flows(env, step, trace)
        step += 1
    trace.seconds = time.perf_counter() - started
    return trace


# ---------------------------------------------------------------- differences


def _relative(a: np.ndarray, b: np.ndarray, floor: float) -> float:
    """Largest |a - b| / max(|b|, floor); NaN where both are NaN counts as agreement."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    both_nan = np.isnan(a) & np.isnan(b)
    difference = np.where(both_nan, 0.0, np.abs(a - b))
    difference = np.where(np.isnan(difference), np.inf, difference)  # NaN on one side only
    if difference.size == 0:
        return 0.0
    return float(np.max(difference / np.maximum(np.abs(np.nan_to_num(b)), floor)))


def compare(reference: Trace, candidate: Trace, floor: float = 1.0) -> dict[str, float]:
    """Largest relative difference of each quantity (differences below `floor` in absolute value
    are measured against `floor`, so quantities near 0 are compared in absolute terms)."""
    differences = {"steps": float(abs(len(reference.rewards) - len(candidate.rewards)))}
    if differences["steps"]:
        return {**differences, "all": math.inf}
    for name in (
        "load_kwh",
        "pv_kwh",
        "battery_kwh",
        "net_kwh",
        "battery_soc",
        "charger_kwh",
        "vehicle_soc",
        "rewards",
        "tariff_pen_per_kwh",
        "emission_factor_kg_per_kwh",
    ):
        differences[name] = _relative(candidate.array(name), reference.array(name), floor)
    differences["import_kwh"] = _relative(candidate.import_kwh, reference.import_kwh, floor)
    differences["observations"] = _relative(np.stack(candidate.observations), np.stack(reference.observations), floor)
    for name in REWARD_COMPONENTS:
        differences[f"reward_{name}"] = _relative(
            np.array([c[name] for c in candidate.components]), np.array([c[name] for c in reference.components]), floor
        )
    return differences


# ---------------------------------------------------------------- KPIs


def _departures(
    vehicle_soc: np.ndarray, leaving: list[tuple], charger_index: dict[str, int], tolerance_pct: float
) -> dict:
    """simulate._departure_record on a trace's vehicle SOCs."""
    fulfilled, required_kwh, delivered_kwh = 0, 0.0, 0.0
    for charger_id, required_pct, arrival_pct, battery_kwh in leaving:
        soc = vehicle_soc[charger_index[charger_id]]
        final_pct = 100 * float(soc) if not math.isnan(soc) else arrival_pct
        fulfilled += int(final_pct >= required_pct - tolerance_pct)
        required_kwh += (required_pct - arrival_pct) / 100 * battery_kwh
        delivered_kwh += max(min(final_pct, required_pct) - arrival_pct, 0.0) / 100 * battery_kwh
    return {
        "sessions_departing": len(leaving),
        "sessions_fulfilled": fulfilled,
        "departing_required_kwh": required_kwh,
        "departing_delivered_kwh": delivered_kwh,
    }


def trace_timeseries(trace: Trace, settings: Settings, folder: Path, charger_ids: list[str]) -> pd.DataFrame:
    """The columns simulate.simulate records, from a trace (same formulas, same order)."""
    dataset = read_dataset(Path(folder))
    leaving_at = departures_by_step(dataset.sessions)
    charger_index = {charger: index for index, charger in enumerate(charger_ids)}
    efficiency, capacity = settings.sockets.efficiency_pct / 100, settings.battery.capacity_kwh
    profiles = dataset.profiles
    previous_soc = settings.battery.initial_soc_pct / 100
    rows = []
    for step, reward in enumerate(trace.rewards):
        ev_kwh = float(np.asarray(trace.charger_kwh[step], dtype=float).sum())
        load, pv, battery, soc = (
            trace.load_kwh[step],
            trace.pv_kwh[step],
            trace.battery_kwh[step],
            trace.battery_soc[step],
        )
        net_kwh = load + ev_kwh + battery - pv
        rows.append(
            {
                "step": step,
                "load_kwh": load,
                "pv_kwh": pv,
                "ev_kwh": ev_kwh,
                "ev_delivered_kwh": ev_kwh * efficiency,
                "bess_in_kwh": max(battery, 0.0),
                "bess_out_kwh": max(-battery, 0.0),
                "bess_soc_pct": 100 * soc,
                "bess_stored_kwh": (soc - previous_soc) * capacity,
                "net_kwh": net_kwh,
                "import_kwh": max(net_kwh, 0.0),
                "surplus_kwh": max(-net_kwh, 0.0),
                "net_citylearn_kwh": trace.net_kwh[step],
                "tariff_pen_per_kwh": trace.tariff_pen_per_kwh[step],
                "emission_factor_kg_per_kwh": trace.emission_factor_kg_per_kwh[step],
                "reward": reward,
                **{f"reward_{name}": trace.components[step][name] for name in REWARD_COMPONENTS},
                **_departures(
                    np.asarray(trace.vehicle_soc[step], dtype=float),
                    leaving_at.get(step, []),
                    charger_index,
                    settings.validation.soc_tolerance_pct,
                ),
            }
        )
        previous_soc = soc
    timeseries = pd.DataFrame(rows)
    timeseries.insert(1, "timestamp", profiles["timestamp"].iloc[: len(rows)].to_numpy())
    return timeseries


def simulate_fast(settings: Settings, folder: Path, controller: Controller, label: str = "") -> pd.DataFrame:
    """`runner.simulate` on the fast simulator: the same controller interface (with the station state),
    the same columns, the learning reward and the layer's work recorded alike. For the training
    year's figures, where CityLearn's own run would add minutes and no information."""

    env = make_fast_env(settings, folder)
    observer = StationObserver(settings, folder, data=env.data)
    recorder = ControlRecorder(settings)
    names = env.observation_names
    states, extra = [], []
    controller.reset()

    def policy(observation, step):
        states.append(state_from_fast_env(observer, env))
        return controller.act(dict(zip(names, observation)), step, states[-1])

    def record(env, step, trace):
        _fast_flows(env, step, trace)
        flows = env.last_flows
        extra.append(recorder.columns(states[step], flows.net_kwh, flows.vehicle_soc, trace.rewards[step], controller))

    trace = _run_policy(env, policy, record)
    log.info(
        "%s: %d steps on the fast simulator in %.1f s", label or controller.name, len(trace.rewards), trace.seconds
    )
    timeseries = trace_timeseries(trace, settings, folder, env.charger_ids)
    return pd.concat([timeseries, pd.DataFrame(extra)], axis=1)


def kpi_differences_pct(reference: dict, candidate: dict) -> dict[str, float]:
    """Relative difference of each numeric KPI in percent (absolute where the reference is 0)."""
    differences = {}
    for name, value in reference.items():
        if isinstance(value, (int, float)) and isinstance(candidate.get(name), (int, float)):
            scale = abs(value) if value else 1.0
            differences[name] = 100 * abs(candidate[name] - value) / scale
    return differences


def trace_kpis(trace: Trace, settings: Settings, folder: Path, charger_ids: list[str], label: str) -> dict:
    return split_kpis(settings, trace_timeseries(trace, settings, folder, charger_ids), label)
