"""Any source network -> a file timm's own pretrained loader reads, verified by computation.

Converters to timm are registered per backbone builder (``register_converter(builder, "timm",
verify=verify_timm_weights)``) and return ``TimmWeights``: a timm architecture, its state_dict and
the record of the network the file holds. Two are registered here:

- ``build_timm_backbone``: the checkpoint's ``"model"`` already is the timm network's state_dict;
- ``build_resnet``: timm's ``resnet18/34/50/101`` use torchvision's parameter names, so the
  mapping is the identity, checked against timm's model; a CIFAR stem has no timm counterpart.

Writing and verifying are the same for every builder, and handle what users trip over:

- the file is read by timm's recommended fine-tuning call, which re-initialises the head
  when the class count differs (``checkpoint_path=`` would load strictly and fail)::

      timm.create_model("resnet50", pretrained=True, num_classes=200,
                        pretrained_cfg_overlay=dict(file="out_timm.pth"))

- timm compares ``num_classes`` with its *pretrained config's* class count (1000 for the
  ResNets), not with the file. To keep a source head of another width (e.g. 100 CIFAR-100
  classes) say so in the overlay: ``pretrained_cfg_overlay=dict(file=..., num_classes=100)``
  (see ``timm_overlay``); without it the head is always new unless the file has 1000 classes;
- the file carries the record of its network (``"backbone"`` beside ``"state_dict"``, or in the
  safetensors metadata), so ``ctc-finetune-fgvc``, ``ctc-train-net`` and ``ctc-convert`` read it back;
- the conversion is verified by computation: the timm model built from the file computes
  the source network's pooled features (timm's pre-logits) and logits (``verify_timm``).

timm is imported inside the functions, so the package imports with torch alone.
"""

import json
import logging
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch

from ..backbones.records import RESNET_BUILDER, TIMM_BUILDER, timm_record
from ..backbones.timm_net import timm_classifier_name
from ..backbones.weights import initialise_from
from ..utils.errors import UserError
from ..utils.io import atomic_torch_save, atomic_write
from .registry import register_converter
from .source import SourceWeights, resnet_source
from .verify import check_differences, relative_difference
from .write import write_converted

logger = logging.getLogger(__name__)

# Our ResNet depths and the timm architectures with the same layout and names.
TIMM_RESNETS: Dict[int, str] = {18: "resnet18", 34: "resnet34", 50: "resnet50", 101: "resnet101"}


def timm_model_name(arch: Mapping[str, Any]) -> str:
    """The timm architecture that takes weights of ``arch`` ({"depth", "stem", "num_classes"}).

    Raises:
        UserError: for a CIFAR stem or a depth timm has no plain ResNet for.
    """
    if arch.get("stem", "imagenet") != "imagenet":
        raise UserError(
            f"a ResNet with the {arch.get('stem')!r} stem (3x3 stride-1 conv1, no max-pool) has no "
            "timm counterpart: timm's ResNet stems are the 7x7 stride-2 conv with max-pool and the "
            "'deep' three-conv stems, so timm.create_model(pretrained=True) cannot load its conv1; "
            "pretrain with the ImageNet stem (MODEL.STEM imagenet) to fine-tune in timm"
        )
    depth = int(arch.get("depth", 0))
    if depth not in TIMM_RESNETS:
        raise UserError(f"no timm ResNet for depth {depth}; supported: {sorted(TIMM_RESNETS)}")
    return TIMM_RESNETS[depth]


@dataclass
class TimmWeights:
    """A timm architecture, weights under its names (the classifier optional), and the file's record.

    Attributes:
        name: the timm architecture.
        state_dict: its weights.
        record: the record of the network the file holds; None: timm ``name``'s (``timm_record``).
        source: where the weights came from, written beside them.
    """

    name: str
    state_dict: Dict[str, torch.Tensor]
    record: Optional[Dict[str, Any]] = None
    source: str = ""

    def network_record(self) -> Dict[str, Any]:
        """The record the file carries."""
        if self.record is not None:
            return self.record
        head = self.state_dict.get(classifier_key(self.name))
        return timm_record(self.name, int(head.shape[0]) if head is not None else 1000)

    def write(self, path: str) -> None:
        """Write the file timm's loader reads (``.safetensors``, or a torch file for any other name)."""
        save_timm_weights(self.state_dict, path, self.network_record(), self.source)

    def report(self, path: str) -> List[str]:
        """What ``ctc-convert`` prints about the written file."""
        overlay = f"pretrained_cfg_overlay=dict(file={path!r})"
        return [f"load it with: timm.create_model({self.name!r}, pretrained=True, num_classes=C, {overlay})"]


