"""A user's mistakes around training and evaluating an agent: one line naming the key or file, exit 2,
and nothing written; and the step budget's schedules and overshoot."""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import data_dir, results_dir, run_cli_in_process, write_params
from evstation.config import apply_overrides, load_settings
from evstation.errors import DataError
from evstation.learning.agents import MODEL_CLASSES, linear_schedule
from test_training import TINY, folder_bytes, messages_of, meta, periodic, project_with, run_dir


@pytest.fixture(scope="module")
def trained(built_small, tmp_path_factory) -> Path:
    """A small station with PPO trained on it (seed 0, params TINY), kept read-only by the tests."""
    project = project_with(built_small, tmp_path_factory.mktemp("trained"))
    run_cli_in_process("train", "ppo", cwd=project)
    return project


@pytest.fixture
def project(trained, tmp_path) -> Path:
    """A copy of the trained project to spoil."""
    return Path(shutil.copytree(trained, tmp_path / "project"))


@pytest.fixture
def refused(capsys, monkeypatch):
    """Run the command line in this process (the refusals come before any training); it must refuse
    in one line on stderr with exit 2. Returns the line."""
    from evstation.cli import main

    def run(project: Path, *args: str) -> str:
        monkeypatch.chdir(project)
        capsys.readouterr()
        handlers, level = logging.root.handlers[:], logging.getLogger("evstation").level
        try:
            code = main(list(args))
        finally:  # main points the log at this test's captured stderr
            logging.root.handlers[:] = handlers
            logging.getLogger("evstation").setLevel(level)
        stderr = capsys.readouterr().err
        assert code == 2, stderr[-3000:]
        lines = stderr.strip().splitlines()
        assert len(lines) == 1, lines
        return lines[0]

    return run


def written(project: Path) -> dict[str, bytes]:
    """Every file under the results folder but the run locks (hidden)."""
    return {
        name: content
        for name, content in folder_bytes(results_dir(project)).items()
        if not any(part.startswith(".") for part in Path(name).parts)
    }


def replace_file(folder: Path, name: str, content: bytes) -> None:
    """Write a file of a checkpoint and record it in its meta: it passes the hash check."""
    (folder / name).write_bytes(content)
    record = meta(folder)
    record["files"][name] = {"bytes": len(content), "sha256": hashlib.sha256(content).hexdigest()}
    (folder / "meta.json").write_text(json.dumps(record, indent=2))


EVALUATIONS = [("train", "ppo", "--eval-only"), ("evaluate", "ppo")]


@pytest.mark.parametrize("command", EVALUATIONS, ids=["eval-only", "evaluate"])
def test_a_model_is_evaluated_only_under_the_parameters_it_was_trained_with(project, refused, command):
    settings = load_settings(project / "params.yaml")
    rate, clip = settings.agents.ppo.learning_rate, settings.agents.ppo.clip_range
    write_params(project, {**TINY, "agents.ppo.learning_rate": rate * 2, "agents.ppo.clip_range": 0.1})
    line = refused(project, *command)
    assert f"agents.ppo.clip_range: trained with {clip}, params say 0.1" in line
    assert f"agents.ppo.learning_rate: trained with {rate}, params say {rate * 2}" in line
    assert "final/model.zip: trained under other parameters" in line
    assert not (results_dir(project) / "metrics").exists() and not (results_dir(project) / "timeseries").exists()


def test_a_model_trained_for_another_station_is_refused(project, refused):
    write_params(project, {**TINY, "sockets.moto.count": 5})
    # the datasets, built for the station trained on, are refused first
    line = refused(project, "evaluate", "ppo")
    assert "data/mall/citylearn: built from other parameters (sockets.moto.count: built with 6, params say 5)" in line
    run_cli_in_process("build-dataset", cwd=project)  # rebuilt for this station: the model is refused
    line = refused(project, "evaluate", "ppo")
    assert "sockets.moto.count: trained with 6, params say 5" in line
    assert not (results_dir(project) / "metrics").exists()


def test_a_model_that_does_not_fit_the_station_is_refused_before_it_acts(trained):
    """Past the parameters' check (a dataset built under other params): the shapes are compared."""
    from evstation.learning.station_env import PolicyController

    final = run_dir(trained, "ppo") / "final"
    other = apply_overrides(load_settings(trained / "params.yaml"), {**TINY, "sockets.moto.count": 5})
    with pytest.raises(DataError, match=r"observations of shape \(\d+,\), this station's are \(\d+,\)"):
        PolicyController("ppo", final / "model.zip", final / "normalization.pkl", other)


def test_runtime_settings_may_differ_at_evaluation(project):
    """Where and how fast a model trains, and what only the measurement reads (the CO2 of displaced
    gasoline, the report): the pipeline reevaluates a model after such a change without retraining it."""
    write_params(
        project,
        {
            **TINY,
            "training.cpu_threads": 2,
            "training.seeds": [0, 7],
            "training.device": "cpu",
            "training.keep_checkpoints": 5,
            "emissions.gasoline_kg_per_gal": 9.5,
            "report.bootstrap_samples": 500,
        },
    )
    run_cli_in_process("evaluate", "ppo", "--seed", "0", cwd=project)
    assert (results_dir(project) / "metrics" / "ppo_seed0.json").is_file()


