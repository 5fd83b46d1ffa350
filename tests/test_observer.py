"""The station state a controller reads: the same from the fast simulator and from CityLearn."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from conftest import data_dir
from evstation.config import apply_overrides, load_settings
from evstation.problem.features import features
from evstation.simulation.citylearn_env import make_station_env
from evstation.simulation.fast_env import make_fast_env
from evstation.simulation.observer import StationObserver, state_from_citylearn, state_from_fast_env


@pytest.fixture(scope="module")
def small(built_small):
    settings = load_settings(built_small / "params.yaml")
    return settings, data_dir(built_small) / "train"


def _assert_equal_states(fast, reference) -> None:
    for field in dataclasses.fields(fast):
        a, b = getattr(fast, field.name), getattr(reference, field.name)
        assert np.array_equal(np.asarray(a), np.asarray(b)), f"step {fast.step}: {field.name} {a} != {b}"


def test_both_simulators_give_equal_states_along_a_week_under_random_actions(small):
    settings, folder = small
    settings = apply_overrides(settings, {"forecast.kind": "noisy"})
    observer = StationObserver(settings, folder)
    fast, citylearn = make_fast_env(settings, folder), make_station_env(settings, folder)
    fast.reset(), citylearn.reset()
    rng = np.random.default_rng(11)
    low, high = fast.action_space.low, fast.action_space.high
    arrivals = continued = peaks_seen = 0
    for step in range(observer.steps):
        reference = state_from_citylearn(observer, citylearn, step)
        state = state_from_fast_env(observer, fast)
        _assert_equal_states(state, reference)
        np.testing.assert_array_equal(features(state, settings), features(reference, settings))
        peaks_seen += state.billed_peak_any_kw > 0
        sessions = observer.data.sessions
        arrivals += int(sessions.new_session[step].sum())
        continued += int((sessions.connected[step] & ~sessions.new_session[step]).sum())
        action = rng.uniform(low, high)
        fast.step(action)
        citylearn.step([action.tolist()])
    assert step == settings.simulation.horizon_hours - 1
    assert arrivals > 50 and continued > 50  # both kinds of vehicle SOC were compared
    assert peaks_seen > observer.steps - 24  # the month's billed peaks too, once a step has imported


def test_a_new_session_starts_from_its_arrival_soc_not_the_previous_visitor(small):
    settings, folder = small
    observer = StationObserver(settings, folder)
    sessions = observer.data.sessions
    step, socket = map(int, np.argwhere(sessions.new_session[1:] & sessions.connected[:-1])[0])
    step += 1  # a back-to-back arrival
    state = observer.state(step, 0.5, np.full(observer.data.sessions.connected.shape[1], 0.99, np.float32))
    assert state.vehicle_soc[socket] == pytest.approx(float(sessions.arrival_soc[step, socket]))
    assert state.vehicle_soc[socket] < 0.5
    assert state.required_soc[socket] == pytest.approx(float(sessions.required_soc[step, socket]))
    assert state.steps_left[socket] >= 1


def test_empty_sockets_read_zero_and_the_calendar_is_local(small):
    settings, folder = small
    observer = StationObserver(settings, folder)
    state = observer.state(0, 0.5, np.zeros(8, np.float32))
    empty = ~state.connected
    assert empty.any()
    assert (
        (state.vehicle_soc[empty] == 0).all()
        and (state.required_soc[empty] == 0).all()
        and (state.steps_left[empty] == 0).all()
    )
    assert state.hour == 0 and state.weekday == 6  # 1 January 2023 was a Sunday
    assert observer.state(13, 0.5, np.zeros(8, np.float32)).hour == 13
    # moto sockets first (group 0), then mototaxis (group 1); a step at rated power moves less than rated power
    assert list(state.socket_group) == [0] * 6 + [1] * 2
    assert (state.kwh_per_step_at_full_power < state.socket_power_kw).all()


def test_forecasts_are_the_station_forecasters_over_the_next_rows_padded(small):
    settings, folder = small
    perfect = StationObserver(apply_overrides(settings, {"forecast.kind": "perfect"}), folder)
    hours = settings.control.forecast_hours
    state = perfect.state(5, 0.5, np.zeros(8, np.float32))
    np.testing.assert_array_equal(state.pv_forecast_kwh, perfect.data.pv_kwh[6 : 6 + hours].astype(float))
    last = perfect.state(perfect.steps - 1, 0.5, np.zeros(8, np.float32))
    assert (last.load_forecast_kwh == float(perfect.data.load_kwh[-1])).all()
    noisy = StationObserver(apply_overrides(settings, {"forecast.kind": "noisy"}), folder, data=perfect.data)
    first, again = noisy.state(30, 0.5, np.zeros(8, np.float32)), noisy.state(30, 0.5, np.zeros(8, np.float32))
    np.testing.assert_array_equal(first.load_forecast_kwh, again.load_forecast_kwh)
    assert not np.array_equal(
        first.load_forecast_kwh, perfect.state(30, 0.5, np.zeros(8, np.float32)).load_forecast_kwh
    )


def test_the_default_forecast_reads_no_hour_after_the_step(small):
    """The params' forecast (a station's) is the same whatever the hours after the step hold."""
    settings, folder = small
    assert settings.forecast.kind != "perfect"
    observer = StationObserver(settings, folder)
    step = 100
    blind = dataclasses.replace(
        observer.data,
        load_kwh=np.where(np.arange(observer.data.rows) > step, 1e6, observer.data.load_kwh),
        pv_kwh=np.where(np.arange(observer.data.rows) > step, 1e6, observer.data.pv_kwh),
    )
    seen, unseen = observer.state(step, 0.5, np.zeros(8, np.float32)), StationObserver(settings, folder, data=blind)
    unseen = unseen.state(step, 0.5, np.zeros(8, np.float32))
    np.testing.assert_array_equal(seen.load_forecast_kwh, unseen.load_forecast_kwh)
    np.testing.assert_array_equal(seen.pv_forecast_kwh, unseen.pv_forecast_kwh)


def test_a_step_outside_the_episode_is_refused(small):
    settings, folder = small
    observer = StationObserver(settings, folder)
    with pytest.raises(Exception, match="outside the episode"):
        observer.state(observer.steps, 0.5, np.zeros(8, np.float32))
