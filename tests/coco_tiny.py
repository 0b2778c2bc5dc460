"""Test helper: a tiny COCO in Detectron2's builtin layout, with exact polygon masks.

``write_tiny_coco(root)`` writes ``root/coco/annotations/instances_{train,val}2017.json``
and ``root/coco/{train,val}2017/*.jpg``; with ``DETECTRON2_DATASETS=root`` the builtin
names ``coco_2017_train`` / ``coco_2017_val`` read it. It is the demo's shapes set, small.
"""

from ctc_plugin.study.datasets import write_shapes_coco


def write_tiny_coco(root: str, num_train: int = 4, num_val: int = 2, seed: int = 0) -> str:
    """Write the tiny set under ``root`` and return ``root``."""
    return write_shapes_coco(str(root), num_train=num_train, num_val=num_val, size=(128, 96), seed=seed)
