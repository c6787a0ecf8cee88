#include "diffpath/fokker_planck.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>

#include "diffpath/eta_model.hpp"
#include "diffpath/parallel.hpp"

// Derivation and choices.
//
// With τ = Tmax − t the PDE reads ∂_τ q = ∇·(F q) + D Δq, D = η g²/2: transport with velocity
// u = −F = −f x + (1+η)/2 g² s and diffusion, forwards in τ from q = N(0, I). Both parts are
// solved separately and combined by Strang splitting, which is second order.
//
// Advection (finite volume, so Σ q h² changes only by what crosses the boundary, and the
// boundary flux is set to zero). Cell-centre velocities u_c; face velocity the average of the
// two neighbours (second order). Face value from the upwind cell: the κ = 1/3 reconstruction
// q_i + Δ₋/6 + Δ₊/3, third order in 1D and unlimited, so smooth extrema (the peak of every
// mode) are not clipped — a TVD limiter (MC) clips them and was measured here to cost an
// order of convergence in the sup norm and tenfold the error at 64². Dimension by dimension
// with point-value face fluxes the 2D scheme is second order. Positivity: the face value is
// clamped to [0, 2 q_i] (inactive where q changes by less than O(1) per cell), so a
// forward-Euler step loses at most 2 dτ/h · (Σ outgoing face speeds) · q_i, and
// dτ ≤ h / (2 max Σ_out |u|) keeps q ≥ 0. SSP-RK(S,2), convex combinations of S such steps
// of dτ/(S − 1), keeps it for a substep of S − 1 bounds and is second order in τ. Velocities
// at the stage times come from the score interpolated in t (below) with f and g² exact.
//
// Diffusion. Per axis the fourth-order finite-volume Laplacian: the face gradient from cell
// averages (15 (q̄_{i+1} − q̄_i) − (q̄_{i+2} − q̄_{i−1}))/(12h), so Δ_h q̄ = (−q̄_{i+2} + 16 q̄_{i+1}
// − 30 q̄_i + 16 q̄_{i−1} − q̄_{i−2})/(12h²), with mirror ghosts (zero flux through the walls).
// Why fourth order: for η > 0 the drift and the diffusion fluxes are each large and nearly
// cancel (near Tmax, u ≈ −10η x against D = 10η), so the density sits in a balance of the two,
// and the 5-point Laplacian's O(h²) flux error (h²/12 q‴) shifted that balance in the tails:
// measured on the Gaussian at 256², sup error 1.8e-3 at η = 1 with the 5-point operator, 6.6e-4
// with this one (observed order ≈ 3 from 128² to 256²; the advection's face values are third
// order). The operator is diagonal in the cosine basis V_ik = c_k cos(π k (i+½)/N),
// λ_k = −(4/h²)(s² + s⁴/3), s = sin(πk/2N), so exp(θΔ_h) = E ⊗ E with E = V diag(e^{λθ}) Vᵀ:
// q ← E q Eᵀ, exact for any θ, stable for any g², columns summing to 1 (mass kept exactly).
// Unlike the 5-point kernel (a random walk's transition matrix: entries ≥ 0) it has small
// negative lobes, which make q negative where q falls by more than ~16× per cell (far tails
// against a wall, unresolved modes: measured on the shipped network's overlay grid, 338 cells
// at −inf and 5e-6 of the mass lost to clipping). There the 5-point value is used instead
// (apply_heat), so q ≥ 0 holds and the smooth bulk keeps the fourth-order kernel.
// θ is the exact integral ∫ D dτ = η/2 ∫ g² dt = η log(α(t₂)/α(t₁)) (g² = −2f for VP schedules).
// Strang splitting per transport substep, D(θ/2) A D(θ/2), so the splitting error is
// O(dτ²) and falls with the grid like everything else (a splitting step fixed in advance left
// an error floor of ~3e-3 at η = 1). For η > 0 the substeps are uniform in the clock
// C = ∫ g² dt, not in t: the transport speed scales with g², so the CFL bound is nearly
// uniform in C, and all substeps of a node interval share one θ, hence one heat matrix. That
// matrix is banded (its width is the diffusion length √(2θ) in cells), so a substep's heat
// costs N² (2B+1), a dense product only where θ is large (the cosine schedule's last 0.01 in t
// carries ∫ g² dt ≈ 4.6).
//
// Score nodes. s on the N² cell centres at nodes t_0 = Tmax > t_1 > … ; on [t_{k+1}, t_k] it is
// the quadratic through t_{k−1}, t_k, t_{k+1} (linear on the first interval, kept short). Its
// error s‴(ξ)/6 · (t−t_{k−1})(t−t_k)(t−t_{k+1}), integrated over the interval, moves a
// characteristic by ≈ w |s[t_{k−2}, …, t_{k+1}]| (h₁h₂³/6 + h₂⁴/12), w = (1+η)/2 g², with the
// third divided difference of the last four nodes standing in for s‴/6. That displacement, in
// cells and maximised over cells with mass, is kept below node_tol by the usual controller
// (Δ ∝ (tol/err)^{1/4}); a step over 2 tol is redone. Linear interpolation was tried first:
// its error dominated everything else (a tenfold tolerance gave a tenfold error).
// Output times are nodes (their score is also what the resolution check uses).
//
// Output. A cell average is q(x_c) + (h²/24) Δq + O(h⁴), so log q(x_c) ≈ log q̄ − (h²/24) Δ_h q̄/q̄:
// cell-centre values of the same order as the averages.

