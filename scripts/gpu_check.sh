#!/usr/bin/env bash
# The GPU path, on a machine with a CUDA GPU: the tests that train on it (tests/test_gpu.py) with the
# training tests, whose params ask for `training.device: auto` and so train on the GPU there, then each
# agent's training throughput at full size with its networks on the CPU and on the GPU.
#   bash scripts/gpu_check.sh                     # the scenario's training data in data/SCENARIO/citylearn
#   SCENARIO=mall_mt3 DATA_DIR=elsewhere/citylearn PYTEST_ARGS="-n 8" bash scripts/gpu_check.sh
set -euo pipefail
PYTHON=${PYTHON:-python3}
SCENARIO=${SCENARIO:-mall}
DATA_DIR=${DATA_DIR:-data/$SCENARIO/citylearn}
"$PYTHON" -c "import torch, sys; sys.exit(None if torch.cuda.is_available() else 'gpu_check: no CUDA GPU here')"
"$PYTHON" -c "import torch; print('torch', torch.__version__, 'on', torch.cuda.get_device_name(0))"
tests=0                                   # a failing test still leaves the throughput to measure
# shellcheck disable=SC2086  # PYTEST_ARGS holds several words
"$PYTHON" -m pytest -q -p no:cacheprovider ${PYTEST_ARGS:-} tests/test_gpu.py tests/test_training.py || tests=$?
for device in cpu cuda; do
    "$PYTHON" scripts/bench_training.py --scenario "$SCENARIO" --data-dir "$DATA_DIR" --device "$device" \
        --envs 2 --rollouts 2 --sac-steps 2000
done
exit "$tests"
