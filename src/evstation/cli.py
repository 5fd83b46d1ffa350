"""The stage commands: `evstation build-dataset`, `evstation validate`, ...

Each reads params.yaml from the working directory (or `--params`) with one scenario applied
(`--scenario`, default the first of `scenarios`) and exits non-zero with one clear line on a
user's mistake. A scenario's data and results have folders of their own: `data/<scenario>/citylearn`
and `results/scenarios/<scenario>/`; `compare` reads every scenario's and writes `results/report/`. Heavy
libraries are imported inside the commands so that `--help` and config errors answer at once.
"""

from __future__ import annotations

import argparse
import logging
import sys
from contextlib import contextmanager
from pathlib import Path

from . import registry
from .errors import FULL, BalanceError, UserError, naming_the_run

BASELINE_CHOICES = registry.names_run_by("baseline") + registry.names_run_by("oracle")
AGENT_CHOICES = registry.names("learner")
EXIT_USER_ERROR = 2
EXIT_CHECK_FAILED = 1
log = logging.getLogger("evstation")


def _settings(args: argparse.Namespace):
    """The params with the command's scenario applied; the scenario's folders fill unset paths."""
    from .config import load_settings

    settings = load_settings(args.params, args.scenario)
    args.scenario = settings.scenario  # the scenario this command runs, for the commands its errors suggest
    folders = {
        "data_dir": Path("data") / settings.scenario / "citylearn",
        "results_dir": Path("results") / "scenarios" / settings.scenario,
    }
    folders["summary"] = folders["results_dir"] / "dataset" / "summary.json"
    folders["output"] = folders["results_dir"] / "validation.json"
    for name, default in folders.items():
        if getattr(args, name, "") is None:
            setattr(args, name, str(default))
    return settings


def _build_dataset(args: argparse.Namespace) -> int:
    from .config import SPLITS
    from .dataset import write_all_splits

    settings = _settings(args)
    splits = args.split or list(SPLITS)
    summary = write_all_splits(settings, Path(args.data_dir), splits, Path(args.summary))
    for split in splits:
        figures = summary[split]
        log.info(
            "%s: PV %.0f kWh/kWp (PR %.3f), mall %.2f GWh, EV %.0f kWh/day, %d sessions, %.1f %% turned away",
            split,
            figures["pv_yield_kwh_per_kwp"],
            figures["performance_ratio"],
            figures["mall_gwh"],
            figures["ev_energy_kwh_per_day"],
            figures["sessions"],
            figures["turned_away_pct"],
        )
    return 0


def _validate(args: argparse.Namespace) -> int:
    from .validate import run_validation

    settings = _settings(args)
    # a failed run must not leave an earlier passing report, nor a refused one (no dataset) any report
    Path(args.output).unlink(missing_ok=True)
    report = run_validation(settings, Path(args.data_dir), Path(args.output))
    failed = [check for check in report["checks"] if check["verdict"] != "pass"]
    for check in failed:
        print(f"validation failed: {check['name']}: value {check['value']}, limit {check['limit']}", file=sys.stderr)
    log.info("%d checks, %d failed; report in %s", len(report["checks"]), len(failed), args.output)
    return EXIT_CHECK_FAILED if failed else 0


def _baseline(args: argparse.Namespace) -> int:
    from .stages.baselines import run_baseline

    settings = _settings(args)
    record = run_baseline(settings, args.name, Path(args.data_dir), Path(args.results_dir))
    for split in ("train", "eval"):
        metrics = record[split]
        log.info(
            "%s/%s: import %.0f MWh, grid CO2 %.0f t, cost %.0f kPEN, solar used %.1f %%, EV satisfied %.1f %%, "
            "largest balance error %.2g kWh",
            args.name,
            split,
            metrics["import_kwh"] / 1e3,
            metrics["co2_grid_kg"] / 1e3,
            metrics["cost_pen"] / 1e3,
            metrics["solar_utilization_pct"],
            metrics["ev_satisfaction_pct"],
            metrics["max_energy_balance_error_kwh"],
        )
    return 0


def _seeds(args: argparse.Namespace, settings) -> list[int]:
    """The seeds to run, every one checked before the first runs."""
    from .learning.training import check_seed

    seeds = [args.seed] if args.seed is not None else list(settings.training.seeds)
    for seed in seeds:
        check_seed(seed, "--seed" if args.seed is not None else "training.seeds")
    return seeds


