"""The learner `es`: a linear knob policy (learning/knob_policy.py) searched by CMA-ES on whole billing months.

A demand charge is billed on a month's largest import, so a policy is judged on whole billing months,
never on steps: each generation draws `agents.es.months_per_generation` billing months of the
training window (the training year less the validation days, `control.model_selection`), by the
training seed and the generation's number; every candidate of the generation runs on the same
months in the fast simulator (each month from its first hour, the battery at its initial SOC), and
its fitness is its cost less the tuned rule's on those months, relative to the rule's: the cost is the
scenario's `objective` (the bill, energy and demand charges; or grid CO2), plus
`unmet_penalty_per_kwh` (in the objective's units) for each kWh a vehicle leaves without. CMA-ES (`cmaes`, seeded by the
training seed) starts at zero parameters - the rule - with step size `sigma0`.

Model selection as the other learners': every `select_every_generations` generations (and after the
last) the search's mean runs on the validation days, and the best so far is kept; its score is the
rule's cost there less the policy's, relative to the rule's (0: the rule, which is scored first and
kept unless a policy beats it). The kept policy is `final/policy.json`. So that a reader can place a
score, the controllers a policy may start from (the least-laxity rule, the tuned rule, the planner:
learning/selection.py's `STARTS`) are scored once on the same days in the same terms (the tuned rule's
is the knobs' zero, 0 up to the knob rule's rounding) and the record keeps them (`references`).

Checkpoints: after every generation the whole search (CMA-ES's state, its random generator, the
generation, the best so far, the curve's rows) is written as a periodic checkpoint of the run, staged
and hashed as the other learners' (learning/checkpoints.py). `--resume` continues from the newest
intact one, and a resumed run ends with the same bytes as one never stopped: the months of a
generation are drawn from (seed, generation) alone, and the rule's costs are recomputed, not kept.
The tests stop runs through the training module's hook: `checkpoint:N` kills the process right after
generation N's checkpoint.

The learning curve (`curves/es_seed<k>.csv`, replaced once the final policy is in place; the run's own
folder holds it as it grows) has a row per generation: the simulated steps so far
(`timesteps`), the generation's best and mean fitness, `reward_mean` (minus the mean fitness: the
bill saved against the rule, as a fraction of its bill) and the validation score where scored.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from cmaes import CMA

from ..config import Settings
from ..control.knobs import knob_rule
from ..control.peak_shaving import with_tuned_residual
from ..errors import DataError
from ..files import write_json_atomically, write_text_atomically
from ..simulation.fast_env import make_fast_env
from ..simulation.observer import StationObserver, state_from_fast_env
from . import training
from .checkpoints import CURVE_FILE, Checkpoint, CheckpointStore, canonical_pickle
from .knob_policy import PARAMETERS, POLICY_FILE, KnobPolicyController, LinearKnobPolicy, knob_features
from .selection import SELECTION_FILE, start_controller, starts_known
from .station_env import unreadable, validation_start_step

log = logging.getLogger(__name__)
SEARCH_FILE = "search.pkl"
MEASURE = "share of the rule's cost saved"  # what es's validation scores are (the other learners': reward per step)
CURVE_COLUMNS = ("timesteps", "generation", "fitness_best", "fitness_mean", "reward_mean", "validation_score")


@dataclass(frozen=True)
class Window:
    """Steps [start, end) of a split: a billing month of the training window, or the validation days."""

    start: int
    end: int

    @property
    def steps(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Outcome:
    """A policy's run through a window: its bill (energy and demand charges), its grid CO2 and the energy
    vehicles missed."""

    bill_pen: float
    co2_grid_kg: float
    unmet_kwh: float

    def objective(self, objective: str) -> float:
        return self.bill_pen if objective == "bill" else self.co2_grid_kg

    def cost(self, objective: str, penalty_per_kwh: float) -> float:
        return self.objective(objective) + penalty_per_kwh * self.unmet_kwh


def billing_months(month: np.ndarray, start: int, end: int) -> list[Window]:
    """The runs of equal billing month within steps [start, end)."""
    steps = np.arange(start, end)
    if not len(steps):
        return []
    changes = np.flatnonzero(np.diff(month[steps])) + 1
    bounds = [start, *(start + changes).tolist(), end]
    return [Window(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


class KnobRunner:
    """Runs knob policies through windows of one split in the fast simulator, built once."""

    def __init__(self, settings: Settings, folder: Path):
        self.env = make_fast_env(settings, folder)
        self.observer = StationObserver(settings, folder, data=self.env.data)
        self.rule = knob_rule(settings)

    def run(self, policy: LinearKnobPolicy, window: Window) -> Outcome:
        rule = self.rule
        return self.run_acting(lambda state: rule.act_with(policy.knobs(knob_features(state, rule)), state), window)

    def run_controller(self, controller, window: Window) -> Outcome:
        """Any controller of the package (a rule, the planner) through the window, as the stages run it."""
        return self.run_acting(lambda state: controller.act({}, state.step, state), window)

    def run_acting(self, act, window: Window) -> Outcome:
        """`act` (a station state -> the simulator's action) through the window."""
        env = self.env
        env.reset(options={"start_step": window.start})
        bill_pen = co2_kg = unmet_kwh = 0.0
        for step in range(window.start, window.end):
            env.step(act(state_from_fast_env(self.observer, env)))
            import_kwh = max(env.last_flows.net_kwh, 0.0)
            bill_pen += import_kwh * float(env.data.pricing[step]) + env.last_demand_charge_pen
            co2_kg += import_kwh * float(env.data.carbon_intensity[step])
            unmet_kwh += env.unmet_kwh(step)
        return Outcome(bill_pen, co2_kg, unmet_kwh)


def relative_cost(outcomes: list[Outcome], rule: list[Outcome], objective: str, penalty_per_kwh: float) -> float:
    """The candidate's cost less the rule's on the same windows, over the rule's objective (0: the rule)."""
    candidate = math.fsum(outcome.cost(objective, penalty_per_kwh) for outcome in outcomes)
    reference = math.fsum(outcome.cost(objective, penalty_per_kwh) for outcome in rule)
    return (candidate - reference) / max(math.fsum(outcome.objective(objective) for outcome in rule), 1.0)


@dataclass
class SearchState:
    """Everything a stopped search needs to go on as if it never stopped (pickled whole in a checkpoint)."""

    optimizer: CMA
    generation: int = 0
    timesteps: int = 0  # simulated steps of every candidate so far
    best_parameters: np.ndarray = field(default_factory=lambda: np.zeros(PARAMETERS))
    best_score: float | None = None
    best_timesteps: int = 0
    best_generation: int = 0
    curve_rows: list = field(default_factory=list)
    scores: list = field(default_factory=list)
    references: dict | None = None  # the starts' validation scores, scored once (None: not yet)

    # `cmaes` pickles its optimizer without its random generator (an unpickled one draws from a fresh,
    # unseeded one) and its covariance as a triangle: both are carried here whole, so a resumed search
    # draws the very candidates an uninterrupted one does
    def __getstate__(self) -> dict:
        return {**self.__dict__, "optimizer_rng": self.optimizer._rng.get_state(), "optimizer_C": self.optimizer._C}

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        rng, covariance = state.pop("optimizer_rng"), state.pop("optimizer_C")
        state.setdefault("references", None)  # a search checkpointed before its record kept them
        self.__dict__.update(state)
        self.optimizer._rng.set_state(rng)
        self.optimizer._C = covariance


class Search:
    """The CMA-ES search of one seed on the training year; see the module's docstring."""

    def __init__(self, settings: Settings, folder: Path, seed: int):
        self.settings, self.folder = settings, folder
        self.options, self.seed, self.objective = settings.agents.es, seed, settings.objective
        self.runner = KnobRunner(settings, folder)
        steps = self.runner.observer.steps
        start = validation_start_step(settings, steps)
        self.months = billing_months(self.runner.observer.clock["month"], 0, start)
        self.validation = Window(start, steps) if start < steps else None
        self._rule_outcomes: dict[Window, Outcome] = {}

    def start(self) -> SearchState:
        optimizer = CMA(
            mean=np.zeros(PARAMETERS),
            sigma=self.options.sigma0,
            seed=self.seed,
            population_size=self.options.population,
        )
        return SearchState(optimizer)

    def rule_outcome(self, window: Window) -> Outcome:
        if window not in self._rule_outcomes:
            self._rule_outcomes[window] = self.runner.run(LinearKnobPolicy.zero(), window)
        return self._rule_outcomes[window]

    def months_of(self, generation: int) -> list[Window]:
        """The generation's billing months: drawn from (seed, generation) alone, so a resumed run draws the same."""
        rng = np.random.default_rng([self.seed, generation])
        count = min(self.options.months_per_generation, len(self.months))
        return [self.months[index] for index in sorted(rng.choice(len(self.months), size=count, replace=False))]

    def fitness(self, parameters: np.ndarray, windows: list[Window]) -> float:
        policy = LinearKnobPolicy(parameters)
        outcomes = [self.runner.run(policy, window) for window in windows]
        rule = [self.rule_outcome(window) for window in windows]
        return relative_cost(outcomes, rule, self.objective, self.options.unmet_penalty_per_kwh)

    def generation(self, state: SearchState) -> dict:
        """One generation: every candidate on the same months, told to CMA-ES; the curve's row."""
        windows = self.months_of(state.generation)
        solutions = []
        for _ in range(state.optimizer.population_size):
            candidate = state.optimizer.ask()
            solutions.append((candidate, self.fitness(candidate, windows)))
        state.optimizer.tell(solutions)
        state.generation += 1
        state.timesteps += state.optimizer.population_size * sum(window.steps for window in windows)
        fitnesses = [value for _, value in solutions]
        return {
            "timesteps": state.timesteps,
            "generation": state.generation,
            "fitness_best": min(fitnesses),
            "fitness_mean": float(np.mean(fitnesses)),
            "reward_mean": -float(np.mean(fitnesses)),
            "validation_score": math.nan,
        }

    def score(self, parameters: np.ndarray) -> float:
        """The rule's cost on the validation days less the policy's, over the rule's (0: the rule)."""
        return -self.fitness(parameters, [self.validation])

    def reference_scores(self) -> dict[str, float]:
        """The validation scores, in the policy's terms, of the controllers a policy may start from."""
        rule, penalty = [self.rule_outcome(self.validation)], self.options.unmet_penalty_per_kwh
        scores = {}
        for start in starts_known(self.settings):
            controller = start_controller(self.settings, self.folder, start)
            outcome = self.runner.run_controller(controller, self.validation)
            scores[start] = 0.0 - relative_cost([outcome], rule, self.objective, penalty)  # 0.0, never -0.0
            log.info("es: %s scores %+.5f on the validation days", start, scores[start])
        return scores

    def select(self, state: SearchState, parameters: np.ndarray) -> float:
        """Score `parameters` on the validation days at this point of the search; keep them if the best."""
        score = 0.0 if not np.any(parameters) else self.score(parameters)  # zero: the rule, 0 by definition
        state.scores.append({"timesteps": state.timesteps, "score": score})
        if state.best_score is None or score > state.best_score:
            state.best_parameters, state.best_score = np.array(parameters, dtype=float), score
            state.best_timesteps, state.best_generation = state.timesteps, state.generation
            log.info("es: validation score %+.5f at generation %d: the best so far, kept", score, state.generation)
        else:
            log.info(
                "es: validation score %+.5f at generation %d (best %+.5f at generation %d)",
                score,
                state.generation,
                state.best_score,
                state.best_generation,
            )
        return score


def curve_text(rows: list[dict]) -> str:
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=CURVE_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()


def _read_state(checkpoint: Checkpoint) -> SearchState:
    path = checkpoint.folder / SEARCH_FILE
    try:
        state = pickle.loads(path.read_bytes())
    except Exception as error:  # any garbage: pickle raises whatever the bytes lead it to
        raise unreadable(path, "an es search state", error) from None
    if not isinstance(state, SearchState):
        raise DataError(f"{path}: not an es search state (holds a {type(state).__name__})")
    return state


def _save_generation(store: CheckpointStore, state: SearchState) -> None:
    files = {SEARCH_FILE: canonical_pickle(state), CURVE_FILE: curve_text(state.curve_rows).encode()}
    store.save_files(files, state.timesteps)


def _write_selection(run_folder: Path, state: SearchState) -> None:
    record = {
        "best_score": state.best_score,
        "best_timesteps": state.best_timesteps,
        "scores": state.scores,
        "references": state.references or {},
        "measure": MEASURE,
    }
    write_json_atomically(run_folder / SELECTION_FILE, record)


@dataclass(frozen=True)
class Run:
    """Where one seed's search keeps its state and writes its outputs."""

    folder: Path  # checkpoints/es/seed<k>: periodic checkpoints, final/, selection.json, the curve so far
    curve: Path  # curves/es_seed<k>.csv: the learning curve, an output
    live_curve: Path  # the curve so far, in the run's own folder
    store: CheckpointStore


def _run_of(settings: Settings, agent: str, seed: int, folder: Path, results_dir: Path) -> Run:
    run_folder = training.run_folder(results_dir, agent, seed)
    curve = training.curve_path(results_dir, agent, seed)
    training.check_writable(run_folder, curve.parent)
    store = CheckpointStore(
        run_folder,
        settings.training.keep_checkpoints,
        training.run_fingerprint(settings, agent, seed, folder),
        record={"settings": training.trained_settings(settings, agent), "data": training.data_fingerprint(folder)},
    )
    return Run(run_folder, curve, training.live_curve_path(results_dir, agent, seed), store)


def _start_or_resume(run: Run, search: Search, agent: str, seed: int, resume: bool) -> SearchState:
    """The search's state: the newest intact checkpoint's (`--resume`), else a fresh one, the rule scored."""
    checkpoint = training.resume_point(run.store, agent, seed) if resume else None
    state = _read_state(checkpoint) if checkpoint is not None else None
    if resume:
        run.store.discard_unfinished()
    if state is not None:
        log.info("%s seed %d: resuming after generation %d", agent, seed, state.generation)
    else:
        run.store.clear()
        state = search.start()
        if search.validation is not None:
            search.select(state, state.best_parameters)  # the rule, scored first: a policy must beat it
    if search.validation is not None and state.references is None:
        # scored once, on a fresh search or on one resumed from a checkpoint written before they were
        # kept: either way the record holds what a search never stopped would
        state.references = search.reference_scores()
        _write_selection(run.folder, state)
    return state


def _next_generation(run: Run, search: Search, state: SearchState, last_generation: int) -> dict:
    """One generation, scored on the validation days when due, checkpointed; its curve row."""
    row = search.generation(state)
    every = search.options.select_every_generations
    if search.validation is not None and (state.generation % every == 0 or state.generation == last_generation):
        row["validation_score"] = search.select(state, state.optimizer.mean)
        _write_selection(run.folder, state)
    state.curve_rows.append(row)
    _save_generation(run.store, state)
    write_text_atomically(run.live_curve, curve_text(state.curve_rows))
    return row


def _save_final(run: Run, search: Search, state: SearchState) -> Checkpoint:
    """The kept policy as final/, then the learning curve replaced (only once the final policy is in
    place, as the other learners' is)."""
    if search.validation is None:  # no selection: the search's mean is the policy, as SB3's last model
        state.best_parameters, state.best_timesteps = np.array(state.optimizer.mean), state.timesteps
        state.best_generation = state.generation
    final = run.store.save_files(
        {POLICY_FILE: LinearKnobPolicy(state.best_parameters).as_json().encode()},
        state.best_timesteps,
        final=True,
        extra={
            "generations": state.generation,
            "best_generation": state.best_generation,
            "validation_score": state.best_score,
            "trained_timesteps": state.timesteps,
            # model selection in the other learners' terms (learning/selection.py's summary); the start is
            # the rule, scored 0 by definition
            "validation": {
                "start_score": state.scores[0]["score"] if state.scores else None,
                "kept_score": state.best_score,
                "kept_timesteps": state.best_timesteps,
                "references": state.references or {},
                "measure": MEASURE,
            },
        },
    )
    write_text_atomically(run.curve, curve_text(state.curve_rows))
    return final


def train_es(
    settings: Settings, agent: str, seed: int, *, data_dir: Path, results_dir: Path, resume: bool = False
) -> dict:
    """Search one seed's knob policy on the training year; returns where its final policy lies."""
    training.check_seed(seed)
    settings = with_tuned_residual(settings, results_dir, needed=True)  # the tuned rule the knobs move
    folder = Path(data_dir) / "train"
    if not (folder / "schema.json").is_file():
        raise DataError(f"{folder / 'schema.json'}: training data not found (run `evstation build-dataset`)")
    run = _run_of(settings, agent, seed, folder, results_dir)
    search = Search(settings, folder, seed)
    state = _start_or_resume(run, search, agent, seed, resume)
    generations = settings.agents.es.generations
    started = time.perf_counter()
    while state.generation < generations:
        row = _next_generation(run, search, state, generations)
        log.info(
            "%s seed %d: generation %d of %d, fitness best %+.5f mean %+.5f",
            agent,
            seed,
            state.generation,
            generations,
            row["fitness_best"],
            row["fitness_mean"],
        )
        if training._kill_point() == ("checkpoint", state.generation):
            training._kill_now()
    final = _save_final(run, search, state)
    log.info(
        "%s seed %d: %d generations (%d simulated steps) in %.0f s; kept generation %d; final policy in %s",
        agent,
        seed,
        state.generation,
        state.timesteps,
        time.perf_counter() - started,
        state.best_generation,
        final.folder,
    )
    return {"agent": agent, "seed": seed, "num_timesteps": state.timesteps, "device": "cpu", "final": str(final.folder)}


def replay_controller(agent: str, checkpoint: Checkpoint, settings: Settings, folder: Path) -> KnobPolicyController:
    """A checkpoint's policy as a controller, around the tuned rule of `settings`: a final one's policy, a
    periodic one's best so far (`evstation train es --eval-only --checkpoint newest`). The split's `folder`
    is not read: the knob rule and the features need only the state the runner passes."""
    path = checkpoint.folder / POLICY_FILE
    if path.is_file():
        policy = LinearKnobPolicy.read(path)
    elif (checkpoint.folder / SEARCH_FILE).is_file():
        policy = LinearKnobPolicy(_read_state(checkpoint).best_parameters)
    else:
        raise DataError(f"{checkpoint.folder}: neither {POLICY_FILE} nor {SEARCH_FILE} (no {agent} checkpoint)")
    return KnobPolicyController(agent, policy, knob_rule(settings))
