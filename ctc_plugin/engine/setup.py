"""Logging, seeds and threads: what every tool sets up first (the trainer records config.yaml)."""

import logging
import os

import torch
from detectron2.utils import comm
from detectron2.utils.env import seed_all_rng

from ..utils.logs import setup_logging


def default_setup(cfg, args) -> logging.Logger:
    """Logging, seeds and cudnn, for our fvcore configs.

    Detectron2's own ``default_setup`` takes only its ``detectron2.config.CfgNode``, and writes
    ``config.yaml`` as well; here the trainer writes it once it has completed the config from
    the data (``EpochTrainer.record_config``), so that the file holds what the run trains with.
    """
    logger = setup_logging(cfg.OUTPUT_DIR)
    logger.info(f"Rank of current process: {comm.get_rank()}. World size: {comm.get_world_size()}")
    logger.info(f"Command line arguments: {args}")
    # The same seed on every rank: DDP broadcasts rank 0's weights anyway, and the memories,
    # data order and negatives are seeded from cfg.SEED explicitly.
    seed_all_rng(None if cfg.SEED < 0 else cfg.SEED)
    torch.backends.cudnn.benchmark = cfg.CUDNN_BENCHMARK
    if comm.get_local_size() > 1 and not torch.cuda.is_available():
        # Processes sharing a machine's cores: one intra-op thread pool each, not one per core each.
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // comm.get_local_size()))
    return logger
