"""Building the CityLearn environment of a split, offline, and reading what it measured each step."""

from __future__ import annotations

import logging
import os
import warnings
import weakref
from dataclasses import dataclass
from pathlib import Path

import gymnasium
import numpy as np

from ..config import Settings
from ..dataset import BUILDING_NAME, SCHEMA_FILE, check_step_files, read_json
from ..errors import DataError
from ..problem.reward import StationReward
from ..schema import build

# Any path of CityLearn that would download data fails fast instead.
os.environ.setdefault("CITYLEARN_OFFLINE", "1")
log = logging.getLogger(__name__)


def make_station_env(settings, folder: Path, *, without_solar: bool = False):
    """The split's CityLearn environment with the station's reward; `without_solar` sets the PV to 0 kWp.

    The schema is read from the dataset folder and handed to CityLearn as a mapping, so the
    without-solar variant is its own simulation of the same dataset, never an edit after the run."""
    folder = Path(folder)
    schema = read_json(folder / SCHEMA_FILE)
    check_step_files(folder, schema)
    schema["root_directory"] = str(folder.resolve())
    if without_solar:
        schema["buildings"][BUILDING_NAME]["pv"]["attributes"]["nominal_power"] = 0.0
    return _citylearn(
        schema,
        reward_function=StationReward,
        reward_function_kwargs=StationReward.kwargs_from(settings.reward, settings.tariff),
    )


# CityLearn 3 records at every step, for every charger, the action it was asked for, what its limits left
# of it and why: diagnostics for its entity interface, which no record of this project reads (1,000 steps
# of random actions at 128 chargers: 20.9 s with them, 12.3 s without, the same flows; the pipeline's
# without-solar year 490 -> 251 s). Left unrecorded; tests/test_station_env.py checks a simulation's
# record is the same either way.
RECORD_CHARGER_FEEDBACK = False
CHARGER_FEEDBACK_RECORDERS = ("_record_charger_action_feedback", "_record_charger_post_apply_feedback")
_recorders: dict = {}


def _set_charger_feedback(recorded: bool) -> None:
    from citylearn.internal.building_ops import BuildingOpsService

    if not _recorders:
        _recorders.update({name: getattr(BuildingOpsService, name) for name in CHARGER_FEEDBACK_RECORDERS})
    for name, record in _recorders.items():
        setattr(BuildingOpsService, name, record if recorded else _not_recorded)


def _not_recorded(*_args, **_kwargs) -> None:
    return None


# CityLearn 3 bounds each charger's departure and arrival-time observations by a scan of every charger's
# whole session series, once per observation key: chargers x chargers scans, ten times over while it
# builds an environment (10 of its 12.6 s at 128 chargers). The bound depends only on which of the two
# times the key names and the episode's length, so it is computed once per building for each (the same
# bounds and observations: tests/test_station_env.py).
EV_TIME_BOUNDS_ONCE = True


def _ev_time_high_limit_once_per_building(compute):
    bounds: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def high_limit(building, key: str) -> float:
        try:  # as CityLearn reads it: no episode yet while the building is being built
            episode_steps = building.episode_tracker.episode_time_steps
        except (AttributeError, TypeError):
            episode_steps = None
        chargers = tuple(id(charger) for charger in building.electric_vehicle_chargers or ())
        names = ("departure_time" in key, "estimated_arrival_time" in key, episode_steps, chargers)
        known = bounds.setdefault(building, {})
        if names not in known:
            known[names] = compute(building, key)
        return known[names]

    high_limit.computes = compute
    return high_limit


def _set_ev_time_bounds(once: bool) -> None:
    from citylearn.building import Building

    current = Building._ev_time_observation_high_limit
    compute = getattr(current, "computes", current)
    Building._ev_time_observation_high_limit = _ev_time_high_limit_once_per_building(compute) if once else compute


