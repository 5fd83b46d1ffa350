"""Snakemake and DVC drive one pipeline: same stages, and each finds nothing stale after the other ran.

Both scenarios of params.yaml run in every test here. The smoke test runs the whole pipeline
(small station, one week, tiny training budgets) in a temporary git copy of the repository: Snakemake runs it all, DVC then finds it current,
a changed training setting makes exactly the agents' stages stale, a DVC experiment reruns only what
depends on its key, `dvc metrics diff` compares it with the unchanged run of the same scenario, and Snakemake is brought in
line by `snakemake --touch`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, data_dir, write_params

sys.path.insert(0, str(ROOT / "workflow"))
from dvc_record import commit_keeping_times  # noqa: E402
import stages as workflow_stages  # noqa: E402

BIN = Path(sys.executable).parent
SMOKE = {
    "agents.a2c.total_timesteps": 128, "agents.a2c.n_steps": 32, "agents.a2c.n_envs": 1, "agents.a2c.net_arch": [32, 32],
    "agents.ppo.total_timesteps": 128, "agents.ppo.n_steps": 64, "agents.ppo.n_envs": 1, "agents.ppo.net_arch": [32, 32],
    "agents.ppo.critic_warmup_steps": 0,     # 128 steps: a warm-up would hold the actor, and a learning rate change nothing
    "agents.sac.episodes": 1, "agents.sac.learning_starts": 32, "agents.sac.batch_size": 32,
    "agents.sac.buffer_size": 1000, "agents.sac.net_arch": [32, 32],
    "training.checkpoint_every_steps": 64, "training.seeds": [0], "validation.rollout_steps": 24,
    # at these budgets model selection keeps the untrained policy whatever a hyperparameter says: the
    # final model here is the last one, so an experiment's change shows in its metrics
    "control.model_selection.validation_days": 0,
}


def run(*command: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "DVC_SITE_CACHE_DIR": str(cwd / ".dvc-site"),
           "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.org",
           "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.org"}
    result = subprocess.run(list(command), cwd=cwd, capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def copy_repository(target: Path) -> Path:
    """The repository's tracked files (what a clone has), as a fresh git repository of its own."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in filter(None, files.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / "dvc.lock").unlink(missing_ok=True)
    return target


def git_commit(folder: Path, message: str) -> None:
    if not (folder / ".git").exists():
        run("git", "init", "-q", cwd=folder)
    run("git", "add", "-A", cwd=folder)
    run("git", "commit", "-q", "-m", message, cwd=folder)


# ---------------------------------------------------------------- the two front ends agree

def dvc_stages(folder: Path) -> dict[str, dict]:
    from dvc.repo import Repo

    stages = {}
    with Repo(str(folder)) as repo:
        for stage in repo.index.stages:
            params = [key for dep in stage.deps if type(dep).__name__ == "ParamsDependency" for key in dep.params]
            stages[stage.cmd] = {"name": stage.name, "params": params,
                                 "deps": [dep.def_path for dep in stage.deps if type(dep).__name__ != "ParamsDependency"],
                                 "outs": sorted(out.def_path for out in stage.outs)}
    return stages


def snakemake_jobs(folder: Path) -> dict[str, dict]:
    """Every job of a forced dry run: its command, inputs and outputs (as Snakemake resolves them now)."""
    text = run("snakemake", "-n", "-F", "-p", "--cores", "1", cwd=folder).stdout
    jobs = {}
    for rule, body, command in re.findall(r"rule (\w+):\n((?:    .*\n)+)Shell command: (.*)", text):
        if rule == "all":
            continue
        fields = dict(re.findall(r"^\s+(\w+): (.*)$", body, re.M))
        jobs[command.strip()] = {"rule": rule, "inputs": fields.get("input", "").split(", "),
                                 "outputs": sorted(fields.get("output", "").split(", "))}
    return jobs


def covered(path: str, by: list[str]) -> bool:
    return any(path == other or path.startswith(other.rstrip("/") + "/") for other in by)


