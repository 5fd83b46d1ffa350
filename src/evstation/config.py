"""The station's settings: params.yaml loaded into frozen, typed, validated dataclasses.

Every number the pipeline uses lives in params.yaml; this module only says what shape and range
each one must have. Units are in the key names (`_kw`, `_kwh`, `_pct`, `_deg`, ...). Fractions
that CityLearn wants in 0..1 are kept in percent here and converted where they are written.
"""

from __future__ import annotations

import calendar
import copy
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError

from .errors import ConfigError
from .schema import as_plain, bounded, build

SPLITS = ("train", "eval")
VEHICLE_KINDS = ("moto", "mototaxi")
REWARD_COMPONENTS = ("co2", "solar", "cost", "ev_satisfaction", "grid_stability")
WEIGHT_SUM_TOLERANCE = 1e-9
# A scenario's name becomes a folder and a Snakemake wildcard: letters, digits and underscores.
SCENARIO_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# What "best" means in a scenario's comparison: the least grid CO2, or the smallest bill.
Objective = Literal["grid_co2", "bill"]
# A user's input files, one per split: {train: path, eval: path}; null where the model generates it.
SplitFiles = Mapping[str, str] | None


def check_split_files(files: SplitFiles, path: str) -> None:
    if files is not None and tuple(files) != SPLITS:
        raise ConfigError(
            f"{path}: needs one file per split, keys {', '.join(SPLITS)} in that order, "
            f"got {', '.join(files) or 'none'}"
        )


@dataclass(frozen=True)
class Site:
    latitude_deg: float = bounded(ge=-90, le=90)
    longitude_deg: float = bounded(ge=-180, le=180)
    altitude_m: float = bounded(ge=-500, le=9000)
    utc_offset_h: float = bounded(ge=-12, le=14)


@dataclass(frozen=True)
class Simulation:
    horizon_hours: int = bounded(ge=24, le=8760)
    # the training year's figures of the baselines and the oracle: fast (the numpy twin, proven equal to
    # CityLearn) | citylearn; the held-out year is always simulated in CityLearn
    training_year_simulator: Literal["fast", "citylearn"]

    def check(self, path: str) -> None:
        if self.horizon_hours % 24:
            raise ConfigError(f"{path}.horizon_hours: must be whole days (a multiple of 24), got {self.horizon_hours}")


@dataclass(frozen=True)
class Split:
    year: int = bounded(ge=1950, le=2100)
    seed: int = bounded(ge=0)

    def check(self, path: str) -> None:
        if calendar.isleap(self.year):
            raise ConfigError(f"{path}.year: {self.year} is a leap year; a simulated year must have 8,760 hours")


@dataclass(frozen=True)
class Weather:
    source: Literal["synthetic", "file"]  # synthetic (clear sky + seeded clouds) | file (one per split)
    files: SplitFiles  # PVGIS TMY (csv, json, epw) or a plain CSV per split
    annual_ghi_kwh_m2: float = bounded(gt=0, le=3000)
    cloud_daily_mean_clearness: float = bounded(gt=0, le=1)
    cloud_daily_concentration: float = bounded(gt=0)
    cloud_hourly_sigma: float = bounded(ge=0, le=1)
    cloud_hourly_autocorrelation: float = bounded(ge=0, lt=1)
    air_temperature_mean_c: float = bounded(ge=-50, le=50)
    air_temperature_diurnal_amplitude_c: float = bounded(ge=0, le=30)
    air_temperature_noise_c: float = bounded(ge=0, le=10)
    relative_humidity_pct: float = bounded(ge=0, le=100)
    wind_speed_m_s: float = bounded(ge=0, le=60)

    def check(self, path: str) -> None:
        check_split_files(self.files, f"{path}.files")
        if self.source == "file" and not self.files:
            raise ConfigError(f"{path}.files: required when {path}.source is file")


@dataclass(frozen=True)
class PV:
    dc_capacity_kwp: float = bounded(ge=0)
    tilt_deg: float = bounded(ge=0, le=90)
    azimuth_deg: float = bounded(ge=0, lt=360)
    albedo: float = bounded(ge=0, le=1)
    system_losses_pct: float = bounded(ge=0, lt=100)
    temperature_coefficient_pct_per_c: float = bounded(ge=-2, le=0)
    cell_temperature_model: Literal[
        "open_rack_glass_glass", "close_mount_glass_glass", "open_rack_glass_polymer", "insulated_back_glass_polymer"
    ]
    inverter_ac_limit_kw: float = bounded(gt=0)
    inverter_nominal_efficiency_pct: float = bounded(gt=0, le=100)


@dataclass(frozen=True)
class Battery:
    capacity_kwh: float = bounded(gt=0)
    power_kw: float = bounded(gt=0)
    round_trip_efficiency_pct: float = bounded(gt=0, le=100)
    min_soc_pct: float = bounded(ge=0, lt=100)
    initial_soc_pct: float = bounded(ge=0, le=100)
    standby_loss_pct_per_step: float = bounded(ge=0, lt=100)
    capacity_fade_pct_per_cycle: float = bounded(ge=0, lt=100)

    def check(self, path: str) -> None:
        if self.initial_soc_pct < self.min_soc_pct:
            raise ConfigError(f"{path}.initial_soc_pct: {self.initial_soc_pct} is below min_soc_pct {self.min_soc_pct}")


