"""Chapter 3's learning-rate explorer: the slider redraws the same descent figure in place."""
from __future__ import annotations

import numpy as np

from radlab.viz.learning import Bowl, descent_figure, gradient_descent
from radlab.widgets.learning_rate import learning_rate_explorer


def test_moving_the_learning_rate_redraws_the_path_of_that_learning_rate():
    ravine = Bowl(curvature=(1.0, 10.0), center=(0.0, 0.0))
    box = learning_rate_explorer(ravine, (-3.5, 1.5), lr=0.1, steps=25)
    n_traces = len(box.figure.data)
    box.slider.value = 0.02
    expected = descent_figure(ravine, [gradient_descent(ravine, (-3.5, 1.5), box.slider.value, steps=25)])
    assert len(box.figure.data) == n_traces, "the slider must update traces, never add them"
    for shown, new in zip(box.figure.data, expected.data):
        if getattr(new, "x", None) is not None:
            np.testing.assert_allclose(np.asarray(shown.x, dtype=float), np.asarray(new.x, dtype=float))
