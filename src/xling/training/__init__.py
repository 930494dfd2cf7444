"""The one training loop that every xling stage reuses (checkpoints, resume, DDP, bf16, evaluations, progress)."""

from xling.training.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    load_newest_checkpoint,
    save_checkpoint,
)
from xling.training.distributed import DistInfo, init_distributed
from xling.training.evaluations import Evaluation
from xling.training.loop import BatchSource, TrainingConfig, TrainResult, learning_rate_factor, train
from xling.training.resume import check_resume_config, config_differences, resumable_fields

__all__ = [
    "BatchSource",
    "DistInfo",
    "Evaluation",
    "TrainResult",
    "TrainingConfig",
    "check_resume_config",
    "config_differences",
    "init_distributed",
    "latest_checkpoint",
    "learning_rate_factor",
    "load_checkpoint",
    "load_newest_checkpoint",
    "resumable_fields",
    "save_checkpoint",
    "train",
]
