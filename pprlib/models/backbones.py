"""Sequential backbones that accept a prefix (the prompt) ahead of the item sequence.

Every backbone maps ``(item_vectors (B, L, d), prefix (B, n, d) or None)``, the embedded items
of right-padded histories, to hidden states ``(B, n + L, d)``: the prefix first, then the items.
Attention (or recurrence) is causal, so with right padding a real position never sees a padding
position (the caller reads each history's state at its own length), and the prefix is visible to
every item. The prefix gets no position embedding; item ``j`` of the window gets
position ``j`` (counted from the first click of the window).

The user representation after ``k`` clicks is the state at index ``n + k - 1``: the last real
item, or the last prompt token when ``k = 0`` (zero-shot). With no prefix and no clicks there is
nothing to read and the representation is zero.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pprlib.models.config import ARCHITECTURE_NAMES, BackboneConfig


class CausalSelfAttention(nn.Module):
    def __init__(self, d: int, n_heads: int, dropout: float):
        super().__init__()
        self.n_heads, self.dropout = n_heads, dropout
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.out(y.transpose(1, 2).reshape(b, t, d))


class TransformerBlock(nn.Module):
    def __init__(self, cfg: BackboneConfig):
        super().__init__()
        self.norm_first = cfg.norm_first
        self.attn = CausalSelfAttention(cfg.d, cfg.n_heads, cfg.dropout)
        self.ffn = nn.Sequential(nn.Linear(cfg.d, cfg.ffn), nn.GELU(), nn.Linear(cfg.ffn, cfg.d))
        self.norm1, self.norm2 = nn.LayerNorm(cfg.d), nn.LayerNorm(cfg.d)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.norm_first:
            x = x + self.drop(self.attn(self.norm1(x)))
            return x + self.drop(self.ffn(self.norm2(x)))
        x = self.norm1(x + self.drop(self.attn(x)))
        return self.norm2(x + self.drop(self.ffn(x)))


class SASRec(nn.Module):
    """Self-attentive sequential recommendation (Kang & McAuley, 2018), prefix-aware."""

    def __init__(self, cfg: BackboneConfig):
        super().__init__()
        self.cfg = cfg
        self.pos_emb = nn.Embedding(cfg.max_len, cfg.d)
        nn.init.normal_(self.pos_emb.weight, std=0.02)  # small, like the item embeddings
        self.norm = nn.LayerNorm(cfg.d)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(TransformerBlock(cfg) for _ in range(cfg.n_layers))

    def forward(self, item_vectors: torch.Tensor, prefix: torch.Tensor | None = None) -> torch.Tensor:
        """``item_vectors`` (B, L, d) already embedded; returns states (B, n + L, d)."""
        b, length, _ = item_vectors.shape
        if length > self.cfg.max_len:
            raise ValueError(f"history of {length} items is longer than max_len={self.cfg.max_len}")
        x = item_vectors + self.pos_emb.weight[:length]
        if prefix is not None:
            x = torch.cat([prefix, x], dim=1)
        x = self.drop(self.norm(x))
        for block in self.blocks:
            x = block(x)
        return x


class GRU4Rec(nn.Module):
    """A GRU over the sequence (Hidasi et al., 2016); the prefix is read first."""

    def __init__(self, cfg: BackboneConfig):
        super().__init__()
        self.cfg = cfg
        self.gru = nn.GRU(cfg.d, cfg.d, num_layers=cfg.n_layers, batch_first=True,
                          dropout=cfg.dropout if cfg.n_layers > 1 else 0.0)
        self.norm = nn.LayerNorm(cfg.d)

    def forward(self, item_vectors: torch.Tensor, prefix: torch.Tensor | None = None) -> torch.Tensor:
        x = item_vectors if prefix is None else torch.cat([prefix, item_vectors], dim=1)
        if x.shape[1] == 0:  # nn.GRU rejects empty sequences (a batch of one-click windows)
            return self.norm(x)
        out, _ = self.gru(x)
        return self.norm(out)


ARCHITECTURES = dict(zip(ARCHITECTURE_NAMES, (SASRec, GRU4Rec), strict=True))
"""The backbone classes by ``BackboneConfig.name`` (the book's named, pre-trained backbones are
:data:`pprlib.config.BACKBONES`)."""


def make_backbone(cfg: BackboneConfig) -> nn.Module:
    """The backbone ``cfg`` names (the item embeddings live in the model, not here)."""
    return ARCHITECTURES[cfg.name](cfg)
