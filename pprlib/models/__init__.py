"""Models: prefix-aware backbones, the profile side (prompt generator, profile model), PPR."""

from pprlib.models.backbones import ARCHITECTURES, BackboneConfig, GRU4Rec, SASRec, make_backbone
from pprlib.models.ppr import MODES, ContrastiveConfig, PPRConfig, PPRModel, SequenceCLConfig, count_parameters

__all__ = ["ARCHITECTURES", "BackboneConfig", "ContrastiveConfig", "GRU4Rec", "MODES", "PPRConfig",
           "PPRModel", "SASRec", "SequenceCLConfig", "count_parameters", "make_backbone"]
