"""A rebuild killed at any point leaves either the old datasets or the new ones, never a mix, and the
next build leaves exactly what a clean build writes. Readers refuse splits that were not built together.

The build stops itself at a named point (EVSTATION_KILL_AT: it sends itself SIGKILL there), so
each kill lands deterministically: after a split is written in staging, once the staging folder is
complete, after the old summary is removed, after the old folder is set aside, after the swap.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
from pathlib import Path

import pytest

from conftest import data_dir, results_dir, write_params
from conftest import evstation_process as build
from evstation.dataset import check_built_together
from evstation.errors import DataError

# a params change that changes both years (the fleet) after a build with the small station's params
CHANGE = {"fleet.daily_arrivals": {"moto": 30, "mototaxi": 10}}

# where each kill leaves things: the datasets of the old params, the new ones or none, and the summary
KILL_POINTS = {
    "split-written:train": ("old", "old"),  # the new train split written in staging, eval not yet
    "split-written:eval": ("old", "old"),
    "staged": ("old", "old"),  # staging complete, summaries with the build id in it
    "summary-removed": ("old", None),  # the old overall summary removed, the swap not begun
    "old-set-aside": (None, None),  # the old folder renamed aside, the new one not yet in
    "swapped": ("new", None),  # the new folder in place, the new summary not yet
}


def files(root: Path) -> dict[str, str]:
    """Every file under `root` (hidden ones included) and its sha256."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def outputs(project: Path) -> dict[str, str]:
    """Everything build-dataset wrote, or left, in a project: under data/ and results/."""
    return {f"{top}/{name}": digest for top in ("data", "results") for name, digest in files(project / top).items()}


def summary_path(project: Path) -> Path:
    return results_dir(project) / "dataset" / "summary.json"


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> dict[str, Path]:
    """A clean build of the old params and one of the changed params."""
    projects = {}
    for name, overrides in (("old", {}), ("new", CHANGE)):
        project = tmp_path_factory.mktemp(f"clean_{name}")
        write_params(project, overrides)
        result = build(project, "build-dataset")
        assert result.returncode == 0, result.stderr
        projects[name] = project
    return projects


def test_the_two_builds_differ_in_both_years(clean):
    old, new = (files(data_dir(clean[name])) for name in ("old", "new"))
    assert old.keys() == new.keys()
    for split in ("train", "eval"):
        assert old[f"{split}/sessions.csv"] != new[f"{split}/sessions.csv"]
    assert check_built_together(data_dir(clean["old"])) != check_built_together(data_dir(clean["new"]))


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_killed_rebuild_leaves_old_or_new_and_the_next_build_a_clean_one(clean, tmp_path, point):
    for top in ("data", "results"):
        shutil.copytree(clean["old"] / top, tmp_path / top)
    write_params(tmp_path, CHANGE)
    killed = build(tmp_path, "build-dataset", EVSTATION_KILL_AT=point)
    assert killed.returncode == -signal.SIGKILL, f"the build did not reach {point}: {killed.stderr[-2000:]}"

    data_state, summary_state = KILL_POINTS[point]
    if data_state is None:
        assert not data_dir(tmp_path).exists()
    else:
        assert files(data_dir(tmp_path)) == files(data_dir(clean[data_state])), "not one build's datasets"
        check_built_together(data_dir(tmp_path))
    if summary_state is None:
        assert not summary_path(tmp_path).exists()
    else:
        assert summary_path(tmp_path).read_bytes() == summary_path(clean[summary_state]).read_bytes()

    result = build(tmp_path, "build-dataset")
    assert result.returncode == 0, result.stderr
    assert outputs(tmp_path) == outputs(clean["new"])
    assert sorted(p.name for p in data_dir(tmp_path).parent.iterdir()) == [".citylearn.lock", "citylearn"]


def test_a_killed_first_build_leaves_nothing_inside_the_output(clean, tmp_path):
    write_params(tmp_path, CHANGE)
    killed = build(tmp_path, "build-dataset", EVSTATION_KILL_AT="split-written:train")
    assert killed.returncode == -signal.SIGKILL
    assert not data_dir(tmp_path).exists()
    assert [p.name for p in data_dir(tmp_path).parent.iterdir() if p.name.startswith(".citylearn.staging-")]
    # an earlier version's leftover inside the output goes too: the folder is replaced as a whole
    stray = data_dir(tmp_path) / ".train.x1y2" / "building.csv"
    stray.parent.mkdir(parents=True)
    stray.write_text("partial\n")
    result = build(tmp_path, "build-dataset")
    assert result.returncode == 0, result.stderr
    assert outputs(tmp_path) == outputs(clean["new"])


def mixed(clean: dict[str, Path], project: Path) -> Path:
    """The old train split beside the new eval split: what a rebuild used to leave when killed."""
    for top in ("data", "results"):
        shutil.copytree(clean["old"] / top, project / top)
    shutil.rmtree(data_dir(project) / "eval")
    shutil.copytree(data_dir(clean["new"]) / "eval", data_dir(project) / "eval")
    write_params(project)
    return project


def test_splits_of_different_builds_are_refused(clean, tmp_path):
    with pytest.raises(
        DataError,
        match=r"citylearn: the splits were not built together \(train from build \w+, "
        r"eval from build \w+\)",
    ):
        check_built_together(data_dir(mixed(clean, tmp_path)))


@pytest.mark.parametrize("command", [["validate"], ["baseline", "uncontrolled"], ["train", "ppo"]])
def test_readers_refuse_mixed_splits_in_one_line(clean, tmp_path, command):
    project = mixed(clean, tmp_path)
    before = outputs(project)
    result = build(project, *command)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "the splits were not built together" in lines[0], result.stderr
    written = {name for name in outputs(project).keys() - before.keys() if not name.endswith(".lock")}
    assert not written, written
    assert not (results_dir(project) / "validation.json").exists()


def test_a_split_without_build_id_is_refused(clean, tmp_path):
    shutil.copytree(data_dir(clean["old"]), data_dir(tmp_path))
    path = data_dir(tmp_path) / "eval" / "summary.json"
    summary = json.loads(path.read_text())
    del summary["build_id"]
    path.write_text(json.dumps(summary))
    with pytest.raises(DataError, match=r"eval/summary.json: no build id"):
        check_built_together(data_dir(tmp_path))


def test_rebuilding_one_split_after_a_change_is_refused_until_both_are_rebuilt(clean, tmp_path):
    for top in ("data", "results"):
        shutil.copytree(clean["old"] / top, tmp_path / top)
    write_params(tmp_path, CHANGE)
    assert build(tmp_path, "build-dataset", "--split", "train").returncode == 0
    assert files(data_dir(tmp_path) / "eval") == files(data_dir(clean["old"]) / "eval")
    with pytest.raises(DataError, match="the splits were not built together"):
        check_built_together(data_dir(tmp_path))
    assert build(tmp_path, "build-dataset").returncode == 0
    assert outputs(tmp_path) == outputs(clean["new"])
