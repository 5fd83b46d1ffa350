"""The compact observation a learner sees (`control.observation: compact`): pure, from a StationState.

CityLearn's raw observation is 1,036 values at full size, most of them constants or countdowns the
learner has to decode, and its per-socket SOC shows the previous visitor in the first hour of a
back-to-back session. These features are what a station scheduler reads (the least-laxity
literature, SustainGym's EV charging environment): per socket what is still needed and how much
time is left; for the station the clock, the sun, the mall, the battery and the prices, with a
short forecast. Each is scaled to about [0, 1] by a constant derived from params, so the features
mean the same on any site:

per socket (CityLearn's charger order), zero where no vehicle is connected:
  connected                 0 / 1
  energy_needed             kWh still to put into the battery / the vehicle's capacity
  steps_left                steps it stays plugged in (this one included) / the longest stay (opening hours)
  laxity                    steps left - steps needed at rated power, / the longest stay (< 0: already late)
station:
  hour sin, cos; weekday sin, cos
  pv                        kWh this step / the inverter's AC limit over a step
  load                      the mall's kWh this step / its modelled peak over a step
  battery_soc               fraction of capacity
  tariff                    / the peak tariff
  emission_factor           / the grid's constant factor
  billed_peak_window, billed_peak_any   the month's billed peaks so far (largest hourly import within
                            the tariff's peak hours, at any hour) / the site's largest possible import
  idle_peak_window, idle_peak_any       the same for the site with sockets and battery idle: the
                            learning reward charges the rise of the first over the rise of these
  hours_left_in_month       / the longest month's hours (what is left to set this month's peak)
  hours_to_peak_window      / a day (0 within the peak window)
  pv forecast, load forecast  the next `forecast_hours` steps, scaled as pv and load

The month-to-date peaks, the hours left and a day's forecast make a step's demand charge (the
rate times the rise of the month's billed peak, `tariff/demand.py`) a function of the observation,
so the learning reward stays Markovian with demand charges. The forecast covers a day, hour by hour
(`forecast_hours: 24`), rather than a coarse daily summary: what decides a month's peak is at which
evening hour tomorrow's load less PV is largest and how much PV comes before it to bank in the
battery, and a daily total or maximum loses that timing; a rolling 24-hour plan took almost all of
the optimum's lead when it knew the next day, and 48 hours added nothing over 24.
per socket group present (only with `control.action_space: aggregated`, what that policy acts on):
  connected                 vehicles connected / the group's sockets
  energy_needed             total kWh still needed / (the group's sockets x the vehicle's capacity)
  floor_energy              total kWh the feasibility floor imposes this step / (sockets x a step at rated power)
  least_laxity              the group's least laxity / the longest stay (1 when no vehicle is connected)
"""

from __future__ import annotations

import numpy as np

from ..config import VEHICLE_KINDS, Settings
from ..control.floor import energy_needed_kwh, floor_fraction, laxity_steps
from ..control.station import StationState

SOCKET_FEATURES = ("connected", "energy_needed", "steps_left", "laxity")
STATION_FEATURES = (
    "hour_sin",
    "hour_cos",
    "weekday_sin",
    "weekday_cos",
    "pv",
    "load",
    "battery_soc",
    "tariff",
    "emission_factor",
    "billed_peak_window",
    "billed_peak_any",
    "idle_peak_window",
    "idle_peak_any",
    "hours_left_in_month",
    "hours_to_peak_window",
)
GROUP_FEATURES = ("connected", "energy_needed", "floor_energy", "least_laxity")
HOURS_PER_DAY, DAYS_PER_WEEK, HOURS_PER_YEAR = 24, 7, 8760
HOURS_PER_LONGEST_MONTH = 31 * HOURS_PER_DAY
HOURS_PER_STEP = 1.0  # the datasets are hourly (the simulators refuse anything else)


def groups_present(settings: Settings) -> list[int]:
    """Indices into VEHICLE_KINDS of the socket groups the site has."""
    return [index for index, kind in enumerate(VEHICLE_KINDS) if settings.sockets.group(kind).count > 0]


def observation_size(settings: Settings) -> int:
    """Length of the compact feature vector for this site and control settings."""
    size = len(SOCKET_FEATURES) * settings.sockets.total + len(STATION_FEATURES) + 2 * settings.control.forecast_hours
    if settings.control.action_space == "aggregated":
        size += len(GROUP_FEATURES) * len(groups_present(settings))
    return size


def feature_names(settings: Settings) -> list[str]:
    """One name per feature, in the vector's order (for inspection and tests)."""
    names = [f"socket{index}_{name}" for index in range(settings.sockets.total) for name in SOCKET_FEATURES]
    names += list(STATION_FEATURES)
    names += [f"pv_forecast_{k + 1}" for k in range(settings.control.forecast_hours)]
    names += [f"load_forecast_{k + 1}" for k in range(settings.control.forecast_hours)]
    if settings.control.action_space == "aggregated":
        names += [f"{VEHICLE_KINDS[group]}_{name}" for group in groups_present(settings) for name in GROUP_FEATURES]
    return names


