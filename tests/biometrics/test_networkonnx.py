"""The face descriptor network on ONNX Runtime against the same network on numpy.

Values, not times: the graph built from dlib's model file gives numpy's
descriptor within ``TOLERANCE`` on sample chips and decides pairs alike; a
file whose layers do not fit is refused; egate falls back to numpy when
ONNX Runtime cannot run.
"""

from __future__ import annotations

import copy
import itertools
import logging
from pathlib import Path

import numpy as np
import pytest

from egate.biometrics import face as face_module
from egate.biometrics.dlibmodel import Dense, ModelFile, ModelFormatError, read_model
from egate.biometrics.face import DetectionSettings, FaceAnalyzer, FaceModels
from egate.biometrics.network import load_network
from egate.biometrics.networkonnx import (
    OnnxDescriptorNetwork,
    RuntimeUnavailable,
    build_graph,
    load_onnx_network,
)
from egate.biometrics.verifier import STRICT_THRESHOLD, TYPICAL_THRESHOLD

# Largest difference of one component between the ONNX Runtime and numpy descriptors
# (measured: 4e-7 on every photo of the samples and of the face folder).
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def sample_chips(faces, face_models: FaceModels) -> list[np.ndarray]:
    analyzer = FaceAnalyzer(face_models)
    names = ("obama.jpg", "obama2.jpg", "biden.jpg", "grace_hopper.jpg")
    chips = [analyzer.find(faces.pixels(name)).chip for name in names]
    assert all(chip is not None for chip in chips)
    return [chip for chip in chips if chip is not None]


def test_the_onnx_descriptor_equals_numpys(face_models, sample_chips):
    onnx = load_onnx_network(face_models.descriptor_model)
    numpy = load_network(face_models.descriptor_model)
    ours = [onnx.describe(chip) for chip in sample_chips]
    theirs = [numpy.describe(chip) for chip in sample_chips]
    for mine, reference in zip(ours, theirs, strict=True):
        assert mine.shape == (128,) and mine.dtype == np.float64
        assert np.max(np.abs(mine - reference)) < TOLERANCE
    for (first, first_ref), (second, second_ref) in itertools.combinations(
        zip(ours, theirs, strict=True), 2
    ):
        distance = float(np.linalg.norm(first - second))
        reference = float(np.linalg.norm(first_ref - second_ref))
        for threshold in (TYPICAL_THRESHOLD, STRICT_THRESHOLD):
            assert (distance <= threshold) == (reference <= threshold)


def test_the_graph_is_a_valid_onnx_model(face_models):
    import onnx

    model = onnx.load_from_string(build_graph(read_model(face_models.descriptor_model)))
    onnx.checker.check_model(model)
    assert [value.name for value in model.graph.input] == ["chip"]
    assert [value.name for value in model.graph.output] == ["descriptor"]
    kinds = [node.op_type for node in model.graph.node]
    assert kinds.count("Conv") == 29  # every batch norm folded into its convolution
    assert "BatchNormalization" not in kinds


def test_the_network_is_built_once_per_process(face_models):
    path = face_models.descriptor_model
    assert load_onnx_network(path) is load_onnx_network(path)


def test_a_chip_of_the_wrong_size_is_refused(face_models):
    with pytest.raises(ValueError, match="150x150 RGB"):
        load_onnx_network(face_models.descriptor_model).describe(np.zeros((160, 160, 3), np.uint8))


def test_layers_that_do_not_fit_together_are_refused(face_models):
    model = read_model(face_models.descriptor_model)
    wrong = ModelFile(model.input, (*model.layers[:-1], Dense(np.zeros((255, 128), np.float32))))
    with pytest.raises(ModelFormatError, match="a dense layer of 255 inputs on 256"):
        OnnxDescriptorNetwork(wrong)


def test_without_onnx_runtime_numpy_is_used_with_one_warning(
    face_models, sample_chips, monkeypatch, caplog
):
    def missing(path: Path, threads: int = 1) -> OnnxDescriptorNetwork:
        raise RuntimeUnavailable("onnxruntime is not installed")

    monkeypatch.setattr(face_module, "load_onnx_network", missing)
    models = copy.copy(face_models)
    models._onnx, models._onnx_failed = {}, False
    with caplog.at_level(logging.WARNING, logger="egate.biometrics.face"):
        analyzer = FaceAnalyzer(models)
        FaceAnalyzer(models)  # warned once per process, not per analyzer
    assert analyzer.descriptor_runtime == "numpy"
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1 and "using numpy" in warnings[0] and "onnxruntime" in warnings[0]
    numpy = load_network(face_models.descriptor_model)
    np.testing.assert_array_equal(
        analyzer.describe(sample_chips[0]), numpy.describe(sample_chips[0])
    )


def test_numpy_can_still_be_chosen(face_models, sample_chips):
    analyzer = FaceAnalyzer(face_models, DetectionSettings(descriptor="numpy"))
    assert analyzer.descriptor_runtime == "numpy"
    described = analyzer.describe_with_numpy(sample_chips[0])
    assert described is not None
    np.testing.assert_array_equal(analyzer.describe(sample_chips[0]), described)
