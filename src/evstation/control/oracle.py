"""The oracle: a perfect-foresight ceiling, solved as one linear program over a split's whole year,
then replayed in CityLearn through the same runner as every other controller.

The LP (all energies in kWh over a one-hour step, grid side unless said otherwise), per step t:
    charge_t, discharge_t in [0, battery power]         battery flows at the meter bus
    stored_t in [min SOC, 100 %] of capacity            battery energy after step t
    stored_t = (1 - standby loss) * stored_{t-1} + sqrt(eta) * charge_t - discharge_t / sqrt(eta)
    load_t + sum(draw at t) + charge_t - discharge_t - pv_t = import_t - surplus_t,  both >= 0
and per session k, per step it is plugged in, draw_{k,t} in [0, socket power], with
    required_k <= charger efficiency * sum_t draw_{k,t} + shortfall_k <= room_k
(required = (required SOC - arrival SOC) * battery, room = (1 - arrival SOC) * battery: one ranged
row that never plans energy into a full vehicle, which CityLearn would refuse). With monthly demand
charges, per billing month m, two billed-peak variables (kW; a step is one hour, so kWh = kW):
    peak_window_m >= import_t   for every step t of m within the tariff's peak hours
    peak_any_m    >= import_t   for every step t of m
priced at the generation and the distribution rate (PEN per kW-month): at the optimum each is the
month's billed demand, so the LP's bill is the tariff's bill of its import. The tariff owns these
rows, their variables and their prices (`tariff.model.BillingTariff.lp_peak_rows`, `PeakRows`); this
module only places them after its own. (Only a charge that is not 0 gets its rows and variables:
without demand charges the LP is the one without them.)

Two modes, chosen by the controller's name (`MODES`): `oracle` minimises grid CO2 (sum import * ef)
first and the bill (energy plus demand charges) times a small tie-break weight; `oracle_bill` the
bill first and grid CO2 as its tie-break. Both add a tiny price on battery throughput (so that among
equal plans it never charges and discharges in one step, which a single CityLearn action cannot do),
and a heavy penalty on shortfall (energy an EV cannot get in its stay). The battery's final SOC is
left free: any controller in CityLearn may also end the year with an empty battery, so this is the
true ceiling.

What remains of the gap between the LP and its CityLearn replay (measured, see `<split>_lp.json`):
- CityLearn keeps its energy flows and SOCs in float32: each step's quantities carry a relative
  error of ~1e-7 (a few 1e-4 kWh on a MWh-scale step), so the replay's import differs in the
  last digits and a plan that fills the battery or a vehicle exactly to its edge is clipped a hair
  short there (CityLearn limits charging by the room left, computed in float32).
- CityLearn recomputes the battery's energy from the action (action * nominal power) and clips it
  by power and by the SOC window itself; the plan sits on those edges often (that is where an
  optimum lives), so the replay follows it only to within that rounding.
- A vehicle refuses energy beyond full: the room constraint keeps the plan below it, so only the
  float rounding above remains.
The gap is therefore a rounding effect, orders of magnitude below the gains being compared.
"""

from __future__ import annotations

import logging
import math
import resource
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..config import Oracle, Settings
from ..dataset import read_dataset
from ..errors import ConfigError, DataError
from ..site.sessions import socket_sessions
from ..tariff.model import BillingTariff, PeakRows

log = logging.getLogger(__name__)

CONTROLLER_NAME = "oracle"
REPORT_DIR = "oracle"
# Each recorded oracle and what its LP minimises first (the other metric breaks ties).
MODES = {"oracle": "grid_co2", "oracle_bill": "bill"}
# Figures of the machine and the moment, not of the plan: logged, never written into the LP record
# (a DVC metric), so the same data and settings give the same bytes on every run.
RUN_FIGURES = ("build_seconds", "solve_seconds", "peak_rss_mb")
KB_PER_MB = 1024  # resource.getrusage reports ru_maxrss in KiB on Linux
PERCENT = 100.0


# ---------------------------------------------------------------- LP inputs from plain arrays


