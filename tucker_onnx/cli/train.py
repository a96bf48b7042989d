"""`tucker-onnx train`: dense, decompose+fine-tune and ADMM Tucker training on real data, exported to ONNX."""
from __future__ import annotations

import json

import click

from .options import guarded, verbosity


@click.command()
@click.option("--model", default="resnet18", show_default=True, help="resnet18, resnet50, vgg16, densenet121, smallcnn")
@click.option("--data", default="fashion-mnist", show_default=True, help="fashion-mnist, digits or folder")
@click.option("--data-dir", default=None, help="IDX folder (fashion-mnist) or ImageFolder root (folder).")
@click.option("--limit", type=int, default=None, help="Use only the first N train/test images.")
@click.option("--ratio", type=float, default=0.25, show_default=True, help="Ranks as a fraction of channels.")
@click.option("--plan", default=None, help="Per-layer ranks JSON (the format decompose reads).")
@click.option("--multiple", type=int, default=8, show_default=True)
@click.option("--methods", default="dense,decompose,admm", show_default=True)
@click.option("--dense-weights", default=None,
              help="Start from this trained dense model (a state dict, e.g. a run's dense_final.pt; '{seed}' in the "
              "path is replaced by the seed); with --epochs 0 it is used as it is.")
@click.option("--epochs", type=int, default=10, show_default=True, help="Dense training epochs.")
@click.option("--admm-epochs", type=int, default=5, show_default=True)
@click.option("--finetune-epochs", type=int, default=5, show_default=True)
@click.option("--lr", type=float, default=0.05, show_default=True)
@click.option("--admm-lr", type=float, default=0.01, show_default=True)
@click.option("--admm-schedule", type=click.Choice(["cosine", "constant"]), default="cosine", show_default=True,
              help="lr over the ADMM phase: cosine to 0, or constant at --admm-lr (fine-tuning anneals afterwards).")
@click.option("--finetune-lr", type=float, default=0.01, show_default=True)
@click.option("--admm-finetune-lr", type=float, default=0.01, show_default=True,
              help="Fine-tuning lr after ADMM (Yin et al.: 0.001; 0.01 ended higher on Fashion-MNIST).")
@click.option("--batch-size", type=int, default=128, show_default=True)
@click.option("--rho", type=float, default=0.05, show_default=True)
@click.option("--rho-growth", type=float, default=2.0, show_default=True)
@click.option("--admm-z-every", type=int, default=0, show_default=True,
              help="Also run ADMM's Z- and U-steps every N optimizer steps (0: once per epoch, as Yin et al.).")
@click.option("--admm-penalty", type=click.Choice(["plain", "tangent"]), default="plain", show_default=True,
              help="tangent: ADMM's penalty pulls each weight towards Z only across its direction, not its norm (the "
              "constrained convs feed BatchNorms, which ignore their scale).")
@click.option("--admm-rank-warmup", type=int, default=0, show_default=True,
              help="ADMM epochs over which Z's ranks shrink geometrically from the channels to the targets (0: the "
              "targets from the start).")
@click.option("--distill", type=float, default=0.0, show_default=True,
              help="Weight of the trained dense model's logits (knowledge distillation) in every Tucker phase, both methods.")
@click.option("--distill-temp", type=float, default=4.0, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--seeds", default=None, help="Several runs, e.g. 0,1,2: each in OUT/seed<N>, then mean and spread per "
              "method and how often ADMM beats decompose + fine-tune (replaces --seed).")
@click.option("--deterministic/--fast", default=True, show_default=True,
              help="Deterministic GPU kernels, so a seed reproduces its run (--fast: cuDNN's autotuned algorithms).")
@click.option("--device", default="auto", show_default=True)
@click.option("--out", default="runs/train", show_default=True, help="Run folder (config, logs, checkpoints, ONNX).")
@click.option("--resume", is_flag=True, help="Continue the run saved in --out.")
@click.option("--no-export", is_flag=True)
@verbosity
@guarded
def train(ratio, plan, methods, seed, seeds, out, resume, no_export, verbose, **knobs):
    """Train a dense model, then Tucker versions by decompose+fine-tune and by ADMM, at the same ranks and budget."""
    from pathlib import Path

    from trainer.config import TrainConfig
    from trainer.train import Run, seeds_summary, summary_table
    from ..errors import TuckerOnnxError
    from ..model_io import write_atomic
    try:
        seed_list = [int(v) for v in seeds.split(",") if v.strip()] if seeds else [seed]
    except ValueError:
        raise TuckerOnnxError(f"--seeds must be integers separated by commas, got {seeds!r}") from None
    if not seed_list:
        raise TuckerOnnxError("--seeds names no seed")
    per_seed = {}
    for s in seed_list:
        run_out = str(Path(out, f"seed{s}")) if seeds else out
        # The other options map one to one onto TrainConfig's fields (same names).
        cfg = TrainConfig(ratio=None if plan else ratio, plan=plan, seed=s, out=run_out,
                          methods=tuple(m.strip() for m in methods.split(",") if m.strip()), **knobs)
        run = Run(cfg, resume=resume)
        click.echo(f"seed {s}: {len(run.ranks)} Tucker-constrained conv(s) on {run.device}; "
                   f"data {run.data.name} {tuple(run.data.train_x.shape)}")
        results = run.run(resume=resume)
        table = summary_table(results)
        click.echo(table)
        report = {"config": cfg.to_dict(), "results": results, "ranks": run.ranks}
        # Written before the export too: a run cut off while exporting keeps its results.
        write_atomic(Path(run_out, "results.md"), table + "\n")
        write_atomic(Path(run_out, "results.json"), json.dumps(report, indent=1, default=str))
        if not no_export:
            for phase in ("admm_ft", "decompose_ft"):
                if phase in results:
                    report[f"export_{phase}"] = info = run.export(phase)
                    click.echo(f"exported {phase}: {info['onnx']} -> fused {info.get('fused', 0)} TuckerConv, "
                               f"max |diff| vs PyTorch {info.get('max_abs_diff', 0):.2e}, "
                               f"same predictions: {info.get('same_predictions')}")
            write_atomic(Path(run_out, "results.json"), json.dumps(report, indent=1, default=str))
        per_seed[s] = results
    if seeds:
        agg = seeds_summary(per_seed)
        click.echo(agg["table"])
        write_atomic(Path(out, "results.json"), json.dumps(agg, indent=1, default=str))
        write_atomic(Path(out, "results.md"), agg["table"] + "\n")
