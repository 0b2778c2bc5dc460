"""ctc_plugin: CTC pretraining as a Detectron2-style plugin, with Detectron2 and timm bridges."""

import ast
import glob
import os
import re
import shutil
from pathlib import Path
from typing import Dict, List

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.realpath(__file__))


def read_version() -> str:
    text = Path(HERE, "ctc_plugin", "__init__.py").read_text()
    return re.search(r'^__version__ = "([^"]+)"', text, re.M).group(1)


def read_commands() -> Dict[str, str]:
    """``ctc_plugin.cli.COMMANDS``: module -> console script (read, not imported: no dependency is needed)."""
    tree = ast.parse(Path(HERE, "ctc_plugin", "cli", "__init__.py").read_text())
    assignment = next(n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "COMMANDS")
    return ast.literal_eval(assignment.value)


def get_model_zoo_configs() -> List[str]:
    """Ship configs/ inside the package as ctc_plugin/model_zoo/configs, as Detectron2's setup.py does.

    A link in a checkout (editable installs follow configs/ as it changes), a copy where links fail;
    a built wheel holds the files themselves.
    """
    source = os.path.join(HERE, "configs")
    destination = os.path.join(HERE, "ctc_plugin", "model_zoo", "configs")
    if os.path.exists(source):
        if os.path.islink(destination):
            os.unlink(destination)
        elif os.path.isdir(destination):
            shutil.rmtree(destination)
    if not os.path.exists(destination):
        try:
            os.symlink(os.path.relpath(source, os.path.dirname(destination)), destination)
        except OSError:
            shutil.copytree(source, destination)
    return [
        os.path.relpath(p, os.path.dirname(destination)) for p in glob.glob(f"{destination}/**/*.yaml", recursive=True)
    ]


setup(
    name="ctc_plugin",
    version=read_version(),
    description="Contrastive temporal coding (ECCV 2022) pretraining, carried into Detectron2 and timm",
    long_description=Path(HERE, "README.md").read_text(),
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=find_packages(include=["ctc_plugin", "ctc_plugin.*"]),
    package_data={"ctc_plugin.model_zoo": get_model_zoo_configs()},
    entry_points={"console_scripts": [f"{name}=ctc_plugin.cli.{tool}:main" for tool, name in read_commands().items()]},
    install_requires=["torch>=2.5", "torchvision>=0.20", "fvcore>=0.1.5", "numpy", "Pillow", "PyYAML", "tqdm"],
    extras_require={
        # Detectron2 itself is not on PyPI: see the README's "Setup".
        "detectron2": ["pycocotools>=2.0.2", "tensorboard", "omegaconf>=2.1,<2.4", "hydra-core>=1.1", "setuptools<81"],
        "timm": ["timm>=1.0", "safetensors"],
        "analysis": ["matplotlib", "scipy"],  # plots; the studies' paired tests
        "cluster": ["submitit>=1.5"],  # ctc-submit
        "dev": ["pytest", "pytest-timeout", "ruff"],
    },
)