@dataclass(frozen=True)
class SocketGroup:
    count: int = bounded(ge=0, le=10000)
    power_kw: float = bounded(gt=0)


@dataclass(frozen=True)
class Sockets:
    moto: SocketGroup
    mototaxi: SocketGroup
    efficiency_pct: float = bounded(gt=0, le=100)

    def group(self, kind: str) -> SocketGroup:
        return getattr(self, kind)

    @property
    def total(self) -> int:
        return self.moto.count + self.mototaxi.count

    def check(self, path: str) -> None:
        if self.total == 0:
            raise ConfigError(f"{path}: at least one socket is needed")


@dataclass(frozen=True)
class Vehicle:
    battery_kwh: float = bounded(gt=0)
    arrival_soc_pct: float = bounded(ge=0, lt=100)
    arrival_soc_spread_pct: float = bounded(ge=0, le=50)
    required_soc_pct: float = bounded(gt=0, le=100)

    def check(self, path: str) -> None:
        lowest, highest = (
            self.arrival_soc_pct - self.arrival_soc_spread_pct,
            self.arrival_soc_pct + self.arrival_soc_spread_pct,
        )
        if lowest < 0:
            raise ConfigError(f"{path}.arrival_soc_spread_pct: arrival SOC could fall below 0 %")
        if highest >= self.required_soc_pct:
            raise ConfigError(f"{path}.required_soc_pct: must exceed the highest arrival SOC ({highest} %)")


@dataclass(frozen=True)
class Vehicles:
    moto: Vehicle
    mototaxi: Vehicle

    def kind(self, kind: str) -> Vehicle:
        return getattr(self, kind)


@dataclass(frozen=True)
class OpeningHours:
    open_hour: int = bounded(ge=0, le=23)
    close_hour: int = bounded(ge=1, le=24)
    evening_peak_start_hour: int = bounded(ge=0, le=23)
    evening_peak_end_hour: int = bounded(ge=1, le=24)

    def check(self, path: str) -> None:
        if self.close_hour <= self.open_hour:
            raise ConfigError(f"{path}.close_hour: must be after open_hour ({self.open_hour})")
        if not (self.open_hour <= self.evening_peak_start_hour < self.evening_peak_end_hour <= self.close_hour):
            raise ConfigError(f"{path}.evening_peak_start_hour: the evening peak must lie inside opening hours")


@dataclass(frozen=True)
class Fleet:
    daily_arrivals: Mapping[str, float]
    evening_peak_share_pct: float = bounded(ge=0, le=100)
    daily_volume_spread_pct: float = bounded(ge=0, le=100)
    sunday_volume_factor: float = bounded(ge=0, le=5)
    stay_slack_steps_min: int = bounded(ge=0, le=24)
    stay_slack_steps_max: int = bounded(ge=0, le=24)
    sessions_files: SplitFiles  # the sessions of each split from a file instead of the model

    def check(self, path: str) -> None:
        check_split_files(self.sessions_files, f"{path}.sessions_files")
        if set(self.daily_arrivals) != set(VEHICLE_KINDS):
            raise ConfigError(f"{path}.daily_arrivals: needs exactly the kinds {', '.join(VEHICLE_KINDS)}")
        for kind, count in self.daily_arrivals.items():
            if count < 0:
                raise ConfigError(f"{path}.daily_arrivals.{kind}: must be >= 0, got {count}")
        if self.stay_slack_steps_max < self.stay_slack_steps_min:
            raise ConfigError(f"{path}.stay_slack_steps_max: must be >= stay_slack_steps_min")


@dataclass(frozen=True)
class Mall:
    enabled: bool  # false: no load but the station's behind the meter
    load_files: SplitFiles  # the site's hourly load of each split instead of the model
    annual_energy_mwh: float = bounded(ge=0)
    weekday_profile_kw: tuple[float, ...] = bounded(ge=0)
    sunday_factor: float = bounded(ge=0, le=2)
    seasonal_amplitude_pct: float = bounded(ge=0, lt=100)
    noise_pct: float = bounded(ge=0, lt=50)

    def check(self, path: str) -> None:
        check_split_files(self.load_files, f"{path}.load_files")
        if len(self.weekday_profile_kw) != 24:
            raise ConfigError(f"{path}.weekday_profile_kw: needs 24 hourly values, got {len(self.weekday_profile_kw)}")
        if sum(self.weekday_profile_kw) <= 0:
            raise ConfigError(f"{path}.weekday_profile_kw: all values are zero")


@dataclass(frozen=True)
class DemandCharges:
    """Monthly charges per kW of billed demand (Osinergmin MT2/MT3/MT4 style); 0 = none."""

    generation_pen_per_kw_month: float = bounded(ge=0)  # on the month's largest hourly import in the peak hours
    distribution_pen_per_kw_month: float = bounded(ge=0)  # on the month's largest hourly import at any hour


