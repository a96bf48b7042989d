"""Orchestration: config -> data -> model -> phases (dense, decompose+fine-tune, ADMM + fine-tune) -> report.

Every epoch appends a row to log.csv / log.json and writes last.pt (model, optimizer, ADMM state, RNG), so
`--resume` continues the same run. Phases share the dense model as their start, and decompose+fine-tune gets
the same epoch budget as ADMM + fine-tune.
"""
from __future__ import annotations

import csv
import json
import pickle
import time
from pathlib import Path

import torch

from tucker_onnx.errors import TuckerOnnxError

from .admm import AdmmState, constrained_norm, select_convs, to_tucker
from .config import TrainConfig
from .data import load_dataset
from .loop import evaluate, train_epoch
from .models import build_model, conv_macs

PHASE_IDS = {"dense": 0, "decompose_ft": 1, "admm": 2, "admm_ft": 3}
LOG_FIELDS = ["phase", "epoch", "lr", "rho", "train_loss", "train_acc", "test_loss", "test_acc", "admm_residual", "weight_norm", "seconds"]


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _set_determinism(on: bool) -> None:
    """On an H200 the same seed gave dense accuracies up to 0.6 points apart with cuDNN's autotuned (benchmark)
    algorithms; deterministic kernels make a seed reproduce. Ops without a deterministic CUDA kernel warn instead
    of failing (warn_only)."""
    if on:
        import os
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # read when cuBLAS starts
    torch.backends.cudnn.benchmark = not on
    torch.backends.cudnn.deterministic = on
    torch.use_deterministic_algorithms(on, warn_only=True)


def _phases(cfg: TrainConfig) -> list[tuple[str, int]]:
    ph = [("dense", cfg.epochs)]
    if "decompose" in cfg.methods:
        ph.append(("decompose_ft", cfg.admm_epochs + cfg.finetune_epochs))
    if "admm" in cfg.methods:
        ph += [("admm", cfg.admm_epochs), ("admm_ft", cfg.finetune_epochs)]
    return ph


