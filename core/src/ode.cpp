#include "diffpath/ode.hpp"

#include <algorithm>
#include <cmath>

namespace diffpath {

namespace {

// Dormand–Prince 5(4) tableau (Dormand & Prince 1980; Hairer, Nørsett & Wanner II.5).
constexpr double c2 = 1.0 / 5, c3 = 3.0 / 10, c4 = 4.0 / 5, c5 = 8.0 / 9;
constexpr double a21 = 1.0 / 5;
constexpr double a31 = 3.0 / 40, a32 = 9.0 / 40;
constexpr double a41 = 44.0 / 45, a42 = -56.0 / 15, a43 = 32.0 / 9;
constexpr double a51 = 19372.0 / 6561, a52 = -25360.0 / 2187, a53 = 64448.0 / 6561,
                 a54 = -212.0 / 729;
constexpr double a61 = 9017.0 / 3168, a62 = -355.0 / 33, a63 = 46732.0 / 5247, a64 = 49.0 / 176,
                 a65 = -5103.0 / 18656;
constexpr double a71 = 35.0 / 384, a73 = 500.0 / 1113, a74 = 125.0 / 192, a75 = -2187.0 / 6784,
                 a76 = 11.0 / 84;
// Error weights: 5th-order minus embedded 4th-order solution.
constexpr double e1 = 71.0 / 57600, e3 = -71.0 / 16695, e4 = 71.0 / 1920, e5 = -17253.0 / 339200,
                 e6 = 22.0 / 525, e7 = -1.0 / 40;

// RMS of v / (atol + rtol·max(|a|, |b|)).
double scaled_rms(const Vec& v, const Vec& a, const Vec& b, const OdeOptions& o) {
  const auto scale = (o.atol + o.rtol * a.cwiseAbs().cwiseMax(b.cwiseAbs()).array());
  return std::sqrt((v.array() / scale).square().mean());
}

// Starting step (Hairer, Nørsett & Wanner, "Solving ODEs I", II.4): balance the size of y and
// y' and probe the second derivative with one explicit Euler step.
double initial_step(const OdeRhs& F, double t0, const Vec& y0, const Vec& f0, double span,
                    const OdeOptions& o, int& evals) {
  const double d0 = scaled_rms(y0, y0, y0, o), d1 = scaled_rms(f0, y0, y0, o);
  double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
  h0 = std::min(h0, std::abs(span));
  const double dir = span > 0 ? 1.0 : -1.0;
  Vec y1 = y0 + dir * h0 * f0, f1(y0.size());
  F(t0 + dir * h0, y1, f1);
  ++evals;
  const double d2 = scaled_rms(f1 - f0, y0, y0, o) / h0;
  const double m = std::max(d1, d2);
  const double h1 = m <= 1e-15 ? std::max(1e-6, h0 * 1e-3) : std::pow(0.01 / m, 1.0 / 5);
  return std::min({100 * h0, h1, std::abs(span)});
}

}  // namespace

OdeStats integrate_dopri5(const OdeRhs& F, double t0, double t1, Vec& y, const OdeOptions& opt,
                          const std::atomic<bool>* cancel) {
  OdeStats st;
  const Eigen::Index n = y.size();
  if (t0 == t1 || n == 0) return st;
  const double dir = t1 > t0 ? 1.0 : -1.0, span = t1 - t0;
  Vec k1(n), k2(n), k3(n), k4(n), k5(n), k6(n), k7(n), ytmp(n), ynew(n), err(n);
  auto fail = [&](std::string why) {
    st.ok = false;
    st.error = std::move(why);
    return st;
  };
  if (!y.allFinite()) return fail("non-finite initial state");
  F(t0, y, k1);
  ++st.evals;
  if (!k1.allFinite()) return fail("non-finite derivative at t = " + std::to_string(t0));
  double h = opt.first_step > 0 ? std::min(opt.first_step, std::abs(span))
                                : initial_step(F, t0, y, k1, span, opt, st.evals);
  double t = t0;
  while (dir * (t1 - t) > 0) {
    if (cancel && cancel->load(std::memory_order_relaxed)) return fail("cancelled");
    if (st.steps + st.rejected >= opt.max_steps)
      return fail("too many steps (" + std::to_string(opt.max_steps) + ") at t = " +
                  std::to_string(t));
    // Land exactly on t1; stretch a step slightly rather than leave a sliver.
    if (h >= std::abs(t1 - t) * (1 - 1e-12) || std::abs(t1 - t) - h < 1e-3 * h)
      h = std::abs(t1 - t);
    const double hs = dir * h;
    ytmp = y + hs * (a21 * k1);
    F(t + c2 * hs, ytmp, k2);
    ytmp = y + hs * (a31 * k1 + a32 * k2);
    F(t + c3 * hs, ytmp, k3);
    ytmp = y + hs * (a41 * k1 + a42 * k2 + a43 * k3);
    F(t + c4 * hs, ytmp, k4);
    ytmp = y + hs * (a51 * k1 + a52 * k2 + a53 * k3 + a54 * k4);
    F(t + c5 * hs, ytmp, k5);
    ytmp = y + hs * (a61 * k1 + a62 * k2 + a63 * k3 + a64 * k4 + a65 * k5);
    F(t + hs, ytmp, k6);
    ynew = y + hs * (a71 * k1 + a73 * k3 + a74 * k4 + a75 * k5 + a76 * k6);
    F(t + hs, ynew, k7);
    st.evals += 6;
    err = hs * (e1 * k1 + e3 * k3 + e4 * k4 + e5 * k5 + e6 * k6 + e7 * k7);
    const double e = scaled_rms(err, y, ynew, opt);
    if (!std::isfinite(e) || !ynew.allFinite() || !k7.allFinite()) {
      // Non-finite trial: shrink hard and retry; give up when the step underflows.
      ++st.rejected;
      h *= 0.1;
      if (h < 1e-14 * std::max(1.0, std::abs(t)))
        return fail("state became non-finite (diverging ODE) at t = " + std::to_string(t));
      continue;
    }
    if (e <= 1.0) {
      t = (h == std::abs(t1 - t)) ? t1 : t + hs;
      y.swap(ynew);
      k1.swap(k7);  // first-same-as-last
      ++st.steps;
      if (std::isfinite(opt.max_abs) && y.cwiseAbs().maxCoeff() > opt.max_abs)
        return fail("diverging: |state| exceeded " + std::to_string(opt.max_abs) +
                    " at t = " + std::to_string(t));
      h *= std::min(10.0, std::max(0.2, 0.9 * std::pow(std::max(e, 1e-10), -0.2)));
    } else {
      ++st.rejected;
      h *= std::max(0.2, 0.9 * std::pow(e, -0.2));
      if (h < 1e-14 * std::max(1.0, std::abs(t)))
        return fail("step size underflow at t = " + std::to_string(t));
    }
  }
  return st;
}

}  // namespace diffpath
