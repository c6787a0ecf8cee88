#include "params.hpp"

#include <algorithm>
#include <cmath>

namespace diffpath::gui {
namespace {

using E = Experiment;

// Helpers so each row reads as key, place, range, help, member.
Param real(const char* key, const char* section, const char* name, double lo, double hi,
           const char* help, double E::*m) {
  Param p{key, section, name, lo, hi, false, help};
  p.real = m;
  return p;
}
Param count(const char* key, const char* section, const char* name, double lo, double hi,
            const char* help, int E::*m) {
  Param p{key, section, name, lo, hi, true, help};
  p.count = m;
  return p;
}
Param seed(const char* key, const char* section, const char* name, const char* help, uint64_t E::*m) {
  Param p{key, section, name, 0, 4294967295.0, true, help};
  p.seed = m;
  return p;
}

}  // namespace

std::span<const Param> params() {
  static const Param table[] = {
      // Data.
      count("n-data", "", "n_data", 2, 200000, "points drawn from a built-in data set", &E::n_data),
      seed("data-seed", "", "data_seed", "seed of the data set's points", &E::data_seed),
      // The Gaussian model (DESIGN §1.7): data N(m, v I), a linear score with errors eps, delta.
      real("gauss-m", "gaussian", "m", -10, 10, "mean of the Gaussian data", &E::gauss_m),
      real("gauss-v", "gaussian", "v", 1e-6, 100, "variance of the Gaussian data", &E::gauss_v),
      real("eps", "gaussian", "eps", -0.99, 10, "relative error of the linear score's variance", &E::gauss_eps),
      real("delta", "gaussian", "delta", -10, 10, "error of the linear score's mean", &E::gauss_delta),
      // Training (live MLP). lr up to 10: divergence is something to watch, not to forbid.
      real("lr", "training", "lr", 1e-8, 10, "Adam learning rate", &E::lr),
      count("batch", "training", "batch", 1, 65536, "training batch size", &E::batch),
      count("width", "training", "width", 4, 1024, "hidden units per layer", &E::width),
      count("depth", "training", "depth", 1, 8, "hidden layers", &E::depth),
      seed("train-seed", "training", "seed", "seed of the initial weights and the batches", &E::train_seed),
      // Sampling (the viewport).
      real("eta", "sampling", "eta", 0, 1, "0 = probability-flow ODE, 1 = reverse SDE", &E::eta),
      seed("seed", "sampling", "seed", "seed of the particles' start points and noise", &E::seed),
      count("particles", "sampling", "particles", 1, 100000, "particles sampled", &E::particles),
      count("steps", "sampling", "steps", 2, 100000, "Euler-Maruyama steps from Tmax to Tmin", &E::steps),
      count("frame-stride", "sampling", "frame_stride", 1, 100000, "keep every k-th step for the scrubber",
            &E::frame_stride),
      count("trail-every", "sampling", "trail_every", 1, 100000, "draw the trail of every k-th particle",
            &E::trail_every),
      // Evaluation (NLL(0), E[-c] per snapshot).
      count("eval-points", "evaluation", "points", 1, 20000, "data points of the NLL/E[-c] evaluation",
            &E::eval_points),
      real("eval-rtol", "evaluation", "rtol", 1e-12, 0.5, "ODE tolerance of the evaluation", &E::eval_rtol),
  };
  return table;
}

const Param* find_param(std::string_view key) {
  for (const Param& p : params())
    if (key == p.key) return &p;
  return nullptr;
}

double Param::get(const Experiment& e) const {
  if (real) return e.*real;
  if (count) return double(e.*count);
  return double(e.*seed);
}

void Param::set(Experiment& e, double v) const {
  // Values the member cannot hold become out-of-range ones, so that validate() reports them
  // (a negative seed must not wrap to 2^64 - 1 unnoticed).
  if (real) e.*real = v;
  else if (count) e.*count = std::isfinite(v) ? int(std::clamp(v, -2e9, 2e9)) : -2000000000;
  else e.*seed = v >= 0 && v <= 1.8e19 ? uint64_t(v) : ~uint64_t(0);
  // The scrubber keeps ~100 frames whatever the step count.
  if (count == &Experiment::steps) e.frame_stride = std::max(1, e.steps / 100);
}

std::string Param::value_text(double v) const {
  if (seed && v >= 1.8e19) return "a negative or too large number";   // see set()
  if (integer && std::abs(v) < 1e15) return std::to_string((long long)v);
  return format_number(v);
}

std::string Param::range_text() const {
  return std::string(key) + " must be " + (integer ? "an integer" : "a number") + " in [" +
         value_text(lo) + ", " + value_text(hi) + "]";
}

}  // namespace diffpath::gui
