"""Physical checks of the written datasets before anything trains on them.

Static checks read the files: shape, units, missing values, PV yield, mall energy, sessions
feasible and linked to defined vehicles, no battery attribute left for CityLearn to draw at
random. Dynamic checks drive a short CityLearn rollout: sockets at full power raise their
vehicles' SOC by what the charger delivers, idle sockets draw nothing, the battery's SOC moves
by what its efficiency says, and the meter balance closes.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .config import SPLITS, Settings
from .dataset import (
    BUILD_ID,
    BUILDING_NAME,
    SCHEMA_FILE,
    Dataset,
    check_built_from,
    check_built_together,
    read_csv,
    read_dataset,
    vehicle_id,
)
from .errors import DataError
from .files import write_json_atomically
from .kpis import FLOAT32_RELATIVE_RESOLUTION, FLOAT32_TOLERANCE_ULPS
from .simulation.citylearn_env import connected_vehicle_socs, make_citylearn_env, read_step
from .site.calendar import HOURS_PER_YEAR as FULL_YEAR_HOURS

log = logging.getLogger(__name__)

SOC_STEP_TOLERANCE = 1e-5  # CityLearn keeps SOC in float32
BATTERY_ATTRIBUTES = (
    "capacity",
    "nominal_power",
    "efficiency",
    "depth_of_discharge",
    "initial_soc",
    "loss_coefficient",
    "capacity_loss_coefficient",
    "power_efficiency_curve",
    "capacity_power_curve",
)
CSV_FILES = ("building.csv", "weather.csv", "pricing.csv", "carbon_intensity.csv")


def _check(name: str, value, limit, passed: bool, detail: str = "") -> dict:
    entry = {"name": name, "value": value, "limit": limit, "verdict": "pass" if passed else "fail"}
    if detail:
        entry["detail"] = detail
    return entry


def _round(value: float, digits: int = 6) -> float:
    return float(round(value, digits)) if math.isfinite(value) else value


# ---------------------------------------------------------------- static checks


def check_files(dataset: Dataset, split: str, horizon: int) -> list[dict]:
    bad = {}
    for name in CSV_FILES:
        table = read_csv(dataset.folder / name)
        numeric = table.apply(pd.to_numeric, errors="coerce")
        bad[name] = int(numeric.isna().to_numpy().sum())
    building = read_csv(dataset.folder / "building.csv")
    negative = int((building[["non_shiftable_load", "solar_generation"]] < 0).to_numpy().sum())
    return [
        _check(f"{split}.rows_per_csv", int(len(building)), horizon, len(building) == horizon),
        _check(
            f"{split}.missing_or_non_numeric_values",
            sum(bad.values()),
            0,
            sum(bad.values()) == 0,
            ", ".join(f"{k}: {v}" for k, v in bad.items() if v),
        ),
        _check(f"{split}.negative_load_or_pv", negative, 0, negative == 0),
    ]


def check_pv(dataset: Dataset, split: str, settings: Settings) -> list[dict]:
    building = read_csv(dataset.folder / "building.csv")
    if len(building) != len(dataset.profiles):
        return [_check(f"{split}.pv_rows_match_profiles", int(len(building)), int(len(dataset.profiles)), False)]
    per_kw = building["solar_generation"].to_numpy()
    nominal = dataset.schema["buildings"][BUILDING_NAME]["pv"]["attributes"]["nominal_power"]
    pv_kwh = nominal * per_kw / 1000
    annualise = FULL_YEAR_HOURS / len(per_kw)  # a short horizon is judged on its annual rate
    yield_kwh_per_kwp = annualise * pv_kwh.sum() / nominal if nominal else 0.0
    poa = annualise * dataset.profiles["poa_w_m2"].sum() / 1000
    ratio = yield_kwh_per_kwp / poa if poa else 0.0
    low_y, high_y = settings.validation.pv_yield_kwh_per_kwp
    low_r, high_r = settings.validation.performance_ratio
    night = dataset.profiles["ghi_w_m2"].to_numpy() <= 0
    return [
        _check(
            f"{split}.pv_w_per_kw_max",
            _round(float(per_kw.max())),
            1000.0,
            per_kw.max() <= 1000.0,
            "solar_generation is W per kW of PV: above 1000 means the PV was written in the wrong unit",
        ),
        _check(
            f"{split}.pv_matches_profile_kwh",
            _round(float(np.abs(pv_kwh - dataset.profiles["pv_kwh"]).max())),
            1e-3,
            bool(np.abs(pv_kwh - dataset.profiles["pv_kwh"]).max() <= 1e-3),
        ),
        _check(
            f"{split}.pv_yield_kwh_per_kwp",
            _round(yield_kwh_per_kwp, 1),
            [low_y, high_y],
            low_y <= yield_kwh_per_kwp <= high_y,
        ),
        _check(f"{split}.pv_performance_ratio", _round(ratio, 4), [low_r, high_r], low_r <= ratio <= high_r),
        _check(f"{split}.pv_at_night_kwh", _round(float(pv_kwh[night].sum())), 0.0, pv_kwh[night].sum() == 0.0),
    ]


def check_mall(dataset: Dataset, split: str, settings: Settings) -> list[dict]:
    building = read_csv(dataset.folder / "building.csv")
    total_mwh = building["non_shiftable_load"].sum() / 1000
    if not settings.mall.enabled:
        return [_check(f"{split}.mall_energy_mwh", _round(total_mwh, 3), 0.0, total_mwh == 0.0)]
    if settings.simulation.horizon_hours != FULL_YEAR_HOURS:
        return [
            _check(
                f"{split}.mall_energy_mwh",
                _round(total_mwh, 3),
                "params hold annual energy: checked on full years",
                total_mwh > 0,
            )
        ]
    if settings.mall.load_files:
        return [_check(f"{split}.mall_energy_mwh", _round(total_mwh, 3), "from mall.load_files", total_mwh > 0)]
    target = settings.mall.annual_energy_mwh
    tolerance = settings.validation.mall_energy_tolerance_pct
    error_pct = 100 * abs(total_mwh - target) / target if target else 0.0
    return [
        _check(
            f"{split}.mall_energy_error_pct",
            _round(error_pct, 4),
            tolerance,
            error_pct <= tolerance,
            f"{total_mwh:.1f} MWh against {target} MWh in params",
        )
    ]


def check_sessions(dataset: Dataset, split: str, settings: Settings) -> list[dict]:
    sessions = dataset.sessions
    efficiency = settings.sockets.efficiency_pct / 100
    power = sessions["kind"].map(
        {"moto": settings.sockets.moto.power_kw, "mototaxi": settings.sockets.mototaxi.power_kw}
    )
    deliverable = power * efficiency * sessions["stay_steps"]
    needed = (sessions["required_soc_pct"] - sessions["arrival_soc_pct"]) / 100 * sessions["battery_kwh"]
    infeasible = int(
        (
            (needed > deliverable + 1e-9)
            | (needed <= 0)
            | (sessions["stay_steps"] < 1)
            | (sessions["departure_step"] > settings.simulation.horizon_hours)
        ).sum()
    )
    no_room = int((sessions["stay_steps"] <= sessions["min_steps"]).sum())
    return [
        _check(f"{split}.sessions", int(len(sessions)), "> 0", len(sessions) > 0 or settings.sockets.total == 0),
        _check(
            f"{split}.infeasible_sessions",
            infeasible,
            0,
            infeasible == 0,
            "energy needed must fit the stay at rated power and efficiency",
        ),
        _check(
            f"{split}.sessions_without_room_to_shift_pct",
            _round(100 * no_room / max(len(sessions), 1), 2),
            "reported",
            True,
            "sessions whose stay is exactly what they need (late arrivals)",
        ),
    ] + check_links(dataset, split)


def check_links(dataset: Dataset, split: str) -> list[dict]:
    """Every plugged-in row names a defined vehicle and matches a session; sessions never overlap."""
    defined = set(dataset.schema["electric_vehicles_def"])
    by_socket = dict(tuple(dataset.sessions.groupby("charger_id")))
    unlinked = mismatched = overlapping = 0
    for charger in dataset.chargers:
        table = dataset.charger_table(charger)
        plugged = table["electric_vehicle_charger_state"].to_numpy() == 1
        ids = table["electric_vehicle_id"].where(plugged)
        unlinked += int((plugged & ~ids.isin(defined)).sum()) + int((plugged & (ids != vehicle_id(charger))).sum())
        expected = np.zeros(len(table), dtype=int)
        own = by_socket.get(charger)
        if own is not None:
            for start, end in zip(own["arrival_step"], own["departure_step"]):
                expected[start:end] += 1
        overlapping += int((expected > 1).sum())
        mismatched += int(((expected > 0) != plugged).sum())
    return [
        _check(f"{split}.plugged_rows_without_defined_vehicle", unlinked, 0, unlinked == 0),
        _check(f"{split}.plugged_rows_not_matching_sessions", mismatched, 0, mismatched == 0),
        _check(f"{split}.overlapping_session_steps", overlapping, 0, overlapping == 0),
    ]


def check_explicit_physics(dataset: Dataset, split: str, settings: Settings) -> list[dict]:
    """No battery or vehicle attribute may be left for CityLearn to draw at random."""
    building = dataset.schema["buildings"][BUILDING_NAME]
    storage = building["electrical_storage"]["attributes"]
    missing = [f"electrical_storage.{key}" for key in BATTERY_ATTRIBUTES if key not in storage]
    for name, definition in dataset.schema["electric_vehicles_def"].items():
        attributes = definition["battery"]["attributes"]
        missing += [f"{name}.{key}" for key in BATTERY_ATTRIBUTES if key not in attributes]
    for name, charger in building["chargers"].items():
        if "max_discharging_power" not in charger["attributes"]:
            missing.append(f"{name}.max_discharging_power")
    efficiency = settings.battery.round_trip_efficiency_pct / 100
    curve = storage.get("power_efficiency_curve", [])
    curve_matches = all(abs(point[1] - efficiency) < 1e-12 for point in curve) if curve else False
    return [
        _check(f"{split}.attributes_left_to_random", len(missing), 0, not missing, ", ".join(missing[:5])),
        _check(f"{split}.battery_efficiency_curve_matches_params", curve_matches, True, curve_matches),
    ]


# ---------------------------------------------------------------- rollout checks


def rollout_actions(step: int, n_chargers: int) -> np.ndarray:
    """Battery: charge at half power on even steps, discharge on odd; even sockets full, odd idle."""
    chargers = np.where(np.arange(n_chargers) % 2 == 0, 1.0, 0.0)
    battery = 0.5 if step % 2 == 0 else -0.5
    return np.concatenate([[battery], chargers])


def check_rollout(dataset: Dataset, split: str, settings: Settings) -> list[dict]:
    started = time.perf_counter()
    env = make_citylearn_env(dataset.schema_path)
    # the load time goes to the log only: the report is a DVC metric and must be the same every run
    log.info("%s: CityLearn loaded the dataset offline in %.2f s", split, time.perf_counter() - started)
    env.reset()
    n_actions = env.action_space[0].shape[0]
    n_chargers = len(dataset.chargers)
    steps_in_episode = env.time_steps - 1
    horizon = settings.simulation.horizon_hours
    checks = [
        _check(f"{split}.citylearn_loads_offline", True, True, True),
        _check(f"{split}.actions", int(n_actions), 1 + settings.sockets.total, n_actions == 1 + settings.sockets.total),
        _check(f"{split}.controlled_steps", int(steps_in_episode), horizon, steps_in_episode == horizon),
    ]
    charger_efficiency = settings.sockets.efficiency_pct / 100
    root_efficiency = math.sqrt(settings.battery.round_trip_efficiency_pct / 100)
    capacity = settings.battery.capacity_kwh
    capacities = {
        name: d["battery"]["attributes"]["capacity"] for name, d in dataset.schema["electric_vehicles_def"].items()
    }
    balance_error = balance_limit_excess = soc_error = ev_error = 0.0
    full_power_without_gain = idle_drawing = charged_vehicle_steps = 0
    previous_soc = settings.battery.initial_soc_pct / 100
    building = env.buildings[0]
    rollout_steps = min(settings.validation.rollout_steps, steps_in_episode)
    early = dataset.sessions[dataset.sessions["arrival_step"] < rollout_steps]
    index_of = {name: index for index, name in enumerate(dataset.chargers)}
    arrival_soc = {
        (index_of[row.charger_id], int(row.arrival_step)): row.arrival_soc_pct / 100
        for row in early.itertuples(index=False)
    }
    for step in range(rollout_steps):
        actions = rollout_actions(step, n_chargers)
        env.step([actions.tolist()])
        flows = read_step(env, step)
        parts = flows.load_kwh + flows.ev_kwh + flows.battery_kwh - flows.pv_kwh
        error = abs(flows.net_kwh_reported - parts)
        scale = max(abs(flows.load_kwh), abs(flows.pv_kwh), abs(flows.battery_kwh), 1.0)
        limit = (
            settings.validation.energy_balance_tolerance_kwh
            + FLOAT32_TOLERANCE_ULPS * FLOAT32_RELATIVE_RESOLUTION * scale
        )
        balance_error = max(balance_error, error)
        balance_limit_excess = max(balance_limit_excess, error - limit)
        stored = flows.battery_kwh * root_efficiency if flows.battery_kwh >= 0 else flows.battery_kwh / root_efficiency
        soc_error = max(soc_error, abs((flows.battery_soc - previous_soc) * capacity - stored))
        previous_soc = flows.battery_soc
        socs = connected_vehicle_socs(env, step)
        for index, charger in enumerate(building.electric_vehicle_chargers):
            vehicle = charger.past_connected_evs[step]
            drawn = flows.charger_kwh[index]
            if vehicle is None:
                idle_drawing += int(drawn > 0)
                continue
            # a vehicle plugging in at this step starts from its arrival SOC, not its predecessor's
            before = arrival_soc.get((index, step), float(vehicle.battery.soc[step - 1]) if step else None)
            if before is None:
                continue
            gained_kwh = (socs[index] - before) * capacities[vehicle.name]
            if actions[1 + index] > 0 and before < 1 - SOC_STEP_TOLERANCE:
                charged_vehicle_steps += 1
                full_power_without_gain += int(gained_kwh <= 0)
                ev_error = max(ev_error, abs(gained_kwh - drawn * charger_efficiency))
            elif actions[1 + index] == 0:
                idle_drawing += int(drawn > 0 or abs(gained_kwh) > SOC_STEP_TOLERANCE * capacities[vehicle.name])
    tolerance = settings.validation.energy_balance_tolerance_kwh
    checks += [
        _check(
            f"{split}.rollout_full_power_steps_with_a_vehicle", charged_vehicle_steps, "> 0", charged_vehicle_steps > 0
        ),
        _check(
            f"{split}.rollout_full_power_without_soc_gain", full_power_without_gain, 0, full_power_without_gain == 0
        ),
        _check(
            f"{split}.rollout_vehicle_energy_error_kwh",
            _round(ev_error, 6),
            1e-4,
            ev_error <= 1e-4,
            "SOC gain x capacity against energy drawn x charger efficiency",
        ),
        _check(f"{split}.rollout_idle_sockets_drawing_or_charging", idle_drawing, 0, idle_drawing == 0),
        _check(
            f"{split}.rollout_battery_soc_error_kwh",
            _round(soc_error, 6),
            1e-2,
            soc_error <= 1e-2,
            "SOC change x capacity against energy in x sqrt(efficiency) or out / sqrt(efficiency)",
        ),
        _check(
            f"{split}.rollout_energy_balance_error_kwh",
            _round(balance_error, 9),
            f"{tolerance} + float32 resolution of the step's flows",
            balance_limit_excess <= 0,
            "CityLearn's net consumption against load + EV + battery - PV; CityLearn stores flows in float32",
        ),
    ]
    return checks


# ---------------------------------------------------------------- driver


def validate_split(settings: Settings, folder: Path, split: str) -> list[dict]:
    try:
        dataset = read_dataset(folder)
        checks = check_files(dataset, split, settings.simulation.horizon_hours)
        checks += check_pv(dataset, split, settings)
        checks += check_mall(dataset, split, settings)
        checks += check_sessions(dataset, split, settings)
        checks += check_explicit_physics(dataset, split, settings)
    except DataError as error:
        return [_check(f"{split}.dataset_readable", str(error), "readable", False)]
    if all(check["verdict"] == "pass" for check in checks):
        checks += check_rollout(dataset, split, settings)
    else:
        checks.append(
            _check(
                f"{split}.rollout",
                "skipped",
                "static checks pass",
                False,
                "the CityLearn rollout runs only on a dataset that passed the static checks",
            )
        )
    return checks


def run_validation(settings: Settings, data_dir: Path, output: Path) -> dict:
    """Check every split. Refused (DataError), with no report written: a split with no dataset (nothing
    to check; the message names the command that builds it) and splits not built together."""
    for split in SPLITS:
        if not (data_dir / split / SCHEMA_FILE).is_file():
            raise DataError(f"{data_dir / split / SCHEMA_FILE}: dataset not found (run `evstation build-dataset`)")
    identifier = check_built_together(data_dir)
    check_built_from(data_dir, settings, identifier)
    checks = []
    for split in SPLITS:
        checks += validate_split(settings, data_dir / split, split)
    passed = all(check["verdict"] == "pass" for check in checks)
    report = {"passed": passed, BUILD_ID: identifier, "checks": checks}  # the build it checked
    write_json_atomically(output, json.loads(json.dumps(report, default=float)))
    return report
