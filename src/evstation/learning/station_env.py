"""The station as a learner sees it: `control` settings applied around either simulator.

`LearnerEnv` wraps the fast simulator (`FastStationEnv`, training) or CityLearn (`CentralAgentEnv`,
the `citylearn` backend) and poses the problem of params `control`:

- the action space is `ActionPipeline.policy_action_space` (symmetric and/or aggregated), and each
  policy action goes through the pipeline (affine map, aggregated decode, feasibility floor,
  battery cut) before the simulator sees it;
- the observation is the compact feature vector of the `StationState` (`control.features`) or
  the raw CityLearn observation;
- the reward is the learning reward (`control.learning_reward`: marginal) or the station's own,
  times the agent's reward scale; `info` keeps the unscaled learning reward (`reward_unscaled`,
  with its components in `reward_components`, which the learning curve averages), the station
  reward (`reward_station`, `reward_station_components`) and the layer's stats (`layer`);
- an episode covers a window of the year: training stops `model_selection.validation_days` before
  the year's end (the episode is truncated there), the validation environment starts there.

`PolicyController` replays a trained policy in CityLearn with the same features and pipeline, from
the `StationState` the runner passes, so the policy is seen and corrected identically in training
and in evaluation.
"""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import gymnasium
import numpy as np

from ..config import Settings
from ..control.mpc import MpcController
from ..control.station import StationState
from ..dataset import read_dataset
from ..errors import DataError
from ..forecast.history import training_profiles
from ..problem.actions import ActionPipeline
from ..problem.features import features, observation_size
from ..problem.learning_reward import LearningReferences, MarginalReward
from ..schema import build
from ..simulation.citylearn_env import CentralAgentEnv, connected_vehicle_socs, make_station_env, read_step
from ..simulation.fast_env import FastStationEnv
from ..simulation.observer import StationObserver, state_from_citylearn, state_from_fast_env

HOURS_PER_DAY = 24


def unreadable(path: Path, what: str, error: Exception) -> DataError:
    """A file that passed its recorded hash but does not load (written so): one line naming it."""
    detail = (str(error).strip().splitlines() or [""])[0][:200]
    return DataError(f"{path}: not {what} this code can load ({type(error).__name__}: {detail})")


def validation_start_step(settings: Settings, steps: int) -> int:
    """First step of the validation window: `validation_days` whole days before the episode's end
    (the end of the training year); `steps` when model selection is off. Whole days from 1 January
    00:00, so the window starts at midnight, when the station is closed and no vehicle is plugged in."""
    days = settings.control.model_selection.validation_days
    return max(steps - days * HOURS_PER_DAY, 0) if days else steps


def layer_record(stats) -> dict:
    """The pipeline's per-step stats as plain numbers (for `info` and the runner's timeseries)."""
    if stats is None:
        return {}
    values = dataclasses.asdict(stats) if dataclasses.is_dataclass(stats) else dict(stats)
    return {name: float(value) for name, value in values.items()}


def residual_planner(settings: Settings, folder: Path) -> MpcController | None:
    """The planner a `control.residual: mpc` policy corrects, planning on the dataset in `folder` (a split
    of the scenario's dataset) with the station's forecaster; None for any other residual."""
    if settings.control.residual != "mpc":
        return None
    folder = Path(folder)
    return MpcController(
        settings, read_dataset(folder).profiles, training_profiles(settings, folder.parent), folder.name
    )


