"""``anomaly-seg evaluate``: read a replayed (or recorded) bag in one streaming pass into :class:`ReplayEvaluator`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from anomaly_seg.bags.convert import CAMERA_INFO_TYPE
from anomaly_seg.bags.reader import list_topics, message_count, read_messages
from anomaly_seg.errors import BagError
from anomaly_seg.evaluation.bag_evaluator import EvalSettings, ReplayEvaluator
from anomaly_seg.evaluation.matching import StampMatcher
from anomaly_seg.evaluation.routing import DISTANCE_PARTS, OUTPUT_SUFFIXES, feed, required_parts
from anomaly_seg.vocabulary import GROUND_TRUTH_DEPTH_TOPIC, GROUND_TRUTH_TOPIC, TF_TOPIC

DIAGNOSTICS_TOPIC = "/diagnostics"


def find_node_namespace(topics: dict[str, str], node_name: str | None = None) -> str:
    """``/<ns>/<node>`` whose ``output/anomaly_score`` is in the bag (the only one, or the one named ``node_name``)."""
    suffix = "/output/anomaly_score"
    namespaces = sorted(t[: -len(suffix)] for t in topics if t.endswith(suffix))
    if node_name:
        namespaces = [n for n in namespaces if n.rsplit("/", 1)[-1] == node_name.strip("/") or n == node_name]
    if len(namespaces) != 1:
        raise BagError(
            f"cannot tell the node outputs: {'several' if namespaces else 'no'} */output/anomaly_score topics "
            f"{namespaces}; replay the bag with `anomaly-seg replay` first or pass --node-name"
        )
    return namespaces[0]


def distance_routes(topics: dict[str, str], namespace: str) -> dict[str, tuple[str, str]] | str:
    """Routes of the stereo depth, the camera's camera_info and ``/tf`` (the distance evaluation), or why not."""
    if GROUND_TRUTH_DEPTH_TOPIC not in topics:
        return f"the bag has no stereo depth ({GROUND_TRUTH_DEPTH_TOPIC}: Lost and Found with its disparity)"
    infos = sorted(
        t for t, msgtype in topics.items() if msgtype == CAMERA_INFO_TYPE and not t.startswith(namespace + "/")
    )
    if len(infos) != 1:
        return f"cannot tell the camera's camera_info among {infos or 'no CameraInfo topics'}"
    if TF_TOPIC not in topics:
        return f"the bag has no camera pose ({TF_TOPIC})"
    return {GROUND_TRUTH_DEPTH_TOPIC: ("depth", ""), infos[0]: ("camera", ""), TF_TOPIC: ("mounting", "")}


@dataclass(frozen=True)
class BagEvaluation:
    """Where the report went and the headline counts."""

    evaluator: ReplayEvaluator
    matcher: StampMatcher
    files: list[Path]


def evaluate_bag(
    bag: str | Path,
    report_dir: str | Path,
    settings: EvalSettings | None = None,
    *,
    node_name: str | None = None,
    ground_truth_topic: str = GROUND_TRUTH_TOPIC,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> BagEvaluation:
    """Evaluate the node outputs in ``bag`` against its ground truth, streaming; write the report to ``report_dir``."""
    from tqdm import tqdm

    bag = Path(bag)
    topics = list_topics(bag)
    if ground_truth_topic not in topics:
        raise BagError(f"bag {bag} has no ground truth topic {ground_truth_topic}; it has {sorted(topics)}")
    namespace = find_node_namespace(topics, node_name)
    routes = {f"{namespace}/{suffix}": (part, suffix) for suffix, part in OUTPUT_SUFFIXES.items()}
    routes = {t: r for t, r in routes.items() if t in topics}
    routes[ground_truth_topic] = ("gt", "")
    if DIAGNOSTICS_TOPIC in topics:
        routes[DIAGNOSTICS_TOPIC] = ("diagnostics", "")
    settings = settings or EvalSettings()
    evaluator = ReplayEvaluator(settings)
    evaluator.source = str(bag)
    required = required_parts({suffix for _, suffix in routes.values()})
    distance = distance_routes(topics, namespace)
    if isinstance(distance, str):
        evaluator.distance_off = distance
    else:
        routes.update(distance)
        required |= set(DISTANCE_PARTS)
    matcher = StampMatcher(required, settings.max_pending, settings.max_pending_ns)
    total = message_count(bag, [ground_truth_topic])
    bar = tqdm(total=total, desc="evaluate", unit="frame", disable=not progress)
    for message in read_messages(bag, list(routes)):
        part, suffix = routes[message.topic]
        feed(matcher, evaluator, part, message.msg, suffix)
        if part == "gt":
            bar.update(1)
    bar.close()
    matcher.flush()
    files = evaluator.write_report(report_dir, matcher, title=bag.name)
    if log is not None:
        log(f"report: {Path(report_dir) / 'report.md'}")
    return BagEvaluation(evaluator, matcher, files)
