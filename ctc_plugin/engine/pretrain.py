"""CTCTrainer: CTC (or baseline) pretraining, the epoch trainer with CTC's model, solver and stages."""

from typing import Any, Dict, List, Optional, Tuple

import torch
from detectron2.engine import HookBase, hooks
from torch import nn
from torch.utils.data import DataLoader

from ..backbones import backbone_record, build_backbone, check_takes_images, load_backbone_weights
from ..config.checks import check_pretrain_values
from ..data import NORMALIZATION, ClassificationDataset, build_dataset, build_transform
from ..data.samples import REFILL_STREAM
from ..modeling import CTC, build_ctc, build_linear_head
from .stages import CTCStageHook, build_lr_multiplier, build_optimizer
from .trainer import EpochTrainer


class _MethodState:
    """``CTC.method_state_dict`` as a checkpointable."""

    def __init__(self, ctc: CTC) -> None:
        self.ctc = ctc

    def state_dict(self) -> Dict[str, Any]:
        return self.ctc.method_state_dict()

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.ctc.load_method_state_dict(state)


class CTCTrainer(EpochTrainer):
    """Pretrains ``MODEL.BACKBONE`` with CTC for ``SOLVER.IAS_EPOCHS + SOLVER.IRS_EPOCHS`` epochs.

    Checkpoints hold the backbone under ``"model"`` (a torchvision ResNet's own keys), its
    ``"backbone"`` record (the registered builder and ``cfg.MODEL``), and CTC's state under
    ``"ctc"`` (stage, heads, memories, Z, information bank, and the classifier head of
    ``CTC.CLASSIFIER_HEAD`` when it is not the backbone's ``fc``).
    """

    @classmethod
    def build_datasets(cls, cfg) -> Tuple[ClassificationDataset, Optional[ClassificationDataset]]:
        data = cfg.DATASETS
        train = build_dataset(data.TRAIN, data.ROOT, data.CLASSES, data.IMAGES_PER_CLASS)
        return train, build_dataset(data.TEST, data.ROOT, data.CLASSES) if data.TEST else None

    @classmethod
    def complete_config(cls, cfg, train_set: ClassificationDataset):
        if cfg.MODEL.NUM_CLASSES and cfg.INPUT.PIXEL_MEAN and cfg.INPUT.PIXEL_STD:
            return cfg
        cfg = cfg.clone()
        cfg.defrost()
        cfg.MODEL.NUM_CLASSES = cfg.MODEL.NUM_CLASSES or train_set.num_classes
        mean, std = NORMALIZATION[train_set.style]
        cfg.INPUT.PIXEL_MEAN = list(cfg.INPUT.PIXEL_MEAN) or list(mean)
        cfg.INPUT.PIXEL_STD = list(cfg.INPUT.PIXEL_STD) or list(std)
        cfg.freeze()
        return cfg

    @classmethod
    def num_epochs(cls, cfg) -> int:
        return cfg.SOLVER.IAS_EPOCHS + cfg.SOLVER.IRS_EPOCHS

    @classmethod
    def checkpoint_metadata(cls, cfg) -> Dict[str, Any]:
        settings = {}
        if cfg.CTC.CLASSIFIER_HEAD != build_linear_head.__name__:  # a head's state resumes with the backbone
            settings["CTC.CLASSIFIER_HEAD"] = cfg.CTC.CLASSIFIER_HEAD
        return {"backbone": backbone_record(cfg), "resume_settings": settings}

    @classmethod
    def check_values(cls, cfg, train_set: ClassificationDataset) -> None:
        check_pretrain_values(cfg, len(train_set))

    @classmethod
    def check_model_inputs(cls, cfg) -> None:
        network = build_backbone(cfg)
        if cfg.MODEL.WEIGHTS:
            load_backbone_weights(network, cfg.MODEL.WEIGHTS, cfg.MODEL.WEIGHTS_PREFIX)
        check_takes_images(network, cfg.INPUT.SIZE, cfg.MODEL.BACKBONE)

    def build_model(self, cfg) -> CTC:
        backbone = build_backbone(cfg)
        if cfg.MODEL.WEIGHTS:
            load_backbone_weights(backbone, cfg.MODEL.WEIGHTS, cfg.MODEL.WEIGHTS_PREFIX)
        self.ctc = build_ctc(cfg, backbone.to(self.device), torch.tensor(self.train_set.targets), self.device)
        return self.ctc

    def build_optimizer(self, cfg, model: nn.Module) -> torch.optim.Optimizer:
        return build_optimizer(cfg, model)

    def build_lr_hook(self, cfg) -> HookBase:
        return hooks.LRScheduler(self.optimizer, build_lr_multiplier(cfg, self.iters_per_epoch))

    def build_transforms(self, cfg):
        style, size, normalization = self.train_set.style, cfg.INPUT.SIZE, (cfg.INPUT.PIXEL_MEAN, cfg.INPUT.PIXEL_STD)
        train = build_transform(
            style,
            True,
            size,
            cfg.INPUT.AUTO_AUGMENT,
            normalization,
            cfg.INPUT.CUTOUT,
            cfg.INPUT.CROP_AND_FLIP,
            cfg.INPUT.AUTO_AUGMENT_POLICY,
        )
        return train, build_transform(style, False, size, normalization=normalization)

    def checkpointables(self) -> Dict[str, Any]:
        return {"ctc": _MethodState(self.ctc)}

    def evaluated_network(self) -> nn.Module:
        """The backbone, or the classifier head on its pooled features (``CTC.CLASSIFIER_HEAD``)."""
        return self.ctc.classifying_network()

    def build_hooks(self) -> List[HookBase]:
        built = super().build_hooks()
        built.insert(1, CTCStageHook(self.cfg, self))  # memories updated before checkpoints are written
        return built

    def build_refill_loader(self) -> DataLoader:
        """Every training image with the test transform (the training augmentation with
        ``CTC.IRS.REFILL_AUGMENT``, drawn from a random stream of its own); every rank gets the
        same batch count."""
        transform = self.train_transform if self.cfg.CTC.IRS.REFILL_AUGMENT else self.test_transform
        return self.test_loader(self.train_set, pad=True, transform=transform, stream=REFILL_STREAM)
