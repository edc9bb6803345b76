#!/usr/bin/env bash
# Trains on a slurm cluster, one task per GPU:
#   tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args]
# Environment: GPUS (tasks in all, 8), GPUS_PER_NODE (8), CPUS_PER_TASK (5),
# SRUN_ARGS (more srun options, split on spaces).
set -euo pipefail
if (( $# < 4 )); then
    echo "usage: $0 PARTITION JOB_NAME CONFIG WORK_DIR [tools/train.py" \
        "arguments]" >&2
    exit 2
fi
partition=$1
job_name=$2
config=$3
work_dir=$4
shift 4
tools_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PYTHONPATH="${tools_dir}/..${PYTHONPATH:+:${PYTHONPATH}}"
read -r -a extra_srun_args <<< "${SRUN_ARGS:-}"
per_node=${GPUS_PER_NODE:-8}
command=(
    srun --partition="${partition}" --job-name="${job_name}"
    --ntasks="${GPUS:-8}" --ntasks-per-node="${per_node}"
    --gres="gpu:${per_node}" --cpus-per-task="${CPUS_PER_TASK:-5}"
    --kill-on-bad-exit=1 "${extra_srun_args[@]}"
    python -u "${tools_dir}/train.py" "${config}" --work-dir="${work_dir}"
    --launcher=slurm "$@"
)
# Show the job's command line, quoted as a shell would need it.
printf '%q ' "${command[@]}" >&2
echo >&2
exec "${command[@]}"
