#!/usr/bin/env python3
"""Independent writer for the checkpoint interop test (DESIGN section 4).

Builds a random MLP (x, t) -> hidden... -> d with numpy, writes it as a safetensors file by
hand (struct + json, sharing no code with the C++ reader), evaluates its own numpy forward pass
at random points and writes those scores to a CSV with columns t, x0..x{d-1}, s0..s{d-1}.

The forward pass uses the weights exactly as stored (rounded to the file's dtype) in float64,
so a correct reader evaluating in double agrees to ~1e-15 and in float to float round-off.
"""
import argparse
import json
import struct

import numpy as np


def activation(name, z):
    if name == "swish":
        return z / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "softplus":
        return np.logaddexp(0.0, z)
    raise SystemExit("unknown activation " + name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dim", type=int, default=2)
    ap.add_argument("--hidden", default="32,32")
    ap.add_argument("--dtype", choices=["F32", "F64"], default="F32")
    ap.add_argument("--activation", default="swish")
    ap.add_argument("--no-metadata", action="store_true",
                    help="omit __metadata__ (the reader must default to swish)")
    ap.add_argument("--points", type=int, default=64)
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    d = args.dim
    widths = [d + 1] + [int(h) for h in args.hidden.split(",") if h] + [d]
    np_dtype = np.float32 if args.dtype == "F32" else np.float64

    # PyTorch layout: weight is (out, in), bias is (out,). Non-zero biases so they matter.
    layers = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        w = (rng.standard_normal((fan_out, fan_in)) * 1.3 / np.sqrt(fan_in)).astype(np_dtype)
        b = (0.3 * rng.standard_normal(fan_out)).astype(np_dtype)
        layers.append((w, b))

    # Data section: tensors in reverse layer order, bias before weight, to show that a reader
    # must follow data_offsets rather than assume an order.
    header, blobs, offset = {}, [], 0
    for i in reversed(range(len(layers))):
        w, b = layers[i]
        for name, arr in ((f"layers.{i}.bias", b), (f"layers.{i}.weight", w)):
            raw = np.ascontiguousarray(arr).astype("<" + arr.dtype.str[1:]).tobytes()
            header[name] = {"dtype": args.dtype, "shape": list(arr.shape),
                            "data_offsets": [offset, offset + len(raw)]}
            blobs.append(raw)
            offset += len(raw)
    if not args.no_metadata:
        header["__metadata__"] = {"activation": args.activation, "writer": "write_checkpoint.py",
                                  "dataset": "random", "steps": "0", "seed": str(args.seed)}
    text = json.dumps(header).encode("utf-8")
    with open(args.out, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)

    # The script's own forward pass, float64 on the stored (rounded) weights.
    x = rng.uniform(-2.5, 2.5, size=(args.points, d))
    t = rng.uniform(0.01, 1.0, size=(args.points, 1))
    h = np.concatenate([x, t], axis=1)
    for i, (w, b) in enumerate(layers):
        h = h @ w.astype(np.float64).T + b.astype(np.float64)
        if i + 1 < len(layers):
            h = activation(args.activation, h)

    names = ["t"] + [f"x{j}" for j in range(d)] + [f"s{j}" for j in range(d)]
    with open(args.csv, "w") as f:
        f.write(",".join(names) + "\n")
        for r in range(args.points):
            row = [t[r, 0]] + list(x[r]) + list(h[r])
            f.write(",".join(repr(float(v)) for v in row) + "\n")


if __name__ == "__main__":
    main()
