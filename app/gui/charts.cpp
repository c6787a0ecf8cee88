#include "charts.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <imgui.h>

#include "diffpath/figure.hpp"

namespace diffpath::gui {

const char* chart_name(ChartId id) {
  static const char* names[] = {"loss", "nll-step", "nll-eta", "w2", "action", "c-map"};
  return names[int(id)];
}

const char* chart_title(ChartId id) {
  static const char* titles[] = {"Training loss (DSM)", "NLL(0) and E[-c] vs training step",
                                 "NLL(η): first-order WKB line", "W2²(η) to fresh data",
                                 "Path actions Ã/η at current η", "c(x₀) over the data"};
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

Figure loss_chart(const Session& s, bool& has) {
  Figure f;
  f.title = chart_title(ChartId::Loss);
  f.xlabel = "training step";
  f.ylabel = "loss";
  const auto& h = s.loss_history();
  has = s.training_model() && h.size() >= 2;
  if (!s.training_model()) f.title += " — analytic model, no training";
  if (!has) return f;
  std::vector<double> x, y;
  for (const auto& p : h) {
    if (!(p.loss > 0) || !std::isfinite(p.loss)) continue;
    x.push_back(double(p.step));
    y.push_back(p.loss);
  }
  f.log_y = true;
  f.series.push_back(Series::line(std::move(x), std::move(y), "batch loss"));
  f.legend = LegendPlace::None;
  return f;
}

Figure nll_step_chart(const Session& s, bool& has) {
  Figure f;
  f.title = chart_title(ChartId::NllStep);
  f.xlabel = "training step";
  f.ylabel = "nats";
  const auto& h = s.eval_history();
  has = !h.empty();
  if (!has) return f;
  std::vector<double> x, nll, nll_se, wkb, wkb_se;
  for (const auto& r : h) {
    x.push_back(double(r.step));
    nll.push_back(r.nll);
    nll_se.push_back(r.nll_se);
    wkb.push_back(r.wkb);
    wkb_se.push_back(r.wkb_se);
  }
  Series a = Series::line(x, nll, "NLL(0)");
  a.with_error(nll_se).markers = true;
  Series b = Series::line(x, wkb, "E[-c] (WKB slope)");
  b.with_error(wkb_se).markers = true;
  f.series.push_back(std::move(a));
  f.series.push_back(std::move(b));
  if (auto ref = s.reference_evaluation()) {
    f.series.push_back(Series::hline(ref->summary.nll_mean, "NLL(0), exact score").with_dash(Dash::Dashed));
  }
  f.series.push_back(Series::hline(0.0).with_color(Color::rgb(0x888888, 0.6)).with_dash(Dash::Dotted));
  return f;
}

Figure nll_eta_chart(const Session& s, double eta, bool& has) {
  Figure f;
  f.title = chart_title(ChartId::NllEta);
  f.xlabel = "η";
  f.ylabel = "NLL (nats)";
  auto e = s.evaluation();
  has = e != nullptr && std::isfinite(e->summary.nll_mean);
  f.xmin = 0.0;
  f.xmax = 1.0;
  if (has) {
    const auto& sm = e->summary;
    std::vector<double> x, y, err;
    for (int i = 0; i <= 20; ++i) {
      const double t = i / 20.0;
      x.push_back(t);
      y.push_back(nll_first_order(sm, t));
      err.push_back(std::hypot(sm.nll_se, t * sm.wkb_se));
    }
    f.series.push_back(Series::line(x, y, "NLL(0) + η E[-c]  (step " + std::to_string(e->step) + ")")
                           .with_error(err));
    if (!e->exact_eta.empty())
      f.series.push_back(Series::line(e->exact_eta, e->exact_nll, "exact NLL(η), Gaussian")
                             .with_dash(Dash::Dashed));
    if (auto ref = s.reference_evaluation()) {
      const auto& r = ref->summary;
      f.series.push_back(Series::line({0.0, 1.0}, {r.nll_mean, nll_first_order(r, 1.0)},
                                      "exact score, first order")
                             .with_dash(Dash::Dotted));
    }
    Series m = Series::scatter({eta}, {nll_first_order(sm, eta)}, "current η = " + fmt("%.3f", eta));
    m.marker_radius = 5.0;
    f.series.push_back(std::move(m));
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
  if (!has) f.title += " — press 'W2 sweep'";
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
  f.xlabel = "Ã/η per trajectory";
  f.ylabel = "density";
  auto v = s.sample();
  has = v && v->result.action.size() > 1 && v->eta > 0;
  if (v && v->eta == 0) f.title += " — η = 0: PF-ODE paths have zero action";
  if (!has) return f;
  std::vector<double> a(size_t(v->result.action.size()));
  double mean = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = v->result.action[Eigen::Index(i)] / v->eta;
    mean += a[i];
  }
  mean /= double(a.size());
  f.series.push_back(Series::histogram_of(a, 40, true, fmt("η = %.3f", v->eta)));
  f.series.push_back(Series::vline(mean, "mean " + fmt("%.1f", mean)).with_dash(Dash::Dashed));
  return f;
}

Figure c_map_chart(const Session& s, bool& has) {
  Figure f;
  f.title = chart_title(ChartId::CMap);
  f.xlabel = "x";
  f.ylabel = "y";
  f.aspect_equal = true;
  f.colorbar_label = "c(x₀)  (> 0: noise helps)";
  auto e = s.evaluation();
  has = e != nullptr && !e->summary.points.empty();
  if (!has) return f;
  std::vector<double> x, y, c;
  double cmax = 0;
  for (size_t i = 0; i < e->summary.points.size(); ++i) {
    const auto& p = e->summary.points[i];
    if (!p.ok || !std::isfinite(p.c)) continue;
    x.push_back(e->x0(0, Eigen::Index(i)));
    y.push_back(e->x0(1, Eigen::Index(i)));
    c.push_back(p.c);
    cmax = std::max(cmax, std::abs(p.c));
  }
  // A robust symmetric range (95th percentile of |c|) so zero is white and outliers saturate.
  std::vector<double> absc;
  for (double v : c) absc.push_back(std::abs(v));
  std::sort(absc.begin(), absc.end());
  const double lim = absc.empty() ? 1.0 : std::max(1e-9, absc[size_t(0.95 * double(absc.size() - 1))]);
  Series sc = Series::scatter_colored(std::move(x), std::move(y), std::move(c), Colormap::Diverging);
  sc.vmin = -lim;
  sc.vmax = lim;
  sc.marker_radius = 3.5;
  f.series.push_back(std::move(sc));
  f.legend = LegendPlace::None;
  return f;
}

}  // namespace

Figure build_chart(ChartId id, const Session& s, double eta, bool& has_data) {
  has_data = false;
  switch (id) {
    case ChartId::Loss: return loss_chart(s, has_data);
    case ChartId::NllStep: return nll_step_chart(s, has_data);
    case ChartId::NllEta: return nll_eta_chart(s, eta, has_data);
    case ChartId::W2: return w2_chart(s, eta, has_data);
    case ChartId::Action: return action_chart(s, has_data);
    case ChartId::CMap: return c_map_chart(s, has_data);
  }
  return {};
}

std::string chart_signature(ChartId id, const Session& s, double eta) {
  auto ptr = [](const void* p) { return std::to_string(reinterpret_cast<uintptr_t>(p)); };
  switch (id) {
    case ChartId::Loss:
      return std::to_string(s.loss_history().size()) + ":" +
             (s.loss_history().empty() ? "" : std::to_string(s.loss_history().back().step)) +
             (s.training_model() ? "t" : "a");
    case ChartId::NllStep:
      return std::to_string(s.eval_history().size()) + ptr(s.reference_evaluation().get()) +
             ptr(s.evaluation().get());
    case ChartId::NllEta:
      return ptr(s.evaluation().get()) + ptr(s.reference_evaluation().get()) + fmt("%.4f", eta);
    case ChartId::W2: return ptr(s.w2().get()) + fmt("%.4f", eta);
    case ChartId::Action: return ptr(s.sample().get());
    case ChartId::CMap: return ptr(s.evaluation().get());
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

Charts::~Charts() = default;

void Charts::update(const Session& s, double eta, int width_px, int height_px, double now) {
  // Pick up finished renders.
  if (renderer_->version() != seen_render_) {
    seen_render_ = renderer_->version();
    if (auto r = renderer_->latest()) {
      for (const auto& c : r->charts) {
        Slot& slot = slots_[size_t(c.index)];
        slot.texture.upload(c.rgba.data(), c.width, c.height);
        slot.signature = c.signature;
        slot.has_data = c.has_data;
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
    const std::string sig = chart_signature(ChartId(i), s, eta) + "@" + std::to_string(width_px) +
                            "x" + std::to_string(height_px);
    if (!resized && sig == slots_[size_t(i)].signature) continue;
    RenderItem item;
    item.index = i;
    item.signature = sig;
    item.figure = build_chart(ChartId(i), s, eta, item.has_data);
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
    ImGui::Image((ImTextureID)(intptr_t)slot.texture.id, ImVec2(width, height));
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

void Charts::export_chart(ChartId id, const Session& s, double eta, const std::string& path,
                          int width, int height) const {
  bool has = false;
  const Figure f = build_chart(id, s, eta, has);
  save_figure(f, path, width, height);
}

void Charts::release() {
  renderer_.reset();
  for (auto& s : slots_) s.texture.release();
}

}  // namespace diffpath::gui
