# # A conditional WGAN-GP on real data: the 8x8 digits, against weight clipping
#
# scikit-learn ships 1797 handwritten digits of 8x8 pixels (no download). We
# train a *conditional* WGAN on them twice, from the same seed and for the
# same number of iterations:
#
# * with the gradient penalty, ``lam E[(||grad_x D(x_hat, c)|| - 1)^2]`` on
#   interpolates between a real and a generated digit of the *same* class
#   ``c`` (the condition is passed through, never penalised);
# * with weight clipping (the original WGAN: every critic weight in
#   ``[-0.01, 0.01]``, RMSprop), the constraint the penalty replaced.
#
# Sample quality is measured with a classifier trained on the real training
# digits (about 97% accurate on the test digits):
#
# * its **accuracy on generated digits**, given the condition (did ``G(z, 3)``
#   draw a 3?), overall and per class; a class counts as covered when at least
#   half of its samples are recognised;
# * the **per-class coverage** (Naeem et al. 2020): the fraction of real test
#   digits of each class that have a generated digit of that class among their
#   5 nearest neighbours, in the classifier's feature space (a generator that
#   draws one prototype per class covers little);
# * the **Fréchet distance** between real and generated digits in that feature
#   space (FID with a digits classifier in place of Inception).
#
#     python demos/digits_wgan_gp.py            # a few minutes on 1-2 CPU cores
#     python demos/digits_wgan_gp.py --dry-run  # seconds
#
# It writes ``samples.png`` (one row per class for each critic) and
# ``summary.json`` to ``--output``.

from __future__ import annotations

import argparse
import sys

import matplotlib

matplotlib.use("Agg")

from femgp.cli import args as cli
from femgp.cli.ml import MAX_SAMPLES, add_wgan_options, samples
from femgp.ml.digits import load_split, train_classifier
from femgp.ml.digits_gan import GanConfig, compare, grid_figure
from femgp.ml.scripts import save_figure, write_json


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = cli.TorchDemoParser(
        description="Conditional WGAN-GP on scikit-learn's 8x8 digits, against weight clipping",
        default_output="results/digits_wgan_gp",
    )
    add_wgan_options(p, iters=600, dim=128, n_critic=2, batch=128, lr=1e-3)
    p.add_argument("--clip", type=cli.positive_float, default=0.01, help="clipping bound")
    p.add_argument(
        "--per-class", type=samples, default=200, help=f"samples per class (1 to {MAX_SAMPLES})"
    )
    p.add_argument("--classifier-epochs", type=cli.positive_int, default=30)
    args = p.parse_args(argv)
    if args.dry_run:
        args.iters, args.per_class = min(args.iters, 5), min(args.per_class, 20)
        args.classifier_epochs = min(args.classifier_epochs, 2)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    split = load_split(seed=args.seed)
    clf = train_classifier(split.x_train, split.y_train, epochs=args.classifier_epochs,
                           seed=args.seed)
    clf_acc = float((clf(split.x_test).argmax(1) == split.y_test).float().mean())
    print(f"classifier accuracy on the real test digits: {clf_acc:.3f}")
    config = GanConfig(iters=args.iters, n_critic=args.n_critic, batch=args.batch, lr=args.lr,
                       lam=args.lam, clip=args.clip, dim=args.dim, seed=args.seed)

    # ## Training and evaluation
    #
    # Both critics see the same real batches' sizes, the same number of steps
    # and the same seed; only the Lipschitz constraint (and each paper's
    # optimiser) differs.
    runs = compare(split, config, clf, per_class=args.per_class)
    print(f"{'critic':<16} {'accuracy':>9} {'classes':>8} {'coverage':>9} {'Frechet':>8} "
          f"{'seconds':>8}")
    summary = {}
    for mode, label in (("gp", "gradient penalty"), ("clip", "weight clipping")):
        q = runs[mode]["quality"]
        print(f"{label:<16} {q.accuracy:>9.3f} {q.classes_covered:>5d}/10 {q.mean_coverage:>9.3f} "
              f"{q.frechet:>8.2f} {runs[mode]['seconds']:>8.1f}")
        summary[mode] = {**q.as_dict(), "seconds": runs[mode]["seconds"]}
    print("per-class accuracy (gp):  ", " ".join(f"{a:.2f}" for a in runs["gp"]["quality"]
                                                 .per_class_accuracy))
    print("per-class coverage (gp):  ", " ".join(f"{a:.2f}" for a in runs["gp"]["quality"]
                                                 .per_class_coverage))

    fig = grid_figure({"gradient penalty": runs["gp"]["generator"],
                       "weight clipping": runs["clip"]["generator"]})
    plot = save_figure(fig, args.output / "samples.png")
    write_json(args.output / "summary.json", {
        "args": cli.recorded(args),
        "classifier_accuracy": clf_acc, "results": summary, "plots": [str(plot)],
    })
    print(f"results in {args.output}/")
    return 0


if __name__ == "__main__":
    sys.exit(cli.script_main(main, serial=True))
