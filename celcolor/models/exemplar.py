"""The exemplar network: colour a drawing from a reference of another drawing.

    sketch ink ──> InkEncoder ─────────── q (1/4, 1/8) ─┐
    ref ink ─────> InkEncoder (shared) ── k (1/4, 1/8) ─┼─ attention ─> ref colour
    ref RGB+ink ─> ColourEncoder ──────── v (1/4, 1/8) ─┘   features placed on the sketch
    ref palette (9 colours, k-means) ─> MLP ─> AdaIN of every decoder block
    decoder: Attention U-Net (gated skips from the sketch), residual blocks with
    GroupNorm + weight standardisation, per-channel scaled noise; RGB out.

Convention: tensors ``B,C,H,W`` float32; RGB in [0, 1]; ink in [0, 1] (1 = line).
H and W must be multiples of 8 (see :func:`pad_to`). Sharing the ink encoder
between the sketch and the reference's own ink puts both in one space, so the
attention (similarity warp, He et al. 2018; Lee et al. 2020) matches line to line.

Colour guides: ``guides`` extra inputs of 4 channels each, a colour guess (RGB)
and its confidence (0..1) on the sketch's grid. The exemplar network takes one,
the reference fitted over the drawing (what the classical path would copy); the
temporal network a second, the previous frame's output warped by the flow. A
guide enters twice: into the sketch features at 1/2 scale, and at the output,
where a learned per-pixel gate blends it over the network's own colour:

    out = out + gain * confidence * sigmoid(gate(features, guide)) * (guide - out)

Every guide's weights and its ``gain`` start at zero, so a model with a new guide
begins exactly as the one without (the temporal fine-tuning starts from the
exemplar weights that way).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class ExemplarConfig:
    """Architecture of an exemplar network (stored in every checkpoint)."""

    width: int = 32  # channels at 1/2 scale; 2x at 1/4, 4x at 1/8
    key_dim: int = 64  # attention query/key size
    palette_size: int = 9  # k-means colours of the reference fed to AdaIN
    use_attention: bool = True  # ablation: False = palette only, no correspondence
    use_palette: bool = True  # ablation: False = no palette conditioning
    guides: int = 0  # colour guides (RGB + confidence each): fitted reference, warped previous
    attention_chunk: int = 4096  # queries per attention block (bounds memory)

    def as_dict(self) -> dict:
        """Plain dict (for checkpoint metadata)."""
        return asdict(self)


class WSConv2d(nn.Conv2d):
    """Convolution with weight standardisation (Qiao et al. 2019); pairs with GroupNorm."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight
        mean = w.mean(dim=(1, 2, 3), keepdim=True)
        std = w.std(dim=(1, 2, 3), keepdim=True) + 1e-5
        return F.conv2d(x, (w - mean) / std, self.bias, self.stride, self.padding)


def _groups(channels: int) -> int:
    return math.gcd(channels, 8)