def to_timm_state_dict(state_dict: Mapping[str, torch.Tensor], arch: Mapping[str, Any]) -> Dict[str, torch.Tensor]:
    """Map a torchvision-keyed ResNet state_dict to timm's names, checked against timm's model.

    Args:
        state_dict: torchvision-keyed weights, BatchNorm buffers included, ``fc.*`` optional.
        arch: {"depth", "stem", "num_classes"} of the source network.

    Raises:
        UserError: for a CIFAR stem, or when keys or shapes do not match timm's model.
    """
    return fit_timm(timm_model_name(arch), state_dict)


def fit_timm(name: str, state_dict: Mapping[str, torch.Tensor], source: str = "weights") -> Dict[str, torch.Tensor]:
    """``state_dict`` as timm ``name``'s own state_dict (its dtypes, CPU), initialised through ``initialise_from``.

    The check builds the timm architecture (random init, no download): every tensor must fit by
    name and shape; a classifier that does not fit is dropped (the one head rule) and the result
    is then headless, so that timm starts a new head.

    Raises:
        UserError: naming the keys or the shape that do not fit.
    """
    import timm

    head = classifier_key(name)
    classifier = head.rsplit(".", 1)[0]
    num_classes = int(state_dict[head].shape[0]) if head in state_dict and state_dict[head].dim() == 2 else 1000
    model = timm.create_model(name, pretrained=False, num_classes=num_classes)
    head_kept = initialise_from(model, state_dict, f"{source} as timm {name}", classifier=classifier)
    return {
        key: tensor.detach().clone()
        for key, tensor in model.state_dict().items()
        if head_kept or not key.startswith(classifier + ".")
    }


def classifier_key(name: str) -> str:
    """The state_dict key of timm ``name``'s classifier weight ("fc.weight", "head.fc.weight", ...)."""
    return f"{timm_classifier_name(name)}.weight"


def verify_timm_weights(source: SourceWeights, converted: TimmWeights, path: str) -> Dict[str, float]:
    """The verifier of every conversion to timm: ``verify_timm`` on the written file."""
    return verify_timm(source, converted.name, path)


@register_converter(RESNET_BUILDER, "timm", verify=verify_timm_weights)
def resnet_to_timm(source: SourceWeights) -> TimmWeights:
    """A torchvision-style ResNet as timm's ``resnetN`` (same names, so the file keeps the source's record);
    a CIFAR stem is refused with the reason."""
    arch = {"depth": source.model["DEPTH"], "stem": source.model["STEM"]}
    name = timm_model_name(arch)
    return TimmWeights(name, fit_timm(name, source.state_dict, source.name), source.record, source.name)


@register_converter(TIMM_BUILDER, "timm", verify=verify_timm_weights)
def timm_backbone_to_timm(source: SourceWeights) -> TimmWeights:
    """A timm backbone's checkpoint already holds the timm network's state_dict: checked, not renamed.

    The file keeps a ``build_timm_backbone`` record; that of another builder of a timm network becomes
    the timm architecture's own, so that reading the file needs no module of that builder.
    """
    name = source.timm_name()
    record = source.record if source.builder == TIMM_BUILDER else None
    return TimmWeights(name, fit_timm(name, source.state_dict, source.name), record, source.name)


def save_timm_weights(
    state_dict: Mapping[str, torch.Tensor], path: str, record: Mapping[str, Any], source: str = ""
) -> None:
    """Write weights where timm's ``load_state_dict`` reads them, with their network's record, atomically.

    ``.safetensors`` paths get a safetensors file (the format timm's hub uses) whose metadata holds
    the record (JSON) and ``source``; anything else a torch file ``{"state_dict": ..., "backbone":
    record, "meta": {"source": ...}}``: timm unwraps ``state_dict`` itself.
    """
    if path.endswith(".safetensors"):
        from safetensors.torch import save

        payload = save(dict(state_dict), metadata={"backbone": json.dumps(dict(record)), "source": str(source)})
        atomic_write(path, lambda f: f.write(payload))
    else:
        atomic_torch_save({"state_dict": dict(state_dict), "backbone": dict(record), "meta": {"source": source}}, path)


def write_timm_file(source: SourceWeights, path: str, verify: bool = True) -> Tuple[TimmWeights, Dict[str, float]]:
    """``write_converted`` to timm: convert by the registered converter, write and (unless ``verify`` is False)
    verify; ``path`` appears only if the check passes."""
    return write_converted(source, "timm", path, check=verify)


