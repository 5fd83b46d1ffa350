#!/bin/bash
# A quick training probe, outside the pipeline: train one agent (seed 0) on a scenario's training
# year with some params overridden, into .probes/NAME/, and print its validation curve.
#   usage: scripts/probe_training.sh NAME AGENT [SCENARIO] -- key=value ...
#   e.g.:  scripts/probe_training.sh ppo-nosde ppo mall -- agents.ppo.total_timesteps=100000 \
#              control.model_selection.every_steps=10000 agents.ppo.use_sde=false
# Values are YAML (write 1.0e-5, not 1e-5). The dataset must exist (`dvc checkout` or the
# build_dataset stage). What the pipeline records is made by `dvc exp run`; a probe is for looking.
set -euo pipefail
name=$1; agent=$2; scenario=${3:-mall}
shift 2; [ "${1:-}" != "--" ] && shift; [ "${1:-}" = "--" ] && shift
folder=.probes/$name
mkdir -p "$folder"
python - "$folder/params.yaml" "$@" <<'PY'
import sys
import yaml
from evstation.config import apply_overrides, load_settings
overrides = dict((key, yaml.safe_load(value)) for key, value in (item.split("=", 1) for item in sys.argv[2:]))
settings = apply_overrides(load_settings("params.yaml"), overrides)
open(sys.argv[1], "w").write(yaml.safe_dump(settings.as_params(), sort_keys=False))
PY
start=$(date +%s)
evstation --quiet --params "$folder/params.yaml" --scenario "$scenario" train "$agent" --seed 0 --results-dir "$folder"
echo "$name: trained in $(( $(date +%s) - start )) s"
python - "$folder/curves/${agent}_seed0.csv" <<'PY'
import sys
import pandas as pd
curve = pd.read_csv(sys.argv[1])
rows = curve.dropna(subset=["validation_score"])
window = max(len(curve) // 10, 1)
print("steps  validation_score  training reward (mean of the rows since the previous score)")
previous = 0
for index, row in rows.iterrows():
    print(f"{int(row.timesteps):>7}  {row.validation_score:>16.5f}  {curve.reward_mean[previous:index + 1].mean():>9.5f}")
    previous = index + 1
PY
