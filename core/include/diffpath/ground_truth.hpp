#pragma once
// Closed-form ground truth for Gaussian data (DESIGN §1.7). Data N(m, v I) in d dimensions and
// the linear score s = −(x − a(t)) / b(t) of GaussianScore (score_model.hpp),
//   a = α m + delta,  b = (1 + eps)(α² v + σ²).
// The η-model dx = [f x − (1+η)/2 g² s] dt + √η g dw̄ is then linear, so it stays Gaussian,
// N(μ, P I), for every η. Integrated from Tmax down to Tmin (dt < 0), with
// A = f + (1+η)/2 · g²/b and c = −(1+η)/2 · g² a/b:
//   dμ/dt = A μ + c,           dP/dt = 2 A P − η g²,
// and, differentiating in η (sensitivity equations, exact slopes without finite differences),
//   dμ_η/dt = A μ_η + g²/(2b) (μ − a),   dP_η/dt = 2 A P_η + g² P / b − g².
// All integrated by integrate_dopri5 at rtol 1e-12. The coordinates are independent, so the
// NLL is d times the one-dimensional value.
#include "diffpath/schedule.hpp"
#include "diffpath/score_model.hpp"

namespace diffpath {

/// Per-coordinate mean and variance of an isotropic Gaussian.
struct GaussianMoments {
  double mean = 0.0;
  double var = 1.0;
};

/// The η-model's law at Tmin and its η-derivatives (per coordinate).
struct GaussianFinal {
  GaussianMoments moments;
  double dmean_deta = 0.0, dvar_deta = 0.0;
};

/// Integrates the moment and sensitivity ODEs from `prior` at Tmax (the sampler's N(0, I) by
/// default) down to Tmin. Throws Error for η outside [0, 1], d < 1, v < 0, eps ≤ −1,
/// non-finite parameters or a failed integration.
GaussianFinal gaussian_final(const GaussianScoreParams& params, const Schedule& schedule,
                             double eta, GaussianMoments prior = {});

/// E_{x ~ N(m, v I)}[−log q₀^η(x)], summed over the d coordinates, where q₀^η = N(μ, P I) is
/// the η-model at Tmin.
double gaussian_nll(const GaussianScoreParams& params, const Schedule& schedule, double eta,
                    GaussianMoments prior = {});

/// dNLL/dη at any η ∈ [0, 1], from the sensitivity equations.
double gaussian_nll_derivative(const GaussianScoreParams& params, const Schedule& schedule,
                               double eta, GaussianMoments prior = {});

/// dNLL/dη at η = 0: what the first-order WKB coefficient E[−c] must equal (DESIGN §1.6).
double gaussian_nll_slope(const GaussianScoreParams& params, const Schedule& schedule,
                          GaussianMoments prior = {});

/// The exact per-coordinate mean and variance at Tmin of the Euler–Maruyama chain of
/// sample() (sampler.hpp) on this linear model, started from `prior`: the discrete recursion
///   μ_{k+1} = μ_k − (A_k μ_k + c_k) h_k,   P_{k+1} = (1 − A_k h_k)² P_k + η g_k² h_k.
/// It differs from gaussian_final by the sampler's O(1/steps) discretization error, so tests
/// can separate Monte-Carlo noise from time-stepping error.
GaussianMoments gaussian_em_final(const GaussianScoreParams& params, const Schedule& schedule,
                                  double eta, int steps, GaussianMoments prior = {});

/// The data law at time t, N(α m, α² v + σ²): the exact model's marginal (per coordinate).
GaussianMoments gaussian_marginal(const GaussianScoreParams& params, const Schedule& schedule,
                                  double t);

}  // namespace diffpath