def convert_to_timm_file(
    state_dict: Mapping[str, torch.Tensor],
    arch: Mapping[str, Any],
    path: str,
    source: str = "",
    verify: bool = True,
) -> Dict[str, float]:
    """``write_timm_file`` for torchvision-keyed ResNet weights of ``arch``; returns the differences."""
    return write_timm_file(resnet_source(state_dict, arch, source or "the weights"), path, verify)[1]


def timm_overlay(path: str, name: Optional[str] = None) -> Dict[str, Any]:
    """``pretrained_cfg_overlay`` for a converted file that keeps its head when ``num_classes`` matches.

    Reads the head width from the file, so
    ``create_model(name, pretrained=True, num_classes=C, pretrained_cfg_overlay=timm_overlay(p, name))``
    keeps the source head when C equals it and starts a new one otherwise (``name`` None: a ResNet's ``fc``).
    """
    from timm.models import load_state_dict

    head = load_state_dict(path).get(classifier_key(name) if name else "fc.weight")
    overlay: Dict[str, Any] = {"file": os.fspath(path)}
    if head is not None:
        overlay["num_classes"] = int(head.shape[0])
    return overlay


def create_timm_model(
    name: str,
    num_classes: int,
    state_dict: Mapping[str, torch.Tensor],
    source_classes: Optional[int],
) -> torch.nn.Module:
    """A timm model initialised from converted weights through timm's pretrained loader.

    The head is loaded when ``num_classes == source_classes`` and re-initialised otherwise
    (always, for headless weights: ``source_classes`` None).
    The weights pass through the overlay's ``state_dict`` (no file); the reference to them is
    dropped from the model's ``pretrained_cfg`` afterwards.
    """
    import timm

    overlay = {"state_dict": dict(state_dict), "num_classes": int(source_classes or 0)}
    model = timm.create_model(name, pretrained=True, num_classes=num_classes, pretrained_cfg_overlay=overlay)
    model.pretrained_cfg.pop("state_dict", None)
    return model


@torch.no_grad()
def verify_timm(
    source: SourceWeights,
    name: str,
    path: str,
    image_size: int = 64,
    batch_size: int = 2,
    seed: int = 0,
) -> Dict[str, float]:
    """Check by computation that timm ``name``, loading ``path``, computes what the source network computes.

    The source is the network its record builds, loaded with its weights. The timm model is
    built through ``create_model(..., pretrained=True, pretrained_cfg_overlay=...)`` twice: with
    the source's class count (head kept: pooled features and logits compared) and, as users
    write the call, with another class count (a new head: features compared). Both run in eval
    mode on one random batch, so normalisation statistics take part.

    Returns:
        {"features", "logits" (with a head), "features_new_head"}: each
        max |timm - source| / max |source|.

    Raises:
        UserError: when a difference exceeds the tolerance or the new head is not new.
    """
    import timm

    network = source.network()
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(batch_size, 3, image_size, image_size, generator=generator)
    features, logits = network.forward_pre_logits(images), network(images)
    overlay = timm_overlay(path, name)
    differences: Dict[str, float] = {}
    if "num_classes" in overlay:
        same_head = timm.create_model(
            name, pretrained=True, num_classes=overlay["num_classes"], pretrained_cfg_overlay=overlay
        )
        timm_features, timm_logits = _timm_outputs(same_head.eval(), images)
        differences["features"] = relative_difference(features, timm_features)
        differences["logits"] = relative_difference(logits, timm_logits)
    # The call exactly as users write it for fine-tuning: a new head of another width.
    other_classes = overlay.get("num_classes", 1000) + 1
    new_head = timm.create_model(
        name, pretrained=True, num_classes=other_classes, pretrained_cfg_overlay=dict(file=os.fspath(path))
    )
    new_features, new_logits = _timm_outputs(new_head.eval(), images)
    differences["features_new_head"] = relative_difference(features, new_features)
    logger.info(f"timm {name} vs source, max relative differences: {differences}")
    check_differences(differences, "timm")
    if tuple(new_logits.shape) != (batch_size, other_classes):
        raise UserError(f"timm {name} did not build a new {other_classes}-class head")
    return differences


def verify_timm_file(
    path: str, state_dict: Mapping[str, torch.Tensor], arch: Mapping[str, Any], **kwargs: Any
) -> Dict[str, float]:
    """``verify_timm`` for torchvision-keyed ResNet weights of ``arch``."""
    return verify_timm(resnet_source(state_dict, arch, "the weights"), timm_model_name(arch), path, **kwargs)


def _timm_outputs(model: torch.nn.Module, images: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """(pooled features, logits) of a timm classifier."""
    feature_map = model.forward_features(images)
    return model.forward_head(feature_map, pre_logits=True), model.forward_head(feature_map)
