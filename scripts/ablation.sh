#!/usr/bin/env bash
# The ablation table of the README: PPO, one seed, one scenario (mall unless SCENARIO says), a short
# budget; the best configuration of params `control`, then each piece of the learner's problem
# turned off in turn. Every row is a recorded DVC experiment: `dvc exp show`,
# `dvc metrics diff ppo-best ppo-no-floor` (another scenario's names end in -SCENARIO).
# Run from the project root: `bash scripts/ablation.sh` (it puts the project's .venv on PATH);
# `bash scripts/ablation.sh ppo-no-floor ppo-per-socket` queues only the experiments named;
# `SCENARIO=station_only bash scripts/ablation.sh` ablates the other scenario; `JOBS=0` only queues
# (workers already running take the experiments in turn, so no more than their number run at once).
set -euo pipefail
# the queue's workers run each experiment in a copy of the project elsewhere: a relative PATH entry
# would not find the environment's commands there
if [ -x .venv/bin/evstation ]; then export PATH="$PWD/.venv/bin:$PATH"; fi
BUDGET=${BUDGET:-200000}        # two fifths of the production budget: the critic warm-up takes the first 50,000
JOBS=${JOBS:-2}
SCENARIO=${SCENARIO:-mall}
suffix=""
if [ "$SCENARIO" != mall ]; then suffix="-$SCENARIO"; fi
# the target is one stage: only it and what it needs run, whatever the other scenarios
common=(-S 'training.seeds=[0]' -S "agents.ppo.total_timesteps=$BUDGET")
target=evaluate-$SCENARIO-ppo-0

wanted=("$@")

queue() {
    local name=$1
    shift
    if [ ${#wanted[@]} -gt 0 ] && [[ ! " ${wanted[*]} " == *" $name "* ]]; then return; fi
    dvc exp run --queue -n "$name$suffix" "${common[@]}" "$@" "$target"
}

queue ppo-best
queue ppo-no-residual -S control.residual=none
# the correction of a rule is a change in [-1, 1]: CityLearn's own box goes with a policy acting alone
queue ppo-no-symmetric -S control.residual=none -S control.action_interface=citylearn
queue ppo-no-floor -S control.feasibility_floor=false
queue ppo-per-socket -S control.action_space=per_socket
# the knob problem (docs/es.md): three knobs of the tuned threshold rule, which it moves (its record is read)
queue ppo-knobs -S control.residual=peak_shaving -S control.action_space=knobs
queue ppo-station-reward -S control.learning_reward=station
queue ppo-raw-observation -S control.observation=citylearn
queue ppo-no-selection -S control.model_selection.validation_days=0
queue ppo-no-warmup -S agents.ppo.critic_warmup_steps=0
# each experiment runs in its own copy of the project: its commands import that copy's code
if [ "$JOBS" -gt 0 ]; then PYTHONPATH=src dvc queue start -j "$JOBS"; fi