namespace diffpath {

namespace {

using Grid = Eigen::MatrixXd;   // N × N, (i, j) ↔ (x_i, y_j), column-major: x contiguous
constexpr double kLog2Pi = 1.8378770664093453;

// N(0, 1) mass of [a, b] without cancellation in the tails.
double normal_mass(double a, double b) {
  const double r = 1.0 / std::sqrt(2.0);
  if (a >= 0) return 0.5 * (std::erfc(a * r) - std::erfc(b * r));
  if (b <= 0) return 0.5 * (std::erfc(-b * r) - std::erfc(-a * r));
  return 1.0 - 0.5 * std::erfc(b * r) - 0.5 * std::erfc(-a * r);
}

// ∫_{t}^{Tmax} g² dt' = 2 log(α(t) / α(Tmax)): the clock of the diffusion substeps.
double noise_clock(const Schedule& s, double t) {
  return 2.0 * (std::log(s.alpha(t)) - std::log(s.alpha(s.t_max)));
}

// The time t with noise_clock(t) = c (c in [0, clock(Tmin)]), by bisection (monotone).
double time_at_clock(const Schedule& s, double c) {
  double lo = s.t_min, hi = s.t_max;  // clock(lo) ≥ c ≥ clock(hi)
  for (int it = 0; it < 200 && hi - lo > 1e-15 * s.t_max; ++it) {
    const double mid = 0.5 * (lo + hi);
    (noise_clock(s, mid) > c ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

// The grid's geometry and the per-solve constants.
struct Geometry {
  int n = 0, threads = 1;
  ThreadTeam* team = nullptr;        // the solve's worker threads (parallel.hpp)
  double L = 0, h = 0;
  Vec xc;                            // cell centres (same for x and y)
  Vec lambda;                        // eigenvalues of the fourth-order Laplacian (cosine basis)
  Vec lambda5;                       // and of the 5-point one (positive kernel)
};

// s_θ on every cell centre at one time: rows 0, 1 = s_x, s_y; column i + N j.
class GridScore {
 public:
  GridScore(const ScoreModel& model, const Geometry& g) : model_(model), g_(g) {
    const int N = g.n, total = N * N;
    const int chunk = 2048;
    for (int b = 0; b < total; b += chunk) {
      const int m = std::min(chunk, total - b);
      Points X(2, m);
      for (int k = 0; k < m; ++k) {
        const int c = b + k;
        X(0, k) = g.xc(c % N);
        X(1, k) = g.xc(c / N);
      }
      chunks_.push_back(std::move(X));
      begins_.push_back(b);
    }
  }
  void eval(double t, Points& S) const {
    S.resize(2, Eigen::Index(g_.n) * g_.n);
    g_.team->run(int(chunks_.size()), [&](int begin, int end) {
      Points out;
      for (int c = begin; c < end; ++c) {
        model_.score(chunks_[c], t, out);
        S.middleCols(begins_[c], chunks_[c].cols()) = out;
      }
    });
    if (!S.allFinite())
      throw Error("fokker_planck: the score model returned a non-finite value on the grid at t = " +
                  format_number(t));
  }

 private:
  const ScoreModel& model_;
  const Geometry& g_;
  std::vector<Points> chunks_;
  std::vector<int> begins_;
};

// Node scores and velocities are kept in float: the transport passes are bound by memory
// traffic, not arithmetic (a 256² substep streams ~25 MB in double), and a relative 6e-8 in a
// velocity moves nothing measurable (q, the fluxes and the mass stay double; every face flux
// is computed once and used by both cells, so the mass is kept exactly all the same).
using GridF = Eigen::MatrixXf;

// Stages of the SSP-RK(S,2) transport substep: a substep of S − 1 positivity bounds costs S
// stage passes, and its leading time error grows like S − 1. Measured on the Gaussian at 256²
// (sup error at η = 0, 0.1, 0.5, 1): S = 4 5.1e-5, 1.4e-4, 3.8e-4, 5.4e-4; S = 8 5.8e-5,
// 1.8e-4, 4.9e-4, 4.9e-4 with η = 1's transport and heat 15 % cheaper; S = 12 up to 7.5e-4.
constexpr int kStages = 8;

// s between nodes: the Lagrange polynomial through up to three nodes (t_m, S_m).
struct ScoreInterp {
  int n = 0;
  double t[3] = {0, 0, 0};
  const GridF* S[3] = {nullptr, nullptr, nullptr};   // 2 × N² (float copies of the nodes)
  void weights(double at, double* w) const {
    for (int m = 0; m < n; ++m) {
      w[m] = 1.0;
      for (int l = 0; l < n; ++l)
        if (l != m) w[m] *= (at - t[l]) / (t[m] - t[l]);
    }
  }
};

// The cell-centre velocity u = −F_{θ,η} = −f x + (1+η)/2 g² s at time t.
struct Velocity {
  GridF ux, uy;
};

// u at one time, column by column (so a transport stage can fill the next substep's velocity
// for its own columns in the same pass).
class VelocityAt {
 public:
  VelocityAt(const Geometry& g, const Schedule& sch, double eta, double t, const ScoreInterp& si,
             Velocity& u)
      : g_(g), u_(u), f_(sch.f(t)), sw_(eta_model::score_weight(sch, eta, t)) {
    u.ux.resize(g.n, g.n);
    u.uy.resize(g.n, g.n);
    double w[3] = {0, 0, 0};
    si.weights(t, w);
    for (int m = 0; m < 3; ++m) {  // missing nodes: weight 0 on the first node's values
      w_[m] = m < si.n ? w[m] : 0.0;
      S_[m] = (m < si.n ? si.S[m] : si.S[0])->data();
    }
  }
  void column(int j) const {
    const int N = g_.n;
    const float* s0 = S_[0] + 2 * size_t(N) * j;
    const float* s1 = S_[1] + 2 * size_t(N) * j;
    const float* s2 = S_[2] + 2 * size_t(N) * j;
    float* ux = &u_.ux(0, j);
    float* uy = &u_.uy(0, j);
    const double yj = g_.xc(j);
    for (int i = 0; i < N; ++i) {  // −F = −(f x − sw s), s interpolated in t
      const double sx = w_[0] * s0[2 * i] + w_[1] * s1[2 * i] + w_[2] * s2[2 * i];
      const double sy = w_[0] * s0[2 * i + 1] + w_[1] * s1[2 * i + 1] + w_[2] * s2[2 * i + 1];
      ux[i] = float(sw_ * sx - f_ * g_.xc(i));
      uy[i] = float(sw_ * sy - f_ * yj);
    }
  }

 private:
  const Geometry& g_;
  Velocity& u_;
  double f_, sw_, w_[3] = {0, 0, 0};
  const float* S_[3] = {nullptr, nullptr, nullptr};
};

void velocity_at(const Geometry& g, const Schedule& sch, double eta, double t,
                 const ScoreInterp& si, Velocity& u) {
  const VelocityAt at(g, sch, eta, t, si, u);
  g.team->run(g.n, [&](int begin, int end) {
    for (int j = begin; j < end; ++j) at.column(j);
  });
}

// max over cells of the summed outgoing face speeds (the positivity bound's denominator).
double max_outflow(const Geometry& g, const Velocity& u) {
  const int N = g.n;
  std::vector<double> col(N, 0.0);
  g.team->run(N, [&](int begin, int end) {
    for (int j = begin; j < end; ++j) {
      double m = 0;
      for (int i = 0; i < N; ++i) {
        double out = 0;
        auto face = [](float a, float b) { return 0.5 * (double(a) + double(b)); };
        if (i + 1 < N) out += std::max(0.0, face(u.ux(i, j), u.ux(i + 1, j)));
        if (i > 0) out += std::max(0.0, -face(u.ux(i - 1, j), u.ux(i, j)));
        if (j + 1 < N) out += std::max(0.0, face(u.uy(i, j), u.uy(i, j + 1)));
        if (j > 0) out += std::max(0.0, -face(u.uy(i, j - 1), u.uy(i, j)));
        m = std::max(m, out);
      }
      col[j] = m;
    }
  });
  return *std::max_element(col.begin(), col.end());
}

// Fluxes through faces, from the upwind side: the κ = 1/3 upwind-biased face value
// q_i + Δ₋/6 + Δ₊/3 = (5 q_i − q_{i−1} + 2 q_{i+1})/6 (mirror ghosts at the walls), clamped to
// [0, 2 q_upwind] for positivity, times the face velocity (the mean of the two cell-centre
// velocities); zero through the walls. Both upwind choices are computed and one is selected,
// so the loops over a column have no branches and vectorise.
inline double face_value(double qm, double q0, double qp) {  // cell q0's value towards qp
  return std::clamp((5.0 * q0 - qm + 2.0 * qp) * (1.0 / 6.0), 0.0, 2.0 * q0);
}
inline double upwind_flux(double a, double qm, double q0, double qp, double qpp) {
  // a > 0: from q0 (behind it qm, ahead qp); a ≤ 0: from qp (behind it qpp, ahead q0).
  const double fp = a * face_value(qm, q0, qp), fm = a * face_value(qpp, qp, q0);
  return a > 0 ? fp : fm;
}

// fx[i] = flux through face i − ½ of column j (i = 0 … N; fx[0] = fx[N] = 0).
void x_fluxes(const Grid& qg, const Velocity& u, int j, double* fx) {
  const int N = int(qg.rows());
  const double* q = &qg(0, j);
  const float* ux = &u.ux(0, j);
  fx[0] = fx[N] = 0.0;
  auto at = [&](int i) { return q[std::clamp(i, 0, N - 1)]; };
  for (int i : {0, N - 2})  // faces next to the walls: mirror ghosts
    if (i >= 0 && i + 1 < N)
      fx[i + 1] = upwind_flux(0.5 * (double(ux[i]) + ux[i + 1]), at(i - 1), q[i], q[i + 1], at(i + 2));
  for (int i = 1; i + 2 < N; ++i)
    fx[i + 1] = upwind_flux(0.5 * (double(ux[i]) + ux[i + 1]), q[i - 1], q[i], q[i + 1], q[i + 2]);
}

// fy[i] = flux through the face between columns j and j + 1 (0 for j < 0 or j ≥ N − 1).
void y_fluxes(const Grid& qg, const Velocity& u, int j, double* fy) {
  const int N = int(qg.rows());
  if (j < 0 || j >= N - 1) {
    std::fill(fy, fy + N, 0.0);
    return;
  }
  const double* qm = &qg(0, std::max(j - 1, 0));
  const double* q0 = &qg(0, j);
  const double* qp = &qg(0, j + 1);
  const double* qpp = &qg(0, std::min(j + 2, N - 1));
  const float* u0 = &u.uy(0, j);
  const float* u1 = &u.uy(0, j + 1);
  for (int i = 0; i < N; ++i)
    fy[i] = upwind_flux(0.5 * (double(u0[i]) + u1[i]), qm[i], q0[i], qp[i], qpp[i]);
}

// out = a·q0 + b·(qs + dτ L(qs; u)), L the finite-volume transport operator −∇·(u q).
// `after_column(j)` runs on column j once it is written (the same thread, so it may touch
// column j of anything the stage does not read across columns).
void transport_stage(const Geometry& g, const Grid& q0, double a, const Grid& qs, double b,
                     double dtau, const Velocity& u, Grid& out,
                     const std::function<void(int)>& after_column = {}) {
  const int N = g.n;
  out.resize(N, N);
  const double r = dtau / g.h;
  g.team->run(N, [&](int begin, int end) {
    // Columns in order; the flux through the face above column j is the one below j + 1.
    std::vector<double> fx(N + 1), below(N), above(N);
    y_fluxes(qs, u, begin - 1, below.data());
    for (int j = begin; j < end; ++j) {
      x_fluxes(qs, u, j, fx.data());
      y_fluxes(qs, u, j, above.data());
      const double* qsj = &qs(0, j);
      const double* q0j = &q0(0, j);
      double* oj = &out(0, j);
      if (a != 0.0) {
        for (int i = 0; i < N; ++i)
          oj[i] = a * q0j[i] + b * (qsj[i] - r * (fx[i + 1] - fx[i] + above[i] - below[i]));
      } else {
        for (int i = 0; i < N; ++i) oj[i] = b * (qsj[i] - r * (fx[i + 1] - fx[i] + above[i] - below[i]));
      }
      if (after_column) after_column(j);
      std::swap(below, above);
    }
  });
}

// Column sums for the mass, in a thread-independent order, and the clipping of negatives
// (round-off, and the heat kernel's negative lobes in steep tails: see the derivation).
struct ColumnMass {
  std::vector<double> sum, clipped, min;
  explicit ColumnMass(int n) : sum(n, 0.0), clipped(n, 0.0), min(n, 0.0) {}
  void clip_column(Grid& q, int j) {
    double s = 0, c = 0, m = 0;
    for (int i = 0; i < q.rows(); ++i) {
      double& v = q(i, j);
      if (!(v >= 0)) {  // also NaN: reported as a failure via the mass
        if (std::isnan(v)) { s = NAN; continue; }
        m = std::min(m, v);
        c -= v;
        v = 0;
      }
      s += v;
    }
    sum[size_t(j)] = s;
    clipped[size_t(j)] = c;
    min[size_t(j)] = m;
  }
  // Σ q h², reported; throws if the density became non-finite.
  double finish(const Geometry& g, EtaReport& rep) const {
    double mass = 0;
    for (size_t j = 0; j < sum.size(); ++j) {
      mass += sum[j];
      rep.clipped_mass += clipped[j];
      rep.min_q = std::min(rep.min_q, min[j]);
    }
    mass *= g.h * g.h;
    if (!std::isfinite(mass))
      throw Error("fokker_planck: the density became non-finite (eta = " + format_number(rep.eta) + ")");
    rep.max_mass_error = std::max(rep.max_mass_error, std::abs(mass - 1.0));
    return mass;
  }
};

// Clips round-off negatives to 0 and returns the mass Σ q h².
double clip_and_mass(const Geometry& g, Grid& q, EtaReport& rep) {
  ColumnMass cm(g.n);
  g.team->run(g.n, [&](int begin, int end) {
    for (int j = begin; j < end; ++j) cm.clip_column(q, j);
  });
  return cm.finish(g, rep);
}

// E(θ) = V diag(e^{λθ}) Vᵀ (E(i, k): from cell k to cell i; every column sums to 1). Its
// entries fall off like the heat kernel, but a product V·diag·Vᵀ carries round-off of ~1e-17
// everywhere, so the width of the kernel is read off one exactly summed column instead: the
// band B holds every entry above 1e-13 of the largest. Within it the entries are summed
// directly (N (2B+1) sums of N terms instead of a dense N³ product) and each column rescaled
// to sum 1, so the truncated operator keeps the mass exactly; a substep's heat then costs
// 2 N² (2B+1). A kernel wider than N/3 stays dense.
struct Kernel {
  Eigen::MatrixXd E, Et;   // dense kernels: E and its transpose
  Eigen::MatrixXd diag;    // banded: diag(i, B + d) = E(i, i + d) (0 outside the grid)
  int band = 0;
  bool dense = false;
};

// The two operators of one heat step: the fourth-order one, and the positive 5-point one for
// the cells where the fourth-order kernel's negative lobes bite (apply_heat).
struct Heat {
  double theta = 0;
  Kernel fourth;
  std::optional<Kernel> second;   // built when first needed (most steps never need it)
};

// The kernel E = V diag(e^{λθ}) Vᵀ, entry by entry from its structure: in the cosine basis
// V(i, k) = c_k cos(πk(i + ½)/N) it is Toeplitz plus Hankel,
//   E(i, j) = C(i − j) + C(i + j + 1),   C(d) = Σ_k ½ c_k² e^{λ_k θ} cos(πkd/N)   (C even),
// so 2N + 1 sums of N terms give every entry (a product of rows of V cost N per entry, and a
// kernel is built for every heat step).
Kernel make_kernel(const Geometry& g, const Vec& lambda, double theta) {
  Kernel H;
  const int N = g.n;
  Vec w(N), cos_pi(2 * N);
  for (int k = 0; k < N; ++k) w(k) = (k == 0 ? 0.5 : 1.0) / N * std::exp(lambda(k) * theta);
  for (int m = 0; m < 2 * N; ++m) cos_pi(m) = std::cos(M_PI * m / N);
  Vec C(2 * N + 1);
  g.team->run(2 * N + 1, [&](int begin, int end) {
    for (int d = begin; d < end; ++d) {
      double sum = 0;
      for (int k = 0, m = 0; k < N; ++k) {  // m = k d mod 2N
        sum += w(k) * cos_pi(m);
        if ((m += d) >= 2 * N) m -= 2 * N;
      }
      C(d) = sum;
    }
  });
  auto entry = [&](int i, int k) { return C(std::abs(i - k)) + C(i + k + 1); };
  const int mid = N / 2;
  Vec col(N);
  for (int i = 0; i < N; ++i) col(i) = entry(i, mid);
  const double floor_e = 1e-13 * col.cwiseAbs().maxCoeff();
  for (int i = 0; i < N; ++i)
    if (std::abs(col(i)) > floor_e) H.band = std::max(H.band, std::abs(i - mid));
  H.band = std::min(N - 1, H.band + 1);
  H.dense = 3 * H.band >= N;
  if (H.dense) {
    H.E.resize(N, N);
    for (int k = 0; k < N; ++k)
      for (int i = 0; i < N; ++i) H.E(i, k) = entry(i, k);
    H.Et = H.E.transpose();
    return H;
  }
  // Column k of E holds E(i, k) = diag(i, B + k − i) for |i − k| ≤ B.
  const int B = H.band;
  H.diag = Eigen::MatrixXd::Zero(N, 2 * B + 1);
  g.team->run(N, [&](int begin, int end) {
    for (int k = begin; k < end; ++k) {
      const int i0 = std::max(0, k - B), i1 = std::min(N - 1, k + B);
      double sum = 0;
      for (int i = i0; i <= i1; ++i) sum += (H.diag(i, B + k - i) = entry(i, k));
      for (int i = i0; i <= i1; ++i) H.diag(i, B + k - i) /= sum;
    }
  });
  return H;
}

Heat make_heat(const Geometry& g, double theta) {
  Heat H;
  H.theta = theta;
  if (!(theta > 0)) return H;
  H.fourth = make_kernel(g, g.lambda, theta);
  return H;
}

// out = E in Eᵀ (E symmetric up to the band's renormalisation). `tmp` is scratch.
void apply_kernel(const Geometry& g, const Kernel& H, const Grid& in, Grid& tmp, Grid& out) {
  const int N = g.n, B = H.band;
  tmp.resize(N, N);
  out.resize(N, N);
  if (H.dense) {
    const int blocks = std::max(1, std::min(N / 16, 4 * g.threads));
    auto block = [&](int b, int& start, int& len) {
      start = int(int64_t(N) * b / blocks);
      len = int(int64_t(N) * (b + 1) / blocks) - start;
    };
    g.team->run(blocks, [&](int begin, int end) {
      for (int b = begin; b < end; ++b) {
        int s, l;
        block(b, s, l);
        tmp.middleCols(s, l).noalias() = H.E * in.middleCols(s, l);
      }
    });
    g.team->run(blocks, [&](int begin, int end) {
      for (int b = begin; b < end; ++b) {
        int s, l;
        block(b, s, l);
        out.middleRows(s, l).noalias() = tmp.middleRows(s, l) * H.Et;
      }
    });
    return;
  }
  // Along y: tmp(:, j) = Σ_d E(j, j + d) in(:, j + d); along x, diagonal by diagonal:
  // out(i, j) = Σ_d E(i, i + d) tmp(i + d, j). Both are axpys over contiguous columns.
  g.team->run(N, [&](int begin, int end) {
    for (int j = begin; j < end; ++j) {
      auto col = tmp.col(j);
      col.setZero();
      for (int d = std::max(-B, -j); d <= std::min(B, N - 1 - j); ++d)
        col.noalias() += H.diag(j, B + d) * in.col(j + d);
    }
  });
  g.team->run(N, [&](int begin, int end) {
    for (int j = begin; j < end; ++j) {
      double* o = &out(0, j);
      const double* t = &tmp(0, j);
      std::fill(o, o + N, 0.0);
      for (int d = -B; d <= B; ++d) {
        const double* w = &H.diag(0, B + d);
        const int i0 = std::max(0, -d), i1 = std::min(N, N - d);
        for (int i = i0; i < i1; ++i) o[i] += w[i] * t[i + d];
      }
    }
  });
}

// q ← E q Eᵀ with the fourth-order kernel. Where that leaves a cell below half the positive
// 5-point kernel's value — only where q falls by more than ~16× per cell, so never in the
// smooth bulk — the 5-point value is taken, and the grid rescaled to the mass it had (both
// kernels keep it; the mix changes it by about the replaced cells' share, ~1e-6 at most).
// `tmp`, `q4`, `q2` are scratch.
void apply_heat(const Geometry& g, Heat& H, Grid& q, Grid& tmp, Grid& q4, Grid& q2,
                EtaReport& rep) {
  if (!(H.theta > 0)) return;
  ++rep.diffusion_steps;
  apply_kernel(g, H.fourth, q, tmp, q4);
  if (q4.minCoeff() >= 0) {
    std::swap(q, q4);
    return;
  }
  ++rep.heat_fallbacks;
  if (!H.second) H.second = make_kernel(g, g.lambda5, H.theta);
  apply_kernel(g, *H.second, q, tmp, q2);
  const double before = q.sum();
  q = (q4.array() >= 0.5 * q2.array()).select(q4, q2);
  const double after = q.sum();
  if (after > 0) q *= before / after;
}

// log q at the cell centres from the cell averages (second-order centre correction).
Grid log_density_of(const Geometry& g, const Grid& q) {
  const int N = g.n;
  Grid out(N, N);
  const double c = g.h * g.h / 24.0, ih2 = 1.0 / (g.h * g.h);
  g.team->run(N, [&](int begin, int end) {
    for (int j = begin; j < end; ++j)
      for (int i = 0; i < N; ++i) {
        const double v = q(i, j);
        if (!(v > 0)) {
          out(i, j) = -std::numeric_limits<double>::infinity();
          continue;
        }
        const double lap = ((i > 0 ? q(i - 1, j) : v) + (i + 1 < N ? q(i + 1, j) : v) +
                            (j > 0 ? q(i, j - 1) : v) + (j + 1 < N ? q(i, j + 1) : v) - 4 * v) *
                           ih2;
        const double corr = c * lap / v;
        out(i, j) = std::log(v) - (std::abs(corr) < 0.5 ? corr : 0.0);
      }
  });
  return out;
}

// The model's local width w = 1/√λ_max(−sym ∇s) per cell (∞ where −∇s has no positive
// eigenvalue), ∇s by central differences of the node score S.
std::vector<double> model_widths(const Geometry& g, const Points& S) {
  const int N = g.n;
  std::vector<double> w(size_t(N) * N);
  auto at = [&](int comp, int i, int j) { return S(comp, i + Eigen::Index(N) * j); };
  g.team->run(N, [&](int begin, int end) {
    for (int j = begin; j < end; ++j)
      for (int i = 0; i < N; ++i) {
        const int i0 = std::max(0, i - 1), i1 = std::min(N - 1, i + 1);
        const int j0 = std::max(0, j - 1), j1 = std::min(N - 1, j + 1);
        const double dxi = (i1 - i0) * g.h, dyj = (j1 - j0) * g.h;
        const double sxx = (at(0, i1, j) - at(0, i0, j)) / dxi;
        const double sxy = (at(0, i, j1) - at(0, i, j0)) / dyj;
        const double syx = (at(1, i1, j) - at(1, i0, j)) / dxi;
        const double syy = (at(1, i, j1) - at(1, i, j0)) / dyj;
        const double a = -sxx, c = -syy, b = -0.5 * (sxy + syx);
        const double lam = 0.5 * (a + c) + std::sqrt(0.25 * (a - c) * (a - c) + b * b);
        w[size_t(i) + size_t(N) * j] =
            lam > 0 ? 1.0 / std::sqrt(lam) : std::numeric_limits<double>::infinity();
      }
  });
  return w;
}

// The node controller's error measure: the largest |divided difference| of the node scores
// over the cells with mass (q within ~14 nats of the peak, any η: the picture shows 12): the
// third one through S[0 … 3] at t[0 … 3], or without S[0] the second one through the last
// three. One pass, no temporaries.
double max_divided_difference(const Geometry& g, const Points* const S[4], const double t[4],
                              const std::vector<Grid>& Q) {
  const int N = g.n;
  double peak = 0;
  for (const Grid& q : Q) peak = std::max(peak, q.maxCoeff());
  const double floor_q = 1e-6 * peak;
  const bool four = S[0] != nullptr;
  std::vector<double> col(N, 0.0);
  g.team->run(N, [&](int begin, int end) {
    for (int j = begin; j < end; ++j) {
      double m = 0;
      for (int i = 0; i < N; ++i) {
        const Eigen::Index c = i + Eigen::Index(N) * j;
        bool mass = false;
        for (const Grid& q : Q) mass = mass || q.data()[c] > floor_q;
        if (!mass) continue;
        for (int k = 0; k < 2; ++k) {
          const double f12 = ((*S[2])(k, c) - (*S[1])(k, c)) / (t[2] - t[1]);
          const double f23 = ((*S[3])(k, c) - (*S[2])(k, c)) / (t[3] - t[2]);
          const double f123 = (f23 - f12) / (t[3] - t[1]);
          double dd = f123;
          if (four) {
            const double f01 = ((*S[1])(k, c) - (*S[0])(k, c)) / (t[1] - t[0]);
            const double f012 = (f12 - f01) / (t[2] - t[0]);
            dd = (f123 - f012) / (t[3] - t[0]);
          }
          m = std::max(m, std::abs(dd));
        }
      }
      col[size_t(j)] = m;
    }
  });
  return *std::max_element(col.begin(), col.end());
}

void resolution_report(const Geometry& g, const std::vector<double>& widths, const Grid& q,
                       double min_width_cells, DensityGrid& out) {
  const size_t n = widths.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t(0));
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return widths[a] < widths[b]; });
  const double cell_mass = g.h * g.h, threshold = min_width_cells * g.h;
  double cum = 0, unresolved = 0, q05 = NAN;
  for (size_t k : order) {
    const double m = q.data()[k] * cell_mass;
    cum += m;
    if (widths[k] < threshold) unresolved += m;
    if (std::isnan(q05) && cum >= 0.05) q05 = widths[k];
  }
  out.unresolved_mass = unresolved;
  out.width_q05 = q05;
  out.resolved = unresolved <= 0.01;
}

}  // namespace

double FokkerPlanckResult::log_density(int eta_index, int time_index, double x, double y) const {
  const Grid& lq = grids.at(eta_index).at(time_index).log_q;
  if (!(std::abs(x) <= extent && std::abs(y) <= extent)) return NAN;
  auto locate = [&](double v, int& i0, double& w) {
    const double u = std::clamp((v + extent) / h - 0.5, 0.0, double(n - 1));
    i0 = std::min(n - 2, int(std::floor(u)));
    w = u - i0;
  };
  int i, j;
  double wx, wy;
  locate(x, i, wx);
  locate(y, j, wy);
  auto lerp = [](double a, double b, double w) {
    if (w == 0) return a;
    if (w == 1) return b;
    return (1 - w) * a + w * b;  // −inf propagates: no density there
  };
  return lerp(lerp(lq(i, j), lq(i + 1, j), wx), lerp(lq(i, j + 1), lq(i + 1, j + 1), wx), wy);
}

bool FokkerPlanckResult::resolved(int time_index) const {
  for (const auto& per_eta : grids)
    if (!per_eta.at(time_index).resolved) return false;
  return true;
}

FokkerPlanckResult solve_fokker_planck(const ScoreModel& model, const Schedule& sch,
                                       const FokkerPlanckOptions& opt,
                                       const std::atomic<bool>* cancel,
                                       const std::function<void(double)>& progress) {
  using clock = std::chrono::steady_clock;
  const auto t_start = clock::now();
  if (model.dim() != 2)
    throw Error("fokker_planck: the score model has dimension " + std::to_string(model.dim()) +
                "; the grid solver is 2D");
  if (opt.grid < 8 || opt.grid > 4096) throw Error("fokker_planck: grid must be in [8, 4096]");
  if (!(opt.extent > 0) || !std::isfinite(opt.extent))
    throw Error("fokker_planck: extent must be a positive number");
  if (opt.etas.empty()) throw Error("fokker_planck: no eta given");
  for (double e : opt.etas)
    if (!(e >= 0 && e <= 1)) throw Error("fokker_planck: eta " + format_number(e) + " is not in [0, 1]");
  if (!(opt.cfl > 0 && opt.cfl <= 1)) throw Error("fokker_planck: cfl must be in (0, 1]");
  if (!(opt.node_tol > 0) || !(opt.min_width_cells >= 0))
    throw Error("fokker_planck: node_tol must be positive and min_width_cells non-negative");
  std::vector<double> times = opt.times.empty() ? std::vector<double>{sch.t_min} : opt.times;
  for (double t : times)
    if (!(t >= sch.t_min && t <= sch.t_max))
      throw Error("fokker_planck: time " + format_number(t) + " is outside [" +
                  format_number(sch.t_min) + ", " + format_number(sch.t_max) + "]");

  Geometry g;
  g.n = opt.grid;
  g.L = opt.extent;
  g.h = 2 * g.L / g.n;
  g.threads = opt.threads > 0 ? opt.threads : default_threads();
  ThreadTeam team(g.threads);
  g.team = &team;
  const int N = g.n;
  g.xc.resize(N);
  for (int i = 0; i < N; ++i) g.xc(i) = -g.L + (i + 0.5) * g.h;
  g.lambda.resize(N);
  g.lambda5.resize(N);
  for (int k = 0; k < N; ++k) {  // on cos(πk(i + ½)/N), the zero-flux Laplacians' eigenvectors
    const double sn = std::sin(M_PI * k / (2.0 * N));
    g.lambda5(k) = -4.0 / (g.h * g.h) * sn * sn;
    g.lambda(k) = -4.0 / (g.h * g.h) * (sn * sn + sn * sn * sn * sn / 3.0);
  }

  FokkerPlanckResult res;
  res.n = N;
  res.extent = g.L;
  res.h = g.h;
  res.etas = opt.etas;
  res.times = times;
  const int ne = int(opt.etas.size()), nt = int(times.size());
  res.grids.assign(ne, std::vector<DensityGrid>(nt));
  res.reports.resize(ne);
  const double eta_max = *std::max_element(opt.etas.begin(), opt.etas.end());

  // Output times, descending and distinct, each with the request indices it serves.
  std::vector<double> outs = times;
  std::sort(outs.begin(), outs.end(), std::greater<>());
  outs.erase(std::unique(outs.begin(), outs.end()), outs.end());
  auto record_indices = [&](double t) {
    std::vector<int> idx;
    for (int k = 0; k < nt; ++k)
      if (times[k] == t) idx.push_back(k);
    return idx;
  };

  // Initial condition: exact cell averages of N(0, I), renormalised to the domain.
  Vec cell1(N);
  for (int i = 0; i < N; ++i) cell1(i) = normal_mass(g.xc(i) - 0.5 * g.h, g.xc(i) + 0.5 * g.h);
  const double inside = cell1.sum();
  res.prior_mass_outside = 1.0 - normal_mass(-g.L, g.L) * normal_mass(-g.L, g.L);
  Grid q_init = (cell1 * cell1.transpose()) / (inside * inside * g.h * g.h);

  std::vector<Grid> Q(ne, q_init);
  for (int e = 0; e < ne; ++e) res.reports[e].eta = opt.etas[e];

  const GridScore grid_score(model, g);
  auto eval_score = [&](double t, Points& S) {
    const auto t0 = clock::now();
    grid_score.eval(t, S);
    ++res.score_evaluations;
    res.score_seconds += std::chrono::duration<double>(clock::now() - t0).count();
  };
  auto cancelled = [&] { return cancel && cancel->load(std::memory_order_relaxed); };


  auto record = [&](double t, const Points& S) {
    const std::vector<double> widths = model_widths(g, S);
    for (int k : record_indices(t))
      for (int e = 0; e < ne; ++e) {
        DensityGrid& dg = res.grids[e][k];
        dg.eta = opt.etas[e];
        dg.t = t;
        dg.log_q = log_density_of(g, Q[e]);
        dg.mass = Q[e].sum() * g.h * g.h;
        resolution_report(g, widths, Q[e], opt.min_width_cells, dg);
      }
  };

  // Advances η index e from t_a down to t_b (a node interval), s from `si`. Substeps: uniform
  // in t for η = 0; for η > 0 uniform in the clock C = ∫ g² dt, so every substep has the same
  // diffusion θ = η/2 ΔC and one heat matrix serves the interval. Each substep is Strang:
  // heat(θ/2), transport (SSP-RK(S,2)), heat(θ/2).
  Velocity ua, ub, um;
  Grid q1, q2, scratch, q4, q5;
  auto transport_piece = [&](int e, double t_a, double t_b, const ScoreInterp& si) -> bool {
    const double eta = opt.etas[e];
    EtaReport& rep = res.reports[e];
    const double tm = 0.5 * (t_a + t_b);
    velocity_at(g, sch, eta, t_a, si, ua);
    velocity_at(g, sch, eta, tm, si, um);
    velocity_at(g, sch, eta, t_b, si, ub);
    const double oa = max_outflow(g, ua), om = max_outflow(g, um), ob = max_outflow(g, ub);
    // On out(t) · Δt per substep: kStages − 1 forward-Euler positivity bounds h/2.
    const double bound = (kStages - 1) * opt.cfl * g.h / 2 / 1.05;
    std::vector<double> ts;                          // substep boundaries, t_a … t_b
    double theta = 0;
    if (eta > 0) {
      // Δt ≈ ΔC / g²(t): ΔC ≤ bound · g²/out at the three probes.
      double rate = 0;  // max out/g²
      for (auto [o, t] : {std::pair{oa, t_a}, std::pair{om, tm}, std::pair{ob, t_b}})
        rate = std::max(rate, o / sch.g2(t));
      const double Ca = noise_clock(sch, t_a), Cb = noise_clock(sch, t_b);
      const long m = std::max(1L, long(std::ceil((Cb - Ca) * rate / bound)));
      ts.resize(m + 1);
      ts[0] = t_a;
      ts[m] = t_b;
      for (long k = 1; k < m; ++k) ts[k] = time_at_clock(sch, Ca + (Cb - Ca) * double(k) / m);
      theta = 0.5 * eta * (Cb - Ca) / double(m);
    } else {
      const double out = std::max({oa, om, ob});
      const long m = std::max(1L, long(std::ceil((t_a - t_b) * out / bound)));
      ts.resize(m + 1);
      for (long k = 0; k <= m; ++k) ts[k] = t_a - (t_a - t_b) * double(k) / m;
      ts[m] = t_b;
    }
    // Strang splitting per substep, D(θ/2) A D(θ/2), whose consecutive halves merge:
    // D(θ/2) A D(θ) A … A D(θ/2), one heat application per substep.
    Heat half = make_heat(g, 0.5 * theta), full = make_heat(g, theta);
    // SSP-RK(S,2) in τ (S = kStages): S forward-Euler stages of δ = dτ/(S − 1) at
    // τ, τ + δ, …, τ + dτ:
    //   q⁽ᵏ⁾ = q⁽ᵏ⁻¹⁾ + δ L(q⁽ᵏ⁻¹⁾), k = 1 … S − 1;   q ← q/S + (S − 1)/S (q⁽ˢ⁻¹⁾ + δ L(q⁽ˢ⁻¹⁾)).
    // Each stage is an Euler step within the positivity bound, so a substep may be S − 1 bounds
    // long: S/(S − 1) stages per bound (SSP-RK2 needs 2). Second order for every S; its
    // leading error grows like S − 1 at the largest substep (kStages). Passes are
    // fused (each team run wakes the workers and streams the grid once): a stage also fills
    // the next stage's velocity for its own columns, and the last one clips and sums them.
    const size_t m = ts.size() - 1;
    ColumnMass cm(g.n);
    Velocity* vel[2] = {&ua, &um};   // this stage's velocity and the next one's, in turn
    int cur = 0;
    Grid* buf[2] = {&q1, &q2};
    for (size_t s = 0; s < m; ++s) {
      if (cancelled()) return false;
      const double d = (ts[s] - ts[s + 1]) / (kStages - 1);
      const bool last = s + 1 == m;
      if (eta > 0) apply_heat(g, s == 0 ? half : full, Q[e], scratch, q4, q5, rep);
      const Grid* in = &Q[e];
      for (int k = 0; k + 1 < kStages; ++k) {   // stages 1 … S − 1, at τ + kδ
        const double t_next = k + 2 == kStages ? ts[s + 1] : ts[s] - (k + 1) * d;
        const VelocityAt next(g, sch, eta, t_next, si, *vel[1 - cur]);
        transport_stage(g, *in, 0.0, *in, 1.0, d, *vel[cur], *buf[k % 2],
                        [&](int j) { next.column(j); });
        in = buf[k % 2];
        cur = 1 - cur;
      }
      // The last stage, at τ + dτ: its velocity is the next substep's first.
      Grid& out = *buf[(kStages - 1) % 2];
      transport_stage(g, Q[e], 1.0 / kStages, *in, (kStages - 1.0) / kStages, d, *vel[cur], out,
                      [&](int j) {
                        if (!last) cm.clip_column(out, j);
                      });
      std::swap(Q[e], out);
      if (last) {
        if (eta > 0) apply_heat(g, half, Q[e], scratch, q4, q5, rep);
        clip_and_mass(g, Q[e], rep);
      } else {
        cm.finish(g, rep);
      }
      ++rep.substeps;
    }
    return true;
  };

  // The node loop.
  Points S_pp, S_prev, S_cur, S_next;   // nodes k−2, k−1, k, k+1
  GridF F_prev, F_cur, F_next;           // float copies of the last three, for the velocity
  double t_pp = NAN, t_prev = NAN, t_cur = sch.t_max;
  eval_score(t_cur, S_cur);
  F_cur = S_cur.cast<float>();
  res.node_times.push_back(t_cur);
  if (!outs.empty() && outs.front() == sch.t_max) record(sch.t_max, S_cur);
  size_t next_out = (!outs.empty() && outs.front() == sch.t_max) ? 1 : 0;
  const double span = sch.t_max - sch.t_min;
  double dt = span / 1000.0;  // the first interval is linear and unchecked: keep it short
  const double dt_max = span / 16.0;
  while (t_cur > sch.t_min) {
    if (cancelled()) {
      res.cancelled = true;
      break;
    }
    const double target = next_out < outs.size() ? outs[next_out] : sch.t_min;
    double step = std::min(dt, dt_max);
    if (t_cur - step < target + 0.3 * step) step = t_cur - target;
    const double t_next = (step == t_cur - target) ? target : t_cur - step;
    eval_score(t_next, S_next);
    F_next = S_next.cast<float>();

    // Interpolation-error estimate over this interval (see the derivation above).
    ScoreInterp si;
    if (!std::isnan(t_prev)) {
      si.n = 3;
      si.t[0] = t_prev, si.t[1] = t_cur, si.t[2] = t_next;
      si.S[0] = &F_prev, si.S[1] = &F_cur, si.S[2] = &F_next;
    } else {
      si.n = 2;
      si.t[0] = t_cur, si.t[1] = t_next;
      si.S[0] = &F_cur, si.S[1] = &F_next;
    }
    if (!std::isnan(t_prev)) {
      const double h1 = t_prev - t_cur, h2 = t_cur - t_next;
      const bool four = !std::isnan(t_pp);   // else two intervals only: the linear bound
      const Points* nodes[4] = {four ? &S_pp : nullptr, &S_prev, &S_cur, &S_next};
      const double times[4] = {t_pp, t_prev, t_cur, t_next};
      const double worst = max_divided_difference(g, nodes, times, Q);
      // ∫ |nodal polynomial| over the interval (conservative for the linear case).
      const double weight = four ? h1 * h2 * h2 * h2 / 6.0 + h2 * h2 * h2 * h2 / 12.0 : h2 * h2 * h2 / 6.0;
      const int order = four ? 4 : 3;
      const double w = 0.5 * (1 + eta_max) * std::max(sch.g2(t_cur), sch.g2(t_next));
      const double err = w * weight * worst / g.h;
      const double factor =
          err > 0 ? std::clamp(0.9 * std::pow(opt.node_tol / err, 1.0 / order), 0.2, 2.0) : 2.0;
      if (err > 2 * opt.node_tol && h2 > 1e-9 * span) {
        ++res.rejected_nodes;
        dt = h2 * factor;
        if (res.score_evaluations > opt.max_nodes)
          throw Error("fokker_planck: more than " + std::to_string(opt.max_nodes) +
                      " score evaluations (the score changes too fast in t at t = " +
                      format_number(t_cur) + ")");
        continue;
      }
      dt = h2 * factor;
    }
    if (res.score_evaluations > opt.max_nodes)
      throw Error("fokker_planck: more than " + std::to_string(opt.max_nodes) + " score evaluations");

    res.node_times.push_back(t_next);
    // Transport (and diffuse) every η across [t_next, t_cur].
    bool ok = true;
    for (int e = 0; e < ne && ok; ++e) {
      const auto t0 = clock::now();
      ok = transport_piece(e, t_cur, t_next, si);
      res.reports[e].seconds += std::chrono::duration<double>(clock::now() - t0).count();
    }
    if (!ok) {
      res.cancelled = true;
      break;
    }
    if (next_out < outs.size() && t_next == outs[next_out]) {
      record(t_next, S_next);
      ++next_out;
    }
    S_pp.swap(S_prev);
    S_prev.swap(S_cur);
    S_cur.swap(S_next);
    F_prev.swap(F_cur);
    F_cur.swap(F_next);
    t_pp = t_prev;
    t_prev = t_cur;
    t_cur = t_next;
    if (progress) progress(std::clamp((sch.t_max - t_cur) / span, 0.0, 1.0));
  }
  res.seconds = std::chrono::duration<double>(clock::now() - t_start).count();
  return res;
}

}  // namespace diffpath
