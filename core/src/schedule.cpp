#include "diffpath/schedule.hpp"

#include <cmath>
#include <cstdio>
#include <numbers>

#include "diffpath/common.hpp"

namespace diffpath {

namespace {
constexpr double kPi = std::numbers::pi;

// ∫₀ᵗ β for the linear schedule: β_min t + (β_max − β_min) t²/2. log α = −B/2.
double integrated_beta(const Schedule& s, double t) {
  return s.beta_min * t + 0.5 * (s.beta_max - s.beta_min) * t * t;
}
}  // namespace

Schedule Schedule::simple() { return {ScheduleKind::Simple, 0.0, 20.0, 0.01, 1.0}; }
Schedule Schedule::cosine() { return {ScheduleKind::Cosine, 0.0, 0.0, 0.01, 0.999}; }
Schedule Schedule::linear(double beta_min, double beta_max, double t_min, double t_max) {
  return {ScheduleKind::Linear, beta_min, beta_max, t_min, t_max};
}

Schedule Schedule::parse(const std::string& text) {
  const Spec spec = Spec::parse(text);
  Schedule s;
  if (spec.name == "simple") {
    spec.expect_keys({"tmin", "tmax"});
    s = simple();
  } else if (spec.name == "cosine") {
    spec.expect_keys({"tmin", "tmax"});
    s = cosine();
  } else if (spec.name == "linear") {
    spec.expect_keys({"bmin", "bmax", "tmin", "tmax"});
    s = linear(spec.number("bmin", 0.1), spec.number("bmax", 20.0));
  } else {
    throw Error("unknown schedule '" + text + "' (use simple, cosine or linear:bmin=..,bmax=..)");
  }
  s.t_min = spec.number("tmin", s.t_min);
  s.t_max = spec.number("tmax", s.t_max);
  s.validate();
  return s;
}

void Schedule::validate() const {
  const auto fail = [&](const std::string& why) { throw Error("schedule '" + spec() + "': " + why); };
  const bool cosine = kind == ScheduleKind::Cosine;
  if (!(t_min > 0 && t_min < t_max && t_max < (cosine ? 1.0 - 1e-12 : INFINITY)))
    fail(std::string("need 0 < tmin < tmax") + (cosine ? " < 1" : ""));
  if (kind != ScheduleKind::Cosine && !(beta_min >= 0 && beta_max >= beta_min))
    fail("need 0 <= bmin <= bmax");
  // f, g², α, σ are monotone in t for every kind, so the two ends bound the whole range.
  for (const double t : {t_min, t_max})
    if (!(g2(t) > 0) || !(sigma2(t) > 0) || !std::isfinite(g2(t)) || !std::isfinite(alpha(t)))
      fail("the noise vanishes or overflows at t = " + format_number(t) +
           " (g² = " + format_number(g2(t)) + ", σ² = " + format_number(sigma2(t)) +
           "); every computation would be NaN");
}

std::string Schedule::spec() const {
  const Schedule base = kind == ScheduleKind::Cosine ? cosine() : simple();
  std::string range;
  if (kind == ScheduleKind::Linear || t_min != base.t_min || t_max != base.t_max) {
    range = "tmin=" + format_number(t_min) + ",tmax=" + format_number(t_max);
  }
  switch (kind) {
    case ScheduleKind::Simple: return range.empty() ? "simple" : "simple:" + range;
    case ScheduleKind::Cosine: return range.empty() ? "cosine" : "cosine:" + range;
    case ScheduleKind::Linear:
      return "linear:bmin=" + format_number(beta_min) + ",bmax=" + format_number(beta_max) + "," + range;
  }
  return "simple";
}

double Schedule::f(double t) const {
  if (kind == ScheduleKind::Cosine) return -0.5 * kPi * std::tan(0.5 * kPi * t);
  return -0.5 * (beta_min + t * (beta_max - beta_min));
}

double Schedule::g2(double t) const { return -2.0 * f(t); }

double Schedule::alpha(double t) const {
  if (kind == ScheduleKind::Cosine) return std::cos(0.5 * kPi * t);
  return std::exp(-0.5 * integrated_beta(*this, t));
}

double Schedule::sigma2(double t) const {
  if (kind == ScheduleKind::Cosine) {
    const double s = std::sin(0.5 * kPi * t);
    return s * s;
  }
  return -std::expm1(-integrated_beta(*this, t));  // 1 − α², accurate for small t
}

double Schedule::sigma(double t) const { return std::sqrt(sigma2(t)); }

double Schedule::time_at_sigma2(double s2) const {
  if (!(s2 >= 0.0 && s2 < 1.0)) throw Error("time_at_sigma2: need 0 <= sigma^2 < 1");
  if (s2 == 0.0) return 0.0;
  if (kind == ScheduleKind::Cosine) return std::asin(std::sqrt(s2)) / (0.5 * kPi);
  // Solve β_min t + (β_max − β_min) t²/2 = B, B = −log(1 − σ²), by the root form without
  // cancellation (β_min ≥ 0).
  const double B = -std::log1p(-s2), slope = beta_max - beta_min;
  return 2.0 * B / (beta_min + std::sqrt(beta_min * beta_min + 2.0 * slope * B));
}

}  // namespace diffpath
