"""The shipped configuration files, as the package data ``egate_configs``."""

from __future__ import annotations

from pathlib import Path

import pytest

from egate.shipped import ShippedFileError, shipped_file, shipped_folder

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def test_a_source_checkout_reads_its_own_configs_folder():
    # An editable install maps the package onto configs/: no second copy.
    assert Path(str(shipped_folder("airports"))).resolve() == CONFIGS / "airports"
    with shipped_file("scenarios", "pudong-morning.yaml") as path:
        assert path.resolve() == CONFIGS / "scenarios" / "pudong-morning.yaml"


def test_a_file_or_folder_that_is_not_shipped_is_a_one_line_error():
    with pytest.raises(ShippedFileError, match=r"shipped nowhere/ folder is not installed"):
        shipped_folder("nowhere")
    with (
        pytest.raises(ShippedFileError, match=r"shipped airports/nowhere.yaml is not installed"),
        shipped_file("airports", "nowhere.yaml"),
    ):
        pass
