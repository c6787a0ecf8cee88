#include "diffpath/ground_truth.hpp"

#include <cmath>
#include <numbers>
#include <string>

#include "diffpath/ode.hpp"
#include "diffpath/sampler.hpp"

namespace diffpath {

namespace {

void validate(const GaussianScoreParams& p, double eta, const GaussianMoments& prior) {
  if (!(eta >= 0.0 && eta <= 1.0))
    throw Error("gaussian truth: eta must be in [0, 1], got " + std::to_string(eta));
  if (p.d < 1) throw Error("gaussian truth: d must be >= 1");
  if (!(p.v >= 0.0) || !std::isfinite(p.v)) throw Error("gaussian truth: v must be >= 0");
  if (!(p.eps > -1.0) || !std::isfinite(p.eps))
    throw Error("gaussian truth: eps must be > -1 (b = (1 + eps) b* must stay positive)");
  if (!std::isfinite(p.m) || !std::isfinite(p.delta))
    throw Error("gaussian truth: m and delta must be finite");
  if (!(prior.var > 0.0) || !std::isfinite(prior.mean))
    throw Error("gaussian truth: the prior needs a finite mean and a variance > 0");
}

/// Per-coordinate NLL of data N(m, v) under N(mu, P), and its derivative along (dmu, dP).
double nll_1d(double m, double v, double mu, double P) {
  return 0.5 * std::log(2.0 * std::numbers::pi * P) + ((m - mu) * (m - mu) + v) / (2.0 * P);
}
double nll_1d_derivative(double m, double v, double mu, double P, double dmu, double dP) {
  const double r2 = (m - mu) * (m - mu) + v;
  return dP / (2.0 * P) - (m - mu) * dmu / P - r2 * dP / (2.0 * P * P);
}

}  // namespace

GaussianMoments gaussian_marginal(const GaussianScoreParams& p, const Schedule& schedule,
                                  double t) {
  const double alpha = schedule.alpha(t);
  return {alpha * p.m, alpha * alpha * p.v + schedule.sigma2(t)};
}

GaussianFinal gaussian_final(const GaussianScoreParams& p, const Schedule& schedule, double eta,
                             GaussianMoments prior) {
  validate(p, eta, prior);
  const double k = 0.5 * (1.0 + eta);
  // y = (μ, P, μ_η, P_η); the derivative is with respect to t, integrated from Tmax to Tmin.
  auto rhs = [&](double t, const Vec& y, Vec& dy) {
    const GaussianMoments data = gaussian_marginal(p, schedule, t);
    const double a = data.mean + p.delta, b = (1.0 + p.eps) * data.var;
    const double g2 = schedule.g2(t), A = schedule.f(t) + k * g2 / b, c = -k * g2 * a / b;
    dy(0) = A * y(0) + c;
    dy(1) = 2.0 * A * y(1) - eta * g2;
    dy(2) = A * y(2) + 0.5 * g2 / b * (y(0) - a);
    dy(3) = 2.0 * A * y(3) + g2 * y(1) / b - g2;
  };
  Vec y(4);
  y << prior.mean, prior.var, 0.0, 0.0;
  OdeOptions opt;
  opt.rtol = 1e-12;
  opt.atol = 1e-14;
  opt.max_steps = 1000000;
  const OdeStats st = integrate_dopri5(rhs, schedule.t_max, schedule.t_min, y, opt);
  if (!st.ok) throw Error("gaussian truth: the moment ODE failed: " + st.error);
  if (!(y(1) > 0.0)) throw Error("gaussian truth: the model variance collapsed to <= 0");
  return {{y(0), y(1)}, y(2), y(3)};
}

GaussianMoments gaussian_em_final(const GaussianScoreParams& p, const Schedule& schedule,
                                  double eta, int steps, GaussianMoments prior) {
  validate(p, eta, prior);
  if (steps < 1) throw Error("gaussian truth: steps must be >= 1");
  const double k = 0.5 * (1.0 + eta);
  double mu = prior.mean, P = prior.var;
  for (int i = 0; i < steps; ++i) {
    const double t = grid_time(schedule, steps, i), h = t - grid_time(schedule, steps, i + 1);
    const GaussianMoments data = gaussian_marginal(p, schedule, t);
    const double a = data.mean + p.delta, b = (1.0 + p.eps) * data.var;
    const double g2 = schedule.g2(t), A = schedule.f(t) + k * g2 / b, c = -k * g2 * a / b;
    mu -= (A * mu + c) * h;
    P = (1.0 - A * h) * (1.0 - A * h) * P + eta * g2 * h;
  }
  return {mu, P};
}

double gaussian_nll(const GaussianScoreParams& p, const Schedule& schedule, double eta,
                    GaussianMoments prior) {
  const GaussianFinal q = gaussian_final(p, schedule, eta, prior);
  return p.d * nll_1d(p.m, p.v, q.moments.mean, q.moments.var);
}

double gaussian_nll_derivative(const GaussianScoreParams& p, const Schedule& schedule, double eta,
                               GaussianMoments prior) {
  const GaussianFinal q = gaussian_final(p, schedule, eta, prior);
  return p.d * nll_1d_derivative(p.m, p.v, q.moments.mean, q.moments.var, q.dmean_deta,
                                 q.dvar_deta);
}

double gaussian_nll_slope(const GaussianScoreParams& p, const Schedule& schedule,
                          GaussianMoments prior) {
  return gaussian_nll_derivative(p, schedule, 0.0, prior);
}

}  // namespace diffpath
