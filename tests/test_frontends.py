"""Snakemake and DVC drive one pipeline: same stages, and each finds nothing stale after the other ran.

Both scenarios of params.yaml run in every test here. The smoke test runs the whole pipeline
(small station, one week, tiny training budgets) in a temporary git copy of the repository: Snakemake
runs it all, DVC then finds it current, a changed training setting makes exactly the agents' stages
stale, a DVC experiment reruns only what depends on its key, `dvc metrics diff` compares it with the
unchanged run of the same scenario, and Snakemake is brought in line by `snakemake --touch`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from unittest.mock import patch

import pytest
import yaml

from conftest import ROOT, STATION_ONLY, data_dir, tool_env, write_params
from evstation import registry
from evstation.locking import writer_lock

sys.path.insert(0, str(ROOT / "workflow"))
import stages as workflow_stages  # noqa: E402
from dvc_record import commit_keeping_times  # noqa: E402

sys.path.insert(0, str(ROOT / "scripts"))
import quick  # noqa: E402

BIN = Path(sys.executable).parent
SMOKE = {
    "agents.a2c.total_timesteps": 128,
    "agents.a2c.n_steps": 32,
    "agents.a2c.n_envs": 1,
    "agents.a2c.net_arch": [32, 32],
    "agents.ppo.total_timesteps": 128,
    "agents.ppo.n_steps": 64,
    "agents.ppo.n_envs": 1,
    "agents.ppo.net_arch": [32, 32],
    # 128 steps: a warm-up would hold the actor, and a learning rate change nothing
    "agents.ppo.critic_warmup_steps": 0,
    "agents.sac.episodes": 1,
    "agents.sac.learning_starts": 32,
    "agents.sac.batch_size": 32,
    "agents.sac.buffer_size": 1000,
    "agents.sac.net_arch": [32, 32],
    "agents.es.population": 2,
    "agents.es.generations": 1,
    "agents.es.months_per_generation": 1,
    "training.checkpoint_every_steps": 64,
    "training.seeds": [0],
    "validation.rollout_steps": 24,
    # at these budgets model selection keeps the untrained policy whatever a hyperparameter says: the
    # final model here is the last one, so an experiment's change shows in its metrics
    "control.model_selection.validation_days": 0,
}


def run(*command: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        **tool_env(),
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "DVC_SITE_CACHE_DIR": str(cwd / ".dvc-site"),
    }
    result = subprocess.run(list(command), cwd=cwd, capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def copy_repository(target: Path) -> Path:
    """The repository's tracked files (what a clone has), as a fresh git repository of its own."""
    files = subprocess.run(
        ["git", "ls-files", "-z"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **tool_env()},
    ).stdout
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
    with patch.dict(os.environ, tool_env()), Repo(str(folder)) as repo:
        for stage in repo.index.stages:
            params = [key for dep in stage.deps if type(dep).__name__ == "ParamsDependency" for key in dep.params]
            stages[stage.cmd] = {
                "name": stage.name,
                "params": params,
                "deps": [dep.def_path for dep in stage.deps if type(dep).__name__ != "ParamsDependency"],
                "outs": sorted(out.def_path for out in stage.outs),
            }
    return stages


UPDATE = " (update)"  # how a dry run shows an output Snakemake leaves in place when it runs the job


def snakemake_jobs(folder: Path) -> dict[str, dict]:
    """Every job of a forced dry run: its command, inputs and outputs (as Snakemake resolves them now), and
    whether every output is left in place for the command to replace (update())."""
    text = run("snakemake", "-n", "-F", "-p", "--cores", "1", cwd=folder).stdout
    jobs = {}
    for rule, body, command in re.findall(r"rule (\w+):\n((?:    .*\n)+)Shell command: (.*)", text):
        if rule == "all":
            continue
        fields = dict(re.findall(r"^\s+(\w+): (.*)$", body, re.M))
        outputs = fields.get("output", "").split(", ")
        jobs[command.strip()] = {
            "rule": rule,
            "inputs": fields.get("input", "").split(", "),
            "outputs": sorted(output.removesuffix(UPDATE) for output in outputs),
            "left_in_place": all(output.endswith(UPDATE) for output in outputs),
        }
    return jobs


