"""A vectorised simulator of exactly what CityLearn 3.0.2 computes for this project's datasets.

CityLearn steps the 128-socket station at 50-75 steps/s, almost all of it pure-Python per-charger
bookkeeping; the physics is a few vector operations per hour. `FastStationEnv` is a drop-in for
`evstation.simulation.citylearn_env.CentralAgentEnv` (same observation and action spaces, observation order and values,
reward, info, episode length) built from the same dataset folder, with numpy over sockets:

- what does not depend on the controller is worked out once (`fast_data`): exogenous series,
  each socket's session state for every step, the observation matrix's static columns;
- each step applies CityLearn's battery and charger physics (`fast_physics`) in its order and
  with its float32 storage, sums the bus as `Building.update_variables` does, and scores the step
  with the project's own reward functions (`evstation.problem.reward`), as `StationReward` does in CityLearn.

CityLearn behaviours reproduced on purpose (they are what the agents were trained against):
- observations of the battery SOC, the vehicles' SOC and net consumption show the previous step's
  result (`endogenous_t = t - 1`); on the reset observation net consumption is load - PV;
- a vehicle's SOC is reset at each plug-in (current SOC column; back-to-back sessions told apart by
  session id); on a session's first step CityLearn shows the SOC the vehicle had on the previous
  row: the previous visitor's final SOC when sessions are back to back, else the estimated
  arrival SOC (or the vehicle entry's initial SOC on row 0);
- the observation after the last step repeats the last pre-step observation (CityLearn does not
  advance its buildings on the terminal transition);
- no ramp penalty on an episode's first step;
- the reward's cost term adds the monthly demand charge each step causes (`BillingTariff.step_charge`),
  billed against the month's peaks since the episode's first step, as `StationReward` counts it;
  the same peaks (`billed_peaks`) go into the station state the learner sees.

Not simulated (NotImplementedError at construction): several buildings, noise, V2G, charger
efficiency curves, non-flat vehicle curves, vehicle standby loss or degradation, sub-hourly steps,
observations other than the project's. The station battery's standby loss and degradation are
simulated as CityLearn applies them.

Measured agreement with CityLearn (tests/test_fastsim.py on the 8-socket week;
scripts/check_fastsim_equality.py on the 128-socket, 8,760-step training year), under seeded random
actions, uncontrolled full-power charging and the rule-based controller: every per-step load, PV,
battery energy and SOC, charger draw, vehicle SOC, net consumption, import, tariff, emission
factor, observation (all 1,036 columns, reset and terminal included), reward and reward component,
and all 31 KPIs agree exactly (largest difference 0). No disagreement is left to document. The
station battery's standby loss and degradation, which params set to 0, were checked the same way
on the small station with them switched on (difference 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gymnasium
import numpy as np

from ..config import Reward, Settings, Tariff
from ..problem.reward import local_hour, reward_components, weighted
from ..schema import as_plain, build
from ..tariff.model import BillingTariff, MonthPeaks
from .fast_data import NO_SOC, StationData, load_station
from .fast_physics import StationBattery, charge_vehicles


@dataclass(frozen=True)
class FastStepFlows:
    """One step at the meter bus, as CityLearn accounts it (kWh over the step; float32 values)."""

    load_kwh: float
    pv_kwh: float  # generation, >= 0
    battery_kwh: float  # + charging, - discharging (grid side)
    net_kwh: float  # CityLearn's net consumption (float32)
    battery_soc: float  # after the step
    charger_kwh: np.ndarray  # per socket, drawn from the bus
    vehicle_soc: np.ndarray  # per socket after the step; NaN where no vehicle is plugged in

    @property
    def ev_kwh(self) -> float:
        return float(self.charger_kwh.astype(float).sum())


def float32_sum_of(values: np.ndarray) -> np.float32:
    """A float32 total accumulated in float64 in order, as CityLearn adds its chargers."""
    return np.float32(np.cumsum(values, dtype=float)[-1]) if len(values) else np.float32(0.0)


def bus_net_kwh(
    load_kwh: np.float32, battery_kwh: np.float32, pv_kwh: np.float32, chargers_kwh: np.float32
) -> np.float32:
    """Net consumption in CityLearn's float32 order: load + storage + (-PV) + chargers."""
    return np.float32(np.float32(np.float32(load_kwh + battery_kwh) + np.float32(-pv_kwh)) + chargers_kwh)