class Run:
    def __init__(self, cfg: TrainConfig, resume: bool = False, progress: bool = True):
        self.cfg = cfg.validate()
        self.out = Path(cfg.out)
        self.progress = progress
        if self.out.exists() and any(self.out.iterdir()) and not resume:
            raise TuckerOnnxError(f"{self.out}: run folder exists and is not empty; use --resume or another --out")
        self.out.mkdir(parents=True, exist_ok=True)
        self.device = _device(cfg.device)
        torch.manual_seed(cfg.seed)
        _set_determinism(cfg.deterministic)
        self.data = load_dataset(cfg.data, cfg.data_dir, cfg.limit, cfg.seed)
        plan = None
        if cfg.plan:
            from tucker_onnx.decompose.ranks import load_plan
            plan = load_plan(cfg.plan)
        probe = build_model(cfg.model, self.data.shape[0], self.data.num_classes)
        self.ranks = select_convs(probe, cfg.ratio if plan is None else None, plan, cfg.multiple, cfg.min_channels)
        self.history: list[dict] = []
        self.results: dict[str, dict] = {}
        self.start_acc: dict[str, float] = {}  # Tucker phases: test accuracy right after the conversion
        self.state = {"phase_idx": 0, "epoch": 0}
        (self.out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=1))

    # -- models per phase -------------------------------------------------------------------
    def _fresh(self, tucker: bool):
        m = build_model(self.cfg.model, self.data.shape[0], self.data.num_classes)
        if tucker:
            to_tucker(m, self.ranks)
        return m.to(self.device)

    def _phase_start(self, phase: str):
        """The model a phase begins from, built from the saved outputs of earlier phases."""
        if phase == "dense":
            model = self._fresh(False)
            if self.cfg.dense_weights is not None:
                path = self.cfg.dense_weights_path()
                try:
                    model.load_state_dict(torch.load(path, map_location=self.device))
                except (RuntimeError, KeyError, OSError, EOFError, pickle.UnpicklingError) as e:
                    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                    raise TuckerOnnxError(f"--dense-weights {path}: not a {self.cfg.model} state dict for "
                                          f"{self.data.name} ({first})") from None
            return model
        dense = self._fresh(False)
        dense.load_state_dict(torch.load(self.out / "dense_final.pt", map_location=self.device))
        if phase == "decompose_ft":
            return to_tucker(dense, self.ranks).to(self.device)
        if phase == "admm":
            return dense
        admm = self._fresh(False)
        admm.load_state_dict(torch.load(self.out / "admm_final.pt", map_location=self.device))
        return to_tucker(admm, self.ranks).to(self.device)

    def _lr(self, phase):
        return {"dense": self.cfg.lr, "admm": self.cfg.admm_lr, "admm_ft": self.cfg.admm_finetune_lr}.get(
            phase, self.cfg.finetune_lr)

    # -- checkpointing ------------------------------------------------------------------------
    def _save(self, model, opt, sched, admm):
        ck = {"config": self.cfg.to_dict(), "state": self.state, "model": model.state_dict(), "opt": opt.state_dict(),
              "sched": sched.state_dict(), "admm": admm.state_dict() if admm else None, "history": self.history,
              "results": self.results, "start_acc": self.start_acc, "torch_rng": torch.get_rng_state(),
              "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}
        tmp = self.out / "last.pt.tmp"
        torch.save(ck, tmp)
        tmp.replace(self.out / "last.pt")

    def _write_logs(self):
        with open(self.out / "log.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=LOG_FIELDS)
            w.writeheader()
            for r in self.history:
                w.writerow({k: r.get(k, "") for k in LOG_FIELDS})
        (self.out / "log.json").write_text(json.dumps(self.history, indent=1))

    # -- the run ------------------------------------------------------------------------------
    def run(self, resume: bool = False) -> dict:
        ck = None
        if resume and (self.out / "last.pt").exists():
            ck = torch.load(self.out / "last.pt", map_location=self.device, weights_only=False)
            if ck["config"] != self.cfg.to_dict():
                raise TuckerOnnxError("--resume with a different configuration than the saved run")
            self.state, self.history, self.results = ck["state"], ck["history"], ck["results"]
            self.start_acc = ck.get("start_acc", {})
            torch.set_rng_state(ck["torch_rng"])
            if ck["cuda_rng"] is not None and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(ck["cuda_rng"])
        phases = _phases(self.cfg)
        d = self.data
        x, y = d.train_x.to(self.device), d.train_y.to(self.device)
        tx, ty = d.test_x.to(self.device), d.test_y.to(self.device)
        for pi in range(self.state["phase_idx"], len(phases)):
            phase, n_epochs = phases[pi]
            tucker = phase in ("decompose_ft", "admm_ft")
            start_epoch = self.state["epoch"] if pi == self.state["phase_idx"] else 0
            if ck is not None and pi == ck["state"]["phase_idx"] and start_epoch > 0:
                model = self._fresh(tucker)
                model.load_state_dict(ck["model"])
            else:
                model = self._phase_start(phase)
            opt = torch.optim.SGD(model.parameters(), lr=self._lr(phase), momentum=self.cfg.momentum,
                                  weight_decay=self.cfg.weight_decay)
            if phase == "admm" and self.cfg.admm_schedule == "constant":
                sched = torch.optim.lr_scheduler.ConstantLR(opt, factor=1.0, total_iters=0)
            else:
                sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, n_epochs))
            admm = None
            if phase == "admm":
                admm = (AdmmState.from_state_dict(ck["admm"]) if ck is not None and start_epoch > 0 and ck["admm"]
                        else AdmmState.init(model, self.ranks, self.cfg.rho, self.cfg.admm_penalty == "tangent",
                                            self.cfg.admm_rank_warmup))
            if ck is not None and start_epoch > 0:
                opt.load_state_dict(ck["opt"])
                sched.load_state_dict(ck["sched"])
            if tucker and start_epoch == 0:  # what the decomposition alone keeps, before any fine-tuning
                self.start_acc[phase] = evaluate(model, tx, ty, 512, self.device)["test_acc"]
            teacher = None
            if self.cfg.distill > 0 and phase != "dense":  # same teacher for both Tucker methods: a fair budget
                teacher = self._fresh(False)
                teacher.load_state_dict(torch.load(self.out / "dense_final.pt", map_location=self.device))
                teacher.eval()
            for epoch in range(start_epoch, n_epochs):
                t0 = time.perf_counter()
                if admm is not None and epoch > 0:
                    admm.begin_epoch(model, epoch)
                    admm.update(model)  # Z- and U-steps at the start of each epoch
                # Seeded by phase name, not position: a run without some method shuffles the others' data alike.
                gen = torch.Generator().manual_seed(self.cfg.seed * 100003 + PHASE_IDS[phase] * 1009 + epoch)
                bar = None
                if self.progress:
                    from tqdm import tqdm
                    bar = tqdm(total=(len(y) + self.cfg.batch_size - 1) // self.cfg.batch_size,
                               desc=f"{phase} {epoch + 1}/{n_epochs}", leave=False, disable=None)
                every = self.cfg.admm_z_every if admm is not None else 0

                def z_step(i, every=every, admm=admm, model=model):  # ADMM's Z/U-steps within the epoch
                    if (i + 1) % every == 0:
                        admm.update(model)
                row = train_epoch(model, x, y, opt, self.cfg.batch_size, self.device, gen,
                                  admm.penalty if admm is not None else None, bar, teacher=teacher,
                                  distill=self.cfg.distill, temp=self.cfg.distill_temp,
                                  after_step=z_step if every else None)
                if bar is not None:
                    bar.close()
                sched.step()
                row |= evaluate(model, tx, ty, 512, self.device)
                row["weight_norm"] = constrained_norm(model, self.ranks)
                if admm is not None:
                    row["admm_residual"] = admm.residual(model)
                    row["rho"] = admm.rho
                    admm.set_rho(admm.rho * self.cfg.rho_growth)
                row |= {"phase": phase, "epoch": epoch + 1, "lr": opt.param_groups[0]["lr"],
                        "seconds": time.perf_counter() - t0}
                self.history.append(row)
                self.state = {"phase_idx": pi, "epoch": epoch + 1}
                self._save(model, opt, sched, admm)
                self._write_logs()
                if self.progress:
                    extra = f" residual {row['admm_residual']:.4f}" if "admm_residual" in row else ""
                    extra += f"  |W| {row['weight_norm']:.2f}"
                    print(f"{phase:12s} epoch {epoch + 1:3d}/{n_epochs}  loss {row['train_loss']:.4f}  "
                          f"test acc {row['test_acc']:.2f}%{extra}  ({row['seconds']:.1f}s)", flush=True)
            final = {"test_acc": evaluate(model, tx, ty, 512, self.device)["test_acc"],
                     "params": sum(p.numel() for p in model.parameters()),
                     "conv_macs": conv_macs(model, d.shape)}
            if phase in self.start_acc:
                final["start_acc"] = self.start_acc[phase]
            self.results[phase] = final
            torch.save(model.state_dict(), self.out / f"{phase}_final.pt")
            self.state = {"phase_idx": pi + 1, "epoch": 0}
            ck = None
            self._save(model, opt, sched, admm)
        return self.results

    def export(self, phase: str) -> dict:
        from .export import export_onnx
        model = self._fresh(phase in ("decompose_ft", "admm_ft"))
        model.load_state_dict(torch.load(self.out / f"{phase}_final.pt", map_location=self.device))
        return export_onnx(model, self.data.shape, self.out / f"{phase}.onnx")


