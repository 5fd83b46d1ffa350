"""A knob policy that re-decides every hour: knobs = clip(W x features + b, -1, 1), zero parameters = the rule.

The knobs are those of control/knobs.py (window cap, refill SOC, refill cap around the tuned threshold
rule). A daily policy of five knobs set at midnight took nothing of the room on the held-out year:
one bad evening undid its gains, and the planner's edge is re-deciding every hour on the state it is
in. So the features are read at every hour, from the `StationState` and the station's own forecast
(params `forecast`, as the planner's), each scaled by the site's own battery so it means the same on
any site:

  soc            battery SOC less the tuned refill SOC
  window_peak    the month's billed peak-window import so far, over the threshold / battery power
  any_peak       the same for the any-hour peak
  window_excess  forecast load less PV above the threshold over the next peak window's hours (the
                 rest of this one within it), kWh / the battery's usable energy: what it must cover
  pv_ahead       forecast PV before the next peak window / the battery's usable energy
  net_now        this hour's load less PV over the threshold / battery power
  hours_to_window  / a day (0 within the window)
  in_window      0 / 1
  month_left     hours left in the billing month / the longest month's

Linear, because the knobs already carry the rule's structure and a few dozen parameters are what
CMA-ES searches well in a few hundred runs (the 2022 CityLearn runner-up's policy was of this size).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..control.knobs import KNOB_NAMES, KnobRule
from ..control.station import StationState
from ..errors import DataError

FEATURE_NAMES = (
    "soc",
    "window_peak",
    "any_peak",
    "window_excess",
    "pv_ahead",
    "net_now",
    "hours_to_window",
    "in_window",
    "month_left",
)
HOURS_PER_DAY = 24
LONGEST_MONTH_HOURS = 31 * HOURS_PER_DAY
POLICY_FILE = "policy.json"


@functools.cache
def _next_window_hours(hour: int, hours: int, window: tuple[bool, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Over the `hours` forecast hours after `hour`: which lie in the next peak window (the rest of the
    current one when `hour` is in it) and which come before that window starts."""
    inside = np.array([window[(hour + offset) % HOURS_PER_DAY] for offset in range(1, hours + 1)], dtype=bool)
    if window[hour]:
        ends = np.flatnonzero(~inside)
        stop = ends[0] if len(ends) else hours
        return np.arange(hours) < stop, np.zeros(hours, dtype=bool)
    starts = np.flatnonzero(inside)
    if not len(starts):
        return inside, np.ones(hours, dtype=bool)
    ends = np.flatnonzero(~inside[starts[0] :])
    stop = starts[0] + (ends[0] if len(ends) else hours)
    offsets = np.arange(hours)
    return (offsets >= starts[0]) & (offsets < stop), offsets < starts[0]


def knob_features(state: StationState, rule: KnobRule) -> np.ndarray:
    """The policy's features of a state (FEATURE_NAMES' order); see the module's docstring."""
    power_kw = state.battery_power_kw
    usable_kwh = state.battery_capacity_kwh * (1.0 - state.battery_min_soc)
    threshold_kw = rule.threshold_kw
    window = tuple(rule.spec.billing.in_peak_hours(hour) for hour in range(HOURS_PER_DAY))
    in_next, before_next = _next_window_hours(state.hour, len(state.load_forecast_kwh), window)
    net_ahead_kwh = state.load_forecast_kwh - state.pv_forecast_kwh
    now_kwh = state.load_kwh - state.pv_kwh
    excess_kwh = np.maximum(net_ahead_kwh[in_next] - threshold_kw, 0.0).sum()
    if state.in_peak_window:
        excess_kwh += max(now_kwh - threshold_kw, 0.0)
    return np.array(
        [
            state.battery_soc - rule.recharge_soc,
            (state.billed_peak_window_kw - threshold_kw) / power_kw,
            (state.billed_peak_any_kw - threshold_kw) / power_kw,
            excess_kwh / usable_kwh,
            state.pv_forecast_kwh[before_next].sum() / usable_kwh,
            (now_kwh - threshold_kw) / power_kw,
            state.hours_to_peak_window / HOURS_PER_DAY,
            float(state.in_peak_window),
            state.hours_left_in_month / LONGEST_MONTH_HOURS,
        ]
    )


PARAMETERS = len(KNOB_NAMES) * (len(FEATURE_NAMES) + 1)


class LinearKnobPolicy:
    """knobs = clip(weights @ features + bias, -1, 1); a flat parameter vector is weights row by row, then bias."""

    def __init__(self, parameters: np.ndarray):
        parameters = np.asarray(parameters, dtype=float).reshape(-1)
        if parameters.shape != (PARAMETERS,):
            raise ValueError(f"a knob policy has {PARAMETERS} parameters, got {parameters.size}")
        self.parameters = parameters
        split = len(KNOB_NAMES) * len(FEATURE_NAMES)
        self.weights = parameters[:split].reshape(len(KNOB_NAMES), len(FEATURE_NAMES))
        self.bias = parameters[split:]

    @classmethod
    def zero(cls) -> LinearKnobPolicy:
        """The policy whose knobs are always 0: the tuned rule."""
        return cls(np.zeros(PARAMETERS))

    def knobs(self, features: np.ndarray) -> np.ndarray:
        return np.clip(self.weights @ features + self.bias, -1.0, 1.0)

    def as_json(self) -> str:
        """The policy as its file holds it: names beside the numbers, so a reader sees what each weighs."""
        return json.dumps(
            {
                "features": list(FEATURE_NAMES),
                "knobs": list(KNOB_NAMES),
                "weights": self.weights.tolist(),
                "bias": self.bias.tolist(),
            },
            indent=2,
        )

    @classmethod
    def read(cls, path: Path) -> LinearKnobPolicy:
        """A policy file, refused in one line where it is not one of this code's."""
        try:
            data = json.loads(Path(path).read_text())
            if data["features"] != list(FEATURE_NAMES) or data["knobs"] != list(KNOB_NAMES):
                raise ValueError("its features or knobs are not this code's")
            return cls(np.concatenate([np.asarray(data["weights"], dtype=float).reshape(-1), data["bias"]]))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise DataError(f"{path}: not a knob policy this code can load ({type(error).__name__}: {error})") from None


class KnobPolicyController:
    """A knob policy as a controller: at every step its knobs from the state's features, then the knob rule."""

    def __init__(self, name: str, policy: LinearKnobPolicy, rule: KnobRule):
        self.name, self.policy, self.rule = name, policy, rule
        self.last_stats = None

    def reset(self) -> None:
        self.last_stats = None

    def act(self, observation: Mapping[str, float], step: int, state: StationState | None = None) -> np.ndarray:
        if state is None:
            raise ValueError(f"{self.name}: the policy needs the station's state (the runner passes it)")
        return self.rule.act_with(self.policy.knobs(knob_features(state, self.rule)), state)
