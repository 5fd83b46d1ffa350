"""Building the CityLearn environment of a split, offline, and reading what it measured each step."""

from __future__ import annotations

import json
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError

# Any path of CityLearn that would download data fails fast instead.
os.environ.setdefault("CITYLEARN_OFFLINE", "1")
log = logging.getLogger(__name__)


def make_station_env(settings, folder: Path, *, without_solar: bool = False):
    """The split's CityLearn environment with the station's reward; `without_solar` sets the PV to 0 kWp.

    The schema is read from the dataset folder and handed to CityLearn as a mapping, so the
    without-solar variant is its own simulation of the same dataset, never an edit after the run."""
    from .dataset import BUILDING_NAME, SCHEMA_FILE
    from .reward import StationReward

    folder = Path(folder)
    schema_path = folder / SCHEMA_FILE
    if not schema_path.is_file():
        raise DataError(f"{schema_path}: schema not found (run `evstation build-dataset`)")
    try:
        schema = json.loads(schema_path.read_text())
    except json.JSONDecodeError as error:
        raise DataError(f"{schema_path}: not valid JSON (line {error.lineno})") from None
    schema["root_directory"] = str(folder.resolve())
    if without_solar:
        schema["buildings"][BUILDING_NAME]["pv"]["attributes"]["nominal_power"] = 0.0
    return _citylearn(schema, reward_function=StationReward,
                      reward_function_kwargs=StationReward.kwargs_from(settings.reward))


def _citylearn(schema, **overrides):
    from citylearn.citylearn import CityLearnEnv

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=DeprecationWarning)
        return CityLearnEnv(schema, central_agent=True, offline=True, **overrides)


def make_citylearn_env(schema_path: Path, **overrides):
    """A central-agent CityLearn environment for a local schema as written; never touches the network."""
    schema_path = Path(schema_path)
    if not schema_path.is_file():
        raise DataError(f"{schema_path}: schema not found (run `evstation build-dataset`)")
    return _citylearn(str(schema_path), **overrides)


@dataclass(frozen=True)
class StepFlows:
    """Energy over one step at the meter bus, as CityLearn accounted it (kWh, grid side)."""
    load_kwh: float
    ev_kwh: float
    battery_kwh: float               # + charging, - discharging
    pv_kwh: float                    # generation, >= 0
    net_kwh_reported: float          # CityLearn's own net consumption (stored in float32)
    battery_soc: float
    charger_kwh: np.ndarray          # per socket


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