class ResBlock(nn.Module):
    """Residual block: (GN, SiLU, WSConv) x2, optional AdaIN and scaled noise."""

    def __init__(self, channels: int, style_dim: int = 0, noise: bool = False) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(channels), channels)
        self.conv1 = WSConv2d(channels, channels, 3, padding=1)
        self.norm2 = nn.GroupNorm(_groups(channels), channels, affine=style_dim == 0)
        self.conv2 = WSConv2d(channels, channels, 3, padding=1)
        self.style = nn.Linear(style_dim, 2 * channels) if style_dim else None
        # Per-channel noise scale (StyleGAN), zero at start; noise is drawn in training only.
        self.noise_scale = nn.Parameter(torch.zeros(1, channels, 1, 1)) if noise else None

    def forward(self, x: torch.Tensor, style: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        if self.noise_scale is not None and self.training:
            h = h + self.noise_scale * torch.randn_like(h[:, :1])
        h = self.norm2(h)
        if self.style is not None and style is not None:
            gamma, beta = self.style(style)[:, :, None, None].chunk(2, dim=1)
            h = h * (1 + gamma) + beta  # AdaIN: GroupNorm, then the palette's scale/shift
        return x + self.conv2(F.silu(h))


def _down(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.GroupNorm(_groups(cout), cout), nn.SiLU()
    )


class Encoder(nn.Module):
    """Features at 1/2, 1/4 and 1/8 scale."""

    def __init__(self, cin: int, width: int) -> None:
        super().__init__()
        self.d2, self.r2 = _down(cin, width), ResBlock(width)
        self.d4, self.r4 = _down(width, 2 * width), ResBlock(2 * width)
        self.d8, self.r8 = _down(2 * width, 4 * width), ResBlock(4 * width)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        f2 = self.r2(self.d2(x))
        f4 = self.r4(self.d4(f2))
        f8 = self.r8(self.d8(f4))
        return [f2, f4, f8]


class AttentionGate(nn.Module):
    """Attention U-Net gate (Oktay et al. 2018): the decoder decides which skip pixels pass."""

    def __init__(self, skip: int, gate: int) -> None:
        super().__init__()
        inner = max(8, skip // 2)
        self.ws, self.wg = nn.Conv2d(skip, inner, 1), nn.Conv2d(gate, inner, 1)
        self.psi = nn.Conv2d(inner, 1, 1)

    def forward(self, skip: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
        return skip * torch.sigmoid(self.psi(F.silu(self.ws(skip) + self.wg(gate))))


class Guide(nn.Module):
    """One colour guide's weights: feature injection, output gate and gain (all zero)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.inject = nn.Conv2d(GUIDE_CHANNELS, width, 1)
        self.gate = nn.Conv2d(width + GUIDE_CHANNELS, 1, 3, padding=1)
        self.gain = nn.Parameter(torch.zeros(()))
        for conv in (self.inject, self.gate):
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)

    def blend(self, out: torch.Tensor, h: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        """``out`` moved towards the guide's colour where the gate and confidence allow."""
        alpha = guide[:, 3:] * torch.sigmoid(self.gate(torch.cat([h, guide], 1))) * self.gain
        return out + alpha * (guide[:, :3] - out)


GUIDE_CHANNELS = 4


SCORES_PER_BLOCK = 1 << 21


def correspond(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, chunk: int) -> torch.Tensor:
    """Soft correspondence: each query position takes the values of matching keys.

    Args:
        q: ``B,D,H,W`` queries (sketch); k: ``B,D,h,w`` keys (reference ink);
        v: ``B,C,h,w`` values (reference colour features).
        chunk: at most this many queries per block, to bound the ``queries x keys``
            matrix in memory (blocks are smaller where there are many keys).

    Returns:
        ``B,C,H,W``: softmax(q.k / sqrt(D)) @ v at every query position.
    """
    b, d, h, w = q.shape
    if q.device.type == "cuda":
        return fused_correspond(q, k, v)
    # Scaling the queries, not the scores: the same values (1/sqrt(64) is a power of
    # two) for one multiply per query instead of one per query-key pair.
    qf = q.flatten(2).transpose(1, 2) * (1.0 / math.sqrt(d))  # B,HW,D
    kf = k.flatten(2)  # B,D,hw
    vf = v.flatten(2).transpose(1, 2)  # B,hw,C
    # Blocks of about 2M scores stay in the CPU's cache between the matmul and the
    # softmax: 3x faster than one block at the network's working size (measured).
    block = max(1, min(chunk, SCORES_PER_BLOCK // max(1, kf.shape[2])))
    out = [
        torch.softmax(qf[:, i : i + block] @ kf, dim=-1) @ vf for i in range(0, qf.shape[1], block)
    ]
    return torch.cat(out, 1).transpose(1, 2).reshape(b, v.shape[1], h, w)


def fused_correspond(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """:func:`correspond` as one fused attention call (torch's scaled_dot_product_attention).

    On a GPU this is flash or memory-efficient attention: no ``queries x keys`` matrix
    in memory and no Python loop over blocks, which the CPU path needs for its cache
    (at 1280x720 the blocked loop took 173 ms of the network's frame on an H100).
    """
    b, _, h, w = q.shape

    def tokens(x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2).transpose(1, 2)[:, None]  # B,1,L,C: one head

    out = F.scaled_dot_product_attention(tokens(q), tokens(k), tokens(v))[:, 0]
    return out.transpose(1, 2).reshape(b, v.shape[1], h, w)


class ExemplarNet(nn.Module):
    """Colours a sketch from a reference (see the module docstring)."""

    def __init__(self, config: ExemplarConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or ExemplarConfig()
        w = c.width
        self.ink_encoder = Encoder(1, w)
        self.colour_encoder = Encoder(4, w)
        self.guides = nn.ModuleList([Guide(w) for _ in range(c.guides)])
        self.q4, self.k4 = nn.Conv2d(2 * w, c.key_dim, 1), nn.Conv2d(2 * w, c.key_dim, 1)
        self.q8, self.k8 = nn.Conv2d(4 * w, c.key_dim, 1), nn.Conv2d(4 * w, c.key_dim, 1)
        style = 64 if c.use_palette else 0
        if c.use_palette:
            self.palette_mlp = nn.Sequential(
                nn.Linear(3 * c.palette_size, 128), nn.SiLU(), nn.Linear(128, style)
            )
        self.bottom = nn.Conv2d(8 * w, 4 * w, 1)
        self.dec8 = nn.ModuleList([ResBlock(4 * w, style, noise=True) for _ in range(2)])
        self.up4 = nn.Conv2d(4 * w, 2 * w, 1)
        self.gate4 = AttentionGate(2 * w, 2 * w)
        self.fuse4 = nn.Conv2d(6 * w, 2 * w, 1)
        self.dec4 = ResBlock(2 * w, style, noise=True)
        self.up2 = nn.Conv2d(2 * w, w, 1)
        self.gate2 = AttentionGate(w, w)
        self.fuse2 = nn.Conv2d(2 * w, w, 1)
        self.dec2 = ResBlock(w, style, noise=True)
        self.head = nn.Conv2d(w + 1, 3, 3, padding=1)

    # -- the reference, encoded once per cut --------------------------------------------

    def encode_reference(
        self, ref_rgb: torch.Tensor, ref_ink: torch.Tensor, palette: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Keys, values and style of one or more references (concatenated along width).

        Args:
            ref_rgb: ``B,3,H,W``; ref_ink: ``B,1,H,W``; palette: ``B,K,3`` in [0, 1].
        """
        c = self.config
        ink_feats = self.ink_encoder(ref_ink)
        colour_feats = self.colour_encoder(torch.cat([ref_rgb, ref_ink], 1))
        encoded = {
            "v4": colour_feats[1],
            "v8": colour_feats[2],
            "mean8": colour_feats[2].mean(dim=(2, 3), keepdim=True),
            "mean4": colour_feats[1].mean(dim=(2, 3), keepdim=True),
        }
        if c.use_attention:
            encoded["k4"], encoded["k8"] = self.k4(ink_feats[1]), self.k8(ink_feats[2])
        if c.use_palette:
            encoded["style"] = self.palette_mlp(palette.flatten(1))
        return encoded

    # -- a frame ---------------------------------------------------------------------------

    def forward(
        self,
        ink: torch.Tensor,
        reference: dict[str, torch.Tensor],
        guide: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """RGB in [0, 1] for a sketch ``B,1,H,W`` given an encoded reference.

        ``guide``: ``B,4*guides,H,W`` colour guesses and confidences (see the module
        docstring), or None for none (every confidence zero).
        """
        c = self.config
        parts = []
        if c.guides:
            if guide is None:
                guide = ink.new_zeros(ink.shape[0], GUIDE_CHANNELS * c.guides, *ink.shape[2:])
            if guide.shape[1] != GUIDE_CHANNELS * c.guides:
                raise ValueError(
                    f"expected {GUIDE_CHANNELS * c.guides} guide channels, got {guide.shape[1]}"
                )
            # Contiguous: a strided view can take another kernel path, and with it
            # other rounding, which would break exact equality with fewer guides.
            parts = [p.contiguous() for p in guide.split(GUIDE_CHANNELS, dim=1)]
        f2 = self.ink_encoder.d2(ink)
        for g, part in zip(self.guides, parts, strict=True):
            f2 = f2 + g.inject(F.avg_pool2d(part, 2))
        f2 = self.ink_encoder.r2(f2)
        f4 = self.ink_encoder.r4(self.ink_encoder.d4(f2))
        f8 = self.ink_encoder.r8(self.ink_encoder.d8(f4))
        if c.use_attention:
            w8 = correspond(self.q8(f8), reference["k8"], reference["v8"], c.attention_chunk)
            w4 = correspond(self.q4(f4), reference["k4"], reference["v4"], c.attention_chunk)
        else:  # ablation: the reference only as a global summary
            w8 = reference["mean8"].expand(-1, -1, *f8.shape[2:])
            w4 = reference["mean4"].expand(-1, -1, *f4.shape[2:])
        style = reference.get("style")
        h = self.bottom(torch.cat([f8, w8], 1))
        for block in self.dec8:
            h = block(h, style)
        h = self.up4(F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False))
        h = self.fuse4(torch.cat([h, self.gate4(f4, h), w4], 1))
        h = self.dec4(h, style)
        h = self.up2(F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False))
        h = self.fuse2(torch.cat([h, self.gate2(f2, h)], 1))
        h = self.dec2(h, style)
        h = F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False)
        out = torch.sigmoid(self.head(torch.cat([h, ink], 1)))
        for g, part in zip(self.guides, parts, strict=True):
            out = g.blend(out, h, part)
        return out.clamp(0, 1) if parts else out


class PatchDiscriminator(nn.Module):
    """PatchGAN (Isola et al. 2017) with spectral normalisation, conditioned on the sketch.

    Returns the patch logits and the intermediate features (for feature matching).
    """

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        sn = nn.utils.spectral_norm
        chans = [4, width, 2 * width, 4 * width]
        self.blocks = nn.ModuleList(
            [sn(nn.Conv2d(a, b, 4, stride=2, padding=1)) for a, b in itertools.pairwise(chans)]
        )
        self.out = sn(nn.Conv2d(chans[-1], 1, 3, padding=1))

    def forward(
        self, ink: torch.Tensor, rgb: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        h = torch.cat([ink, rgb], 1)
        feats = []
        for block in self.blocks:
            h = F.leaky_relu(block(h), 0.2)
            feats.append(h)
        return self.out(h), feats


def pad_to(x: torch.Tensor, multiple: int = 8) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad ``B,C,H,W`` on the bottom/right (replicate) to a multiple; returns the pad."""
    h, w = x.shape[2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="replicate")
    return x, (ph, pw)


def unpad(x: torch.Tensor, pad: tuple[int, int]) -> torch.Tensor:
    """Undo :func:`pad_to`."""
    ph, pw = pad
    h, w = x.shape[2:]
    return x[:, :, : h - ph, : w - pw]
