"""What ``pip install .`` gets: every package, the shipped configuration files, and a working egate.

``pyproject.toml`` lists egate's packages by hand (one of them, ``egate_configs``,
is the ``configs/`` folder installed as package data), so the first tests
check that the list and the package-data globs cover the tree. The last one
builds a wheel of this checkout, installs it (not editable) into a fresh
virtual environment and runs ``egate replay`` and ``egate simulate`` from a
folder outside the checkout. Nothing is downloaded for it: the wheel is
built with the setuptools of this environment, and the new environment sees
this one's site-packages (the dependencies) through a ``.pth`` file, without
the editable egate, whose finder is installed by a ``.pth`` file of its own
that a path listed this way does not run.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

from egate.samples import SampleError, fetch_samples, installed_samples

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
PACKAGES: list[str] = SETUPTOOLS["packages"]
PACKAGE_DIR: dict[str, str] = SETUPTOOLS["package-dir"]
DATA = "egate_configs"
CONFIGS = ROOT / PACKAGE_DIR[DATA]
# Folders that hold no installed code.
NOT_CODE = {"tests", "benchmarks", "docs", "build", "dist"}
SMALLEST_DRILL = "impostor-drill.yaml"


def package_folder(name: str) -> Path:
    top, _, rest = name.partition(".")
    base = ROOT / PACKAGE_DIR.get(top, top)
    return base.joinpath(*rest.split(".")) if rest else base


def packages_in_tree() -> set[str]:
    """Every folder with an ``__init__.py`` under a top-level one that has one."""
    found: set[str] = set()
    for top in sorted(ROOT.iterdir()):
        if top.name.startswith(".") or top.name in NOT_CODE or not (top / "__init__.py").is_file():
            continue
        for init in top.rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT).parts
            if all(
                (ROOT.joinpath(*parts[:depth]) / "__init__.py").is_file()
                for depth in range(1, len(parts) + 1)
            ):
                found.add(".".join(parts))
    return found


def shipped_files() -> set[Path]:
    return {
        path for path in CONFIGS.rglob("*") if path.is_file() and "__pycache__" not in path.parts
    }


def test_every_package_of_the_tree_is_listed_in_pyproject():
    missing = packages_in_tree() - set(PACKAGES)
    assert not missing, (
        f"add {sorted(missing)} to [tool.setuptools] packages in pyproject.toml, "
        "or a wheel goes without them"
    )


def test_every_listed_package_is_there():
    for name in PACKAGES:
        assert package_folder(name).is_dir(), name


def test_every_shipped_configuration_file_is_package_data():
    covered = {
        path for pattern in SETUPTOOLS["package-data"][DATA] for path in CONFIGS.glob(pattern)
    }
    missing = sorted(str(path.relative_to(CONFIGS)) for path in shipped_files() - covered)
    assert not missing, f"add a package-data glob for egate_configs in pyproject.toml: {missing}"


# -- a wheel, installed ------------------------------------------------------------------------


def egate(*argv: str | Path, cwd: Path, timeout: float = 300) -> str:
    """Run a command (``argv``) to completion; its standard output. It must exit 0."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", COLUMNS="200")
    ran = subprocess.run(
        [str(arg) for arg in argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert ran.returncode == 0, f"{ran.args}: exit {ran.returncode}\n{ran.stdout}\n{ran.stderr}"
    return ran.stdout


def copy_sources(target: Path) -> None:
    """What the wheel is built from: pyproject.toml, the readme and the package folders."""
    target.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, target / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
    for top in sorted({package_folder(name.partition(".")[0]) for name in PACKAGES}):
        shutil.copytree(top, target / top.relative_to(ROOT), ignore=ignore)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` folder of a fresh virtual environment with a wheel of this checkout."""
    work = tmp_path_factory.mktemp("install")
    copy_sources(work / "source")
    pip = (sys.executable, "-m", "pip")
    offline = ("-q", "--no-deps", "--no-index")
    egate(*pip, "wheel", *offline, "--no-build-isolation", "-w", "wheels", "./source", cwd=work)
    (wheel,) = (work / "wheels").glob("egate-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        data = {name for name in archive.namelist() if name.startswith(f"{DATA}/")}
    assert data == {f"{DATA}/{path.relative_to(CONFIGS).as_posix()}" for path in shipped_files()}

    env = work / "env"
    venv.EnvBuilder(with_pip=False).create(env)
    python = env / "bin" / "python"
    # Installed before this environment's packages are visible: pip finds no egate to replace.
    egate(*pip, "--python", python, "install", *offline, wheel, cwd=work)
    purelib = egate(
        python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=work
    )
    # The dependencies: this environment's site-packages, listed, so its .pth files do not run.
    pth = Path(purelib.strip()) / "zz-test-environment.pth"
    pth.write_text("".join(f"{path}\n" for path in site.getsitepackages()), encoding="utf-8")
    return env / "bin"


@pytest.fixture(scope="module")
def samples() -> None:
    """The replays show the sample photos (fetched once per user, as by the other tests)."""
    if installed_samples() is not None:
        return
    try:
        fetch_samples()
    except SampleError as error:
        pytest.skip(f"sample photos not available: {error}")


WHERE_FROM = """\
import egate, egate.shipped, hardware, simulation
for module in (egate, hardware, simulation):
    print(module.__file__)
print(egate.shipped.shipped_folder("scenarios"))
"""


@pytest.mark.slow
def test_an_installed_wheel_replays_and_simulates_from_anywhere(
    installed: Path, samples: None, tmp_path: Path
) -> None:
    # The code and the shipped files come from the new environment, not from the checkout.
    where = egate(installed / "python", "-c", WHERE_FROM, cwd=tmp_path).splitlines()
    env = installed.parent.resolve()
    assert all(Path(line).resolve().is_relative_to(env) for line in where), where
    scenarios = Path(where[-1])

    drill = json.loads(
        egate(
            installed / "egate",
            "replay",
            "--fast",
            "--json",
            scenarios / SMALLEST_DRILL,
            cwd=tmp_path,
        )
    )
    assert drill["scenario"] == "Impostor drill"
    assert drill["all_matched"] and drill["matched"] == drill["total"] == 13
    assert drill["counts"]["impostors_caught"]["text"] == "4 of 4"

    # Without a file: the shipped morning wave, found as package data.
    wave = json.loads(egate(installed / "egate", "replay", "--fast", "--json", cwd=tmp_path))
    assert Path(wave["source"]).resolve() == (scenarios / "pudong-morning.yaml").resolve()
    assert wave["all_matched"] and wave["matched"] == wave["total"] >= 40

    day = json.loads(egate(installed / "egate", "simulate", "-r", "2", "--json", cwd=tmp_path))
    assert day["config"] == "built-in pudong-day.yaml"
    assert day["name"].startswith("Pudong-style")
    assert day["replications"] == 2
    assert day["travellers"]["arrivals"]["mean"] == 49_073
    assert day["service_level"]["met"] is True
