"""A named configuration as one recorded DVC experiment: the dotted keys of an overlay file (as
workflow/quick.yaml or workflow/experiments/*.yaml) passed to `dvc exp run -S`, checked against
params.yaml first, so a misspelled key stops here in one line instead of in the middle of a run.

    python scripts/exp_overlay.py seed-settings workflow/experiments/seed_settings.yaml \\
        evaluate-mall_mt3-a2c-0 evaluate-mall_mt3-sac-0 evaluate-mall_mt3-ppo-0 -S 'training.seeds=[0]'
    python scripts/exp_overlay.py seed-settings workflow/experiments/seed_settings.yaml --dry-run

Stage names after the overlay are dvc targets (only they and what they need run); `-S KEY=VALUE`
adds one more override; `--queue` queues the experiment instead of running it.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def stop(message: str) -> None:
    """A user's mistake: one line, exit 2, as the evstation commands do."""
    print(f"exp_overlay: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def overlay_settings(overlay: Path) -> dict[str, object]:
    """The overlay's dotted keys and values, in the file's order."""
    data = yaml.safe_load(overlay.read_text()) or {}
    if not isinstance(data, dict) or not all(isinstance(key, str) for key in data):
        stop(f"{overlay}: expected dotted keys with values, like workflow/quick.yaml")
    return data


def set_arguments(overrides: dict[str, object]) -> list[str]:
    """`-S key=value` for each override, the value in YAML flow style as dvc reads it back."""
    arguments = []
    for key, value in overrides.items():
        text = yaml.safe_dump(value, default_flow_style=True).removesuffix("...\n").strip()
        arguments += ["-S", f"{key}={text}"]
    return arguments


def check(params: Path, overrides: dict[str, object]) -> None:
    """Validate the overrides against params.yaml as every stage would (one line and exit 2 if not)."""
    sys.path.insert(0, str(ROOT / "src"))
    from evstation.config import apply_overrides, load_settings
    from evstation.errors import UserError

    try:
        apply_overrides(load_settings(params), overrides)
    except UserError as error:
        stop(str(error))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="the experiment's name (dvc exp run -n)")
    parser.add_argument("overlay", type=Path, help="a YAML file of dotted keys laid over params.yaml")
    parser.add_argument("targets", nargs="*", help="dvc stages to run (default: the whole pipeline)")
    parser.add_argument(
        "-S",
        dest="extra",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="one more override, as dvc exp run -S takes it",
    )
    parser.add_argument("--queue", action="store_true", help="queue the experiment (dvc queue start runs it)")
    parser.add_argument("--dry-run", action="store_true", help="print the dvc command, run nothing")
    args = parser.parse_args(argv)

    overrides = overlay_settings(args.overlay)
    if any("=" not in item for item in args.extra):
        stop(f"-S {next(item for item in args.extra if '=' not in item)}: expected KEY=VALUE")
    extra = dict(item.split("=", 1) for item in args.extra)
    check(Path("params.yaml"), {**overrides, **{key: yaml.safe_load(value) for key, value in extra.items()}})
    command = ["dvc", "exp", "run", "-n", args.name, *(["--queue"] if args.queue else []), *set_arguments(overrides)]
    command += [word for item in args.extra for word in ("-S", item)] + args.targets
    print(shlex.join(command), flush=True)
    if args.dry_run:
        return 0
    return subprocess.run(command).returncode


if __name__ == "__main__":
    sys.exit(main())
