"""The digits data, the sample-quality metrics, bad input (shapes, dtypes, BatchNorm critics)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

import torch
from torch import nn

from femgp.errors import InputError
from femgp.ml.digits import check_digits
from femgp.ml.digits_gan import ConditionalCritic, ConditionalGenerator
from femgp.ml.penalties import r1_penalty, wgan_gp
from femgp.ml.robust import input_gradient_backward
from femgp.ml.sample_metrics import coverage, frechet_distance
from femgp.ml.training import critic_step

pytestmark = pytest.mark.torch

F64 = torch.float64


# -- Fréchet distance and coverage --------------------------------------------------------
def _reference_frechet(a: torch.Tensor, b: torch.Tensor) -> float:
    """Independent: tr sqrt(S_a S_b) from the eigenvalues of the (non-symmetric) product."""
    s_a, s_b = torch.cov(a.T), torch.cov(b.T)
    ev = torch.linalg.eigvals(s_a @ s_b)
    tr_sqrt = ev.sqrt().real.sum()
    return float((a.mean(0) - b.mean(0)).square().sum() + s_a.trace() + s_b.trace() - 2 * tr_sqrt)


def test_frechet_distance_against_a_reference_and_closed_forms() -> None:
    g = torch.Generator().manual_seed(0)
    a = torch.randn(400, 5, generator=g, dtype=F64) @ torch.randn(5, 5, generator=g, dtype=F64)
    b = torch.randn(300, 5, generator=g, dtype=F64) * 0.7 + 0.3
    assert frechet_distance(a, b) == pytest.approx(_reference_frechet(a, b), rel=1e-9)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    shift = torch.tensor([1.0, -2.0, 0.0, 0.5, 3.0], dtype=F64)
    assert frechet_distance(a, a + shift) == pytest.approx(float(shift @ shift), rel=1e-9)
    # scaling one set by s: tr(S) (1 - s)^2 for equal means at zero (centred)
    c = a - a.mean(0)
    assert frechet_distance(c, 2.0 * c) == pytest.approx(float(torch.cov(c.T).trace()), rel=1e-9)


def test_coverage_sees_mode_collapse() -> None:
    g = torch.Generator().manual_seed(1)
    real = torch.randn(300, 4, generator=g, dtype=F64)
    fresh = torch.randn(300, 4, generator=g, dtype=F64)
    assert coverage(real, real) == 1.0
    assert coverage(real, fresh) > 0.8
    collapsed = real[:1].repeat(300, 1)  # one prototype, however many copies
    assert coverage(real, collapsed) < 0.05
    assert coverage(real, fresh + 10.0) == 0.0


# -- bad input ---------------------------------------------------------------------------
def test_digits_and_labels_of_the_wrong_shape_or_dtype_name_both() -> None:
    x = torch.rand(6, 1, 8, 8)
    with pytest.raises(InputError, match=r"digits must have shape \(B, 1, 8, 8\), got \(6, 64\)"):
        check_digits(x.reshape(6, 64))
    with pytest.raises(InputError, match=r"floating-point .* got dtype torch.uint8 and shape"):
        check_digits((x * 16).to(torch.uint8))
    with pytest.raises(InputError, match=r"labels must have shape \(6,\).* got shape \(5,\) "
                                         r"\(digits has shape \(6, 1, 8, 8\)\)"):
        check_digits(x, torch.zeros(5, dtype=torch.long))
    with pytest.raises(InputError, match=r"labels must be integer class indices .* got dtype "
                                         r"torch.float32 \(shape \(6,\); digits has shape"):
        check_digits(x, torch.zeros(6))
    with pytest.raises(InputError, match=r"labels must lie in \[0, 9\], got values in \[0, 10\]"):
        check_digits(x, torch.tensor([0, 1, 2, 3, 4, 10]))
    G, D = ConditionalGenerator(z_dim=4, dim=8), ConditionalCritic(dim=8)
    with pytest.raises(InputError, match=r"c must have shape \(3,\).*got shape \(2,\) "
                                         r"\(z has shape \(3, 4\)\)"):
        G(torch.randn(3, 4), torch.tensor([1, 2]))
    with pytest.raises(InputError, match=r"x must have shape \(B, 1, 8, 8\), got \(3, 1, 7, 7\)"):
        D(torch.rand(3, 1, 7, 7), torch.tensor([1, 2, 3]))
    # a condition whose batch differs from the data's: both shapes named
    with pytest.raises(InputError, match=r"condition has batch size 2 but the data has batch size "
                                         r"6 \(shapes \(2,\) and \(6, 1, 8, 8\)\)"):
        wgan_gp(D, x, x, condition=torch.tensor([1, 2]))
    # a float condition in a critic step: the critic's message names the caller's
    # batch of 6, not the concatenated real + fake batch of 12 it first saw
    opt = torch.optim.SGD(D.parameters(), lr=0.1)
    with pytest.raises(InputError, match=r"c must be integer class indices .* got dtype "
                                         r"torch.float32 \(shape \(6,\); x has shape \(6, 1, 8"):
        critic_step(D, opt, x, x.clone(), condition=torch.zeros(6))


def test_batchnorm_critic_is_refused_naming_the_layer() -> None:
    critic = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
    real, fake = torch.randn(16, 3), torch.randn(16, 3)
    with pytest.raises(InputError, match=r"critic's layer '1' is a BatchNorm1d that normalises "
                                         r"over the batch"):
        wgan_gp(critic, real, fake)
    with pytest.raises(InputError, match="layer '1' is a BatchNorm1d"):
        r1_penalty(critic, real, gamma=1.0)
    y = torch.randint(2, (16,))

    def ce(out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(torch.cat([out, -out], 1), t, reduction="none")

    for form in ("exact", "finite_difference"):
        with pytest.raises(InputError, match="model's layer '1' is a BatchNorm1d"):
            input_gradient_backward(critic, ce, real, y, lam=0.1, form=form)
    # in eval mode the layer uses running statistics: per sample, accepted
    critic.eval()
    assert torch.isfinite(wgan_gp(critic, real, fake))
    # control: without running statistics it uses batch statistics even in eval mode
    no_stats = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8, track_running_stats=False),
                             nn.Linear(8, 1)).eval()
    with pytest.raises(InputError, match="layer '1' is a BatchNorm1d"):
        wgan_gp(no_stats, real, fake)
    # LayerNorm is per sample
    ln = nn.Sequential(nn.Linear(3, 8), nn.LayerNorm(8), nn.Linear(8, 1))
    assert torch.isfinite(wgan_gp(ln, real, fake))


def test_conditional_wgan_trains_in_the_data_dtype() -> None:
    """``load_split(dtype=torch.float64)`` data train a float64 GAN (latent codes included)."""
    from femgp.ml.digits import DigitsSplit
    from femgp.ml.digits_gan import GanConfig, generate, train_wgan

    g = torch.Generator().manual_seed(0)
    x = torch.rand(40, 1, 8, 8, generator=g, dtype=F64)
    y = torch.arange(40) % 10
    cfg = GanConfig(iters=2, n_critic=1, batch=8, dim=8, z_dim=4)
    for mode in ("gp", "clip"):
        G, _ = train_wgan(DigitsSplit(x, y, x, y), cfg, mode)
        fake, _ = generate(G, 1)
        assert fake.dtype == F64 and bool(torch.isfinite(fake).all()), mode


# -- the data (scikit-learn's bundled copy) ------------------------------------------------
def test_load_split_is_stratified_scaled_and_reproducible() -> None:
    pytest.importorskip("sklearn")
    from femgp.ml.digits import load_split

    s = load_split(test_fraction=0.3, seed=0)
    assert s.x_train.shape[1:] == (1, 8, 8) and s.x_train.dtype == torch.float32
    assert s.x_train.shape[0] + s.x_test.shape[0] == 1797
    assert float(s.x_train.min()) == 0.0 and float(s.x_train.max()) == 1.0
    counts = torch.bincount(s.y_test, minlength=10).double()
    totals = counts + torch.bincount(s.y_train, minlength=10).double()
    assert torch.all((counts / totals - 0.3).abs() < 0.01)
    again = load_split(test_fraction=0.3, seed=0)
    assert torch.equal(again.x_test, s.x_test)
    # disjoint: no test image appears in the training set at the same index set
    assert not torch.equal(load_split(seed=1).y_test, s.y_test)
    with pytest.raises(InputError, match="test_fraction must lie in"):
        load_split(test_fraction=1.0)


# -- the accuracy runs (minutes): the benchmark's targets ------------------------------------
@pytest.mark.slow
def test_conditional_wgan_gp_beats_weight_clipping_on_digits() -> None:
    pytest.importorskip("sklearn")
    from femgp.ml.digits import load_split, train_classifier
    from femgp.ml.digits_gan import GanConfig, compare

    split = load_split(seed=0)
    clf = train_classifier(split.x_train, split.y_train, epochs=30)
    runs = compare(split, GanConfig(), clf)
    gp, clip = runs["gp"]["quality"], runs["clip"]["quality"]
    assert gp.accuracy >= 0.8 and gp.classes_covered == 10
    assert gp.accuracy > clip.accuracy and gp.mean_coverage > clip.mean_coverage
    assert gp.frechet < clip.frechet and gp.classes_covered >= clip.classes_covered


@pytest.mark.slow
def test_input_gradient_penalty_resists_pgd_on_digits() -> None:
    pytest.importorskip("sklearn")
    from femgp.ml.digits import load_split
    from femgp.ml.digits_robust import RobustConfig, attack_report, train_robust

    split = load_split(seed=0)
    cfg = RobustConfig()
    plain = attack_report(train_robust(split, cfg, lam=0.0)[0], split.x_test, split.y_test, cfg)
    pen = attack_report(train_robust(split, cfg, lam=cfg.lam)[0], split.x_test, split.y_test, cfg)
    assert abs(plain["clean"] - pen["clean"]) <= 0.03
    for key in (f"pgd_l2@{max(cfg.eps_l2):g}", f"pgd_linf@{max(cfg.eps_linf):g}"):
        assert pen[key] >= plain[key] + 0.15, key
