# Helpers shared by the rules. What each stage reads is declared once, in workflow/stages.py.
# The rules name their inputs (code=, data=, ...): the commands find their files through params.yaml,
# never {input}, so the names are there for the reader and for `rules.<rule>.input.<name>`. Every rule that
# runs a controller takes the scenario's validation record: no job runs on datasets that failed their
# checks. It is `ancient`: validate rerun with the same verdict (its code edited) makes nothing rerun.
import functools
import os
import sys

import yaml

sys.path.insert(0, str(Path(workflow.basedir) / "workflow"))
import stages  # noqa: E402
from stages import AGENTS, BASELINES, BENCHMARKS, DATA, LOGS, ORACLES, REPORT, RESULTS, SCENARIO_RESULTS  # noqa: E402
from stages import VALIDATION, code_files  # noqa: E402

ENVIRONMENT = "../envs/evstation.yaml"
MERGED_PARAMS = ".snakemake/evstation/params.yaml"


def params_file():
    """The parameters file the commands read: params.yaml, or, when `--configfile` lays other values
    over it, the merged values written to one file, so targets and commands agree. Snakemake merges a
    file's mappings into params.yaml itself; its dotted keys (`sockets.moto.count: 4`, the format of
    workflow/quick.yaml and `dvc exp run -S`) are laid over here, as `make quick` does."""
    from evstation.config import lay_over, read_params

    dotted = {key: value for key, value in config.items() if "." in str(key)}
    merged = lay_over({key: value for key, value in config.items() if key not in dotted}, dotted)
    if merged == read_params("params.yaml"):
        return "params.yaml"
    config.clear()  # the rules' scenarios and seeds too come from the merged values
    config.update(merged)
    text = yaml.safe_dump(merged, sort_keys=False)
    if not os.path.isfile(MERGED_PARAMS) or open(MERGED_PARAMS).read() != text:
        os.makedirs(os.path.dirname(MERGED_PARAMS), exist_ok=True)
        with open(MERGED_PARAMS, "w") as handle:
            handle.write(text)
    return MERGED_PARAMS


def checked_params():
    """The parameters file, validated when the workflow is parsed: one line and exit 2 on a mistake."""
    from evstation.config import load_settings
    from evstation.errors import UserError

    try:
        path = params_file()
        load_settings(path)
    except UserError as error:
        print(f"snakemake: parameters: {error}", file=sys.stderr)
        sys.exit(2)
    return path


PARAMS = checked_params()
SCENARIOS = stages.scenarios(config)
SEEDS = stages.seeds(config)


def evstation_logging_to(log):
    """The command's start, its messages appended to `log`."""
    return f"evstation --params {PARAMS} --scenario {{wildcards.scenario}} --log {log}"


EVSTATION = evstation_logging_to("{log}")


wildcard_constraints:
    scenario="|".join(SCENARIOS),


@functools.lru_cache(maxsize=None)
def merged(scenario):
    return stages.merged_settings(PARAMS, scenario)


def param_values(stage, agent=None, controller=None):
    """A job's params: the values of every key its stage reads, its scenario's overrides applied,
    so Snakemake reruns it when one of them changes and for nothing else. `controller`: the
    controller's name is the job's `name` wildcard (True) or this name."""

    def values(wildcards):
        settings = merged(wildcards.scenario)
        name = wildcards.name if controller is True else controller
        keys = stages.stage_keys(stage, wildcards.agent if agent else None, name)
        return {key: stages.dotted_value(settings, key) for key in keys}

    return values


def corrected_rule(wildcards):
    """The tuned rule's record, where a policy corrects it (`control.residual: peak_shaving`) or its
    learner moves it (`es`)."""
    return stages.residual_records(
        merged(wildcards.scenario), RESULTS.format(scenario=wildcards.scenario), wildcards.agent
    )


def scenario_files(wildcards):
    return stages.input_files(PARAMS, wildcards.scenario)


def log_file(name):
    return f"{LOGS}/{{scenario}}/{name}.log"


def benchmark_file(name):
    return f"{BENCHMARKS}/{{scenario}}/{name}.tsv"


def keep_dvc_yaml_current():
    """dvc.yaml is written from params.yaml: when its scenarios or their files changed, write it again
    (only for params.yaml itself: a --configfile run leaves DVC's record of the pipeline alone)."""
    if PARAMS != "params.yaml" or not os.path.isfile("dvc.yaml"):
        return
    from write_dvc_yaml import render

    text = render("params.yaml")
    if open("dvc.yaml").read() != text:
        with open("dvc.yaml", "w") as handle:
            handle.write(text)
        print("dvc.yaml rewritten for params.yaml's scenarios and files (commit it with them)", file=sys.stderr)


keep_dvc_yaml_current()
