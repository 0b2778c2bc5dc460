"""ctc_plugin: CTC pretraining as a Detectron2-style plugin, with Detectron2 and timm bridges."""

import re
from pathlib import Path

from setuptools import find_packages, setup


def read_version() -> str:
    text = Path(__file__).with_name("ctc_plugin").joinpath("__init__.py").read_text()
    return re.search(r'^__version__ = "([^"]+)"', text, re.M).group(1)


setup(
    name="ctc_plugin",
    version=read_version(),
    description="Contrastive temporal coding (ECCV 2022) pretraining, carried into Detectron2 and timm",
    long_description=Path(__file__).with_name("README.md").read_text(),
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=find_packages(include=["ctc_plugin", "ctc_plugin.*"]),
    install_requires=["torch>=2.1", "torchvision>=0.16", "fvcore>=0.1.5", "numpy", "Pillow", "tqdm"],
    extras_require={
        # Detectron2 itself is not on PyPI: see README "Installing Detectron2".
        "detectron2": ["pycocotools>=2.0.2", "tensorboard", "omegaconf>=2.1,<2.4", "hydra-core>=1.1", "setuptools<81"],
        "timm": ["timm>=1.0"],
        "analysis": ["matplotlib"],
        "dev": ["pytest", "pytest-timeout", "ruff"],
    },
)