def covered(path: str, by: list[str]) -> bool:
    return any(path == other or path.startswith(other.rstrip("/") + "/") for other in by)


@pytest.fixture(scope="module")
def full_size_copy(tmp_path_factory) -> Path:
    folder = copy_repository(tmp_path_factory.mktemp("repository"))
    git_commit(folder, "copy")
    return folder


def test_snakemake_and_dvc_agree_stage_by_stage(full_size_copy):
    assert (
        run(sys.executable, "workflow/write_dvc_yaml.py", "--check", cwd=full_size_copy, check=False).returncode == 0
    ), "dvc.yaml is not what workflow/write_dvc_yaml.py writes from params.yaml"
    stages, jobs = dvc_stages(full_size_copy), snakemake_jobs(full_size_copy)
    assert sorted(stages) == sorted(jobs), "the two front ends run different commands"
    params = yaml.safe_load((full_size_copy / "params.yaml").read_text())
    for command, stage in stages.items():
        job = jobs[command]
        assert stage["outs"] == job["outputs"], f"{command}: outputs differ"
        assert job["left_in_place"], f"{command}: an output Snakemake removes before the command's lock (no update())"
        # the lock its command writes it under: onstart checks it, and Snakemake keeps no copy of the output
        assert all(writer_lock(path) for path in job["outputs"]), f"{command}: an output of no command's lock"
        for path in job["inputs"]:
            assert covered(path, stage["deps"]), f"{command}: Snakemake input {path} is not a DVC dependency"
        for path in stage["deps"]:
            assert any(covered(inp, [path]) for inp in job["inputs"]), (
                f"{command}: DVC dependency {path} not in Snakemake"
            )
        kind, *rest = stage["name"].split("-")  # train-<scenario>-<agent>-<seed>, oracle_bill-<scenario>, compare
        kind = "oracle" if kind in workflow_stages.ORACLES else kind
        scenario = rest[0] if rest else None
        agent = rest[1] if kind in ("train", "evaluate") else None
        controller = rest[1] if kind == "baseline" else None
        assert stage["params"] == workflow_stages.param_keys(params, kind, scenario, agent, controller), command
        if kind != "compare":  # one job per scenario, its scenario in the command
            assert re.search(r"--scenario (\w+)", command).group(1) == scenario
            assert all(f"/{scenario}/" in path for path in stage["outs"]), f"{command}: outputs outside its scenario"
        for key in stage["params"]:  # every declared key exists, so both read a real value
            workflow_stages.dotted_value(params, key)
    # a policy that corrects the tuned peak_shaving rule reads its record, as does a learner built on it in every
    # scenario (`es`): their stages, and only they, depend on it
    correcting = [
        scenario
        for scenario in params["scenarios"]
        if workflow_stages.merged_settings(str(full_size_copy / "params.yaml"), scenario)["control"]["residual"]
        == "peak_shaving"
    ]
    assert correcting == ["mall_mt3"]
    readers = {
        stage["name"]
        for stage in stages.values()
        if any(dep.endswith("metrics/peak_shaving.json") for dep in stage["deps"])
    }
    assert readers == {
        f"{kind}-{scenario}-{agent}-{seed}"
        for kind in ("train", "evaluate")
        for scenario in params["scenarios"]
        for agent in workflow_stages.AGENTS
        if scenario in correcting or "peak_shaving" in registry.records_read(agent)
        for seed in params["training"]["seeds"]
    }


def test_a_stage_reads_only_its_keys_and_its_scenario_overrides():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["scenarios"]["station_only"] = STATION_ONLY
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
        text = run(
            "snakemake", "-n", "-F", "-p", "--cores", "1", "--configfile", "mine.yaml", cwd=full_size_copy
        ).stdout
        shown = [line.split("Shell command: ")[1] for line in text.splitlines() if "Shell command: evstation" in line]
        merged_file = ".snakemake/evstation/params.yaml"
        assert shown and all(line.startswith(f"evstation --params {merged_file} ") for line in shown)
        merged = yaml.safe_load((full_size_copy / merged_file).read_text())
        assert merged["agents"]["ppo"]["learning_rate"] == 0.01 and merged["agents"]["sac"]["batch_size"] == 256
        assert list(merged["scenarios"]) == ["mall", "mall_mt3"]
    finally:
        (full_size_copy / "mine.yaml").unlink()
    (full_size_copy / "bad.yaml").write_text(yaml.safe_dump({"battery": {"capacity_kwh": -1}}))
    try:
        result = run("snakemake", "-n", "--cores", "1", "--configfile", "bad.yaml", cwd=full_size_copy, check=False)
        assert result.returncode != 0 and "battery.capacity_kwh: must be > 0" in result.stderr
    finally:
        (full_size_copy / "bad.yaml").unlink()


