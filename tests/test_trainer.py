"""The ADMM trainer on CPU with small real data (scikit-learn digits; Fashion-MNIST IDX reading)."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from trainer.admm import constrained_norm, project, select_convs, to_tucker, tucker2_factors
from trainer.config import TrainConfig
from trainer.data import FASHION_DIRS, load_fashion_mnist
from trainer.models import SmallCNN, build_model
from trainer.train import Run
from tucker_onnx.cli.main import cli
from tucker_onnx.errors import TuckerOnnxError


def _unfold_rank(w, mode, tol=1e-5):
    m = w.transpose(0, mode).reshape(w.shape[mode], -1) if mode else w.reshape(w.shape[0], -1)
    s = torch.linalg.svdvals(m.double())
    return int((s > tol * s[0]).sum())


@pytest.mark.parametrize("shape,r_in,r_out", [((32, 16, 3, 3), 4, 8), ((24, 24, 5, 5), 7, 5), ((16, 8, 3, 3), 8, 3)])
def test_z_step_projects_onto_the_ranks(shape, r_in, r_out):
    w = torch.randn(*shape)
    z = project(w, r_in, r_out)
    assert _unfold_rank(z, 0) == r_out and _unfold_rank(z, 1) == r_in
    # a tensor already in the set is a fixed point of the projection
    np.testing.assert_allclose(project(z, r_in, r_out).numpy(), z.numpy(), atol=1e-4)
    # and the projection is no worse than a plain truncated HOSVD
    w_in, core, w_out = tucker2_factors(w, r_in, r_out, n_iter=0)
    hosvd = torch.einsum("abij,na,bc->ncij", core, w_out, w_in)
    assert torch.linalg.norm(w - z) <= torch.linalg.norm(w - hosvd) + 1e-4


def _admm_after_one_update(rho):
    """A SmallCNN, its ranks and an ADMM state whose U is non-zero: Z from the initial weights, then the weights moved
    and one Z/U-step."""
    from trainer.admm import AdmmState
    torch.manual_seed(0)
    m = SmallCNN(1, 10)
    ranks = select_convs(m, 0.5, None, multiple=1, min_channels=16)
    st = AdmmState.init(m, ranks, rho=rho)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.Conv2d):
                mod.weight.add_(0.1 * torch.randn_like(mod.weight))
    st.update(m)
    return m, ranks, st


def test_rho_change_keeps_the_lagrange_multiplier():
    """U is the scaled dual: when rho grows, rho * U (the multiplier) must not change, so U shrinks."""
    m, ranks, st = _admm_after_one_update(0.1)
    before = {n: 0.1 * u.clone() for n, u in st.u.items()}
    assert any(float(b.abs().max()) > 0 for b in before.values())
    st.set_rho(0.4)
    for n, u in st.u.items():
        torch.testing.assert_close(0.4 * u, before[n])


def test_tangent_penalty_drops_only_the_pull_along_w():
    """--admm-penalty tangent: the same penalty value, and its gradient is the plain one less its component along each
    weight (so the pull can turn W towards Z but not shrink it)."""
    from trainer.admm import AdmmState
    m, ranks, plain = _admm_after_one_update(0.3)
    tangent = AdmmState(plain.ranks, plain.z, plain.u, plain.rho, tangent=True)
    mods = dict(m.named_modules())
    grads = {}
    for st in (plain, tangent):
        m.zero_grad()
        value = st.penalty(m)
        value.backward()
        grads[st.tangent] = (float(value.detach()), {n: mods[n].weight.grad.clone() for n in ranks})
    assert grads[True][0] == pytest.approx(grads[False][0], rel=1e-6)
    for n in ranks:
        w = mods[n].weight.detach()
        g, gt = grads[False][1][n], grads[True][1][n]
        w_hat = w / w.norm()
        radial = float((g * w_hat).sum())
        assert abs(radial) > 1e-3 * float(g.norm())  # the plain pull has a part along W to remove
        torch.testing.assert_close(gt, g - radial * w_hat, rtol=1e-4, atol=1e-6)
        assert abs(float((gt * w_hat).sum())) <= 1e-4 * float(g.norm())


def test_admm_z_steps_within_epochs(tmp_path, monkeypatch):
    """--admm-z-every N adds Z/U-steps every N optimizer steps to the per-epoch ones."""
    from trainer.admm import AdmmState
    calls = {"n": 0}
    orig = AdmmState.update

    def counted(self, model):
        calls["n"] += 1
        return orig(self, model)
    monkeypatch.setattr(AdmmState, "update", counted)
    kw = dict(model="smallcnn", data="digits", methods=("admm",), epochs=1, admm_epochs=2, finetune_epochs=1,
              ratio=0.5, batch_size=64)
    Run(TrainConfig(out=str(tmp_path / "a"), **kw), progress=False).run()
    per_epoch = calls["n"]
    calls["n"] = 0
    Run(TrainConfig(out=str(tmp_path / "b"), admm_z_every=5, **kw), progress=False).run()
    steps = -(-1437 // 64)  # digits' training split (80% of 1797), batches per epoch
    assert per_epoch == 1 and calls["n"] == per_epoch + 2 * (steps // 5), (per_epoch, calls["n"])


def test_rank_warmup_shrinks_z_to_the_targets(tmp_path):
    """--admm-rank-warmup E: Z's ranks fall geometrically from the channels and are the targets from ADMM epoch E - 1
    on, so ADMM still ends on the target set (the conversion loses little) and to_tucker converts at the targets."""
    from trainer.admm import AdmmState, warmup_ranks
    seq = [warmup_ranks((64, 128), (16, 32), e, 3) for e in range(5)]
    assert seq[0] > seq[1] > seq[2] == seq[3] == seq[4] == (16, 32) and seq[0] < (64, 128), seq
    assert warmup_ranks((64, 128), (16, 32), 0, 0) == (16, 32)
    torch.manual_seed(0)
    m = SmallCNN(1, 10)
    ranks = select_convs(m, 0.25, None, multiple=1, min_channels=16)
    st = AdmmState.init(m, ranks, rho=0.1, warmup=2)
    n, (r_in, r_out) = next(iter(ranks.items()))
    z0 = st.z[n]
    assert _unfold_rank(z0, 1) > r_in and _unfold_rank(z0, 0) > r_out  # epoch 0: a looser set than the targets
    st.begin_epoch(m, 1)
    st.update(m)
    assert _unfold_rank(st.z[n], 1) == r_in and _unfold_rank(st.z[n], 0) == r_out
    # a whole run: the last ADMM epoch projects onto the targets, so the converted model keeps most of the accuracy
    cfg = TrainConfig(model="smallcnn", data="digits", methods=("admm",), epochs=2, admm_epochs=4, finetune_epochs=1,
                      rho=0.5, rho_growth=1.5, ratio=0.25, out=str(tmp_path / "run"), batch_size=64,
                      admm_rank_warmup=2)
    run = Run(cfg, progress=False)
    results = run.run()
    res = [r["admm_residual"] for r in run.history if r["phase"] == "admm"]
    assert len(res) == 4 and res[-1] < 0.5 * max(res), res
    assert results["admm_ft"]["start_acc"] > 50.0 and results["admm_ft"]["test_acc"] > 80.0


def test_admm_residual_falls(tmp_path):
    cfg = TrainConfig(model="smallcnn", data="digits", methods=("admm",), epochs=2, admm_epochs=4, finetune_epochs=1,
                      rho=0.5, rho_growth=1.5, ratio=0.25, out=str(tmp_path / "run"), batch_size=64, admm_finetune_lr=0.002)
    run = Run(cfg, progress=False)
    results = run.run()
    res = [r["admm_residual"] for r in run.history if r["phase"] == "admm"]
    assert len(res) == 4 and res[-1] < 0.5 * res[0], res
    assert results["admm_ft"]["conv_macs"] < results["dense"]["conv_macs"]
    assert results["admm_ft"]["test_acc"] > 80.0  # digits is easy; a broken pipeline lands near 10%
    # the converted model is evaluated before fine-tuning: ADMM's weights already sit near the ranks
    assert results["admm_ft"]["start_acc"] > 50.0 and "start_acc" not in results["dense"]
    # and after ADMM the fine-tuning runs at its own (lower) learning rate
    ft_lr = [r["lr"] for r in run.history if r["phase"] == "admm_ft"]
    assert ft_lr and max(ft_lr) <= cfg.admm_finetune_lr < cfg.finetune_lr
    log = json.loads((tmp_path / "run" / "log.json").read_text())
    assert {"phase", "epoch", "train_loss", "test_acc", "weight_norm"} <= set(log[0])
    # every phase logs the constrained convs' norm, the Tucker phases from their factors
    assert all(r["weight_norm"] > 0 for r in log) and {r["phase"] for r in log} == {"dense", "admm", "admm_ft"}
    assert (tmp_path / "run" / "log.csv").read_text().startswith("phase,epoch")


def test_weight_norm_reads_tucker_layers_through_their_factors():
    """A converted layer is measured by the weight its factors rebuild (the HOOI projection), so the log's norm
    column is comparable across the dense, ADMM and Tucker phases."""
    torch.manual_seed(0)
    m = SmallCNN(1, 10)
    ranks = select_convs(m, 0.5, None, multiple=1, min_channels=16)
    mods = dict(m.named_modules())
    projected = {n: project(mods[n].weight, *ranks[n]) for n in ranks}
    dense_norm = constrained_norm(m, ranks)
    assert dense_norm == pytest.approx(sum(float((mods[n].weight.detach().double() ** 2).sum()) for n in ranks) ** 0.5)
    to_tucker(m, ranks)
    want = sum(float((w.double() ** 2).sum()) for w in projected.values()) ** 0.5
    got = constrained_norm(m, ranks)
    assert got == pytest.approx(want, rel=1e-4) and got < dense_norm  # a projection removes norm


def test_export_round_trips_through_rewrite(tmp_path):
    from trainer.export import export_onnx
    torch.manual_seed(0)
    m = SmallCNN(1, 10)
    ranks = select_convs(m, 0.5, None, multiple=1, min_channels=16)
    to_tucker(m, ranks)
    info = export_onnx(m, (1, 8, 8), tmp_path / "m.onnx")
    assert info["fused"] == len(ranks) == 3
    assert info["max_abs_diff"] < 1e-4 and info["same_predictions"]


@pytest.mark.parametrize("deterministic", [True, False])
def test_determinism_switch(tmp_path, deterministic):
    """--deterministic (the default) turns off cuDNN's timed algorithm choice, which made one seed give dense
    accuracies 0.6 points apart on an H200; --fast turns it back on."""
    import torch
    try:
        Run(TrainConfig(model="smallcnn", data="digits", limit=64, deterministic=deterministic,
                        out=str(tmp_path / "run")), progress=False)
        assert torch.backends.cudnn.deterministic is deterministic
        assert torch.backends.cudnn.benchmark is not deterministic
        assert torch.are_deterministic_algorithms_enabled() is deterministic
    finally:
        torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = False, False


def test_checkpoint_resume_continues_the_same_run(tmp_path):
    kw = dict(model="smallcnn", data="digits", methods=("admm",), epochs=2, admm_epochs=2, finetune_epochs=1,
              ratio=0.5, batch_size=64, rho=0.5)
    full = Run(TrainConfig(out=str(tmp_path / "a"), **kw), progress=False)
    full.run()
    # the same run, interrupted after 3 epochs (dense 2 + admm 1), then resumed
    part = Run(TrainConfig(out=str(tmp_path / "b"), epochs=2, **{k: v for k, v in kw.items() if k != "epochs"}), progress=False)
    import trainer.train as tt
    orig = tt.train_epoch
    calls = {"n": 0}

    def stop_after_three(*a, **k):
        if calls["n"] == 3:
            raise KeyboardInterrupt
        calls["n"] += 1
        return orig(*a, **k)

    tt.train_epoch = stop_after_three
    try:
        with pytest.raises(KeyboardInterrupt):
            part.run()
    finally:
        tt.train_epoch = orig
    resumed = Run(TrainConfig(out=str(tmp_path / "b"), **kw), resume=True, progress=False)
    resumed.run(resume=True)
    a = [(r["phase"], r["epoch"], round(r["train_loss"], 5)) for r in full.history]
    b = [(r["phase"], r["epoch"], round(r["train_loss"], 5)) for r in resumed.history]
    assert a == b


def test_bad_inputs_fail_clearly(tmp_path):
    m = SmallCNN(1, 10)
    with pytest.raises(TuckerOnnxError, match="exceed"):
        select_convs(m, None, {"features.3": [999, 4]})
    with pytest.raises(TuckerOnnxError, match="does not have"):
        select_convs(m, None, {"layer9.conv": [4, 4]})
    with pytest.raises(TuckerOnnxError, match="not found"):
        load_fashion_mnist(tmp_path / "nope")
    r = CliRunner().invoke(cli, ["train", "--data", "fashion-mnist", "--data-dir", str(tmp_path / "missing"),
                                 "--out", str(tmp_path / "o")])
    assert r.exit_code == 1 and "data folder not found" in r.output and "Traceback" not in r.output
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"/layer1/layer1.0/conv1/Conv": [9999, 8]}))
    r = CliRunner().invoke(cli, ["train", "--model", "resnet18", "--data", "digits", "--plan", str(plan),
                                 "--out", str(tmp_path / "p")])
    assert r.exit_code == 1 and "exceed" in r.output
    # bad numbers fail before any training, and leave no run folder
    for opt, val, msg in (("--admm-finetune-lr", "-1", "--admm-finetune-lr must be positive"),
                          ("--rho", "0", "--rho must be positive"),
                          ("--admm-z-every", "-3", "--admm-z-every must be >= 0"),
                          ("--admm-rank-warmup", "5", "must be less than --admm-epochs")):
        r = CliRunner().invoke(cli, ["train", "--data", "digits", opt, val, "--out", str(tmp_path / "n")])
        assert r.exit_code == 1 and msg in r.output and "Traceback" not in r.output, r.output
        assert not (tmp_path / "n").exists()
    r = CliRunner().invoke(cli, ["train", "--data", "digits", "--admm-penalty", "radial", "--out", str(tmp_path / "n")])
    assert r.exit_code == 2 and "radial" in r.output and not (tmp_path / "n").exists()
    with pytest.raises(TuckerOnnxError, match="admm_penalty must be plain or tangent"):
        TrainConfig(data="digits", admm_penalty="radial").validate()


def test_onnx_style_plan_names_map_to_modules():
    m = build_model("resnet18", 1, 10)
    ranks = select_convs(m, None, {"/layer1/layer1.0/conv1/Conv": [16, 16], "layer2.0.conv2": [32, 32]})
    assert ranks == {"layer1.0.conv1": (16, 16), "layer2.0.conv2": (32, 32)}


@pytest.mark.skipif(not any(d.is_dir() for d in FASHION_DIRS), reason="dataset-fashion-mnist not installed")
def test_fashion_mnist_reads_real_files():
    d = load_fashion_mnist()
    assert tuple(d.train_x.shape) == (60000, 1, 28, 28) and tuple(d.test_x.shape) == (10000, 1, 28, 28)
    assert sorted(d.train_y.unique().tolist()) == list(range(10))
    assert abs(float(d.train_x.mean())) < 0.05  # normalised with the dataset's mean/std


def test_distillation_pulls_the_student_towards_the_teacher():
    """With distill=1 the loss is only the KL to the teacher's logits: training on it must raise the student's
    agreement with the teacher's predictions (labels that disagree with the teacher are ignored)."""
    from trainer.data import load_digits
    from trainer.loop import distill_loss, train_epoch
    torch.manual_seed(0)
    d = load_digits()
    x, y = d.train_x[:512], d.train_y[:512]
    teacher = SmallCNN(1, 10).eval()  # a random teacher: its predictions are not the labels
    with torch.no_grad():
        t_pred = teacher(x).argmax(1)

    def trained(distill):
        torch.manual_seed(1)
        student = SmallCNN(1, 10)
        opt = torch.optim.SGD(student.parameters(), lr=0.05, momentum=0.9)
        for _ in range(15):
            train_epoch(student, x, y, opt, 64, torch.device("cpu"), torch.Generator().manual_seed(0), teacher=teacher,
                        distill=distill, temp=2.0)
        with torch.no_grad():
            return float((student.eval()(x).argmax(1) == t_pred).float().mean())

    with_kd, labels_only = trained(1.0), trained(0.0)
    assert with_kd > labels_only + 0.3, (with_kd, labels_only)
    # alpha 0 is plain cross-entropy
    out, tout = torch.randn(8, 10), torch.randn(8, 10)
    target = torch.randint(0, 10, (8,))
    assert torch.allclose(distill_loss(out, target, tout, 0.0, 4.0), torch.nn.functional.cross_entropy(out, target))


