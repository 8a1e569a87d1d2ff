"""The penalty controls the critic's capacity: fine-texture gap shrinks relative to coarse."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

import torch

from femgp.ml.capacity import CapacityConfig, image_sets, score_gaps, sweep

pytestmark = pytest.mark.torch


@pytest.fixture(autouse=True)
def _one_thread():
    """Small networks train fastest (and reproducibly) on one thread of a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.mark.parametrize("size", [7, 8, 11])
def test_both_differences_have_the_same_l2_size(size: int) -> None:
    """Measured on the images: both differences have l2 size ``cfg.distance``.

    With the same seed the two tasks draw the same real set and the same smooth
    content and texture phases for the fakes, so ``fake_coarse - fake_fine`` is
    ``offset - delta * texture`` image by image: its pixel mean is the coarse
    offset, the rest the fine change.
    """
    cfg = CapacityConfig(size=size)
    real_f, fake_f = image_sets("fine", 64, cfg, generator=torch.Generator().manual_seed(0))
    real_c, fake_c = image_sets("coarse", 64, cfg, generator=torch.Generator().manual_seed(0))
    assert real_f.shape == (64, size * size) and torch.equal(real_f, real_c)
    d = (fake_c - fake_f).double()
    mean = d.mean(dim=1, keepdim=True)
    want = torch.full((64,), cfg.distance, dtype=torch.float64)
    # float32 images: measured relative error 1e-6
    torch.testing.assert_close(size * mean.squeeze(1), want, rtol=1e-5, atol=0)  # coarse
    torch.testing.assert_close((d - mean).norm(dim=1), want, rtol=1e-5, atol=0)  # fine
    assert cfg.distance == pytest.approx(size * 0.2 * 0.25)


def test_fine_detail_gap_shrinks_relative_to_coarse_as_lambda_grows() -> None:
    cfg = CapacityConfig(steps=300, hidden=64, n_train=1024, n_test=1000)
    weak, strong = sweep([0.1, 100.0], cfg, seed=0)
    # a weak penalty inflates both gaps well beyond the l2 distance (hypersensitive critic)
    assert weak.coarse > 1.5 * cfg.distance and weak.fine > cfg.distance
    # a strong one keeps the coarse gap near the distance, the fine one falls behind
    assert strong.coarse == pytest.approx(cfg.distance, rel=0.5)
    assert strong.ratio < 0.8 * weak.ratio


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="lam must be >= 0"):
        score_gaps(-1.0, CapacityConfig(steps=1))
    for size in (2, 4, 6):  # the 3-cycle texture would alias (at 6: phase-dependent contrast)
        with pytest.raises(ValueError, match="size must be an integer >= 7"):
            CapacityConfig(size=size)
    with pytest.raises(ValueError, match="unknown task 'medium'"):
        image_sets("medium", 4, CapacityConfig(), generator=torch.Generator())
