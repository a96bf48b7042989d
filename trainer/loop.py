"""One epoch of training and an evaluation pass; no file or config decisions here."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .data import batches


def distill_loss(out, target, teacher_out, alpha: float, temp: float):
    """(1 - alpha) CE(labels) + alpha T^2 KL(teacher || student) at temperature T (Hinton et al.): the dense
    model teaches the Tucker model what its logits look like, not only the argmax."""
    ce = F.cross_entropy(out, target)
    if teacher_out is None or alpha == 0:
        return ce
    kd = F.kl_div(F.log_softmax(out / temp, 1), F.log_softmax(teacher_out / temp, 1), reduction="batchmean",
                  log_target=True) * temp * temp
    return (1 - alpha) * ce + alpha * kd


def train_epoch(model, x, y, opt, batch_size, device, generator, penalty=None, progress=None, teacher=None,
                distill: float = 0.0, temp: float = 4.0, after_step=None) -> dict:
    """teacher: a trained model whose logits the student also matches (weight `distill`, temperature `temp`);
    after_step(i): called after the epoch's i-th optimizer step (ADMM's Z- and U-steps within an epoch)."""
    model.train()
    total = 0
    correct = torch.zeros((), dtype=torch.long, device=device)
    loss_sum = torch.zeros((), device=device)
    for xb, yb in batches(x, y, batch_size, True, generator):
        xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
        out = model(xb)
        if teacher is not None and distill > 0:
            with torch.no_grad():
                t_out = teacher(xb)
            loss = distill_loss(out, yb, t_out, distill, temp)
        else:
            loss = F.cross_entropy(out, yb)
        full = loss + penalty(model) if penalty is not None else loss
        opt.zero_grad(set_to_none=True)
        full.backward()
        opt.step()
        if after_step is not None:
            after_step(total // batch_size)
        loss_sum += loss.detach() * len(yb)  # stays on the device: no sync per step
        correct += (out.argmax(1) == yb).sum()
        total += len(yb)
        if progress is not None:
            progress.update(1)
    return {"train_loss": float(loss_sum) / total, "train_acc": 100.0 * int(correct) / total}


@torch.no_grad()
def evaluate(model, x, y, batch_size, device) -> dict:
    model.eval()
    total = correct = 0
    loss_sum = 0.0
    for xb, yb in batches(x, y, batch_size, False, None):
        xb, yb = xb.to(device), yb.to(device)
        out = model(xb)
        loss_sum += float(F.cross_entropy(out, yb, reduction="sum"))
        correct += int((out.argmax(1) == yb).sum())
        total += len(yb)
    return {"test_loss": loss_sum / total, "test_acc": 100.0 * correct / total}
