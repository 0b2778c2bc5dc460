"""ctc-finetune-fgvc: fine-grained fine-tuning with timm (appendix A.3): CUB-200-2011, FGVC-Aircraft, iNat-2018.

    ctc-finetune-fgvc --config-file configs/fgvc/cub200_r50.yaml \\
        DATASETS.ROOT datasets MODEL.WEIGHTS r50_ctc_timm.pth OUTPUT_DIR output/cub_ctc
    ctc-finetune-fgvc --config-file configs/fgvc/inat2018_r50.yaml --num-gpus 8 \\
        MODEL.WEIGHTS model_final.pth          # a raw pretraining checkpoint, converted on the fly
    ctc-finetune-fgvc --config-file configs/fgvc/cub200_r50.yaml --resume OUTPUT_DIR output/cub_ctc

Top-1/top-5 on the test split after every epoch go to OUTPUT_DIR/metrics.json, the last
ones to results.json; model_epoch_XXXX.pth and model_final.pth are read by
timm.create_model(..., pretrained=True, pretrained_cfg_overlay=dict(file=...)).
"""

import sys
from typing import List, Optional

from detectron2.utils import comm

from ..fgvc import get_fgvc_cfg
from ..fgvc.trainer import FGVCTrainer
from .training import TrainingTool

TOOL = "finetune_fgvc"


class FinetuneFGVC(TrainingTool):
    name = TOOL
    description = __doc__
    trainer = FGVCTrainer
    config_example = "configs/fgvc/cub200_r50.yaml"

    def default_config(self):
        return get_fgvc_cfg()

    def report(self, cfg, results) -> None:
        if comm.is_main_process() and results:
            print(f"{cfg.DATASETS.TEST}: top-1 {results['top1']:.2f}  top-5 {results['top5']:.2f}")


TRAINING = FinetuneFGVC()


def main(argv: Optional[List[str]] = None) -> int:
    return TRAINING.main(argv)


if __name__ == "__main__":
    sys.exit(main())
