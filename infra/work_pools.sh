#!/usr/bin/env bash
# Create (or update) crisol's Prefect work pools on the server PREFECT_API_URL points at.
#
#   crisol-local       process pool: runs flow runs as subprocesses of a local worker
#                      (prefect worker start --pool crisol-local)
#   crisol-docker      docker pool, image crisol:cpu (infra/work-pools/docker.json); its worker
#                      needs prefect-docker: prefect worker start --pool crisol-docker
#   crisol-kubernetes  kubernetes pool, image crisol:cpu, a batch/v1 Job per flow run
#                      (infra/work-pools/kubernetes.json); its worker needs prefect-kubernetes
#
# The two container templates are Prefect 3.9.1's defaults for their worker types with crisol's
# defaults filled in (image, pull policy, env without secrets, resources); edit them in the UI or
# in the JSON files and rerun this script (--overwrite updates a pool in place).
set -euo pipefail
cd "$(dirname "$0")/.."
PREFECT=${PREFECT:-prefect}
if ! command -v "$PREFECT" >/dev/null 2>&1 && [ -x .venv/bin/prefect ]; then
    PREFECT=.venv/bin/prefect
fi
"$PREFECT" work-pool create crisol-local --type process --overwrite
"$PREFECT" work-pool create crisol-docker --type docker \
    --base-job-template infra/work-pools/docker.json --overwrite
"$PREFECT" work-pool create crisol-kubernetes --type kubernetes \
    --base-job-template infra/work-pools/kubernetes.json --overwrite
