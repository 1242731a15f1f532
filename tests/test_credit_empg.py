"""EMPG: entropy-modulated episode advantages with the future-clarity bonus (hand-computed)."""

import pytest

from tests.credit_trajs import traj
from trainers.credit import Signals, get_credit


def assign(group, entropy, **kw):
    return get_credit("empg", **kw).assign(group, Signals(entropy=entropy))


def test_hand_computed_mixed_lengths():
    # H: A [.5, 1.5], B [1.0] -> min-max over all turns: A [0, 1], B [.5]
    # weights e^-H: [1, .367879, .606531], mean .658137; A_i = +-.707107 (R = [1, 0])
    # A1 = 1/.658137 * .707107 + .1 * e^-1 = 1.111195; A2 = .367879/.658137 * .707107 = .395252 (no next turn)
    # B1 = -.606531/.658137 * .707107 = -.651661
    adv = assign([traj(1.0, turns=2), traj(0.0, sample=1)], [[0.5, 1.5], [1.0]])
    assert adv[0] == pytest.approx([1.111195, 0.395252], abs=1e-5)
    assert adv[1] == pytest.approx([-0.651661], abs=1e-5)


def test_equal_entropies_and_equal_outcomes():
    group = [traj(1.0, turns=2), traj(0.0, turns=2, truncated=True, sample=1)]
    # all H equal -> normalized 0, scale 1, bonus .1 on every turn that has a next turn
    assert assign(group, [[2.0, 2.0], [2.0, 2.0]]) == [pytest.approx([0.807107, 0.707107], abs=1e-5),
                                                       pytest.approx([-0.607107, -0.707107], abs=1e-5)]
    # all outcomes equal: only the bonus remains
    same = [traj(1.0, turns=2), traj(1.0, turns=1, sample=1)]
    assert assign(same, [[0.0, 1.0], [0.0]]) == [pytest.approx([0.1 * 0.367879, 0.0], abs=1e-5), [0.0]]


def test_entropy_rows_must_match_turns():
    with pytest.raises(ValueError, match="entropy has 1 values"):
        assign([traj(1.0, turns=2)], [[0.3]])
