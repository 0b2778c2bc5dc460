"""What ``tools/pretrain.py`` checks before any process starts or any file is written."""

import os

from ..convert.source import describe_arch, load_resnet_state_dict
from ..data import build_dataset
from ..utils.errors import UserError
from ..utils.io import check_writable_folder, load_checkpoint
from .checkpointer import check_arch, find_resume_checkpoint


def check_pretrain_inputs(cfg, resume: bool = False) -> None:
    """Refuse bad input up front, naming it: datasets, ``MODEL.WEIGHTS``, ``OUTPUT_DIR`` and,
    with ``resume``, the checkpoint resume would take.

    Raises:
        UserError: a missing or empty dataset, a missing, unreadable or non-ResNet
            ``MODEL.WEIGHTS`` (or one of another depth or stem), an ``OUTPUT_DIR`` that cannot
            be written, or a checkpoint to resume that cannot be read or holds another network.
    """
    check_writable_folder(cfg.OUTPUT_DIR)
    train_set = build_dataset(
        cfg.DATASETS.TRAIN, cfg.DATASETS.ROOT, cfg.DATASETS.CLASSES, cfg.DATASETS.IMAGES_PER_CLASS
    )
    if cfg.DATASETS.TEST:
        build_dataset(cfg.DATASETS.TEST, cfg.DATASETS.ROOT, cfg.DATASETS.CLASSES)
    resnet = cfg.MODEL.BACKBONE == "build_resnet"
    configured = {"depth": cfg.MODEL.DEPTH, "stem": cfg.MODEL.STEM}
    if cfg.MODEL.WEIGHTS:
        if not os.path.isfile(cfg.MODEL.WEIGHTS):
            raise UserError(f"MODEL.WEIGHTS {cfg.MODEL.WEIGHTS} does not exist")
        _, arch = load_resnet_state_dict(cfg.MODEL.WEIGHTS)
        if resnet and (arch["depth"], arch["stem"]) != (configured["depth"], configured["stem"]):
            raise UserError(
                f"MODEL.WEIGHTS {cfg.MODEL.WEIGHTS} is a {describe_arch(arch)}, but the config builds a "
                f"{describe_arch(configured)} (MODEL.DEPTH, MODEL.STEM)"
            )
    if resume and resnet:
        path = find_resume_checkpoint(cfg.OUTPUT_DIR)
        if path is not None:
            configured["num_classes"] = cfg.MODEL.NUM_CLASSES or train_set.num_classes
            check_arch(path, load_checkpoint(path, mmap=True), configured)
