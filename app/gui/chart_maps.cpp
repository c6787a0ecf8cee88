// The charts that map a per-point quantity over the evaluation points (charts.hpp): c(x₀) from
// the latest NLL/WKB evaluation, and Δ log q = log q^η − log q⁰ from the NLL(η) curve.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "charts.hpp"
#include "diffpath/stats.hpp"
#include "model_slot.hpp"

namespace diffpath::gui {

namespace {

std::string title_at(const char* f, double v) {
  char buf[96];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

}  // namespace

Figure c_map_chart(const Session& s, bool& has) {
  Figure f;
  f.title = chart_title(ChartId::CMap);
  f.xlabel = "x";
  f.ylabel = "y";
  f.aspect_equal = true;
  f.colorbar_label = "c(x₀)  (> 0: noise helps)";
  auto e = s.main().evaluation();
  has = e != nullptr && !e->summary.points.empty();
  if (!has) return f;
  std::vector<double> x, y, c;
  for (size_t i = 0; i < e->summary.points.size(); ++i) {
    const auto& p = e->summary.points[i];
    if (!p.ok || !std::isfinite(p.c)) continue;
    x.push_back(e->x0(0, Eigen::Index(i)));
    y.push_back(e->x0(1, Eigen::Index(i)));
    c.push_back(p.c);
  }
  // A robust symmetric range (95th percentile of |c|) so zero is white and outliers saturate.
  std::vector<double> absc;
  for (double v : c) absc.push_back(std::abs(v));
  const double lim = absc.empty() ? 1.0 : std::max(1e-9, quantile(absc, 0.95));
  // The heavy tail: points beyond ten times the median |c| get a black ring (a larger dark
  // marker behind their colour), so the few that dominate E[−c] are found at a glance.
  const double tail = absc.empty() ? INFINITY : 10.0 * std::max(1e-9, quantile(absc, 0.5));
  std::vector<double> tx, ty;
  double worst = 0;
  for (size_t i = 0; i < c.size(); ++i)
    if (absc[i] > tail) {
      tx.push_back(x[i]);
      ty.push_back(y[i]);
      worst = std::max(worst, absc[i]);
    }
  if (!tx.empty()) {
    const std::string label = "heavy tail (|c| > 10 × median): " + std::to_string(tx.size()) +
                              title_at(", up to %.3g", worst);
    Series ring = Series::scatter(std::move(tx), std::move(ty), label);
    ring.with_color(Color::rgb(0x000000, 0.9)).marker_radius = 6.0;
    f.series.push_back(std::move(ring));
  }
  Series sc = Series::scatter_colored(std::move(x), std::move(y), std::move(c), Colormap::Diverging);
  sc.vmin = -lim;
  sc.vmax = lim;
  sc.marker_radius = 3.5;
  f.series.push_back(std::move(sc));
  f.legend = f.series.size() > 1 ? LegendPlace::Auto : LegendPlace::None;
  return f;
}

// Δ log q = log q₀^η − log q₀⁰ per point at the current η: the finite-η counterpart of the
// c(x₀) map (c is its η-slope at 0). Per point linear in η between the NLL(η) grid nodes.
Figure delta_log_q_chart(const Session& s, double eta, bool& has) {
  Figure f;
  f.title = title_at("Δ log q(x₀) at η = %.3f", eta);
  f.xlabel = "x";
  f.ylabel = "y";
  f.aspect_equal = true;
  f.colorbar_label = "Δ log q  (> 0: noise helps)";
  auto r = s.main().nll_eta();
  has = r && !r->summary.points.empty() && r->x0.rows() == 2 && r->summary.etas.size() >= 2 &&
        r->summary.etas.front() == 0.0;
  if (!has) return f;
  const std::vector<double>& etas = r->summary.etas;
  const double at = std::clamp(eta, 0.0, etas.back());
  size_t k = 1;
  while (k + 1 < etas.size() && etas[k] < at) ++k;
  const double w = (at - etas[k - 1]) / (etas[k] - etas[k - 1]);
  std::vector<double> x, y, d, absd;
  for (size_t i = 0; i < r->summary.points.size(); ++i) {
    const EtaPoint& p = r->summary.points[i];
    if (!p.ok) continue;
    const double l0 = p.at[0].log_q;
    const double v = (1 - w) * (p.at[k - 1].log_q - l0) + w * (p.at[k].log_q - l0);
    if (!std::isfinite(v)) continue;
    x.push_back(r->x0(0, Eigen::Index(i)));
    y.push_back(r->x0(1, Eigen::Index(i)));
    d.push_back(v);
    absd.push_back(std::abs(v));
  }
  const double lim = absd.empty() ? 1.0 : std::max(1e-9, quantile(absd, 0.95));
  Series sc = Series::scatter_colored(std::move(x), std::move(y), std::move(d), Colormap::Diverging);
  sc.vmin = -lim;
  sc.vmax = lim;
  sc.marker_radius = 3.5;
  f.series.push_back(std::move(sc));
  f.legend = LegendPlace::None;
  if (r->coarse) f.title += " (coarse)";
  return f;
}

}  // namespace diffpath::gui
