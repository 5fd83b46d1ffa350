# The pipeline for Snakemake: the same stages, commands, inputs, outputs and parameters as dvc.yaml
# (both come from workflow/stages.py; tests/test_frontends.py proves they agree). Run: snakemake --cores all
# Other values: snakemake --configfile mine.yaml (only the keys it changes, dotted as in workflow/quick.yaml;
# the commands then read params.yaml with those values laid over it). Each job logs to results/logs/ and times itself in
# results/benchmarks/.
from snakemake.utils import min_version

# The release the pipeline is tested with (requirements.lock): an older Snakemake stops here, not mid-run.
min_version("9.27")


configfile: "params.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/dataset.smk"
include: "workflow/rules/baselines.smk"
include: "workflow/rules/agents.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        validations=expand(f"{RESULTS}/validation.json", scenario=SCENARIOS),
        report=rules.compare.output,


# A job's command refuses it, in one line, while another run (dvc repro, a command by hand) writes or
# reads one of its outputs, and Snakemake leaves them in place (update(), workflow/rules/common.smk). So
# that such a run does not fail job by job, it stops here, before any job runs, in one line.
onstart:
    from evstation.locking import held_elsewhere

    held = held_elsewhere(output for job in workflow.dag.needrun_jobs() for output in job.output)
    if held:
        print(
            f"snakemake: being written or read by another run: {'; '.join(held)}; nothing was run: "
            "wait for it to finish",
            file=sys.stderr,
        )
        sys.exit(2)


# After a successful run, record its outputs in dvc.lock so `dvc repro` finds nothing stale, keeping
# the files' times so Snakemake does not either (workflow/dvc_record.py). A run of only some targets
# leaves other stages without outputs: DVC then records nothing and says so.
onsuccess:
    from dvc_record import commit_keeping_times

    commit_keeping_times()
