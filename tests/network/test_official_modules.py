"""The released models' modules against independent float64 computations of their formulas.

The references below use no torch layer: convolutions as sums of shifted einsums, norms, pooling and resizes
written out, so a wrong order, padding, group count or resize mode in the modules shows up as a mismatch.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from anomaly_seg.network.dinov2_fpn import DINOv2FPN
from anomaly_seg.network.heads import OfficialGMMHead
from anomaly_seg.network.uem import UEM

D64 = torch.float64


def _randomise(module: torch.nn.Module, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if t.dtype != torch.float32:
                continue
            if name.endswith(("running_var", "diagonal")):
                t.copy_(0.3 + torch.rand(t.shape, generator=gen))
            elif t.dim() >= 2:
                fan_in = max(1, t[0].numel() if "fpn1" not in name and "fpn2" not in name else t.shape[0])
                t.copy_(torch.randn(t.shape, generator=gen) / math.sqrt(fan_in))
            else:
                t.copy_((1.0 if name.endswith("weight") else 0.0) + 0.2 * torch.randn(t.shape, generator=gen))


def group_norm1(x: Tensor, w: Tensor, b: Tensor, eps: float = 1e-5) -> Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    var = ((x - mean) ** 2).mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * w[None, :, None, None] + b[None, :, None, None]


def batch_norm(x: Tensor, sd: dict[str, Tensor], p: str, eps: float = 1e-5) -> Tensor:
    c = (None, slice(None), None, None)
    return (x - sd[p + "running_mean"][c]) / torch.sqrt(sd[p + "running_var"][c] + eps) * sd[p + "weight"][c] + sd[
        p + "bias"
    ][c]


def conv_transpose_2x2(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    B, _, H, W = x.shape
    out = torch.einsum("bkij,koac->boiajc", x, w).reshape(B, w.shape[1], 2 * H, 2 * W)
    return out + b[None, :, None, None]


def conv(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    k = w.shape[-1]
    pad = k // 2
    H, W = x.shape[-2:]
    xp = torch.zeros(*x.shape[:2], H + 2 * pad, W + 2 * pad, dtype=x.dtype)
    xp[..., pad : pad + H, pad : pad + W] = x
    out = sum(
        torch.einsum("ok,bkij->boij", w[:, :, dy, dx], xp[..., dy : dy + H, dx : dx + W])
        for dy in range(k)
        for dx in range(k)
    )
    assert isinstance(out, Tensor)
    return out if b is None else out + b[None, :, None, None]


def gelu(x: Tensor) -> Tensor:
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


def max_pool2(x: Tensor) -> Tensor:
    B, C, H, W = x.shape
    return x[..., : H // 2 * 2, : W // 2 * 2].reshape(B, C, H // 2, 2, W // 2, 2).amax(dim=(3, 5))


def nearest(x: Tensor, size: tuple[int, int]) -> Tensor:
    H, W = x.shape[-2:]
    rows = [math.floor(i * H / size[0]) for i in range(size[0])]
    cols = [math.floor(j * W / size[1]) for j in range(size[1])]
    return x[..., rows, :][..., cols]


def _bilinear_axis(n_in: int, n_out: int, align: bool) -> Tensor:
    m = torch.zeros(n_out, n_in, dtype=D64)
    for i in range(n_out):
        if align:
            src = i * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        else:
            src = max((i + 0.5) * n_in / n_out - 0.5, 0.0)
        lo = min(math.floor(src), n_in - 1)
        hi = min(lo + 1, n_in - 1)
        frac = src - lo
        m[i, lo] += 1 - frac
        m[i, hi] += frac
    return m


def bilinear(x: Tensor, size: tuple[int, int], align: bool) -> Tensor:
    mh = _bilinear_axis(x.shape[-2], size[0], align)
    mw = _bilinear_axis(x.shape[-1], size[1], align)
    return torch.einsum("ai,bcij,dj->bcad", mh, x, mw)


def reference_neck(sd: dict[str, Tensor], feats: list[Tensor], tokens: Tensor, channels: int) -> Tensor:
    """float64 DINOv2FPN from its description (module docstring of ``dinov2_fpn``)."""
    B, _, h, w = feats[0].shape
    mlp = torch.relu(tokens @ sd["dino_mlp._layers.0.weight"].T + sd["dino_mlp._layers.0.bias"])
    mlp = mlp @ sd["dino_mlp._layers.2.weight"].T + sd["dino_mlp._layers.2.bias"]
    extra = mlp.transpose(1, 2).reshape(B, channels, h, w)
    x1 = group_norm1(feats[0], sd["fpn1.0.weight"], sd["fpn1.0.bias"])
    x1 = conv_transpose_2x2(x1, sd["fpn1.1.weight"], sd["fpn1.1.bias"])
    x1 = gelu(batch_norm(x1, sd, "fpn1.2."))
    x1 = conv_transpose_2x2(x1, sd["fpn1.4.weight"], sd["fpn1.4.bias"])
    x2 = conv_transpose_2x2(
        group_norm1(feats[1], sd["fpn2.0.weight"], sd["fpn2.0.bias"]), sd["fpn2.1.weight"], sd["fpn2.1.bias"]
    )
    x3 = torch.cat((group_norm1(feats[2], sd["fpn3.weight"], sd["fpn3.bias"]), extra), dim=1)
    x4 = max_pool2(group_norm1(feats[3], sd["fpn4.0.weight"], sd["fpn4.0.bias"]))
    lat = [
        conv(x, sd[f"lateral_convs.{i}.weight"], sd[f"lateral_convs.{i}.bias"]) for i, x in enumerate((x1, x2, x3, x4))
    ]
    for i in (3, 2, 1):
        lat[i - 1] = lat[i - 1] + nearest(lat[i], tuple(lat[i - 1].shape[-2:]))
    outs = [conv(x, sd[f"fpn_convs.{i}.weight"], sd[f"fpn_convs.{i}.bias"]) for i, x in enumerate(lat)]
    heads = []
    for i, x in enumerate(outs):
        idx = 0
        for _ in range(max(i, 1)):
            x = torch.relu(batch_norm(conv(x, sd[f"heads.{i}.{idx}.weight"], None), sd, f"heads.{i}.{idx + 1}."))
            idx += 3
            if i > 0:
                x = bilinear(x, (2 * x.shape[-2], 2 * x.shape[-1]), align=False)
                idx += 1
        heads.append(x)
    size = tuple(heads[0].shape[-2:])
    return heads[0] + sum(bilinear(x, size, align=True) for x in heads[1:])


@pytest.mark.parametrize("grid", [(5, 7), (4, 6)])
def test_dinov2_fpn_matches_a_float64_reference(grid: tuple[int, int]) -> None:
    dim, channels = 24, 16
    neck = DINOv2FPN(dim, channels, mlp_hidden=20).eval()
    _randomise(neck, seed=3)
    gen = torch.Generator().manual_seed(4)
    feats = [torch.randn(2, dim, *grid, generator=gen) for _ in range(4)]
    tokens = torch.randn(2, grid[0] * grid[1], dim, generator=gen)
    with torch.no_grad():
        ours = neck(feats, tokens)
    sd = {k: v.double() for k, v in neck.state_dict().items() if v.is_floating_point()}
    ref = reference_neck(sd, [f.double() for f in feats], tokens.double(), channels)
    assert ours.shape == (2, channels, 4 * grid[0], 4 * grid[1])
    err = (ours.double() - ref).abs().max() / ref.abs().max()
    assert err < 2e-6, err


def reference_gmm(x: Tensor, head: OfficialGMMHead, reduce: str = "max") -> Tensor:
    """float64 ``LayerNorm_K(max_c log N(L2(LN(x)); L2(mu), diag(s^2)))`` by the direct formula."""
    sd = {k: v.double() for k, v in head.state_dict().items()}

    def layer_norm(v: Tensor, w: Tensor, b: Tensor) -> Tensor:
        m = v.mean(-1, keepdim=True)
        return (v - m) / torch.sqrt(((v - m) ** 2).mean(-1, keepdim=True) + 1e-5) * w + b

    f = layer_norm(x, sd["feat_norm.weight"], sd["feat_norm.bias"])
    f = f / f.norm(dim=-1, keepdim=True)
    mu = sd["means"] / sd["means"].norm(dim=-1, keepdim=True)
    s = sd["diagonal"]
    D = x.shape[-1]
    z = (f[:, None, None, :] - mu[None]) / s[None]
    log_n = -0.5 * D * math.log(2 * math.pi) - s.log().sum(-1)[None] - 0.5 * (z**2).sum(-1)
    best = log_n.amax(-1) if reduce == "max" else torch.logsumexp(log_n, -1) - math.log(log_n.shape[-1])
    return layer_norm(best, sd["mask_norm.weight"], sd["mask_norm.bias"])


@pytest.mark.parametrize("classes", [19, 2])
def test_official_gmm_head_matches_the_float64_formula(classes: int) -> None:
    head = OfficialGMMHead(32, classes, 5).eval()
    _randomise(head, seed=5)
    gen = torch.Generator().manual_seed(6)
    with torch.no_grad():
        head.means.copy_(torch.randn(head.means.shape, generator=gen))  # not unit norm: the head normalises
        head.diagonal.copy_(0.1 + 0.3 * torch.rand(head.diagonal.shape, generator=gen))  # standard deviations
    feats = 3.0 + torch.randn(2, 32, 3, 4, generator=gen)
    with torch.no_grad():
        ours = head(feats)
    flat = feats.permute(0, 2, 3, 1).reshape(-1, 32).double()
    ref = reference_gmm(flat, head).reshape(2, 3, 4, classes).permute(0, 3, 1, 2)
    err = (ours.double() - ref).abs().max()
    assert err < 1e-4 * ref.abs().max(), err
    mixture = reference_gmm(flat, head, "logsumexp").reshape(2, 3, 4, classes).permute(0, 3, 1, 2)
    assert (mixture - ref).abs().max() > 100 * err  # max over components, not the uniform mixture


def test_uem_relu_projector_matches_the_float64_formula() -> None:
    uem = UEM(24, 16, 8, head="linear", activation="relu").eval()
    _randomise(uem, seed=7)
    tokens = torch.randn(1, 6, 24, generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        ours = uem(tokens, (2, 3))
    sd = {k: v.double() for k, v in uem.state_dict().items()}
    x = tokens.double()
    for i in (0, 2):
        x = torch.relu(x @ sd[f"projection.{i}.weight"].T + sd[f"projection.{i}.bias"])
    x = x @ sd["projection.4.weight"].T + sd["projection.4.bias"]
    ref = (x @ sd["head.weight"][:, :, 0, 0].T + sd["head.bias"]).transpose(1, 2).reshape(1, 2, 2, 3)
    assert (ours.double() - ref).abs().max() < 1e-5
    gelu_uem = UEM(24, 16, 8, head="linear").eval()
    gelu_uem.load_state_dict(uem.state_dict())
    with torch.no_grad():
        assert (gelu_uem(tokens, (2, 3)) - ours).abs().max() > 1e-3
