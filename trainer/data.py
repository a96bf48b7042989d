"""Seeded in-memory loaders: Fashion-MNIST from Debian's IDX files, scikit-learn digits, any ImageFolder."""
from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tucker_onnx.errors import TuckerOnnxError

FASHION_DIRS = [Path("/usr/share/datasets/fashion-mnist"), Path("/usr/share/dataset-fashion-mnist")]


@dataclass
class Dataset:
    train_x: torch.Tensor  # [N, C, H, W] float32, normalised
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    name: str

    @property
    def shape(self):
        return tuple(self.train_x.shape[1:])


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4: 4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise TuckerOnnxError(f"{path}: truncated IDX file")
    return arr.reshape(dims)


def _find(folder: Path, stem: str) -> Path:
    for cand in (folder / f"{stem}.gz", folder / stem):
        if cand.exists():
            return cand
    raise TuckerOnnxError(f"{folder}: missing {stem}[.gz] (is this a Fashion-MNIST/MNIST IDX folder?)")


def load_fashion_mnist(folder: str | Path | None = None, limit: int | None = None) -> Dataset:
    """Fashion-MNIST (60k/10k, 28x28 grey) from IDX files; the Debian package's folder by default."""
    if folder is None:
        folder = next((d for d in FASHION_DIRS if d.is_dir()), None)
        if folder is None:
            raise TuckerOnnxError("Fashion-MNIST not found: install Debian's dataset-fashion-mnist (tools/setup.sh does) "
                                  "or pass --data-dir")
    folder = Path(folder)
    if not folder.is_dir():
        raise TuckerOnnxError(f"{folder}: data folder not found")
    xs = [_read_idx(_find(folder, f"{p}-images-idx3-ubyte")) for p in ("train", "t10k")]
    ys = [_read_idx(_find(folder, f"{p}-labels-idx1-ubyte")) for p in ("train", "t10k")]
    if limit:
        xs, ys = [x[:limit] for x in xs], [y[:limit] for y in ys]
    mean, std = 0.2860, 0.3530
    t = lambda x: ((torch.from_numpy(x.astype(np.float32)) / 255.0 - mean) / std).unsqueeze(1)
    return Dataset(t(xs[0]), torch.from_numpy(ys[0].astype(np.int64)), t(xs[1]), torch.from_numpy(ys[1].astype(np.int64)),
                   10, "fashion-mnist")


def load_digits(seed: int = 0) -> Dataset:
    """scikit-learn's bundled 8x8 digits (1797 images), split 80/20 with a seed: for fast tests."""
    from sklearn.datasets import load_digits as sk
    d = sk()
    x = torch.from_numpy((d.images.astype(np.float32) / 16.0 - 0.5) / 0.5).unsqueeze(1)
    y = torch.from_numpy(d.target.astype(np.int64))
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    n = int(0.8 * len(y))
    return Dataset(x[perm[:n]], y[perm[:n]], x[perm[n:]], y[perm[n:]], 10, "digits")


def load_image_folder(folder: str | Path, size: int = 32) -> Dataset:
    """A torchvision ImageFolder with train/ and test/ (or val/) sub-folders, resized to size x size."""
    import torchvision
    from torchvision import transforms
    folder = Path(folder)
    if not folder.is_dir():
        raise TuckerOnnxError(f"{folder}: data folder not found")
    test_dir = next((folder / s for s in ("test", "val") if (folder / s).is_dir()), None)
    if not (folder / "train").is_dir() or test_dir is None:
        raise TuckerOnnxError(f"{folder}: expected train/ and test/ (or val/) sub-folders")
    tf = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor(),
                             transforms.Normalize([0.5] * 3, [0.5] * 3)])
    out = []
    for d in (folder / "train", test_dir):
        ds = torchvision.datasets.ImageFolder(str(d), transform=tf)
        xs, ys = zip(*[ds[i] for i in range(len(ds))])
        out += [torch.stack(xs), torch.tensor(ys)]
    return Dataset(out[0], out[1], out[2], out[3], len(ds.classes), folder.name)


def load_dataset(name: str, data_dir: str | None = None, limit: int | None = None, seed: int = 0) -> Dataset:
    if name == "fashion-mnist":
        return load_fashion_mnist(data_dir, limit)
    if name == "digits":
        return load_digits(seed)
    if name == "folder":
        if not data_dir:
            raise TuckerOnnxError("--data folder needs --data-dir")
        return load_image_folder(data_dir)
    raise TuckerOnnxError(f"unknown dataset {name!r}: fashion-mnist, digits or folder")


def batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool, generator: torch.Generator | None):
    idx = torch.randperm(len(y), generator=generator) if shuffle else torch.arange(len(y))
    for i in range(0, len(y), batch_size):
        j = idx[i: i + batch_size]
        yield x[j], y[j]