class FastStationEnv(gymnasium.Env):
    """The station as a gymnasium environment, numerically identical to `CentralAgentEnv` over
    CityLearn on the datasets `evstation build-dataset` writes."""

    metadata = {"render_modes": []}

    def __init__(self, data: StationData, reward: Reward, reward_scale: float = 1.0, *, billing: BillingTariff):
        self.data, self.reward_scale = data, reward_scale
        self.weights, self.scales = dict(reward.weights), as_plain(reward.scales)
        self.billing = billing
        # the generation charge's window by CityLearn's own calendar, as StationReward reads it; the
        # tariff is required even without demand rates, as the state's window peak is tracked here
        self.in_peak_window = np.array([billing.in_peak_hours(local_hour(hour)) for hour in data.hour])
        self.observation_space = gymnasium.spaces.Box(
            low=data.observation_low, high=data.observation_high, dtype=np.float32
        )
        self.action_space = gymnasium.spaces.Box(low=data.action_low, high=data.action_high, dtype=np.float32)
        self.observation_names = list(data.observation_names)
        self.charger_ids = list(data.charger_ids)
        self.battery = StationBattery(data.battery, data.hours_per_step)
        self.steps_per_episode = data.rows - 1
        self.last_flows: FastStepFlows | None = None
        self._reset_state()

    @classmethod
    def from_folder(
        cls, folder: str | Path, reward: Reward, reward_scale: float = 1.0, *, tariff: Tariff
    ) -> FastStationEnv:
        """The environment of a dataset folder under params' `reward` and `tariff` (the settings)."""
        return cls(load_station(Path(folder)), reward, reward_scale, billing=BillingTariff.from_settings(tariff))

    # ------------------------------------------------------------ gymnasium interface

    def reset(self, *, seed: int | None = None, options=None):
        """A new episode from step 0, or from `options["start_step"]` (a window of the year, e.g. a
        validation period: the battery starts at its initial SOC, as on 1 January; start it where no
        vehicle is plugged in, say at midnight, or the vehicles already there start empty)."""
        start = int((options or {}).get("start_step", 0))
        if not 0 <= start < self.steps_per_episode:
            raise ValueError(f"start_step {start}: outside the episode's {self.steps_per_episode} steps")
        self._reset_state(start)
        return self._observation.copy(), {}

    def step(self, action):
        action = np.asarray(action, dtype=float)
        step = self.time_step
        flows = self._simulate(step, action)
        reward, components = self._reward(step, flows)
        self.last_flows = flows
        terminated = step + 1 >= self.steps_per_episode
        if not terminated:
            self.battery.next_step()
            self.time_step = step + 1
            self._observation = self._observe(step + 1, flows)
        info = {"reward_unscaled": reward, "reward_components": components}
        return self._observation.copy(), reward * self.reward_scale, terminated, False, info

    # ------------------------------------------------------------ stopping and continuing a run

    def snapshot(self) -> dict:
        """The environment's whole mutable state (copies): with `restore`, a training run killed
        part-way through a year continues it exactly where it stopped. The dataset and the
        settings are rebuilt from their files; only what the steps change is here."""
        return {
            "time_step": self.time_step,
            "battery": self.battery.snapshot(),
            "vehicle_soc": self.vehicle_soc.copy(),
            "previous_import_kwh": self.previous_import_kwh,
            "observation": self._observation.copy(),
            "last_flows": self.last_flows,
            "episode_start": self.episode_start,
            "billed_peaks": self.billed_peaks,
        }

    def restore(self, state: dict) -> None:
        self.time_step = int(state["time_step"])
        self.battery.restore(state["battery"])
        self.vehicle_soc = np.array(state["vehicle_soc"])
        self.previous_import_kwh = state["previous_import_kwh"]
        self._observation = np.array(state["observation"])
        self.last_flows = state["last_flows"]
        self.episode_start = int(state["episode_start"])
        self.billed_peaks = state["billed_peaks"]

    # ------------------------------------------------------------ one step

    def _reset_state(self, start: int = 0) -> None:
        data = self.data
        self.time_step = self.episode_start = start
        self.battery.reset()
        self.billed_peaks = MonthPeaks()  # the month's billed peaks since the episode's first step
        self.last_demand_charge_pen = 0.0  # what the last step added to the month's demand charges
        self.vehicle_soc = np.zeros(len(data.charger_ids), dtype=np.float32)
        self.previous_import_kwh = None
        reset_net = bus_net_kwh(data.load_kwh[start], np.float32(0.0), data.pv_kwh[start], np.float32(0.0))
        self._observation = self._fill(start, reset_net, self.battery.soc, self.vehicle_soc)

    def _simulate(self, step: int, action: np.ndarray) -> FastStepFlows:
        data, sessions = self.data, self.data.sessions
        connected = sessions.connected[step]
        soc_before = np.where(sessions.new_session[step], sessions.arrival_soc[step], self.vehicle_soc)
        self.battery.charge(action[0])
        self.vehicle_soc, charger_kwh = charge_vehicles(
            soc_before, connected, action[1:], data.sockets, data.hours_per_step
        )
        net = bus_net_kwh(data.load_kwh[step], self.battery.energy_kwh, data.pv_kwh[step], float32_sum_of(charger_kwh))
        return FastStepFlows(
            load_kwh=float(data.load_kwh[step]),
            pv_kwh=float(data.pv_kwh[step]),
            battery_kwh=float(self.battery.energy_kwh),
            net_kwh=float(net),
            battery_soc=float(self.battery.soc),
            charger_kwh=charger_kwh,
            vehicle_soc=np.where(connected, self.vehicle_soc, np.nan),
        )

    def unmet_kwh(self, step: int) -> float:
        """After step `step`: the energy the vehicles leaving then missed at their required SOC (kWh)."""
        return self._unmet_kwh(step)

    def _unmet_kwh(self, step: int) -> float:
        """Energy missing at their required SOC from the vehicles leaving after this step
        (reward.unmet_departure_kwh, with CityLearn's float32 SOC difference)."""
        sessions = self.data.sessions
        missing = np.maximum(sessions.required_soc[step] - self.vehicle_soc, np.float32(0.0))
        unmet = np.where(sessions.leaving[step], missing.astype(float) * self.data.sockets.vehicle_capacity_kwh, 0.0)
        return float(np.cumsum(unmet)[-1]) if len(unmet) else 0.0

    def _reward(self, step: int, flows: FastStepFlows) -> tuple[float, dict[str, float]]:
        """StationReward.calculate on this step's flows."""
        import_kwh, surplus_kwh = max(flows.net_kwh, 0.0), max(-flows.net_kwh, 0.0)
        previous = import_kwh if self.previous_import_kwh is None else self.previous_import_kwh
        month, in_window = int(self.data.month[step]), bool(self.in_peak_window[step])
        demand_pen, billed_peaks = self.billing.step_charge(
            self.billed_peaks, month, import_kwh / self.data.hours_per_step, in_window
        )
        components = reward_components(
            import_kwh,
            surplus_kwh,
            float(self.data.carbon_intensity[step]),
            float(self.data.pricing[step]),
            self._unmet_kwh(step),
            previous,
            self.scales,
            demand_pen,
        )
        self.previous_import_kwh = import_kwh
        self.billed_peaks = billed_peaks
        self.last_demand_charge_pen = demand_pen
        return weighted(components, self.weights), components

    # ------------------------------------------------------------ observations

    def _observe(self, step: int, last: FastStepFlows) -> np.ndarray:
        """Observation before `step`: CityLearn shows the SOCs and net consumption of step - 1."""
        sessions = self.data.sessions
        first = sessions.first_observed_soc[step]
        vehicle = np.where(np.isnan(first), self.vehicle_soc, first)
        return self._fill(step, np.float32(last.net_kwh), np.float32(last.battery_soc), vehicle)

    def _fill(self, step: int, net_kwh: np.float32, battery_soc: np.float32, vehicle_soc: np.ndarray) -> np.ndarray:
        data = self.data
        row = data.observations[step].copy()
        if data.net_column is not None:
            row[data.net_column] = net_kwh
        if data.battery_soc_column is not None:
            row[data.battery_soc_column] = battery_soc
        if data.vehicle_soc_columns is not None:
            row[data.vehicle_soc_columns] = np.where(data.sessions.connected[step], vehicle_soc, np.float32(NO_SOC))
        return row


def make_fast_env(settings: Settings, folder: str | Path, reward_scale: float = 1.0) -> FastStationEnv:
    return FastStationEnv.from_folder(folder, settings.reward, reward_scale, tariff=settings.tariff)


def make_fast_training_env(settings_data: dict, folder: str, reward_scale: float = 1.0) -> FastStationEnv:
    """Build a fast training environment from plain data (so a subprocess can build its own copy),
    as `env.make_training_env` does for CityLearn."""

    return make_fast_env(build(Settings, settings_data), folder, reward_scale)
