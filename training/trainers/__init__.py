"""Stage-1 (inlier segmentor) and stage-2 (UEM) training: one loop, the stage decides what is trained and the loss."""

from training.trainers.loop import BEST, LAST, STATE, Trainer, TrainResult, build_stage_model, train
from training.trainers.objective import StageObjective
from training.trainers.schedule import lr_at

__all__ = ["BEST", "LAST", "STATE", "StageObjective", "TrainResult", "Trainer", "build_stage_model", "lr_at", "train"]
