"""The peak guard: exploring cannot raise the month's billed peak beyond what the residual rule sets,
the floor is always served, and with the policy at zero (the rule) the guard changes nothing."""

from __future__ import annotations

import numpy as np
import pytest

from evstation.config import ConfigError
from evstation.control.floor import battery_limits, floor_fraction
from evstation.control.peak_guard import billed_peak_kw, guard_cap_kwh, guarded, import_kwh
from evstation.problem.actions import ActionPipeline
from test_actions import _settings, _state

EVENING = dict(hour=19, in_peak_window=True, load_kwh=900.0, pv_kwh=0.0)


def test_an_import_under_the_cap_is_left_alone():
    state = _state(**EVENING, billed_peak_window_kw=1000.0, billed_peak_any_kw=1200.0)
    sockets = np.full(8, 0.5)
    assert guarded(state, 0.0, sockets, 1000.0) == (0.0, sockets)


def test_the_battery_gives_way_first_then_the_ev_power_above_the_floor():
    state = _state(**EVENING, battery_soc=0.6, billed_peak_window_kw=950.0, billed_peak_any_kw=950.0)
    sockets = np.ones(8)
    charging = 0.1  # 271 kWh into the battery on a 900 kWh load: 1,171 kWh + the EV draw
    battery, kept = guarded(state, charging, sockets, 950.0)
    assert battery < charging and battery >= battery_limits(state)[0]
    assert import_kwh(state, battery, kept) == pytest.approx(950.0)
    np.testing.assert_array_equal(kept, sockets)  # the battery alone was enough


def test_the_ev_power_is_cut_to_the_floor_the_most_laxity_first_and_no_lower():
    empty = dict(battery_soc=0.2, billed_peak_window_kw=900.0, billed_peak_any_kw=900.0)
    state = _state(**EVENING, **empty)
    floor = floor_fraction(state)
    battery, kept = guarded(state, battery_limits(state)[0], np.ones(8), 900.0)
    assert np.all(kept >= floor - 1e-12)
    assert import_kwh(state, battery, kept) >= 900.0 - 1e-9  # at the floor the deadlines force the rest
    # a smaller excess is taken from the vehicles with the most laxity only
    roomy = _state(**EVENING, **{**empty, "billed_peak_window_kw": 0.0})
    need = import_kwh(roomy, 0.0, np.ones(8)) - 2.0
    _, partly = guarded(roomy, 0.0, np.ones(8), need)
    most_laxity = int(np.argmax(roomy.steps_left))
    assert partly[most_laxity] < 1.0 and partly[int(np.argmin(roomy.steps_left))] == 1.0


def test_the_cap_is_the_months_billed_peak_or_the_rules_import():
    outside = _state(hour=10, in_peak_window=False, billed_peak_window_kw=800.0, billed_peak_any_kw=600.0)
    assert billed_peak_kw(outside) == 600.0  # outside the window only the any-hour peak is billed
    inside = _state(**EVENING, billed_peak_window_kw=800.0, billed_peak_any_kw=600.0)
    assert billed_peak_kw(inside) == 800.0
    assert guard_cap_kwh(inside, 500.0) == 800.0 and guard_cap_kwh(inside, 1000.0) == 1000.0


@pytest.mark.parametrize("change", [0.0, 0.3, 1.0])
def test_in_the_pipeline_no_action_imports_above_the_cap_unless_a_deadline_forces_it(change):
    settings = _settings(residual="least_laxity", peak_guard=True)
    guardless = ActionPipeline(_settings(residual="least_laxity"))
    pipeline = ActionPipeline(settings)
    state = _state(**EVENING, battery_soc=0.5, billed_peak_window_kw=1000.0, billed_peak_any_kw=1000.0)
    action = np.full(3, change)
    guarded_action, _ = pipeline.to_citylearn(action, state)
    free_action, _ = guardless.to_citylearn(action, state)
    rule, _ = guardless.to_citylearn(np.zeros(3), state)
    cap = max(1000.0, import_kwh(state, rule[0], rule[1:]))
    assert import_kwh(state, guarded_action[0], guarded_action[1:]) <= cap + 1e-6
    if import_kwh(state, free_action[0], free_action[1:]) <= cap:
        np.testing.assert_array_equal(guarded_action, free_action)  # under the cap: untouched, the rule at zero


def test_a_guard_without_a_rule_to_cap_at_is_refused():
    with pytest.raises(ConfigError, match="peak_guard"):
        _settings(residual="none", peak_guard=True)
