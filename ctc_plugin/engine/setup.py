"""Detectron2's ``default_setup`` for our fvcore config (which Detectron2's own does not take)."""

import logging
import os

import torch
from detectron2.utils import comm
from detectron2.utils.env import seed_all_rng
from detectron2.utils.logger import setup_logger

from ..utils.io import atomic_write_text


def default_setup(cfg, args) -> logging.Logger:
    """Logging to the console and OUTPUT_DIR/log.txt, OUTPUT_DIR/config.yaml, seeds, cudnn."""
    output_dir = cfg.OUTPUT_DIR
    rank = comm.get_rank()
    if comm.is_main_process():
        os.makedirs(output_dir, exist_ok=True)
    for name in ("fvcore", "detectron2", "ctc_plugin"):
        setup_logger(output_dir, distributed_rank=rank, name=name, abbrev_name=name[:3])
    logger = logging.getLogger("ctc_plugin")
    logger.info(f"Rank of current process: {rank}. World size: {comm.get_world_size()}")
    logger.info(f"Command line arguments: {args}")
    if comm.is_main_process():
        atomic_write_text(os.path.join(output_dir, "config.yaml"), cfg.dump())
        logger.info(f"Full config saved to {os.path.join(output_dir, 'config.yaml')}")
    # The same seed on every rank: DDP broadcasts rank 0's weights anyway, and the
    # memories, data order and negatives are seeded from cfg.SEED explicitly.
    seed_all_rng(None if cfg.SEED < 0 else cfg.SEED)
    torch.backends.cudnn.benchmark = cfg.CUDNN_BENCHMARK
    if comm.get_local_size() > 1 and not torch.cuda.is_available():
        # Processes sharing a machine's cores: one intra-op thread pool each, not one per core each.
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // comm.get_local_size()))
    return logger