@pytest.fixture(scope="module")
def full_size_copy(tmp_path_factory) -> Path:
    folder = copy_repository(tmp_path_factory.mktemp("repository"))
    git_commit(folder, "copy")
    return folder


def test_snakemake_and_dvc_agree_stage_by_stage(full_size_copy):
    assert run(sys.executable, "workflow/write_dvc_yaml.py", "--check", cwd=full_size_copy, check=False).returncode == 0, \
        "dvc.yaml is not what workflow/write_dvc_yaml.py writes from params.yaml"
    stages, jobs = dvc_stages(full_size_copy), snakemake_jobs(full_size_copy)
    assert sorted(stages) == sorted(jobs), "the two front ends run different commands"
    params = yaml.safe_load((full_size_copy / "params.yaml").read_text())
    for command, stage in stages.items():
        job = jobs[command]
        assert stage["outs"] == job["outputs"], f"{command}: outputs differ"
        for path in job["inputs"]:
            assert covered(path, stage["deps"]), f"{command}: Snakemake input {path} is not a DVC dependency"
        for path in stage["deps"]:
            assert any(covered(inp, [path]) for inp in job["inputs"]), f"{command}: DVC dependency {path} not in Snakemake"
        kind, *rest = stage["name"].split("-")          # train-<scenario>-<agent>-<seed>, compare
        scenario = rest[0] if rest else None
        agent = rest[1] if kind in ("train", "evaluate") else None
        assert stage["params"] == workflow_stages.param_keys(params, kind, scenario, agent), command
        if kind != "compare":                     # one job per scenario, its scenario in the command
            assert re.search(r"--scenario (\w+)", command).group(1) == scenario
            assert all(f"/{scenario}/" in path for path in stage["outs"]), f"{command}: outputs outside its scenario"
        for key in stage["params"]:          # every declared key exists, so both read a real value
            workflow_stages.dotted_value(params, key)


def test_a_stage_reads_only_its_keys_and_its_scenario_overrides():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    build = workflow_stages.param_keys(params, "build_dataset", "station_only")
    assert "scenarios.station_only.mall.enabled" in build and "emissions.gasoline_kg_per_gal" not in build
    assert not any(key.startswith("scenarios.mall_mt3") for key in build)
    assert not any("demand" in key for key in workflow_stages.param_keys(params, "build_dataset", "mall_mt3"))
    train = workflow_stages.param_keys(params, "train", "mall_mt3", "ppo")
    assert "scenarios.mall_mt3.tariff.demand.generation_pen_per_kw_month" in train and "agents.ppo" in train
    assert not any(key.startswith(("emissions.gasoline", "report", "agents.sac")) for key in train)
    assert "scenarios.mall_mt3.objective" in workflow_stages.param_keys(params, "baseline", "mall_mt3")


def test_a_partial_configfile_is_laid_over_params(full_size_copy):
    """Snakemake merges a partial --configfile into params.yaml; the commands read the merged values."""
    (full_size_copy / "mine.yaml").write_text(yaml.safe_dump({"agents": {"ppo": {"learning_rate": 0.01}}}))
    try:
        text = run("snakemake", "-n", "-F", "-p", "--cores", "1", "--configfile", "mine.yaml", cwd=full_size_copy).stdout
        shown = [line.split("Shell command: ")[1] for line in text.splitlines() if "Shell command: evstation" in line]
        merged_file = ".snakemake/evstation/params.yaml"
        assert shown and all(line.startswith(f"evstation --params {merged_file} ") for line in shown)
        merged = yaml.safe_load((full_size_copy / merged_file).read_text())
        assert merged["agents"]["ppo"]["learning_rate"] == 0.01 and merged["agents"]["sac"]["batch_size"] == 256
        assert list(merged["scenarios"]) == ["mall", "station_only", "mall_mt3"]
    finally:
        (full_size_copy / "mine.yaml").unlink()
    (full_size_copy / "bad.yaml").write_text(yaml.safe_dump({"battery": {"capacity_kwh": -1}}))
    try:
        result = run("snakemake", "-n", "--cores", "1", "--configfile", "bad.yaml", cwd=full_size_copy, check=False)
        assert result.returncode != 0 and "battery.capacity_kwh: must be > 0" in result.stderr
    finally:
        (full_size_copy / "bad.yaml").unlink()