def test_distill_config_is_checked(tmp_path):
    with pytest.raises(TuckerOnnxError, match="--distill must be"):
        TrainConfig(distill=1.5).validate()
    with pytest.raises(TuckerOnnxError, match="needs the dense method"):
        TrainConfig(distill=0.5, methods=("admm",)).validate()
    cfg = TrainConfig(model="smallcnn", data="digits", epochs=1, admm_epochs=1, finetune_epochs=1, ratio=0.5,
                      distill=0.5, out=str(tmp_path / "run"), batch_size=64)
    results = Run(cfg, progress=False).run()
    assert set(results) == {"dense", "decompose_ft", "admm", "admm_ft"}
    assert results["decompose_ft"]["test_acc"] > 50.0


def test_seeds_run_and_aggregate(tmp_path):
    out = tmp_path / "multi"
    r = CliRunner().invoke(cli, ["train", "--model", "smallcnn", "--data", "digits", "--ratio", "0.5", "--epochs", "1",
                                 "--admm-epochs", "1", "--finetune-epochs", "1", "--batch-size", "64", "--seeds", "0,1",
                                 "--no-export", "--out", str(out)])
    assert r.exit_code == 0, r.output
    agg = json.loads((out / "results.json").read_text())
    per = {s: json.loads((out / f"seed{s}" / "results.json").read_text())["results"] for s in (0, 1)}
    for k in ("dense", "decompose_ft", "admm_ft"):
        accs = [per[s][k]["test_acc"] for s in (0, 1)]
        assert agg["methods"][k]["mean"] == pytest.approx(sum(accs) / 2)
    gap = agg["admm_minus_decompose"]
    assert gap["mean"] == pytest.approx(sum(per[s]["admm_ft"]["test_acc"] - per[s]["decompose_ft"]["test_acc"]
                                            for s in (0, 1)) / 2)
    assert "paired by seed" in (out / "results.md").read_text()
    # tools/seeds_summary.py rebuilds the same aggregate from the seed folders (runs made as separate processes)
    import importlib.util
    spec = importlib.util.spec_from_file_location("seeds_summary", Path(__file__).parents[1] / "tools" / "seeds_summary.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    (out / "results.json").unlink()
    assert json.loads(json.dumps(tool.summarize(out))) == agg
    assert per[0] != per[1]  # the seeds really differ
    r = CliRunner().invoke(cli, ["train", "--data", "digits", "--seeds", "0,x", "--out", str(tmp_path / "bad")])
    assert r.exit_code == 1 and "--seeds must be integers" in r.output


def test_dense_weights_start_from_a_trained_model(tmp_path):
    """--dense-weights with --epochs 0 reuses a trained dense model: same dense accuracy, and (data shuffled by
    phase name) the same ADMM run as the full run, even without the decompose method."""
    kw = dict(model="smallcnn", data="digits", admm_epochs=2, finetune_epochs=1, ratio=0.5, batch_size=64, rho=0.5)
    full = Run(TrainConfig(out=str(tmp_path / "full"), methods=("dense", "decompose", "admm"), epochs=2, **kw),
               progress=False)
    res_full = full.run()
    reuse = Run(TrainConfig(out=str(tmp_path / "reuse"), methods=("dense", "admm"), epochs=0,
                            dense_weights=str(tmp_path / "full" / "dense_final.pt"), **kw), progress=False)
    res = reuse.run()
    assert res["dense"]["test_acc"] == res_full["dense"]["test_acc"]
    assert "decompose_ft" not in res
    admm = lambda h: [(r["phase"], r["epoch"], round(r["train_loss"], 5)) for r in h if r["phase"].startswith("admm")]
    assert admm(reuse.history) == admm(full.history) and len(admm(full.history)) == 3
    assert not any(r["phase"] == "dense" for r in reuse.history)  # no dense epoch was trained
    # tools/variants_summary.py pairs such a run with the full run's decompose+fine-tune, seed by seed
    import importlib.util
    spec = importlib.util.spec_from_file_location("variants_summary", Path(__file__).parents[1] / "tools" / "variants_summary.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    root = tmp_path / "cmp"
    for folder, r in (("base", res_full), ("v", res)):
        (root / folder / "seed0").mkdir(parents=True)
        (root / folder / "seed0" / "results.json").write_text(json.dumps({"results": r}))
    table = tool.table(root)
    gap = res["admm_ft"]["test_acc"] - res_full["decompose_ft"]["test_acc"]
    row = next(line for line in table.splitlines() if line.startswith("| ADMM v |"))
    assert f"{gap:+.2f} ({int(gap > 0)}/1 ahead)" in row and f"{res['admm_ft']['test_acc']:.2f}" in row, table


def test_dense_weights_bad_inputs_fail_clearly(tmp_path):
    r = CliRunner().invoke(cli, ["train", "--model", "smallcnn", "--data", "digits", "--dense-weights",
                                 str(tmp_path / "none_{seed}.pt"), "--seed", "3", "--out", str(tmp_path / "o")])
    assert r.exit_code == 1 and "no such file" in r.output and "none_3.pt" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "o").exists()
    wrong = tmp_path / "wrong.pt"
    torch.save(build_model("resnet18", 1, 10).state_dict(), wrong)
    r = CliRunner().invoke(cli, ["train", "--model", "smallcnn", "--data", "digits", "--dense-weights", str(wrong),
                                 "--epochs", "0", "--out", str(tmp_path / "w")])
    assert r.exit_code == 1 and "not a smallcnn state dict" in r.output and "Traceback" not in r.output, r.output
    junk = tmp_path / "junk.pt"
    junk.write_text("not a checkpoint")
    r = CliRunner().invoke(cli, ["train", "--model", "smallcnn", "--data", "digits", "--dense-weights", str(junk),
                                 "--epochs", "0", "--out", str(tmp_path / "j")])
    assert r.exit_code == 1 and "not a smallcnn state dict" in r.output and "Traceback" not in r.output, r.output


def test_admm_schedule_constant_keeps_the_admm_lr(tmp_path):
    """--admm-schedule constant: the ADMM phase trains at --admm-lr throughout (cosine decays it); fine-tuning
    still anneals. Driven through the CLI, so the option reaches the run's config."""
    def lrs(folder):
        rows = json.loads((folder / "log.json").read_text())
        return {ph: [r["lr"] for r in rows if r["phase"] == ph] for ph in ("admm", "admm_ft")}
    for sched in ("constant", "cosine"):
        r = CliRunner().invoke(cli, ["train", "--model", "smallcnn", "--data", "digits", "--methods", "dense,admm",
                                     "--epochs", "1", "--admm-epochs", "3", "--finetune-epochs", "2", "--admm-lr", "0.02",
                                     "--admm-schedule", sched, "--no-export", "--out", str(tmp_path / sched)])
        assert r.exit_code == 0, r.output
        assert json.loads((tmp_path / sched / "config.json").read_text())["admm_schedule"] == sched
    const, cos = lrs(tmp_path / "constant"), lrs(tmp_path / "cosine")
    # the logged lr is the one after the epoch's scheduler step
    assert const["admm"] == pytest.approx([0.02] * 3)
    assert cos["admm"][0] < 0.02 and cos["admm"] == sorted(cos["admm"], reverse=True) and cos["admm"][-1] < 1e-9
    assert const["admm_ft"] == cos["admm_ft"] and const["admm_ft"][-1] < 1e-9
    with pytest.raises(TuckerOnnxError, match="--admm-schedule must be cosine or constant"):
        TrainConfig(admm_schedule="step").validate()
