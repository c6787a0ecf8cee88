#pragma once
// Variance-preserving noise schedules (DESIGN §1.1): dx = f(t) x dt + g(t) dw,
// α(t) = exp(∫₀ᵗ f), σ(t)² = 1 − α(t)², g² = −2f.
#include <string>

namespace diffpath {

enum class ScheduleKind { Simple, Cosine, Linear };

/// A schedule is a small value: copy it freely, compare it, change it live.
struct Schedule {
  ScheduleKind kind = ScheduleKind::Simple;
  double beta_min = 0.0;   // Linear (and Simple ≡ Linear(0, 20))
  double beta_max = 20.0;
  double t_min = 0.01;
  double t_max = 1.0;

  static Schedule simple();                      // f = −10t, g² = 20t, α = exp(−5t²), [0.01, 1]
  static Schedule cosine();                      // α = cos(πt/2), [0.01, 0.999]
  static Schedule linear(double beta_min = 0.1, double beta_max = 20.0, double t_min = 1e-3,
                         double t_max = 1.0);
  /// "simple" | "cosine" | "linear[:bmin=..,bmax=..,tmin=..,tmax=..]"; tmin/tmax may also
  /// override the paper's range for simple and cosine. Throws Error on anything else, and
  /// on a schedule validate() refuses.
  static Schedule parse(const std::string& spec);
  /// Throws Error("schedule '<spec>': <reason>") unless 0 < Tmin < Tmax (< 1 for cosine),
  /// 0 ≤ β_min ≤ β_max, and the noise is alive and finite on [Tmin, Tmax] (g², σ² > 0, α
  /// finite): linear:bmin=0,bmax=0 has no noise and makes every computation NaN. parse()
  /// calls it; so do the trainer and the sampler, for schedules built in code.
  void validate() const;
  /// Canonical spec, parse(spec()) == *this.
  std::string spec() const;

  double f(double t) const;        // drift coefficient
  double g2(double t) const;       // squared diffusion
  double alpha(double t) const;    // signal scale
  double sigma2(double t) const;   // noise variance 1 − α², computed without cancellation
  double sigma(double t) const;
  /// The inverse of σ²: the time t ≥ 0 with σ²(t) = s2, in closed form (σ² increases in t).
  /// Not limited to [t_min, t_max]; s2 = 0 gives 0, and +inf where the schedule never gets
  /// there (a linear schedule with β ≡ 0). Throws Error unless 0 ≤ s2 < 1.
  double time_at_sigma2(double s2) const;

  bool operator==(const Schedule&) const = default;
};

}  // namespace diffpath
