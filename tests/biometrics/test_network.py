"""The face descriptor network on numpy and ONNX Runtime: the model file and the forward pass.

The decoders are checked against an encoder written here from the format's
description; both runtimes against dlib's own encoder, chip for chip, on the
sample photos and (marked ``faces``) on every photo in the folder of face
photos (``EGATE_FACES_DIR``).
"""

from __future__ import annotations

import copy
import itertools
import logging
import math
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from egate.biometrics import face as face_module
from egate.biometrics import matchingworker
from egate.biometrics.benchmark import ImageRun, runtime_agreement
from egate.biometrics.dlibmodel import (
    ARCHITECTURE,
    AddPrevious,
    Affine,
    Convolution,
    Dense,
    ModelFile,
    ModelFormatError,
    Pool,
    Relu,
    Skip,
    Tag,
    decode_float,
    decode_integer,
    decode_tensor,
    parse_model,
    read_model,
)
from egate.biometrics.face import DetectionSettings, FaceAnalyzer, FaceModels
from egate.biometrics.image import find_images, read_image_file
from egate.biometrics.network import DescriptorNetwork, load_network
from egate.biometrics.verifier import STRICT_THRESHOLD, TYPICAL_THRESHOLD, VerifierSettings

# Largest difference of one descriptor component allowed between numpy and dlib.
TOLERANCE = 1e-4
THRESHOLDS = (TYPICAL_THRESHOLD, STRICT_THRESHOLD)


# --- an encoder written from the format's description -------------------------------------


def encode_integer(value: int) -> bytes:
    """Control byte (byte count, 0x80 when negative), then the magnitude, low byte first."""
    magnitude = abs(value)
    body = magnitude.to_bytes(max(1, (magnitude.bit_length() + 7) // 8), "little")
    return bytes([len(body) | (0x80 if value < 0 else 0)]) + body


def encode_float(value: float, digits: int = 53) -> bytes:
    """Mantissa and exponent as two integers; ``digits`` 53 for a double, 24 for a float."""
    if math.isnan(value):
        return encode_integer(0) + encode_integer(32002)
    if math.isinf(value):
        return encode_integer(0) + encode_integer(32000 if value > 0 else 32001)
    fraction, exponent = math.frexp(value)
    mantissa = int(fraction * 2**digits)
    exponent -= digits
    for _ in range(8):  # drop whole zero bytes off the mantissa
        if mantissa & 0xFF:
            break
        mantissa >>= 8
        exponent += 8
    return encode_integer(mantissa) + encode_integer(exponent)


def encode_tensor(values: np.ndarray, version: int) -> bytes:
    header = encode_integer(version) + b"".join(
        encode_integer(size) for size in (len(values), 1, 1, 1)
    )
    if version == 2:
        return header + values.astype("<f4").tobytes()
    return header + b"".join(encode_float(float(value), 24) for value in values)


# --- primitive decoding ------------------------------------------------------------------


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1), st.binary(max_size=4))
def test_integers_round_trip(value, trailing):
    encoded = encode_integer(value)
    assert decode_integer(encoded + trailing, 0) == (value, len(encoded))


@given(st.floats(allow_nan=False), st.binary(max_size=3))
def test_doubles_round_trip(value, trailing):
    encoded = encode_float(value)
    decoded, end = decode_float(encoded + trailing, 0)
    assert (decoded, end) == (value, len(encoded))


@given(st.floats(width=32, allow_nan=False))
def test_single_precision_values_round_trip(value):
    decoded, _ = decode_float(encode_float(value, 24), 0, single=True)
    assert decoded == value
    assert np.float32(decoded) == np.float32(value)


def test_special_floating_point_values():
    assert math.isnan(decode_float(encode_float(math.nan), 0)[0])
    assert decode_float(encode_float(-math.inf), 0)[0] == -math.inf


