"""The peak guard: an action may not raise the month's billed peak beyond what the rule would set.

A demand charge bills a month's largest import once it is set: one exploratory step that imports
more than the month has seen costs the whole month. The guard takes that failure out of exploration,
as the feasibility floor takes unserved sessions out: a step's import is held at or below a cap,
the higher of the month's billed peak so far (the any-hour peak, and the peak-window's within the
window) and the import the residual rule itself would make now, unless a session's deadline forces
more. Over the cap it first takes the battery's charge back (or discharges more, within its SOC
window), then the EV power above each vehicle's floor, least laxity last; the floor is always
served, so a deadline may still lift the import above the cap.

Import is predicted as the rules predict it: the mall load and EV draw less the PV, plus the
battery's action at the bus (`battery_power_kw` per unit of action over the hour).
"""

from __future__ import annotations

import numpy as np

from .floor import (
    HOURS_PER_STEP,
    battery_limits,
    ev_draw_kwh,
    floor_fraction,
    laxity_steps,
    room_fraction,
    socket_kwh_per_step,
)
from .station import StationState


def import_kwh(state: StationState, battery_action: float, sockets: np.ndarray) -> float:
    """The step's grid import if the battery takes `battery_action` and the sockets draw `sockets`."""
    net = (
        state.load_kwh
        - state.pv_kwh
        + ev_draw_kwh(state, sockets)
        + battery_action * state.battery_power_kw * HOURS_PER_STEP
    )
    return max(net, 0.0)


def billed_peak_kw(state: StationState) -> float:
    """The month's billed peak a step's import would raise: the peak window's within it, else the any-hour one."""
    return (
        max(state.billed_peak_window_kw, state.billed_peak_any_kw) if state.in_peak_window else state.billed_peak_any_kw
    )


def guard_cap_kwh(state: StationState, rule_import_kwh: float) -> float:
    """The most a guarded step may import (kWh over the hour): the month's billed peak so far, or what the
    rule imports now, whichever is higher."""
    return max(billed_peak_kw(state) * HOURS_PER_STEP, rule_import_kwh)


def guarded(
    state: StationState, battery_action: float, sockets: np.ndarray, cap_kwh: float
) -> tuple[float, np.ndarray]:
    """The action with its import brought under `cap_kwh` where it can be: the battery first, then the EV
    power above the floor, the vehicles with the most laxity cut first."""
    excess = import_kwh(state, battery_action, sockets) - cap_kwh
    if excess <= 0:
        return battery_action, sockets
    low, _ = battery_limits(state)
    step_kwh = state.battery_power_kw * HOURS_PER_STEP
    lowered = max(battery_action - excess / step_kwh, min(low, battery_action))
    excess -= (battery_action - lowered) * step_kwh
    if excess <= 0:
        return lowered, sockets
    return lowered, _cut_sockets(state, np.asarray(sockets, dtype=float), excess)


def _cut_sockets(state: StationState, sockets: np.ndarray, excess_kwh: float) -> np.ndarray:
    """Socket fractions lowered towards their floor by `excess_kwh` of bus energy, the most laxity first
    (a fraction above what fills a vehicle draws nothing more: only what a vehicle takes is cut)."""
    taking = np.minimum(sockets, room_fraction(state))
    floor = np.minimum(floor_fraction(state), taking)
    per_unit_kwh = socket_kwh_per_step(state)
    cut = sockets.copy()
    for socket in np.argsort(-laxity_steps(state), kind="stable"):
        if excess_kwh <= 0:
            break
        taken_kwh = min((taking[socket] - floor[socket]) * per_unit_kwh[socket], excess_kwh)
        if taken_kwh > 0:
            cut[socket] = taking[socket] - taken_kwh / per_unit_kwh[socket]
            excess_kwh -= taken_kwh
    return cut
