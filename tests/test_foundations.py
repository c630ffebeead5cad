"""The perceptron, XOR and depth (Chapter 2)."""
from __future__ import annotations

import numpy as np
import pytest

from radlab import foundations as fd


def test_perceptron_learns_and_and_or_but_never_xor():
    for gate in ("AND", "OR"):
        p = fd.train_perceptron(fd.GATE_INPUTS, fd.GATES[gate])
        assert p.converged and (p.predict(fd.GATE_INPUTS) == fd.GATES[gate]).all()
    xor = fd.train_perceptron(fd.GATE_INPUTS, fd.GATES["XOR"], epochs=50)
    assert not xor.converged and min(xor.errors_per_epoch) >= 1


def test_two_hidden_neurons_compute_xor():
    assert fd.xor_by_hand(fd.GATE_INPUTS).tolist() == fd.GATES["XOR"].tolist()


def test_a_trained_hidden_layer_solves_xor():
    assert fd.train_xor_mlp(8, seed=0) == 1.0


@pytest.mark.parametrize("teeth_log2", [1, 3, 5])
def test_exact_networks_reproduce_the_sawtooth_with_the_parameter_counts_of_the_lesson(teeth_log2):
    deep, shallow = fd.deep_sawtooth_net(teeth_log2), fd.shallow_sawtooth_net(teeth_log2)
    assert fd.max_error(deep, teeth_log2) < 1e-5
    assert fd.max_error(shallow, teeth_log2) < 1e-4
    assert fd.count_parameters(deep) == 6 * teeth_log2 + 1
    assert fd.count_parameters(shallow) == 3 * 2**teeth_log2 + 1


def test_sawtooth_has_two_to_the_l_pieces():
    x = np.linspace(0, 1, 4097)
    slopes = np.sign(np.diff(fd.sawtooth(x, 4)))
    assert int(np.sum(slopes[1:] != slopes[:-1])) + 1 == 16


def test_one_layer_needs_one_unit_per_piece():
    for teeth_log2 in (2, 3, 4):
        assert fd.shallow_units_needed(teeth_log2) == 2**teeth_log2
        assert fd.shallow_least_squares(teeth_log2, 2**teeth_log2 - 1) > 1e-3
