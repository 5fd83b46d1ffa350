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


# Every rule's outputs are update(): Snakemake then leaves them in place when it runs their job, where it
# otherwise removes them first, before the command can take its lock, so a rerun that failed or was
# refused left nothing, and a rerun removed what another run was writing or reading. Each command takes
# its lock before it writes and replaces its outputs only whole (files.py), so what a failed or refused
# job leaves is the last good output. Two of Snakemake's ways with update() outputs are changed for them:
# - it copied each to .snakemake/backups before the job and, after a failure, removed the output and
#   copied it back, outside the command's lock (over another run's new dataset, under a run reading it);
#   and a copy left by a killed Snakemake stopped every later run of the job with a traceback. No copy now.
# - after a failure it recorded the kept outputs as made by the failed job (its params, its code), so
#   the next run found them current. They are marked incomplete instead: the next run runs the job again.
def leave_outputs_to_their_commands():
    from evstation.locking import writer_lock

    try:
        from snakemake.persistence import PersistenceBase as persistence

        backup, restore, finished = persistence.backup_output, persistence.restore_output, persistence.finished
    except (ImportError, AttributeError):  # a Snakemake without them: nothing to change
        return

    def backup_output(self, path):
        if writer_lock(path) is None:  # an output no stage command writes
            backup(self, path)

    def restore_output(self, path):  # called for each update() output of a job that failed
        if writer_lock(path) is None:
            return restore(self, path)
        self.__dict__.setdefault("failed_outputs", set()).add(os.path.normpath(path))
        # as the command left it; True: Snakemake does not remove it as corrupt (without keep-incomplete)
        return os.path.lexists(path)

    async def finished_unless_failed(self, job):  # called after restore_output, failed or not
        await finished(self, job)
        failed = self.__dict__.get("failed_outputs", set())
        outputs = {os.path.normpath(output) for output in job.output}
        if failed & outputs:
            failed.difference_update(outputs)  # a retry of the job that succeeds is then finished
            self.started(job)  # marks the job's outputs incomplete

    persistence.backup_output, persistence.restore_output = backup_output, restore_output
    persistence.finished = finished_unless_failed


leave_outputs_to_their_commands()
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
