"""Record a finished Snakemake run in dvc.lock without making Snakemake think its outputs changed.

`dvc commit` links every cached output back from its cache; with the copy link type a file is
rewritten: the same bytes under a fresh modification time. Snakemake then takes it for an updated
input and reruns what reads it (at full size `compare`, whose inputs are too large for Snakemake's
checksum fallback). The times of everything under the pipeline's folders are put back afterwards;
the contents are DVC's own, unchanged.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

PIPELINE_FOLDERS = ("data", "results")
NOT_RECORDED = "dvc.lock not updated: run the whole pipeline, or dvc commit STAGE"


def modification_times(roots: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    """(access, modification) times in ns of every file and folder under the roots."""
    times = {}
    for root in roots:
        for folder, _, files in os.walk(root):
            for path in [folder] + [os.path.join(folder, name) for name in files]:
                status = os.stat(path, follow_symlinks=False)
                times[path] = (status.st_atime_ns, status.st_mtime_ns)
    return times


def restore_times(times: dict[str, tuple[int, int]]) -> None:
    # deepest first, so setting a file's time cannot disturb its folder's afterwards
    for path in sorted(times, key=lambda p: p.count(os.sep), reverse=True):
        if os.path.lexists(path):
            os.utime(path, ns=times[path], follow_symlinks=False)


def commit_keeping_times(project: Path = Path(".")) -> bool:
    """`dvc commit --force` in the project, file times unchanged; False when DVC recorded nothing."""
    if shutil.which("dvc") is None or not (project / ".dvc").is_dir():
        return False
    before = modification_times(tuple(str(project / folder) for folder in PIPELINE_FOLDERS))
    committed = subprocess.run(["dvc", "commit", "--force", "--quiet"], cwd=project).returncode == 0
    restore_times(before)
    if not committed:
        print(NOT_RECORDED)
    return committed
