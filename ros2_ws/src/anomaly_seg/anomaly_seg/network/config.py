"""Model configuration: one frozen dataclass per concern, loaded from YAML and validated once.

Every problem raises :class:`~anomaly_seg.errors.ConfigError` whose message names the key (``decoder.channels``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anomaly_seg.config_schema import dataclass_from_dict, dataclass_to_dict, read_yaml_mapping
from anomaly_seg.errors import ConfigError
from anomaly_seg.labels import NUM_CLASSES
from anomaly_seg.network.dinov2 import BACKBONES, PATCH_SIZE, STEMS, canonical_backbone_name
from anomaly_seg.network.fpn import NORMS

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HEAD_TYPES = ("linear", "gmm", "gmm_official")
DECODER_TYPES = ("fpn", "dinov2_fpn")
ACTIVATIONS = ("gelu", "relu")
#: The engine's ``anomaly_score``: the UEM's likelihood ratio, the normalised entropy of an entropy-maximisation
#: model (Chan et al.), whose trained part is the segmentation head, or the outlier probability of a model with an
#: outlier head (Bevandic et al.) alone or times max-softmax uncertainty (OP x MSM).
DEPLOYED_SCORES = ("llr", "entropy", "op_msm", "outlier_probability")
REFERENCE_BLOCKS_12 = (1, 4, 8, 11)


def default_blocks(depth: int) -> tuple[int, ...]:
    """FPN blocks: the reference ``[1, 4, 8, 11]`` of 12-block models, spread proportionally for other depths."""
    return tuple(round(b * (depth - 1) / 11) for b in REFERENCE_BLOCKS_12)


def _check_size(key: str, size: tuple[int, int], patch: int) -> None:
    if size[0] <= 0 or size[1] <= 0 or size[0] % patch or size[1] % patch:
        raise ConfigError(f"{key}: {list(size)} must be positive multiples of the patch size {patch}")


def _check_choice(key: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{key}: {value!r} is not one of {', '.join(choices)}")


def _check_positive(key: str, value: float | None) -> None:
    if value is not None and value <= 0:
        raise ConfigError(f"{key}: must be > 0, got {value}")


@dataclass(frozen=True)
class BackboneConfig:
    """DINOv2 backbone; ``weights`` is an official ``.pth`` (None: random init, e.g. ``vit_tiny``).

    ``patch_size`` (None: 14) and ``stem`` (``patch`` | ``conv``) may differ from DINOv2's only for non-official
    backbones: ``vit_tiny`` trained from scratch at a small input size needs a finer token grid than 14 px patches
    give, and learns faster with a convolutional stem.
    """

    name: str = "vits14"
    weights: str | None = None
    frozen: bool = True
    blocks: tuple[int, ...] | None = None  # FPN input blocks, 0-based, after the final norm
    patch_size: int | None = None
    stem: str = "patch"

    def __post_init__(self) -> None:
        spec = BACKBONES[canonical_backbone_name(self.name)]
        _check_choice("backbone.stem", self.stem, STEMS)
        if spec.official and self.stem != "patch":
            raise ConfigError(f"backbone.stem: {self.name} is an official DINOv2 backbone (patch stem only)")
        if self.patch_size is not None:
            _check_positive("backbone.patch_size", self.patch_size)
            if spec.official and self.patch_size != PATCH_SIZE:
                raise ConfigError(
                    f"backbone.patch_size: {self.name} is an official DINOv2 backbone with {PATCH_SIZE} px patches, "
                    f"got {self.patch_size}"
                )
        if self.blocks is not None:
            depth = BACKBONES[canonical_backbone_name(self.name)].depth
            if len(self.blocks) != 4 or not all(0 <= b < depth for b in self.blocks):
                raise ConfigError(f"backbone.blocks: need 4 block indices in [0, {depth}), got {list(self.blocks)}")

    @property
    def patch(self) -> int:
        """The effective patch size in pixels."""
        return self.patch_size or BACKBONES[canonical_backbone_name(self.name)].patch_size

    @property
    def fpn_blocks(self) -> tuple[int, ...]:
        """The configured FPN blocks or the depth-scaled reference default."""
        return self.blocks or default_blocks(BACKBONES[canonical_backbone_name(self.name)].depth)


@dataclass(frozen=True)
class InputConfig:
    """Fixed network input size (height, width) and the normalisation applied inside the network.

    The sides must be multiples of the backbone's patch size (checked by :class:`ModelConfig`).
    """

    size: tuple[int, int] = (518, 1036)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def __post_init__(self) -> None:
        if min(self.size) <= 0:
            raise ConfigError(f"input.size: {list(self.size)} must be positive multiples of the patch size")
        if min(self.std) <= 0:
            raise ConfigError(f"input.std: must be > 0, got {list(self.std)}")


@dataclass(frozen=True)
class DecoderConfig:
    """Pixel decoder: ``fpn`` (ours, :class:`~anomaly_seg.network.fpn.FPNDecoder`; ``norm`` applies to it) or
    ``dinov2_fpn`` (the neck of the released UEM models, :class:`~anomaly_seg.network.dinov2_fpn.DINOv2FPN`,
    whose norms are fixed by those checkpoints)."""

    type: str = "fpn"
    channels: int = 128
    norm: str = "group"

    def __post_init__(self) -> None:
        _check_choice("decoder.type", self.type, DECODER_TYPES)
        _check_positive("decoder.channels", self.channels)
        _check_choice("decoder.norm", self.norm, NORMS)


@dataclass(frozen=True)
class HeadConfig:
    """Inlier head: ``linear`` (D), ``gmm`` (G, GMMSeg as in METHOD.md) or ``gmm_official`` (G, the GMM head of
    the released UEM code: feature LayerNorm, max over components, LayerNorm over classes; inference only)."""

    type: str = "linear"
    num_classes: int = NUM_CLASSES
    num_components: int = 5
    embed_dim: int | None = None  # GMM: 1x1 projection width before L2 normalisation (None: decoder channels)
    memory_size: int = 1024
    momentum: float = 0.999

    def __post_init__(self) -> None:
        _check_choice("head.type", self.type, HEAD_TYPES)
        for key in ("num_classes", "num_components", "embed_dim", "memory_size"):
            _check_positive(f"head.{key}", getattr(self, key))
        if not 0 <= self.momentum < 1:
            raise ConfigError(f"head.momentum: must be in [0, 1), got {self.momentum}")


@dataclass(frozen=True)
class UEMConfig:
    """Unknown Estimation Module; widths default to ``uem_widths(backbone width)``; ``activation`` of the
    projection MLP (``relu`` in the released UEM models)."""

    head: str = "linear"
    hidden_dim: int | None = None
    embed_dim: int | None = None
    num_components: int = 5
    activation: str = "gelu"

    def __post_init__(self) -> None:
        _check_choice("uem.head", self.head, HEAD_TYPES)
        _check_choice("uem.activation", self.activation, ACTIVATIONS)
        for key in ("hidden_dim", "embed_dim", "num_components"):
            _check_positive(f"uem.{key}", getattr(self, key))


@dataclass(frozen=True)
class SlidingConfig:
    """Sliding-window mode: windows of ``input.size`` every ``stride`` px, logits averaged.

    ``image_size`` is the fixed camera size a sliding-window export is built for (None: decided at export).
    """

    enabled: bool = False
    stride: tuple[int, int] = (140, 140)
    image_size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if min(self.stride) <= 0:
            raise ConfigError(f"sliding.stride: must be > 0, got {list(self.stride)}")
        if self.image_size is not None and min(self.image_size) <= 0:
            raise ConfigError(f"sliding.image_size: must be > 0, got {list(self.image_size)}")


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to build an :class:`~anomaly_seg.network.model.AnomalySegmenter`."""

    name: str = "model"
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    input: InputConfig = field(default_factory=InputConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    uem: UEMConfig = field(default_factory=UEMConfig)
    sliding: SlidingConfig = field(default_factory=SlidingConfig)
    score: str = "llr"  # the engine's anomaly_score (DEPLOYED_SCORES)
    #: a binary outlier head on the decoder features (Bevandic et al.) in place of the UEM's output
    outlier_head: bool = False

    def __post_init__(self) -> None:
        _check_choice("score", self.score, DEPLOYED_SCORES)
        if self.score in ("op_msm", "outlier_probability") and not self.outlier_head:
            raise ConfigError(f"score: {self.score} is the outlier head's score (set outlier_head: true)")
        _check_size("input.size", self.input.size, self.backbone.patch)
        if self.sliding.stride[0] > self.input.size[0] or self.sliding.stride[1] > self.input.size[1]:
            stride, window = list(self.sliding.stride), list(self.input.size)
            raise ConfigError(f"sliding.stride: {stride} larger than the window (input.size) {window}")

    @property
    def variant(self) -> str:
        """``D-D``, ``G-D``, ``D-G`` or ``G-G`` (inlier head - UEM head)."""
        return f"{'D' if self.head.type == 'linear' else 'G'}-{'D' if self.uem.head == 'linear' else 'G'}"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Build and validate from a nested dict (unknown keys and wrong types raise :class:`ConfigError`)."""
        config: ModelConfig = dataclass_from_dict(cls, data)
        return config

    @classmethod
    def from_yaml(cls, path: str | Path) -> ModelConfig:
        """Load ``path`` (YAML); errors name the file and the key."""
        path = Path(path)
        data = read_yaml_mapping(path, "model config")
        data.setdefault("name", path.stem)
        try:
            return cls.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (tuples as lists) that :meth:`from_dict` reads back."""
        return dataclass_to_dict(self)
