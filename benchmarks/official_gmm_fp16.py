"""Where fp16 is safe in the released models' GMM head (``OfficialGMMHead``) and where fp32 layers are needed.

The released checkpoints are not available here, so the head gets parameters made the way the official code
makes them: per component the mean is the L2-normalised sum of its (LayerNorm + L2-normalised) features and the
stored ``diagonal`` is ``sqrt(var + 0.01)``. Features are drawn around those means with a spread that gives the
per-dimension variance of unit-norm 256-d features. This is a synthetic stand-in for a trained head, labelled as
such: it reproduces the magnitudes (log-densities in the hundreds), not the paper's accuracy.

Precisions of the head compared with a float64 evaluation of the formula (direct ``(x - mu) / s``):
``fp32`` (our export), ``fp16`` (every op in half, what an unconstrained TensorRT fp16 build may do) and
``fp16 in, fp32 head`` (the neck in fp16, the head kept in fp32 as ``build-engine --precision fp16`` does).

    .venv/bin/python benchmarks/official_gmm_fp16.py [--pixels 20000]
"""

from __future__ import annotations

import argparse
import math

import torch

from anomaly_seg.network.heads import OfficialGMMHead, l2_normalize


def trained_like_head(classes: int, components: int, dim: int, spread: float, seed: int) -> OfficialGMMHead:
    """A head whose means/diagonals follow the official update rule on synthetic clustered features."""
    gen = torch.Generator().manual_seed(seed)
    head = OfficialGMMHead(dim, classes, components).eval()
    centres = l2_normalize(torch.randn(classes, components, dim, generator=gen), dim=-1)
    with torch.no_grad():
        feats = centres[:, :, None, :] + spread * torch.randn(classes, components, 2000, dim, generator=gen)
        x = l2_normalize(head.feat_norm(feats), dim=-1)
        mean = l2_normalize(x.sum(dim=2), dim=-1)
        var = ((x - mean[:, :, None, :]) ** 2).mean(dim=2)
        head.means.copy_(mean)
        head.diagonal.copy_((var + 1e-2).sqrt())
    return head


def sample_pixels(head: OfficialGMMHead, n: int, spread: float, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    k = torch.randint(0, head.num_classes, (n,), generator=gen)
    c = torch.randint(0, head.num_components, (n,), generator=gen)
    base = head.means[k, c]
    mix = torch.rand(n, 1, generator=gen)  # some pixels between two classes (boundaries, unknown objects)
    other = head.means[torch.randint(0, head.num_classes, (n,), generator=gen), c]
    return base * (1 - 0.5 * mix) + 0.5 * mix * other + spread * torch.randn(n, base.shape[1], generator=gen)


def reference(head: OfficialGMMHead, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """float64 (class scores after the class LayerNorm, max log-density before it)."""
    sd = {k: v.double() for k, v in head.state_dict().items()}
    x = torch.nn.functional.layer_norm(feats.double(), (feats.shape[1],), sd["feat_norm.weight"], sd["feat_norm.bias"])
    x = x / x.norm(dim=-1, keepdim=True)
    mu = sd["means"] / sd["means"].norm(dim=-1, keepdim=True)
    s = sd["diagonal"]
    z = ((x[:, None, None, :] - mu[None]) / s[None]) ** 2
    log_n = -0.5 * x.shape[1] * math.log(2 * math.pi) - s.log().sum(-1)[None] - 0.5 * z.sum(-1)
    best = log_n.amax(-1)
    scores = torch.nn.functional.layer_norm(best, (best.shape[1],), sd["mask_norm.weight"], sd["mask_norm.bias"])
    return scores, best


def run_head(head: OfficialGMMHead, feats: torch.Tensor, mode: str) -> torch.Tensor:
    x = feats[:, :, None, None]
    with torch.no_grad():
        if mode == "fp32":
            out: torch.Tensor = head(x)
        elif mode == "fp16 in, fp32 head":
            out = head(x.half().float())
        else:
            out = head.half()(x.half())
    return out[:, :, 0, 0].double()


def boundary_band(head: OfficialGMMHead, feats: torch.Tensor) -> float:
    """Share of pixels whose two top pre-LayerNorm log-densities are within 0.01 (where a LayerNorm over two
    classes turns float32 rounding of values ~300 (ulp ~3e-5) into output errors of ~5e-3)."""
    _, best = reference(head, feats)
    top2 = best.topk(2, dim=1).values
    return float(((top2[:, 0] - top2[:, 1]) < 0.01).double().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pixels", type=int, default=20000)
    args = parser.parse_args()
    torch.set_num_threads(2)
    dim = 256
    spread = 1.0 / math.sqrt(dim)
    print("Synthetic trained-like GMM heads (official update rule on clustered features) - NOT released weights\n")
    print(
        "| head | precision | peak max-log-density | class score abs err: max / p99.9 | argmax agree "
        "| max abs err max_k F |"
    )
    print("|---|---|---|---|---|---|")
    for name, classes in (("semantic (19 classes)", 19), ("UEM (2 classes)", 2)):
        head = trained_like_head(classes, 5, dim, spread, seed=classes)
        feats = sample_pixels(head, args.pixels, spread, seed=100 + classes)
        ref, best = reference(head, feats)
        peak = float(best.abs().max())
        for mode in ("fp32", "fp16 in, fp32 head", "fp16"):
            out = run_head(trained_like_head(classes, 5, dim, spread, seed=classes), feats, mode)
            diff = (out - ref).abs()
            err, p999 = float(diff.max()), float(torch.quantile(diff.flatten().float(), 0.999))
            agree = float((out.argmax(1) == ref.argmax(1)).double().mean())
            top = float((out.amax(1) - ref.amax(1)).abs().max())
            print(f"| {name} | {mode} | {peak:.0f} | {err:.2e} / {p999:.1e} | {100 * agree:.3f} % | {top:.2e} |")
        print(f"| {name} | pixels within 0.01 of the class boundary | {100 * boundary_band(head, feats):.3f} % | | | |")


if __name__ == "__main__":
    main()
