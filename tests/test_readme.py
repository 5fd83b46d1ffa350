"""The README stays a short guide whose every repository path exists.

A path is a token of an inline code span, or a link target, that contains a '/' or ends with a known
file extension. Placeholders (`<scenario>`, `{train,eval}`, `*`, `...`) end the part that is checked:
`results/scenarios/<scenario>/metrics/` checks `results/scenarios`. A path that does not exist
passes only if git ignores it, i.e. it is something the pipeline or the setup writes (`data/`,
`.venv/`, checkpoints), never a committed file.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import tool_env

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MAX_LINES = 260
EXTENSIONS = (
    ".py",
    ".md",
    ".yaml",
    ".yml",
    ".json",
    ".csv",
    ".png",
    ".lock",
    ".toml",
    ".sh",
    ".smk",
    ".txt",
    ".cfg",
    ".ini",
    ".zip",
    ".pkl",
    ".ipynb",
)
PLACEHOLDER = re.compile(r"[<>{}*]|\.\.\.")
FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
GIT_REVISION = re.compile(r"^[0-9a-f]{7,40}:")  # `git show 9dcf939:results/...`: a file of the history
LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def looks_like_path(token: str) -> bool:
    if not token or "://" in token or "=" in token or "@" in token or token.startswith(("/", "-", "~", "$")):
        return False
    return "/" in token or token.lower().endswith(EXTENSIONS)


def checked_part(path: str) -> str:
    """The path up to its first placeholder component ('' if the first one is)."""
    kept = []
    for part in path.split("/"):
        if PLACEHOLDER.search(part):
            break
        kept.append(part)
    return "/".join(p for p in kept if p not in ("", "."))


def named_paths(text: str, base: str = "") -> list[str]:
    """Every repository path the markdown names in code spans and links, relative to the root.

    `base` is the folder of the file (link targets are relative to it; code spans name paths from
    the repository's root, as the commands that use them run there)."""
    paths = []
    for paragraph in "\n".join(prose_lines(text)).split("\n\n"):  # a code span may wrap, within a paragraph
        for _, span in CODE_SPAN.findall(paragraph):
            for token in span.split():
                token = token.strip("()[],;:'\"").split("::")[0]  # a test's node id names its file
                if looks_like_path(token) and not GIT_REVISION.match(token):
                    paths.append(token)
        for target in LINK.findall(paragraph):
            target = target.split("#")[0]
            if target and "://" not in target and not target.startswith("mailto:"):
                paths.append(str(Path(base, target)) if base else target)
    return paths


def ignored(path: str) -> bool:
    """Whether git ignores the path (as a file or as a folder): something a run writes."""
    for candidate in (path, path.rstrip("/") + "/"):
        if (
            subprocess.run(
                ["git", "check-ignore", "-q", candidate], cwd=ROOT, env={**os.environ, **tool_env()}
            ).returncode
            == 0
        ):
            return True
    return False


def missing_paths(text: str, base: str = "") -> list[str]:
    missing = []
    for path in named_paths(text, base):
        part = checked_part(path)
        if not part:
            continue
        resolved = Path(os.path.normpath(ROOT / part))
        if ROOT not in (resolved, *resolved.parents):
            missing.append(f"{path} (outside the repository)")
        elif not resolved.exists() and not ignored(part):
            missing.append(path)
    return sorted(set(missing))


def anchors(text: str) -> set[str]:
    """GitHub's anchors of the markdown's headings."""
    found = set()
    for line in prose_lines(text):
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


def test_every_path_the_readme_names_exists():
    missing = missing_paths(README.read_text(encoding="utf-8"))
    assert not missing, "README.md names paths that are not in the repository: " + ", ".join(missing)


def test_the_readme_is_a_short_guide():
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"README.md has {lines} lines, at most {MAX_LINES}: move details to docs/"


def test_the_readme_links_to_its_own_headings():
    text = README.read_text(encoding="utf-8")
    targets = {target[1:] for target in LINK.findall(text) if target.startswith("#")}
    assert targets <= anchors(text), f"links to no heading: {sorted(targets - anchors(text))}"


def test_the_documents_index_names_existing_documents():
    index = ROOT / "docs" / "README.md"
    missing = missing_paths(index.read_text(encoding="utf-8"), base="docs")
    assert not missing, "docs/README.md names paths that are not in the repository: " + ", ".join(missing)


@pytest.mark.parametrize(
    "text, expected",
    [
        # paths a README once named after the files had moved: each is reported
        ("curves in `results/curves/a2c_seed0.csv`", ["results/curves/a2c_seed0.csv"]),
        ("`results/metrics/ppo_seed0.json  eval.co2_grid_kg  72500.99`", ["results/metrics/ppo_seed0.json"]),
        ("see [the reward](src/evstation/reward.py)", ["src/evstation/reward.py"]),
        ("`python scripts/no_such_script.py --seed 0`", ["scripts/no_such_script.py"]),
        (
            "`tests/test_nothing.py::test_it`, [up](../../outside.md)",
            ["../../outside.md (outside the repository)", "tests/test_nothing.py"],
        ),
        # what exists, what a run writes, placeholders, commands and addresses pass
        ("`src/evstation/problem/reward.py`, [`params.yaml`](params.yaml), `.venv/bin`", []),
        ("`data/<scenario>/citylearn/{train,eval}/`, `results/scenarios/<scenario>/checkpoints/`", []),
        ("`dvc exp run -S agents.ppo.learning_rate=3e-4`, `train@mall-ppo-0`, `s3://bucket/x.json`", []),
        (
            "`git show 9dcf939:results/report/comparison.md`, `tests/test_readme.py::test_the_check_finds_stale_paths`",
            [],
        ),
        ("```\nresults/not/checked/in/a/fence.json\n```", []),
        ("a span that wraps: `python\nscripts/wrapped_away.py`", ["scripts/wrapped_away.py"]),
    ],
)
def test_the_check_finds_stale_paths(text, expected):
    assert missing_paths(text) == expected


# ---------------------------------------------------------------- figures the documents quote from elsewhere


def test_the_quick_run_is_described_with_the_steps_it_trains():
    overlay = yaml.safe_load((ROOT / "workflow" / "quick.yaml").read_text())
    steps = {overlay[f"agents.{agent}.total_timesteps"] for agent in ("a2c", "ppo")}
    described = re.search(r"small station \(8 sockets, one week, (\d+) training steps", README.read_text())
    assert described and {int(described.group(1))} == steps


def test_the_documents_index_cites_the_readmes_pipeline_time():
    minutes = re.search(r"took ([\d.]+) minutes on a 2-core machine", README.read_text()).group(1)
    index = (ROOT / "docs" / "README.md").read_text()
    assert f"({minutes} min: the README's figure)" in index


def test_the_mt3_study_states_the_budgets_params_yaml_trains_now():
    agents = yaml.safe_load((ROOT / "params.yaml").read_text())["agents"]
    text = (ROOT / "docs" / "mall-mt3-agents.md").read_text()
    now = re.search(r"it now trains A2C and PPO for ([\d,]+) steps", text)
    assert now and {int(now.group(1).replace(",", ""))} == {agents[a]["total_timesteps"] for a in ("a2c", "ppo")}
    assert "production settings of `params.yaml`" not in text
