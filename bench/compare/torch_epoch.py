"""PyTorch's half of bench/compare_pytorch.sh: the same epoch as trainrt_epoch.lua.

One shuffled training epoch of the seed CNN or the 784-256-256-10 MLP on
Fashion-MNIST (batch 64, Adam 1e-3, normalised (x/255 - 0.2860)/0.3530, no
evaluation), read from the IDX files with numpy and batched by an index
permutation with torch.from_numpy slices (no DataLoader workers), timed from
the start of the epoch loop to the end of its last step. Every step reads its
loss (loss.item(), the running mean is printed), as trainrt_epoch.lua does.
Run: /usr/bin/python3 bench/compare/torch_epoch.py --model cnn --threads 1 [--limit N]
Prints: epoch side=torch model=... threads=... samples=... seconds=... sps=... loss=... rss_mb=...
Exits 2 when torch cannot be imported (it is not a trainrt dependency).
"""
import argparse
import gzip
import os
import resource
import sys
import time

import numpy as np

try:
    import torch
    from torch import nn
except ImportError as error:
    print(f"torch_epoch.py: cannot import torch ({error}); install Debian's python3-torch", file=sys.stderr)
    sys.exit(2)


def read_idx(root, name):
    """The array of an IDX file `name` or `name`.gz in root."""
    path = os.path.join(root, name)
    opener = open
    if not os.path.exists(path):
        path, opener = path + ".gz", gzip.open
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def build(name):
    if name == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
    return nn.Sequential(
        nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["cnn", "mlp"], default="cnn")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--limit", type=int, default=0, help="first N training samples (0 = all)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    images = read_idx(args.data, "train-images-idx3-ubyte")  # (60000, 28, 28) uint8
    labels = read_idx(args.data, "train-labels-idx1-ubyte").astype(np.int64)
    if args.limit > 0:
        images, labels = images[:args.limit], labels[:args.limit]
    n = len(images)

    model = build(args.model)
    model.train()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    mean, std = 0.2860, 0.3530

    start = time.perf_counter()
    order = np.random.permutation(n)
    loss_sum = 0.0
    for first in range(0, n, args.batch_size):
        idx = order[first:first + args.batch_size]
        x = torch.from_numpy(images[idx]).unsqueeze(1).float().div_(255).sub_(mean).div_(std)  # (B, 1, 28, 28)
        y = torch.from_numpy(labels[idx])
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        loss_sum += loss.item() * len(idx)
    seconds = time.perf_counter() - start

    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(f"epoch side=torch model={args.model} threads={torch.get_num_threads()} samples={n} "
          f"seconds={seconds:.3f} sps={n / seconds:.1f} mean_loss={loss_sum / n:.4f} rss_mb={rss_mb:.1f}")


if __name__ == "__main__":
    main()