@given(st.lists(st.floats(width=32, allow_nan=False), max_size=20), st.sampled_from([1, 2]))
def test_tensors_of_either_version_decode(values, version):
    array = np.array(values, dtype=np.float32)
    encoded = encode_tensor(array, version)
    decoded, end = decode_tensor(encoded, 0)
    assert end == len(encoded)
    np.testing.assert_array_equal(decoded, array)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "file ends at byte 0"),
        (b"\x00", "not an integer's control byte"),
        (b"\x09" + bytes(9), "not an integer's control byte"),
        (b"\x31\x01", "not an integer's control byte"),
        (b"\x04\x01\x02", "file ends inside the integer"),
    ],
)
def test_malformed_integers_are_refused(data, message):
    with pytest.raises(ModelFormatError, match=message):
        decode_integer(data, 0)


# --- the real model file -----------------------------------------------------------------


@pytest.fixture(scope="module")
def model_path(face_models: FaceModels) -> Path:
    return face_models.descriptor_model


@pytest.fixture(scope="module")
def model_bytes(model_path: Path) -> bytes:
    return model_path.read_bytes()


def test_the_model_file_has_dlibs_resnet_layout(model_path):
    model = read_model(model_path)
    kinds = [type(layer) for layer in model.layers]
    convolutions = [layer for layer in model.layers if isinstance(layer, Convolution)]
    assert len(convolutions) == 29
    assert kinds.count(Affine) == 29
    assert kinds.count(AddPrevious) == 14  # residual blocks
    assert kinds.count(Skip) == 4  # of them downsampling
    assert kinds.count(Tag) == 14 + 4
    assert kinds.count(Relu) == 1 + 2 * 14
    assert [layer.kind for layer in model.layers if isinstance(layer, Pool)] == [
        "max",
        *["avg"] * 4,
        "avg",
    ]
    first, last = convolutions[0], convolutions[-1]
    assert first.weights.shape == (32, 3, 7, 7) and (first.stride, first.padding) == (2, 0)
    assert last.weights.shape == (256, 256, 3, 3) and (last.stride, last.padding) == (1, 1)
    strided = [layer for layer in convolutions if layer.stride == 2]
    assert [layer.weights.shape[0] for layer in strided] == [32, 64, 128, 256, 256]
    assert all(layer.padding == 0 for layer in strided)
    dense = model.layers[-1]
    assert isinstance(dense, Dense) and dense.weights.shape == (256, 128)
    assert model.input.means == pytest.approx([122.782, 117.001, 104.298], abs=1e-3)
    assert model.parameter_count == 5_614_592
    assert all(np.isfinite(layer.weights).all() for layer in convolutions)


def test_the_architecture_lists_the_loss_first_and_the_stem_last():
    assert ARCHITECTURE[0].kind == "loss"
    assert [spec.kind for spec in ARCHITECTURE[-4:]] == ["max_pool", "relu", "affine", "con"]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        pytest.param(lambda data: data[: len(data) // 2], "file ends", id="half"),
        pytest.param(lambda data: data[:-1], "byte", id="last-byte-missing"),
        pytest.param(lambda data: data + b"\x00", "1 bytes left after the network", id="extra"),
        pytest.param(
            lambda data: b"\x01\x02" + data[2:],
            "the loss layer has version 2, expected 1",
            id="version",
        ),
        pytest.param(
            lambda data: data.replace(b"con_4", b"con_9", 1),
            "expected a convolution layer",
            id="layer-version",
        ),
        pytest.param(
            lambda data: data.replace(b"loss_metric_2", b"loss_multic_2"),
            "metric loss",
            id="another-loss",
        ),
        pytest.param(
            lambda data: data.replace(b"input_rgb_image_sized", b"input_rgb_image_sizes"),
            "input layer",
            id="another-input",
        ),
        pytest.param(
            lambda data: b"not a model at all", "not an integer's control byte", id="text"
        ),
    ],
)
def test_a_damaged_model_file_is_refused_clearly(model_bytes, damage, message):
    with pytest.raises(ModelFormatError, match=message):
        parse_model(damage(model_bytes))


