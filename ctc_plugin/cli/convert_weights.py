"""ctc-convert: a pretrained network for Detectron2 or timm, verified by computation.

    ctc-convert model_final.pth r50_ctc.pkl --to detectron2
    ctc-convert moco_v2_800ep.pth.tar r50_moco.pkl --to detectron2 --prefix module.encoder_q.
    ctc-convert model_final.pth r50_ctc_timm.pth --to timm          # or .safetensors

INPUT: our pretraining checkpoint (any backbone with a registered converter: torchvision-style
ResNets, any timm CNN), or a foreign torchvision-style ResNet: a state_dict, or one wrapped in
{"state_dict": ...} / {"model": ...}, with or without DDP's "module." prefix. A head that is
not a classifier of the ResNet's width (MoCo v2's MLP) is dropped. The converted network is
run beside the source on the same input; the output is written only when they agree.
"""

import argparse
import os
import sys
from typing import Callable, Dict, List, Optional

from ..convert import read_source, save_detectron2_pickle
from ..convert.detectron2 import summarize_dropped
from ..convert.registry import convert
from ..convert.source import SourceWeights
from ..convert.timm import write_timm_file
from ..utils.errors import UserError
from ..utils.io import atomic_write_json, check_writable_folder
from .common import ArgumentParser, run

TOOL = "convert_weights"


def to_detectron2(source: SourceWeights, args: argparse.Namespace) -> Dict[str, float]:
    """Write Detectron2's .pkl and, unless --no-verify, only when it computes what the source did."""
    if not args.output.endswith(".pkl"):
        raise UserError(f"Detectron2 reads converted weights from a .pkl file; got {args.output}")
    weights = convert(source, "detectron2")
    print(f"converted {len(weights.checkpoint['model'])} tensors of a {source.describe()} to Detectron2's names")
    print(f"dropped {len(weights.dropped)}: {summarize_dropped(weights.dropped)}")
    differences = {}
    if args.verify:
        try:  # the verification runs Detectron2's own backbone; writing the file needs no Detectron2
            from ..detection.verify import verify_detectron2_weights
        except ImportError:
            raise UserError(
                "verifying --to detectron2 runs Detectron2's backbone, and Detectron2 is not installed "
                "(pip install -e .[detectron2], or --no-verify to write the file unverified)"
            ) from None
        differences = verify_detectron2_weights(source, weights)
    save_detectron2_pickle(weights.checkpoint, args.output)
    return differences


def to_timm(source: SourceWeights, args: argparse.Namespace) -> Dict[str, float]:
    """Write the file timm's pretrained loader reads; unless --no-verify, only if timm computes what the source did."""
    weights, differences = write_timm_file(source, args.output, verify=args.verify)
    overlay = f"pretrained_cfg_overlay=dict(file={args.output!r})"
    print(f"load it with: timm.create_model({weights.name!r}, pretrained=True, num_classes=C, {overlay})")
    return differences


# --to NAME -> writer; add a target with one entry (and its converters, ctc_plugin.convert.register_converter).
TARGETS: Dict[str, Callable[..., Dict[str, float]]] = {"detectron2": to_detectron2, "timm": to_timm}


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = ArgumentParser(__doc__)
    parser.add_argument("input", help="pretraining checkpoint, or a torchvision-style ResNet state_dict")
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
        source = read_source(args.input, prefix=args.prefix)
        print(f"read a {source.describe()} from {args.input}" + (f" (prefix {args.prefix!r})" if args.prefix else ""))
        differences = TARGETS[args.to](source, args)
        for output, difference in differences.items():
            print(f"verify {output}: max relative difference {difference:.2e}")
        print(f"wrote {args.output}")
        if args.json:
            summary = {"input": args.input, "output": args.output, "to": args.to, "backbone": source.record}
            atomic_write_json(args.json, {**summary, "differences": differences})

    return run(TOOL, body)


if __name__ == "__main__":
    sys.exit(main())
