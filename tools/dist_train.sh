#!/usr/bin/env bash
# Trains with torchrun: tools/dist_train.sh CONFIG PROCESSES [train.py args]
# e.g. tools/dist_train.sh configs/rmt/rmt_vitb16_dtd_16shot.py 4 --shots 2
# Machines and port: see tools/torchrun_launch.sh.
set -euo pipefail
if (( $# < 2 )); then
    echo "usage: $0 CONFIG PROCESSES [tools/train.py arguments]" >&2
    exit 2
fi
source "$(dirname "${BASH_SOURCE[0]}")/torchrun_launch.sh"
config=$1
processes=$2
shift 2
run_with_torchrun train.py "${processes}" "${config}" "$@"