def test_snakemake_lint_is_clean(full_size_copy):
    result = run("snakemake", "--lint", cwd=full_size_copy, check=False)
    assert result.returncode == 0 and "Congratulations" in result.stderr, (result.stdout + result.stderr)[-3000:]


def test_slurm_profile_is_valid(full_size_copy):
    result = run("snakemake", "-n", "-F", "--profile", "workflow/profiles/slurm", cwd=full_size_copy)
    assert "This was a dry-run" in result.stdout
    assert "train" in result.stdout


# ---------------------------------------------------------------- the whole pipeline at smoke size

def assert_fleet_change_reruns_dataset_stages(project: Path) -> None:
    """Changing a fleet parameter makes both front ends rebuild and revalidate the dataset."""
    original = (project / "params.yaml").read_text()
    params = yaml.safe_load(original)
    params["fleet"]["daily_arrivals"]["moto"] += 1
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        planned = run("snakemake", "-n", cwd=project).stdout
        assert re.search(r"rule build_dataset:", planned) and re.search(r"rule validate:", planned)
        status = run("dvc", "status", "--json", cwd=project).stdout
        stale = json.loads(status)
        for scenario in ("mall", "station_only"):
            stage = f"build_dataset@{scenario}"
            assert stage in stale and any("params.yaml" in str(change) for change in stale[stage])
    finally:
        (project / "params.yaml").write_text(original)


def assert_training_change_makes_only_the_agents_stale(project: Path) -> None:
    """A setting every agent trains with makes DVC find all the agents' stages stale (both scenarios),
    with the comparison, and nothing upstream: the dependency graph, read without running it."""
    original = (project / "params.yaml").read_text()
    params = yaml.safe_load(original)
    params["training"]["checkpoint_every_steps"] += 1
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        stale = set(json.loads(run("dvc", "status", "--json", cwd=project).stdout))
    finally:
        (project / "params.yaml").write_text(original)
    agents = {f"{stage}@{scenario}-{agent}-0" for stage in ("train", "evaluate") for scenario in ("mall", "station_only")
              for agent in ("a2c", "sac", "ppo")}
    assert stale == agents | {"compare"}, sorted(stale ^ (agents | {"compare"}))


def assert_recorded_dataset_is_what_the_stage_wrote(project: Path) -> None:
    """Snakemake marks the finished dataset folder with an empty `.snakemake_timestamp`; recorded,
    it made the dataset hash differently from the same files built by `dvc repro`."""
    dataset = data_dir(project)
    assert (dataset / ".snakemake_timestamp").is_file()
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    recorded = next(out for out in lock["stages"]["build_dataset@mall"]["outs"] if out["path"] == "data/mall/citylearn")
    written = [path for path in dataset.rglob("*") if path.is_file() and path.name != ".snakemake_timestamp"]
    assert recorded["nfiles"] == len(written)
    assert recorded["size"] == sum(path.stat().st_size for path in written)