def _train(args: argparse.Namespace) -> int:
    from .learning.training import train_agent
    from .stages.policy import evaluate_policy

    settings = _settings(args)
    for seed in _seeds(args, settings):
        if not args.eval_only:
            train_agent(
                settings,
                args.agent,
                seed,
                data_dir=Path(args.data_dir),
                results_dir=Path(args.results_dir),
                resume=args.resume,
            )
        if args.eval_only:
            evaluate_policy(
                settings,
                args.agent,
                seed,
                data_dir=Path(args.data_dir),
                results_dir=Path(args.results_dir),
                checkpoint=args.checkpoint,
            )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from .stages.policy import evaluate_policy

    settings = _settings(args)
    for seed in _seeds(args, settings):  # the seeds are aggregated by `compare`, never here
        evaluate_policy(settings, args.agent, seed, data_dir=Path(args.data_dir), results_dir=Path(args.results_dir))
    return 0


def _compare(args: argparse.Namespace) -> int:
    from .config import load_settings
    from .report import write_report

    settings = load_settings(args.params, args.scenario)
    report_dir = Path(args.results_dir) / "report"
    table = write_report(settings, Path(args.results_dir), report_dir)
    log.info(
        "compared %d controllers in %d scenarios; report in %s",
        table["controller"].nunique(),
        table["scenario"].nunique(),
        report_dir,
    )
    return 0


@contextmanager
def _locks(args: argparse.Namespace):
    """Hold the locks of the command's outputs (exclusive) and of the datasets it reads (shared), so
    two runs of one target, by any front end, never write it at once (locking.py); a command that
    reads the datasets first checks that their splits were built together."""
    from .locking import job_lock, locked, output_lock

    if args.command == "compare":
        report = Path(args.results_dir) / "report"
        with locked(writes={str(report): output_lock(report)}):
            yield
        return
    settings = _settings(args)
    data = Path(args.data_dir)
    if args.command == "build-dataset":
        with locked(writes={str(data): output_lock(data)}):
            yield
        return
    from .dataset import check_built_from, check_built_together, check_validated

    results = Path(args.results_dir) if hasattr(args, "results_dir") else Path(args.output).parent
    reads = {str(data): output_lock(data)}
    if args.command == "validate":
        jobs = {args.output: output_lock(Path(args.output))}
    else:  # the validation record is read too: not rewritten while a run relies on it
        validation = results / "validation.json"
        reads[str(validation)] = output_lock(validation)
        if args.command == "baseline":
            jobs = {f"{results} (baseline {args.name})": job_lock(results, f"baseline-{args.name}")}
        else:  # train and evaluate of one seed share its lock
            jobs = {
                f"{results} ({args.agent} seed {seed})": job_lock(results, f"{args.agent}-seed{seed}")
                for seed in _seeds(args, settings)
            }
    with locked(writes=jobs, reads=reads):
        if args.command != "validate":  # validate checks them itself, after removing its old report
            identifier = check_built_together(data)
            if identifier is not None:  # no dataset: the command names the file it misses
                check_built_from(data, settings, identifier)
                check_validated(validation, identifier, _command_line(args))
        yield