@dataclass(frozen=True)
class Tariff:
    peak_pen_per_kwh: float = bounded(ge=0)
    offpeak_pen_per_kwh: float = bounded(ge=0)
    peak_start_hour: int = bounded(ge=0, le=23)
    peak_end_hour: int = bounded(ge=1, le=24)
    energy_price_files: SplitFiles  # hourly PEN/kWh of each split instead of the two prices
    demand: DemandCharges
    export_enabled: bool
    export_pen_per_kwh: float = bounded(ge=0)

    def check(self, path: str) -> None:
        if self.peak_end_hour <= self.peak_start_hour:
            raise ConfigError(f"{path}.peak_end_hour: must be after peak_start_hour")
        check_split_files(self.energy_price_files, f"{path}.energy_price_files")
        if self.export_enabled:
            raise ConfigError(
                f"{path}.export_enabled: export is not modelled (surplus PV is curtailed and never "
                f"credited); set it to false"
            )


@dataclass(frozen=True)
class Emissions:
    grid_kg_per_kwh: float = bounded(ge=0, le=2)
    grid_factor_files: SplitFiles  # hourly kg CO2/kWh of each split instead of the constant
    ev_km_per_kwh: float = bounded(gt=0)
    gasoline_km_per_gal: float = bounded(gt=0)
    gasoline_kg_per_gal: float = bounded(gt=0)

    def check(self, path: str) -> None:
        check_split_files(self.grid_factor_files, f"{path}.grid_factor_files")

    @property
    def gasoline_avoided_kg_per_kwh(self) -> float:
        """CO2 of the gasoline an EV's kWh replaces (gross: grid emissions are counted elsewhere)."""
        return self.ev_km_per_kwh / self.gasoline_km_per_gal * self.gasoline_kg_per_gal


@dataclass(frozen=True)
class InputLimits:
    """The largest plausible value of a column of a user's files (site/inputs.py refuses one above it, naming
    the key): far above a real site's values, far below the same values in a wrong unit (W for kWh, g for kg)."""

    load_kwh_max: float = bounded(gt=0)  # mall.load_files: kWh in one hour
    irradiance_w_per_m2_max: float = bounded(gt=0)  # weather files: GHI, DNI and DHI, hourly means
    price_pen_per_kwh_max: float = bounded(gt=0)  # tariff.energy_price_files
    emission_factor_kg_per_kwh_max: float = bounded(gt=0)  # emissions.grid_factor_files


@dataclass(frozen=True)
class Inputs:
    limits: InputLimits


@dataclass(frozen=True)
class Validation:
    pv_yield_kwh_per_kwp: tuple[float, float] = bounded(ge=0)
    performance_ratio: tuple[float, float] = bounded(ge=0)
    mall_energy_tolerance_pct: float = bounded(ge=0)
    soc_tolerance_pct: float = bounded(ge=0)
    energy_balance_tolerance_kwh: float = bounded(gt=0)
    rollout_steps: int = bounded(ge=2)

    def check(self, path: str) -> None:
        for name in ("pv_yield_kwh_per_kwp", "performance_ratio"):
            low, high = getattr(self, name)
            if low > high:
                raise ConfigError(f"{path}.{name}: the lower limit {low} is above the upper limit {high}")


@dataclass(frozen=True)
class RewardScales:
    co2_kg: float = bounded(gt=0)
    solar_surplus_kwh: float = bounded(gt=0)
    cost_pen: float = bounded(gt=0)
    ev_unmet_kwh: float = bounded(gt=0)
    ramp_kwh: float = bounded(gt=0)


@dataclass(frozen=True)
class Reward:
    weights: Mapping[str, float]
    scales: RewardScales

    def check(self, path: str) -> None:
        if set(self.weights) != set(REWARD_COMPONENTS):
            missing = sorted(set(REWARD_COMPONENTS) - set(self.weights))
            extra = sorted(set(self.weights) - set(REWARD_COMPONENTS))
            detail = f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(extra)}"
            raise ConfigError(f"{path}.weights: {detail} (components: {', '.join(REWARD_COMPONENTS)})")
        for name, weight in self.weights.items():
            if weight < 0:
                raise ConfigError(f"{path}.weights.{name}: must be >= 0, got {weight}")
        total = math.fsum(self.weights.values())
        if abs(total - 1.0) > WEIGHT_SUM_TOLERANCE:
            raise ConfigError(f"{path}.weights: must sum to 1, they sum to {total:.6g}")


@dataclass(frozen=True)
class A2C:
    total_timesteps: int = bounded(ge=1)
    n_envs: int = bounded(ge=1)
    n_steps: int = bounded(ge=1)
    learning_rate: float = bounded(gt=0)
    learning_rate_schedule: Literal["constant", "linear"]
    ent_coef_start: float = bounded(ge=0)
    ent_coef_end: float = bounded(ge=0)
    gamma: float = bounded(gt=0, le=1)
    reward_scale: float = bounded(gt=0)
    value_loss: Literal["mse", "huber"]
    log_std_init: float = bounded(ge=-10, le=2)  # the Gaussian policy's initial log standard deviation
    critic_warmup_steps: int = bounded(ge=0)  # steps the actor stays at its start while the critic learns
    net_arch: tuple[int, ...] = bounded(ge=1)


