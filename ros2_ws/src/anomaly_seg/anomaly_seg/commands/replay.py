"""``anomaly-seg replay BAG --model MODEL --out OUTBAG``: every camera image through the node pipeline into a bag."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from anomaly_seg.vocabulary import BACKENDS, GROUND_TRUTH_TOPIC, MODES, PRECISIONS

if TYPE_CHECKING:
    from anomaly_seg.node_core.params import NodeParams


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bag", metavar="BAG", help="input rosbag2 (e.g. from `anomaly-seg convert`)")
    parser.add_argument("--model", required=True, help="model: .onnx (or .engine / torch .safetensors|.yaml)")
    parser.add_argument("--out", required=True, metavar="OUTBAG", help="output rosbag2 folder (must not exist)")
    parser.add_argument("--backend", choices=BACKENDS, help="backend (default: from --params, auto)")
    parser.add_argument("--precision", choices=PRECISIONS, help="TensorRT precision (default: from --params)")
    parser.add_argument("--params", help="node parameter YAML (ros__parameters), e.g. launch/config/anomaly_seg.yaml")
    parser.add_argument(
        "--mode",
        choices=MODES,
        help="check the model's export mode: sliding needs a model exported at the camera size",
    )
    parser.add_argument("--camera-topic", help="image topic to replay (default: the bag's only image topic)")
    parser.add_argument("--ground-truth-topic", default=GROUND_TRUTH_TOPIC, help="copied through for evaluation")
    parser.add_argument("--node-name", default="anomaly_seg", help="outputs go to /<node-name>/output/...")
    parser.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap", help="output storage plugin")
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime intra-op threads (0 = default)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted replay into the same OUTBAG: frames already there are skipped by stamp",
    )


def load_params(path: str | None, node_name: str, overrides: dict[str, object]) -> NodeParams:
    """NodeParams from a ROS parameter file (or defaults) with ``overrides`` applied, validated once."""
    from anomaly_seg.node_core.params import NodeParams
    from anomaly_seg.parameters import read_ros_params_file

    values: dict[str, object] = read_ros_params_file(path, node_name=node_name) if path else {}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return NodeParams.from_dict(values)


def run(args: argparse.Namespace) -> int:
    from anomaly_seg.engines import load_engine
    from anomaly_seg.offline.replay import replay_bag

    params = load_params(
        args.params,
        args.node_name,
        {
            "model.onnx_path": args.model,
            "model.engine_path": "",
            "model.backend": args.backend,
            "model.precision": args.precision,
        },
    )
    m = params.model
    engine = load_engine(
        m.path,
        backend=m.backend,
        precision=m.precision,
        force_engine_update=m.force_engine_update,
        intra_op_threads=args.threads,
        log=lambda line: print(line, flush=True),
    )
    summary = replay_bag(
        args.bag,
        args.out,
        engine,
        params,
        camera_topic=args.camera_topic,
        ground_truth_topic=args.ground_truth_topic,
        node_name=args.node_name,
        storage=args.storage,
        mode=args.mode,
        resume=args.resume,
    )
    fps = summary.frames_in / summary.wall_s if summary.wall_s > 0 else 0.0
    print(
        f"replayed {summary.bag} ({summary.camera_topic}) on {summary.backend} at {fps:.1f} frames/s -> {summary.out}"
    )
    for line in summary.lines():
        print(line)
    return summary.exit_status
