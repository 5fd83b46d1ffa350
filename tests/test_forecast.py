"""The station's forecaster: each kind reads only hours already seen (or the training year's means), the
day-type forecast knows a Monday from a Sunday, and the hour of the decision is always the reading."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evstation.config import Forecast
from evstation.forecast.forecaster import Forecaster
from evstation.forecast.history import Calendar, TrainingProfiles
from evstation.tariff.demand import DemandRates
from evstation.tariff.model import BillingTariff

HOURS = 6 * 7 * 24  # six weeks from a Monday
START = "2024-01-01 00:00"  # a Monday
TRAINING_LOAD_KWH, TRAINING_PV_KWH = 7.0, 3.0


def _options(kind: str, **others) -> Forecast:
    return Forecast(
        kind=kind,
        load_weeks=others.get("load_weeks", 4),
        pv_days=others.get("pv_days", 3),
        noise_pct=others.get("noise_pct", 10.0),
        seed=others.get("seed", 0),
    )


def _profiles(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    stamps = pd.date_range(START, periods=HOURS, freq="h")
    weekday_level = np.where(stamps.weekday == 0, 100.0, 60.0)  # Mondays busier than any other day
    return pd.DataFrame(
        {
            "timestamp": stamps.strftime("%Y-%m-%d %H:%M:%S"),
            "mall_kwh": weekday_level + rng.uniform(0, 10, HOURS),
            "pv_kwh": np.clip(np.sin((stamps.hour - 6) / 12 * np.pi), 0, None) * rng.uniform(20, 80, HOURS),
        }
    )


def _forecaster(kind: str, profiles: pd.DataFrame | None = None, **others) -> Forecaster:
    profiles = _profiles() if profiles is None else profiles
    training = TrainingProfiles(np.full((7, 24), TRAINING_LOAD_KWH), np.full(24, TRAINING_PV_KWH), np.zeros((7, 24, 1)))
    billing = BillingTariff(DemandRates(peak_start_hour=18, peak_end_hour=23))
    return Forecaster(
        _options(kind, **others),
        profiles["mall_kwh"],
        profiles["pv_kwh"],
        Calendar.of(profiles, billing),
        training,
        "eval",
    )


@pytest.mark.parametrize("kind", ["day_type", "persistence", "profile", "noisy", "perfect"])
def test_the_hour_of_the_decision_is_the_reading(kind):
    load, pv = _forecaster(kind).window(np.arange(500, 524), -1.0, -2.0)
    assert (load[0], pv[0]) == (-1.0, -2.0) and len(load) == len(pv) == 24


@pytest.mark.parametrize("kind", ["day_type", "persistence", "profile"])
def test_a_station_forecast_never_reads_an_hour_not_yet_seen(kind):
    """Hours after the decision replaced by NaN: the forecast is the same, and finite."""
    step, profiles = 700, _profiles()
    blind = profiles.copy()
    blind.loc[step + 1 :, ["mall_kwh", "pv_kwh"]] = np.nan
    steps = np.arange(step, step + 48)
    seen, unseen = _forecaster(kind, profiles).window(steps, 1.0, 1.0), _forecaster(kind, blind).window(steps, 1.0, 1.0)
    for full, partial in zip(seen, unseen):
        assert np.isfinite(partial).all()
        np.testing.assert_array_equal(full, partial)


def test_day_type_forecasts_a_monday_from_past_mondays():
    profiles = _profiles()
    load_kwh, pv_kwh = profiles["mall_kwh"].to_numpy(), profiles["pv_kwh"].to_numpy()
    step = 5 * 7 * 24 - 5  # Sunday 19 h of the fifth week: the next hours run into Monday
    steps = np.arange(step, step + 24)
    load, pv = _forecaster("day_type", profiles, load_weeks=4, pv_days=3).window(steps, 0.0, 0.0)
    for k in range(1, 24):
        t = step + k
        assert load[k] == pytest.approx(np.mean(load_kwh[[t - 168 * w for w in (1, 2, 3, 4)]]))
        latest = t - 24 * int(np.ceil(k / 24))
        assert pv[k] == pytest.approx(np.mean(pv_kwh[[latest, latest - 24, latest - 48]]))
    monday = np.asarray(Calendar.of(profiles, BillingTariff()).weekday[steps] == 0)
    assert load[monday].min() > 95.0  # the Monday hours at Monday's level, not Sunday's
    persistence, _ = _forecaster("persistence", profiles).window(steps, 0.0, 0.0)
    assert persistence[monday].max() < 75.0  # persistence plans Monday from Sunday


def test_day_type_falls_back_to_the_training_year_before_a_weekday_was_seen():
    load, pv = _forecaster("day_type").window(np.arange(0, 24), 0.0, 0.0)
    assert np.all(load[1:] == TRAINING_LOAD_KWH) and np.all(pv[1:] == TRAINING_PV_KWH)
    load, _ = _forecaster("day_type", load_weeks=4).window(np.arange(200, 224), 0.0, 0.0)  # one Monday seen
    profiles = _profiles()
    assert load[1] == pytest.approx(profiles["mall_kwh"].to_numpy()[201 - 168])


def test_persistence_is_yesterdays_hour_and_the_profile_before_the_first_day():
    profiles, step = _profiles(), 30
    load, pv = _forecaster("persistence", profiles).window(np.arange(step, step + 24), 0.0, 0.0)
    assert np.array_equal(load[1:], profiles["mall_kwh"].to_numpy()[step - 23 : step])
    assert np.array_equal(pv[1:], profiles["pv_kwh"].to_numpy()[step - 23 : step])
    load, _ = _forecaster("persistence", profiles).window(np.arange(0, 24), 0.0, 0.0)
    assert np.all(load[1:] == TRAINING_LOAD_KWH)


def test_noisy_forecasts_are_reproducible_and_perfect_is_the_dataset():
    steps = np.arange(300, 324)
    first, again = (
        _forecaster("noisy", seed=3).window(steps, 0.0, 0.0),
        _forecaster("noisy", seed=3).window(steps, 0, 0),
    )
    other = _forecaster("noisy", seed=4).window(steps, 0.0, 0.0)
    np.testing.assert_array_equal(first[0], again[0])
    assert not np.array_equal(first[0], other[0])
    profiles = _profiles()
    perfect, _ = _forecaster("perfect", profiles).window(steps, 0.0, 0.0)
    np.testing.assert_array_equal(perfect[1:], profiles["mall_kwh"].to_numpy()[steps[1:]])