class LearnerEnv(gymnasium.Wrapper):
    """A simulator of the station with params `control` applied; see the module's docstring."""

    def __init__(
        self,
        env,
        settings: Settings,
        observer: StationObserver,
        *,
        reward_scale: float = 1.0,
        start_step: int = 0,
        end_step: int | None = None,
        planner: MpcController | None = None,
    ):
        super().__init__(env)
        self.settings, self.observer, self.reward_scale = settings, observer, reward_scale
        self.fast = isinstance(env.unwrapped, FastStationEnv)
        self.start_step = start_step
        self.end_step = observer.steps if end_step is None else end_step
        if not 0 <= start_step < self.end_step <= observer.steps:
            raise ValueError(f"episode window [{start_step}, {end_step}) outside the {observer.steps} steps")
        if start_step and not self.fast:
            raise ValueError("CityLearn episodes start on 1 January: a later window needs the fast simulator")
        self.pipeline = ActionPipeline(settings, planner)
        self.action_space = self.pipeline.policy_action_space
        self.compact = settings.control.observation == "compact"
        if self.compact:
            size = observation_size(settings)
            self.observation_space = gymnasium.spaces.Box(-np.inf, np.inf, shape=(size,), dtype=np.float32)
        self.marginal = (
            MarginalReward(LearningReferences.from_settings(settings))
            if settings.control.learning_reward == "marginal"
            else None
        )
        self.state: StationState | None = None

    # ------------------------------------------------------------ reading the simulator

    def _read_state(self) -> StationState:
        if self.fast:
            return state_from_fast_env(self.observer, self.env.unwrapped)
        citylearn = self.env.unwrapped.env
        return state_from_citylearn(self.observer, citylearn, citylearn.time_step)

    def _step_result(self, step: int) -> tuple[float, np.ndarray]:
        """The meter net and each vehicle's SOC after the step just taken (NaN where none)."""
        if self.fast:
            flows = self.env.unwrapped.last_flows
            return flows.net_kwh, flows.vehicle_soc
        citylearn = self.env.unwrapped.env
        flows = read_step(citylearn, step)
        socs = np.array([np.nan if soc is None else soc for soc in connected_vehicle_socs(citylearn, step)])
        return flows.load_kwh + flows.ev_kwh + flows.battery_kwh - flows.pv_kwh, socs

    def _observe(self, raw: np.ndarray) -> np.ndarray:
        return features(self.state, self.settings) if self.compact else raw

    # ------------------------------------------------------------ gymnasium interface

    def reset(self, *, seed: int | None = None, options=None):
        options = {"start_step": self.start_step} if self.start_step else None
        raw, info = self.env.reset(seed=seed, options=options)
        if self.marginal is not None:
            self.marginal.reset()
        self.state = self._read_state()
        return self._observe(raw), info

    def step(self, action):
        state = self.state
        citylearn_action, stats = self.pipeline.to_citylearn(np.asarray(action, dtype=float), state)
        raw, _, terminated, truncated, info = self.env.step(citylearn_action)
        station_reward, station_components = info["reward_unscaled"], info["reward_components"]
        if self.marginal is not None:
            net_kwh, soc_after = self._step_result(state.step)
            reward, components = self.marginal(state, net_kwh, soc_after)
        else:
            reward, components = station_reward, station_components
        next_step = state.step + 1
        truncated = bool(truncated) or (not terminated and next_step >= self.end_step)
        if not terminated:
            self.state = self._read_state()
        info = {
            "reward_unscaled": reward,
            "reward_components": components,
            "reward_station": station_reward,
            "reward_station_components": station_components,
            "layer": layer_record(stats),
        }
        return self._observe(raw), reward * self.reward_scale, bool(terminated), truncated, info

    # ------------------------------------------------------------ exact resume

    def snapshot(self) -> dict:
        """What this wrapper carries between steps (the simulator's own state is saved apart)."""
        return {"marginal": None if self.marginal is None else self.marginal.snapshot()}

    def restore(self, snapshot: dict) -> None:
        if self.marginal is not None and snapshot.get("marginal") is not None:
            self.marginal.restore(snapshot["marginal"])
        self.state = self._read_state()