@dataclass(frozen=True)
class SAC:
    episodes: int = bounded(ge=1)
    batch_size: int = bounded(ge=1)
    buffer_size: int = bounded(ge=1)
    learning_rate: float = bounded(gt=0)
    ent_coef_init: float = bounded(gt=0)
    learning_starts: int = bounded(ge=0)
    train_freq: int = bounded(ge=1)  # environment steps between updates
    gradient_steps: int = bounded(ge=1)  # gradient steps at each update
    max_grad_norm: float = bounded(gt=0)
    log_std_init: float = bounded(ge=-10, le=2)  # the squashed Gaussian's initial log standard deviation
    critic_warmup_steps: int = bounded(ge=0)  # steps the actor stays at its start while the critics learn
    net_arch: tuple[int, ...] = bounded(ge=1)


@dataclass(frozen=True)
class PPO:
    total_timesteps: int = bounded(ge=1)
    n_envs: int = bounded(ge=1)
    n_steps: int = bounded(ge=1)
    learning_rate: float = bounded(gt=0)
    learning_rate_schedule: Literal["constant", "linear"]
    ent_coef_start: float = bounded(ge=0)
    ent_coef_end: float = bounded(ge=0)
    target_kl: float = bounded(gt=0)
    clip_range: float = bounded(gt=0, lt=1)
    batch_size: int = bounded(ge=1)  # minibatch of each of the update's epochs
    n_epochs: int = bounded(ge=1)
    use_sde: bool
    log_std_init: float = bounded(ge=-10, le=2)  # the Gaussian policy's initial log standard deviation
    critic_warmup_steps: int = bounded(ge=0)  # steps the actor stays at its start while the critic learns
    net_arch: tuple[int, ...] = bounded(ge=1)


@dataclass(frozen=True)
class ES:
    """The parameter-space learner `es` (learning/es.py): a linear knob policy searched by CMA-ES."""

    population: int = bounded(ge=2)  # candidates per generation, all run on the same months
    generations: int = bounded(ge=1)
    months_per_generation: int = bounded(ge=1)  # billing months of the training window each generation runs
    sigma0: float = bounded(gt=0)  # CMA-ES's initial step size, in the policy's parameter units
    select_every_generations: int = bounded(ge=1)  # score the search's mean on the validation days this often
    unmet_penalty_per_kwh: float = bounded(ge=0)  # fitness, objective units (PEN, kg CO2) per kWh a vehicle misses


@dataclass(frozen=True)
class Training:
    seeds: tuple[int, ...] = bounded(ge=0)
    checkpoint_every_steps: int = bounded(ge=1)
    keep_checkpoints: int = bounded(ge=1)
    device: Literal["auto", "cpu", "cuda"]
    cpu_threads: int = bounded(ge=1)
    backend: Literal["fast", "citylearn"]

    def check(self, path: str) -> None:
        if not self.seeds:
            raise ConfigError(f"{path}.seeds: needs at least one seed, got none")  # noqa: E701
        repeated = sorted({seed for seed in self.seeds if self.seeds.count(seed) > 1})
        if repeated:
            raise ConfigError(
                f"{path}.seeds: seed {repeated[0]} is listed twice; each seed is one run, and a repeated one would "
                f"count the same run twice in the report's interval (got {list(self.seeds)})"
            )


@dataclass(frozen=True)
class LearningScales:
    energy_kwh: float = bounded(gt=0)  # marginal import/curtailment that makes a term -1 (+1)
    ev_behind_kwh: float = bounded(gt=0)  # energy connected vehicles are behind the least-laxity trajectory
    ramp_kwh: float = bounded(gt=0)  # change of the station's marginal import between hours


@dataclass(frozen=True)
class ModelSelection:
    every_steps: int = bounded(ge=1)  # score the policy on the validation period every N steps
    validation_days: int = bounded(ge=0)  # last days of the training year, never trained on; 0 = off


@dataclass(frozen=True)
class ResidualTuning:
    """The tuned rule a `peak_shaving` residual corrects. Not a parameter: the train and evaluate stages
    set it from the scenario's `peak_shaving` record (the threshold chosen on the training year)."""

    threshold_kw: float = bounded(ge=0)
    recharge_soc_pct: float = bounded(ge=0, le=100)


