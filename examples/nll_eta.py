"""NLL(η) and the WKB coefficient c(x₀) of a shipped network, from Python.

    PYTHONPATH=build/python python3 examples/nll_eta.py   # from the repository root

Trains nothing: loads assets/swissroll-simple.safetensors, evaluates 1000 fresh swiss-roll
points, prints the curve NLL(η) of the η-sampler next to its first-order (WKB) line, and — if
matplotlib is installed (Debian: python3-matplotlib) — plots both and the map of c(x₀).
"""
import numpy as np

import diffpath as dp

model = dp.load_checkpoint("assets/swissroll-simple.safetensors")
x = dp.data("swissroll", 1000, seed=1)                      # (1000, 2), fresh points
etas = [0.0, 0.05, 0.1, 0.2, 0.5, 1.0]
r = dp.nll(model, x, "simple", eta=etas)                    # exact NLL, c, and log q^η
ok = r["ok"]
print(f"NLL(0) = {r['nll_mean']:.3f} ± {r['nll_se']:.3f},  E[-c] = {r['wkb_mean']:.2f} ± {r['wkb_se']:.2f}"
      f"  (median of -c {np.median(-r['c'][ok]):.2f}: a heavy tail)")
print(f"NLL(eta) over the {r['eta_n']} points whose paths stay finite at every eta "
      f"(NLL(0) above: {int(ok.sum())} points):")
for eta in etas:
    e = r["eta"][eta]
    line = r["nll_mean"] + eta * r["wkb_mean"]
    print(f"eta {eta:4.2f}: NLL(eta) = {e['mean']:.3f} ± {e['se']:.3f} (estimator error "
          f"{e['mc_se'] + abs(e['bias']) + e['err']:.3f}),  WKB line {line:.3f}")

try:
    import matplotlib.pyplot as plt
except ImportError:
    raise SystemExit("(no matplotlib: skipping the plots)")
fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.5))
means = [r["eta"][e]["mean"] for e in etas]
ses = [r["eta"][e]["se"] for e in etas]
a.errorbar(etas, means, yerr=ses, marker="o", label="NLL(η) of the η-sampler")
grid = np.linspace(0, 0.2, 50)
a.plot(grid, r["nll_mean"] + grid * r["wkb_mean"], "--", label="WKB tangent at 0")
a.set_xlabel("η"), a.set_ylabel("NLL (nats)"), a.legend()
lim = np.quantile(np.abs(r["c"][ok]), 0.95)
s = b.scatter(x[ok, 0], x[ok, 1], c=r["c"][ok], cmap="RdBu_r", vmin=-lim, vmax=lim, s=6)
fig.colorbar(s, ax=b, label="c(x₀)  (> 0: noise helps)")
b.set_aspect("equal"), b.set_title("c(x₀) over the data")
fig.tight_layout()
fig.savefig("nll_eta.png", dpi=120)
print("wrote nll_eta.png")