def make_learner_env(
    settings: Settings, folder: str | Path, *, reward_scale: float = 1.0, backend: str = "fast", window: str = "train"
) -> LearnerEnv:
    """The learner's environment on the dataset in `folder`: `window` "train" stops before the
    validation period, "validation" is that period only, "year" the whole episode."""
    folder = Path(folder)
    if backend == "fast":
        simulator = FastStationEnv.from_folder(folder, settings.reward, tariff=settings.tariff)
        observer = StationObserver(settings, folder, data=simulator.data)
    else:
        simulator = CentralAgentEnv(make_station_env(settings, folder))
        observer = StationObserver(settings, folder)
    start = validation_start_step(settings, observer.steps)
    if window == "validation" and start >= observer.steps:
        raise ValueError("control.model_selection.validation_days is 0: there is no validation window")
    bounds = {"train": (0, start), "validation": (start, observer.steps), "year": (0, observer.steps)}[window]
    return LearnerEnv(
        simulator,
        settings,
        observer,
        reward_scale=reward_scale,
        start_step=bounds[0],
        end_step=bounds[1],
        planner=residual_planner(settings, folder),
    )


def make_training_env(settings_data: dict, folder: str, reward_scale: float = 1.0, backend: str = "fast") -> LearnerEnv:
    """A training environment from plain data (so a subprocess can build its own copy)."""

    return make_learner_env(build(Settings, settings_data), folder, reward_scale=reward_scale, backend=backend)


class PolicyController:
    """A trained policy as a controller in CityLearn: the same observation (compact features of the
    StationState the runner passes, or CityLearn's raw values) normalised with the statistics saved
    beside the model, the deterministic action, and the same action pipeline as in training."""

    def __init__(
        self,
        agent: str,
        model_path: Path,
        normalization_path: Path,
        settings: Settings,
        device: str = "cpu",
        *,
        planner: MpcController | None = None,
    ):
        from . import agents

        self.name = agent
        self.settings = settings
        try:
            self.model = agents.MODEL_CLASSES[agent].load(model_path, device=device)
        except Exception as error:  # any garbage: the zip and pickle readers raise what the bytes lead to
            raise unreadable(model_path, f"a {agent} model", error) from None
        try:
            with open(normalization_path, "rb") as stream:
                self.normalization = pickle.load(stream)
            observations = int(np.prod(self.normalization.obs_rms.mean.shape))
        except Exception as error:
            raise unreadable(normalization_path, "normalisation statistics", error) from None
        self.pipeline = ActionPipeline(settings, planner)
        self.last_stats = None
        self.observations = int(np.prod(self.model.observation_space.shape))
        if observations != self.observations:
            raise DataError(
                f"{normalization_path}: statistics of {observations} observations, "
                f"the model beside it takes {self.observations}"
            )
        self._check_size("actions", self.model.action_space.shape, self.pipeline.policy_action_space.shape)
        if settings.control.observation == "compact":
            self._check_size("observations", self.model.observation_space.shape, (observation_size(settings),))

    def _check_size(self, what: str, trained: tuple, station: tuple) -> None:
        """A model trained for another station (other sockets, features) is refused in one line."""
        if tuple(trained) != tuple(station):
            raise DataError(
                f"{self.name}: the model takes {what} of shape {tuple(trained)}, this station's are "
                f"{tuple(station)} (trained for another station: sockets or control settings differ)"
            )

    def reset(self) -> None:
        self.last_stats = None

    def act(self, observation, step: int, state: StationState | None = None) -> np.ndarray:
        if state is None:
            raise ValueError(f"{self.name}: the policy needs the station's state (runner passes it)")
        if self.settings.control.observation == "compact":
            values = features(state, self.settings)
        else:
            values = np.fromiter(observation.values(), dtype=np.float32, count=len(observation))
        if values.shape[0] != self.observations:
            self._check_size("observations", (self.observations,), values.shape)
        normalized = self.normalization.normalize_obs(values[None, :])
        action, _ = self.model.predict(normalized, deterministic=True)
        citylearn_action, self.last_stats = self.pipeline.to_citylearn(np.asarray(action[0], dtype=float), state)
        return np.asarray(citylearn_action, dtype=float)
