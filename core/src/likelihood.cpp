// NLL of the probability-flow ODE and the exact first-order WKB coefficient c(x₀)
// (likelihood.hpp, DESIGN §1.5–1.6).
//
// Index
//   derivation ............... sign conventions, the G/H equations, the two forms of c
//   PointVelocity ............ ∇v, ∇(∇·v), ∇²(∇·v) of one point from the score jet
//   StateLayout .............. the x | G | H | δx | scalar blocks of a pass's ODE state
//   gh_rhs, path_gh_rhs ...... the G, H equations (shared by passes 2 and 3)
//   integrate_piecewise,
//   forward_nll .............. pass 1, Tmin → Tmax: x and ∫∇·v
//   backward_wkb ............. pass 2, Tmax → Tmin: G, H and c (cancelled form)
//   forward_delta_x .......... pass 3, Tmin → Tmax: c in the paper's δx form
//   solve_together,
//   solve_batch .............. a batch as one ODE system; points alone when it fails
//   evaluate_likelihood ...... batches in parallel, tenfold-tighter rerun, summaries (stats.hpp)
//   log_snr_grid ............. node times equally spaced in log SNR (also used by NLL(η))
#include "diffpath/likelihood.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <mutex>
#include <type_traits>

#include "diffpath/eta_model.hpp"
#include "diffpath/ode.hpp"
#include "diffpath/parallel.hpp"
#include "diffpath/stats.hpp"

// Derivations and sign conventions (L(x,t) = log q_t⁰(x), the η = 0 model density).
//
// Continuity ∂_t q = −∇·(q v) gives, along a PF path ẋ = v, dL/dt = −∇·v, hence
//   log q₀(x₀) = log q_T(x_T) + ∫_{Tmin}^{Tmax} ∇·v dt.
// With J_{ki} = ∂_i v_k, G = ∇L, H = ∇∇L along the path (chain rule, ∂_t L = −∇·v − v·∇L):
//   dG/dt = ∇∂_t L + H v = −∇(∇·v) − Jᵀ G,
//   dH/dt = −∇²(∇·v) − Σ_k G_k ∇²v_k − Jᵀ H − H J,
// both known at Tmax (the prior: G = −x_T, H = −I) and integrated backwards.
// For v = f x − g²/2 s:  J = f I − g²/2 ∇s,  ∇·v = d f − g²/2 ∇·s,
//   ∂_i(∇·v) = −g²/2 Σ_j ∂_i∂_j s_j,   ∂_i∂_l(∇·v) = −g²/2 Σ_j ∂_i∂_l∂_j s_j,
//   ∇²v_k = −g²/2 ∇²s_k.
//
// The η-model moves its density with u = v − η g²/2 (s − ∇log q^η) (the reverse SDE's
// Fokker–Planck equation written as a continuity equation). Perturbing the path from x₀,
// X = x + η δx + O(η²), δẋ = J δx − g²/2 (s − G), δx(Tmin) = 0, gives the paper's form
//   c = δx_T·∇log q_T(x_T) + ∫ ∇·δv dt,   ∇·δv = δx·∇(∇·v) − g²/2 (∇·s − tr H).
// Since d(δx·G)/dt = −g²/2 (s − G)·G − δx·∇(∇·v), the δx terms integrate to boundary terms
// that cancel against δx_T·G_T, leaving the cancelled form
//   c = −∫_{Tmin}^{Tmax} g²/2 [∇·s + G·s − ‖G‖² − tr H] dt,
// whose integrand vanishes identically when s = ∇log q_t⁰ (G = s, H = ∇s).

namespace diffpath {

namespace {

constexpr double kLog2Pi = 1.8378770664093453;
constexpr int kDeltaXSegments = 64;  // nodes of the δx pass's G/H resets (see forward_delta_x)

// Velocity-field derivatives of one point, from the score jet at time t.
struct PointVelocity {
  Eigen::MatrixXd Jv;      // ∂_i v_k at (k, i)
  Vec grad_div;            // ∇(∇·v)
  Eigen::MatrixXd hess_div;  // ∇²(∇·v)  (order 3 only)
  double div_s = 0;        // ∇·s

