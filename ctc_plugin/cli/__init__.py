"""The tools, as package entry points: ``ctc_plugin.cli.<tool>.main(argv) -> exit status``.

``setup.py`` installs each as the console script ``COMMANDS`` names; ``tools/<tool>.py`` are
the same commands as scripts in the repository.
"""

# ctc_plugin.cli module -> console script (setup.py reads this dictionary).
COMMANDS = {
    "pretrain": "ctc-pretrain",
    "train_net": "ctc-train-net",
    "finetune_fgvc": "ctc-finetune-fgvc",
    "convert_weights": "ctc-convert",
    "temporal_transfer": "ctc-temporal-transfer",
    "estimate_mi": "ctc-estimate-mi",
    "study": "ctc-study",
    "demo": "ctc-demo",  # ctc-study on configs/studies/demo.yaml
    "submit": "ctc-submit",
}