def mall_peak_kwh(settings: Settings) -> float:
    """The modelled mall's peak over a step: the weekday profile's peak, scaled as the model scales
    the profile to the year's energy (before day, season and noise factors). Never 0."""
    profile = np.asarray(settings.mall.weekday_profile_kw, dtype=float)
    mean_kw = settings.mall.annual_energy_mwh * 1000.0 / HOURS_PER_YEAR
    return max(float(profile.max() / profile.mean() * mean_kw), 1.0) * HOURS_PER_STEP


def site_import_scale_kwh(settings: Settings) -> float:
    """The site's largest possible import over a step: the mall's modelled peak (when it shares the
    meter), every socket at rated power and the battery charging at full power, with no PV."""
    mall = mall_peak_kwh(settings) if settings.mall.enabled else 0.0
    sockets_kw = sum(
        settings.sockets.group(kind).count * settings.sockets.group(kind).power_kw for kind in VEHICLE_KINDS
    )
    return mall + (sockets_kw + settings.battery.power_kw) * HOURS_PER_STEP


def longest_stay_steps(settings: Settings) -> float:
    """No session outlasts the opening hours: the scale of countdowns and laxity."""
    return float(settings.opening_hours.close_hour - settings.opening_hours.open_hour) / HOURS_PER_STEP


def _cyclic(value: float, period: float) -> tuple[float, float]:
    angle = 2 * np.pi * value / period
    return float(np.sin(angle)), float(np.cos(angle))


def socket_features(state: StationState, stay_steps: float) -> np.ndarray:
    connected = state.connected
    needed = np.where(connected, energy_needed_kwh(state) / state.vehicle_capacity_kwh, 0.0)
    left = np.where(connected, state.steps_left / stay_steps, 0.0)
    laxity = np.where(connected, laxity_steps(state) / stay_steps, 0.0)
    return np.stack([connected.astype(float), needed, left, laxity], axis=1).ravel()


def station_features(state: StationState, settings: Settings) -> np.ndarray:
    pv_scale = settings.pv.inverter_ac_limit_kw * HOURS_PER_STEP
    load_scale = mall_peak_kwh(settings)
    peak_scale_kw = site_import_scale_kwh(settings) / HOURS_PER_STEP
    values = [
        *_cyclic(state.hour, HOURS_PER_DAY),
        *_cyclic(state.weekday, DAYS_PER_WEEK),
        state.pv_kwh / pv_scale,
        state.load_kwh / load_scale,
        state.battery_soc,
        state.tariff_pen_per_kwh / settings.tariff.peak_pen_per_kwh,
        state.emission_factor_kg_per_kwh / settings.emissions.grid_kg_per_kwh,
        state.billed_peak_window_kw / peak_scale_kw,
        state.billed_peak_any_kw / peak_scale_kw,
        state.idle_peak_window_kw / peak_scale_kw,
        state.idle_peak_any_kw / peak_scale_kw,
        state.hours_left_in_month / HOURS_PER_LONGEST_MONTH,
        state.hours_to_peak_window / HOURS_PER_DAY,
    ]
    return np.concatenate(
        [values, np.asarray(state.pv_forecast_kwh) / pv_scale, np.asarray(state.load_forecast_kwh) / load_scale]
    )


def group_features(state: StationState, settings: Settings, stay_steps: float) -> np.ndarray:
    connected = state.connected
    needed = np.where(connected, energy_needed_kwh(state), 0.0)
    floor_kwh = np.where(connected, floor_fraction(state) * state.kwh_per_step_at_full_power, 0.0)
    laxity = laxity_steps(state)
    values = []
    for group in groups_present(settings):
        members = state.socket_group == group
        present = members & connected
        sockets = max(int(members.sum()), 1)
        capacity = float(state.vehicle_capacity_kwh[members].max()) if members.any() else 1.0
        step_kwh = float(state.kwh_per_step_at_full_power[members].max()) if members.any() else 1.0
        least = float(laxity[present].min()) / stay_steps if present.any() else 1.0
        values += [
            present.sum() / sockets,
            needed[members].sum() / (sockets * capacity),
            floor_kwh[members].sum() / (sockets * step_kwh),
            least,
        ]
    return np.asarray(values, dtype=float)


def features(state: StationState, settings: Settings) -> np.ndarray:
    """The compact observation of `state` (float32, `observation_size(settings)` values)."""
    stay_steps = longest_stay_steps(settings)
    parts = [socket_features(state, stay_steps), station_features(state, settings)]
    if settings.control.action_space == "aggregated":
        parts.append(group_features(state, settings, stay_steps))
    return np.concatenate(parts).astype(np.float32)
