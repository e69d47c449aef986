"""The browser tests' own setup: how a missing chromium is reported, and the URL parsing."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest


@pytest.fixture
def setup(request: pytest.FixtureRequest) -> ModuleType:
    """tests/browser/conftest.py as a module (its name, conftest, is not unique)."""
    here = Path(__file__).with_name("conftest.py")
    for plugin in request.config.pluginmanager.get_plugins():
        if isinstance(plugin, ModuleType) and Path(plugin.__file__ or "") == here:
            return plugin
    raise AssertionError(f"{here} is not loaded")


def test_without_chromium_the_tests_skip_but_fail_under_ci(setup, monkeypatch, tmp_path):
    monkeypatch.setattr(setup.shutil, "which", lambda name: None)
    monkeypatch.setattr(setup, "FALLBACK_CHROMIUM", str(tmp_path / "no-chromium"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no chromium"):
        setup.chromium_binary()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run the browser tests"):
        setup.chromium_binary()


def test_the_console_urls_are_read_from_its_output(setup):
    printed = (
        "egate replay: Browser drill (drill.yaml), 4 passengers, gates G1, G2\n"
        "instructor: http://127.0.0.1:41234/?token=abc-DEF_1\n"
        "desk:       http://127.0.0.1:41234/?token=xyz\n"
        "viewers:    http://127.0.0.1:41234/\n"
    )
    assert setup.parse_urls(printed) == {
        "instructor": "http://127.0.0.1:41234/?token=abc-DEF_1",
        "desk": "http://127.0.0.1:41234/?token=xyz",
        "viewer": "http://127.0.0.1:41234/",
    }
