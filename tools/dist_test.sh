#!/usr/bin/env bash
# Evaluates with torchrun:
#   tools/dist_test.sh CONFIG CHECKPOINT PROCESSES [test.py args]
# Machines and port: see tools/torchrun_launch.sh.
set -euo pipefail
if (( $# < 3 )); then
    echo "usage: $0 CONFIG CHECKPOINT PROCESSES [tools/test.py arguments]" >&2
    exit 2
fi
source "$(dirname "${BASH_SOURCE[0]}")/torchrun_launch.sh"
config=$1
checkpoint=$2
processes=$3
shift 3
run_with_torchrun test.py "${processes}" "${config}" "${checkpoint}" "$@"
