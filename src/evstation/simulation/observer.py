"""The `StationState` of any step, built the same way from either simulator.

`StationObserver` reads a dataset folder once (the exogenous series and each socket's session
table, as `simulation.fast_data.load_station` reads them for the fast simulator) and turns the
only two things a controller cannot know in advance - the station battery's SOC and each vehicle's
SOC after the previous step - into a `StationState`. `state_from_fast_env` and
`state_from_citylearn` read those two things from the simulator at hand; everything else comes from
the dataset, so a controller sees the same state in training (fast twin) and in evaluation
(CityLearn). A vehicle's SOC on a session's first step is its arrival SOC from the session table,
never CityLearn's per-socket SOC observation, which lags by one visitor on back-to-back sessions.

The third thing the simulator decides, the month's billed peaks so far (what a step's demand charge
depends on, `BillingTariff.step_charge`), each builder reads from its simulator's imports: the fast twin
keeps them as it steps, CityLearn's are the maxima of its net consumption since the month's first
step; both are CityLearn's float32 values, so the two agree exactly. The idle site's peaks (mall
and PV only) and the billing clock come from the dataset.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import SPLITS, VEHICLE_KINDS, Settings
from ..control.station import StationState
from ..dataset import PROFILES_FILE, read_csv
from ..errors import DataError
from ..forecast.forecaster import Forecaster
from ..forecast.history import TRAINING_SPLIT, Calendar, means_of
from ..problem.learning_reward import baseline_import_kwh
from ..tariff.model import BillingTariff
from .citylearn_env import connected_vehicle_socs
from .fast_data import StationData, load_station


def socket_groups(charger_ids: tuple[str, ...]) -> np.ndarray:
    """Each socket's index into VEHICLE_KINDS, read from its charger id (`<kind>_<index>`)."""
    groups = []
    for charger in charger_ids:
        kind = charger.rsplit("_", 1)[0]
        if kind not in VEHICLE_KINDS:
            raise DataError(f"charger {charger}: its name names no vehicle kind ({', '.join(VEHICLE_KINDS)})")
        groups.append(VEHICLE_KINDS.index(kind))
    return np.array(groups, dtype=int)


def local_stamps(folder: Path, rows: int) -> pd.DatetimeIndex:
    """Local timestamp of every row, from the dataset's profile timestamps (CityLearn's padded
    terminal row, past the profiles, continues the clock)."""
    stamps = pd.to_datetime(read_csv(Path(folder) / PROFILES_FILE)["timestamp"], format="%Y-%m-%d %H:%M%z")
    if len(stamps) == 0:
        raise DataError(f"{folder / PROFILES_FILE}: no rows")
    if len(stamps) < rows:
        extra = pd.date_range(stamps.iloc[-1], periods=rows - len(stamps) + 1, freq="h")[1:]
        stamps = pd.concat([stamps, pd.Series(extra)], ignore_index=True)
    return pd.DatetimeIndex(stamps.iloc[:rows])


def station_forecaster(
    settings: Settings, folder: Path, data: StationData, stamps: pd.DatetimeIndex, billing: BillingTariff
) -> Forecaster:
    """The forecaster of the split in `folder`, on the series the simulators read, falling back on the
    training year beside it (a lone split with no training year beside it falls back on its own means)."""
    training_folder = folder.parent / TRAINING_SPLIT
    source = training_folder if (training_folder / PROFILES_FILE).is_file() else folder
    profiles = read_csv(source / PROFILES_FILE)
    means = means_of(profiles, Calendar.of(profiles, billing))
    split = folder.name if folder.name in SPLITS else TRAINING_SPLIT
    return Forecaster(settings.forecast, data.load_kwh, data.pv_kwh, Calendar.of_stamps(stamps, billing), means, split)