def test_a_bad_model_file_error_names_the_file(tmp_path, model_bytes):
    path = tmp_path / "model.dat"
    path.write_bytes(model_bytes[:1000])
    with pytest.raises(ModelFormatError, match=r"model\.dat: byte \d+: "):
        read_model(path)
    with pytest.raises(ModelFormatError, match="cannot read the model file"):
        read_model(tmp_path / "missing.dat")


def test_layers_that_do_not_fit_together_are_refused(model_path):
    model = read_model(model_path)
    wrong = ModelFile(model.input, (*model.layers[:-1], Dense(np.zeros((255, 128), np.float32))))
    with pytest.raises(ModelFormatError, match="the layers do not fit together"):
        DescriptorNetwork(wrong)


def test_the_network_is_parsed_once_per_process(model_path):
    assert load_network(model_path) is load_network(model_path)


def test_a_chip_of_the_wrong_size_is_refused(model_path):
    with pytest.raises(ValueError, match="150x150 RGB"):
        load_network(model_path).describe(np.zeros((160, 160, 3), np.uint8))


# --- descriptors against dlib ------------------------------------------------------------


def _chip(analyzer: FaceAnalyzer, path: Path) -> np.ndarray | None:
    return analyzer.find(read_image_file(path)).chip


def _compare_with_dlib(analyzer: FaceAnalyzer, paths: list[Path], runtime: str) -> None:
    """Descriptors within ``TOLERANCE`` of dlib's, and the same decision on every pair."""
    assert analyzer.descriptor_runtime == runtime
    described = []
    for path in paths:
        chip = _chip(analyzer, path)
        if chip is None:
            continue
        ours, theirs = analyzer.describe(chip), analyzer.describe_with_dlib(chip)
        assert ours.shape == theirs.shape == (128,)
        assert ours.dtype == np.float64
        assert np.max(np.abs(ours - theirs)) < TOLERANCE, path.name
        described.append((ours, theirs))
    assert len(described) >= 2
    for (ours_1, theirs_1), (ours_2, theirs_2) in itertools.combinations(described, 2):
        ours = float(np.linalg.norm(ours_1 - ours_2))
        theirs = float(np.linalg.norm(theirs_1 - theirs_2))
        for threshold in THRESHOLDS:
            assert (ours <= threshold) == (theirs <= threshold)


@pytest.mark.parametrize("runtime", ["onnx", "numpy"])
def test_descriptors_equal_dlibs_on_the_sample_photos(faces, face_models, runtime):
    analyzer = FaceAnalyzer(face_models, DetectionSettings(descriptor=runtime))
    _compare_with_dlib(analyzer, faces.samples.images(), runtime)


@pytest.mark.faces
@pytest.mark.parametrize("runtime", ["onnx", "numpy"])
def test_descriptors_equal_dlibs_on_the_face_folder(face_folder, face_models, runtime):
    analyzer = FaceAnalyzer(face_models, DetectionSettings(descriptor=runtime))
    _compare_with_dlib(analyzer, find_images(face_folder), runtime)