def _citylearn(schema, **overrides):
    from citylearn.citylearn import CityLearnEnv

    _set_charger_feedback(RECORD_CHARGER_FEEDBACK)
    _set_ev_time_bounds(EV_TIME_BOUNDS_ONCE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=DeprecationWarning)
        return CityLearnEnv(schema, central_agent=True, offline=True, **overrides)


def make_citylearn_env(schema_path: Path, **overrides):
    """A central-agent CityLearn environment for a local schema as written; never touches the network."""
    schema_path = Path(schema_path)
    if not schema_path.is_file():
        raise DataError(f"{schema_path}: schema not found (run `evstation build-dataset`)")
    check_step_files(schema_path.parent, read_json(schema_path))
    return _citylearn(str(schema_path), **overrides)


@dataclass(frozen=True)
class StepFlows:
    """Energy over one step at the meter bus, as CityLearn accounted it (kWh, grid side)."""

    load_kwh: float
    ev_kwh: float
    battery_kwh: float  # + charging, - discharging
    pv_kwh: float  # generation, >= 0
    net_kwh_reported: float  # CityLearn's own net consumption (stored in float32)
    battery_soc: float
    charger_kwh: np.ndarray  # per socket


def read_step(env, step: int) -> StepFlows:
    building = env.buildings[0]
    chargers = building.electric_vehicle_chargers or []
    charger_kwh = np.array([float(charger.electricity_consumption[step]) for charger in chargers])
    return StepFlows(
        load_kwh=float(building.non_shiftable_load_device.electricity_consumption[step]),
        ev_kwh=float(charger_kwh.sum()),
        battery_kwh=float(building.electrical_storage.electricity_consumption[step]),
        pv_kwh=-float(building.solar_generation[step]),
        net_kwh_reported=float(building.net_electricity_consumption[step]),
        battery_soc=float(building.electrical_storage.soc[step]),
        charger_kwh=charger_kwh,
    )


def connected_vehicle_socs(env, step: int) -> list[float | None]:
    """Each socket's connected vehicle SOC after `step` (None where no vehicle was plugged in)."""
    socs = []
    for charger in env.buildings[0].electric_vehicle_chargers or []:
        vehicle = charger.past_connected_evs[step]
        socs.append(None if vehicle is None else float(vehicle.battery.soc[step]))
    return socs


class CentralAgentEnv(gymnasium.Env):
    """The station's CityLearn environment as a plain gymnasium environment for stable-baselines3:
    flat float32 observations in CityLearn's order, one Box action, the reward times `reward_scale`,
    and each reward component in `info` so learning curves can show them."""

    metadata = {"render_modes": []}

    def __init__(self, citylearn_env, reward_scale: float = 1.0):
        self.env = citylearn_env
        self.reward_scale = reward_scale
        self.observation_space = gymnasium.spaces.Box(
            low=citylearn_env.observation_space[0].low, high=citylearn_env.observation_space[0].high, dtype=np.float32
        )
        self.action_space = citylearn_env.action_space[0]
        self.observation_names = list(citylearn_env.observation_names[0])

    def reset(self, *, seed: int | None = None, options=None):
        observations, _ = self.env.reset()
        return np.asarray(observations[0], dtype=np.float32), {}

    def step(self, action):
        observations, reward, terminated, truncated, _ = self.env.step([np.asarray(action, dtype=float).tolist()])
        info = {
            "reward_unscaled": float(reward[0]),
            "reward_components": dict(self.env.reward_function.last_components),
        }
        return (
            np.asarray(observations[0], dtype=np.float32),
            float(reward[0]) * self.reward_scale,
            bool(terminated),
            bool(truncated),
            info,
        )


def make_training_env(settings_data: dict, folder: str, reward_scale: float = 1.0) -> CentralAgentEnv:
    """Build a training environment from plain data (so a subprocess can build its own copy)."""
    settings = build(Settings, settings_data)
    return CentralAgentEnv(make_station_env(settings, Path(folder)), reward_scale)