def summary_table(results: dict) -> str:
    names = {"dense": "dense", "decompose_ft": "decompose + fine-tune", "admm_ft": "ADMM + fine-tune"}
    dense = results.get("dense")
    lines = ["| method | test acc % | before fine-tuning | params | conv MACs | MACs cut |",
             "|---|---|---|---|---|---|"]
    for k, label in names.items():
        r = results.get(k)
        if not r:
            continue
        cut = f"{dense['conv_macs'] / r['conv_macs']:.2f}x" if dense else "-"
        start = f"{r['start_acc']:.2f}" if "start_acc" in r else "-"
        lines.append(f"| {label} | {r['test_acc']:.2f} | {start} | {r['params'] / 1e6:.3f}M | "
                     f"{r['conv_macs'] / 1e6:.1f}M | {cut} |")
    return "\n".join(lines)


def seeds_summary(per_seed: dict[int, dict]) -> dict:
    """Test accuracy per method over seeds (mean, sample std, each seed), and the paired ADMM - decompose gap:
    with one seed a 0.1-point difference is noise; the paired gap over seeds says more."""
    import statistics
    names = {"dense": "dense", "decompose_ft": "decompose + fine-tune", "admm_ft": "ADMM + fine-tune"}
    seeds = sorted(per_seed)
    stats, lines = {}, [f"| method | mean test acc % | std | {' | '.join(f'seed {s}' for s in seeds)} |",
                        "|---|---|---|" + "---|" * len(seeds)]
    for k, label in names.items():
        accs = [per_seed[s][k]["test_acc"] for s in seeds if k in per_seed[s]]
        if len(accs) != len(seeds):
            continue
        sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
        stats[k] = {"mean": statistics.mean(accs), "std": sd, "per_seed": dict(zip(seeds, accs))}
        lines.append(f"| {label} | {stats[k]['mean']:.2f} | {sd:.2f} | {' | '.join(f'{a:.2f}' for a in accs)} |")
    out = {"seeds": seeds, "methods": stats}
    if "admm_ft" in stats and "decompose_ft" in stats:
        gaps = [stats["admm_ft"]["per_seed"][s] - stats["decompose_ft"]["per_seed"][s] for s in seeds]
        out["admm_minus_decompose"] = {"mean": statistics.mean(gaps), "per_seed": dict(zip(seeds, gaps)),
                                       "admm_wins": sum(g > 0 for g in gaps)}
        lines.append(f"\nADMM - decompose+FT (paired by seed): mean {statistics.mean(gaps):+.2f} points, "
                     f"ADMM ahead on {out['admm_minus_decompose']['admm_wins']} of {len(seeds)} seeds")
    if "admm_ft" in stats and "dense" in stats:
        out["dense_minus_admm"] = stats["dense"]["mean"] - stats["admm_ft"]["mean"]
        lines.append(f"dense - ADMM: {out['dense_minus_admm']:+.2f} points (mean over seeds)")
    out["table"] = "\n".join(lines)
    return out