@dataclass(frozen=True)
class Control:
    """How the control problem is posed to a learner; each switch is an ablation (dvc exp run -S)."""

    action_interface: Literal["symmetric", "citylearn"]  # [-1, 1] on every dimension | CityLearn's raw box
    feasibility_floor: bool  # least-laxity floor and battery cut before the simulator
    peak_guard: bool  # no step imports above the month's billed peak or the rule's import (control/peak_guard.py)
    # battery + one EV power per socket group | one per socket | the tuned threshold rule's knobs (control/knobs.py)
    action_space: Literal["aggregated", "per_socket", "knobs"]
    learning_reward: Literal["marginal", "station"]  # the station's marginal effect | the reported reward
    observation: Literal["compact", "citylearn"]  # scaled station features | CityLearn's raw observation
    residual: Literal["least_laxity", "peak_shaving", "mpc", "none"]  # the policy corrects that controller | acts alone
    forecast_hours: int = bounded(ge=0, le=48)  # hours of PV and load forecast in the compact observation
    learning_scales: LearningScales
    model_selection: ModelSelection
    residual_tuning: ResidualTuning | None = None  # peak_shaving's tuned rule, from its record (not in params.yaml)

    def check(self, path: str) -> None:
        if self.peak_guard and self.residual == "none":
            raise ConfigError(f"{path}.peak_guard: the guard caps import at the rule's; it needs a residual rule")
        if self.action_space == "knobs" and self.residual != "peak_shaving":
            raise ConfigError(
                f"{path}.action_space: knobs move the tuned threshold rule; they need residual peak_shaving, "
                f"got {self.residual}"
            )
        if self.residual != "none" and self.action_interface != "symmetric":
            raise ConfigError(
                f"{path}.residual: a correction of a rule needs action_interface symmetric "
                f"(the policy's [-1, 1] is the change), got {self.action_interface}"
            )


@dataclass(frozen=True)
class PeakShavingRule:
    """The threshold rule's candidates, tried on the training year only (control/peak_shaving.py)."""

    threshold_pct: tuple[float, float] = bounded(
        gt=0
    )  # [lowest, highest] threshold, % of the training year's largest mall-less-PV load
    threshold_step_pct: float = bounded(gt=0)
    recharge_soc_pct: tuple[float, ...] = bounded(ge=0, le=100)  # SOCs the battery may refill to from the grid off-peak

    def check(self, path: str) -> None:
        if self.threshold_pct[0] > self.threshold_pct[1] or not self.recharge_soc_pct:
            raise ConfigError(f"{path}: threshold_pct needs [lowest, highest] and recharge_soc_pct one SOC or more")


@dataclass(frozen=True)
class Knobs:
    """How far each knob of the knob problem (control/knobs.py) moves the tuned threshold rule at -1 and +1."""

    window_cap_span_pct: float = bounded(ge=0, lt=100)  # the peak window's import cap, % of the threshold
    refill_soc_span_pct: float = bounded(ge=0, le=100)  # the off-window refill target, SOC points
    offpeak_cap_span_pct: float = bounded(ge=0, lt=100)  # the off-window refill's import cap, % of the threshold


@dataclass(frozen=True)
class Oracle:
    tiebreak_weight: float = bounded(ge=0, lt=1)  # weight of the other metric (the controller's name picks the first)
    throughput_tiebreak_per_kwh: float = bounded(ge=0)  # price of each kWh through the battery, objective units
    unmet_penalty_per_kwh: float = bounded(gt=0)  # price of each kWh an EV leaves without, objective units
    solver: Literal["choose", "simplex", "ipm"]  # HiGHS method; see scripts/bench_oracle.py for timings
    threads: int = bounded(ge=1)


@dataclass(frozen=True)
class Mpc:
    """The rolling-horizon planner (control/mpc.py): the oracle's LP over the next hours, re-solved every hour."""

    horizon_hours: int = bounded(ge=2, le=168)  # under a week: a day-type forecast never reads an hour ahead
    load_margin_pct: float = bounded(ge=0, le=100)  # the forecast load beyond this hour raised by this: a reserve
    late_discharge_tiebreak_per_kwh: float = bounded(
        ge=0
    )  # extra price of a kWh discharged at the window's start over its end
    # extra price of a kWh charged at the window's end over its start
    early_charge_tiebreak_per_kwh: float = bounded(ge=0)
    window_soc_target_pct: float = bounded(ge=0, le=100)  # the battery's SOC wanted as each peak window opens (0: none)


@dataclass(frozen=True)
class Forecast:
    """What the planner and the learners know of the hours ahead (forecast/forecaster.py)."""

    kind: Literal["day_type", "persistence", "profile", "noisy", "perfect"]  # perfect: ablations only
    load_weeks: int = bounded(ge=1, le=52)  # day_type: the load's mean over this many past same weekdays
    pv_days: int = bounded(ge=1, le=365)  # day_type: the PV's mean over this many past days
    noise_pct: float = bounded(ge=0, le=100)  # noisy: relative Gaussian noise, independent per hour
    seed: int = bounded(ge=0)  # noisy: the noise's seed (with the split and the hour)


