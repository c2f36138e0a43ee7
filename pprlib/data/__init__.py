"""Data layer: the validated dataset, the synthetic generator, readers, the protocol, batching."""

from pprlib.data.errors import DataValidationError, DataWarning
from pprlib.data.schema import MISSING, InteractionData, build_dataset, check_dataset

__all__ = ["MISSING", "DataValidationError", "DataWarning", "InteractionData", "build_dataset", "check_dataset"]
