#!/usr/bin/env bash
# Entrypoint of the anomaly_seg ROS 2 images (docker/Dockerfile.x86, docker/Dockerfile.jetson).
#
# Commands (the first argument; default: node):
#   node [name:=value ...]  prepare the model, then `ros2 launch anomaly_seg camera.launch.py` with
#                           arguments from the environment (plus any given launch arguments)
#   prepare                 prepare the model only, then exit (build the engine ahead of time)
#   replay-eval             prepare, replay $BAG through the node pipeline and evaluate it into $OUT_DIR
#   rviz [args ...]         RViz with the display config installed with the package
#   anything else           executed as given inside the sourced ROS environment (bash, anomaly-seg info, ...)
#
# Preparing the model: with the TensorRT backend, `anomaly-seg build-engine` builds the engine next to the
# ONNX in the model volume on the first start and reuses it afterwards (it rebuilds by itself when the
# sidecar metadata - TensorRT version, GPU, precision, ONNX hash - no longer matches). After every new
# build `anomaly-seg selftest` runs once against the golden outputs stored at export; a stamp file next to
# the engine records the pass, and the node is never started on an engine that failed it.
#
# Environment [default]:
#   MODEL [/models/model.onnx]   ONNX model (engine cached beside it as model.<precision>.engine) or a
#                                prebuilt .engine
#   BACKEND [tensorrt]           tensorrt | onnxruntime | torch | auto
#   PRECISION [fp16]             fp16 | fp32 | int8: builds MODEL's <stem>.<precision>.onnx (export --precision)
#   CAMERAS [/camera/image_raw]  comma-separated image topics, or a launch list such as "['/a', '/b']"
#   USE_RVIZ [false]             true starts RViz from the launch file (needs a display)
#   FORCE_ENGINE_UPDATE [0]      1 rebuilds the engine even when the cached one matches
#   SKIP_SELFTEST [0]            1 skips the self-test (development only, never on a vehicle)
#   EXTRA_LAUNCH_ARGS []         more name:=value launch arguments, separated by spaces
#   BAG, OUT_DIR [/outputs]      replay-eval: input bag, output folder
#   RVIZ_CONFIG []               RViz config file (default: the first .rviz installed with the package)
#   ENGINE_LOCK_TIMEOUT_S [3600] how long to wait for another container building the same engine
set -euo pipefail
shopt -s inherit_errexit

: "${MODEL:=/models/model.onnx}"
: "${BACKEND:=tensorrt}"
: "${PRECISION:=fp16}"
: "${CAMERAS:=/camera/image_raw}"
: "${USE_RVIZ:=false}"
: "${FORCE_ENGINE_UPDATE:=0}"
: "${SKIP_SELFTEST:=0}"
: "${EXTRA_LAUNCH_ARGS:=}"
: "${OUT_DIR:=/outputs}"
: "${ENGINE_LOCK_TIMEOUT_S:=3600}"
: "${ANOMALY_SEG_WS:=/opt/anomaly_seg/ros2_ws}"

PKG_SHARE=""

log() { printf '[anomaly-seg entrypoint] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

source_ros() {
    local ros_setup="/opt/ros/${ROS_DISTRO:-humble}/setup.bash"
    # ROS setup scripts read unset variables, so -u is off while they run.
    set +u
    if [[ -f $ros_setup ]]; then
        # shellcheck source=/dev/null
        source "$ros_setup"
    else
        log "warning: $ros_setup not found; ROS 2 commands are unavailable"
    fi
    if [[ -f $ANOMALY_SEG_WS/install/setup.bash ]]; then
        # shellcheck source=/dev/null
        source "$ANOMALY_SEG_WS/install/setup.bash"
    fi
    set -u
    # ament_python puts console scripts in <prefix>/lib/<package> (setup.cfg), which is not on PATH.
    local prefix prefixes
    IFS=: read -r -a prefixes <<<"${AMENT_PREFIX_PATH:-}"
    for prefix in "${prefixes[@]}"; do
        if [[ -d $prefix/lib/anomaly_seg ]]; then
            PATH="$prefix/lib/anomaly_seg:$PATH"
            PKG_SHARE="$prefix/share/anomaly_seg"
            break
        fi
    done
    export PATH
}

file_digest() { sha256sum -- "$1" | cut -d' ' -f1; }

wants_engine() {
    case $BACKEND in
    tensorrt) return 0 ;;
    auto) python3 -c 'import tensorrt' >/dev/null 2>&1 ;;
    *) return 1 ;;
    esac
}

