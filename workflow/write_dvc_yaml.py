"""Write dvc.yaml from params.yaml and workflow/stages.py: run it after adding or removing a scenario,
naming an input file in one, or changing what a scenario overrides.

    python workflow/write_dvc_yaml.py            # writes dvc.yaml
    python workflow/write_dvc_yaml.py --check    # exit 1 with one line if dvc.yaml is not current

Every stage is written out per scenario (and per agent and seed), so each lists exactly the
parameter keys and files it reads; Snakemake reads the same declaration directly.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stages  # noqa: E402

HEADER = """\
# The pipeline for DVC, written by `python workflow/write_dvc_yaml.py` from params.yaml and
# workflow/stages.py: do not edit by hand. Snakemake runs the same stages (tests/test_frontends.py
# proves it). Run: dvc repro. Detailed records are outputs; results/report/headline.json is the metrics,
# and each agent's learning curves (every seed) are one plot per scenario.
"""


def _command(params_file: str, scenario: str | None, rest: str, log: str) -> str:
    where = f" --scenario {scenario}" if scenario else ""
    return f"evstation --params {params_file}{where} --log {log} {rest}"


def _stage(
    params: dict,
    params_file: str,
    stage: str,
    scenario: str | None,
    command: str,
    *,
    log: str,
    deps: list[str] = (),
    outs: list = (),
    agent: str | None = None,
    controller: str | None = None,
    extra: dict | None = None,
) -> dict:
    log_path = f"{stages.LOGS}/{scenario}/{log}.log" if scenario else f"{stages.LOGS}/{log}.log"
    body = {
        "cmd": _command(params_file, scenario, command, log_path),
        "deps": stages.code_files(stage) + list(deps),
        "params": stages.param_keys(params, stage, scenario, agent, controller),
    }
    if outs:
        body["outs"] = list(outs)
    body.update(extra or {})
    return body


# Every output persists: DVC leaves it in place when it runs its stage again, as it otherwise removes
# outputs before the command can take its lock (locking.py). Each command replaces its outputs only once
# the new ones are complete, so a stage that fails or is refused leaves the last good ones as they were.
def _cached(*paths: str) -> list[dict]:
    return [{path: {"persist": True}} for path in paths]


def _uncached(*paths: str) -> list[dict]:
    return [{path: {"cache": False, "persist": True}} for path in paths]


def scenario_stages(params: dict, params_file: str, scenario: str) -> dict:
    data = stages.DATA.format(scenario=scenario)
    results = stages.RESULTS.format(scenario=scenario)
    validated = stages.VALIDATION.format(scenario=scenario)  # every stage that runs a controller needs it
    found = {
        f"build_dataset-{scenario}": _stage(
            params,
            params_file,
            "build_dataset",
            scenario,
            "build-dataset",
            log="build_dataset",
            deps=stages.input_files(params_file, scenario),
            outs=_cached(data) + _uncached(f"{results}/dataset/summary.json"),
        )
    }
    found[f"validate-{scenario}"] = _stage(
        params,
        params_file,
        "validate",
        scenario,
        "validate",
        log="validate",
        deps=[data],
        outs=_uncached(f"{results}/validation.json"),
    )
    for name in stages.BASELINES:
        found[f"baseline-{scenario}-{name}"] = _stage(
            params,
            params_file,
            "baseline",
            scenario,
            f"baseline {name}",
            log=f"baseline-{name}",
            deps=[data, validated],
            controller=name,
            outs=_cached(f"{results}/timeseries/{name}_train.csv", f"{results}/timeseries/{name}_eval.csv")
            + _uncached(f"{results}/metrics/{name}.json"),
        )
    for name in stages.ORACLES:
        found[f"{name}-{scenario}"] = _stage(
            params,
            params_file,
            "oracle",
            scenario,
            f"baseline {name}",
            log=name,
            deps=[data, validated],
            outs=_cached(f"{results}/timeseries/{name}_train.csv", f"{results}/timeseries/{name}_eval.csv")
            + _uncached(f"{results}/metrics/{name}.json", *stages.oracle_records(results, name)),
        )
    merged = stages.merged_settings(params_file, scenario)
    for agent in stages.AGENTS:
        corrected = stages.residual_records(merged, results, agent)
        for seed in stages.seeds(params):
            final = stages.final_model(results, agent, seed)
            found[f"train-{scenario}-{agent}-{seed}"] = _stage(
                params,
                params_file,
                "train",
                scenario,
                f"train {agent} --seed {seed} --resume",
                agent=agent,
                log=f"train-{agent}-{seed}",
                deps=[data, validated, *corrected],
                outs=_cached(final) + _uncached(stages.curve_file(results, agent, seed)),
            )
            found[f"evaluate-{scenario}-{agent}-{seed}"] = _stage(
                params,
                params_file,
                "evaluate",
                scenario,
                f"evaluate {agent} --seed {seed}",
                agent=agent,
                log=f"evaluate-{agent}-{seed}",
                deps=[data, validated, *corrected, final],
                outs=_cached(
                    f"{results}/timeseries/{agent}_seed{seed}_train.csv",
                    f"{results}/timeseries/{agent}_seed{seed}_eval.csv",
                )
                + _uncached(f"{results}/metrics/{agent}_seed{seed}.json"),
            )
    return found


def pipeline(params: dict, params_file: str = "params.yaml") -> dict:
    found = {}
    for scenario in stages.scenarios(params):
        found.update(scenario_stages(params, params_file, scenario))
    report = stages.REPORT
    found["compare"] = _stage(
        params,
        params_file,
        "compare",
        None,
        "compare",
        log="compare",
        deps=[stages.SCENARIO_RESULTS],
        outs=_uncached(*(f"{report}/{name}" for name in stages.REPORT_TABLES + [stages.REPORT_SUMMARY])),
        extra={
            "metrics": _uncached(f"{report}/{stages.REPORT_HEADLINE}"),
            "plots": _uncached(*(f"{report}/{name}" for name in stages.REPORT_FIGURES)),
        },
    )
    return {"stages": found, "plots": curve_plots(params)}


def curve_plots(params: dict) -> list[dict]:
    """One plot per scenario and agent: its seeds' learning curves, so that `dvc plots diff A B` draws two
    experiments' curves on one chart. Top-level definitions: the curve files stay the training stages' outputs."""
    found = []
    for scenario in stages.scenarios(params):
        results = stages.RESULTS.format(scenario=scenario)
        for agent in stages.AGENTS:
            files = {stages.curve_file(results, agent, seed): list(stages.CURVE_Y) for seed in stages.seeds(params)}
            found.append(
                {
                    f"learning_curve-{scenario}-{agent}": {
                        "title": f"{scenario}: {agent} learning curves (reward per step)",
                        "template": "linear",
                        "x": stages.CURVE_X,
                        "y": files,
                        "x_label": "training steps",
                        "y_label": "reward per step",
                    }
                }
            )
    return found


def render(params_file: str = "params.yaml") -> str:
    params = yaml.safe_load(Path(params_file).read_text())
    return HEADER + yaml.safe_dump(pipeline(params, params_file), sort_keys=False, width=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--output", default="dvc.yaml")
    parser.add_argument("--check", action="store_true", help="only check that the file is current")
    args = parser.parse_args(argv)
    from evstation.errors import UserError

    try:
        text = render(args.params)
    except UserError as error:
        print(f"write_dvc_yaml: error: {error}", file=sys.stderr)
        return 2
    output = Path(args.output)
    if args.check:
        if not output.is_file() or output.read_text() != text:
            print(f"{output} is not current with {args.params}: run python workflow/write_dvc_yaml.py", file=sys.stderr)
            return 1
        return 0
    output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