@dataclass(frozen=True)
class SeedTargets:
    """What the project's seed report promised (evaluation year), as [low, high] ranges, to set beside the results."""

    grid_import_change_pct: tuple[float, float] = bounded(ge=-100, le=100)  # against uncontrolled
    grid_co2_change_pct: tuple[float, float] = bounded(ge=-100, le=100)  # against uncontrolled
    solar_utilization_pct: tuple[float, float] = bounded(ge=0, le=100)
    ev_satisfaction_pct: tuple[float, float] = bounded(ge=0, le=100)

    def check(self, path: str) -> None:
        for name in ("grid_import_change_pct", "grid_co2_change_pct", "solar_utilization_pct", "ev_satisfaction_pct"):
            low, high = getattr(self, name)
            if low > high:
                raise ConfigError(f"{path}.{name}: [low, high] expected, got [{low}, {high}]")


@dataclass(frozen=True)
class Report:
    bootstrap_samples: int = bounded(ge=100)
    confidence_pct: float = bounded(gt=0, lt=100)
    bootstrap_seed: int = bounded(ge=0)
    representative_week_start_day: int = bounded(ge=0, le=358)
    ev_service_tolerance_pct: float = bounded(ge=0, le=100)
    near_zero_base_pct_of_uncontrolled: float = bounded(ge=0, le=100)  # no % of a base within this of uncontrolled's
    seed_targets: SeedTargets


@dataclass(frozen=True)
class Agents:
    a2c: A2C
    sac: SAC
    ppo: PPO
    es: ES


@dataclass(frozen=True)
class Settings:
    # every scenario the pipeline runs, by name: the keys of params.yaml it overrides (`{}`: none)
    scenarios: Mapping[str, Any]
    objective: Objective  # what the comparison calls best: least grid CO2 | smallest bill
    simulation: Simulation
    site: Site
    splits: Mapping[str, Split]
    weather: Weather
    pv: PV
    battery: Battery
    sockets: Sockets
    vehicles: Vehicles
    opening_hours: OpeningHours
    fleet: Fleet
    mall: Mall
    tariff: Tariff
    emissions: Emissions
    inputs: Inputs
    reward: Reward
    validation: Validation
    training: Training
    agents: Agents
    control: Control
    oracle: Oracle
    peak_shaving: PeakShavingRule
    knobs: Knobs
    mpc: Mpc
    forecast: Forecast
    report: Report
    # the scenario these settings are: `--scenario`, else the first of `scenarios`; its overrides applied
    scenario: str | None = None

    def check(self, path: str) -> None:
        if self.scenario not in self.scenarios:
            raise ConfigError(f"scenario {self.scenario}: not in scenarios ({', '.join(self.scenarios)})")
        if tuple(self.splits) != SPLITS:
            raise ConfigError(f"splits: needs exactly {', '.join(SPLITS)} in that order, got {', '.join(self.splits)}")
        if self.splits["train"].seed == self.splits["eval"].seed:
            raise ConfigError("splits.eval.seed: must differ from splits.train.seed (the evaluation year is held out)")
        for kind in VEHICLE_KINDS:
            self._check_session_fits(kind)
        validation_hours = self.control.model_selection.validation_days * 24
        if validation_hours >= self.simulation.horizon_hours:
            raise ConfigError(
                f"control.model_selection.validation_days: {self.control.model_selection.validation_days} days "
                f"leave no training steps in a {self.simulation.horizon_hours}-hour year (0 turns selection off)"
            )

    def _check_session_fits(self, kind: str) -> None:
        """A vehicle must be able to reach its required SOC within one opening day at rated power."""
        vehicle, sockets = self.vehicles.kind(kind), self.sockets.group(kind)
        needed_kwh = (
            (vehicle.required_soc_pct - vehicle.arrival_soc_pct + vehicle.arrival_soc_spread_pct)
            / 100
            * vehicle.battery_kwh
        )
        per_step_kwh = sockets.power_kw * self.sockets.efficiency_pct / 100
        open_steps = self.opening_hours.close_hour - self.opening_hours.open_hour
        if needed_kwh > per_step_kwh * open_steps:
            raise ConfigError(
                f"vehicles.{kind}: needs {needed_kwh:.2f} kWh, more than a socket delivers in opening hours"
            )

    def as_dict(self) -> dict:
        """Every value of these settings, this scenario's overrides applied (for hashing and for `build`)."""
        return as_plain(self)

    def as_params(self) -> dict:
        """The params these settings came from, every scenario's overrides apart: what a params.yaml
        holds (write it and `load_settings` gives these settings back)."""
        return copy.deepcopy(self._base)

    def input_files(self) -> dict[str, str]:
        """Every file these settings read, by its dotted key (`mall.load_files.train`): the build's inputs."""
        named = {
            "weather.files": self.weather.files if self.weather.source == "file" else None,
            "mall.load_files": self.mall.load_files if self.mall.enabled else None,
            "fleet.sessions_files": self.fleet.sessions_files,
            "tariff.energy_price_files": self.tariff.energy_price_files,
            "emissions.grid_factor_files": self.emissions.grid_factor_files,
        }
        return {f"{key}.{split}": path for key, files in named.items() if files for split, path in files.items()}