@dataclass(frozen=True)
class BatterySpec:
    capacity_kwh: float
    power_kw: float
    round_trip_efficiency: float  # fraction; sqrt of it applies on charge and on discharge
    min_soc_pct: float
    initial_soc_pct: float
    standby_loss_per_step: float  # fraction of stored energy lost between steps

    @classmethod
    def from_settings(cls, settings: Settings) -> BatterySpec:
        battery = settings.battery
        if battery.capacity_fade_pct_per_cycle > 0:
            raise ConfigError(
                "battery.capacity_fade_pct_per_cycle: the oracle's LP models a constant capacity; "
                "set it to 0 to run the oracle"
            )
        return cls(
            battery.capacity_kwh,
            battery.power_kw,
            battery.round_trip_efficiency_pct / PERCENT,
            battery.min_soc_pct,
            battery.initial_soc_pct,
            battery.standby_loss_pct_per_step / PERCENT,
        )


SESSION_INPUT_COLUMNS = (
    "socket_index",
    "arrival_step",
    "departure_step",
    "power_kw",
    "battery_kwh",
    "arrival_soc_pct",
    "required_soc_pct",
)


@dataclass(frozen=True)
class LPInputs:
    """Everything the LP needs, as plain arrays: hourly profiles (kWh per step) and a sessions table
    with SESSION_INPUT_COLUMNS (departure_step exclusive; power_kw is the socket's rated power)."""

    load_kwh: np.ndarray
    pv_kwh: np.ndarray
    tariff_pen_per_kwh: np.ndarray
    ef_kg_per_kwh: np.ndarray
    sessions: pd.DataFrame
    battery: BatterySpec
    charger_efficiency: float
    socket_count: int
    month: np.ndarray | None = None  # billing month of each step (None: a single month)
    in_peak: np.ndarray | None = None  # bool per step: within the tariff's peak hours (None: never)
    billing: BillingTariff = BillingTariff()  # its demand charges and their rows (default: none)

    @property
    def steps(self) -> int:
        return len(self.load_kwh)

    def peak_rows(self) -> PeakRows | None:
        """The tariff's billed-peak block over these steps (None: no demand charge)."""
        month = np.zeros(self.steps, dtype=np.int64) if self.month is None else self.month
        in_peak = np.zeros(self.steps, dtype=bool) if self.in_peak is None else self.in_peak
        return self.billing.lp_peak_rows(month, in_peak)

    def check(self) -> None:
        for name in ("pv_kwh", "tariff_pen_per_kwh", "ef_kg_per_kwh", "month", "in_peak"):
            if getattr(self, name) is not None and len(getattr(self, name)) != self.steps:
                raise DataError(f"oracle inputs: {name} has {len(getattr(self, name))} steps, load has {self.steps}")
        missing = [c for c in SESSION_INPUT_COLUMNS if c not in self.sessions.columns]
        if missing:
            raise DataError(f"oracle inputs: sessions lack columns {', '.join(missing)}")
        arrival, departure = self.sessions["arrival_step"].to_numpy(), self.sessions["departure_step"].to_numpy()
        if len(arrival) and ((arrival < 0).any() or (departure <= arrival).any() or (departure > self.steps).any()):
            raise DataError("oracle inputs: every session needs 0 <= arrival_step < departure_step <= steps")


def inputs_from_dataset(settings: Settings, profiles: pd.DataFrame, sessions: pd.DataFrame) -> LPInputs:
    """The LP inputs of a written split (its profiles.csv and sessions.csv), sockets in action order."""
    billing = BillingTariff.from_settings(settings.tariff)
    month, in_peak = billing.calendar(profiles["timestamp"])
    return LPInputs(
        load_kwh=profiles["mall_kwh"].to_numpy(dtype=float),
        pv_kwh=profiles["pv_kwh"].to_numpy(dtype=float),
        tariff_pen_per_kwh=profiles["tariff_pen_per_kwh"].to_numpy(dtype=float),
        ef_kg_per_kwh=profiles["emission_factor_kg_per_kwh"].to_numpy(dtype=float),
        sessions=socket_sessions(settings, sessions),
        battery=BatterySpec.from_settings(settings),
        charger_efficiency=settings.sockets.efficiency_pct / PERCENT,
        socket_count=settings.sockets.total,
        month=month,
        in_peak=in_peak,
        billing=billing,
    )


