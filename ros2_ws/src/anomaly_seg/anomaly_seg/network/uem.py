"""Unknown Estimation Module: 3-layer MLP projection of last-block patch tokens + a 2-class head.

Channel 0 of the output is ``log p~in`` (generic inlier), channel 1 ``log p~out`` (outlier); for a linear head
the two logits stand for these log terms. Widths scale with the backbone width ``D``:
``D -> 2D/3 -> 2D/3 -> D/3`` rounded to multiples of 32 (ViT-B 768 -> 512 -> 512 -> 256, 787,712 params;
ViT-S 384 -> 256 -> 256 -> 128; ViT-L 1024 -> 672 -> 672 -> 352; ViT-g 1536 -> 1024 -> 1024 -> 512).
"""

from __future__ import annotations

from torch import Tensor, nn

from anomaly_seg.network.heads import GMMHead, OfficialGMMHead, l2_normalize

INLIER, OUTLIER = 0, 1


def uem_widths(embed_dim: int) -> tuple[int, int]:
    """Default (hidden, output) widths of the projection for a backbone of width ``embed_dim``."""

    def round32(v: float) -> int:
        return max(32, round(v / 32) * 32)

    return round32(embed_dim * 2 / 3), round32(embed_dim / 3)


class UEM(nn.Module):
    """Tokens ``[B, N, D]`` on an ``h x w`` grid -> two log terms ``[B, 2, h, w]`` (inlier, outlier)."""

    def __init__(
        self,
        embed_dim: int,
        hidden_dim: int,
        out_dim: int,
        head: str = "linear",
        num_components: int = 5,
        activation: str = "gelu",
    ) -> None:
        super().__init__()
        act: type[nn.Module] = nn.ReLU if activation == "relu" else nn.GELU
        self.projection = nn.Sequential(
            nn.Linear(embed_dim, hidden_dim),
            act(),
            nn.Linear(hidden_dim, hidden_dim),
            act(),
            nn.Linear(hidden_dim, out_dim),
        )
        self.head_type = head
        self.head: nn.Module
        if head == "gmm":
            self.head = GMMHead(out_dim, 2, num_components)
        elif head == "gmm_official":
            self.head = OfficialGMMHead(out_dim, 2, num_components)  # normalises its input itself
        else:
            self.head = nn.Conv2d(out_dim, 2, 1)

    def _projected(self, tokens: Tensor, grid: tuple[int, int]) -> Tensor:
        projected: Tensor = self.projection(tokens)
        return projected.transpose(1, 2).reshape(tokens.shape[0], -1, grid[0], grid[1])

    def embed(self, tokens: Tensor, grid: tuple[int, int]) -> Tensor:
        """Projected embedding map ``[B, E, h, w]`` (L2-normalised for a ``gmm`` head)."""
        emb = self._projected(tokens, grid)
        return l2_normalize(emb, dim=1) if self.head_type == "gmm" else emb

    def forward(self, tokens: Tensor, grid: tuple[int, int]) -> Tensor:
        # Through the head module itself (each head normalises what it needs): the ONNX exporter records the
        # module, which is how fp16 TensorRT builds find the GMM-head nodes to keep in fp32.
        return self.head(self._projected(tokens, grid))  # type: ignore[no-any-return]