  explicit PointVelocity(int d) : Jv(d, d), grad_div(d), hess_div(d, d) {}

  void set(const ScoreJet& jet, int p, double f, double hg2, int d, bool third) {
    const JetIndex ix{d};
    div_s = 0;
    for (int k = 0; k < d; ++k) {
      div_s += jet.J(ix.J(k, k), p);
      for (int i = 0; i < d; ++i) Jv(k, i) = (k == i ? f : 0.0) - hg2 * jet.J(ix.J(k, i), p);
    }
    if (jet.order < 2) return;
    for (int i = 0; i < d; ++i) {
      double acc = 0;
      for (int j = 0; j < d; ++j) acc += jet.H(ix.H(j, j, i), p);
      grad_div(i) = -hg2 * acc;
    }
    if (!third) return;
    for (int i = 0; i < d; ++i)
      for (int l = 0; l < d; ++l) {
        double acc = 0;
        for (int j = 0; j < d; ++j) acc += jet.T(ix.T(j, j, i, l), p);
        hess_div(i, l) = -hg2 * acc;
      }
  }
};

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class V, class M>
using ConstLike = std::conditional_t<std::is_const_v<V>, const M, M>;  // const state: const view

// Named blocks of a pass's ODE state, a concatenation of
//   x (d×n) | G (d×n) | H (d²×n) | δx (d×n) | one scalar per point (n),
// G and H in the backward and δx passes, δx only in the δx pass (forward_nll: x | ℓ). Every
// block has one column per point; point p's H is row-major in column p (H_il at row i·d + l,
// the layout of ScoreJet::J). The views are Eigen::Maps into the state vector, const for a
// const state.
struct StateLayout {
  int d, n;
  bool gh = false, delta_x = false;

  Eigen::Index dn() const { return Eigen::Index(d) * n; }
  Eigen::Index size() const { return (1 + (gh ? 1 + d : 0) + (delta_x ? 1 : 0)) * dn() + n; }
  template <class V> auto x(V& y) const { return block(y, 0, d); }
  template <class V> auto G(V& y) const { return block(y, dn(), d); }
  template <class V> auto H(V& y) const { return block(y, 2 * dn(), d * d); }
  template <class V> auto delta(V& y) const { return block(y, (gh ? 2 + d : 1) * dn(), d); }
  template <class V> auto scalar(V& y) const { return y.segment(size() - n, n); }
  // G and H together (what the δx pass resets at its nodes).
  template <class V> auto gh_block(V& y) const { return y.segment(dn(), (1 + d) * dn()); }
  // Point p's H as a d × d matrix.
  template <class V> auto H_at(V& y, int p) const {
    return Eigen::Map<ConstLike<V, RowMatrix>>(y.data() + 2 * dn() + Eigen::Index(p) * d * d, d, d);
  }