@pytest.mark.parametrize("command", EVALUATIONS, ids=["eval-only", "evaluate"])
def test_a_garbage_model_with_its_meta_is_refused(project, refused, command):
    replace_file(run_dir(project, "ppo") / "final", "model.zip", b"not a zip at all" * 64)
    line = refused(project, *command)
    assert "final/model.zip: not a ppo model this code can load" in line
    assert not (results_dir(project) / "metrics").exists()


@pytest.mark.parametrize("name", ["normalization.pkl", "model.zip", "run_state.pkl"])
def test_a_garbage_checkpoint_file_with_its_meta_is_refused_on_resume(project, refused, name):
    newest = periodic(project, "ppo")[-1]
    replace_file(newest, name, b"\x80\x04garbage" * 50)
    before = written(project)
    line = refused(project, "train", "ppo", "--resume")
    assert f"{newest.name}/{name}: not " in line and "this code can load" in line
    assert written(project) == before  # nothing written, nothing removed


def test_no_seeds_is_refused(project, refused):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["training"]["seeds"] = []
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for command in (("train", "ppo"), ("evaluate", "ppo")):
        assert refused(project, *command).endswith("training.seeds: needs at least one seed, got none")


@pytest.mark.parametrize(
    "command, seed",
    [(("train", "ppo"), "-1"), (("train", "ppo", "--eval-only"), "-1"), (("evaluate", "ppo"), str(2**32))],
)
def test_a_seed_out_of_range_is_refused(project, refused, command, seed):
    before = written(project)
    assert refused(project, *command, "--seed", seed).endswith(
        f"--seed: {seed} is no training seed (a whole number from 0 to {2**32 - 1})"
    )
    assert written(project) == before


def test_a_checkpoints_folder_that_cannot_be_written_is_refused_before_training(built_small, tmp_path, refused):
    project = project_with(built_small, tmp_path)
    blocker = results_dir(project) / "checkpoints"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("in the way")
    assert "checkpoints: a file where a folder is needed" in refused(project, "train", "ppo")
    assert sorted(path.name for path in results_dir(project).iterdir() if not path.name.startswith(".")) == [
        "checkpoints"
    ]  # no curve either


def test_a_metrics_folder_that_cannot_be_written_is_refused_before_evaluating(project, refused):
    (results_dir(project) / "metrics").write_text("in the way")
    assert "metrics: a file where a folder is needed" in refused(project, "evaluate", "ppo")
    assert not (results_dir(project) / "timeseries").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_results_folder_is_refused_before_training(project, refused):
    shutil.rmtree(run_dir(project, "ppo"))
    (results_dir(project) / "checkpoints" / "ppo").chmod(0o555)
    try:
        assert "not writable" in refused(project, "train", "ppo")
    finally:
        (results_dir(project) / "checkpoints" / "ppo").chmod(0o755)


def test_schedules_stay_in_their_range():
    schedule = linear_schedule(3e-4, 1e-5)
    assert schedule(1.0) == pytest.approx(3e-4) and schedule(0.0) == pytest.approx(1e-5)
    assert schedule(-0.0076) == pytest.approx(1e-5)  # a last rollout past the budget
    assert schedule(1.5) == pytest.approx(3e-4)
    assert linear_schedule(3e-4)(-0.0076) == 0.0


def test_a_budget_that_rollouts_do_not_divide_states_its_overshoot(built_small, tmp_path, capsys):
    """300 steps in rollouts of 64: training ends at 320, says so, records it, and the learning rate
    of the last rollout (stable-baselines3's progress below 0 there) stays at the schedule's end, 0."""
    project = project_with(
        built_small,
        tmp_path,
        {
            "agents.ppo.total_timesteps": 300,
            "agents.ppo.learning_rate_schedule": "linear",
            "control.model_selection.validation_days": 0,
        },
    )
    messages = messages_of(capsys, "train", "ppo", cwd=project)
    assert "rollouts of 64 steps end at step 320, 20 past the budget of 300 steps" in messages
    final = meta(run_dir(project, "ppo") / "final")
    assert (final["budget_timesteps"], final["trained_timesteps"], final["overshoot_timesteps"]) == (300, 320, 20)
    with open(results_dir(project) / "curves" / "ppo_seed0.csv") as stream:
        rates = [
            float(row["learning_rate"]) for row in csv.DictReader(stream) if row["learning_rate"] not in ("", "nan")
        ]
    assert len(rates) >= 3 and min(rates) >= 0.0
    model = MODEL_CLASSES["ppo"].load(run_dir(project, "ppo") / "final" / "model.zip", device="cpu")
    assert model._current_progress_remaining == pytest.approx(-20 / 300)
    assert model.policy.optimizer.param_groups[0]["lr"] == 0.0  # the last update's: the schedule's end


def test_the_training_data_a_model_was_trained_on_is_checked(project, refused):
    """The parameters alike, another dataset (a file more in the training year's folder): refused."""
    (data_dir(project) / "train" / "extra.csv").write_text("hour,kwh\n0,1\n")
    line = refused(project, "evaluate", "ppo")
    assert "data/mall/citylearn/train: not the training data" in line and "was trained on" in line
