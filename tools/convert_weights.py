#!/usr/bin/env python
"""Convert a CTC-pretrained (or any torchvision-style) ResNet for a downstream library.

    python tools/convert_weights.py model_final.pth r50_ctc.pkl --to detectron2
    python tools/convert_weights.py moco.pth.tar r50_moco.pkl --to detectron2 --prefix module.encoder_q.
    python tools/convert_weights.py model_final.pth r50_ctc_timm.pth --to timm   # or .safetensors

INPUT: our pretraining checkpoint, a torchvision ResNet state_dict, or one wrapped in
{"state_dict": ...} / {"model": ...}, with or without DDP's "module." prefix.
Each target is one entry of TARGETS: a function (state_dict, arch, args) -> None that
writes args.output and prints what it did.
"""

import argparse
import os
import sys
from typing import Callable, Dict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _cli import ArgumentParser, run  # noqa: E402

from ctc_plugin.convert import (  # noqa: E402
    TOLERANCE,
    describe_arch,
    detectron2_checkpoint,
    load_resnet_state_dict,
    save_detectron2_pickle,
    summarize_dropped,
    verify_detectron2,
)
from ctc_plugin.convert.timm import convert_to_timm_file, timm_model_name  # noqa: E402
from ctc_plugin.utils.errors import UserError  # noqa: E402
from ctc_plugin.utils.io import check_writable_folder  # noqa: E402


def to_detectron2(state_dict, arch, args: argparse.Namespace) -> None:
    """Write Detectron2's .pkl and, unless --no-verify, check it computes what the source did."""
    if not args.output.endswith(".pkl"):
        raise UserError(f"Detectron2 reads converted weights from a .pkl file; got {args.output}")
    checkpoint, dropped = detectron2_checkpoint(state_dict, arch, source=os.path.basename(args.input))
    print(f"converted {len(checkpoint['model'])} tensors of a {describe_arch(arch)} to Detectron2's names")
    print(f"dropped {len(dropped)}: {summarize_dropped(dropped)}")
    if args.verify:
        differences = verify_detectron2(state_dict, arch, checkpoint["model"])
        worst = max(differences.values())
        for stage, difference in differences.items():
            print(f"verify {stage}: max relative difference {difference:.2e}")
        if not worst <= TOLERANCE:
            raise UserError(
                f"verification failed: Detectron2's backbone differs from the source by {worst:.2e} "
                f"(> {TOLERANCE:.0e}); {args.output} was not written"
            )
    save_detectron2_pickle(checkpoint, args.output)
    print(f"wrote {args.output}")


def to_timm(state_dict, arch, args: argparse.Namespace) -> None:
    """Write the file timm's pretrained loader reads; unless --no-verify, only if timm computes what the source did."""
    name = timm_model_name(arch)  # refuses a CIFAR stem, saying why
    differences = convert_to_timm_file(
        state_dict, arch, args.output, source=os.path.basename(args.input), verify=args.verify
    )
    for output, difference in differences.items():
        print(f"verify {output}: max relative difference {difference:.2e}")
    print(f"wrote {args.output}; load it with")
    overlay = f"pretrained_cfg_overlay=dict(file={args.output!r})"
    print(f"  timm.create_model({name!r}, pretrained=True, num_classes=C, {overlay})")


# --to NAME -> converter; add a target with one entry.
TARGETS: Dict[str, Callable[..., None]] = {"detectron2": to_detectron2, "timm": to_timm}


def parse_args(argv=None) -> argparse.Namespace:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", help="checkpoint or state_dict of a torchvision-style ResNet")
    parser.add_argument("output", help="converted file (.pkl for detectron2, .pth or .safetensors for timm)")
    parser.add_argument("--to", required=True, choices=sorted(TARGETS), help="target library")
    parser.add_argument("--prefix", default="", help="sub-module to convert, e.g. module.encoder_q.")
    parser.add_argument(
        "--no-verify",
        dest="verify",
        action="store_false",
        help="skip running source and converted networks on the same input",
    )
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    if os.path.isdir(args.output):
        raise UserError(f"output {args.output} is a folder; name the file to write")
    check_writable_folder(os.path.dirname(os.path.abspath(args.output)), "the output's folder")
    state_dict, arch = load_resnet_state_dict(args.input, prefix=args.prefix)
    print(f"read a {describe_arch(arch)} from {args.input}" + (f" (prefix {args.prefix!r})" if args.prefix else ""))
    TARGETS[args.to](state_dict, arch, args)


if __name__ == "__main__":
    run(main, "convert_weights")
