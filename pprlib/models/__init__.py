"""Models: prefix-aware backbones, the profile side (prompt generator, profile model), PPR.

The names below are imported when first used (PEP 562), so that a module that needs only the
backbone's settings (:mod:`pprlib.models.config`) does not import torch with this package."""

import importlib

_WHERE = {"ARCHITECTURES": "backbones", "BackboneConfig": "config", "GRU4Rec": "backbones", "SASRec": "backbones",
          "make_backbone": "backbones", "MODES": "ppr", "ContrastiveConfig": "ppr", "PPRConfig": "ppr",
          "PPRModel": "ppr", "SequenceCLConfig": "ppr", "count_parameters": "ppr"}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"pprlib.models.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
