"""ctc-convert: a pretrained network for Detectron2 or timm, verified by computation.

    ctc-convert model_final.pth r50_ctc.pkl --to detectron2
    ctc-convert moco_v2_800ep.pth.tar r50_moco.pkl --to detectron2 --prefix module.encoder_q.
    ctc-convert model_final.pth r50_ctc_timm.pth --to timm          # or .safetensors

INPUT: our pretraining or fine-tuning checkpoint, or a timm file ctc-convert wrote (any network
with a registered converter: torchvision-style ResNets, any timm CNN, a family that registers its
own), or a foreign torchvision-style ResNet: a state_dict, or one wrapped in {"state_dict": ...} /
{"model": ...}, with or without DDP's "module." prefix. A head that is not a classifier of the
network's width (MoCo v2's MLP) is dropped. The converted network is run beside the source on the
same input; the output is written only when they agree, and it carries the network's record.
"""

import argparse
import os
import sys
from typing import List, Optional

from ..convert import read_source, targets, write_converted
from ..utils.errors import UserError
from ..utils.io import atomic_write_json, check_writable_folder
from .common import ArgumentParser, run

TOOL = "convert_weights"


def load_verifiers(target: str) -> None:
    """Import the bridge that registers ``target``'s verifiers where they need its library (Detectron2's)."""
    if target != "detectron2":
        return
    try:  # the verification runs Detectron2's own backbone; writing the file needs no Detectron2
        from .. import detection  # noqa: F401  (registers the Detectron2 verifiers)
    except ImportError:
        raise UserError(
            "verifying --to detectron2 runs Detectron2's backbone, and Detectron2 is not installed "
            "(pip install -e .[detectron2], or --no-verify to write the file unverified)"
        ) from None


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = ArgumentParser(__doc__)
    parser.add_argument("input", help="pretraining checkpoint, a file ctc-convert wrote, or a torchvision ResNet")
    parser.add_argument("output", help="converted file (.pkl for detectron2, .pth or .safetensors for timm)")
    parser.add_argument("--to", required=True, choices=targets(), help="target library")
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
        if args.verify:
            load_verifiers(args.to)
        converted, differences = write_converted(source, args.to, args.output, check=args.verify)
        for line in converted.report(args.output):
            print(line)
        for output, difference in differences.items():
            print(f"verify {output}: max relative difference {difference:.2e}")
        print(f"wrote {args.output}")
        if args.json:
            summary = {"input": args.input, "output": args.output, "to": args.to, "backbone": source.record}
            atomic_write_json(args.json, {**summary, "differences": differences})

    return run(TOOL, body)


if __name__ == "__main__":
    sys.exit(main())
