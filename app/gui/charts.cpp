// Index: names and titles · per-chart figures (loss_chart, nll_step_chart, nll_eta_chart,
// w2_chart, action_chart; the maps over the data are in chart_maps.cpp) · build_chart and
// chart_signature (what a chart depends on) · Charts (background Cairo rendering, textures,
// export).
#include "charts.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <imgui.h>

#include "diffpath/figure.hpp"
#include "diffpath/stats.hpp"
#include "model_slot.hpp"
#include "summaries.hpp"

namespace diffpath::gui {

const char* chart_name(ChartId id) {
  static const char* names[] = {"loss", "nll-step", "nll-eta", "w2", "action", "c-map", "delta-log-q"};
  return names[int(id)];
}

const char* chart_title(ChartId id) {
  static const char* titles[] = {"Training loss (DSM)", "NLL(0), E[-c] vs step", "NLL(η), WKB line",
                                 "W2²(η) vs data", "Actions Ã/η", "c(x₀) over data",
                                 "Δ log q(x₀) at η over data"};
  return titles[int(id)];
}

std::optional<ChartId> parse_chart_name(const std::string& name) {
  for (int i = 0; i < kChartCount; ++i)
    if (name == chart_name(ChartId(i))) return ChartId(i);
  return std::nullopt;
}

namespace {

std::string fmt(const char* f, double a) {
  char buf[96];
  std::snprintf(buf, sizeof buf, f, a);
  return buf;
}

Color darker(Color c) {
  c.r *= 0.6;
  c.g *= 0.6;
  c.b *= 0.6;
  return c;
}

// Centred running mean over `window` points (shorter at the ends).
std::vector<double> running_mean(const std::vector<double>& y, size_t window) {
  std::vector<double> prefix(y.size() + 1, 0.0), out(y.size());
  for (size_t i = 0; i < y.size(); ++i) prefix[i + 1] = prefix[i] + y[i];
  const size_t h = window / 2;
  for (size_t i = 0; i < y.size(); ++i) {
    const size_t a = i > h ? i - h : 0, b = std::min(y.size(), i + h + 1);
    out[i] = (prefix[b] - prefix[a]) / double(b - a);
  }
  return out;
}

Figure loss_chart(const Session& s, bool& has) {
  Figure f;
  f.title = chart_title(ChartId::Loss);
  f.xlabel = "training step";
  f.ylabel = "loss";
  const auto& slots = s.slots();
  int trained = 0;
  bool kl_labelled = false;
  double xmax = 0;
  for (const auto& c : slots)
    if (c->trains() && !c->trainer_status().history.empty())
      xmax = std::max(xmax, double(c->trainer_status().history.back().step));
  for (size_t k = 0; k < slots.size(); ++k) {
    const ModelSlot& c = *slots[k];
    const bool fixed = !c.trains();
    const auto& loss = c.trainer_status().history;
    if (c.trains() && loss.size() >= 2) {
      std::vector<double> x, y;
      for (const auto& p : loss) {
        if (!(p.loss > 0) || !std::isfinite(p.loss)) continue;
        x.push_back(double(p.step));
        y.push_back(p.loss);
      }
      // The batch losses are noisy (±20 %): faint, with their running mean on top.
      Color faint = c.color();
      faint.a = 0.3;
      const std::vector<double> mean = running_mean(y, std::max<size_t>(5, y.size() / 40));
      f.series.push_back(Series::line(x, std::move(y)).with_color(faint));
      f.series.push_back(Series::line(std::move(x), mean, c.label()).with_color(c.color()));
      ++trained;
    }
    // The path-integral KL term in loss units (summaries.hpp, loss_from_kl): these points sit
    // on the running mean — exactly for the loss formula, up to the Euler–Maruyama
    // discretization of the sampler's grid for the actions. A main model that does not
    // train: one level across the chart (a compared fixed model's level is left out: it has
    // no curve here to sit on).
    if (fixed && k != 0) continue;
    for (const bool by_actions : {false, true}) {
      std::vector<double> kx, ky, ke;
      for (const auto& r : c.eval_history()) {
        const double kl = by_actions ? r.kl_actions : r.kl_loss;
        const double kl_se = by_actions ? r.kl_actions_se : r.kl_loss_se;
        if (!std::isfinite(kl) || !std::isfinite(r.loss_star)) continue;
        const ValueSe l = loss_from_kl(r.loss_star, r.loss_star_se, kl, kl_se, c.schedule());
        kx.push_back(double(r.step));
        ky.push_back(l.value);
        ke.push_back(l.se);
      }
      if (kx.empty()) continue;
      if (fixed) {
        kx = {0.0, std::max(1.0, xmax)};
        ky = {ky.back(), ky.back()};
        ke.clear();
      }
      std::string label = by_actions ? "L* + 2KL/ΔT, actions" : "L* + 2KL/ΔT, loss formula";
      if (fixed) label = c.label() + ": " + label;
      else if (kl_labelled) label.clear();  // one legend entry per idea for the trained ones
      Series ks = Series::line(std::move(kx), std::move(ky), label);
      if (!ke.empty()) ks.with_error(std::move(ke), ErrorStyle::Bars);
      ks.with_color(by_actions ? darker(c.color()) : c.color()).with_dash(by_actions ? Dash::Dotted : Dash::Dashed);
      ks.markers = !fixed;
      ks.line_width = fixed ? 1.5 : 1.0;
      f.series.push_back(std::move(ks));
    }
    if (!fixed && !c.eval_history().empty() && std::isfinite(c.eval_history().back().kl_loss))
      kl_labelled = true;
  }
  // The irreducible loss of the main model's schedule and data.
  const auto& main_history = s.main().eval_history();
  if (!main_history.empty() && std::isfinite(main_history.back().loss_star))
    f.series.push_back(Series::hline(main_history.back().loss_star, "L* (exact score)")
                           .with_color(Color::rgb(0x444444, 0.8)).with_dash(Dash::Dashed));
  has = !f.series.empty();
  if (trained == 0) {
    f.title = "Loss (no training)";
    // Only levels across the chart: leave the top third free for the legend.
    double lo = INFINITY, hi = -INFINITY;
    for (const Series& sr : f.series)
      for (double v : sr.y) lo = std::min(lo, v), hi = std::max(hi, v);
    if (lo <= hi) {
      const double span = std::max(hi - lo, 0.05 * std::abs(hi) + 1e-9);
      f.ymin = lo - 0.2 * span;
      f.ymax = hi + 0.8 * span;
    }
  }
  // Linear axis: the DSM loss of a trained network varies by tens of percent, not decades
  // (and the figure's log axis labels exponents).
  f.legend = f.series.size() > 1 ? LegendPlace::Auto : LegendPlace::None;
  return f;
}

// y-limits that follow the bulk of recent values: E[−c] of a partially trained network is
// genuinely heavy-tailed (single snapshots at −100 or beyond), which would flatten every
// other curve. The 5–95% range of the last 40 values of every curve, padded; points outside
// are drawn as markers on the edge, and the title counts them.
struct RobustRange {
  double lo = 0, hi = 1;
  bool clipped = false;
};

RobustRange robust_range(std::vector<double> v) {
  RobustRange r;
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  if (v.empty()) return r;
  static constexpr double kQs[] = {0.0, 0.05, 0.95, 1.0};
  const std::vector<double> q = quantiles(v, kQs);
  const bool few = v.size() < 8;
  const double lo = few ? q[0] : q[1], hi = few ? q[3] : q[2];
  const double pad = std::max(0.25 * (hi - lo), 0.05 * std::max(std::abs(lo), std::abs(hi)) + 0.05);
  r.lo = lo - pad;
  r.hi = hi + pad;
  r.clipped = q[0] < r.lo || q[3] > r.hi;
  return r;
}

Figure nll_step_chart(const Session& s, bool& has) {
  Figure f;
  f.title = chart_title(ChartId::NllStep);
  f.xlabel = "training step";
  f.ylabel = "NLL(0) solid, E[-c] dashed, median dotted";
  const auto& slots = s.slots();
  has = false;
  for (const auto& c : slots) has = has || !c->eval_history().empty();
  if (!has) return f;
  std::vector<double> recent;
  std::vector<double> off_x, off_y;
  for (const auto& cp : slots) {
    const ModelSlot& c = *cp;
    const auto& h = c.eval_history();
    if (h.empty()) continue;
    if (!c.trains()) {
      // A model that does not train: its one evaluation as horizontal lines.
      f.series.push_back(Series::hline(h.back().nll, c.label()).with_color(c.color()));
      f.series.push_back(Series::hline(h.back().wkb).with_color(c.color()).with_dash(Dash::Dashed));
      if (std::isfinite(h.back().wkb_median))
        f.series.push_back(Series::hline(h.back().wkb_median).with_color(c.color()).with_dash(Dash::Dotted));
      recent.push_back(h.back().nll);
      recent.push_back(h.back().wkb);
      continue;
    }
    // The median of −c next to its mean: on a heavy tail the two part, and the bulk is the median.
    std::vector<double> x, nll, nll_se, wkb, wkb_se, median;
    for (const auto& r : h) {
      x.push_back(double(r.step));
      nll.push_back(r.nll);
      nll_se.push_back(r.nll_se);
      wkb.push_back(r.wkb);
      wkb_se.push_back(r.wkb_se);
      median.push_back(r.wkb_median);
    }
    for (size_t i = h.size() > 40 ? h.size() - 40 : 0; i < h.size(); ++i) {
      recent.push_back(h[i].nll);
      recent.push_back(h[i].wkb);
    }
    Series a = Series::line(x, nll, c.label());
    a.with_error(nll_se).with_color(c.color()).markers = true;
    Series b = Series::line(x, wkb);
    b.with_error(wkb_se).with_color(c.color()).with_dash(Dash::Dashed).markers = true;
    f.series.push_back(std::move(a));
    f.series.push_back(std::move(b));
    f.series.push_back(Series::line(x, median).with_color(c.color()).with_dash(Dash::Dotted));
  }
  if (auto ref = s.main().reference_evaluation()) {
    f.series.push_back(Series::hline(ref->summary.nll_mean, "exact score NLL(0)")
                           .with_color(Color::rgb(0x444444, 0.8)).with_dash(Dash::Dotted));
    recent.push_back(ref->summary.nll_mean);
  }
  f.series.push_back(Series::hline(0.0).with_color(Color::rgb(0x888888, 0.6)).with_dash(Dash::Dotted));
  const RobustRange r = robust_range(recent);
  f.ymin = r.lo;
  f.ymax = r.hi;
  // Off-scale points: a grey marker on the edge they went over.
  const double edge = 0.03 * (r.hi - r.lo);
  for (const auto& c : slots)
    for (const auto& rec : c->eval_history())
      for (double v : {rec.nll, rec.wkb}) {
        if (!std::isfinite(v) || (v >= r.lo && v <= r.hi)) continue;
        off_x.push_back(c->trains() ? double(rec.step) : 0.0);
        off_y.push_back(v < r.lo ? r.lo + edge : r.hi - edge);
      }
  if (!off_x.empty()) {
    Series o = Series::scatter(off_x, off_y, std::to_string(off_x.size()) + " off scale (at edge)");
    o.with_color(Color::rgb(0x777777, 0.9)).marker_radius = 3.5;
    f.series.push_back(std::move(o));
  }
  return f;
}

// The NLL(η) curve of one slot (§1.9) with error bars (spread over the points), on [0, η_max].
Series nll_eta_series(const ModelSlot& c, const NllEtaResult& r, double eta_max) {
  std::vector<double> x, y, err;
  for (const EtaCurvePoint& p : r.summary.curve)
    if (p.eta <= eta_max * (1 + 1e-9) && std::isfinite(p.mean)) {
      x.push_back(p.eta);
      y.push_back(p.mean);
      err.push_back(std::isfinite(p.se) ? p.se : 0.0);
    }
  Series l = Series::line(x, y, c.label() + (r.coarse ? " (coarse)" : ""));
  l.with_error(err, ErrorStyle::Bars).with_color(c.color()).markers = true;
  return l;
}

// The WKB line as what it is, the curve's tangent at 0: from the curve's own η = 0 value with
// slope E[−c], drawn only while it stays near the curve's range (a slope of −74 would otherwise
// flatten the curve to a line), labelled with how far first order holds.
Series tangent_series(const ModelSlot& c, const NllEtaResult& r, const LikelihoodSummary& sm,
                      double eta_max) {
  double lo = INFINITY, hi = -INFINITY, at0 = NAN;
  for (const EtaCurvePoint& p : r.summary.curve) {
    if (!std::isfinite(p.mean)) continue;
    if (p.eta == 0) at0 = p.mean;
    lo = std::min(lo, p.mean);
    hi = std::max(hi, p.mean);
  }
  const double span = std::max(hi - lo, 0.05);
  const double slope = sm.wkb_mean;
  const double end = std::abs(slope) > 0 ? std::min(eta_max, 1.5 * span / std::abs(slope)) : eta_max;
  const double holds = first_order_holds_up_to(r.summary.curve, sm.wkb_mean);
  // Same hue as the curve, darker: the legend needs no model name (small panels).
  std::string label = fmt("tangent, slope %.3g", slope);
  if (!r.coarse && std::isfinite(holds))
    label += holds > 0 ? fmt(", holds to η ≈ %.2g", holds) : std::string(", misses");
  return Series::line({0.0, end}, {at0, at0 + end * slope}, label)
      .with_color(darker(c.color()))
      .with_dash(Dash::Dashed);
}

Figure nll_eta_chart(const Session& s, double eta, double eta_max, bool& has) {
  Figure f;
  f.title = chart_title(ChartId::NllEta);
  f.xlabel = "η";
  f.ylabel = "NLL (nats)";
  f.xmin = 0.0;
  f.xmax = eta_max;
  const auto& slots = s.slots();
  has = false;
  for (const auto& c : slots) {
    const auto e = c->evaluation();
    const auto r = c->nll_eta();
    if (r && !r->summary.curve.empty()) {
      has = true;
      f.series.push_back(nll_eta_series(*c, *r, eta_max));
      if (e && std::isfinite(e->summary.wkb_mean))
        f.series.push_back(tangent_series(*c, *r, e->summary, eta_max));
    } else if (e && std::isfinite(e->summary.nll_mean)) {
      // No curve yet: the first-order line with its band, until the curve arrives.
      has = true;
      std::vector<double> x, y, err;
      for (int i = 0; i <= 20; ++i) {
        const double t = eta_max * i / 20.0;
        const ValueSe band = nll_first_order_band(e->summary, t);
        x.push_back(t);
        y.push_back(band.value);
        err.push_back(band.se);
      }
      f.series.push_back(Series::line(x, y, c->label() + fmt(": first order, slope %.2f", e->summary.wkb_mean))
                             .with_error(err).with_color(c->color()).with_dash(Dash::Dashed));
    }
    if (e && !e->exact_eta.empty())
      f.series.push_back(Series::line(e->exact_eta, e->exact_nll, "exact NLL(η), Gaussian")
                             .with_color(c->color()).with_dash(Dash::Dotted));
  }
  if (auto ref = s.main().reference_evaluation(); ref && has) {
    const auto& r = ref->summary;
    f.series.push_back(Series::line({0.0, eta_max}, {r.nll_mean, nll_first_order(r, eta_max)},
                                    "exact score, first order")
                           .with_color(Color::rgb(0x444444, 0.8)).with_dash(Dash::Dotted));
  }
  f.series.push_back(Series::vline(eta).with_color(Color::rgb(0x666666, 0.7)).with_dash(Dash::Dotted));
  return f;
}

Figure w2_chart(const Session& s, double eta, bool& has) {
  Figure f;
  f.title = chart_title(ChartId::W2);
  f.xlabel = "η";
  f.ylabel = "W2²";
  auto w = s.w2();
  has = w && !w->points.empty();
  if (!has) f.title += " (run a sweep)";
  if (has) {
    std::vector<double> x, y, e;
    for (const auto& p : w->points) {
      x.push_back(p.eta);
      y.push_back(p.mean);
      e.push_back(p.se);
    }
    Series l = Series::line(x, y, "W2² ± se");
    l.with_error(e, ErrorStyle::Bars).markers = true;
    f.series.push_back(std::move(l));
  }
  f.series.push_back(Series::vline(eta).with_color(Color::rgb(0x666666, 0.7)).with_dash(Dash::Dotted));
  return f;
}

Figure action_chart(const Session& s, bool& has) {
  Figure f;
  f.title = chart_title(ChartId::Action);
  f.xlabel = "Ã/η per path";
  f.ylabel = "density";
  auto v = s.full_sample() ? s.full_sample() : s.sample();
  has = v && v->result.action.size() > 1 && v->eta > 0;
  if (v && v->eta == 0) f.title += " (η = 0: zero)";
  if (!has) return f;
  std::vector<double> a(size_t(v->result.action.size()));
  for (size_t i = 0; i < a.size(); ++i) a[i] = v->result.action[Eigen::Index(i)] / v->eta;
  // Bins over the 0.5–99.5% range widened by half its span: a few extreme paths (a particle
  // the network flings far away, where the action's round-off is huge) must not squeeze the
  // bulk into one bar, while the tails of the bulk stay in. The mean is over the same paths.
  a.erase(std::remove_if(a.begin(), a.end(), [](double x) { return !std::isfinite(x); }), a.end());
  if (a.size() < 2) return f;
  static constexpr double kQs[] = {0.005, 0.995};
  const std::vector<double> q = quantiles(a, kQs);
  const double lo = q[0] - 0.5 * (q[1] - q[0]), hi = q[1] + 0.5 * (q[1] - q[0]);
  std::vector<double> inside;
  for (double x : a)
    if (x >= lo && x <= hi) inside.push_back(x);
  if (inside.size() < 2) inside = a;
  const double mean = mean_se(inside).mean;
  const size_t outside = a.size() - inside.size();
  f.series.push_back(Series::histogram_of(inside, 40, true, fmt("η = %.3f", v->eta)));
  if (outside > 0) f.xlabel += " (" + std::to_string(outside) + " clipped)";
  // On its own Euler–Maruyama path the action is η Σ‖z_k‖²/2: Ã/η has mean d·N/2.
  const int steps = v->result.frame_steps.empty() ? 0 : v->result.frame_steps.back();
  const int d = int(v->result.samples.rows());
  f.series.push_back(Series::vline(mean, "mean " + fmt("%.1f", mean) + fmt(" (dN/2 = %.0f)", 0.5 * d * steps))
                         .with_dash(Dash::Dashed));
  // The path-integral KL term of the viewed model on data paths (eval_job.hpp), both ways.
  if (const auto e = s.view_slot().evaluation(); e && e->kl) {
    f.notes.push_back("KL, actions " + fmt("%.3f", e->kl->by_actions) + fmt(" ± %.3f", e->kl->by_actions_se));
    f.notes.push_back("KL, loss formula " + fmt("%.3f", e->kl->by_loss) + fmt(" ± %.3f", e->kl->by_loss_se));
  }
  return f;
}

}  // namespace

Figure build_chart(ChartId id, const Session& s, double eta, double eta_max, bool& has_data) {
  has_data = false;
  switch (id) {
    case ChartId::Loss: return loss_chart(s, has_data);
    case ChartId::NllStep: return nll_step_chart(s, has_data);
    case ChartId::NllEta: return nll_eta_chart(s, eta, eta_max, has_data);
    case ChartId::W2: return w2_chart(s, eta, has_data);
    case ChartId::Action: return action_chart(s, has_data);
    case ChartId::CMap: return c_map_chart(s, has_data);
    case ChartId::DeltaLogQ: return delta_log_q_chart(s, eta, has_data);
  }
  return {};
}

std::string chart_signature(ChartId id, const Session& s, double eta, double eta_max) {
  auto ptr = [](const void* p) { return std::to_string(reinterpret_cast<uintptr_t>(p)); };
  // What every slot contributes to the overlay charts: one entry per slot, same order.
  auto per_slot = [&](bool loss) {
    std::string sig;
    for (const auto& sl : s.slots()) {
      sig += "|" + sl->label() + ptr(sl->evaluation().get()) + ptr(sl->reference_evaluation().get()) +
             ptr(sl->nll_eta().get()) + std::to_string(sl->eval_history().size());
      if (loss && sl->trains()) {
        const auto& h = sl->trainer_status().history;
        sig += ":" + std::to_string(h.size()) + (h.empty() ? "" : ":" + std::to_string(h.back().step));
      }
    }
    return sig;
  };
  switch (id) {
    case ChartId::Loss: return per_slot(true);
    case ChartId::NllStep: return per_slot(false);
    case ChartId::NllEta: return per_slot(false) + fmt("%.4f", eta) + fmt("/%.2f", eta_max);
    case ChartId::W2: return ptr(s.w2().get()) + fmt("%.4f", eta);
    case ChartId::Action:
      return ptr(s.full_sample().get()) + ptr(s.sample().get()) + ptr(s.view_slot().evaluation().get());
    case ChartId::CMap: return ptr(s.main().evaluation().get());
    case ChartId::DeltaLogQ: return ptr(s.main().nll_eta().get()) + fmt("%.4f", eta);
  }
  return {};
}

Charts::Charts()
    : renderer_(std::make_unique<RenderJob>([](const RenderRequest& req, JobContext<RenderResult>& ctx) {
        auto out = std::make_shared<RenderResult>();
        for (const auto& item : req.items) {
          if (ctx.cancelled()) return;
          RenderedChart r;
          r.index = item.index;
          r.signature = item.signature;
          r.has_data = item.has_data;
          r.width = req.width;
          r.height = req.height;
          r.rgba = render_rgba(item.figure, req.width, req.height);
          out->charts.push_back(std::move(r));
        }
        ctx.publish(std::move(out));
      })) {}

// The renderer (declared after the textures) stops first, then the textures go (RAII).
Charts::~Charts() = default;

void Charts::update(const Session& s, double eta, double eta_max, int width_px, int height_px, double now) {
  // Pick up finished renders.
  uploads_ = 0;
  if (renderer_->version() != seen_render_) {
    seen_render_ = renderer_->version();
    if (auto r = renderer_->latest()) {
      for (const auto& c : r->charts) {
        Slot& slot = slots_[size_t(c.index)];
        slot.texture.upload(c.rgba.data(), c.width, c.height);
        slot.signature = c.signature;
        slot.has_data = c.has_data;
        ++uploads_;
      }
    }
  }
  // Cairo renders off the GUI thread; figures (plain vectors) are built here, at most
  // ~4 times a second, only for the charts whose inputs changed.
  width_px = std::max(160, width_px);
  height_px = std::max(120, height_px);
  if (!renderer_->idle() || now - last_submit_ < 0.25) return;
  RenderRequest req;
  req.width = width_px;
  req.height = height_px;
  const bool resized = width_px != width_ || height_px != height_;
  for (int i = 0; i < kChartCount; ++i) {
    const std::string sig = chart_signature(ChartId(i), s, eta, eta_max) + "@" + std::to_string(width_px) +
                            "x" + std::to_string(height_px);
    if (!resized && sig == slots_[size_t(i)].signature) continue;
    RenderItem item;
    item.index = i;
    item.signature = sig;
    item.figure = build_chart(ChartId(i), s, eta, eta_max, item.has_data);
    req.items.push_back(std::move(item));
  }
  if (req.items.empty()) return;
  width_ = width_px;
  height_ = height_px;
  last_submit_ = now;
  renderer_->submit(std::move(req));
}

void Charts::draw(ChartId id, float width, float height) const {
  const Slot& slot = slots_[size_t(id)];
  ImGui::BeginGroup();
  if (slot.texture.id) {
    ImGui::Image((ImTextureID)(intptr_t)slot.texture.id.get(), ImVec2(width, height));
  } else {
    ImGui::BeginChild(chart_name(id), ImVec2(width, height), true);
    ImGui::TextUnformatted(chart_title(id));
    ImGui::TextDisabled("rendering...");
    ImGui::EndChild();
  }
  ImGui::EndGroup();
  if (ImGui::IsItemHovered()) {
    ImGui::BeginTooltip();
    ImGui::Text("%s  — export: export-chart %s FILE.{png,svg,pdf}", chart_title(id), chart_name(id));
    ImGui::EndTooltip();
  }
}

void Charts::export_chart(ChartId id, const Session& s, double eta, double eta_max, const std::string& path,
                          int width, int height) const {
  bool has = false;
  const Figure f = build_chart(id, s, eta, eta_max, has);
  save_figure(f, path, width, height);
}


}  // namespace diffpath::gui