def _command_line(args: argparse.Namespace) -> str:
    """The command a refusal names: `evstation baseline rule_based`, `evstation train ppo --seed 0`."""
    words = [args.command, getattr(args, "name", None) or getattr(args, "agent", None)]
    if getattr(args, "seed", None) is not None:
        words += ["--seed", str(args.seed)]
    return " ".join(["evstation", *filter(None, words)])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evstation", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="parameters file (default: params.yaml)")
    parser.add_argument("--scenario", help="the scenario to apply (default: the first of the params' scenarios)")
    parser.add_argument("--quiet", action="store_true", help="only warnings and errors")
    parser.add_argument("--log", help="also append the messages, errors included, to this file")
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build-dataset", help="write the CityLearn dataset of each split")
    build.add_argument("--data-dir", help="default: data/<scenario>/citylearn")
    build.add_argument("--summary", help="default: results/scenarios/<scenario>/dataset/summary.json")
    build.add_argument("--split", action="append", choices=["train", "eval"], help="only this split (repeatable)")
    build.set_defaults(run=_build_dataset)

    validate = commands.add_parser(
        "validate", help="check the datasets physically; write results/scenarios/<scenario>/validation.json"
    )
    validate.add_argument("--data-dir", help="default: data/<scenario>/citylearn")
    validate.add_argument("--output", help="default: results/scenarios/<scenario>/validation.json")
    validate.set_defaults(run=_validate)

    baseline = commands.add_parser("baseline", help="simulate a baseline controller on both years")
    baseline.add_argument("name", choices=BASELINE_CHOICES)
    baseline.add_argument("--data-dir", help="default: data/<scenario>/citylearn")
    baseline.add_argument("--results-dir", help="default: results/scenarios/<scenario>")
    baseline.set_defaults(run=_baseline)

    train = commands.add_parser("train", help="train an agent on the training year (every seed of params, or --seed)")
    train.add_argument("agent", choices=AGENT_CHOICES)
    train.add_argument("--seed", type=int, help="only this training seed")
    train.add_argument("--resume", action="store_true", help="continue from the newest intact checkpoint")
    train.add_argument("--eval-only", action="store_true", help="evaluate the saved model without training")
    train.add_argument(
        "--checkpoint",
        choices=["final", "newest"],
        default="final",
        help="with --eval-only: the final model (default) or the newest periodic checkpoint",
    )
    train.add_argument("--data-dir", help="default: data/<scenario>/citylearn")
    train.add_argument("--results-dir", help="default: results/scenarios/<scenario>")
    train.set_defaults(run=_train)

    evaluate = commands.add_parser("evaluate", help="replay each seed's trained policy on both years")
    evaluate.add_argument("agent", choices=AGENT_CHOICES)
    evaluate.add_argument("--seed", type=int, help="only this training seed")
    evaluate.add_argument("--data-dir", help="default: data/<scenario>/citylearn")
    evaluate.add_argument("--results-dir", help="default: results/scenarios/<scenario>")
    evaluate.set_defaults(run=_evaluate)

    compare = commands.add_parser(
        "compare", help="compare every controller of every scenario: tables and figures in results/report"
    )
    compare.add_argument(
        "--results-dir",
        default="results",
        help="holds each scenario's results in <scenario>/ and gets the report in report/",
    )
    compare.set_defaults(run=_compare)
    return parser


def _fail(line: str) -> None:
    """The one line a user's mistake gets, on stderr and in the job's log."""
    print(line, file=sys.stderr)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.stream.write(line + "\n")
            handler.flush()


LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"


def _log_to(path: str | None) -> None:
    """Messages to stderr and, for a pipeline job, to its log file too (the workflows name one per job).
    Appended, never replaced: a second run of a job, refused by the job's lock, must not empty the log of
    the run that holds it. A log that cannot be written is a UserError, before anything runs."""
    handlers = [logging.StreamHandler()]
    if path:
        target = Path(path)
        if target.is_dir():
            raise UserError(f"{target}: --log: is a folder, not a file (name a file, e.g. {target / 'evstation.log'})")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handlers.append(logging.FileHandler(target, mode="a"))
        except OSError as error:
            raise UserError(f"{target}: --log: cannot be written ({error.strerror or error})") from None
    logging.basicConfig(format=LOG_FORMAT, datefmt="%H:%M:%S", handlers=handlers, force=True)


def _with_hints_of_this_run(error: UserError, args: argparse.Namespace) -> str:
    """The error's message, each command it suggests naming this run's scenario and parameters file;
    `compare` reads every scenario, and its messages name the scenario a command is for themselves."""
    if args.command == "compare" or args.scenario is None:
        return str(error)
    return naming_the_run(str(error), args.scenario, args.params)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        _log_to(args.log)
    except UserError as error:
        print(f"evstation: error: {error}", file=sys.stderr)  # no log to write it to
        return EXIT_USER_ERROR
    log.setLevel(logging.WARNING if args.quiet else logging.INFO)
    try:
        with _locks(args):
            return args.run(args)
    except UserError as error:
        _fail(f"evstation: error: {_with_hints_of_this_run(error, args)}")
        return EXIT_USER_ERROR
    except BalanceError as error:
        _fail(f"evstation: energy check failed: {error}")
        return EXIT_CHECK_FAILED
    except OSError as error:
        if error.errno not in FULL:
            raise
        where = f"{error.filename}: " if error.filename else ""
        _fail(f"evstation: error: {where}an output cannot be written ({error.strerror}); what was written is removed")
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("evstation: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