# Run the self-test once per engine file (TensorRT builds are not bit-reproducible, so every build is
# checked), or once per model file for the other backends.
selftest_once() {
    local target=$1
    if [[ $SKIP_SELFTEST == 1 ]]; then
        log "warning: SKIP_SELFTEST=1, $target is not checked against the golden outputs"
        return 0
    fi
    local stamp="$target.selftest.ok"
    local expected
    expected="$(file_digest "$target") backend=$BACKEND precision=$PRECISION"
    if [[ -f $stamp && "$(<"$stamp")" == "$expected" ]]; then
        log "self-test already passed for this build ($stamp)"
        return 0
    fi
    log "self-test of $target against the golden outputs stored at export"
    if ! anomaly-seg selftest --model "$target" --backend "$BACKEND" --precision "$PRECISION"; then
        rm -f -- "$stamp"
        die "self-test FAILED for $target: its outputs differ from the exported reference, so the node is" \
            "not started. See docs/deployment.md (Troubleshooting: TensorRT accuracy); PRECISION=fp32 or" \
            "BACKEND=onnxruntime are the fallbacks."
    fi
    if [[ -w $(dirname -- "$stamp") ]]; then
        printf '%s\n' "$expected" >"$stamp.tmp"
        mv -f -- "$stamp.tmp" "$stamp"
    else
        log "warning: cannot write $stamp (read-only model folder); the self-test will run on every start"
    fi
}

prepare_model() {
    case $BACKEND in tensorrt | onnxruntime | torch | auto) ;; *) die "BACKEND='$BACKEND': use tensorrt, onnxruntime, torch or auto" ;; esac
    case $PRECISION in fp16 | fp32 | int8) ;; *) die "PRECISION='$PRECISION': use fp16, fp32 or int8" ;; esac
    [[ -f $MODEL ]] || die "model '$MODEL' not found: mount the model folder (compose: MODEL_DIR) and set MODEL"
    local model_dir target=$MODEL
    model_dir=$(dirname -- "$MODEL")

    if [[ $MODEL == *.onnx ]] && wants_engine; then
        local engine="${MODEL%.onnx}.$PRECISION.engine" # engines.engine_cache.engine_paths
        local sidecar="$engine.json"
        [[ -w $model_dir ]] || die "model folder '$model_dir' is not writable by uid $(id -u), and the engine is" \
            "built into it: on the host run 'sudo chown -R $(id -u):$(id -g) <model folder>' or start the" \
            "container with --user \"\$(id -u):\$(id -g)\""
        # One engine build at a time per model folder, even across containers sharing the volume.
        exec 9>"$model_dir/.anomaly_seg.lock"
        flock -w "$ENGINE_LOCK_TIMEOUT_S" 9 || die "another container has held $model_dir/.anomaly_seg.lock for" \
            "${ENGINE_LOCK_TIMEOUT_S}s"
        local before="" force=()
        [[ -f $engine ]] && before=$(file_digest "$engine")
        if [[ $FORCE_ENGINE_UPDATE == 1 ]]; then
            log "FORCE_ENGINE_UPDATE=1: rebuilding $engine"
            force=(--force)
        fi
        log "engine $engine: reused when its sidecar matches this GPU and TensorRT, else built (minutes on Orin)"
        anomaly-seg build-engine "$MODEL" --precision "$PRECISION" "${force[@]}" ||
            die "engine build failed for $MODEL (see above)"
        [[ -f $engine && -f $sidecar ]] || die "build-engine did not write $engine and $sidecar"
        if [[ $before == "$(file_digest "$engine")" ]]; then
            log "engine up to date: $engine"
        else
            log "engine built: $engine"
        fi
        target=$engine
    fi
    selftest_once "$target"
    exec 9>&- # release the lock: the node inherits nothing from preparation
}

