"""The GPU path, on a machine with a CUDA GPU (skipped elsewhere): each agent trains on the GPU through the
command line, its model gives the same actions on the CPU, and CityLearn evaluates it on a CPU-only setting,
as a model trained on a cluster's GPU is evaluated on a laptop. `bash scripts/gpu_check.sh` runs it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import results_dir, run_cli, write_params
from evstation.learning.agents import MODEL_CLASSES
from test_training import EXACT, TINY, assert_same_files, folder_bytes, project_with, run_dir

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")


# Model selection off: the final model is the trained one. With it on, selection may keep the untrained
# policy of step 0, whose deterministic action is exactly 0 everywhere: CPU and GPU would compare zeros.
TRAINED = {**TINY, "control.model_selection.validation_days": 0}


@pytest.mark.parametrize("agent", ["a2c", "sac", "ppo"])
def test_agent_trains_on_the_gpu_and_its_model_evaluates_on_the_cpu(built_small, tmp_path, agent):
    project = project_with(built_small, tmp_path, {**TRAINED, "training.device": "auto"})
    assert "training on cuda" in run_cli("train", agent, cwd=project).stderr
    model_zip = run_dir(project, agent) / "final" / "model.zip"
    on_gpu = MODEL_CLASSES[agent].load(model_zip, device="cuda")
    on_cpu = MODEL_CLASSES[agent].load(model_zip, device="cpu")
    assert on_cpu.num_timesteps > 0  # the trained policy, not step 0's
    assert all(parameter.is_cuda for parameter in on_gpu.policy.parameters())
    observations = np.random.default_rng(0).normal(size=(256, *on_cpu.observation_space.shape)).astype(np.float32)
    gpu_actions, _ = on_gpu.predict(observations, deterministic=True)
    cpu_actions, _ = on_cpu.predict(observations, deterministic=True)
    assert np.abs(cpu_actions).max() > 1e-4  # not the untrained policy's zeros
    np.testing.assert_allclose(gpu_actions, cpu_actions, atol=1e-5)  # float32 on both, no TF32 in torch's defaults

    # a runtime setting: the GPU's run is still the one evaluated (its other settings must stay as trained)
    write_params(project, {**TRAINED, "training.device": "cpu"})
    run_cli("train", agent, "--eval-only", cwd=project)
    record = json.loads((results_dir(project) / "metrics" / f"{agent}_seed0.json").read_text())
    assert record["eval"]["ev_satisfaction_pct"] == 100.0
    assert record["eval"]["max_energy_balance_error_kwh"] <= 1e-6


@pytest.mark.parametrize("agent", ["a2c", "ppo", "sac"])
def test_two_gpu_runs_of_one_seed_end_byte_identical(built_small, tmp_path, agent):
    runs = []
    for name in ("first", "second"):
        project = project_with(built_small, tmp_path / name, {"training.device": "auto", **EXACT[agent]})
        run_cli("train", agent, cwd=project)
        runs.append(folder_bytes(run_dir(project, agent)))
    assert_same_files(*runs)
