"""The Python module's call overhead (issue 13's target: ≤ 5 % above the same work in the
core): dp.nll of 10 swiss-roll points (seed 1) on one thread, against BM_Nll10Points of
bench_likelihood (the same call in C++). Run from the repository root after the build:

    PYTHONPATH=build/python /usr/bin/python3 bench/bench_python.py
"""
import json
import subprocess
import time

import diffpath as dp

model = dp.load_checkpoint("assets/swissroll-simple.safetensors")
x = dp.data("swissroll", 10, seed=1)
dp.nll(model, x, "simple", threads=1)  # warm-up
times = []
for _ in range(30):
    t0 = time.perf_counter()
    dp.nll(model, x, "simple", threads=1)
    times.append(time.perf_counter() - t0)
times.sort()
py_ms = 1e3 * times[len(times) // 2]
out = subprocess.run(["build/bench/bench_likelihood", "--benchmark_filter=BM_Nll10Points",
                      "--benchmark_format=json"], check=True, capture_output=True, text=True).stdout
cpp_ms = json.loads(out)["benchmarks"][0]["real_time"]
print(f"nll of 10 points: Python {py_ms:.2f} ms (median of 30), C++ core {cpp_ms:.2f} ms: "
      f"overhead {100 * (py_ms / cpp_ms - 1):+.1f} %")
