"""The dataset contract: a map-style dataset of ``(PIL image, label)`` with class metadata."""

import contextlib
import json
import os
import struct
from typing import Any, Iterable, Iterator, List, Optional, Sequence, Tuple

from PIL import Image
from torch.utils.data import Dataset

from ..utils.errors import UserError, first_line

# What PIL raises for a file that is missing, truncated, not an image or corrupt inside.
IMAGE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, Image.DecompressionBombError)


class ClassificationDataset(Dataset):
    """Base of every registered dataset.

    Subclasses fill ``targets`` (one int label per sample, in sample order) and
    ``classes`` (class names), set ``style`` to the augmentation family that suits
    the images ("cifar": small images cropped with padding, "imagenet": large images
    cropped and resized, "mnist": 28x28 grey), and implement ``load_image(i)`` -> PIL.
    Datasets read from image files fill ``image_paths`` (one per sample): an image that cannot
    be read is then named by its file. ``build_dataset`` sets ``name`` to the registered name.
    """

    style: str = "imagenet"
    name: str = ""
    image_paths: Optional[List[str]] = None

    def __init__(self, targets: Sequence[int], classes: Sequence[str]) -> None:
        self.targets: List[int] = [int(t) for t in targets]
        self.classes: List[str] = list(classes)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def load_image(self, index: int) -> Any:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.targets)

    def source(self, index: int) -> str:
        """Where sample ``index`` comes from: its file, or its position."""
        return self.image_paths[index] if self.image_paths is not None else f"image {index}"

    def __getitem__(self, index: int) -> Tuple[Any, int]:
        try:
            image = self.load_image(index)
        except IMAGE_ERRORS as e:
            name = self.name or type(self).__name__
            raise UserError(f"cannot read {self.source(index)} of dataset {name}: {first_line(e)}") from None
        return image, self.targets[index]


def require_files(dataset: str, folder: str, names: Iterable[str]) -> None:
    """Raise ``UserError`` naming the first of ``names`` (files, or folders ending in "/") missing under ``folder``.

    Args:
        dataset: the dataset's name, for the message.
        folder: the dataset's top folder (e.g. ``ROOT/CUB_200_2011``).
        names: paths relative to ``folder``.
    """
    if not os.path.isdir(folder):
        raise UserError(
            f"{dataset}: folder not found: {folder} (DATASETS.ROOT must hold what the official archive extracts to)"
        )
    for name in names:
        path = os.path.join(folder, name)
        if not (os.path.isdir(path) if name.endswith("/") else os.path.isfile(path)):
            kind = "folder" if name.endswith("/") else "index file"
            raise UserError(f"{dataset}: missing {kind} {name} in {folder}")


@contextlib.contextmanager
def reading_index(dataset: str, path: str) -> Iterator[None]:
    """Parse the index file ``path`` of ``dataset`` inside this block: whatever the parser raises
    (not JSON, not text, a line or an entry of the wrong form) becomes one ``UserError`` line
    naming the file and what is wrong with it.
    """
    try:
        yield
    except UserError:
        raise
    except json.JSONDecodeError as e:
        raise UserError(f"{dataset}: {path} is not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})") from None
    except UnicodeDecodeError as e:
        raise UserError(f"{dataset}: {path} is not UTF-8 text (byte {e.start} cannot be decoded)") from None
    except KeyError as e:
        raise UserError(f"{dataset}: {path} has an entry without {e.args[0]!r}") from None
    except (TypeError, ValueError, IndexError, AttributeError, AssertionError) as e:  # pycocotools asserts
        raise UserError(f"{dataset}: {path} cannot be read: {first_line(e)}") from None
