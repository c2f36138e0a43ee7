"""The profile side of PPR: profile embeddings, the prompt generator and the profile model."""

from __future__ import annotations

import torch
from torch import nn


class ProfileEmbedding(nn.Module):
    """One embedding table per profile field; x_u is their concatenation (B, m * d).
    Code 0 (missing) has its own learned vector: "unknown" is information too."""

    def __init__(self, field_sizes: list[int], d: int):
        super().__init__()
        self.tables = nn.ModuleList(nn.Embedding(size, d) for size in field_sizes)
        for table in self.tables:
            nn.init.normal_(table.weight, std=0.1)

    @property
    def width(self) -> int:
        return sum(t.embedding_dim for t in self.tables)

    def forward(self, profile: torch.Tensor) -> torch.Tensor:
        return torch.cat([table(profile[:, j]) for j, table in enumerate(self.tables)], dim=-1)


class SourceRepresentation(nn.Module):
    """x_u read from a fixed table instead of learned profile embeddings: row ``profile[:, 0]``
    of ``vectors`` (row 0 = unknown, zeros). The cross-domain study stores there each user's
    representation from the source-domain model; it is side information, so it is a buffer
    (never tuned) and travels with the model's state."""

    def __init__(self, vectors: torch.Tensor):
        super().__init__()
        if vectors.ndim != 2:
            raise ValueError(f"vectors must be a (n_users + 1, d) table, got shape {tuple(vectors.shape)}")
        self.register_buffer("vectors", vectors.float().clone())

    @property
    def width(self) -> int:
        return self.vectors.shape[1]

    def forward(self, profile: torch.Tensor) -> torch.Tensor:
        return self.vectors[profile[:, 0]]


def mlp(d_in: int, d_hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, d_hidden), nn.ReLU(), nn.Linear(d_hidden, d_out))


class PromptGenerator(nn.Module):
    """Personalized prompt: P_u = W2 ReLU(W1 x_u + b1) + b2, reshaped to n tokens of size d."""

    def __init__(self, d_profile: int, d: int, n_tokens: int, hidden: int | None = None):
        super().__init__()
        self.n_tokens, self.d = n_tokens, d
        self.net = mlp(d_profile, hidden or d, n_tokens * d)

    def forward(self, x_u: torch.Tensor) -> torch.Tensor:
        return self.net(x_u).view(-1, self.n_tokens, self.d)


class SharedPrompt(nn.Module):
    """Non-personalized prompt (classic prefix-tuning): the same learned tokens for everyone."""

    def __init__(self, d: int, n_tokens: int):
        super().__init__()
        self.tokens = nn.Parameter(torch.randn(n_tokens, d) * 0.1)

    def forward(self, x_u: torch.Tensor) -> torch.Tensor:
        return self.tokens.expand(len(x_u), -1, -1)