def test_descriptors_are_the_same_from_several_threads(faces, face_models):
    analyzer = FaceAnalyzer(face_models)
    chips = [_chip(analyzer, faces.path(name)) for name in ("obama.jpg", "biden.jpg")]
    expected = [analyzer.describe(chip) for chip in chips]
    results: dict[int, list[np.ndarray]] = {}

    def work(index: int) -> None:
        results[index] = [analyzer.describe(chips[(index + n) % 2]) for n in range(6)]

    threads = [threading.Thread(target=work, args=(index,)) for index in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for index, found in results.items():
        for n, descriptor in enumerate(found):
            np.testing.assert_array_equal(descriptor, expected[(index + n) % 2])


def test_the_bench_compares_the_runtimes_pair_by_pair():
    def run(name: str, ours: list[float], dlibs: list[float], faces: int = 1) -> ImageRun:
        return ImageRun(
            Path(name),
            640,
            480,
            fast_faces=faces,
            fast_descriptor=np.array(ours),
            reference_descriptor=np.array(dlibs),
        )

    runs = [
        run("a.jpg", [0.0, 0.0], [0.0, 0.0]),
        run("b.jpg", [0.55, 0.0], [0.45, 0.0]),  # at 0.5: numpy says no, dlib yes
        run("c.jpg", [3.0, 0.0], [3.0, 0.0]),
        run("group.jpg", [0.0, 9.0], [0.0, 8.0], faces=2),  # no pairs, but its difference counts
    ]
    largest, compared, differ = runtime_agreement(runs)
    assert largest == pytest.approx(1.0)
    assert compared == 3
    assert differ == ["a.jpg / b.jpg at 0.5: numpy 0.550000, dlib 0.450000"]
    assert runtime_agreement([runs[0], ImageRun(Path("x.jpg"), 1, 1)]) == (0.0, 0, [])
    assert runtime_agreement([ImageRun(Path("x.jpg"), 1, 1)]) == (None, 0, [])


# --- choosing the runtime ----------------------------------------------------------------


def test_dlibs_encoder_can_be_chosen(faces, face_models):
    analyzer = FaceAnalyzer(face_models, DetectionSettings(descriptor="dlib"))
    assert analyzer.descriptor_runtime == "dlib"
    chip = _chip(analyzer, faces.path("obama.jpg"))
    np.testing.assert_array_equal(analyzer.describe(chip), analyzer.describe_with_dlib(chip))


def test_the_verifier_setting_reaches_the_analyzer(face_models):
    from egate.biometrics.verifier import FaceVerifier

    assert VerifierSettings().descriptor == "onnx"
    assert FaceVerifier.with_models(face_models).analyzer.descriptor_runtime == "onnx"
    verifier = FaceVerifier.with_models(face_models, VerifierSettings(descriptor="dlib"))
    assert verifier.analyzer.descriptor_runtime == "dlib"
    with pytest.raises(ValidationError):
        VerifierSettings(descriptor="tensorflow")


def test_an_unreadable_model_falls_back_to_dlib_with_a_warning(
    faces, face_models, monkeypatch, caplog
):
    def broken(path: Path) -> DescriptorNetwork:
        raise ModelFormatError(f"{path}: byte 12: damaged")

    monkeypatch.setattr(face_module, "load_network", broken)
    models = copy.copy(face_models)
    models._network, models._network_failed = None, False
    with caplog.at_level(logging.WARNING, logger="egate.biometrics.face"):
        analyzer = FaceAnalyzer(models, DetectionSettings(descriptor="numpy"))
        FaceAnalyzer(models, DetectionSettings(descriptor="numpy"))  # warned once, not per analyzer
    assert analyzer.descriptor_runtime == "dlib"
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1 and "using dlib's" in warnings[0] and "damaged" in warnings[0]
    chip = _chip(analyzer, faces.path("obama.jpg"))
    np.testing.assert_array_equal(analyzer.describe(chip), analyzer.describe_with_dlib(chip))


# --- OpenBLAS threads in worker processes -------------------------------------------------


def test_workers_are_spawned_with_one_blas_thread(monkeypatch):
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.delenv("OPENCV_FOR_THREADS_NUM", raising=False)
    with matchingworker.worker_environment():
        assert os.environ["OPENBLAS_NUM_THREADS"] == "1"
        assert os.environ["OPENCV_FOR_THREADS_NUM"] == "1"
    assert "OPENBLAS_NUM_THREADS" not in os.environ
    assert "OPENCV_FOR_THREADS_NUM" not in os.environ


def test_an_operators_blas_setting_is_kept(monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    with matchingworker.worker_environment():
        assert os.environ["OPENBLAS_NUM_THREADS"] == "2"
    assert os.environ["OPENBLAS_NUM_THREADS"] == "2"