# "/a, /b" -> "['/a', '/b']"; a value that already is a list literal is passed through.
camera_list() {
    local spec=$1 topic out=()
    if [[ $spec == \[* ]]; then
        printf '%s' "$spec"
        return 0
    fi
    local topics
    IFS=, read -r -a topics <<<"$spec"
    for topic in "${topics[@]}"; do
        topic="${topic#"${topic%%[![:space:]]*}"}" # trim leading
        topic="${topic%"${topic##*[![:space:]]}"}" # and trailing blanks
        [[ -z $topic ]] && continue
        [[ $topic =~ ^[~/]?[A-Za-z_][A-Za-z0-9_/]*$ ]] || die "CAMERAS: '$topic' is not a valid ROS topic name"
        out+=("'$topic'")
    done
    ((${#out[@]})) || die "CAMERAS is empty: give at least one image topic"
    local joined
    joined=$(printf ', %s' "${out[@]}")
    printf '[%s]' "${joined:2}"
}

launch_node() {
    local cameras extra=()
    cameras=$(camera_list "$CAMERAS")
    read -r -a extra <<<"$EXTRA_LAUNCH_ARGS"
    # precision:= keeps the node on the engine prepared above (model.precision in the node's parameters).
    local args=(anomaly_seg camera.launch.py "cameras:=$cameras" "model:=$MODEL" "backend:=$BACKEND"
        "precision:=$PRECISION" "use_rviz:=$USE_RVIZ" "${extra[@]}" "$@")
    log "ros2 launch ${args[*]}"
    exec ros2 launch "${args[@]}"
}

replay_eval() {
    [[ -n ${BAG:-} ]] || die "set BAG to the bag to evaluate (compose: BAG_DIR is mounted at /bags)"
    [[ -e $BAG ]] || die "bag '$BAG' not found"
    mkdir -p -- "$OUT_DIR" || die "cannot create OUT_DIR '$OUT_DIR'"
    local name
    name=$(basename -- "${BAG%/}")
    name=${name%.*}
    local replayed="$OUT_DIR/${name}_replayed"
    local report="$OUT_DIR/${name}_report"
    anomaly-seg replay "$BAG" --model "$MODEL" --backend "$BACKEND" --out "$replayed"
    anomaly-seg evaluate "$replayed" --report "$report"
    log "replayed bag: $replayed, report: $report"
}

run_rviz() {
    local config=${RVIZ_CONFIG:-}
    if [[ -z $config && -n $PKG_SHARE ]]; then
        local found=("$PKG_SHARE"/rviz/*.rviz)
        [[ -f ${found[0]} ]] && config=${found[0]}
    fi
    if [[ -n $config ]]; then
        exec rviz2 -d "$config" "$@"
    fi
    log "warning: no RViz config found (set RVIZ_CONFIG); starting RViz without one"
    exec rviz2 "$@"
}

main() {
    source_ros
    local cmd=${1:-node}
    if (($#)); then shift; fi
    case $cmd in
    node)
        prepare_model
        launch_node "$@"
        ;;
    prepare)
        prepare_model
        log "model ready: $MODEL (backend $BACKEND, precision $PRECISION)"
        ;;
    replay-eval)
        prepare_model
        replay_eval
        ;;
    rviz) run_rviz "$@" ;;
    *) exec "$cmd" "$@" ;;
    esac
}

main "$@"