def test_the_quick_overlay_is_a_configfile_too(full_size_copy):
    """One override format: workflow/quick.yaml's dotted keys, laid over params.yaml by `make quick`, are a
    --configfile Snakemake lays over it the same way (the merged file is the quick run's params.yaml)."""
    text = run("snakemake", "-n", "-p", "--configfile", "workflow/quick.yaml", cwd=full_size_copy).stdout
    merged = yaml.safe_load((full_size_copy / ".snakemake" / "evstation" / "params.yaml").read_text())
    assert merged == yaml.safe_load(quick.quick_params(ROOT / "workflow" / "quick.yaml"))
    assert merged["training"]["seeds"] == [0] and merged["simulation"]["horizon_hours"] == 168
    shown = [line.split("Shell command: ")[1] for line in text.splitlines() if "Shell command: evstation" in line]
    assert shown and all(line.startswith("evstation --params .snakemake/evstation/params.yaml ") for line in shown)
    trains = len(re.findall(r"^rule train:$", text, re.M))
    assert trains == len(workflow_stages.AGENTS) * len(merged["scenarios"])  # one seed


def test_the_workflow_profile_is_loaded_and_leaves_out_the_reasons(full_size_copy):
    """profiles/default, where Snakemake looks for it beside the Snakefile, is loaded by a plain run; its
    `quiet: [reason]` drops the reason lines that list every changed input (thousands of characters)."""
    result = run("snakemake", "-n", cwd=full_size_copy)
    assert "workflow specific profile profiles/default" in result.stderr
    assert "rule train:" in result.stdout and "reason:" not in result.stdout


def test_snakemake_lint_is_clean(full_size_copy):
    result = run("snakemake", "--lint", cwd=full_size_copy, check=False)
    assert result.returncode == 0 and "Congratulations" in result.stderr, (result.stdout + result.stderr)[-3000:]


def test_slurm_profile_is_valid(full_size_copy):
    result = run("snakemake", "-n", "-F", "--profile", "workflow/profiles/slurm", cwd=full_size_copy)
    assert "This was a dry-run" in result.stdout
    assert "train" in result.stdout


# ---------------------------------------------------------------- the whole pipeline at smoke size

EXAMPLES = "data/examples"
# the example site: every input from its own files (docs/your-site.md), beside the modelled mall
EXAMPLE_SITE = {
    "weather": {"source": "file", "files": {split: f"{EXAMPLES}/weather_{split}.csv" for split in ("train", "eval")}},
    "mall": {"load_files": {split: f"{EXAMPLES}/load_{split}.csv" for split in ("train", "eval")}},
    "fleet": {"sessions_files": {split: f"{EXAMPLES}/sessions_{split}.csv" for split in ("train", "eval")}},
    "tariff": {
        "energy_price_files": {split: f"{EXAMPLES}/energy_price_{split}.csv" for split in ("train", "eval")},
        "demand": {"generation_pen_per_kw_month": 56.09, "distribution_pen_per_kw_month": 16.40},
    },
    "emissions": {"grid_factor_files": {split: f"{EXAMPLES}/grid_factor_{split}.csv" for split in ("train", "eval")}},
    "objective": "bill",
}
SMOKE_SCENARIOS = {"mall": {}, "example": EXAMPLE_SITE}


def dvc_stale(project: Path) -> set[str]:
    return set(json.loads(run("dvc", "status", "--json", cwd=project).stdout))


def snakemake_planned(project: Path) -> set[str]:
    """The jobs a dry run plans, as `rule scenario` (or `rule` for compare)."""
    text = run("snakemake", "-n", cwd=project).stdout
    planned = set()
    for rule, body in re.findall(r"rule (\w+):\n((?:    .*\n)+)", text):
        scenario = re.search(r"scenario=(\w+)", body)
        planned.add(f"{rule} {scenario.group(1)}" if scenario else rule)
    return planned - {"all"}


