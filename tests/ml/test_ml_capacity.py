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


def test_both_differences_have_the_same_l2_size() -> None:
    cfg = CapacityConfig()
    g = torch.Generator().manual_seed(0)
    real, _fake = image_sets("coarse", 16, cfg, generator=g)
    assert real.shape == (16, 64)
    assert cfg.distance == pytest.approx(8 * 0.2 * 0.25)


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
    with pytest.raises(ValueError, match="size must be an integer >= 4"):
        CapacityConfig(size=2)
    with pytest.raises(ValueError, match="unknown task 'medium'"):
        image_sets("medium", 4, CapacityConfig(), generator=torch.Generator())