def test_smoke_pipeline_through_both_front_ends(tmp_path):
    project = copy_repository(tmp_path / "smoke")
    write_params(project, SMOKE)
    git_commit(project, "smoke configuration")

    run("snakemake", "--cores", "2", cwd=project)
    report = project / "results" / "report"
    for name in ("comparison.md", "comparison.csv", "comparison.json", "kpi_bars.png", "power_flows_week.png",
                 "battery_soc_week.png", "learning_curves.png"):
        assert (report / name).is_file(), name
    rows = json.loads((report / "comparison.json").read_text())["rows"]
    for scenario in ("mall", "station_only"):
        assert {row["controller"] for row in rows if row["scenario"] == scenario} >= {
            "without_solar", "uncontrolled", "rule_based", "oracle", "a2c", "sac", "ppo"}
    assert "Data and pipelines are up to date" in run("dvc", "status", cwd=project).stdout
    assert "Nothing to be done" in run("snakemake", "-n", cwd=project).stdout
    assert_recorded_dataset_is_what_the_stage_wrote(project)
    run("dvc", "plots", "show", "-o", "plots_html", cwd=project)
    page = (project / "plots_html" / "index.html").read_text()
    assert page.count("<img") >= 4          # the project's figures show without any script from the network
    shutil.rmtree(project / "plots_html")
    git_commit(project, "smoke results")

    assert_fleet_change_reruns_dataset_stages(project)

    assert_training_change_makes_only_the_agents_stale(project)

    # the experiments run one scenario (dropped from the list, its stages leave the pipeline: half the time)
    # one agent's hyperparameter: only that agent's stages (and the comparison) rerun
    one = ("-S", "scenarios=[mall]")
    unchanged = run("dvc", "exp", "run", "-n", "exp-mall", *one, cwd=project).stdout
    # the scenario's stages are all current: only the report, which lists the scenarios, is remade
    assert set(re.findall(r"Running stage '([^']+)'", unchanged)) == {"compare"}
    output = run("dvc", "exp", "run", "-n", "exp-ppo", *one, "-S", "agents.ppo.learning_rate=0.01", cwd=project).stdout
    ran = set(re.findall(r"Running stage '([^']+)'", output))
    assert {"train@mall-ppo-0", "evaluate@mall-ppo-0"} <= ran
    assert not any(stage.startswith(("build_dataset", "validate", "baseline", "oracle")) or "station_only" in stage
                   or re.match(r"(train|evaluate)@\w+-(a2c|sac)", stage) for stage in ran), sorted(ran)
    diff = run("dvc", "metrics", "diff", "exp-mall", "exp-ppo", "--json", cwd=project).stdout
    changes = json.loads(diff)
    assert "results/scenarios/mall/metrics/ppo_seed0.json" in changes
    assert not any(path.endswith("uncontrolled.json") for path in changes)
    # every metric path names its scenario (the report holds them all)
    assert all(path.startswith(("results/scenarios/mall/", "results/report/")) for path in changes), sorted(changes)

    run("snakemake", "--touch", "--cores", "1", cwd=project)
    assert "Nothing to be done" in run("snakemake", "-n", cwd=project).stdout
    assert "Data and pipelines are up to date" in run("dvc", "status", cwd=project).stdout


# ---------------------------------------------------------------- recording a Snakemake run in DVC

def test_recording_in_dvc_keeps_the_times_snakemake_judges_by(tmp_path, monkeypatch):
    """`dvc commit` rewrites a cached file under a fresh time (Snakemake would rerun its readers);
    the pipeline's commit puts the times back and still leaves DVC with nothing stale."""
    project = tmp_path / "record"
    (project / "results").mkdir(parents=True)
    (project / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"write": {
        "cmd": "python -c \"open('results/out.csv', 'w').write('a,b\\n1,2\\n')\"",
        "outs": ["results/out.csv"]}}}))
    git_commit(project, "a one-stage pipeline")
    run("dvc", "init", "-q", cwd=project)
    run("dvc", "repro", cwd=project)
    output = project / "results" / "out.csv"
    old_ns = 1_600_000_000 * 10**9

    os.utime(output, ns=(old_ns, old_ns))
    run("dvc", "commit", "--force", "--quiet", cwd=project)
    assert output.stat().st_mtime_ns != old_ns          # what DVC does on its own

    os.utime(output, ns=(old_ns, old_ns))
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", str(project / ".dvc-site"))
    assert commit_keeping_times(project)
    assert output.stat().st_mtime_ns == old_ns
    assert "Data and pipelines are up to date" in run("dvc", "status", cwd=project).stdout