def with_params_changed(project: Path, change) -> tuple[set[str], set[str]]:
    """What each front end finds stale after `change(params)`, params.yaml then put back."""
    original = (project / "params.yaml").read_text()
    params = yaml.safe_load(original)
    change(params)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        return dvc_stale(project), snakemake_planned(project)
    finally:
        (project / "params.yaml").write_text(original)


def assert_only_what_reads_a_key_is_stale(project: Path) -> None:
    """A key makes stale exactly the stages that read it, in both front ends."""

    def every_agent(params):
        params["training"]["checkpoint_every_steps"] += 1

    stale, planned = with_params_changed(project, every_agent)
    agents = {
        f"{stage}-{scenario}-{agent}-0"
        for stage in ("train", "evaluate")
        for scenario in SMOKE_SCENARIOS
        for agent in workflow_stages.AGENTS
    }
    assert stale == agents, sorted(stale ^ agents)  # the report reads only the seeds list of `training`
    assert planned == {f"{rule} {scenario}" for rule in ("train", "evaluate") for scenario in SMOKE_SCENARIOS} | {
        "compare"
    }

    def gasoline(params):  # read by the CO2 accounting only: no dataset, no training
        params["emissions"]["gasoline_kg_per_gal"] += 0.1

    stale, planned = with_params_changed(project, gasoline)
    assert not any(stage.startswith(("build_dataset", "validate", "train")) for stage in stale), sorted(stale)
    assert {"baseline-mall-uncontrolled", "oracle-example", "evaluate-mall-ppo-0", "compare"} <= stale
    # Snakemake also plans the jobs whose inputs a planned job rewrites: a learner that reads a baseline's
    # record (`es`: the tuned rule's, whose CO2 figures change) trains again once that record is rewritten
    rewritten = ("train",) if not any(registry.records_read(agent) for agent in workflow_stages.AGENTS) else ()
    assert not any(job.startswith(("build_dataset", "validate", *rewritten)) for job in planned), sorted(planned)

    def example_demand_charge(params):  # one scenario's override: its measured stages only
        params["scenarios"]["example"]["tariff"]["demand"]["generation_pen_per_kw_month"] += 1

    stale, planned = with_params_changed(project, example_demand_charge)
    assert stale and all(stage == "compare" or "-example" in stage for stage in stale), sorted(stale)
    assert not any(stage.startswith(("build_dataset", "validate")) for stage in stale), sorted(stale)
    assert planned and all(job == "compare" or job.endswith(" example") for job in planned), sorted(planned)
    assert not any(job.startswith(("build_dataset", "validate")) for job in planned), sorted(planned)


def assert_each_input_file_makes_its_build_stale(project: Path) -> None:
    """Editing a file a scenario names makes that scenario's dataset stale, and nothing of the other's.
    Every file is an input of that build alone in both front ends, and of no other job (the two
    front ends' jobs compared); then one of them edited (the sessions of the training year): both front
    ends find that build stale and nothing else. One edit stands for all: the declarations compared
    above are what each front end judges by, and a `dvc status` is seconds of the suite's time."""
    named = _files_in(yaml.safe_load((project / "params.yaml").read_text())["scenarios"]["example"])
    assert len(named) == 10, named
    stages, jobs = dvc_stages(project), snakemake_jobs(project)
    for command, stage in stages.items():
        reads = sorted(path for path in stage["deps"] if path.startswith(EXAMPLES))
        assert reads == sorted(path for path in jobs[command]["inputs"] if path.startswith(EXAMPLES)), command
        assert reads == (sorted(named) if stage["name"] == "build_dataset-example" else []), command
    path = next(path for path in named if "sessions" in path and path.endswith("_train.csv"))
    original = (project / path).read_bytes()
    (project / path).write_bytes(original + b"\n")  # other content, the same data
    try:
        assert dvc_stale(project) == {"build_dataset-example"}, path
        planned = snakemake_planned(project)
        assert "build_dataset example" in planned and not any(job.endswith(" mall") for job in planned), planned
    finally:
        (project / path).write_bytes(original)
        os.utime(project / path, ns=(0, 0))  # older than what was built from it, as before


