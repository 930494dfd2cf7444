"""The one training loop that every xling stage reuses (checkpoints, resume, DDP, bf16, progress)."""

from xling.training.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from xling.training.distributed import DistInfo, init_distributed
from xling.training.loop import BatchSource, TrainingConfig, TrainResult, learning_rate_factor, train

__all__ = [
    "BatchSource",
    "DistInfo",
    "TrainResult",
    "TrainingConfig",
    "init_distributed",
    "latest_checkpoint",
    "learning_rate_factor",
    "load_checkpoint",
    "save_checkpoint",
    "train",
]
