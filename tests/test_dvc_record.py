"""What DVC shows of the pipeline's record: the README's `dvc exp show` after its two experiments fits a
terminal, and `dvc plots diff` draws two revisions' learning curves on one chart.

Both run the real DVC on small git repositories built from the committed dvc.yaml's declarations (its
metrics, params and plots), offline and in seconds: the pipeline itself is not run. The experiments run a
stand-in of the pipeline's shape instead: an upstream stage that reads every parameter the real stages
read and writes `results/scenarios/`, and `compare` with its real deps, params and outputs, writing what
`evstation compare` writes from the committed records with every number changed, the worst case for
`--only-changed`."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from test_frontends import git_commit, run

README = (ROOT / "README.md").read_text()
MAX_COLUMNS = 20  # what a terminal shows side by side: the experiment, its time, a few parameters and figures

STAND_IN = '''\
"""The stand-in pipeline's commands: `upstream` records the parameters; `compare SOURCE` writes every
declared output of compare from SOURCE (compare's report on the committed records), its numbers scaled
by a factor of the parameters, so that every figure differs between experiments."""
import hashlib
import json
import pathlib
import sys

import yaml

params = yaml.safe_load(pathlib.Path("params.yaml").read_text())
salt = int(hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:6], 16)
factor = 1 + salt / 2**24 / 100


def scaled(value):
    if isinstance(value, dict):
        return {key: scaled(item) for key, item in value.items()}
    if isinstance(value, list):
        return [scaled(item) for item in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return round(value * factor, 6)
    return value


if sys.argv[1] == "upstream":
    folder = pathlib.Path("results/scenarios")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "record.txt").write_text(f"{salt}\\n")
else:
    source = pathlib.Path(sys.argv[2])
    for path in map(pathlib.Path, sys.argv[3:]):
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".json" and (source / path.name).is_file():
            path.write_text(json.dumps(scaled(json.loads((source / path.name).read_text())), indent=2))
        else:
            path.write_text(f"{salt}\\n")
'''


def declared(entries) -> list[str]:
    """The paths of a dvc.yaml list of outputs (plain or with their options)."""
    return [entry if isinstance(entry, str) else next(iter(entry)) for entry in entries or []]


def readme_command(prefix: str) -> list[list[str]]:
    """The README's commands that start with `prefix`, comments left out."""
    return [shlex.split(line.split("#")[0]) for line in re.findall(rf"^{re.escape(prefix)}.*$", README, re.M)]


@pytest.fixture(scope="module")
def report_of_the_records() -> Path:
    """The committed report: the JSON records `evstation compare` wrote from the committed records (the
    stand-in scales only their numbers)."""
    report = ROOT / "results" / "report"
    for name in ("comparison.json", "summary.json", "headline.json"):
        assert (report / name).is_file(), f"{report / name}: not committed"
    return report


def stand_in_project(folder: Path, report: Path) -> Path:
    """A git and DVC repository with params.yaml, dvc.yaml's compare stage and top-level declarations as
    committed, and one upstream stage in place of the others (reading every parameter they read)."""
    real = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    compare = real["stages"]["compare"]
    upstream_params = sorted(
        {key for name, stage in real["stages"].items() if name != "compare" for key in stage.get("params", [])}
    )
    outputs = [*declared(compare.get("outs")), *declared(compare.get("metrics")), *declared(compare.get("plots"))]
    python = shlex.quote(sys.executable)
    pipeline = {
        "stages": {
            "upstream": {
                "cmd": f"{python} stand_in.py upstream",
                "deps": ["stand_in.py"],
                "params": upstream_params,
                "outs": [{"results/scenarios": {"cache": False}}],
            },
            "compare": {
                **compare,
                "cmd": f"{python} stand_in.py compare {shlex.quote(str(report))} {' '.join(outputs)}",
            },
        },
        **{key: value for key, value in real.items() if key != "stages"},
    }
    folder.mkdir()
    shutil.copy2(ROOT / "params.yaml", folder / "params.yaml")
    (folder / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    (folder / "stand_in.py").write_text(STAND_IN)
    (folder / ".gitignore").write_text(".dvc-site/\n")
    for dep in declared(compare["deps"]):  # compare's code, as files that never change here
        if dep != "results/scenarios":
            path = folder / dep if dep.endswith(".py") else folder / dep / "__init__.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("# stand-in\n")
    run("git", "init", "-q", cwd=folder)
    run("dvc", "init", "-q", cwd=folder)
    run("dvc", "config", "core.analytics", "false", cwd=folder)
    run("dvc", "repro", cwd=folder)
    git_commit(folder, "baseline")
    return folder


def columns(markdown: str) -> list[str]:
    return [cell.strip() for cell in markdown.splitlines()[0].strip().strip("|").split("|")]


def test_the_readmes_experiment_table_fits_a_terminal(tmp_path, report_of_the_records):
    """The README's two experiments, then its `dvc exp show`: at most MAX_COLUMNS columns, among them the
    parameter the experiments changed and the figures that moved; and `dvc metrics show` as narrow."""
    experiments = readme_command("dvc exp run")
    (show,) = readme_command("dvc exp show")
    assert len(experiments) == 2, experiments
    project = stand_in_project(tmp_path / "project", report_of_the_records)
    for command in experiments:
        run(*command, cwd=project)
    if not {"--md", "--csv", "--json"} & set(show):
        show.append("--md")  # the same columns as the table, one line to count them from
    header = columns(run(*show, "--no-pager", cwd=project).stdout)
    changed = {word.split("=")[0] for command in experiments for word in command if "=" in word}
    assert changed <= set(header), header
    metrics = [name for name in header if name not in changed | {"Experiment", "Created"}]
    assert metrics, f"no figure in the table: {header}"
    assert len(header) <= MAX_COLUMNS, f"{' '.join(show)} prints {len(header)} columns: {header}"
    # `dvc metrics show`: one row per metrics file, the headline's, as short
    rows = run("dvc", "metrics", "show", "--md", cwd=project).stdout.strip().splitlines()
    assert len(rows) == 3 and len(columns(rows[0])) <= MAX_COLUMNS, rows


def write_curve(path: Path, columns: list[str], shift: float) -> None:
    """A learning curve as training writes it: every column, NaN where a row has no value."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [",".join(columns)]
    for step in (1000, 2000, 3000):
        values = {"timesteps": step, "reward_mean": -0.04 + shift + step * 1e-6}
        if step != 2000:
            values["validation_score"] = -0.02 + shift
        rows.append(",".join(str(values.get(column, "nan")) for column in columns))
    path.write_text("\n".join(rows) + "\n")


def curves_project(folder: Path) -> tuple[Path, str, dict, list[str]]:
    """A repository with one of dvc.yaml's learning-curve plots, on two commits with different curves: the
    folder, the plot's name and definition, and the two commits."""
    from evstation.learning.training import CURVE_COLUMNS

    definitions = [
        (name, body)
        for entry in yaml.safe_load((ROOT / "dvc.yaml").read_text()).get("plots", [])
        for name, body in entry.items()
    ]
    curves = [(name, body) for name, body in definitions if name.startswith("learning_curve-")]
    assert curves, "dvc.yaml declares no learning-curve plot"
    name, body = curves[0]
    folder.mkdir()
    (folder / "dvc.yaml").write_text(yaml.safe_dump({"plots": [{name: body}]}, sort_keys=False))
    (folder / ".gitignore").write_text(".dvc-site/\n")
    run("git", "init", "-q", cwd=folder)
    run("dvc", "init", "-q", cwd=folder)
    revisions = []
    for shift in (0.0, 0.01):
        for path in body["y"]:
            write_curve(folder / path, list(CURVE_COLUMNS), shift)
        git_commit(folder, f"curves shifted by {shift}")
        revisions.append(run("git", "rev-parse", "--short", "HEAD", cwd=folder).stdout.strip())
    return folder, name, body, revisions


def test_dvc_plots_diff_draws_two_revisions_learning_curves_on_one_chart(tmp_path):
    """`dvc plots diff --json` gives one chart per learning-curve plot, with the declared x and every seed's
    declared y columns of both commits."""
    project, name, body, revisions = curves_project(tmp_path / "project")
    (chart,) = json.loads(run("dvc", "plots", "diff", *revisions, "--json", cwd=project).stdout)["data"][name]
    assert chart["content"]["encoding"]["x"]["field"] == body["x"]
    drawn = {(row["rev"], row["filename::field"]) for row in chart["content"]["data"]["values"]}
    expected = {
        (rev, f"{Path(path).name}::{field}") for rev in revisions for path in body["y"] for field in body["y"][path]
    }
    assert drawn == expected
    assert len(body["y"]) == len(yaml.safe_load((ROOT / "params.yaml").read_text())["training"]["seeds"])


def test_the_offline_page_inlines_its_plotting_scripts(tmp_path):
    """scripts/plots_offline.py: the same chart as DVC's page, with vega, vega-lite and vega-embed inside it."""
    project, name, _, revisions = curves_project(tmp_path / "project")
    run(sys.executable, str(ROOT / "scripts" / "plots_offline.py"), *revisions, "--out", "page", cwd=project)
    page = (project / "page" / "index.html").read_text()
    assert "<script src" not in page and "://cdn" not in page
    assert page.count("vegaEmbed") >= 2 and name in page  # the library and the chart's call of it
    assert all(revision in page for revision in revisions)
