"""The tariff object's three forms agree: on a small hand-made series across a month boundary, the per-step
charges add up to each month's demand charges of the bill, and the LP's billed-peak block is priced at the
rates and bills the same peaks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import PARAMS
from evstation.config import Oracle, apply_overrides, load_settings
from evstation.control.oracle import SESSION_INPUT_COLUMNS, BatterySpec, LPInputs, build_lp, solve_inputs
from evstation.tariff.model import BillingTariff, MonthPeaks

GENERATION_PEN_PER_KW_MONTH, DISTRIBUTION_PEN_PER_KW_MONTH = 56.09, 16.40
SETTINGS = apply_overrides(
    load_settings(PARAMS),
    {
        "tariff.demand.generation_pen_per_kw_month": GENERATION_PEN_PER_KW_MONTH,
        "tariff.demand.distribution_pen_per_kw_month": DISTRIBUTION_PEN_PER_KW_MONTH,
    },
)
BILLING = BillingTariff.from_settings(SETTINGS.tariff)
OPTIONS = Oracle(
    tiebreak_weight=1e-4, throughput_tiebreak_per_kwh=1e-5, unmet_penalty_per_kwh=1e6, solver="simplex", threads=1
)
PRICE_PEN_PER_KWH = 0.3


@pytest.fixture(scope="module")
def series() -> pd.DataFrame:
    """31 January and 1 February, hourly: an import that peaks once in January's peak hours, once
    outside February's, and has hours of no import."""
    stamps = pd.date_range("2023-01-31 00:00", periods=48, freq="h", tz="-05:00")
    import_kwh = np.tile([100.0, 80.0, 0.0, 120.0, 90.0, 60.0], 8)
    import_kwh[19] = 400.0  # January, 19:00: in the peak hours
    import_kwh[24 + 10] = 500.0  # February, 10:00: outside them
    import_kwh[24 + 20] = 300.0  # February, 20:00: February's peak-hours peak
    return pd.DataFrame(
        {"timestamp": stamps, "import_kwh": import_kwh, "tariff_pen_per_kwh": np.full(len(stamps), PRICE_PEN_PER_KWH)}
    )


def test_it_is_built_from_the_settings_and_back_from_plain_data():
    assert BILLING.charged and BILLING.rates.generation_pen_per_kw_month == GENERATION_PEN_PER_KW_MONTH
    assert BillingTariff.from_plain(BILLING.as_plain()) == BILLING
    assert not BillingTariff.from_settings(None).charged and BillingTariff.from_plain(None) == BillingTariff()
    assert [BILLING.in_peak_hours(hour) for hour in range(24)] == [
        SETTINGS.tariff.peak_start_hour <= hour < SETTINGS.tariff.peak_end_hour for hour in range(24)
    ]


def test_the_bill_follows_its_calendar(series):
    month, in_peak = BILLING.calendar(series["timestamp"])
    assert list(np.unique(month)) == [1, 2] and in_peak[19] and not in_peak[24 + 10] and in_peak[24 + 20]
    bill = BILLING.bill(series)
    assert bill["billed_peak_window_kw"] == {1: 400.0, 2: 300.0}
    assert bill["billed_peak_any_hour_kw"] == {1: 400.0, 2: 500.0}
    assert bill["bill_demand_generation_pen"] == pytest.approx(GENERATION_PEN_PER_KW_MONTH * 700.0)
    assert bill["bill_demand_distribution_pen"] == pytest.approx(DISTRIBUTION_PEN_PER_KW_MONTH * 900.0)
    assert bill["bill_energy_pen"] == pytest.approx(PRICE_PEN_PER_KWH * series["import_kwh"].sum())


