"""A downstream tool defined outside the package, for the study's task-registry test.

    python -m toy_downstream WEIGHTS OUTPUT_DIR SEED     # WEIGHTS: a ctc-convert --to timm file, or "" (random)

Writes OUTPUT_DIR/results.json with ``weight_norm``: the root mean square of the network's
weights (timm's resnet18, randomly initialised from SEED when WEIGHTS is empty).
"""

import json
import os
import sys

import timm
import torch


def main(argv):
    weights, output_dir, seed = argv
    torch.manual_seed(int(seed))
    model = timm.create_model("resnet18", pretrained=False, num_classes=5)
    if weights:
        state = torch.load(weights, map_location="cpu", weights_only=False)
        state = state.get("state_dict", state.get("model", state))
        missing, unexpected = model.load_state_dict({k: v for k, v in state.items() if not k.startswith("fc.")}, False)
        if set(missing) != {"fc.weight", "fc.bias"} or unexpected:
            raise SystemExit(f"{weights} is not a resnet18: missing {missing}, unexpected {unexpected}")
    squares = [p.detach().double().pow(2).mean().item() for n, p in model.named_parameters() if n.endswith("weight")]
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, "results.json"), "w") as f:
        json.dump({"weight_norm": (sum(squares) / len(squares)) ** 0.5}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