 private:
  template <class V> auto block(V& y, Eigen::Index offset, int rows) const {
    return Eigen::Map<ConstLike<V, Eigen::MatrixXd>>(y.data() + offset, rows, n);
  }
};

// Right-hand sides dg, dh of G and H for one point p (the derivation block's equations).
template <class Gp, class Hp, class DGp, class DHp>
void gh_rhs(const PointVelocity& pv, const ScoreJet& jet, int p, double hg2, int d, const Gp& g,
            const Hp& h, DGp&& dg, DHp&& dh) {
  const JetIndex ix{d};
  for (int i = 0; i < d; ++i) {
    double acc = -pv.grad_div(i);
    for (int k = 0; k < d; ++k) acc -= pv.Jv(k, i) * g(k);
    dg(i) = acc;
  }
  for (int i = 0; i < d; ++i)
    for (int l = 0; l < d; ++l) {
      double acc = -pv.hess_div(i, l);
      for (int k = 0; k < d; ++k) {
        acc -= pv.Jv(k, i) * h(k, l) + h(i, k) * pv.Jv(k, l);
        acc += hg2 * g(k) * jet.H(ix.H(k, i, l), p);  // −G_k ∇²v_k, ∇²v_k = −g²/2 ∇²s_k
      }
      dh(i, l) = acc;
    }
}

// Scratch of one right-hand side evaluation.
struct RhsScratch {
  Points x;
  ScoreJet jet;
  PointVelocity pv;
  explicit RhsScratch(int d) : pv(d) {}
};

// What the backward and δx passes share: ẋ = v and the G, H equations for every point, then
// per_point(p, hg2, G_p, H_p) for the pass's own components (w.pv holds point p's velocity
// derivatives then, w.jet the score jet of all points).
template <class PerPoint>
void path_gh_rhs(const ScoreModel& model, const Schedule& sch, const StateLayout& L, double t,
                 const Vec& y, Vec& dy, RhsScratch& w, PerPoint per_point) {
  w.x = L.x(y);
  model.jet(w.x, t, 3, w.jet);
  const double f = sch.f(t), hg2 = eta_model::score_weight(sch, 0.0, t);  // v = f x − hg2 s
  L.x(dy) = eta_model::pf_velocity(sch, t, w.x, w.jet.s);
  const auto G = L.G(y);
  auto dG = L.G(dy);
  for (int p = 0; p < L.n; ++p) {
    w.pv.set(w.jet, p, f, hg2, L.d, true);
    const auto Hp = L.H_at(y, p);
    gh_rhs(w.pv, w.jet, p, hg2, L.d, G.col(p), Hp, dG.col(p), L.H_at(dy, p));
    per_point(p, hg2, G.col(p), Hp);
  }
}

struct PassResult {
  bool ok = true;
  std::string error;
};

PassResult pass_result(const OdeStats& st, const char* pass) {
  PassResult r;
  r.ok = st.ok;
  if (!st.ok) r.error = std::string(pass) + ": " + st.error;
  return r;
}

// Integrates over the grid `times` (ascending) from one end to the other, calling
// at_node(k, y) at every node t_k it reaches (including both ends), in the order visited.
// `before_segment(k, y)` may modify the state at node k before integrating away from it.
template <class Node, class Before>
PassResult integrate_piecewise(const OdeRhs& F, const std::vector<double>& times, bool forward,
                               Vec& y, const OdeOptions& o, const std::atomic<bool>* cancel,
                               const char* pass, Node at_node, Before before_segment) {
  const int K = int(times.size()) - 1;
  for (int s = 0; s < K; ++s) {
    const int from = forward ? s : K - s, to = forward ? s + 1 : K - s - 1;
    if (s == 0) at_node(from, y);
    before_segment(from, y);
    const OdeStats st = integrate_dopri5(F, times[from], times[to], y, o, cancel);
    if (!st.ok) return pass_result(st, pass);
    at_node(to, y);
  }
  return {};
}


// Pass 1, Tmin → Tmax. State: x (d×n) | ℓ (n), ℓ(t) = ∫_{Tmin}^t ∇·v.
PassResult forward_nll(const ScoreModel& model, const Schedule& sch, const Points& x0,
                       const OdeOptions& o, const std::atomic<bool>* cancel, Points& xT,
                       Vec& div_integral) {
  const int d = int(x0.rows()), n = int(x0.cols());
  const StateLayout L{d, n};
  Vec y = Vec::Zero(L.size());
  L.x(y) = x0;
  Points x(d, n);
  ScoreJet jet;
  auto F = [&](double t, const Vec& yy, Vec& dy) {
    x = L.x(yy);
    model.jet(x, t, 1, jet);
    L.x(dy) = eta_model::pf_velocity(sch, t, x, jet.s);
    const JetIndex ix{d};
    auto div_v = L.scalar(dy);
    for (int p = 0; p < n; ++p) {
      double div_s = 0;
      for (int k = 0; k < d; ++k) div_s += jet.J(ix.J(k, k), p);
      div_v(p) = eta_model::drift_divergence(sch, 0.0, t, d, div_s);
    }
  };
  const PassResult r = pass_result(integrate_dopri5(F, sch.t_min, sch.t_max, y, o, cancel),
                                   "forward pass");
  xT = L.x(y);
  div_integral = L.scalar(y);
  return r;
}

// Terminal G, H at Tmax: the N(0, I) prior, or the model's own score (model_prior).
void terminal_gh(const ScoreModel& model, const Schedule& sch, const Points& xT,
                 bool model_prior, Points& G, Eigen::MatrixXd& H) {
  const int d = int(xT.rows()), n = int(xT.cols());
  if (!model_prior) {
    G = -xT;
    H = Eigen::MatrixXd::Zero(d * d, n);
    for (int i = 0; i < d; ++i) H.row(JetIndex{d}.J(i, i)).setConstant(-1.0);
    return;
  }
  ScoreJet jet;
  model.jet(xT, sch.t_max, 1, jet);
  G = jet.s;
  H = jet.J;  // ∂_j s_i at i*d + j: the same row-major layout as H; symmetric for a gradient
}

// Pass 2, Tmax → Tmin. State: x (d×n) | G (d×n) | H (d²×n) | c (n).
// The c component obeys dc/dt = +g²/2 [∇·s + G·s − ‖G‖² − tr H] with c(Tmax) = 0, so that
// integrating backwards gives c(Tmin) = −∫_{Tmin}^{Tmax} g²/2 [...] dt, the cancelled form.
// `times` is the node grid (just {Tmin, Tmax} unless the δx form needs G, H at nodes);
// gh_nodes[k] receives the G | H block of the state at node k.
PassResult backward_wkb(const ScoreModel& model, const Schedule& sch, const Points& xT,
                        bool model_prior, const std::vector<double>& times, const OdeOptions& o,
                        const std::atomic<bool>* cancel, Points& x_rec, Vec& c,
                        std::vector<Vec>& gh_nodes) {
  const int d = int(xT.rows()), n = int(xT.cols());
  const StateLayout L{d, n, true};
  Points GT;
  Eigen::MatrixXd HT;
  terminal_gh(model, sch, xT, model_prior, GT, HT);
  Vec y = Vec::Zero(L.size());
  L.x(y) = xT;
  L.G(y) = GT;
  L.H(y) = HT;
  RhsScratch w(d);
  auto F = [&](double t, const Vec& yy, Vec& dy) {
    auto dc = L.scalar(dy);
    path_gh_rhs(model, sch, L, t, yy, dy, w, [&](int p, double hg2, const auto& g, const auto& h) {
      double gs = 0, gg = 0, tr_h = 0;
      for (int k = 0; k < d; ++k) {
        gs += g(k) * w.jet.s(k, p);
        gg += g(k) * g(k);
        tr_h += h(k, k);
      }
      dc(p) = hg2 * (w.pv.div_s + gs - gg - tr_h);
    });
  };
  gh_nodes.assign(times.size(), Vec());
  const PassResult r = integrate_piecewise(
      F, times, false, y, o, cancel, "backward (WKB) pass",
      [&](int k, const Vec& yk) { gh_nodes[k] = L.gh_block(yk); }, [](int, Vec&) {});
  x_rec = L.x(y);
  c = L.scalar(y);
  return r;
}

// Pass 3 (paper's δx form), Tmin → Tmax. State: x | G | H | δx (d×n) | ℓδ (n), starting from
// x₀, δx = 0, ℓδ = 0; ℓδ(t) = ∫_{Tmin}^t ∇·δv. c = δx_T·G_T + ℓδ(Tmax), with G_T the
// prior's gradient at x_T (as in the backward pass).
// G and H are terminal-value quantities: integrated forwards they pick up errors that grow
// like exp(∫ −J dt) wherever the flow contracts (e.g. a wrong score near Tmax on the cosine
// schedule, where |f| ~ 10³). So at every node of the grid G, H are reset to the backward
// pass's values there, and only carried forward across one short segment.
PassResult forward_delta_x(const ScoreModel& model, const Schedule& sch, const Points& x0,
                           bool model_prior, const std::vector<double>& times,
                           const std::vector<Vec>& gh_nodes, const OdeOptions& o,
                           const std::atomic<bool>* cancel, Vec& c) {
  const int d = int(x0.rows()), n = int(x0.cols());
  const StateLayout L{d, n, true, true};
  Vec y = Vec::Zero(L.size());
  L.x(y) = x0;
  RhsScratch w(d);
  auto F = [&](double t, const Vec& yy, Vec& dy) {
    const auto dx = L.delta(yy);
    auto d_dx = L.delta(dy);
    auto d_l = L.scalar(dy);
    path_gh_rhs(model, sch, L, t, yy, dy, w, [&](int p, double hg2, const auto& g, const auto& h) {
      const PointVelocity& pv = w.pv;
      double tr_h = 0, dx_grad_div = 0;
      for (int k = 0; k < d; ++k) {
        double acc = -hg2 * (w.jet.s(k, p) - g(k));  // δẋ = J δx − g²/2 (s − G)
        for (int i = 0; i < d; ++i) acc += pv.Jv(k, i) * dx(i, p);
        d_dx(k, p) = acc;
        tr_h += h(k, k);
        dx_grad_div += dx(k, p) * pv.grad_div(k);
      }
      d_l(p) = dx_grad_div - hg2 * (pv.div_s - tr_h);
    });
  };
  const PassResult r = integrate_piecewise(
      F, times, true, y, o, cancel, "delta-x pass", [](int, const Vec&) {},
      [&](int k, Vec& yk) { L.gh_block(yk) = gh_nodes[k]; });
  const Points xT = L.x(y);
  Points GT;
  Eigen::MatrixXd HT;
  if (r.ok) terminal_gh(model, sch, xT, model_prior, GT, HT);
  c.resize(n);
  for (int p = 0; p < n; ++p)
    c(p) = r.ok ? L.delta(y).col(p).dot(GT.col(p)) + L.scalar(y)(p) : NAN;
  return r;
}

// Results of one batch at one tolerance; error[p] empty means ok.
struct BatchValues {
  Vec nll, c, c_dx, recon;
  std::vector<std::string> error;
};

// All passes for the whole batch as one ODE system.
PassResult solve_together(const ScoreModel& model, const Schedule& sch, const Points& x0,
                          const LikelihoodOptions& opt, const OdeOptions& o,
                          const std::atomic<bool>* cancel, BatchValues& out) {
  const int d = int(x0.rows()), n = int(x0.cols());
  out.nll = out.c = out.c_dx = out.recon = Vec::Constant(n, NAN);
  Points xT;
  Vec div_integral;
  PassResult r = forward_nll(model, sch, x0, o, cancel, xT, div_integral);
  if (!r.ok) return r;
  // −log q₀ = −log N(x_T; 0, I) − ∫∇·v
  out.nll = 0.5 * xT.colwise().squaredNorm().transpose().array() + 0.5 * d * kLog2Pi -
            div_integral.array();
  if (!opt.wkb) return r;
  const std::vector<double> times = opt.delta_x_form ? log_snr_grid(sch, kDeltaXSegments)
                                                     : std::vector<double>{sch.t_min, sch.t_max};
  Points x_rec;
  std::vector<Vec> gh_nodes;
  r = backward_wkb(model, sch, xT, opt.model_prior, times, o, cancel, x_rec, out.c, gh_nodes);
  if (!r.ok) return r;
  out.recon = (x_rec - x0).colwise().norm().transpose();
  if (!opt.delta_x_form) return r;
  return forward_delta_x(model, sch, x0, opt.model_prior, times, gh_nodes, o, cancel, out.c_dx);
}

bool finite_result(const BatchValues& v, int p, const LikelihoodOptions& opt) {
  return std::isfinite(v.nll(p)) &&
         (!opt.wkb || (std::isfinite(v.c(p)) && std::isfinite(v.recon(p)))) &&
         (!opt.wkb || !opt.delta_x_form || std::isfinite(v.c_dx(p)));
}

// A batch shares one step size, so one diverging point fails the whole system. Then every
// point is solved alone and only the points that fail on their own are reported as failed.
void solve_batch(const ScoreModel& model, const Schedule& sch, const Points& x0,
                 const LikelihoodOptions& opt, double tol_scale, const std::atomic<bool>* cancel,
                 BatchValues& out) {
  const int n = int(x0.cols());
  OdeOptions o;
  o.rtol = opt.rtol * tol_scale;
  o.atol = opt.atol * tol_scale;
  o.max_steps = opt.max_steps;
  o.max_abs = opt.divergence_bound;
  PassResult r = solve_together(model, sch, x0, opt, o, cancel, out);
  out.error.assign(n, std::string());
  if (r.ok) {
    for (int p = 0; p < n; ++p)
      if (!finite_result(out, p, opt)) out.error[p] = "non-finite result";
    return;
  }
  const bool cancelled = cancel && cancel->load();
  if (n == 1 || cancelled) {
    out.error.assign(n, cancelled ? std::string("cancelled") : r.error);
    return;
  }
  BatchValues one;
  for (int p = 0; p < n; ++p) {
    solve_batch(model, sch, x0.col(p), opt, tol_scale, cancel, one);
    out.nll(p) = one.nll(0);
    out.c(p) = one.c(0);
    out.c_dx(p) = one.c_dx(0);
    out.recon(p) = one.recon(0);
    out.error[p] = one.error[0];
  }
}

void check_options(const ScoreModel& model, const Points& x0, const LikelihoodOptions& opt) {
  if (!(opt.rtol > 0) || !(opt.atol > 0))
    throw Error("likelihood: rtol and atol must be positive");
  if (opt.batch < 1) throw Error("likelihood: batch size must be at least 1");
  if (opt.max_steps < 1) throw Error("likelihood: max_steps must be at least 1");
  if (!(opt.divergence_bound > 0)) throw Error("likelihood: divergence_bound must be positive");
  if (x0.rows() != model.dim())
    throw Error("likelihood: points have dimension " + std::to_string(x0.rows()) +
                " but the score model '" + model.spec() + "' has dimension " +
                std::to_string(model.dim()));
  const int need = opt.wkb ? 3 : 1;
  if (model.max_order() < need)
    throw Error("likelihood: score model '" + model.spec() + "' has derivatives up to order " +
                std::to_string(model.max_order()) + ", " +
                (opt.wkb ? "the WKB coefficient needs 3" : "the NLL needs 1"));
}

}  // namespace

LikelihoodSummary evaluate_likelihood(const ScoreModel& model, const Schedule& schedule,
                                      const Points& x0, const LikelihoodOptions& options,
                                      const std::atomic<bool>* cancel,
                                      const std::function<void(double)>& progress) {
  check_options(model, x0, options);
  const auto start = std::chrono::steady_clock::now();
  const int total = int(x0.cols());
  LikelihoodSummary sum;
  sum.points.resize(total);

  // Non-finite inputs are excluded up front; the rest go in batches of consecutive points.
  std::vector<int> todo;
  for (int p = 0; p < total; ++p) {
    if (x0.col(p).allFinite())
      todo.push_back(p);
    else
      sum.points[p].error = "non-finite input point";
  }
  const int n_todo = int(todo.size());
  const int n_batches = (n_todo + options.batch - 1) / options.batch;
  std::vector<double> d_nll(total, NAN), d_c(total, NAN);  // signed tight − default

  std::atomic<int> next_batch{0}, points_done{0};
  std::atomic<bool> abort{false};
  std::mutex progress_mutex;
  auto run_batch = [&](int b) {
    const int begin = b * options.batch, end = std::min(n_todo, begin + options.batch);
    Points xb(x0.rows(), end - begin);
    for (int q = begin; q < end; ++q) xb.col(q - begin) = x0.col(todo[q]);
    BatchValues v, tight;
    solve_batch(model, schedule, xb, options, 1.0, cancel, v);
    if (options.error_estimate) solve_batch(model, schedule, xb, options, 0.1, cancel, tight);
    for (int q = begin; q < end; ++q) {
      const int i = q - begin;
      PointLikelihood& pt = sum.points[todo[q]];
      pt.nll = v.nll(i);
      pt.c = v.c(i);
      pt.c_delta_x = v.c_dx(i);
      pt.recon_err = v.recon(i);
      pt.error = v.error[i];
      if (options.error_estimate && pt.error.empty() && !tight.error[i].empty())
        pt.error = "at tenfold tighter tolerance: " + tight.error[i];
      pt.ok = pt.error.empty();
      if (options.error_estimate && pt.ok) {
        d_nll[todo[q]] = tight.nll(i) - v.nll(i);
        d_c[todo[q]] = tight.c(i) - v.c(i);
        pt.nll_err = std::abs(d_nll[todo[q]]);
        pt.c_err = std::abs(d_c[todo[q]]);
      }
    }
    const int done = points_done += end - begin;
    if (progress) {
      std::lock_guard<std::mutex> lock(progress_mutex);
      progress(double(done) / std::max(1, n_todo));
    }
  };
  const int threads = std::max(1, options.threads > 0 ? options.threads : default_threads());
  // Batches are handed out dynamically (their cost varies); each batch's result depends only
  // on its points, so the outcome is independent of the thread count.
  parallel_for(std::min(threads, std::max(1, n_batches)), threads, [&](int wb, int we) {
    for (int w = wb; w < we; ++w) {
      const auto stop = [&] { return abort.load() || (cancel && cancel->load()); };
      for (int b; !stop() && (b = next_batch++) < n_batches;) {
        try {
          run_batch(b);
        } catch (...) {
          abort = true;
          throw;
        }
      }
    }
  });

  sum.cancelled = cancel && cancel->load();
  for (PointLikelihood& pt : sum.points)
    if (!pt.ok && pt.error.empty()) pt.error = "cancelled before this point was evaluated";
  std::vector<double> nll, wkb, dn, dc;
  for (int p = 0; p < total; ++p) {
    const PointLikelihood& pt = sum.points[p];
    if (!pt.ok) continue;
    nll.push_back(pt.nll);
    if (options.wkb) wkb.push_back(-pt.c);
    if (options.error_estimate) {
      dn.push_back(d_nll[p]);
      if (options.wkb) dc.push_back(d_c[p]);
    }
  }
  sum.n = int(nll.size());
  sum.excluded = total - sum.n;
  const MeanSe nll_stat = mean_se(nll), wkb_stat = mean_se(wkb);
  sum.nll_mean = nll_stat.mean;
  sum.nll_se = nll_stat.se;
  sum.wkb_mean = wkb_stat.mean;
  sum.wkb_se = wkb_stat.se;
  sum.nll_err = std::abs(mean_se(dn).mean);
  sum.wkb_err = std::abs(mean_se(dc).mean);
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return sum;
}

RobustSummary wkb_robust_summary(const LikelihoodSummary& s) {
  std::vector<double> minus_c;
  for (const PointLikelihood& pt : s.points)
    if (pt.ok && std::isfinite(pt.c)) minus_c.push_back(-pt.c);
  return robust_summary(minus_c);
}

// Node times equally spaced in the log signal-to-noise ratio λ(t) = log(α²/σ²) (decreasing in
// t). The G/H equations grow like exp(∫|J| dt), and ∫|J| over a segment is O(Δλ) for scores
// near the data's, so a fixed Δλ bounds the growth per segment; for the same reason the
// NLL(η) estimator steps on this grid (likelihood_eta.cpp).
std::vector<double> log_snr_grid(const Schedule& sch, int K) {
  if (K < 1) throw Error("log_snr_grid: need at least one interval");
  auto lambda = [&](double t) { return std::log(sch.alpha(t) * sch.alpha(t) / sch.sigma2(t)); };
  const double l0 = lambda(sch.t_min), l1 = lambda(sch.t_max);
  std::vector<double> times(K + 1);
  times[0] = sch.t_min;
  times[K] = sch.t_max;
  for (int k = 1; k < K; ++k) {
    const double target = l0 + (l1 - l0) * k / K;
    times[k] = sch.time_at_sigma2(1.0 / (1.0 + std::exp(target)));  // α²/σ² = e^λ, α² + σ² = 1
  }
  return times;
}

}  // namespace diffpath