def test_the_per_step_charges_add_up_to_each_months_demand_charges(series):
    month, in_peak = BILLING.calendar(series["timestamp"])
    bill = BILLING.bill(series)
    peaks, charges = MonthPeaks(), []
    for kw, step_month, window in zip(series["import_kwh"], month, in_peak):
        charge, peaks = BILLING.step_charge(peaks, int(step_month), float(kw), bool(window))
        charges.append(charge)
    charges = np.array(charges)
    np.testing.assert_array_equal(charges, BILLING.step_charges_pen(series["import_kwh"].to_numpy(), month, in_peak))
    for m in (1, 2):
        monthly_pen = (
            GENERATION_PEN_PER_KW_MONTH * bill["billed_peak_window_kw"][m]
            + DISTRIBUTION_PEN_PER_KW_MONTH * bill["billed_peak_any_hour_kw"][m]
        )
        assert charges[month == m].sum() == pytest.approx(monthly_pen, rel=1e-12)
    assert charges.sum() == pytest.approx(
        bill["bill_demand_generation_pen"] + bill["bill_demand_distribution_pen"], rel=1e-12
    )
    assert (charges >= 0).all() and (charges == 0).sum() > len(charges) / 2  # most steps raise no peak
    assert not BillingTariff().step_charges_pen(series["import_kwh"].to_numpy(), month, in_peak).any()


def _fixed_import_inputs(series: pd.DataFrame, billing: BillingTariff) -> LPInputs:
    """An LP with nothing to move (a battery held full, no vehicles): its import is the load."""
    month, in_peak = billing.calendar(series["timestamp"])
    steps = len(series)
    return LPInputs(
        load_kwh=series["import_kwh"].to_numpy(),
        pv_kwh=np.zeros(steps),
        tariff_pen_per_kwh=series["tariff_pen_per_kwh"].to_numpy(),
        ef_kg_per_kwh=np.full(steps, 0.5),
        sessions=pd.DataFrame(columns=list(SESSION_INPUT_COLUMNS)),
        battery=BatterySpec(100.0, 1.0, 0.9, 100.0, 100.0, 0.0),
        charger_efficiency=0.95,
        socket_count=1,
        month=month,
        in_peak=in_peak,
        billing=billing,
    )


def test_the_lps_billed_peaks_are_priced_at_the_rates_and_bill_the_same_peaks(series):
    assert BILLING.lp_prices_per_kw() == (GENERATION_PEN_PER_KW_MONTH, DISTRIBUTION_PEN_PER_KW_MONTH)
    weight = OPTIONS.tiebreak_weight
    assert BILLING.lp_prices_per_kw(weight) == (
        weight * GENERATION_PEN_PER_KW_MONTH,
        weight * DISTRIBUTION_PEN_PER_KW_MONTH,
    )
    inputs = _fixed_import_inputs(series, BILLING)
    lp = build_lp(inputs, OPTIONS, "bill")
    layout = lp.layout
    assert layout.peaks.months == 2 and layout.peaks.row_count == int(inputs.in_peak.sum()) + len(series)
    assert (lp.cost[layout.block("peak_window")] == GENERATION_PEN_PER_KW_MONTH).all()
    assert (lp.cost[layout.block("peak_any")] == DISTRIBUTION_PEN_PER_KW_MONTH).all()
    # each billed-peak row: +1 on a step's import, -1 on its month's peak, at most 0
    rows = lp.matrix.tocsr()[-layout.peak_row_count :]
    assert (rows.sum(axis=1) == 0).all() and (lp.row_upper[-layout.peak_row_count :] == 0).all()
    solved = solve_inputs(inputs, OPTIONS, "bill")
    bill = BILLING.bill(series)
    assert solved.plan.peak_window_kw == pytest.approx([400.0, 300.0])
    assert solved.plan.peak_any_kw == pytest.approx([400.0, 500.0])
    for part in ("bill_demand_generation_pen", "bill_demand_distribution_pen", "bill_energy_pen"):
        assert solved.report[f"lp_{part}"] == pytest.approx(bill[part], rel=1e-9), part


def test_without_demand_rates_the_lp_has_no_billed_peak_block(series):
    uncharged = BillingTariff.from_settings(load_settings(PARAMS).tariff)
    assert not uncharged.charged
    assert uncharged.lp_peak_rows(*uncharged.calendar(series["timestamp"])) is None
    lp = build_lp(_fixed_import_inputs(series, uncharged), OPTIONS, "bill")
    assert lp.layout.peaks is None and lp.layout.columns == 5 * len(series)
