"""The learner `es` (learning/es.py) and the knob problem under stable-baselines3, at small size: a search
stopped and resumed ends with the same bytes as one never stopped, `train es` and `evaluate es` write the
records every learner writes, and PPO trains on `control.action_space: knobs`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import results_dir, run_cli_in_process, write_params
from evstation.control.knobs import KNOB_NAMES
from evstation.learning import training
from evstation.learning.agents import MODEL_CLASSES
from evstation.learning.es import MEASURE, SearchState
from evstation.learning.knob_policy import PARAMETERS, LinearKnobPolicy

# a few generations of a few candidates on the small station's one training "month" (its 5 training days)
TINY_ES = {
    "agents.es.population": 4,
    "agents.es.generations": 4,
    "agents.es.select_every_generations": 2,
    "training.seeds": [0],
    "training.keep_checkpoints": 2,
}
# the tuned rule the knobs move: its record as `evstation baseline peak_shaving` writes it (its tuning part,
# which is all the learners read), so that the tests need not tune it first
TUNING = {"threshold_kw": 300.0, "recharge_soc_pct": 60.0}


def es_project(built_small: Path, folder: Path, overrides: dict | None = None) -> Path:
    shutil.copytree(built_small / "data", folder / "data")
    write_params(folder, {**TINY_ES, **(overrides or {})})
    metrics = results_dir(folder) / "metrics"
    metrics.mkdir(parents=True)
    (metrics / "peak_shaving.json").write_text(json.dumps({"tuning": TUNING}))
    return folder


def final_files(project: Path) -> dict[str, bytes]:
    run = results_dir(project) / "checkpoints" / "es" / "seed0"
    files = {path.name: path.read_bytes() for path in (run / "final").iterdir()}
    files["selection.json"] = (run / "selection.json").read_bytes()
    files["curve"] = (results_dir(project) / "curves" / "es_seed0.csv").read_bytes()
    return files


class Stopped(Exception):
    pass


def stop():
    raise Stopped


def test_a_stopped_search_resumes_to_the_same_bytes(built_small, tmp_path, monkeypatch):
    whole = es_project(built_small, tmp_path / "whole")
    run_cli_in_process("train", "es", "--seed", "0", cwd=whole)
    stopped = es_project(built_small, tmp_path / "stopped")
    monkeypatch.setenv(training.KILL_HOOK, "checkpoint:2")
    monkeypatch.setattr(training, "_kill_now", stop)
    with pytest.raises(Stopped):
        run_cli_in_process("train", "es", "--seed", "0", "--resume", cwd=stopped)
    monkeypatch.delenv(training.KILL_HOOK)
    assert not (results_dir(stopped) / "checkpoints" / "es" / "seed0" / "final").exists()
    run_cli_in_process("train", "es", "--seed", "0", "--resume", cwd=stopped)
    assert final_files(stopped) == final_files(whole)
    meta = json.loads((results_dir(whole) / "checkpoints" / "es" / "seed0" / "final" / "meta.json").read_text())
    assert meta["generations"] == TINY_ES["agents.es.generations"]


def test_a_search_checkpointed_before_its_record_kept_the_starts_scores_resumes_to_the_same_bytes(
    built_small, tmp_path, monkeypatch
):
    """A checkpoint written by the code before the record kept the starts' validation scores (its search state
    has no `references`): resumed, the search scores them and ends as one never stopped."""
    whole = es_project(built_small, tmp_path / "whole")
    run_cli_in_process("train", "es", "--seed", "0", cwd=whole)
    stopped = es_project(built_small, tmp_path / "stopped")
    written = SearchState.__getstate__

    def as_before(state):
        kept = written(state)
        del kept["references"]
        return kept

    monkeypatch.setattr(SearchState, "__getstate__", as_before)
    monkeypatch.setenv(training.KILL_HOOK, "checkpoint:2")
    monkeypatch.setattr(training, "_kill_now", stop)
    with pytest.raises(Stopped):
        run_cli_in_process("train", "es", "--seed", "0", "--resume", cwd=stopped)
    monkeypatch.undo()
    run_cli_in_process("train", "es", "--seed", "0", "--resume", cwd=stopped)
    assert final_files(stopped) == final_files(whole)
    meta = json.loads(final_files(stopped)["meta.json"])
    assert list(meta["validation"]["references"]) == ["least_laxity", "peak_shaving", "mpc"]


def test_train_and_evaluate_es_write_a_learners_records(built_small, tmp_path):
    project = es_project(built_small, tmp_path)
    run_cli_in_process("train", "es", "--seed", "0", cwd=project)
    run_cli_in_process("evaluate", "es", "--seed", "0", cwd=project)
    record = json.loads((results_dir(project) / "metrics" / "es_seed0.json").read_text())
    assert record["simulator"] == {"train": "fast", "eval": "citylearn"}
    assert record["forecast"]["kind"] == "day_type" and record["model_steps"] >= 0
    for split in ("train", "eval"):
        assert record[split]["ev_satisfaction_pct"] == 100.0 and record[split]["bill_pen"] > 0
        assert (results_dir(project) / "timeseries" / f"es_seed0_{split}.csv").is_file()
    # its validation scores beside its start's (the knobs' zero: 0) and the planner's, on the same days in the
    # same terms, so that the report can place them
    validation = record["validation"]
    assert validation["measure"] == MEASURE and validation["start_score"] == 0.0
    assert list(validation["references"]) == ["least_laxity", "peak_shaving", "mpc"]
    assert validation["references"]["peak_shaving"] == 0.0
    assert validation["references"]["least_laxity"] != 0.0 and validation["references"]["mpc"] != 0.0


def test_zero_parameters_are_zero_knobs():
    policy = LinearKnobPolicy.zero()
    assert policy.parameters.shape == (PARAMETERS,)
    np.testing.assert_array_equal(policy.knobs(np.random.default_rng(0).normal(size=9)), np.zeros(len(KNOB_NAMES)))


def test_ppo_trains_on_the_knob_problem(built_small, tmp_path):
    tiny_ppo = {
        "control.residual": "peak_shaving",
        "control.action_space": "knobs",
        "agents.ppo.total_timesteps": 256,
        "agents.ppo.n_steps": 64,
        "agents.ppo.n_envs": 1,
        "agents.ppo.batch_size": 32,
        "agents.ppo.net_arch": [32, 32],
        "agents.ppo.critic_warmup_steps": 0,
        "training.checkpoint_every_steps": 128,
    }
    project = es_project(built_small, tmp_path, tiny_ppo)
    run_cli_in_process("train", "ppo", "--seed", "0", cwd=project)
    final = results_dir(project) / "checkpoints" / "ppo" / "seed0" / "final"
    model = MODEL_CLASSES["ppo"].load(final / "model.zip", device="cpu")
    assert model.action_space.shape == (len(KNOB_NAMES),)
    assert "knobs" in json.loads((final / "meta.json").read_text())["settings"]  # its spans are recorded
    run_cli_in_process("evaluate", "ppo", "--seed", "0", cwd=project)
    record = json.loads((results_dir(project) / "metrics" / "ppo_seed0.json").read_text())
    assert record["eval"]["ev_satisfaction_pct"] == 100.0
