#!/usr/bin/env bash
# Build crisol's CPU image with podman, then run web -> crawl -> ingest in it on the micro profile,
# with a host directory as the container's data/, and print ingest's metrics.
#
#   bash infra/build_and_run.sh                  # build (cached layers are reused) and run
#   bash infra/build_and_run.sh --build-only     # only the image
#   bash infra/build_and_run.sh --no-build       # only the run, with the image already built
#
# Environment (defaults in brackets):
#   IMAGE       [localhost/crisol:cpu]   tag to build / run
#   BASE_IMAGE  [localhost/debian-python:bookworm] the Containerfile's base; made with debootstrap
#               when it is that name and missing (no registry is reachable on these machines).
#               Where a registry is reachable, BASE_IMAGE=python:3.11-slim is the normal base.
#   TORCH_WHEEL [found in pip's find-links] a torch CPU wheel to stage into infra/wheels/;
#               none found: the image takes torch from PyTorch's CPU index
#   DATA_DIR    [data/container]         host directory mounted as the container's /app/data
#               (data/*/ is git-ignored); made writable for the image's user (uid 10001)
#   PROFILE     [micro]   STAGES ["web crawl ingest"]   what to run, in order
#   CA_BUNDLE   [/etc/ssl/certs/ca-certificates.crt] mounted into the build so pip trusts this
#               machine's TLS setup
#   NETWORK     [none]    the stages' network: none suffices (crawl serves and fetches the
#               synthetic web on the container's loopback); `slirp4netns`/`bridge` for real URLs
#
# podman runs with runc and explicit ulimits: on these machines crun fails ("cgroups in hybrid
# mode not supported") and the default ulimits cannot be set (see ../shared/notes/containers.md).
# Idempotent: the base image is made once, the wheel copied only when it changed, the build reuses
# its layer cache, and each stage rewrites its outputs atomically.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-localhost/crisol:cpu}
BASE_IMAGE=${BASE_IMAGE:-localhost/debian-python:bookworm}
DEBOOTSTRAP_IMAGE=localhost/debian-python:bookworm
DATA_DIR=${DATA_DIR:-data/container}
PROFILE=${PROFILE:-micro}
STAGES=${STAGES:-web crawl ingest}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
NETWORK=${NETWORK:-none}
CRISOL_UID=10001
CRISOL_GID=10001
TORCH_VERSION=$(sed -n 's/^torch==\([^ ;]*\).*/\1/p' requirements.lock)
WHEEL_DIR=infra/wheels

build=1 run=1
for arg in "$@"; do
    case "$arg" in
        --build-only) run=0 ;;
        --no-build) build=0 ;;
        -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
        *) echo "unknown argument: $arg (see --help)" >&2; exit 2 ;;
    esac
done

PODMAN=(podman --runtime runc)
ULIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
step() { printf '\n==> %s\n' "$*"; }
show() { { printf '+'; printf ' %q' "$@"; printf '\n'; } >&2; "$@"; }
t_start=$SECONDS
timing=()
timed() {  # timed LABEL CMD...: run, print and remember its wall time
    local label=$1 t0=$SECONDS; shift
    "$@"
    timing+=("$(printf '%-28s %5d s' "$label" $((SECONDS - t0)))")
}

for tool in podman runc; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "error: $tool not found; install it (Debian: apt-get install -y podman runc debootstrap)" >&2; exit 1; }
done

make_base() {
    if "${PODMAN[@]}" image exists "$BASE_IMAGE"; then
        echo "base image $BASE_IMAGE: present"
        return
    fi
    if [ "$BASE_IMAGE" != "$DEBOOTSTRAP_IMAGE" ]; then
        echo "base image $BASE_IMAGE: not local, podman build will pull it"
        return
    fi
    command -v debootstrap >/dev/null 2>&1 || { echo "error: debootstrap not found (apt-get install -y debootstrap)" >&2; exit 1; }
    [ "$(id -u)" = 0 ] || { echo "error: debootstrap needs root to make $BASE_IMAGE" >&2; exit 1; }
    ROOTFS=$(mktemp -d)
    trap 'rm -rf "$ROOTFS"' EXIT
    echo "base image $BASE_IMAGE: missing, making it from Debian's packages with debootstrap (about a minute)"
    show debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
        bookworm "$ROOTFS" 2>&1 | tail -n 2
    tar -C "$ROOTFS" -c . | show "${PODMAN[@]}" import - "$BASE_IMAGE"
    rm -rf "$ROOTFS"
}

