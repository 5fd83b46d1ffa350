# Helpers shared by the rules. What each stage reads is declared once, in workflow/stages.py.
import sys

sys.path.insert(0, str(Path(workflow.basedir) / "workflow"))
from stages import AGENTS, BASELINES, STAGE_PARAMS, code_files  # noqa: E402


def param_values(stage, agent=None):
    """The values of the params.yaml sections a stage reads, so Snakemake reruns it when one changes."""
    values = {key: config[key] for key in STAGE_PARAMS[stage]}
    if agent is not None:
        values[f"agents.{agent}"] = config["agents"][agent]
    return values