def calendar(folder: Path, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Local hour (0-23) and weekday (0 Monday) of every row."""
    stamps = local_stamps(folder, rows)
    return stamps.hour.to_numpy(dtype=int), stamps.dayofweek.to_numpy(dtype=int)


def idle_import_kw(data: StationData) -> np.ndarray:
    """Each row's import with sockets and battery idle (the learning reward's baseline), in kW."""
    return (
        np.array([baseline_import_kwh(float(load), float(pv)) for load, pv in zip(data.load_kwh, data.pv_kwh)])
        / data.hours_per_step
    )


def energy_at_full_power_kwh(data: StationData) -> np.ndarray:
    """Energy one step at the socket's rated power puts into its vehicle's battery, as CityLearn
    charges it: the charger's efficiency, then the vehicle's one-way efficiency.

    The control layer takes a socket's action as linear in that energy (a fraction `a` of rated
    power puts `a` times this into the battery, until it is full). That holds while the vehicle
    accepts all the charger offers and no minimum power cuts small actions to 0, as in every
    dataset this project writes; anything else is refused rather than controlled wrongly."""
    sockets, hours = data.sockets, data.hours_per_step
    offered_kwh = sockets.max_power_kw * sockets.charger_efficiency * hours
    if (sockets.vehicle_max_power_kw * hours < offered_kwh).any():
        raise NotImplementedError("a vehicle accepting less power than its charger offers is not controlled")
    if sockets.min_power_kw.any():
        raise NotImplementedError("chargers with a minimum charging power are not controlled")
    return offered_kwh * sockets.vehicle_root_efficiency


class StationObserver:
    """The station's static part, read once from a dataset folder; `state` adds the dynamic part."""

    def __init__(
        self,
        settings: Settings,
        folder: str | Path,
        data: StationData | None = None,
        *,
        without_solar: bool = False,
    ):
        self.folder = Path(folder)
        self.data = data if data is not None else load_station(self.folder)
        if without_solar:  # the without-solar run sets the PV to 0 kWp in CityLearn: its state says so too
            self.data = replace(self.data, pv_kwh=np.zeros_like(self.data.pv_kwh))
        self.forecast_hours = settings.control.forecast_hours
        stamps = local_stamps(self.folder, self.data.rows)
        self.hour, self.weekday = stamps.hour.to_numpy(dtype=int), stamps.dayofweek.to_numpy(dtype=int)
        self.billing = BillingTariff.from_settings(settings.tariff)
        self.forecaster = station_forecaster(settings, self.folder, self.data, stamps, self.billing)
        self.clock = self.billing.clock(stamps)
        self.month_start = self.billing.month_starts(self.clock["month"])
        self.idle_import_kw = idle_import_kw(self.data)
        self._idle_peaks: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.socket_group = socket_groups(self.data.charger_ids)
        self.kwh_per_step_at_full_power = energy_at_full_power_kwh(self.data)
        battery = self.data.battery
        self.battery_min_soc = float(np.clip(1.0 - battery.depth_of_discharge, 0.0, 1.0))
        # the least efficiency on the curve: a battery limit worked out from it is never too generous
        self.battery_root_efficiency = float(np.min(battery.efficiency_curve[1])) ** 0.5

    @property
    def steps(self) -> int:
        """Steps in an episode (CityLearn's rows less its terminal one)."""
        return self.data.rows - 1

    def forecasts_kwh(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """The load and PV of the next `forecast_hours` rows after `step` as the station's forecaster gives
        them (params `forecast`; the last row repeated past the episode's end)."""
        rows = np.minimum(np.arange(step, step + 1 + self.forecast_hours), self.data.rows - 1)
        load, pv = self.forecaster.window(rows, float(self.data.load_kwh[step]), float(self.data.pv_kwh[step]))
        return load[1:], pv[1:]

    def first_billed_step(self, step: int, episode_start: int = 0) -> int:
        """The first step whose import counts in `step`'s month-to-date peaks: the month's first, or
        the episode's when it started later in the month (a window of the year is billed from its start)."""
        return max(int(self.month_start[step]), episode_start)

    def idle_peaks_before(self, step: int, episode_start: int = 0) -> tuple[float, float]:
        """The idle site's month-to-date (peak-window, any-hour) peaks before `step` (kW); worked out
        once per episode start, as the idle site's imports are known in advance."""
        if episode_start not in self._idle_peaks:
            self._idle_peaks[episode_start] = self.billing.running_peaks_before(
                self.idle_import_kw, self.clock["month"], self.clock["in_window"], episode_start
            )
        window, any_hour = self._idle_peaks[episode_start]
        return float(window[step]), float(any_hour[step])

    def state(
        self,
        step: int,
        battery_soc: float,
        vehicle_soc_after_previous_step: np.ndarray,
        billed_peaks_kw: tuple[float, float] = (0.0, 0.0),
        episode_start: int = 0,
    ) -> StationState:
        """The station before `step`: the battery's SOC now, each vehicle's SOC after the previous
        step (ignored where a session starts now: the vehicle arrives with its own), and the site's
        month-to-date billed (peak-window, any-hour) peaks in kW over the steps before this one."""
        if not 0 <= step < self.steps:
            raise DataError(f"step {step}: outside the episode's {self.steps} steps")
        if not 0 <= episode_start <= step:
            raise DataError(f"episode start {episode_start}: after step {step}")
        clock = self.clock
        idle_window_kw, idle_any_kw = self.idle_peaks_before(step, episode_start)
        data, sessions = self.data, self.data.sessions
        connected = sessions.connected[step]
        soc = np.where(
            sessions.new_session[step],
            sessions.arrival_soc[step],
            np.asarray(vehicle_soc_after_previous_step, dtype=np.float32),
        )
        battery = data.battery
        load_forecast_kwh, pv_forecast_kwh = self.forecasts_kwh(step)
        return StationState(
            step=step,
            hour=int(self.hour[step]),
            weekday=int(self.weekday[step]),
            load_kwh=float(data.load_kwh[step]),
            pv_kwh=float(data.pv_kwh[step]),
            tariff_pen_per_kwh=float(data.pricing[step]),
            emission_factor_kg_per_kwh=float(data.carbon_intensity[step]),
            load_forecast_kwh=load_forecast_kwh,
            pv_forecast_kwh=pv_forecast_kwh,
            battery_soc=float(battery_soc),
            battery_capacity_kwh=float(battery.capacity_kwh),
            battery_power_kw=float(battery.nominal_power_kw),
            battery_min_soc=self.battery_min_soc,
            battery_root_efficiency=self.battery_root_efficiency,
            socket_group=self.socket_group,
            connected=connected.copy(),
            vehicle_soc=np.where(connected, soc, 0.0).astype(float),
            required_soc=np.where(connected, sessions.required_soc[step], 0.0).astype(float),
            vehicle_capacity_kwh=data.sockets.vehicle_capacity_kwh,
            steps_left=np.where(connected, np.maximum(sessions.departure_steps[step], 0), 0).astype(int),
            socket_power_kw=data.sockets.max_power_kw,
            kwh_per_step_at_full_power=self.kwh_per_step_at_full_power,
            month=int(clock["month"][step]),
            hours_left_in_month=int(clock["hours_left_in_month"][step]),
            in_peak_window=bool(clock["in_window"][step]),
            hours_to_peak_window=int(clock["hours_to_peak_window"][step]),
            billed_peak_window_kw=float(billed_peaks_kw[0]),
            billed_peak_any_kw=float(billed_peaks_kw[1]),
            idle_peak_window_kw=idle_window_kw,
            idle_peak_any_kw=idle_any_kw,
        )


def state_from_fast_env(observer: StationObserver, env) -> StationState:
    """The state of a `FastStationEnv` before its next step."""
    step = env.time_step
    peaks = env.billed_peaks.before(int(observer.clock["month"][step]))
    return observer.state(
        step, float(env.battery.soc), env.vehicle_soc, (peaks.window_kw, peaks.any_kw), env.episode_start
    )


def citylearn_billed_peaks_kw(observer: StationObserver, citylearn_env, step: int) -> tuple[float, float]:
    """The month-to-date (peak-window, any-hour) billed peaks before `step` from CityLearn's own net
    consumption of the steps taken (its episodes start on the dataset's first step)."""
    net_kwh = np.asarray(citylearn_env.buildings[0].net_electricity_consumption[:step], dtype=float)
    import_kw = np.maximum(net_kwh, 0.0) / observer.data.hours_per_step
    return observer.billing.peaks_before(import_kw, observer.clock["in_window"], observer.first_billed_step(step), step)


def state_from_citylearn(observer: StationObserver, citylearn_env, step: int) -> StationState:
    """The state of CityLearn's environment before step `step`: the battery's SOC as it will charge
    from, and each vehicle's true SOC after the previous step (not the lagging SOC observation)."""

    if citylearn_env.time_step != step:
        raise ValueError(f"CityLearn is before step {citylearn_env.time_step}, not {step}")
    building = citylearn_env.buildings[0]
    # CityLearn writes the SOC a step starts from (after standby loss) into its row at the step change
    battery_soc = float(building.electrical_storage.soc[step])
    vehicles = np.zeros(observer.data.sessions.connected.shape[1], dtype=np.float32)
    if step > 0:
        previous = connected_vehicle_socs(citylearn_env, step - 1)
        vehicles = np.array([0.0 if soc is None else soc for soc in previous], dtype=np.float32)
    return observer.state(step, battery_soc, vehicles, citylearn_billed_peaks_kw(observer, citylearn_env, step))
