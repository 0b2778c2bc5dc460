"""ctc-convert: a CTC-pretrained (or any torchvision-style) ResNet for Detectron2 or timm, verified by computation.

    ctc-convert model_final.pth r50_ctc.pkl --to detectron2
    ctc-convert moco_v2_800ep.pth.tar r50_moco.pkl --to detectron2 --prefix module.encoder_q.
    ctc-convert model_final.pth r50_ctc_timm.pth --to timm          # or .safetensors

INPUT: our pretraining checkpoint, a torchvision ResNet state_dict, or one wrapped in
{"state_dict": ...} / {"model": ...}, with or without DDP's "module." prefix. A head that is
not a classifier of the ResNet's width (MoCo v2's MLP) is dropped. The converted network is
run beside the source on the same input; the output is written only when they agree.
"""

import argparse
import os
import sys
from typing import Callable, Dict, List, Mapping, Optional

import torch

from ..convert import describe_arch, detectron2_checkpoint, load_resnet_state_dict, save_detectron2_pickle
from ..convert.detectron2 import summarize_dropped
from ..convert.source import Arch
from ..convert.timm import convert_to_timm_file, timm_model_name
from ..utils.errors import UserError
from ..utils.io import atomic_write_json, check_writable_folder
from .common import ArgumentParser, run

TOOL = "convert_weights"


def to_detectron2(state_dict: Mapping[str, torch.Tensor], arch: Arch, args: argparse.Namespace) -> Dict[str, float]:
    """Write Detectron2's .pkl and, unless --no-verify, only when it computes what the source did."""
    from ..detection.verify import verify_detectron2

    if not args.output.endswith(".pkl"):
        raise UserError(f"Detectron2 reads converted weights from a .pkl file; got {args.output}")
    checkpoint, dropped = detectron2_checkpoint(state_dict, arch, source=os.path.basename(args.input))
    print(f"converted {len(checkpoint['model'])} tensors of a {describe_arch(arch)} to Detectron2's names")
    print(f"dropped {len(dropped)}: {summarize_dropped(dropped)}")
    differences = verify_detectron2(state_dict, arch, checkpoint["model"]) if args.verify else {}
    save_detectron2_pickle(checkpoint, args.output)
    return differences


def to_timm(state_dict: Mapping[str, torch.Tensor], arch: Arch, args: argparse.Namespace) -> Dict[str, float]:
    """Write the file timm's pretrained loader reads; unless --no-verify, only if timm computes what the source did."""
    name = timm_model_name(arch)  # refuses a CIFAR stem, saying why
    differences = convert_to_timm_file(
        state_dict, arch, args.output, source=os.path.basename(args.input), verify=args.verify
    )
    overlay = f"pretrained_cfg_overlay=dict(file={args.output!r})"
    print(f"load it with: timm.create_model({name!r}, pretrained=True, num_classes=C, {overlay})")
    return differences


# --to NAME -> converter; add a target with one entry.
TARGETS: Dict[str, Callable[..., Dict[str, float]]] = {"detectron2": to_detectron2, "timm": to_timm}


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = ArgumentParser(__doc__)
    parser.add_argument("input", help="checkpoint or state_dict of a torchvision-style ResNet")
    parser.add_argument("output", help="converted file (.pkl for detectron2, .pth or .safetensors for timm)")
    parser.add_argument("--to", required=True, choices=sorted(TARGETS), help="target library")
    parser.add_argument("--prefix", default="", help="sub-network to convert, e.g. module.encoder_q.")
    parser.add_argument(
        "--no-verify", dest="verify", action="store_false", help="skip running source and converted networks"
    )
    parser.add_argument("--json", default="", metavar="FILE", help="also write what was converted and measured here")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    def body() -> None:
        args = parse_args(argv)
        if os.path.isdir(args.output):
            raise UserError(f"output {args.output} is a folder; name the file to write")
        check_writable_folder(os.path.dirname(os.path.abspath(args.output)), "the output's folder")
        state_dict, arch = load_resnet_state_dict(args.input, prefix=args.prefix)
        print(f"read a {describe_arch(arch)} from {args.input}" + (f" (prefix {args.prefix!r})" if args.prefix else ""))
        differences = TARGETS[args.to](state_dict, arch, args)
        for output, difference in differences.items():
            print(f"verify {output}: max relative difference {difference:.2e}")
        print(f"wrote {args.output}")
        if args.json:
            summary = {"input": args.input, "output": args.output, "to": args.to, "arch": arch}
            atomic_write_json(args.json, {**summary, "differences": differences})

    return run(TOOL, body)


if __name__ == "__main__":
    sys.exit(main())