def _files_in(node) -> list[str]:
    if isinstance(node, dict):
        return [path for value in node.values() for path in _files_in(value)]
    return [node] if isinstance(node, str) and node.startswith(EXAMPLES) else []


def assert_recorded_dataset_is_what_the_stage_wrote(project: Path) -> None:
    """Snakemake marks the finished dataset folder with an empty `.snakemake_timestamp`; recorded,
    it made the dataset hash differently from the same files built by `dvc repro`."""
    dataset = data_dir(project)
    assert (dataset / ".snakemake_timestamp").is_file()
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    recorded = next(out for out in lock["stages"]["build_dataset-mall"]["outs"] if out["path"] == "data/mall/citylearn")
    written = [path for path in dataset.rglob("*") if path.is_file() and path.name != ".snakemake_timestamp"]
    assert recorded["nfiles"] == len(written)
    assert recorded["size"] == sum(path.stat().st_size for path in written)


def test_smoke_pipeline_through_both_front_ends(tmp_path):
    project = copy_repository(tmp_path / "smoke")
    write_params(project, {**SMOKE, "scenarios": SMOKE_SCENARIOS})
    run(sys.executable, "workflow/write_dvc_yaml.py", cwd=project)
    git_commit(project, "smoke configuration: the mall and the example site from files")

    run("snakemake", "--cores", "2", cwd=project)
    report = project / "results" / "report"
    written = [workflow_stages.REPORT_SUMMARY, workflow_stages.REPORT_HEADLINE]
    for name in workflow_stages.REPORT_TABLES + written + workflow_stages.REPORT_FIGURES:
        assert (report / name).is_file(), name
    rows = json.loads((report / "comparison.json").read_text())["rows"]
    for scenario in SMOKE_SCENARIOS:
        assert {row["controller"] for row in rows if row["scenario"] == scenario} >= {
            "without_solar",
            "uncontrolled",
            "rule_based",
            "oracle",
            "a2c",
            "sac",
            "ppo",
        }
    assert "Data and pipelines are up to date" in run("dvc", "status", cwd=project).stdout
    assert "Nothing to be done" in run("snakemake", "-n", cwd=project).stdout
    assert_recorded_dataset_is_what_the_stage_wrote(project)
    figures = [f"{workflow_stages.REPORT}/{name}" for name in workflow_stages.REPORT_FIGURES]
    run("dvc", "plots", "show", "-o", "plots_html", *figures, cwd=project)
    page = (project / "plots_html" / "index.html").read_text()
    assert page.count("<img") >= 4 and "<script" not in page  # the figures show without anything from the network
    curves = json.loads(run("dvc", "plots", "show", "--json", cwd=project).stdout)["data"]
    assert {f"learning_curve-{scenario}-ppo" for scenario in SMOKE_SCENARIOS} <= set(curves), sorted(curves)
    shutil.rmtree(project / "plots_html")
    metrics = json.loads(run("dvc", "metrics", "show", "--json", cwd=project).stdout)
    assert count_numbers(metrics) <= 7 * len(SMOKE_SCENARIOS), "dvc metrics show should list the headline only"
    git_commit(project, "smoke results")

    assert_only_what_reads_a_key_is_stale(project)
    assert_each_input_file_makes_its_build_stale(project)

    # one agent's hyperparameter: only that agent's stages (in each scenario) and the comparison rerun
    output = run("dvc", "exp", "run", "-n", "exp-ppo", "-S", "agents.ppo.learning_rate=0.01", cwd=project).stdout
    ran = set(re.findall(r"Running stage '([^']+)'", output))
    assert {"train-mall-ppo-0", "evaluate-mall-ppo-0", "train-example-ppo-0"} <= ran
    assert ran <= {f"{stage}-{scenario}-ppo-0" for stage in ("train", "evaluate") for scenario in SMOKE_SCENARIOS} | {
        "compare"
    }, sorted(ran)
    changes = json.loads(run("dvc", "metrics", "diff", "HEAD", "exp-ppo", "--json", cwd=project).stdout)
    assert set(changes) <= {f"{workflow_stages.REPORT}/{workflow_stages.REPORT_HEADLINE}"}, sorted(changes)
    # the README's table of experiments on a real one: the changed parameter and the headline figures
    shown = run("dvc", "exp", "show", "--only-changed", "--drop", ".*/", "--md", cwd=project).stdout.splitlines()[0]
    header = [cell.strip() for cell in shown.strip().strip("|").split("|")]
    assert len(header) <= 20 and "agents.ppo.learning_rate" in header, header

    run("snakemake", "--touch", "--cores", "1", cwd=project)
    assert "Nothing to be done" in run("snakemake", "-n", cwd=project).stdout
    assert "Data and pipelines are up to date" in run("dvc", "status", cwd=project).stdout


