// The paper's evaluation rule (likelihood.hpp, DESIGN §2): a batch of points is dropped when
// any PF path its evaluation would run — the outer path from x₀, or an inner path from
// x(t_j) ± dx e_k to Tmax — leaves the box (−box, box) in a coordinate or fails to solve.
//
// Every path solves ẋ = v(x, t) = f x − g²/2 s_θ(x, t). The paths of one check (the batch's
// outer paths, or all 2d·n inner paths from one start time) are one Dormand–Prince system whose
// divergence guard is the box: `max_abs = box` fails the solve at the first accepted state
// with a coordinate outside, which is exactly the rule (all of them or none are kept anyway).
#include <algorithm>
#include <cstdio>
#include <mutex>

#include "diffpath/eta_model.hpp"
#include "diffpath/likelihood.hpp"
#include "diffpath/ode.hpp"
#include "diffpath/parallel.hpp"

namespace diffpath {
namespace {

// Integrates the PF ODE for the columns of x (d × n) from t0 to t1 in place.
OdeStats pf_solve(const ScoreModel& model, const Schedule& sch, Points& x, double t0, double t1,
                  const OdeOptions& o, const std::atomic<bool>* cancel) {
  const int d = int(x.rows()), n = int(x.cols());
  Points xs(d, n), s(d, n);
  auto F = [&](double t, const Vec& y, Vec& dy) {
    xs = Eigen::Map<const Points>(y.data(), d, n);
    model.score(xs, t, s);
    Eigen::Map<Points>(dy.data(), d, n) = eta_model::pf_velocity(sch, t, xs, s);
  };
  Vec y = Eigen::Map<const Vec>(x.data(), x.size());
  const OdeStats st = integrate_dopri5(F, t0, t1, y, o, cancel);
  x = Eigen::Map<const Points>(y.data(), d, n);
  return st;
}

// The inner paths from the states x (d × n) at t: x ± dx e_k for every axis k, column-wise.
Points offset_states(const Points& x, double dx) {
  const int d = int(x.rows()), n = int(x.cols());
  Points out(d, 2 * d * n);
  for (int p = 0; p < n; ++p)
    for (int k = 0; k < d; ++k)
      for (int sign = 0; sign < 2; ++sign) {
        auto col = out.col((p * d + k) * 2 + sign);
        col = x.col(p);
        col(k) += sign ? -dx : dx;
      }
  return out;
}

std::string why(const OdeStats& st, double box) {
  return st.error.rfind("diverging: |state| exceeded", 0) == 0
             ? "left (-" + std::to_string(int(box)) + ", " + std::to_string(int(box)) + ")"
             : st.error;
}

// Empty when the batch x0 (d × n) is kept, else why it is dropped.
std::string check_batch(const ScoreModel& model, const Schedule& sch, const Points& x0,
                        const std::vector<double>& starts, const PaperProtocolOptions& opt,
                        const std::atomic<bool>* cancel) {
  if (!x0.allFinite()) return "a non-finite input point";
  if ((x0.array().abs() >= opt.box).any()) return "a point outside the box";
  OdeOptions o;
  o.rtol = opt.rtol;
  o.atol = opt.atol;
  o.max_abs = opt.box;
  Points outer = x0;
  char at[64];
  for (size_t j = 0; j < starts.size(); ++j) {
    const double t = starts[j], next = j + 1 < starts.size() ? starts[j + 1] : sch.t_max;
    Points inner = offset_states(outer, opt.dx);
    std::snprintf(at, sizeof at, "%.3g", t);
    if ((inner.array().abs() >= opt.box).any())
      return std::string("an inner path starts outside the box at t = ") + at;
    const OdeStats si = pf_solve(model, sch, inner, t, sch.t_max, o, cancel);
    if (!si.ok) return std::string("an inner path from t = ") + at + " " + why(si, opt.box);
    const OdeStats so = pf_solve(model, sch, outer, t, next, o, cancel);
    if (!so.ok) return std::string("the outer path before t = ") + at + " " + why(so, opt.box);
  }
  return {};
}

}  // namespace

int PaperProtocolFilter::kept_points() const {
  return int(std::count(kept.begin(), kept.end(), char(1)));
}

PaperProtocolFilter paper_protocol_filter(const ScoreModel& model, const Schedule& schedule,
                                          const Points& x0, const PaperProtocolOptions& opt,
                                          const std::atomic<bool>* cancel,
                                          const std::function<void(double)>& progress) {
  if (opt.batch < 1) throw Error("paper protocol: batch must be at least 1");
  if (!(opt.box > 0) || !(opt.dx > 0)) throw Error("paper protocol: box and dx must be positive");
  if (opt.start_times < 1) throw Error("paper protocol: start_times must be at least 1");
  if (!(opt.rtol > 0) || !(opt.atol > 0)) throw Error("paper protocol: tolerances must be positive");
  if (x0.rows() != model.dim())
    throw Error("paper protocol: points have dimension " + std::to_string(x0.rows()) +
                " but the score model '" + model.spec() + "' has " +
                std::to_string(model.dim()));
  const int n = int(x0.cols());
  std::vector<double> starts = log_snr_grid(schedule, opt.start_times);
  starts.pop_back();  // the last node is Tmax: nothing left to solve from there

  PaperProtocolFilter out;
  out.batches = (n + opt.batch - 1) / opt.batch;
  out.kept.assign(n, 0);
  std::vector<std::string> reason(out.batches);
  std::atomic<int> done{0};
  std::mutex progress_mutex;
  const int threads = std::max(1, opt.threads > 0 ? opt.threads : default_threads());
  // Static chunks: a batch's verdict depends only on its own points.
  parallel_for(out.batches, threads, [&](int begin, int end) {
    for (int b = begin; b < end && !(cancel && cancel->load()); ++b) {
      const int p0 = b * opt.batch, p1 = std::min(n, p0 + opt.batch);
      reason[b] = check_batch(model, schedule, x0.middleCols(p0, p1 - p0), starts, opt, cancel);
      if (reason[b].empty()) std::fill(out.kept.begin() + p0, out.kept.begin() + p1, char(1));
      const int k = ++done;
      if (progress) {
        std::lock_guard<std::mutex> lock(progress_mutex);
        progress(double(k) / out.batches);
      }
    }
  });
  out.cancelled = cancel && cancel->load();
  for (int b = 0; b < out.batches; ++b)
    if (!reason[b].empty())
      out.dropped.push_back("batch " + std::to_string(b) + " (points " +
                            std::to_string(b * opt.batch) + "-" +
                            std::to_string(std::min(n, (b + 1) * opt.batch) - 1) +
                            "): " + reason[b]);
  return out;
}

Points kept_columns(const Points& x0, const std::vector<char>& kept) {
  if (kept.size() != size_t(x0.cols())) throw Error("kept_columns: mask size mismatch");
  Points out(x0.rows(), std::count(kept.begin(), kept.end(), char(1)));
  for (int p = 0, q = 0; p < int(x0.cols()); ++p)
    if (kept[p]) out.col(q++) = x0.col(p);
  return out;
}

}  // namespace diffpath
