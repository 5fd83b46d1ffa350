"""The knob problem: a few knobs around the tuned threshold rule, whose zero is exactly that rule.

A learner that sets the battery's power and every socket directly explores actions that raise a
month's billed peak, and one raised peak is charged for the whole month: every agent trained on the
raw action kept its untrained model. The winners of comparable problems act on a few knobs of a
good rule instead (docs/mall-mt3-agents.md). Here the knobs move the tuned `peak_shaving` rule
(control/rules.py, its threshold and refill SOC as the scenario's `peak_shaving` record chose them
on the training year), each in [-1, 1], each by a span of params `knobs`:

- `window_cap`: the import the battery holds the peak window to, threshold x (1 + k x span): below
  the threshold it spends more of the battery in the evening (dear energy), above it keeps more;
  the month's billed window peak still bounds it from below, as in the rule;
- `refill_soc`: the SOC the battery refills to from the grid outside the window, the tuned one
  + k x span (within 0-100 %): how full the battery goes into the evening;
- `offpeak_cap`: the import under which that refill happens, threshold x (1 + k x span): a night
  refill may go above the threshold (the any-hour charge is the smaller), an afternoon one below.

Vehicles are served as the rule serves them: at once to their required SOC, least laxity first
above their feasibility floor where the battery cannot hold the window's cap; the floor is always
served. After the rule, a layer holds the step's import at or below the highest of the month's
billed peak so far (the window's within the window, the any-hour one outside), the knobs' own cap
(the window's or the refill's) and what the tuned rule imports now, unless a deadline forces more
(control/peak_guard.py's `guarded`: the battery first, then the EV power above the floor, most
laxity first). The rule's import is one of the three so that zero knobs are the rule exactly: the
rule alone may import above its threshold off-window (the mall's afternoon load with vehicles
charging), and a layer that discharged there would no longer be the rule. With the knobs as built,
the rule's arithmetic already keeps within the cap; the layer is the guarantee for any knob values
(tests/test_knobs.py checks it over random knobs).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..config import Settings
from .floor import HOURS_PER_STEP
from .peak_guard import guard_cap_kwh, guarded, import_kwh
from .peak_shaving import PERCENT, make_rule
from .rules import PeakShaving, StationSpec
from .station import StationState

KNOB_NAMES = ("window_cap", "refill_soc", "offpeak_cap")
ZERO_KNOBS = np.zeros(len(KNOB_NAMES))


class KnobRule(PeakShaving):
    """The tuned threshold rule with its window cap, refill SOC and refill cap moved by knobs in [-1, 1];
    see the module's docstring. `act_with(knobs, state)` is the whole step: rule, then the layer."""

    name = "knobs"

    def __init__(
        self,
        spec: StationSpec,
        threshold_kw: float,
        recharge_soc: float,
        *,
        window_cap_span: float,
        refill_soc_span: float,
        offpeak_cap_span: float,
    ):
        super().__init__(spec, threshold_kw, recharge_soc)
        self.spans = np.array([window_cap_span, refill_soc_span, offpeak_cap_span], dtype=float)
        self.knobs = ZERO_KNOBS.copy()

    # ------------------------------------------------------------ the rule's three quantities, moved

    def window_cap_kw(self) -> float:
        return self.threshold_kw * (1.0 + self.knobs[0] * self.spans[0])

    def offpeak_cap_kw(self) -> float:
        return self.threshold_kw * (1.0 + self.knobs[2] * self.spans[2])

    def _limit_kwh(self, state: StationState) -> float:
        return max(self.window_cap_kw(), state.billed_peak_window_kw) * HOURS_PER_STEP

    def _refill_soc(self, state: StationState) -> float:
        return min(max(self.recharge_soc + self.knobs[1] * self.spans[1], 0.0), 1.0)

    def _refill_cap_kwh(self, state: StationState) -> float:
        return self.offpeak_cap_kw() * HOURS_PER_STEP

    # ------------------------------------------------------------ one step

    def rule_action(self, state: StationState, knobs: np.ndarray) -> np.ndarray:
        """The rule's action under `knobs` (clipped to [-1, 1]), before the layer."""
        self.knobs = np.clip(np.asarray(knobs, dtype=float).reshape(-1), -1.0, 1.0)
        if self.knobs.shape != ZERO_KNOBS.shape:
            raise ValueError(f"{len(self.knobs)} knobs given, the knob rule takes {len(KNOB_NAMES)}")
        return PeakShaving.act(self, {}, state.step, state)

    def cap_kwh(self, state: StationState, rule_import_kwh: float) -> float:
        """The most the layer lets the step import (kWh): the month's billed peak so far, the knobs' cap of
        this hour (the window's, else the refill's) or the tuned rule's import now, whichever is highest."""
        knob_cap_kw = self.window_cap_kw() if state.in_peak_window else self.offpeak_cap_kw()
        return max(guard_cap_kwh(state, rule_import_kwh), knob_cap_kw * HOURS_PER_STEP)

    def act_with(self, knobs: np.ndarray, state: StationState) -> np.ndarray:
        """CityLearn's action (battery, then each socket) for `knobs` in this state: rule, then layer."""
        action = self.rule_action(state, knobs)
        if not self.knobs.any():  # the tuned rule itself: its import is its own cap
            return action
        moved = self.knobs
        tuned = self.rule_action(state, ZERO_KNOBS)
        self.knobs = moved
        cap = self.cap_kwh(state, import_kwh(state, float(tuned[0]), tuned[1:]))
        battery, sockets = guarded(state, float(action[0]), action[1:], cap)
        return np.concatenate([[battery], sockets])

    def act(self, observation: Mapping[str, float], step: int, state: StationState | None = None) -> np.ndarray:
        """The rule with the knobs last set (zero: the tuned rule), as a plain controller."""
        if state is None:
            raise ValueError(f"{self.name}: needs the station state (run it through simulation.runner.simulate)")
        return self.act_with(self.knobs, state)


def knob_rule(settings: Settings) -> KnobRule:
    """The knob rule around the threshold rule as tuned on the training year (`control.residual_tuning`,
    which the train and evaluate stages take from the scenario's `peak_shaving` record)."""
    tuned = settings.control.residual_tuning
    if tuned is None:
        raise ValueError(
            "the knob rule moves the tuned peak_shaving rule, which is not set (the train and evaluate "
            "stages take it from the scenario's peak_shaving record)"
        )
    rule = make_rule(settings, tuned.threshold_kw, tuned.recharge_soc_pct)
    spans = settings.knobs
    return KnobRule(
        rule.spec,
        rule.threshold_kw,
        rule.recharge_soc,
        window_cap_span=spans.window_cap_span_pct / PERCENT,
        refill_soc_span=spans.refill_soc_span_pct / PERCENT,
        offpeak_cap_span=spans.offpeak_cap_span_pct / PERCENT,
    )