# ---------------------------------------------------------------- the LP


@dataclass(frozen=True)
class Layout:
    """Where each block of variables sits in the column vector, and which session-hour each draw is."""

    steps: int
    sessions: int
    draw_session: np.ndarray  # per draw variable: its session's row in the sessions table
    draw_step: np.ndarray  # per draw variable: its step
    peaks: PeakRows | None = None  # the tariff's billed-peak variables and rows (None: no demand charge)

    @property
    def draws(self) -> int:
        return len(self.draw_step)

    def block(self, name: str) -> slice:
        order = ("charge", "discharge", "stored", "import", "surplus")
        if name in order:
            start = order.index(name) * self.steps
            return slice(start, start + self.steps)
        draw_start = len(order) * self.steps
        if name == "draw":
            return slice(draw_start, draw_start + self.draws)
        if name == "shortfall":
            return slice(draw_start + self.draws, draw_start + self.draws + self.sessions)
        window, every = (self.peaks.window_peaks, self.peaks.any_peaks) if self.peaks else (0, 0)
        if name == "peak_window":
            start = draw_start + self.draws + self.sessions
            return slice(start, start + window)
        if name == "peak_any":
            start = self.block("peak_window").stop
            return slice(start, start + every)
        raise KeyError(name)

    @property
    def columns(self) -> int:
        return self.block("peak_any").stop

    @property
    def peak_row_count(self) -> int:
        return self.peaks.row_count if self.peaks else 0

    @property
    def rows(self) -> int:
        # balance, battery dynamics, one ranged row per session, one row per billed-peak bound
        return 2 * self.steps + self.sessions + self.peak_row_count


