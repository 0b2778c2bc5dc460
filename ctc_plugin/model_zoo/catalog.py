"""The paper's models: our config for each and the paper's reported metrics.

No weights have been released for this paper that we know of, and none are invented.
Metrics are the ones printed in the paper's appendix (arXiv 2203.03871,
Sec. A.4, CIFAR-100 top-1 %); the ImageNet and AutoAugment numbers are in the
manuscript's tables, which we do not carry, so those entries list none.

Caveat: the metrics are the paper's, not ours. No config here has been run at full scale, and
the CTC configs train the IAS head, which the authors' release never hands to its optimiser
(``CTC.IAS.TRAIN_HEAD False`` reproduces that), so a run of a config is not the paper's run.
docs/fidelity.md lists every difference.
"""

from dataclasses import dataclass, field
from typing import Dict

__all__ = ["ModelZooEntry", "CATALOG"]


@dataclass(frozen=True)
class ModelZooEntry:
    """One model of the zoo.

    Attributes:
        name: the key of ``get_config(name)`` / ``get(name)``.
        config: path under ``configs/`` of the pretraining config.
        num_classes: classes of the pretraining dataset (the classifier's width).
        description: what the model is, in a few words.
        paper_metrics: metric name -> value the paper reports (not measured with ``config``; see
            the module's caveat).
        source: where in the paper the metrics are printed.
    """

    name: str
    config: str
    num_classes: int
    description: str
    paper_metrics: Dict[str, float] = field(default_factory=dict)
    source: str = ""


_APPENDIX = "appendix A.4"
_CIFAR = "CIFAR-100 top-1"

_ENTRIES = [
    ModelZooEntry(
        "cifar100_r18_baseline", "pretrain/cifar100_r18_baseline.yaml", 100,
        "ResNet-18, CE only, cosine lr, 300 epochs (the paper's baseline)",
        paper_metrics={_CIFAR: 79.3}, source=f"{_APPENDIX}, alpha table (ResNet18+CosLr)",
    ),
    ModelZooEntry(
        "cifar100_r18_ctc", "pretrain/cifar100_r18_ctc.yaml", 100,
        "ResNet-18, CTC 200 + 100 epochs, alpha 0.01, beta 1.0",
        paper_metrics={_CIFAR: 80.1}, source=f"{_APPENDIX}, all three tables",
    ),
    ModelZooEntry(
        "cifar100_r18_ctc_no_ias", "pretrain/cifar100_r18_ctc_no_ias.yaml", 100,
        "ablation: stage 1 with CE only (no L_IAS), then CTC's stage 2",
        paper_metrics={_CIFAR: 80.1}, source=f"{_APPENDIX}, L_IAS table",
    ),
    ModelZooEntry(
        "cifar100_r18_ctc_alpha0.5", "pretrain/cifar100_r18_ctc_alpha0.5.yaml", 100,
        "ablation: alpha 0.5 (more transferable, slightly less discriminative)",
        paper_metrics={_CIFAR: 79.4}, source=f"{_APPENDIX}, alpha table",
    ),
    ModelZooEntry(
        "cifar100_r18_ctc_beta0.5", "pretrain/cifar100_r18_ctc_beta0.5.yaml", 100,
        "ablation: beta 0.5",
        paper_metrics={_CIFAR: 79.7}, source=f"{_APPENDIX}, beta table",
    ),
    ModelZooEntry(
        "cifar100_r18_ctc_beta1.5", "pretrain/cifar100_r18_ctc_beta1.5.yaml", 100,
        "ablation: beta 1.5",
        paper_metrics={_CIFAR: 79.9}, source=f"{_APPENDIX}, beta table",
    ),
    ModelZooEntry(
        "cifar100_r18_ctc_autoaug", "pretrain/cifar100_r18_ctc_autoaug.yaml", 100,
        "ResNet-18, CTC with AutoAugment (manuscript Sec. 5.2)",
    ),
    ModelZooEntry(
        "cifar100_r18_baseline_autoaug", "pretrain/cifar100_r18_baseline_autoaug.yaml", 100,
        "ResNet-18, the baseline with AutoAugment (manuscript Sec. 5.2)",
    ),
    ModelZooEntry(
        "imagenet_r50_baseline", "pretrain/imagenet_r50_baseline.yaml", 1000,
        "ResNet-50, CE only, cosine lr, 200 epochs",
    ),
    ModelZooEntry(
        "imagenet_r50_baseline_autoaug", "pretrain/imagenet_r50_baseline_autoaug.yaml", 1000,
        "ResNet-50, the baseline with AutoAugment (manuscript Sec. 5.2)",
    ),
    ModelZooEntry(
        "imagenet_r50_ctc", "pretrain/imagenet_r50_ctc.yaml", 1000,
        "ResNet-50, CTC 120 + 80 epochs, alpha 0.2, beta 1.0",
    ),
    ModelZooEntry(
        "imagenet_r50_ctc_autoaug", "pretrain/imagenet_r50_ctc_autoaug.yaml", 1000,
        "ResNet-50, CTC with AutoAugment (manuscript Sec. 5.2)",
    ),
]  # fmt: skip

CATALOG: Dict[str, ModelZooEntry] = {entry.name: entry for entry in _ENTRIES}
