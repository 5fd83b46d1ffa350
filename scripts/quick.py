"""The whole pipeline at small size, every stage, in a folder of its own (`make quick`).

Copies the working tree's files (those git tracks, and new ones it does not ignore; not the records
in results/, not dvc.lock) into a fresh folder, default quick/, writes there a params.yaml that is the
project's with workflow/quick.yaml laid over it, makes the folder a git repository of its own (so
DVC records the run in the copy's dvc.lock), and runs `snakemake --cores all` in it with the copy's
own package first on the Python path. The project's data/ and results/ are not touched.

    python scripts/quick.py [--folder quick] [--overlay workflow/quick.yaml]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
NOT_COPIED = ("results/", "dvc.lock")  # the full-size records: the quick run writes its own
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "quick",
    "GIT_AUTHOR_EMAIL": "quick@localhost",
    "GIT_COMMITTER_NAME": "quick",
    "GIT_COMMITTER_EMAIL": "quick@localhost",
}


def working_files() -> list[str]:
    """The working tree's files that git tracks or would (not the ignored ones: .venv, data, ...)."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [name for name in listing.split("\0") if name and not name.startswith(NOT_COPIED)]


def copy_repository(target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in working_files():
        source = ROOT / name
        if source.is_file():  # a file deleted in the working tree but still tracked is left out
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def quick_params(overlay: Path) -> str:
    """params.yaml with the overlay's dotted keys laid over it (as `snakemake --configfile` lays them),
    validated like any params file."""
    sys.path.insert(0, str(ROOT / "src"))
    from evstation.config import lay_over, read_params, settings_from_data

    overrides = yaml.safe_load(overlay.read_text()) or {}
    settings = settings_from_data(lay_over(read_params(ROOT / "params.yaml"), overrides))
    header = f"# params.yaml with {overlay.relative_to(ROOT)} laid over it (written by scripts/quick.py)\n"
    return header + yaml.safe_dump(settings.as_params(), sort_keys=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", default=str(ROOT / "quick"), help="where the copy runs (emptied first)")
    parser.add_argument("--overlay", default=str(ROOT / "workflow" / "quick.yaml"), help="the small settings")
    args = parser.parse_args(argv)
    target, overlay = Path(args.folder).resolve(), Path(args.overlay).resolve()
    if target == ROOT or ROOT.is_relative_to(target):
        parser.error(f"--folder {target}: must not be the repository or hold it")

    params = quick_params(overlay)  # a bad overlay stops here, before the copy is emptied
    copy_repository(target)
    (target / "params.yaml").write_text(params)
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        **GIT_IDENTITY,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "DVC_NO_ANALYTICS": "1",
        "DVC_SITE_CACHE_DIR": str(target / ".dvc" / "tmp" / "site"),
        # the copy's own package, not the installed one (an editable install points at the working tree)
        "PYTHONPATH": os.pathsep.join(filter(None, [str(target / "src"), os.environ.get("PYTHONPATH")])),
    }
    for command in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-q", "-m", "quick run"]):
        subprocess.run(command, cwd=target, env=env, check=True)

    print(f"quick: the whole pipeline at small size in {target}", flush=True)
    started = time.monotonic()
    code = subprocess.run(["snakemake", "--cores", "all"], cwd=target, env=env).returncode
    minutes, seconds = divmod(round(time.monotonic() - started), 60)
    verdict = "done" if code == 0 else f"FAILED (exit {code}; logs in {target / 'results' / 'logs'})"
    print(f"quick: {verdict} in {minutes} min {seconds:02d} s", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