def count_numbers(node) -> int:
    if isinstance(node, dict):
        return sum(count_numbers(value) for value in node.values())
    if isinstance(node, list):
        return sum(count_numbers(value) for value in node)
    return 1 if isinstance(node, (int, float)) and not isinstance(node, bool) else 0


# ---------------------------------------------------------------- recording a Snakemake run in DVC


def test_recording_in_dvc_keeps_the_times_snakemake_judges_by(tmp_path, monkeypatch):
    """`dvc commit` rewrites a cached file under a fresh time (Snakemake would rerun its readers);
    the pipeline's commit puts the times back and still leaves DVC with nothing stale."""
    project = tmp_path / "record"
    (project / "results").mkdir(parents=True)
    (project / "dvc.yaml").write_text(
        yaml.safe_dump(
            {
                "stages": {
                    "write": {
                        "cmd": "python -c \"open('results/out.csv', 'w').write('a,b\\n1,2\\n')\"",
                        "outs": ["results/out.csv"],
                    }
                }
            }
        )
    )
    git_commit(project, "a one-stage pipeline")
    run("dvc", "init", "-q", cwd=project)
    run("dvc", "repro", cwd=project)
    output = project / "results" / "out.csv"
    old_ns = 1_600_000_000 * 10**9

    os.utime(output, ns=(old_ns, old_ns))
    run("dvc", "commit", "--force", "--quiet", cwd=project)
    assert output.stat().st_mtime_ns != old_ns  # what DVC does on its own

    os.utime(output, ns=(old_ns, old_ns))
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", str(project / ".dvc-site"))
    for name, value in tool_env().items():
        monkeypatch.setenv(name, value)
    assert commit_keeping_times(project)
    assert output.stat().st_mtime_ns == old_ns
    assert "Data and pipelines are up to date" in run("dvc", "status", cwd=project).stdout


def test_git_and_dvc_in_tests_ignore_the_users_global_configuration(tmp_path, monkeypatch):
    """A user whose global git config signs every commit (with no key to sign with) and whose global
    DVC config names a remote: the tests' commits still work and DVC sees none of it."""
    home = tmp_path / "home"
    (home / ".config" / "dvc").mkdir(parents=True)
    (home / ".gitconfig").write_text(
        "[commit]\n\tgpgsign = true\n[gpg]\n\tprogram = false\n"
        "[user]\n\tname = someone\n\temail = someone@example.org\n"
    )
    (home / ".config" / "dvc" / "config").write_text("[core]\n    remote = users-remote\n")
    monkeypatch.setenv("HOME", str(home))
    for name in ("XDG_CONFIG_HOME", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM", "DVC_GLOBAL_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    project = tmp_path / "project"
    project.mkdir()
    (project / "file.txt").write_text("content\n")

    def plain(*command: str) -> subprocess.CompletedProcess:  # the user's own environment
        return subprocess.run(list(command), cwd=project, capture_output=True, text=True)

    plain("git", "init", "-q")
    plain("git", "add", "file.txt")
    unsigned = plain("git", "commit", "-q", "-m", "by the user's config")
    assert unsigned.returncode != 0 and "gpg" in unsigned.stderr.lower(), unsigned.stderr
    assert "users-remote" in plain(sys.executable, "-m", "dvc", "config", "--global", "--list").stdout

    git_commit(project, "through the tests' helper")
    assert "gpgsig" not in run("git", "cat-file", "-p", "HEAD", cwd=project).stdout
    assert run(sys.executable, "-m", "dvc", "config", "--global", "--list", cwd=project).stdout.strip() == ""