find_wheel() {  # a torch CPU wheel for the base image's Python, from TORCH_WHEEL or pip's find-links
    if [ -n "${TORCH_WHEEL:-}" ]; then echo "$TORCH_WHEEL"; return; fi
    local pytag arch dirs dir
    pytag=$("${PODMAN[@]}" run --rm "${ULIMITS[@]}" --network none "$BASE_IMAGE" \
        python3 -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
    arch=$(uname -m)
    dirs="${PIP_FIND_LINKS:-} $(python3 -m pip config get global.find-links 2>/dev/null || true) /opt/wheels"
    for dir in $dirs; do
        dir=${dir#file://}
        [ -d "$dir" ] || continue
        for whl in "$dir"/torch-"$TORCH_VERSION"+cpu-"$pytag"-"$pytag"-*"$arch".whl; do
            [ -f "$whl" ] && { echo "$whl"; return; }
        done
    done
}

stage_wheel() {
    local wheel
    wheel=$(find_wheel)
    # leave only the wanted wheel in the build context (stale ones would be sent to every build)
    find "$WHEEL_DIR" -maxdepth 1 -name '*.whl' ! -name "$(basename "${wheel:-none}")" -print -delete
    if [ -z "$wheel" ]; then
        echo "no torch $TORCH_VERSION CPU wheel found locally: the image takes it from PyTorch's CPU index"
        TORCH_SOURCE=index
        return
    fi
    if cmp -s "$wheel" "$WHEEL_DIR/$(basename "$wheel")"; then
        echo "torch wheel already staged: $WHEEL_DIR/$(basename "$wheel")"
    else
        show cp "$wheel" "$WHEEL_DIR/"
    fi
    TORCH_SOURCE=wheel
}

build_image() {
    local args=()
    if [ -f "$CA_BUNDLE" ]; then args+=(-v "$CA_BUNDLE:/etc/ssl/certs/ca-certificates.crt:ro"); fi
    show "${PODMAN[@]}" build "${ULIMITS[@]}" "${args[@]}" \
        --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg TORCH_SOURCE="$TORCH_SOURCE" \
        --build-arg TORCH_VERSION="$TORCH_VERSION" \
        -t "$IMAGE" -f infra/Containerfile .
}

prepare_data() {
    mkdir -p "$DATA_DIR"
    # the image runs as uid 10001: give it the mounted directory (rootless podman: in its namespace)
    if [ "$(id -u)" = 0 ]; then
        chown -R "$CRISOL_UID:$CRISOL_GID" "$DATA_DIR"
    else
        podman unshare chown -R "$CRISOL_UID:$CRISOL_GID" "$DATA_DIR"
    fi
    echo "data: $(cd "$DATA_DIR" && pwd) -> /app/data (owner $CRISOL_UID:$CRISOL_GID)"
}

run_stage() {
    show "${PODMAN[@]}" run --rm "${ULIMITS[@]}" \
        --network "$NETWORK" --cap-drop all --security-opt no-new-privileges \
        -v "$(cd "$DATA_DIR" && pwd):/app/data" \
        "$IMAGE" "stages.$1" --set profile="$PROFILE"
}

print_ingest() {
    local metrics=$DATA_DIR/metrics/ingest.json
    [ -f "$metrics" ] || { echo "no $metrics"; return; }
    python3 - "$metrics" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
counts = {k: v for k, v in m.items() if not isinstance(v, (dict, list))}
print("ingest metrics (" + sys.argv[1] + "):")
for key, value in counts.items():
    print(f"  {key}: {value}")
for key, value in m.items():
    if isinstance(value, dict):
        print(f"  {key}:")
        for k, v in sorted(value.items(), key=lambda kv: (-kv[1], kv[0]) if isinstance(kv[1], (int, float)) else (0, kv[0])):
            print(f"    {k}: {v}")
EOF
}

if [ "$build" = 1 ]; then
    step "base image"
    timed "base image" make_base
    step "torch wheel -> $WHEEL_DIR/"
    TORCH_SOURCE=index
    stage_wheel
    step "build $IMAGE (torch $TORCH_VERSION from: $TORCH_SOURCE)"
    timed "build" build_image
fi
"${PODMAN[@]}" image exists "$IMAGE" || { echo "error: no image $IMAGE (run without --no-build)" >&2; exit 1; }
size=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$IMAGE")
echo "image $IMAGE: $(numfmt --to=iec --suffix=B "$size") ($size bytes), user $("${PODMAN[@]}" image inspect --format '{{.Config.User}}' "$IMAGE")"

if [ "$run" = 1 ]; then
    step "data directory"
    prepare_data
    for stage in $STAGES; do
        step "stage $stage (profile $PROFILE) in the container"
        timed "stage $stage" run_stage "$stage"
    done
    step "ingest's metrics"
    print_ingest
fi

step "wall time"
printf '  %s\n' "${timing[@]}"
printf '  %-28s %5d s\n' "total" $((SECONDS - t_start))