# hand-written: OmegaConf.merge does the same in 40 ms on params.yaml against 0.4 ms here, and every settings load
# (each `scenario_settings` too) merges every scenario's overrides
def deep_merge(base: Mapping, overrides: Mapping) -> dict:
    """`base` with `overrides` laid over it: mappings merge key by key, any other value replaces."""
    merged = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _scenario_overrides(data: dict) -> dict[str, dict]:
    scenarios = data.get("scenarios")
    if scenarios is None:
        raise ConfigError("scenarios: missing key")
    if not isinstance(scenarios, dict) or not scenarios:
        raise ConfigError(
            "scenarios: needs a mapping of scenario names to the keys each overrides, "
            "for example {mall: {}, station_only: {mall: {enabled: false}}}"
        )
    for name, overrides in scenarios.items():
        if isinstance(name, bool):
            raise ConfigError(
                f"scenarios.{name}: a scenario named on, off, yes, no, true or false is read by YAML as "
                f"{str(name).lower()}: quote its name ('on': ...)"
            )
        if not isinstance(name, str) or not SCENARIO_NAME.match(name):
            raise ConfigError(f"scenarios.{name}: a name of letters, digits and underscores, starting with a letter")
        if overrides is not None and not isinstance(overrides, dict):
            raise ConfigError(f"scenarios.{name}: expected a mapping of the keys it overrides, got {overrides!r}")
        if overrides and ("scenarios" in overrides or "scenario" in overrides):
            raise ConfigError(f"scenarios.{name}: a scenario cannot override the scenarios")
    return {name: dict(overrides or {}) for name, overrides in scenarios.items()}


def settings_from_data(data: object, scenario: str | None = None) -> Settings:
    """Validate params data with one scenario's overrides applied (default: the first scenario).
    Every scenario is validated, so a mistake in any of them is reported whichever one is asked for;
    an error inside a scenario names it: `scenario mall_mt3: tariff.demand: missing key`."""
    if not isinstance(data, dict):
        raise ConfigError(f"params.yaml: expected a mapping of keys, got {type(data).__name__}")
    overrides = _scenario_overrides(data)
    if scenario is not None and scenario not in overrides:
        raise ConfigError(f"scenario {scenario}: not in scenarios ({', '.join(overrides)})")
    if "scenario" in data:
        raise ConfigError("scenario: unknown key (choose a scenario with --scenario)")
    base = {**data, "scenarios": overrides}
    chosen = scenario or next(iter(overrides))
    built = {}
    for name, changes in overrides.items():
        try:
            built[name] = build(Settings, {**deep_merge(base, changes), "scenario": name})
        except ConfigError as error:
            raise (ConfigError(f"scenario {name}: {error}") if changes else error) from None
        object.__setattr__(built[name], "_base", base)
    return built[chosen]


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML that refuses a key written twice in one mapping (plain YAML keeps the last silently)."""


def _construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise ConfigError(
                f"line {key_node.start_mark.line + 1}: key {key!r} written twice in one mapping "
                f"(first on line {seen[key] + 1})"
            )
        seen[key] = key_node.start_mark.line
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)
# A number in exponent form without a dot (`3e-05`) is a string to PyYAML (YAML 1.1) and a number to
# YAML 1.2 and to the tools that write params.yaml: `dvc exp run -S agents.ppo.learning_rate=0.00003`
# writes exactly that. Read it as the number it is.
_UniqueKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789")
)


# Words YAML 1.1 (PyYAML, Snakemake) reads as true or false when unquoted: never a key of params.
YAML_BOOLEAN_WORDS = "yes, no, on, off, true, false"


def _refuse_boolean_keys(node: yaml.Node | None, path: str = "", seen: set | None = None) -> None:
    """Refuse a key YAML reads as a boolean (`on:` is true, not "on"), naming it as written with its key
    path: a scenario called `on` would otherwise become `True`."""
    seen = set() if seen is None else seen
    if id(node) in seen:  # an alias of a node already walked
        return
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _refuse_boolean_keys(item, path, seen)
    if not isinstance(node, yaml.MappingNode):
        return
    for key_node, value_node in node.value:
        text = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
        dotted = f"{path}.{text}" if path else text
        if key_node.tag == "tag:yaml.org,2002:bool":
            what = f"scenario {text}" if path == "scenarios" else f"key {text}"
            raise ConfigError(
                f"line {key_node.start_mark.line + 1}: {dotted}: the {what} is read by YAML as a boolean "
                f"({YAML_BOOLEAN_WORDS} are), not a name: quote it ('{text}':)"
            )
        _refuse_boolean_keys(value_node, dotted, seen)


def read_params(path: str | Path) -> dict:
    """params.yaml as plain data; one-line errors for a missing file, bad YAML, a duplicated key or a key
    YAML reads as a boolean."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, not a parameters file (name the params.yaml inside it)")
    if not path.is_file():
        raise ConfigError(f"{path}: parameters file not found")
    loader = _UniqueKeyLoader(path.read_text())
    try:
        node = loader.get_single_node()
        _refuse_boolean_keys(node)
        return loader.construct_document(node) if node is not None else None
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from None
    finally:
        loader.dispose()


