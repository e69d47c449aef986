"""The bench's capture window: 10 frames at 720p with the face moving, and its scoring cost."""

from __future__ import annotations

import itertools

import numpy as np

from egate.biometrics.benchmarkcapture import capture_window, capture_window_cost


def test_the_window_is_ten_720p_frames_of_the_photo_moving_right(faces):
    photo = faces.pixels("obama.jpg")
    window = capture_window(photo)
    assert len(window) == 10
    assert all(frame.shape == (720, 1280, 3) and frame.dtype == np.uint8 for frame in window)
    # The same picture four pixels further right in each frame.
    for before, after in itertools.pairwise(window):
        np.testing.assert_array_equal(after[:, 100:1100], before[:, 96:1096])


def test_the_cost_is_the_scorers_cpu_time(faces, face_models):
    ticks = itertools.count()
    cost = capture_window_cost(
        face_models, faces.pixels("obama.jpg"), rounds=2, clock=lambda: float(next(ticks))
    )
    assert cost == {
        "frames": 10,
        "size": "1280x720",
        "cpu_seconds_p50": 1.0,
        "cpu_seconds_best": 1.0,
        "frames_with_a_face": 10,
    }
