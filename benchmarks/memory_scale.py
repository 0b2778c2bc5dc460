#!/usr/bin/env python
"""Item 2: the sampled losses plus their memory updates at ImageNet scale.

N = 1.28M images, K = 16,384 negatives, batch 256, 128-d: the sampled IAS loss (NCE with
uniform negatives) and the IRS loss (negatives from other classes, two memories), each
forward, backward and memory update, against a ResNet-50 training step (224 px, timed at
``--r50-batch`` images and scaled linearly to the batch: a CPU cannot time 256 quickly).
Both losses are also timed at N / ``--scale`` with the same batch and K, through the same
(gather) path, to show that their cost per step does not grow with N. Also reports the
bytes the memories and the negative sampler hold, against CRD's per-class index lists,
and checks that no memory is a module buffer (DDP would broadcast it every step).

The last line is ``key=value`` pairs.
"""

import argparse

import torch
import torch.nn.functional as F
from _common import ce_training_step, interleaved, key_values, machine, make_ctc, medians

from ctc_plugin.backbones import ResNet
from ctc_plugin.modeling import memory
from ctc_plugin.modeling.ias import InstanceDiscrimination
from ctc_plugin.modeling.irs import ContrastiveRevitalization
from ctc_plugin.modeling.negatives import OtherClassNegatives

GB = 1e9


def loss_step(num_data: int, args: argparse.Namespace, kind: str):
    """A closure: one step of the sampled loss ``kind`` ("ias" or "irs") with N = num_data."""
    targets = torch.arange(num_data) % args.classes
    generator = torch.Generator().manual_seed(0)
    indices = torch.randperm(num_data, generator=generator)[: args.batch]
    embed = [F.normalize(torch.randn(args.batch, args.dim, generator=generator), dim=1) for _ in range(2)]
    if kind == "ias":
        ias = InstanceDiscrimination(num_data, args.dim, num_negatives=args.negatives, generator=generator)

        def step() -> None:
            z = embed[0].clone().requires_grad_()
            ias.loss(z, indices, generator).backward()
            ias.update(z.detach(), indices)

        return step
    irs = ContrastiveRevitalization(num_data, args.dim, generator=generator)
    negatives = OtherClassNegatives(targets)

    def step() -> None:
        v1, v2 = (e.clone().requires_grad_() for e in embed)
        slots = torch.cat([indices[:, None], negatives.draw(targets[indices], args.negatives, generator)], 1)
        irs.loss(v1, v2, slots).backward()
        irs.update(v1.detach(), v2.detach(), indices)

    return step


def r50_step(args: argparse.Namespace):
    return ce_training_step(50, "imagenet", 224, args.r50_batch, num_classes=1000)


def memory_bytes(args: argparse.Namespace) -> dict:
    """Bytes held by CTC's memories and sampler at N, and a check that none is a buffer."""
    targets = torch.arange(args.num_data) % args.classes
    ctc = make_ctc(ResNet(18, num_classes=args.classes), targets, 0.2, 1.0, args.negatives, args.negatives)
    ias, irs = ctc.terms["ias"].criterion, ctc.terms["irs"].criterion
    memories = [ias.memory, irs.memory_current, irs.memory_bank]
    buffers = {t.data_ptr() for t in ctc.buffers()} | {t.data_ptr() for t in ctc.state_dict().values()}
    assert not any(m.data_ptr() in buffers for m in memories), "a memory is a module buffer: DDP would broadcast it"
    sampler = ctc.terms["irs"].negatives
    sampler_bytes = sum(t.numel() * t.element_size() for t in vars(sampler).values() if torch.is_tensor(t))
    per_image = args.num_data // args.classes
    crd_bytes = args.classes * (args.num_data - per_image) * 8 + args.num_data * 8  # cls_negative + cls_positive
    return {
        "ias_memory_gb": ias.memory.numel() * 4 / GB,
        "irs_memories_gb": 2 * irs.memory_bank.numel() * 4 / GB,
        "sampler_mb": sampler_bytes / 1e6,
        "crd_lists_gb": crd_bytes / GB,
        "memories_are_buffers": 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-data", type=int, default=1_281_167)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--negatives", type=int, default=16_384)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--scale", type=int, default=16, help="also time at N / scale")
    parser.add_argument("--r50-batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    sizes = memory_bytes(args)
    small = args.num_data // args.scale
    auto_path = "matmul" if args.num_data < memory.GATHER_COST * (1 + args.negatives) else "gather"
    memory.GATHER_COST = 0  # the same (gather) path at both N: the comparison is of N alone
    variants = {"r50": r50_step(args)}
    for kind in ("ias", "irs"):
        variants[f"{kind}_small"] = loss_step(small, args, kind)
        variants[kind] = loss_step(args.num_data, args, kind)
    matmul_irs = loss_step(args.num_data, args, "irs")

    def irs_matmul() -> None:  # the other path at N, for the record of why the gather is used
        memory.GATHER_COST = float("inf")
        try:
            matmul_irs()
        finally:
            memory.GATHER_COST = 0

    variants["irs_matmul"] = irs_matmul
    median = medians(interleaved(variants, args.rounds, warmup=1))
    r50 = median["r50"] * args.batch / args.r50_batch  # seconds of a ResNet-50 step of the batch

    print(f"N={args.num_data} (and N/{args.scale}={small}), K={args.negatives}, batch {args.batch}; {machine()}")
    print(
        f"ResNet-50 step, 224 px: {median['r50']:.2f} s at batch {args.r50_batch}, {r50:.1f} s at {args.batch} (linear)"
    )
    print(f"the library picks the {auto_path} path at N={args.num_data}")
    for kind in ("ias", "irs"):
        print(
            f"{kind}: {median[kind]:.3f} s/step at N, {median[kind + '_small']:.3f} at N/{args.scale}; "
            f"{median[kind] / r50:.4f} of a ResNet-50 step"
        )
    print(f"irs through the B x N matmul path at N instead: {median['irs_matmul']:.3f} s/step")
    print(
        f"memories: IAS {sizes['ias_memory_gb']:.2f} GB, IRS {sizes['irs_memories_gb']:.2f} GB; negative sampler "
        f"{sizes['sampler_mb']:.1f} MB against {sizes['crd_lists_gb']:.1f} GB for CRD's per-class lists"
    )
    print(
        key_values(
            {
                "scale_ias_over_r50": median["ias"] / r50,
                "scale_irs_over_r50": median["irs"] / r50,
                "scale_ias_n_growth": median["ias"] / median["ias_small"],
                "scale_irs_n_growth": median["irs"] / median["irs_small"],
                "scale_irs_matmul_over_gather": median["irs_matmul"] / median["irs"],
                "scale_r50_step_s": r50,
                **sizes,
            }
        )
    )


if __name__ == "__main__":
    main()
