"""The one learning-rate schedule (train/schedule.py) that pose and detector training share."""
import pytest

from handpose.train.schedule import warmup_cosine


def test_warm_up_is_linear_and_never_zero_then_the_cosine_falls_to_zero():
    assert 0 < warmup_cosine(0, 10, 100) <= 1e-3  # the first step still moves
    assert warmup_cosine(5, 10, 100) == pytest.approx(0.5)
    assert warmup_cosine(10, 10, 100) == pytest.approx(1.0)
    assert warmup_cosine(55, 10, 100) == pytest.approx(0.5)  # half way through the cosine
    assert warmup_cosine(100, 10, 100) == pytest.approx(0.0, abs=1e-12)
    assert warmup_cosine(150, 10, 100) == pytest.approx(0.0, abs=1e-12)  # past the end: stays at zero
    steps = [warmup_cosine(s, 10, 100) for s in range(10, 101)]
    assert all(a >= b for a, b in zip(steps, steps[1:]))  # falls monotonically after the warm-up


def test_without_warm_up_it_starts_at_the_full_rate():
    assert warmup_cosine(0, 0, 50) == pytest.approx(1.0)
