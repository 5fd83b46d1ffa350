"""Least-laxity-first: one sort key, one allocator (acnportal's sorted algorithms in this shape).

Energy above the feasibility floor is handed to the connected sockets of a group in order of
laxity, least first (earliest departure, then socket order, breaking ties), each up to its rated
power and what its vehicle still has room for. Quantities are kWh drawn from the bus this step.
"""

from __future__ import annotations

import numpy as np

from ..config import VEHICLE_KINDS
from .floor import laxity_steps, room_fraction, socket_kwh_per_step
from .station import StationState, once_per_state


@once_per_state
def least_laxity_order(state: StationState) -> np.ndarray:
    """Socket indices, connected ones only, least laxity first."""
    connected = np.flatnonzero(state.connected)
    laxity, steps_left = laxity_steps(state)[connected], state.steps_left[connected]
    return connected[np.lexsort((connected, steps_left, laxity))]


def headroom_kwh(
    state: StationState, floor_fraction: np.ndarray, ceiling_fraction: np.ndarray | None = None
) -> np.ndarray:
    """Per socket, the bus energy it can still take above its floor this step, up to
    `ceiling_fraction` of rated power (default: what fills its vehicle); 0 at empty sockets."""
    ceiling = room_fraction(state) if ceiling_fraction is None else np.minimum(ceiling_fraction, room_fraction(state))
    ceiling = np.where(state.connected, np.maximum(ceiling, floor_fraction), 0.0)
    return np.maximum(ceiling - floor_fraction, 0.0) * socket_kwh_per_step(state)


def headroom_kwh_by_group(state: StationState, floor_fraction: np.ndarray) -> np.ndarray:
    """The bus energy each socket group (VEHICLE_KINDS order) can still take above its floor."""
    return np.bincount(state.socket_group, weights=headroom_kwh(state, floor_fraction), minlength=len(VEHICLE_KINDS))


def least_laxity_first(
    state: StationState,
    floor_fraction: np.ndarray,
    extra_kwh_by_group,
    ceiling_fraction: np.ndarray | None = None,
    socket_group: np.ndarray | None = None,
) -> np.ndarray:
    """Per-socket action fractions: the floor, plus each group's `extra_kwh_by_group[g]` (kWh from
    the bus; what exceeds the group's headroom is not handed out) given least laxity first, each
    socket up to `ceiling_fraction` (default: what fills its vehicle). `socket_group` regroups the
    sockets (default: the state's groups; all zeros pools the station)."""
    floor_fraction = np.asarray(floor_fraction, dtype=float)
    extra = np.maximum(np.asarray(extra_kwh_by_group, dtype=float), 0.0)
    groups = state.socket_group if socket_group is None else socket_group
    headroom = headroom_kwh(state, floor_fraction, ceiling_fraction)
    given_kwh = np.zeros(state.sockets)
    order = least_laxity_order(state)
    for group in range(len(extra)):
        members = order[groups[order] == group]
        taken_before = np.cumsum(headroom[members]) - headroom[members]
        given_kwh[members] = np.clip(extra[group] - taken_before, 0.0, headroom[members])
    return floor_fraction + given_kwh / socket_kwh_per_step(state)
