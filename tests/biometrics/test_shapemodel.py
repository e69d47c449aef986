"""The landmark model reader: dlib's shape predictor files into arrays, or a clear error."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapemodels import column, integer, random_model, real

from egate.biometrics.dlibmodel import ModelFormatError
from egate.biometrics.shapefitter import ShapeFitter
from egate.biometrics.shapemodel import ShapeModel, parse_shape_model, read_shape_model


@pytest.fixture(scope="module")
def small() -> bytes:
    return random_model(seed=1).encode()


def test_a_written_model_reads_back_value_for_value():
    written = random_model(seed=7, points=5, levels=2, trees=4, depth=2, pixels=9)
    model = parse_shape_model(written.encode())
    assert model.point_count == 5
    assert model.first.shape == model.second.shape == model.thresholds.shape == (2, 4, 3)
    np.testing.assert_array_equal(model.initial_shape, written.initial)
    np.testing.assert_array_equal(model.leaves, written.leaves)
    np.testing.assert_array_equal(model.anchors, written.anchors)
    np.testing.assert_array_equal(model.deltas, written.deltas)
    for level in range(2):
        for tree in range(4):
            first, second, threshold = zip(*written.splits[level][tree], strict=True)
            assert list(model.first[level, tree]) == list(first)
            assert list(model.second[level, tree]) == list(second)
            np.testing.assert_array_equal(model.thresholds[level, tree], threshold)


def test_the_68_point_model_of_face_recognition_models():
    import face_recognition_models

    model = read_shape_model(Path(face_recognition_models.pose_predictor_model_location()))
    assert repr(model) == (
        "ShapeModel(68 points, 15 levels of 500 trees of 15 splits, 500 pixels a level)"
    )
    assert model.leaves.shape == (15, 500, 16, 136)
    # The initial shape lies in the face box's unit square, give or take the jaw.
    assert model.initial_shape.min() > -0.2 and model.initial_shape.max() < 1.2


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        (lambda data: integer(2) + data[2:], "byte 0: version 2, expected 1-1"),
        (lambda data: data[:-3], "not as a landmark model's"),
        (lambda data: data + b"\x00", "data after the model's end"),
        (lambda data: data[:2] + b"\x81\x05" + data[4:], "initial shape of 5 values"),
        (lambda data: b"", "byte 0: version: not an integer"),
    ],
)
def test_a_damaged_file_names_what_and_where(small, mutation, message):
    with pytest.raises(ModelFormatError, match=message):
        parse_shape_model(mutation(small))


def test_a_split_beyond_the_pixels_or_an_anchor_beyond_the_points_is_refused():
    written = random_model(seed=3, points=4, levels=1, trees=2, depth=1, pixels=5)
    written.splits[0][1][0] = (5, 0, 0.0)
    with pytest.raises(ModelFormatError, match="a split compares a pixel beyond the 5"):
        parse_shape_model(written.encode())
    written = random_model(seed=3, points=4, levels=1, trees=2, depth=1, pixels=5)
    written.anchors[0, 2] = 4
    with pytest.raises(ModelFormatError, match="anchors not as a landmark model's"):
        parse_shape_model(written.encode())


def test_uneven_trees_and_values_out_of_range_are_refused():
    written = random_model(seed=4, points=3, levels=1, trees=2, depth=2, pixels=6)
    written.splits[0][1] = written.splits[0][1][:2]  # a tree of two splits among trees of three
    with pytest.raises(ModelFormatError, match="forest not as a landmark model's"):
        parse_shape_model(written.encode())
    bad = integer(1) + integer(-2) + integer(-1) + real(0.5) + integer(1) + integer(2000)
    with pytest.raises(ModelFormatError, match="byte 12: initial shape"):  # 1 * 2**2000
        parse_shape_model(bad)
    assert real(0.0) == integer(0) + integer(0)


def test_an_initial_shape_without_spread_is_refused():
    written = random_model(seed=5, points=3, levels=1, trees=2, depth=1, pixels=4)
    written.initial[:] = 0.5
    with pytest.raises(ModelFormatError, match="byte 2: the initial shape's points all coincide"):
        parse_shape_model(written.encode())


def test_a_file_claiming_huge_forests_is_refused_before_any_allocation():
    header = integer(1) + column(np.array([0.2, 0.3, 0.7, 0.6], np.float32))
    claim = header + integer(100) + integer(10_000) + integer(1_023)
    with pytest.raises(ModelFormatError, match="cannot fit in the file"):
        parse_shape_model(claim)


def test_an_unreadable_path_is_a_format_error(tmp_path):
    with pytest.raises(ModelFormatError, match=r"missing\.dat"):
        read_shape_model(tmp_path / "missing.dat")


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_damage_gives_a_model_or_a_format_error(small, data):
    content = bytearray(small)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(content) - 1))
        content[position] = data.draw(st.integers(0, 255))
    # Mostly whole files, so that damaged values (not only lengths) reach the checks.
    cut = data.draw(st.one_of(st.just(len(content)), st.integers(0, len(content))))
    try:
        model = parse_shape_model(bytes(content[:cut]))
    except ModelFormatError:
        return
    # What reads is consistent: every index within what it indexes.
    assert isinstance(model, ShapeModel)
    pixels = model.anchors.shape[1]
    assert model.first.min() >= 0 and model.first.max() < pixels
    assert model.second.min() >= 0 and model.second.max() < pixels
    assert model.anchors.min() >= 0 and model.anchors.max() < model.point_count
    assert np.all(np.isfinite(model.leaves)) and np.all(np.isfinite(model.thresholds))
    # And it fits without reading outside its arrays (numba does not check bounds).
    picture = np.full((24, 32, 3), 128, np.uint8)
    (points,) = ShapeFitter(model).fit_many([picture], [(2, 3, 20, 21)])
    assert points.shape == (model.point_count, 2) and np.all(np.isfinite(points))


@given(st.binary(max_size=200))
def test_any_bytes_give_a_model_or_a_format_error(content):
    with contextlib.suppress(ModelFormatError):
        parse_shape_model(content)
