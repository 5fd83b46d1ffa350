"""From a policy's action to CityLearn's: the affine map, the aggregated decode, the feasibility layer.

`control` in params.yaml chooses each piece (each an ablation):
- `action_interface`: `symmetric` - the policy acts in [-1, 1] on every dimension (what Gaussian
  policies start centred on) and an affine map sends -1/+1 to the bounds of CityLearn's box;
  `citylearn` - the policy acts in CityLearn's box itself (battery [-1, 1], sockets [0, 1]).
- `action_space`: `aggregated` - battery power plus, per socket group present (moto, mototaxi),
  the fraction of the EV power available above the floor, handed out least-laxity-first inside
  the group; `per_socket` - one action per socket, in CityLearn's charger order.
- `feasibility_floor`: each connected vehicle gets at least its floor (control.floor) and the
  battery's action is cut to its SOC window and power.
- `peak_guard` (with a residual rule): a step imports no more than the month's billed peak so far or
  what the rule would import now, whichever is higher, unless a deadline forces more
  (control/peak_guard.py): exploring cannot raise a billed peak beyond the rule's.
- `residual`: `least_laxity` - the policy's action is a change to what the least-laxity rule
  (control.rules.LeastLaxity) would do, so the zero action, where a Gaussian policy starts, is the
  rule (residual policy learning: Silver et al. 2018, Johannink et al. 2019); `peak_shaving` - the
  same around the threshold rule as tuned on the training year (`control.residual_tuning`, which the
  train and evaluate stages take from the scenario's `peak_shaving` record). The battery's action
  is the rule's plus the policy's, clipped to [-1, 1]; an EV dimension d in [-1, 1] moves each
  socket from the rule's fraction towards rated power (d > 0: the headroom above the rule handed out
  least-laxity-first in the aggregated space, or per socket) or towards the floor (d < 0) in
  proportion. `mpc` - the same around the planner (control/mpc.py, with the station's forecaster): the
  policy starts from the planner's behaviour, zero being its action; the planner re-solves its LP at
  every step the policy takes (a few ms), so it is built with the dataset it plans on
  (`learning.station_env.residual_planner`). `none` - the policy's action is the whole action.
- `action_space: knobs` (with `residual: peak_shaving`): the policy's action is the few knobs of
  control/knobs.py, each in [-1, 1], moving the tuned threshold rule (zero: the rule exactly); the
  knob rule serves the floor and holds import under its layer itself, so the switches above do not
  apply to it.

`LayerStats` says what the layer changed, so every run can record how often and by how much.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium
import numpy as np

from ..config import VEHICLE_KINDS, Settings
from ..control.allocation import headroom_kwh_by_group, least_laxity_first
from ..control.floor import battery_limits, floor_fraction, room_fraction, socket_kwh_per_step
from ..control.knobs import KNOB_NAMES, knob_rule
from ..control.mpc import MpcController
from ..control.peak_guard import guard_cap_kwh, guarded, import_kwh
from ..control.peak_shaving import make_rule
from ..control.rules import Controller, LeastLaxity
from ..control.station import StationState
from ..site.sessions import socket_kinds

RAISE_TOLERANCE = 1e-9  # float noise: a socket counts as raised only above it


def residual_rule(settings: Settings, planner: MpcController | None = None) -> Controller | None:
    """The controller the policy corrects (`control.residual`), or None when the policy acts alone. The
    rules read everything from the step's StationState (the meter's month-to-date peak included):
    whatever the policy changed in earlier steps, the rule's answer for a state is the same. The
    planner (`mpc`) too: it plans from the state it is given; it is built by the caller, which knows
    the dataset, and passed as `planner`."""
    control = settings.control
    if control.residual == "mpc":
        if planner is None:
            raise ValueError("control.residual mpc: the planner the policy corrects was not given")
        return planner
    if control.residual == "least_laxity":
        return LeastLaxity()
    if control.residual == "peak_shaving":
        if control.residual_tuning is None:
            raise ValueError(
                "control.residual peak_shaving: the tuned rule is not set (the train and evaluate "
                "stages take it from the scenario's peak_shaving record)"
            )
        return make_rule(settings, control.residual_tuning.threshold_kw, control.residual_tuning.recharge_soc_pct)
    return None


@dataclass(frozen=True)
class LayerStats:
    """What the feasibility layer changed in one step's action."""

    sockets_raised: int  # sockets the floor gave more than the policy asked
    floor_added_kwh: float  # bus energy the floor added to what the policy asked (what vehicles can take)
    battery_cut: bool  # the battery's action was cut to its SOC window and power


