"""Writes the example input files of this folder: one week (168 hours from 1 January) of a small site
per split, for the small test station (6 moto and 2 mototaxi sockets). Example data, invented to
exercise every reader: they are not measurements of the Iquitos site. Run from the repository root:

    python data/examples/make_examples.py

The files differ on purpose in the forms they use: the training year's timestamps are local time
without an offset, the evaluation year's carry `-05:00` (weather) or `Z` (prices, UTC); the training
sessions give the arrival SOC, the evaluation sessions the energy requested.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from evstation.config import load_settings
from evstation.site import calendar, mall, solar

FOLDER = Path(__file__).resolve().parent
HOURS = 168
SPLITS = {"train": 2023, "eval": 2025}
SEEDS = {"train": 101, "eval": 202}
# A three-block energy price (PEN/kWh) by hour of day, unlike the params' two prices.
NIGHT_PRICE, DAY_PRICE, PEAK_PRICE = 0.22, 0.31, 0.47
# A diesel grid's factor (kg CO2/kWh): higher at the evening peak, when the least efficient units run.
FACTOR_BASE, FACTOR_PEAK_EXTRA, FACTOR_NOISE = 0.68, 0.09, 0.02
# Sessions: visits per day by kind, hours of arrival, SOC at arrival and wanted at departure (%).
DAILY_VISITS = {"moto": 34, "mototaxi": 9}
ARRIVAL_HOURS = (9, 21)
ARRIVAL_SOC_PCT = {"moto": (15.0, 35.0), "mototaxi": (20.0, 35.0)}
REQUIRED_SOC_PCT = {"moto": (80.0, 95.0), "mototaxi": (80.0, 90.0)}
SLACK_STEPS = (0, 3)


def local_hours(year: int, offset_h: float) -> pd.DatetimeIndex:
    return calendar.year_hours(year, offset_h)[:HOURS]


def write_weather(split: str, year: int, settings) -> None:
    hours = calendar.year_hours(year, settings.site.utc_offset_h)
    weather = solar.synthetic_weather(hours, settings.site, settings.weather, SEEDS[split]).iloc[:HOURS].round(1)
    week = hours[:HOURS]
    stamps = week.strftime("%Y-%m-%d %H:%M") if split == "train" else [h.isoformat(timespec="minutes") for h in week]
    weather.insert(0, "timestamp", stamps)
    weather.to_csv(FOLDER / f"weather_{split}.csv", index=False)


def write_load(split: str, year: int, settings) -> None:
    hours = calendar.year_hours(year, settings.site.utc_offset_h)
    load = mall.modelled_load_kwh(hours, settings.mall, SEEDS[split])[:HOURS]
    pd.DataFrame({"timestamp": hours[:HOURS].strftime("%Y-%m-%d %H:%M"), "mall_kwh": load.round(1)}).to_csv(
        FOLDER / f"load_{split}.csv", index=False)


def _utc_or_local(hours: pd.DatetimeIndex, split: str) -> pd.Index:
    return hours.strftime("%Y-%m-%d %H:%M") if split == "train" else hours.tz_convert("UTC").strftime("%Y-%m-%dT%H:%MZ")


def write_prices(split: str, year: int, settings) -> None:
    hours = local_hours(year, settings.site.utc_offset_h)
    hour = hours.hour.to_numpy()
    price = np.where(hour < 7, NIGHT_PRICE, np.where((hour >= 18) & (hour < 23), PEAK_PRICE, DAY_PRICE))
    pd.DataFrame({"timestamp": _utc_or_local(hours, split), "tariff_pen_per_kwh": price}).to_csv(
        FOLDER / f"energy_price_{split}.csv", index=False)


def write_factors(split: str, year: int, settings, rng: np.random.Generator) -> None:
    hours = local_hours(year, settings.site.utc_offset_h)
    hour = hours.hour.to_numpy()
    factor = FACTOR_BASE + FACTOR_PEAK_EXTRA * ((hour >= 18) & (hour < 22)) + rng.normal(0, FACTOR_NOISE, HOURS)
    pd.DataFrame({"timestamp": hours.strftime("%Y-%m-%d %H:%M"), "emission_factor_kg_per_kwh": factor.round(4)}).to_csv(
        FOLDER / f"grid_factor_{split}.csv", index=False)


def _visit(kind: str, day: int, settings, rng: np.random.Generator) -> dict:
    vehicle, group = settings.vehicles.kind(kind), settings.sockets.group(kind)
    arrival_soc = round(float(rng.uniform(*ARRIVAL_SOC_PCT[kind])), 1)
    required_soc = round(float(rng.uniform(*REQUIRED_SOC_PCT[kind])), 1)
    energy_kwh = (required_soc - arrival_soc) / 100 * vehicle.battery_kwh
    min_steps = max(1, math.ceil(energy_kwh / (group.power_kw * settings.sockets.efficiency_pct / 100) - 1e-9))
    step = day * 24 + int(rng.integers(*ARRIVAL_HOURS))
    stay = min_steps + int(rng.integers(SLACK_STEPS[0], SLACK_STEPS[1] + 1))
    # minutes within half an hour of the step, so the times round to it (see docs/your-site.md)
    arrival_min = step * 60 + int(rng.integers(-29, 30))
    departure_min = (step + stay) * 60 + int(rng.integers(-29, 30))
    return {"arrival_min": arrival_min, "departure_min": departure_min, "kind": kind,
            "arrival_soc_pct": arrival_soc, "energy_requested_kwh": round(energy_kwh, 3), "required_soc_pct": required_soc}


def write_sessions(split: str, year: int, settings, rng: np.random.Generator) -> None:
    start = local_hours(year, settings.site.utc_offset_h)[0].tz_localize(None)
    visits = [_visit(kind, day, settings, rng) for day in range(HOURS // 24)
              for kind, count in DAILY_VISITS.items() for _ in range(count)]
    table = pd.DataFrame(visits).sort_values("arrival_min", kind="stable")
    for name in ("arrival", "departure"):
        table[name] = (start + pd.to_timedelta(table[f"{name}_min"], unit="min")).dt.strftime("%Y-%m-%d %H:%M")
    energy = "arrival_soc_pct" if split == "train" else "energy_requested_kwh"
    table[["arrival", "departure", "kind", energy, "required_soc_pct"]].to_csv(FOLDER / f"sessions_{split}.csv", index=False)


def main() -> None:
    settings = load_settings(FOLDER.parents[1] / "params.yaml")
    for split, year in SPLITS.items():
        rng = np.random.default_rng(SEEDS[split])
        write_weather(split, year, settings)
        write_load(split, year, settings)
        write_prices(split, year, settings)
        write_factors(split, year, settings, rng)
        write_sessions(split, year, settings, rng)


if __name__ == "__main__":
    main()