def session_hours(sessions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(session row, step) of every hour each session is plugged in, without a Python loop."""
    arrival = sessions["arrival_step"].to_numpy(dtype=np.int64)
    stay = sessions["departure_step"].to_numpy(dtype=np.int64) - arrival
    session_of = np.repeat(np.arange(len(sessions), dtype=np.int64), stay)
    first_of = np.repeat(np.cumsum(stay) - stay, stay)
    step_of = np.repeat(arrival, stay) + (np.arange(int(stay.sum()), dtype=np.int64) - first_of)
    return session_of, step_of


@dataclass(frozen=True)
class LinearProgram:
    layout: Layout
    cost: np.ndarray
    column_lower: np.ndarray
    column_upper: np.ndarray
    matrix: sp.csc_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray


@dataclass(frozen=True)
class Prices:
    """The objective's price of each imported kWh, and of each kW of each month's billed peaks."""

    import_per_kwh: np.ndarray
    window_per_kw: float
    any_per_kw: float


def _objective_prices(inputs: LPInputs, options: Oracle, objective: str) -> Prices:
    """CO2 first with the bill as the tie-break, or the bill first with CO2 as the tie-break."""
    weight = options.tiebreak_weight
    if objective == "grid_co2":
        return Prices(
            inputs.ef_kg_per_kwh + weight * inputs.tariff_pen_per_kwh, *inputs.billing.lp_prices_per_kw(weight)
        )
    if objective == "bill":
        return Prices(inputs.tariff_pen_per_kwh + weight * inputs.ef_kg_per_kwh, *inputs.billing.lp_prices_per_kw())
    raise ConfigError(f"oracle objective: {objective!r} is neither grid_co2 nor bill")


def _check_penalty(prices: Prices, inputs: LPInputs, options: Oracle) -> None:
    """Leaving a kWh unmet must always cost more than buying it, else the LP would skip charging: the
    dearest kWh is the dearest hour's price plus raising both of its month's billed peaks by it."""
    dearest_kwh = float(prices.import_per_kwh.max(initial=0.0)) + prices.window_per_kw + prices.any_per_kw
    dearest_delivered = dearest_kwh / inputs.charger_efficiency
    if options.unmet_penalty_per_kwh <= dearest_delivered:
        raise ConfigError(
            f"oracle.unmet_penalty_per_kwh: {options.unmet_penalty_per_kwh} is not above the dearest "
            f"delivered kWh ({dearest_delivered:.4g}); the LP would leave EVs uncharged"
        )


def _bounds(inputs: LPInputs, layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    battery = inputs.battery
    lower, upper = np.zeros(layout.columns), np.full(layout.columns, np.inf)
    upper[layout.block("charge")] = battery.power_kw
    upper[layout.block("discharge")] = battery.power_kw
    lower[layout.block("stored")] = battery.min_soc_pct / PERCENT * battery.capacity_kwh
    upper[layout.block("stored")] = battery.capacity_kwh
    upper[layout.block("draw")] = inputs.sessions["power_kw"].to_numpy()[layout.draw_session]
    return lower, upper


def _matrix(inputs: LPInputs, layout: Layout) -> sp.csc_matrix:
    """The constraint matrix from coordinate triplets, block by block (rows: balance, dynamics, sessions)."""
    steps, root = layout.steps, math.sqrt(inputs.battery.round_trip_efficiency)
    hours = np.arange(steps)
    balance, dynamics = hours, steps + hours

    def cols(name: str) -> np.ndarray:
        return np.arange(layout.block(name).start, layout.block(name).stop)

    later = hours[1:]
    triplets = [
        (balance, cols("charge"), np.ones(steps)),
        (dynamics, cols("charge"), np.full(steps, -root)),
        (balance, cols("discharge"), -np.ones(steps)),
        (dynamics, cols("discharge"), np.full(steps, 1 / root)),
        (dynamics, cols("stored"), np.ones(steps)),
        (steps + later, cols("stored")[:-1], np.full(steps - 1, -(1 - inputs.battery.standby_loss_per_step))),
        (balance, cols("import"), -np.ones(steps)),
        (balance, cols("surplus"), np.ones(steps)),
        (balance[layout.draw_step], cols("draw"), np.ones(layout.draws)),
        (2 * steps + layout.draw_session, cols("draw"), np.full(layout.draws, inputs.charger_efficiency)),
        (2 * steps + np.arange(layout.sessions), cols("shortfall"), np.ones(layout.sessions)),
        *_peak_triplets(layout, cols("import")),
    ]
    rows = np.concatenate([t[0] for t in triplets])
    columns = np.concatenate([t[1] for t in triplets])
    values = np.concatenate([t[2] for t in triplets])
    return sp.csc_matrix((values, (rows, columns)), shape=(layout.rows, layout.columns))


def _peak_triplets(layout: Layout, import_cols: np.ndarray) -> list[tuple]:
    """The tariff's billed-peak rows, after the balance, dynamics and session rows."""
    if layout.peaks is None:
        return []
    return layout.peaks.triplets(
        2 * layout.steps + layout.sessions,
        import_cols,
        layout.block("peak_window").start,
        layout.block("peak_any").start,
    )


def _row_bounds(inputs: LPInputs, layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    battery, sessions = inputs.battery, inputs.sessions
    net_supply = inputs.pv_kwh - inputs.load_kwh
    dynamics = np.zeros(layout.steps)
    dynamics[0] = battery.initial_soc_pct / PERCENT * battery.capacity_kwh
    arrival = sessions["arrival_soc_pct"].to_numpy() / PERCENT
    capacity = sessions["battery_kwh"].to_numpy()
    required = np.clip(sessions["required_soc_pct"].to_numpy() / PERCENT - arrival, 0.0, None) * capacity
    room = (1.0 - arrival) * capacity
    peak_lower, peak_upper = layout.peaks.row_bounds() if layout.peaks else (np.zeros(0), np.zeros(0))
    lower = np.concatenate([net_supply, dynamics, required, peak_lower])
    upper = np.concatenate([net_supply, dynamics, np.maximum(room, required), peak_upper])
    return lower, upper


def build_lp(inputs: LPInputs, options: Oracle, objective: str = "grid_co2") -> LinearProgram:
    """The whole horizon's LP, vectorised: no Python loop over variables or sessions."""
    inputs.check()
    draw_session, draw_step = session_hours(inputs.sessions)
    layout = Layout(inputs.steps, len(inputs.sessions), draw_session, draw_step, inputs.peak_rows())
    prices = _objective_prices(inputs, options, objective)
    _check_penalty(prices, inputs, options)
    cost = np.zeros(layout.columns)
    cost[layout.block("import")] = prices.import_per_kwh
    cost[layout.block("charge")] = options.throughput_tiebreak_per_kwh
    cost[layout.block("discharge")] = options.throughput_tiebreak_per_kwh
    cost[layout.block("shortfall")] = options.unmet_penalty_per_kwh
    cost[layout.block("peak_window")] = prices.window_per_kw
    cost[layout.block("peak_any")] = prices.any_per_kw
    lower, upper = _bounds(inputs, layout)
    row_lower, row_upper = _row_bounds(inputs, layout)
    return LinearProgram(layout, cost, lower, upper, _matrix(inputs, layout), row_lower, row_upper)


# ---------------------------------------------------------------- solving


@dataclass(frozen=True)
class Solution:
    values: np.ndarray
    objective: float
    solve_seconds: float
    status: str


def solve_lp(lp: LinearProgram, options: Oracle) -> Solution:
    """Solve with HiGHS; raise DataError unless it is optimal (every session is feasible by construction
    and shortfall absorbs any that is not, so anything else is a modelling error)."""
    import highspy

    model = highspy.HighsLp()
    model.num_col_, model.num_row_ = lp.layout.columns, lp.layout.rows
    model.col_cost_, model.col_lower_, model.col_upper_ = lp.cost, lp.column_lower, lp.column_upper
    model.row_lower_, model.row_upper_ = lp.row_lower, lp.row_upper
    model.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    model.a_matrix_.start_ = lp.matrix.indptr.astype(np.int32)
    model.a_matrix_.index_ = lp.matrix.indices.astype(np.int32)
    model.a_matrix_.value_ = lp.matrix.data
    solver = highspy.Highs()
    solver.setOptionValue("output_flag", log.isEnabledFor(logging.DEBUG))
    solver.setOptionValue("solver", options.solver)
    solver.setOptionValue("threads", options.threads)
    solver.passModel(model)
    started = time.perf_counter()
    solver.run()
    seconds = time.perf_counter() - started
    status = solver.modelStatusToString(solver.getModelStatus())
    if solver.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise DataError(f"oracle LP: HiGHS ended with '{status}' instead of an optimum")
    values = np.asarray(solver.getSolution().col_value)
    return Solution(values, float(solver.getInfo().objective_function_value), seconds, status)


# ---------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Plan:
    """The optimal schedule in physical terms, and what the LP says it achieves."""

    charge_kwh: np.ndarray
    discharge_kwh: np.ndarray
    stored_kwh: np.ndarray
    import_kwh: np.ndarray
    surplus_kwh: np.ndarray
    socket_draw_kwh: np.ndarray  # (steps, sockets), sockets in action order
    shortfall_kwh: np.ndarray  # per session
    peak_window_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per month, when charged
    peak_any_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per month, when charged

    def actions(self, inputs: LPInputs) -> np.ndarray:
        """CityLearn actions per step: battery (charge - discharge) / power, each socket draw / rated power."""
        battery = (self.charge_kwh - self.discharge_kwh) / inputs.battery.power_kw
        socket_power = np.zeros(inputs.socket_count)
        socket_power[inputs.sessions["socket_index"].to_numpy(dtype=np.int64)] = inputs.sessions["power_kw"].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            sockets = np.where(socket_power > 0, self.socket_draw_kwh / socket_power, 0.0)
        return np.column_stack([np.clip(battery, -1.0, 1.0), np.clip(sockets, 0.0, 1.0)])


def extract_plan(lp: LinearProgram, solution: Solution, inputs: LPInputs) -> Plan:
    layout, x = lp.layout, solution.values
    draw = np.clip(x[layout.block("draw")], 0.0, None)  # HiGHS may return -1e-12 on a 0 bound
    socket_draw = np.zeros((layout.steps, inputs.socket_count))
    socket_of = inputs.sessions["socket_index"].to_numpy(dtype=np.int64)[layout.draw_session]
    np.add.at(socket_draw, (layout.draw_step, socket_of), draw)
    return Plan(
        *(np.clip(x[layout.block(name)], 0.0, None) for name in ("charge", "discharge", "stored", "import", "surplus")),
        socket_draw_kwh=socket_draw,
        shortfall_kwh=np.clip(x[layout.block("shortfall")], 0.0, None),
        peak_window_kw=x[layout.block("peak_window")],
        peak_any_kw=x[layout.block("peak_any")],
    )


def lp_bill(plan: Plan, inputs: LPInputs) -> dict:
    """The bill as the LP sees it: the energy of its import, the demand charges of its own billed-peak
    variables (a charge of 0 has none and costs nothing)."""
    generation_pen, distribution_pen = inputs.billing.lp_demand_charges_pen(plan.peak_window_kw, plan.peak_any_kw)
    parts = {
        "lp_bill_energy_pen": float(plan.import_kwh @ inputs.tariff_pen_per_kwh),
        "lp_bill_demand_generation_pen": generation_pen,
        "lp_bill_demand_distribution_pen": distribution_pen,
    }
    return {"lp_bill_pen": sum(parts.values()), **parts}


def plan_figures(plan: Plan, inputs: LPInputs) -> dict:
    return {
        "lp_grid_co2_kg": float(plan.import_kwh @ inputs.ef_kg_per_kwh),
        "lp_import_kwh": float(plan.import_kwh.sum()),
        "lp_cost_pen": float(plan.import_kwh @ inputs.tariff_pen_per_kwh),
        "lp_ev_kwh": float(plan.socket_draw_kwh.sum()),
        "lp_bess_in_kwh": float(plan.charge_kwh.sum()),
        "lp_bess_out_kwh": float(plan.discharge_kwh.sum()),
        "lp_surplus_kwh": float(plan.surplus_kwh.sum()),
        "lp_unmet_kwh": float(plan.shortfall_kwh.sum()),
        "lp_sessions_unmet": int((plan.shortfall_kwh > 0).sum()),
        **lp_bill(plan, inputs),
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / KB_PER_MB


@dataclass(frozen=True)
class SolvedSplit:
    plan: Plan
    actions: np.ndarray
    report: dict


def solve_inputs(inputs: LPInputs, options: Oracle, objective: str = "grid_co2") -> SolvedSplit:
    """Build, solve and read back one horizon's LP, with the figures of its size and cost to solve."""
    started = time.perf_counter()
    lp = build_lp(inputs, options, objective)
    build_seconds = time.perf_counter() - started
    solution = solve_lp(lp, options)
    plan = extract_plan(lp, solution, inputs)
    report = {
        "variables": lp.layout.columns,
        "constraints": lp.layout.rows,
        "nonzeros": int(lp.matrix.nnz),
        "session_hour_variables": lp.layout.draws,
        "sessions": lp.layout.sessions,
        "steps": lp.layout.steps,
        "build_seconds": build_seconds,
        "solve_seconds": solution.solve_seconds,
        "peak_rss_mb": peak_rss_mb(),
        "status": solution.status,
        "objective": objective,
        "lp_objective": solution.objective,
        **plan_figures(plan, inputs),
    }
    return SolvedSplit(plan, plan.actions(inputs), report)


# ---------------------------------------------------------------- replay


class OracleSchedule:
    """Replays a solved plan open-loop: the action of each step, whatever the observation."""

    name = CONTROLLER_NAME

    def __init__(self, actions: np.ndarray, name: str = CONTROLLER_NAME):
        self.actions = np.asarray(actions, dtype=float)
        self.name = name

    def reset(self) -> None:
        pass

    def act(self, observation: Mapping[str, float], step: int, state=None) -> np.ndarray:
        if not 0 <= step < len(self.actions):
            raise DataError(f"oracle: no planned action for step {step} (the plan has {len(self.actions)} steps)")
        return self.actions[step].copy()


def solve_split(settings: Settings, folder: Path, options: Oracle, objective: str = "grid_co2") -> SolvedSplit:
    dataset = read_dataset(Path(folder))
    return solve_inputs(inputs_from_dataset(settings, dataset.profiles, dataset.sessions), options, objective)
