# Shared by dist_train.sh and dist_test.sh (sourced, not run):
# run_with_torchrun TOOL PROCESSES ARGS... starts tools/TOOL in PROCESSES
# processes on this machine, passing ARGS and --launcher pytorch.
# Several machines: give each the same NNODES, MASTER_ADDR and PORT and its
# own NODE_RANK (defaults: 1 machine, 127.0.0.1, port 29500, rank 0).

run_with_torchrun() {
    local tool=$1 processes=$2
    shift 2
    local tools_dir
    tools_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    # The checkout's rmt_mm is imported even when it is not installed.
    export PYTHONPATH="${tools_dir}/..${PYTHONPATH:+:${PYTHONPATH}}"
    exec torchrun \
        --nnodes="${NNODES:-1}" \
        --node_rank="${NODE_RANK:-0}" \
        --master_addr="${MASTER_ADDR:-127.0.0.1}" \
        --master_port="${PORT:-29500}" \
        --nproc_per_node="${processes}" \
        "${tools_dir}/${tool}" "$@" --launcher pytorch
}