def load_settings(path: str | Path = "params.yaml", scenario: str | None = None) -> Settings:
    """Read and validate params.yaml with `scenario`'s overrides applied (default: the first of its
    `scenarios`); raise ConfigError with one line naming the key on any problem."""
    return settings_from_data(read_params(path), scenario)


def scenario_settings(settings: Settings, scenario: str) -> Settings:
    """The settings of another of their scenarios: its overrides laid over the same base."""
    return settings_from_data(settings._base, scenario)


def apply_overrides(settings: Settings, overrides: Mapping[str, object]) -> Settings:
    """Settings with dotted keys replaced (`sockets.moto.count: 4`), validated like params.yaml.
    The change applies to the settings' scenario and to the base their other scenarios start from;
    `scenario: NAME` switches to that scenario first (its overrides applied), as `--scenario` does."""
    overrides = dict(overrides)
    if "scenario" in overrides:
        settings = scenario_settings(settings, overrides.pop("scenario"))
    data = OmegaConf.create(settings.as_dict(), flags={"allow_objects": True})
    OmegaConf.set_struct(data, True)  # a key these settings lack is refused, never added
    base = OmegaConf.create(settings._base, flags={"allow_objects": True})  # a copy: the settings stay as they are
    for dotted, value in overrides.items():
        try:
            OmegaConf.update(data, dotted, value, merge=False)
        except (ConfigAttributeError, ConfigKeyError):
            raise ConfigError(f"{dotted}: unknown key") from None
        parent = dotted.rpartition(".")[0]
        if dotted == "scenarios" or (dotted.split(".")[0] != "scenarios" and _is_mapping(base, parent)):
            OmegaConf.update(base, dotted, value, merge=False)  # the base, where it has the key's mapping
    result = build(Settings, OmegaConf.to_container(data, resolve=False))
    object.__setattr__(result, "_base", OmegaConf.to_container(base, resolve=False))
    return result


def _is_mapping(config: DictConfig, dotted: str) -> bool:
    """Whether the dotted key (empty: the whole) holds a mapping of keys."""
    if not dotted:
        return True
    return OmegaConf.is_dict(OmegaConf.select(config, dotted, default=None, throw_on_resolution_failure=False))


_ABSENT = object()


def flat_values(value, prefix: str = "") -> dict:
    """Every leaf of nested JSON-like values by its dotted key (`tariff.demand.x`)."""
    if not isinstance(value, dict):
        return {prefix[:-1]: value}
    return {key: leaf for name, inner in value.items() for key, leaf in flat_values(inner, f"{prefix}{name}.").items()}


def _shown(value) -> str:
    if value is _ABSENT:
        return "nothing"
    return str(value) if isinstance(value, (int, float, str)) else json.dumps(value)


def value_differences(recorded: dict, now: dict, recorded_as: str) -> list[str]:
    """`key: <recorded_as> X, params say Y` for each leaf key whose value differs, in key order
    (`recorded_as`: "trained with", "built with")."""
    recorded, now = flat_values(recorded), flat_values(now)
    return [
        f"{key}: {recorded_as} {_shown(recorded.get(key, _ABSENT))}, params say {_shown(now.get(key, _ABSENT))}"
        for key in sorted(set(recorded) | set(now))
        if recorded.get(key, _ABSENT) != now.get(key, _ABSENT)
    ]


def dotted_value(data: dict, dotted: str):
    """The value at a dotted key of plain settings data (`tariff.demand.generation_pen_per_kw_month`)."""
    for key in dotted.split("."):
        data = data[key]
    return data


def lay_over(data: Mapping, overlay: Mapping) -> dict:
    """Params data with an overlay of only the keys it changes laid over it, in the format of
    workflow/quick.yaml, `snakemake --configfile` and `dvc exp run -S`: a dotted key
    (`sockets.moto.count: 4`, `scenarios.mall_mt3.objective: bill`) replaces one value; a plain key's
    mapping merges key by key (OmegaConf.update). Not validated here: `settings_from_data` of the result
    does it, so a misspelled key is refused with the same line as in params.yaml."""
    merged = OmegaConf.create(dict(data), flags={"allow_objects": True})  # a copy: `data` stays as it is
    for key, value in overlay.items():
        key = str(key)
        _refuse_a_value_as_parent(merged, key)
        OmegaConf.update(merged, key, value, merge="." not in key)
    return OmegaConf.to_container(merged, resolve=False)  # `${...}` and `???` stay the text they are


def _refuse_a_value_as_parent(config: DictConfig, dotted: str) -> None:
    """Refuse a dotted key below a value that is not a mapping (`sockets.moto.count.x`): OmegaConf.update
    would silently replace the value by a mapping. An absent or null parent is fine: its mapping starts there."""
    *parents, _ = dotted.split(".")
    for depth in range(1, len(parents) + 1):
        parent = ".".join(parents[:depth])
        value = OmegaConf.select(config, parent, default=None, throw_on_resolution_failure=False)
        if value is None:
            return
        if not OmegaConf.is_dict(value):
            raise ConfigError(f"{dotted}: {parent} is {value!r}, not a mapping of keys")
