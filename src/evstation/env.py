"""Building the CityLearn environment of a split, offline, and reading what it measured each step."""

from __future__ import annotations

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


def make_citylearn_env(schema_path: Path, **overrides):
    """A central-agent CityLearn environment for a local schema; never touches the network."""
    from citylearn.citylearn import CityLearnEnv

    schema_path = Path(schema_path)
    if not schema_path.is_file():
        raise DataError(f"{schema_path}: schema not found (run `evstation build-dataset`)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=DeprecationWarning)
        return CityLearnEnv(str(schema_path), central_agent=True, offline=True, **overrides)


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
