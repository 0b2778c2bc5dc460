"""What ``ctc-train-net`` checks before any process starts or any file is written."""

import difflib
import os

from ..backbones.records import describe_record, network_differences
from ..checkpoint import find_resume_checkpoint
from ..config.checks import Rule, check_batch_split, check_values, fraction, non_negative, positive
from ..convert.source import BOTTOM_UP_PREFIX
from ..data.base import reading_index
from ..utils.errors import UserError
from ..utils.io import check_writable_folder
from .weights import chosen_network, record_of_checkpoint


def check_detection_datasets(names) -> None:
    """Every dataset is registered and its index file (``json_file``) and image folder exist.

    Raises:
        UserError: an unknown name, a missing ``$DETECTRON2_DATASETS`` root, index file or folder.
    """
    from detectron2.data import DatasetCatalog, MetadataCatalog

    for name in names:
        if name not in DatasetCatalog.list():
            close = difflib.get_close_matches(name, DatasetCatalog.list(), n=1)
            raise UserError(f"unknown dataset {name!r}" + (f"; did you mean {close[0]}?" if close else ""))
        metadata = MetadataCatalog.get(name)
        json_file, image_root = metadata.get("json_file", None), metadata.get("image_root", None)
        root = os.path.expanduser(os.getenv("DETECTRON2_DATASETS", "datasets"))
        if json_file and not os.path.isdir(root) and os.path.abspath(json_file).startswith(os.path.abspath(root)):
            raise UserError(f"dataset root not found: {root} ($DETECTRON2_DATASETS; {name} is read from it)")
        if json_file and not os.path.isfile(json_file):
            raise UserError(f"dataset {name}: missing index file {json_file}")
        if image_root and not os.path.isdir(image_root):
            raise UserError(f"dataset {name}: missing image folder {image_root}")


def name_bad_index_files(names) -> None:
    """Make each dataset's loader turn an index file that does not parse (not JSON, truncated,
    not COCO's form) into one ``UserError`` line naming the file, wherever Detectron2 reads it
    (building the loaders, or evaluating inside the training loop). Call in every process."""
    from detectron2.data import DatasetCatalog, MetadataCatalog

    for name in names:
        json_file = MetadataCatalog.get(name).get("json_file", None)
        if not json_file or name not in DatasetCatalog.list():
            continue
        load = DatasetCatalog[name]
        if getattr(load, "names_bad_index_file", False):
            continue
        DatasetCatalog.remove(name)
        DatasetCatalog.register(name, _GuardedLoader(load, f"dataset {name}", json_file))


class _GuardedLoader:
    """A dataset loader whose parse errors name its index file (a class: it is pickled with the catalog)."""

    names_bad_index_file = True

    def __init__(self, load, dataset: str, json_file: str) -> None:
        self.load, self.dataset, self.json_file = load, dataset, json_file

    def __call__(self):
        with reading_index(self.dataset, self.json_file):
            return self.load()


# Detectron2's keys whose values cannot work (its own asserts would end in a traceback).
DETECTION_RULES = (
    positive("SOLVER.IMS_PER_BATCH"),
    positive("SOLVER.BASE_LR"),
    positive("SOLVER.MAX_ITER"),
    fraction("SOLVER.MOMENTUM"),
    non_negative("SOLVER.WEIGHT_DECAY"),
    positive("SOLVER.GAMMA"),
    positive("SOLVER.STEPS"),
    non_negative("SOLVER.WARMUP_ITERS"),
    Rule("SOLVER.WARMUP_FACTOR", lambda v: 0 < v <= 1, "be in (0, 1]"),
    positive("SOLVER.CHECKPOINT_PERIOD"),
    non_negative("TEST.EVAL_PERIOD"),
    non_negative("DATALOADER.NUM_WORKERS"),
    positive("INPUT.MIN_SIZE_TRAIN"),
    positive("INPUT.MAX_SIZE_TRAIN"),
    non_negative("INPUT.MIN_SIZE_TEST"),
    positive("INPUT.MAX_SIZE_TEST"),
    positive("MODEL.ROI_HEADS.NUM_CLASSES"),
    positive("MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE"),
    Rule("MODEL.ROI_HEADS.POSITIVE_FRACTION", lambda v: 0 < v <= 1, "be in (0, 1]"),
    positive("MODEL.RPN.BATCH_SIZE_PER_IMAGE"),
    Rule("MODEL.RPN.POSITIVE_FRACTION", lambda v: 0 < v <= 1, "be in (0, 1]"),
)


def check_detection_values(cfg, world_size: int = 1) -> None:
    """``DETECTION_RULES``, increasing learning-rate steps, the batch over the processes."""
    check_values(cfg, DETECTION_RULES)
    solver = cfg.SOLVER
    if list(solver.STEPS) != sorted(solver.STEPS):  # steps past MAX_ITER are ignored by Detectron2
        raise UserError(f"SOLVER.STEPS {tuple(solver.STEPS)} must increase")
    check_batch_split(cfg, world_size)


def check_detection_inputs(cfg, resume: bool = False, eval_only: bool = False, world_size: int = 1) -> None:
    """Refuse bad input up front: ``OUTPUT_DIR``, values that cannot work, the datasets,
    ``MODEL.WEIGHTS`` (readable, and a network the backbone builder builds) and, with ``resume``,
    the checkpoint resume would take (it must hold the same network).

    ``MODEL.WEIGHTS`` is read here once for the whole process: the builder and the checkpointer
    take the same read (``read_weights``).

    Raises:
        UserError: naming the problem.
    """
    check_writable_folder(cfg.OUTPUT_DIR)
    check_detection_values(cfg, world_size)
    check_detection_datasets(list(cfg.DATASETS.TEST) + ([] if eval_only else list(cfg.DATASETS.TRAIN)))
    expected = chosen_network(cfg)
    path = find_resume_checkpoint(cfg.OUTPUT_DIR) if resume else None
    if path is None or expected is None:
        return
    saved = record_of_checkpoint(path)
    if saved is not None and network_differences(saved, expected):
        raise UserError(
            f"cannot resume from {path}: its {BOTTOM_UP_PREFIX.rstrip('.')} is a {describe_record(saved)} "
            f"but the config builds a {describe_record(expected)}"
        )
