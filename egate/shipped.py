"""The configuration files shipped with egate, read as package data.

The project's ``configs/`` folder (``airports/``, ``scenarios/``, ``gates/``,
...) is installed as the package ``egate_configs`` (see ``pyproject.toml``):
a wheel carries a copy of it, and an editable install maps the package onto
the checkout's folder. Either way the files are found through
``importlib.resources``, never through the source tree, so an installed
egate runs its default scenario and its default hall from any directory::

    >>> with shipped_file("airports", "pudong-day.yaml") as path:
    ...     path.name
    'pudong-day.yaml'
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

__all__ = ["PACKAGE", "ShippedFileError", "shipped_file", "shipped_folder"]

PACKAGE = "egate_configs"


class ShippedFileError(FileNotFoundError):
    """A shipped file is not installed; the message is one line."""


def shipped_folder(name: str) -> Traversable:
    """One folder of the shipped files: ``airports``, ``scenarios``, ``gates``, ..."""
    folder = _root().joinpath(name)
    if not folder.is_dir():
        raise ShippedFileError(f"egate's shipped {name}/ folder is not installed ({PACKAGE})")
    return folder


@contextmanager
def shipped_file(folder: str, name: str) -> Iterator[Path]:
    """The path of a shipped file (``shipped_file("scenarios", "pudong-morning.yaml")``).

    The path is valid inside the ``with`` block: an installation that is not
    on the file system gets a temporary copy for that long.
    """
    resource = shipped_folder(folder).joinpath(name)
    if not resource.is_file():
        raise ShippedFileError(f"egate's shipped {folder}/{name} is not installed ({PACKAGE})")
    with resources.as_file(resource) as path:
        yield path


def _root() -> Traversable:
    try:
        return resources.files(PACKAGE)
    except ModuleNotFoundError:
        raise ShippedFileError(
            f"egate's shipped configuration files are not installed (no package {PACKAGE}): "
            "reinstall egate"
        ) from None
    except NotADirectoryError:
        # egate_configs is a namespace package (configs/ has no __init__.py).
        # An editable install puts setuptools' finder placeholder, which is not
        # a folder, on its __path__, and the namespace reader of Python 3.11
        # and 3.12 refuses it (python/importlib_resources#311; 3.13 skips it).
        # Its one real folder is the checkout's configs/.
        package = importlib.import_module(PACKAGE)
        folders = [Path(entry) for entry in package.__path__ if Path(entry).is_dir()]
        if len(folders) != 1:
            raise ShippedFileError(
                f"egate's shipped configuration files: {PACKAGE} is in {len(folders)} folders"
            ) from None
        return folders[0]