def affine(action: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """[-1, 1] onto [low, high] (clipped first: a Gaussian policy's sample can fall outside)."""
    return low + (np.clip(action, -1.0, 1.0) + 1.0) / 2.0 * (high - low)


class ActionPipeline:
    """A policy's action turned into CityLearn's 1 + sockets actions for a given station state."""

    def __init__(self, settings: Settings, planner: MpcController | None = None):
        control = settings.control
        self.symmetric = control.action_interface == "symmetric"
        self.aggregated = control.action_space == "aggregated"
        self.floor_on = control.feasibility_floor
        self.guard_on = control.peak_guard
        self.rule = residual_rule(settings, planner)
        self.residual = self.rule is not None
        self.socket_group = np.array([VEHICLE_KINDS.index(kind) for kind in socket_kinds(settings)], dtype=int)
        self.groups = tuple(sorted(set(self.socket_group.tolist())))  # groups present, VEHICLE_KINDS order
        ev_dimensions = len(self.groups) if self.aggregated else len(self.socket_group)
        # CityLearn's box: battery [-1, 1] (+ charges), each EV dimension [0, 1] (no V2G)
        self.citylearn_low = np.concatenate([[-1.0], np.zeros(ev_dimensions)])
        self.citylearn_high = np.ones(1 + ev_dimensions)
        self.policy_action_space = self._policy_space()
        self.knobs = knob_rule(settings) if control.action_space == "knobs" else None
        if self.knobs is not None:  # the knobs' own [-1, 1] box
            size = len(KNOB_NAMES)
            self.policy_action_space = gymnasium.spaces.Box(
                -np.ones(size, np.float32), np.ones(size, np.float32), dtype=np.float32
            )

    def _policy_space(self) -> gymnasium.spaces.Box:
        """[-1, 1] on every dimension (symmetric), else CityLearn's box."""
        if self.symmetric:
            size = len(self.citylearn_low)
            return gymnasium.spaces.Box(-np.ones(size, np.float32), np.ones(size, np.float32), dtype=np.float32)
        return gymnasium.spaces.Box(
            self.citylearn_low.astype(np.float32), self.citylearn_high.astype(np.float32), dtype=np.float32
        )

    def in_citylearn_box(self, policy_action) -> np.ndarray:
        """The policy's action in CityLearn's units (battery [-1, 1], EV dimensions [0, 1])."""
        action = np.asarray(policy_action, dtype=float).reshape(-1)
        if action.shape != self.citylearn_low.shape:
            raise ValueError(f"policy action has {action.size} values, the pipeline expects {self.citylearn_low.size}")
        if self.symmetric:
            return affine(action, self.citylearn_low, self.citylearn_high)
        return np.clip(action, self.citylearn_low, self.citylearn_high)

    def socket_actions(self, ev_action: np.ndarray, state: StationState, floor: np.ndarray) -> np.ndarray:
        """Per-socket fractions of rated power for the EV part of the action, above `floor`."""
        if not self.aggregated:
            return np.maximum(ev_action, floor)
        extra_kwh = np.zeros(len(VEHICLE_KINDS))
        extra_kwh[list(self.groups)] = ev_action * headroom_kwh_by_group(state, floor)[list(self.groups)]
        return least_laxity_first(state, floor, extra_kwh)

    def residual_actions(
        self, policy_action, state: StationState, rule: np.ndarray
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """The residual rule's battery and socket actions (`rule`, its action in this state) moved by the
        policy's changes in [-1, 1]:
        (battery, sockets with the floor kept, sockets as the policy asked them without it)."""
        change = np.clip(np.asarray(policy_action, dtype=float).reshape(-1), -1.0, 1.0)
        if change.shape != self.citylearn_low.shape:
            raise ValueError(f"policy action has {change.size} values, the pipeline expects {self.citylearn_low.size}")
        battery = float(np.clip(rule[0] + change[0], -1.0, 1.0))
        ev_change = change[1:] if not self.aggregated else change[1:][np.searchsorted(self.groups, self.socket_group)]
        asked = self._moved(rule[1:], np.zeros(state.sockets), ev_change, change[1:], state)
        if not self.floor_on:
            return battery, asked, asked
        floor = floor_fraction(state)
        return battery, self._moved(np.maximum(rule[1:], floor), floor, ev_change, change[1:], state), asked

    def _moved(
        self,
        base: np.ndarray,
        lowest: np.ndarray,
        socket_change: np.ndarray,
        ev_change: np.ndarray,
        state: StationState,
    ) -> np.ndarray:
        """Sockets moved from `base` towards `lowest` (change < 0) or towards what fills each vehicle
        (change > 0: per socket, or the group's headroom handed out least-laxity-first)."""
        sockets = base - np.maximum(-socket_change, 0.0) * (base - lowest)
        if not self.aggregated:
            return sockets + np.maximum(socket_change, 0.0) * np.maximum(room_fraction(state) - sockets, 0.0)
        extra_kwh = np.zeros(len(VEHICLE_KINDS))
        extra_kwh[list(self.groups)] = ev_change.clip(0.0) * headroom_kwh_by_group(state, sockets)[list(self.groups)]
        return least_laxity_first(state, sockets, extra_kwh)

    def to_citylearn(self, policy_action, state: StationState) -> tuple[np.ndarray, LayerStats]:
        """CityLearn's action (battery, then each socket in charger order) and what the layer changed."""
        if not np.array_equal(state.socket_group, self.socket_group):
            raise ValueError("the station state's sockets are not those of the settings the pipeline was built for")
        if self.knobs is not None:
            return self.knob_actions(policy_action, state)
        if self.residual:
            rule = self.rule.act({}, state.step, state)  # once a step: the residual's base and the guard's cap
            battery, sockets, asked = self.residual_actions(policy_action, state, rule)
            if not self.floor_on:
                return np.concatenate([[battery], sockets]), LayerStats(0, 0.0, False)
            low, high = battery_limits(state)
            cut = min(max(battery, low), high)
            if self.guard_on:
                cut, sockets = self.guard(state, cut, sockets, rule)
            return np.concatenate([[cut], sockets]), self._stats(asked, sockets, state, cut != battery)
        action = self.in_citylearn_box(policy_action)
        battery, ev_action = float(action[0]), action[1:]
        asked = self.socket_actions(ev_action, state, np.zeros(state.sockets))
        if not self.floor_on:
            return np.concatenate([[battery], asked]), LayerStats(0, 0.0, False)
        sockets = self.socket_actions(ev_action, state, floor_fraction(state))
        low, high = battery_limits(state)
        cut = min(max(battery, low), high)
        return np.concatenate([[cut], sockets]), self._stats(asked, sockets, state, cut != battery)

    def knob_actions(self, policy_action, state: StationState) -> tuple[np.ndarray, LayerStats]:
        """The knob rule's action for the policy's knobs. Its stats are zero: the rule asks for no vehicle
        below its floor and no battery action beyond its window, so the layer has nothing to add or cut."""
        knobs = np.asarray(policy_action, dtype=float).reshape(-1)
        if knobs.shape != (len(KNOB_NAMES),):
            raise ValueError(f"policy action has {knobs.size} values, the knob rule takes {len(KNOB_NAMES)}")
        action = self.knobs.act_with(knobs, state)
        return action, LayerStats(0, 0.0, False)

    @staticmethod
    def guard(state: StationState, battery: float, sockets: np.ndarray, rule: np.ndarray) -> tuple[float, np.ndarray]:
        """The action held under the month's billed peak or what the rule (its action `rule`) imports now
        (control/peak_guard.py)."""
        low, high = battery_limits(state)
        rule_sockets = np.maximum(rule[1:], floor_fraction(state))
        rule_import_kwh = import_kwh(state, min(max(float(rule[0]), low), high), rule_sockets)
        return guarded(state, battery, sockets, guard_cap_kwh(state, rule_import_kwh))

    @staticmethod
    def _stats(asked: np.ndarray, sockets: np.ndarray, state: StationState, battery_cut: bool) -> LayerStats:
        """Compare what vehicles would take under the policy's ask and under the layer's action."""
        takes = room_fraction(state)
        added = np.minimum(sockets, takes) - np.minimum(asked, takes)
        return LayerStats(
            sockets_raised=int((added > RAISE_TOLERANCE).sum()),
            floor_added_kwh=float((added * socket_kwh_per_step(state)).sum()),
            battery_cut=bool(battery_cut),
        )
