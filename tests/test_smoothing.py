import numpy as np

from handpose.smoothing import OneEuroFilter, OneEuroParams, jitter


def run(flt, xs, fps=30.0, scale=100.0):
    return [flt(x, i / fps, scale) for i, x in enumerate(xs)]


def test_still_noisy_hand_jitters_less():
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 300, (21, 2))
    noisy = [base + rng.normal(0, 2.0, base.shape) for _ in range(90)]
    smooth = run(OneEuroFilter(), noisy)
    assert jitter(smooth[10:]) < 0.4 * jitter(noisy[10:])
    # and it stays on the hand: the mean error is smaller than the noise itself
    assert np.linalg.norm(np.array(smooth[30:]) - base, axis=-1).mean() < np.linalg.norm(np.array(noisy[30:]) - base, axis=-1).mean()


def test_speed_raises_the_cutoff():
    """On a hand moving steadily, a larger beta follows it more closely (less lag)."""
    xs = [np.full((21, 2), 5.0 * i) for i in range(60)]  # 150 px/s at 30 fps, hand size 100 px
    lag = lambda beta: abs(run(OneEuroFilter(OneEuroParams(1.0, beta, 1.0)), xs)[-1] - xs[-1]).mean()
    assert lag(10.0) < 0.5 * lag(0.0)
    assert lag(10.0) < 5.0  # under one frame of motion behind


def test_reset_passes_the_next_value_through():
    flt = OneEuroFilter()
    run(flt, [np.zeros((21, 2))] * 5)
    assert not np.allclose(flt(np.full((21, 2), 50.0), 1.0), 50.0)  # filtered: lags behind the jump
    flt.reset()
    np.testing.assert_allclose(flt(np.full((21, 2), 80.0), 1.1), 80.0)


def test_scale_invariance():
    """The same motion at twice the size (and a twice bigger hand) is filtered the same, in proportion."""
    rng = np.random.default_rng(1)
    xs = [np.cumsum(rng.normal(0, 3, (21, 2)), 0) + i for i in range(30)]
    a = run(OneEuroFilter(), xs, scale=100.0)
    b = run(OneEuroFilter(), [2 * x for x in xs], scale=200.0)
    np.testing.assert_allclose(2 * np.array(a), np.array(b), rtol=1e-4, atol=1e-3)
