"""The backbone's settings, apart from the backbones themselves: importing this module imports
no torch, so a run profile is checked (:mod:`pprlib.profiles`, :mod:`pprlib.resources`) without it."""

from __future__ import annotations

from dataclasses import dataclass

ARCHITECTURE_NAMES = ("sasrec", "gru4rec")
"""The values of ``BackboneConfig.name``; :data:`pprlib.models.backbones.ARCHITECTURES` gives
the class of each."""


@dataclass(frozen=True)
class BackboneConfig:
    """Architecture of the sequential model (defaults: SASRec as in the paper's code)."""

    name: str = "sasrec"
    d: int = 64
    n_layers: int = 1
    n_heads: int = 1
    ffn: int = 64
    dropout: float = 0.0
    max_len: int = 100
    norm_first: bool = False  # post-LN as in SASRec

    def __post_init__(self) -> None:
        if self.name not in ARCHITECTURE_NAMES:
            raise ValueError(f"BackboneConfig.name must be one of {sorted(ARCHITECTURE_NAMES)}, got {self.name!r}")
        for field_name in ("d", "n_layers", "n_heads", "ffn", "max_len"):
            value = getattr(self, field_name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"BackboneConfig.{field_name} must be an integer >= 1, got {value!r}")
        if self.d % self.n_heads:
            raise ValueError(f"BackboneConfig.d ({self.d}) must be divisible by n_heads ({self.n_heads})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"BackboneConfig.dropout must lie in [0, 1), got {self.dropout!r}")
