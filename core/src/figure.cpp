// Figure rendering with Cairo: one drawing routine for the screen buffer and for PNG, SVG and
// PDF. Layout: measure text, place the plot rectangle, choose nice ticks, then draw back to
// front (grid, heatmaps, series, markers, axes, legend, colorbar, title).
//
// Index (each section starts at a "// ----" rule with its name)
//   Colors ............... palette, the colormaps (colormap_color, colormap_table)
//   Series constructors .. Series::line, scatter, histogram, heatmap, marker lines
//   Style ................ sizes in pixels at scale 1
//   Text ................. measuring and anchoring labels
//   Ticks ................ nice linear steps, log decades, typographic minus
//   Data ranges .......... automatic limits, colormap ranges
//   Layout ............... plot rectangle, legend and colorbar boxes
//   Drawing .............. Painter (back to front), surfaces, render_rgba, save_figure
#include "diffpath/figure.hpp"

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>

#include "diffpath/common.hpp"
#include "diffpath/files.hpp"

namespace diffpath {

// ---------------------------------------------------------------------------------------------
// Colors

Color Color::rgb(uint32_t hex, double alpha) {
  return {double((hex >> 16) & 0xff) / 255.0, double((hex >> 8) & 0xff) / 255.0,
          double(hex & 0xff) / 255.0, alpha};
}

Color palette_color(int index) {
  // Okabe & Ito (2008), reordered so the first colors are the most distinct on white.
  static const uint32_t kPalette[] = {0x0072B2, 0xD55E00, 0x009E73, 0xCC79A7,
                                      0xE69F00, 0x56B4E9, 0x000000, 0xF0E442};
  const int k = ((index % 8) + 8) % 8;
  return Color::rgb(kPalette[k]);
}

namespace {

Color lerp_table(const uint32_t* table, int count, double u) {
  if (!std::isfinite(u)) u = 0.0;
  u = std::clamp(u, 0.0, 1.0) * (count - 1);
  const int k = std::min(int(u), count - 2);
  const double w = u - k;
  const Color a = Color::rgb(table[k]), b = Color::rgb(table[k + 1]);
  return {a.r + w * (b.r - a.r), a.g + w * (b.g - a.g), a.b + w * (b.b - a.b), 1.0};
}

}  // namespace

Color colormap_color(Colormap map, double u) {
  // matplotlib's viridis at u = 0, 0.1, ..., 1 (linear in between: visually indistinguishable).
  static const uint32_t kViridis[] = {0x440154, 0x482475, 0x414487, 0x355F8D,
                                      0x2A788E, 0x21918C, 0x22A884, 0x44BF70,
                                      0x7AD151, 0xBDDF26, 0xFDE725};
  // ColorBrewer RdBu, from blue (negative) to red (positive), white in the middle.
  static const uint32_t kRdBu[] = {0x053061, 0x2166AC, 0x4393C3, 0x92C5DE, 0xD1E5F0, 0xF7F7F7,
                                   0xFDDBC7, 0xF4A582, 0xD6604D, 0xB2182B, 0x67001F};
  if (map == Colormap::Magma) {
    // A polynomial fit of matplotlib's magma. The app's density overlay samples it through
    // colormap_table (a texture), so an exported heatmap looks like the overlay.
    static const double c[7][3] = {{-0.0021, -0.0008, -0.0054}, {0.2516, 0.6775, 2.4940},
                                   {8.3537, -3.5778, 0.3144},   {-27.6687, 14.2647, -13.6492},
                                   {52.1761, -27.9436, 12.9442}, {-50.7685, 29.0466, 4.2341},
                                   {18.6557, -11.4898, -5.6019}};
    const double x = std::clamp(std::isfinite(u) ? u : 0.0, 0.0, 1.0);
    double rgb[3];
    for (int k = 0; k < 3; ++k) {
      double v = c[6][k];
      for (int d = 5; d >= 0; --d) v = c[d][k] + x * v;
      rgb[k] = std::clamp(v, 0.0, 1.0);
    }
    return {rgb[0], rgb[1], rgb[2], 1.0};
  }
  return map == Colormap::Viridis ? lerp_table(kViridis, 11, u) : lerp_table(kRdBu, 11, u);
}

std::vector<std::array<float, 3>> colormap_table(Colormap map, int n) {
  if (n < 2) throw Error("colormap_table: need at least 2 entries");
  std::vector<std::array<float, 3>> out(static_cast<size_t>(n));
  for (int k = 0; k < n; ++k) {
    const Color c = colormap_color(map, double(k) / double(n - 1));
    out[size_t(k)] = {float(c.r), float(c.g), float(c.b)};
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Series constructors

Series Series::line(std::vector<double> x, std::vector<double> y, std::string label) {
  Series s;
  s.kind = SeriesKind::Line;
  s.x = std::move(x);
  s.y = std::move(y);
  s.label = std::move(label);
  return s;
}

Series Series::scatter(std::vector<double> x, std::vector<double> y, std::string label) {
  Series s = line(std::move(x), std::move(y), std::move(label));
  s.kind = SeriesKind::Scatter;
  return s;
}

Series Series::scatter_colored(std::vector<double> x, std::vector<double> y,
                               std::vector<double> values, Colormap map) {
  Series s = scatter(std::move(x), std::move(y));
  s.values = std::move(values);
  s.colormap = map;
  return s;
}

Series Series::histogram(std::vector<double> edges, std::vector<double> heights,
                         std::string label) {
  Series s;
  s.kind = SeriesKind::Histogram;
  s.edges = std::move(edges);
  s.heights = std::move(heights);
  s.label = std::move(label);
  s.alpha = 0.55;
  return s;
}

Series Series::histogram_of(const std::vector<double>& samples, int bins, bool density,
                            std::string label) {
  if (bins < 1) throw Error("histogram: bins must be at least 1");
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  size_t count = 0;
  for (double v : samples)
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v), ++count;
  if (count == 0) return histogram({}, {}, std::move(label));
  if (hi - lo <= 0.0) lo -= 0.5, hi += 0.5;                  // all samples equal: one unit bin
  std::vector<double> edges(size_t(bins) + 1), heights(size_t(bins), 0.0);
  for (int k = 0; k <= bins; ++k) edges[size_t(k)] = lo + (hi - lo) * k / bins;
  for (double v : samples) {
    if (!std::isfinite(v)) continue;
    const int k = std::min(int((v - lo) / (hi - lo) * bins), bins - 1);
    heights[size_t(k)] += 1.0;
  }
  if (density)
    for (double& h : heights) h /= double(count) * (hi - lo) / bins;
  return histogram(std::move(edges), std::move(heights), std::move(label));
}

Series Series::vline(double x, std::string label) {
  Series s;
  s.kind = SeriesKind::VLine;
  s.x = {x};
  s.label = std::move(label);
  s.dash = Dash::Dashed;
  s.line_width = 1.3;
  return s;
}

Series Series::hline(double y, std::string label) {
  Series s = vline(0.0, std::move(label));
  s.kind = SeriesKind::HLine;
  s.x.clear();
  s.y = {y};
  return s;
}

Series Series::heatmap(int nx, int ny, std::vector<double> grid, double x_min, double x_max,
                       double y_min, double y_max, Colormap map) {
  if (nx < 1 || ny < 1 || grid.size() != size_t(nx) * size_t(ny))
    throw Error("heatmap: grid must have nx·ny values");
  Series s;
  s.kind = SeriesKind::Heatmap;
  s.nx = nx;
  s.ny = ny;
  s.grid = std::move(grid);
  s.extent = {x_min, x_max, y_min, y_max};
  s.colormap = map;
  return s;
}

double PlotLayout::y_to_px(double y) const {
  const double v = log_y ? std::log10(y) : y;
  return bottom - (v - y0) / (y1 - y0) * (bottom - top);
}

double PlotLayout::px_to_y(double py) const {
  const double v = y0 + (bottom - py) / (bottom - top) * (y1 - y0);
  return log_y ? std::pow(10.0, v) : v;
}

namespace {

// ---------------------------------------------------------------------------------------------
// Style (pixels at scale 1)

constexpr uint32_t kInk = 0x222222;        // title and labels
constexpr uint32_t kTickInk = 0x444444;    // tick labels
constexpr uint32_t kAxis = 0x555555;       // plot frame and ticks
constexpr uint32_t kGrid = 0xE6E6E6;
constexpr uint32_t kMarker = 0x555555;     // default vline / hline color
constexpr const char* kFont = "DejaVu Sans";
constexpr double kPi = 3.14159265358979323846;

void set_color(cairo_t* cr, const Color& c) { cairo_set_source_rgba(cr, c.r, c.g, c.b, c.a); }
void set_color(cairo_t* cr, uint32_t hex, double alpha = 1.0) {
  set_color(cr, Color::rgb(hex, alpha));
}

bool is_colormapped(const Series& s) {
  return s.kind == SeriesKind::Heatmap || (s.kind == SeriesKind::Scatter && !s.values.empty());
}

// ---------------------------------------------------------------------------------------------
// Text

void set_font(cairo_t* cr, double size, bool bold = false) {
  cairo_select_font_face(cr, kFont, CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
}

double text_width(cairo_t* cr, const std::string& s) {
  if (s.empty()) return 0.0;
  cairo_text_extents_t e;
  cairo_text_extents(cr, s.c_str(), &e);
  return e.x_advance;
}

// Draws s with its anchor at (x, y): ha = 0 left, 0.5 centre, 1 right; vertically centred on
// the digits' height (cap height ≈ 0.72 em for DejaVu Sans). `angle` in radians (−π/2: reads
// bottom to top).
void draw_text(cairo_t* cr, const std::string& s, double x, double y, double ha,
               double angle = 0.0) {
  if (s.empty()) return;
  double size = 0;
  cairo_matrix_t fm;
  cairo_get_font_matrix(cr, &fm);
  size = fm.yy;
  cairo_save(cr);
  cairo_translate(cr, x, y);
  cairo_rotate(cr, angle);
  cairo_move_to(cr, -ha * text_width(cr, s), 0.36 * size);
  cairo_show_text(cr, s.c_str());
  cairo_restore(cr);
}

// ---------------------------------------------------------------------------------------------
// Ticks

struct Tick {
  double value;        // axis coordinate (log10 y on a log axis)
  std::string label;   // "" for minor ticks
  bool major = true;
};

struct Axis {
  std::vector<Tick> ticks;
  std::string offset;   // "×10⁴" when labels are scaled, else ""
};

const char* const kSuperDigits[] = {"⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"};

std::string superscript(int k) {
  std::string out = k < 0 ? "⁻" : "";
  const std::string digits = std::to_string(std::abs(k));
  for (char c : digits) out += kSuperDigits[c - '0'];
  return out;
}

// Typographic minus instead of '-'.
std::string with_minus(std::string s) {
  if (!s.empty() && s[0] == '-') s = "−" + s.substr(1);
  return s;
}

std::string format_fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", std::max(decimals, 0), v);
  std::string s = buf;
  if (s == "-0" || s.find_first_not_of("-0.") == std::string::npos) s = s.substr(s[0] == '-');
  return with_minus(s);
}

// A "nice" step (1, 2, 2.5, 5 × 10^k) giving about `target` intervals over `range`.
double nice_step(double range, double target) {
  const double raw = range / std::max(target, 1.0);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0})
    if (raw <= m * mag * 1.0000001) return m * mag;
  return 10.0 * mag;
}

Axis linear_axis(double lo, double hi, double target) {
  Axis axis;
  const double step = nice_step(hi - lo, target);
  const double biggest = std::max(std::abs(lo), std::abs(hi));
  // Scientific offset for very large or very small numbers: labels become mantissas.
  int exponent = 0;
  if (biggest >= 1e5 || biggest < 1e-3) exponent = int(std::floor(std::log10(biggest)));
  const double unit = std::pow(10.0, exponent);
  if (exponent != 0) axis.offset = "×10" + superscript(exponent);
  const double scaled_step = step / unit;
  int decimals = std::max(0, -int(std::floor(std::log10(scaled_step) + 1e-9)));
  const double mantissa = scaled_step / std::pow(10.0, std::floor(std::log10(scaled_step) + 1e-9));
  if (std::abs(mantissa - 2.5) < 1e-6) ++decimals;
  const double first = std::ceil(lo / step - 1e-9);
  for (double k = first;; ++k) {
    double v = k * step;
    if (v > hi + step * 1e-9) break;
    if (std::abs(v) < step * 1e-9) v = 0.0;
    axis.ticks.push_back({v, format_fixed(v / unit, decimals), true});
    if (axis.ticks.size() > 200) break;   // cannot happen with a finite range; a guard
  }
  return axis;
}

// Log axis over [lo, hi] in log10 units: decades (labelled 10ⁿ) and minor ticks at 2..9; with
// less than two decades in view, 1-2-5 ticks labelled as plain numbers.
Axis log_axis(double lo, double hi, double target) {
  Axis axis;
  const int d0 = int(std::ceil(lo - 1e-9)), d1 = int(std::floor(hi + 1e-9));
  if (hi - lo >= 2.5) {
    const int every = std::max(1, int(std::ceil((d1 - d0 + 1) / std::max(target, 2.0))));
    for (int d = d0; d <= d1; ++d)
      if ((d - d0) % every == 0) axis.ticks.push_back({double(d), "10" + superscript(d), true});
    if (every == 1 && hi - lo <= 8.0)
      for (int d = d0 - 1; d <= d1; ++d)
        for (int m = 2; m <= 9; ++m) {
          const double v = d + std::log10(double(m));
          if (v >= lo && v <= hi) axis.ticks.push_back({v, "", false});
        }
    return axis;
  }
  // Up to 2.5 decades: 1-2-5 ticks labelled as plain numbers, minor ticks at the others.
  for (int d = d0 - 1; d <= d1 + 1; ++d)
    for (int m = 1; m <= 9; ++m) {
      const double v = d + std::log10(double(m));
      if (v < lo - 1e-9 || v > hi + 1e-9) continue;
      const bool major = m == 1 || m == 2 || m == 5;
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", m * std::pow(10.0, d));
      axis.ticks.push_back({v, major ? buf : "", major});
    }
  int majors = 0;
  for (const Tick& t : axis.ticks) majors += t.major;
  if (majors < 2) return linear_axis(lo, hi, target);   // a sliver of a decade
  return axis;
}

// ---------------------------------------------------------------------------------------------
// Data ranges

struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  }
  bool empty() const { return !(lo <= hi); }
};

struct Frame {
  bool log_y = false;
  // y as drawn: log10 on a log axis (NaN for non-positive values, which are then skipped).
  double ty(double y) const { return log_y ? (y > 0 ? std::log10(y) : NAN) : y; }
};

// Padded limits from the data; heatmap extents are used tight, others get 5 % each side.
void data_limits(const Figure& fig, const Frame& fr, double& x0, double& x1, double& y0,
                 double& y1) {
  Range px, py, tx, ty;   // padded and tight contributions
  bool histogram = false;
  for (const Series& s : fig.series) {
    switch (s.kind) {
      case SeriesKind::Line:
      case SeriesKind::Scatter:
        for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
          if (!std::isfinite(s.x[i]) || !std::isfinite(fr.ty(s.y[i]))) continue;
          px.add(s.x[i]);
          py.add(fr.ty(s.y[i]));
          if (i < s.err.size() && std::isfinite(s.err[i])) {
            py.add(fr.ty(s.y[i] + std::abs(s.err[i])));
            py.add(fr.ty(s.y[i] - std::abs(s.err[i])));
          }
        }
        break;
      case SeriesKind::Histogram:
        histogram = true;
        for (double e : s.edges) px.add(e);
        for (double h : s.heights) py.add(fr.ty(h));
        if (!fr.log_y && !s.heights.empty()) py.add(0.0);
        break;
      case SeriesKind::VLine:
        if (!s.x.empty()) px.add(s.x[0]);
        break;
      case SeriesKind::HLine:
        if (!s.y.empty()) py.add(fr.ty(s.y[0]));
        break;
      case SeriesKind::Heatmap:
        tx.add(s.extent[0]), tx.add(s.extent[1]);
        ty.add(fr.ty(s.extent[2])), ty.add(fr.ty(s.extent[3]));
        break;
    }
  }
  auto finish = [](Range padded, const Range& tight, double& lo, double& hi, bool floor_zero) {
    if (padded.empty() && tight.empty()) { lo = 0.0; hi = 1.0; return; }
    if (!padded.empty()) {
      double span = padded.hi - padded.lo;
      if (span <= 0.0) span = std::max(std::abs(padded.hi) * 0.1, 0.5);   // one value
      const bool zero_base = floor_zero && padded.lo == 0.0;
      padded.lo = zero_base ? 0.0 : padded.lo - 0.05 * span;
      padded.hi += 0.05 * span;
      if (padded.hi - padded.lo < span) padded.lo -= span / 2, padded.hi += span / 2;
    }
    lo = std::min(padded.lo, tight.lo);
    hi = std::max(padded.hi, tight.hi);
  };
  finish(px, tx, x0, x1, false);
  finish(py, ty, y0, y1, histogram && !fr.log_y);
}

// The colormap range of a series: explicit, else data range (symmetric for Diverging).
void value_range(const Series& s, double& vmin, double& vmax) {
  Range r;
  for (double v : s.kind == SeriesKind::Heatmap ? s.grid : s.values) r.add(v);
  if (r.empty()) r.lo = 0.0, r.hi = 1.0;
  if (s.colormap == Colormap::Diverging) {
    const double m = std::max(std::abs(r.lo), std::abs(r.hi));
    r.lo = -m, r.hi = m;
  }
  vmin = s.vmin.value_or(r.lo);
  vmax = s.vmax.value_or(r.hi);
  if (!(vmax > vmin)) vmin -= 0.5, vmax += 0.5;
}

// ---------------------------------------------------------------------------------------------
// Layout

struct Layout {
  PlotLayout plot;
  Axis xaxis, yaxis;
  double s = 1.0;                       // scale
  double tick_font = 11.0, label_font = 12.5, title_font = 13.75;
  const Series* colorbar = nullptr;     // the colormapped series shown in the colorbar
  double vmin = 0, vmax = 1;
  Axis caxis;
  double cbar_left = 0;                 // colorbar rectangle: [cbar_left, +cbar_width]
  double cbar_width = 0;
  bool legend_outside = false;
  double legend_w = 0, legend_h = 0;
};

int legend_entries(const Figure& fig) {
  int k = int(fig.notes.size());
  for (const Series& s : fig.series) k += !s.label.empty();
  return k;
}

double max_label_width(cairo_t* cr, const Axis& a) {
  double w = 0;
  for (const Tick& t : a.ticks) w = std::max(w, text_width(cr, t.label));
  return w;
}

void legend_size(cairo_t* cr, const Figure& fig, const Layout& L, double font, double& w, double& h) {
  set_font(cr, font * L.s);
  double tw = 0;
  int n = 0;
  for (const Series& s : fig.series)
    if (!s.label.empty()) tw = std::max(tw, text_width(cr, s.label)), ++n;
  const double s = L.s;
  const double swatch = n ? (24 + 6) * s : 0.0;  // notes start where the labels do
  double nw = 0;
  for (const std::string& note : fig.notes) nw = std::max(nw, text_width(cr, note));
  const int rows = n + int(fig.notes.size());
  w = rows ? std::max(tw, nw) + swatch + 16 * s : 0.0;
  h = rows ? rows * font * 1.45 * s + 8 * s : 0.0;
}

Layout compute_layout(cairo_t* cr, const Figure& fig, int width, int height, double scale) {
  Layout L;
  L.s = scale;
  L.label_font = fig.font_size;
  L.tick_font = fig.font_size * 0.88;
  L.title_font = fig.font_size * 1.1;
  const double s = scale;
  const Frame fr{fig.log_y};
  double x0, x1, y0, y1;
  data_limits(fig, fr, x0, x1, y0, y1);
  if (fig.xmin) x0 = *fig.xmin;
  if (fig.xmax) x1 = *fig.xmax;
  if (fig.ymin && std::isfinite(fr.ty(*fig.ymin))) y0 = fr.ty(*fig.ymin);
  if (fig.ymax && std::isfinite(fr.ty(*fig.ymax))) y1 = fr.ty(*fig.ymax);
  if (!(x1 > x0)) x1 = x0 + 1.0;
  if (!(y1 > y0)) y1 = y0 + 1.0;

  for (const Series& ser : fig.series)
    if (is_colormapped(ser)) { L.colorbar = &ser; break; }

  // Vertical margins do not depend on the tick labels.
  const double tick_len = 4 * s, gap = 5 * s;
  const double tick_h = L.tick_font * s, label_h = L.label_font * s;
  const double top = (fig.title.empty() ? 14 * s : L.title_font * s * 1.3 + 14 * s);
  const double bottom_margin = tick_len + gap + tick_h + (fig.xlabel.empty() ? 8 * s
                                                             : gap + 4 * s + label_h + 8 * s);
  const double bottom = height - bottom_margin;

  // Right side: colorbar and/or outside legend.
  double right_extra = 0.0;
  if (L.colorbar) {
    value_range(*L.colorbar, L.vmin, L.vmax);
    L.caxis = linear_axis(L.vmin, L.vmax, std::max(3.0, (bottom - top) / (45 * s)));
    set_font(cr, L.tick_font * s);
    L.cbar_width = 13 * s;
    right_extra += 16 * s + L.cbar_width + tick_len + gap + max_label_width(cr, L.caxis) +
                   (fig.colorbar_label.empty() ? 0.0 : gap + label_h);
  }
  L.legend_outside = fig.legend == LegendPlace::Outside && legend_entries(fig) > 0;
  if (L.legend_outside) {
    legend_size(cr, fig, L, L.tick_font, L.legend_w, L.legend_h);
    right_extra += L.legend_w + 12 * s;
  }

  // Horizontal layout depends on the y tick labels, and with aspect_equal the limits depend on
  // the plot size: two passes settle it.
  double left = 0, right = 0;
  for (int pass = 0; pass < 3; ++pass) {
    L.yaxis = fig.log_y ? log_axis(y0, y1, std::max(2.0, (bottom - top) / (45 * s)))
                        : linear_axis(y0, y1, std::max(2.0, (bottom - top) / (45 * s)));
    set_font(cr, L.tick_font * s);
    left = 10 * s + (fig.ylabel.empty() ? 0.0 : label_h + gap + 3 * s) +
           max_label_width(cr, L.yaxis) + gap + tick_len;
    right = width - 16 * s - right_extra;
    if (!fig.aspect_equal || fig.log_y || pass == 2) break;
    const double ux = (x1 - x0) / (right - left), uy = (y1 - y0) / (bottom - top);
    if (ux > uy) {
      const double c = 0.5 * (y0 + y1), h = 0.5 * ux * (bottom - top);
      y0 = c - h, y1 = c + h;
    } else {
      const double c = 0.5 * (x0 + x1), h = 0.5 * uy * (right - left);
      x0 = c - h, x1 = c + h;
    }
  }
  L.xaxis = linear_axis(x0, x1, std::max(2.0, (right - left) / (85 * s)));
  L.plot = {left, top, right, bottom, x0, x1, y0, y1, fig.log_y};
  L.cbar_left = right + 16 * s;
  return L;
}

// ---------------------------------------------------------------------------------------------
// Drawing

struct Painter {
  cairo_t* cr;
  const Figure& fig;
  const Layout& L;
  Frame fr;

  double X(double x) const { return L.plot.x_to_px(x); }
  double Y(double ty) const {   // ty already transformed (log10 on a log axis)
    const PlotLayout& p = L.plot;
    return p.bottom - (ty - p.y0) / (p.y1 - p.y0) * (p.bottom - p.top);
  }
  // Crisp 1-pixel lines on the pixel grid.
  double snap(double v) const { return std::floor(v) + 0.5; }

  Color color_of(const Series& s, int palette_index) const {
    if (s.color) return *s.color;
    if (s.kind == SeriesKind::VLine || s.kind == SeriesKind::HLine) return Color::rgb(kMarker);
    return palette_color(palette_index);
  }

  // Also sets the line cap: dots are zero-length dashes, visible only with round caps.
  void set_dash(Dash d, double width) const {
    const double s = L.s;
    cairo_set_line_cap(cr, d == Dash::Dotted ? CAIRO_LINE_CAP_ROUND : CAIRO_LINE_CAP_BUTT);
    if (d == Dash::Dashed) {
      const double pattern[] = {6.0 * s, 4.0 * s};
      cairo_set_dash(cr, pattern, 2, 0.0);
    } else if (d == Dash::Dotted) {
      const double pattern[] = {0.01, 2.6 * std::max(width, 1.0) * s};
      cairo_set_dash(cr, pattern, 2, 0.0);
    } else {
      cairo_set_dash(cr, nullptr, 0, 0.0);
    }
  }

  void clip_to_plot() const {
    const PlotLayout& p = L.plot;
    cairo_rectangle(cr, p.left, p.top, p.right - p.left, p.bottom - p.top);
    cairo_clip(cr);
  }

  void grid() const {
    if (!fig.grid) return;
    const PlotLayout& p = L.plot;
    cairo_set_line_width(cr, 1.0 * L.s);
    for (const Tick& t : L.xaxis.ticks) {
      if (!t.major) continue;
      const double x = snap(X(t.value));
      cairo_move_to(cr, x, p.top);
      cairo_line_to(cr, x, p.bottom);
    }
    for (const Tick& t : L.yaxis.ticks) {
      if (!t.major) continue;
      const double y = snap(Y(t.value));
      cairo_move_to(cr, p.left, y);
      cairo_line_to(cr, p.right, y);
    }
    set_color(cr, kGrid);
    cairo_stroke(cr);
  }

  void heatmap(const Series& s) const {
    if (s.nx < 1 || s.ny < 1 || s.grid.size() != size_t(s.nx) * size_t(s.ny)) return;
    double vmin, vmax;
    value_range(s, vmin, vmax);
    cairo_surface_t* img = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, s.nx, s.ny);
    cairo_surface_flush(img);
    unsigned char* data = cairo_image_surface_get_data(img);
    const int stride = cairo_image_surface_get_stride(img);
    for (int r = 0; r < s.ny; ++r) {
      auto* row = reinterpret_cast<uint32_t*>(data + size_t(r) * size_t(stride));
      const double* src = s.grid.data() + size_t(s.ny - 1 - r) * size_t(s.nx);   // bottom row last
      for (int c = 0; c < s.nx; ++c) {
        if (!std::isfinite(src[c])) { row[c] = 0; continue; }
        const Color col = colormap_color(s.colormap, (src[c] - vmin) / (vmax - vmin));
        row[c] = 0xff000000u | uint32_t(std::lround(col.r * 255)) << 16 |
                 uint32_t(std::lround(col.g * 255)) << 8 | uint32_t(std::lround(col.b * 255));
      }
    }
    cairo_surface_mark_dirty(img);
    const double px0 = X(s.extent[0]), px1 = X(s.extent[1]);
    const double py0 = Y(fr.ty(s.extent[3])), py1 = Y(fr.ty(s.extent[2]));
    cairo_save(cr);
    cairo_translate(cr, px0, py0);
    cairo_scale(cr, (px1 - px0) / s.nx, (py1 - py0) / s.ny);
    cairo_set_source_surface(cr, img, 0, 0);
    cairo_pattern_t* pat = cairo_get_source(cr);
    cairo_pattern_set_filter(pat, s.smooth ? CAIRO_FILTER_BILINEAR : CAIRO_FILTER_NEAREST);
    cairo_pattern_set_extend(pat, CAIRO_EXTEND_PAD);
    cairo_rectangle(cr, 0, 0, s.nx, s.ny);
    cairo_fill(cr);
    cairo_restore(cr);
    cairo_surface_destroy(img);
  }

  void histogram(const Series& s, const Color& c) const {
    const size_t k = std::min(s.heights.size(), s.edges.size() ? s.edges.size() - 1 : 0);
    const double base = fr.log_y ? L.plot.bottom : Y(0.0);
    for (size_t i = 0; i < k; ++i) {
      const double h = fr.ty(s.heights[i]);
      if (!std::isfinite(h) || !std::isfinite(s.edges[i]) || !std::isfinite(s.edges[i + 1]))
        continue;
      cairo_rectangle(cr, X(s.edges[i]), Y(h), X(s.edges[i + 1]) - X(s.edges[i]), base - Y(h));
    }
    set_color(cr, Color{c.r, c.g, c.b, c.a * s.alpha});
    cairo_fill_preserve(cr);
    cairo_set_line_width(cr, 0.8 * L.s);
    set_color(cr, Color{c.r, c.g, c.b, c.a * std::min(1.0, s.alpha + 0.3)});
    cairo_stroke(cr);
  }

  // Error band (filled polygon between y − e and y + e over each finite run) or error bars.
  void errors(const Series& s, const Color& c) const {
    const size_t n = std::min({s.x.size(), s.y.size(), s.err.size()});
    auto ok = [&](size_t i) {
      return std::isfinite(s.x[i]) && std::isfinite(s.y[i]) && std::isfinite(s.err[i]);
    };
    auto lo = [&](size_t i) {
      const double v = fr.ty(s.y[i] - std::abs(s.err[i]));
      return std::isfinite(v) ? Y(v) : L.plot.bottom + 10 * L.s;   // log axis: off the bottom
    };
    auto hi = [&](size_t i) { return Y(fr.ty(s.y[i] + std::abs(s.err[i]))); };
    if (s.error_style == ErrorStyle::Band) {
      for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && ok(j)) ++j;
        if (j > i) {
          for (size_t k = i; k < j; ++k) cairo_line_to(cr, X(s.x[k]), hi(k));
          for (size_t k = j; k-- > i;) cairo_line_to(cr, X(s.x[k]), lo(k));
          cairo_close_path(cr);
        }
        i = j + 1;
      }
      set_color(cr, Color{c.r, c.g, c.b, c.a * 0.2});
      cairo_fill(cr);
      return;
    }
    const double cap = 3.0 * L.s;
    for (size_t i = 0; i < n; ++i) {
      if (!ok(i)) continue;
      const double x = X(s.x[i]);
      cairo_move_to(cr, x, lo(i));
      cairo_line_to(cr, x, hi(i));
      cairo_move_to(cr, x - cap, lo(i));
      cairo_line_to(cr, x + cap, lo(i));
      cairo_move_to(cr, x - cap, hi(i));
      cairo_line_to(cr, x + cap, hi(i));
    }
    cairo_set_line_width(cr, 1.0 * L.s);
    set_dash(Dash::Solid, 1.0);
    set_color(cr, c);
    cairo_stroke(cr);
  }

  void line(const Series& s, const Color& c) const {
    if (!s.err.empty() && s.error_style == ErrorStyle::Bars) errors(s, c);  // bands: see draw()
    const size_t n = std::min(s.x.size(), s.y.size());
    bool pen = false;
    size_t drawn = 0;
    for (size_t i = 0; i < n; ++i) {
      const double ty = fr.ty(s.y[i]);
      if (!std::isfinite(s.x[i]) || !std::isfinite(ty)) { pen = false; continue; }
      if (pen) cairo_line_to(cr, X(s.x[i]), Y(ty));
      else cairo_move_to(cr, X(s.x[i]), Y(ty));
      pen = true;
      ++drawn;
    }
    cairo_set_line_width(cr, s.line_width * L.s);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    set_dash(s.dash, s.line_width);
    set_color(cr, c);
    cairo_stroke(cr);
    set_dash(Dash::Solid, 1.0);
    if (s.markers || drawn == 1) {
      for (size_t i = 0; i < n; ++i) {
        const double ty = fr.ty(s.y[i]);
        if (!std::isfinite(s.x[i]) || !std::isfinite(ty)) continue;
        cairo_new_sub_path(cr);
        cairo_arc(cr, X(s.x[i]), Y(ty), (1.2 * s.line_width + 1.0) * L.s, 0, 2 * kPi);
      }
      cairo_fill(cr);
    }
  }

  void scatter(const Series& s, const Color& c) const {
    const size_t n = std::min(s.x.size(), s.y.size());
    const double r = s.marker_radius * L.s;
    const bool mapped = !s.values.empty();
    double vmin = 0, vmax = 1;
    if (mapped) value_range(s, vmin, vmax);
    for (size_t i = 0; i < n; ++i) {
      const double ty = fr.ty(s.y[i]);
      if (!std::isfinite(s.x[i]) || !std::isfinite(ty)) continue;
      if (mapped) {
        if (i >= s.values.size() || !std::isfinite(s.values[i])) continue;
        Color col = colormap_color(s.colormap, (s.values[i] - vmin) / (vmax - vmin));
        col.a = s.alpha;
        set_color(cr, col);
        cairo_arc(cr, X(s.x[i]), Y(ty), r, 0, 2 * kPi);
        cairo_fill(cr);
      } else {
        cairo_new_sub_path(cr);
        cairo_arc(cr, X(s.x[i]), Y(ty), r, 0, 2 * kPi);
      }
    }
    if (!mapped) {
      set_color(cr, Color{c.r, c.g, c.b, c.a * s.alpha});
      cairo_fill(cr);
    }
  }

  // Where a marker line's label goes: inside the plot next to the line (near the top for a
  // vertical line, at the right end for a horizontal one). Returns the text anchor (left end,
  // vertical centre) and size; the font is left set to the tick font.
  void marker_label_box(const Series& s, double pos, double& tx, double& ty, double& w,
                        double& h) const {
    const PlotLayout& p = L.plot;
    set_font(cr, L.tick_font * L.s);
    w = text_width(cr, s.label), h = L.tick_font * L.s;
    const double pad = 4 * L.s;
    if (s.kind == SeriesKind::VLine) {
      const bool flip = pos + pad + w > p.right - 4 * L.s;   // no room on the right: go left
      tx = flip ? pos - pad - w : pos + pad;
      ty = p.top + pad + h * 0.5 + 2 * L.s;
    } else {
      tx = p.right - pad - w;
      const bool below = pos - pad - h < p.top;
      ty = below ? pos + pad + h * 0.5 : pos - pad - h * 0.5;
    }
  }

  // Marker lines with their label inside the plot, next to the line, on a white backdrop.
  void marker(const Series& s, const Color& c) const {
    const PlotLayout& p = L.plot;
    const bool vertical = s.kind == SeriesKind::VLine;
    double pos;
    if (vertical) {
      if (s.x.empty() || !std::isfinite(s.x[0])) return;
      pos = X(s.x[0]);
      cairo_move_to(cr, pos, p.top);
      cairo_line_to(cr, pos, p.bottom);
    } else {
      if (s.y.empty() || !std::isfinite(fr.ty(s.y[0]))) return;
      pos = Y(fr.ty(s.y[0]));
      cairo_move_to(cr, p.left, pos);
      cairo_line_to(cr, p.right, pos);
    }
    cairo_set_line_width(cr, s.line_width * L.s);
    set_dash(s.dash, s.line_width);
    set_color(cr, c);
    cairo_stroke(cr);
    set_dash(Dash::Solid, 1.0);
    if (s.label.empty()) return;
    double tx, ty, w, h;
    marker_label_box(s, pos, tx, ty, w, h);
    set_color(cr, 0xFFFFFF, 0.8);
    cairo_rectangle(cr, tx - 2 * L.s, ty - 0.6 * h, w + 4 * L.s, 1.2 * h);
    cairo_fill(cr);
    set_color(cr, Color{c.r * 0.8, c.g * 0.8, c.b * 0.8, 1.0});
    draw_text(cr, s.label, tx, ty, 0.0);
  }

  void frame_and_ticks() const {
    const PlotLayout& p = L.plot;
    const double s = L.s, tick_len = 4 * s, gap = 5 * s;
    cairo_set_line_width(cr, 1.0 * s);
    set_color(cr, kAxis);
    cairo_rectangle(cr, snap(p.left), snap(p.top), std::round(p.right - p.left),
                    std::round(p.bottom - p.top));
    cairo_stroke(cr);
    for (const Tick& t : L.xaxis.ticks) {
      const double x = snap(X(t.value));
      cairo_move_to(cr, x, snap(p.bottom));
      cairo_line_to(cr, x, snap(p.bottom) + (t.major ? tick_len : tick_len * 0.6));
    }
    for (const Tick& t : L.yaxis.ticks) {
      const double y = snap(Y(t.value));
      cairo_move_to(cr, snap(p.left), y);
      cairo_line_to(cr, snap(p.left) - (t.major ? tick_len : tick_len * 0.6), y);
    }
    cairo_stroke(cr);

    set_font(cr, L.tick_font * s);
    set_color(cr, kTickInk);
    const double th = L.tick_font * s;
    for (const Tick& t : L.xaxis.ticks)
      draw_text(cr, t.label, X(t.value), p.bottom + tick_len + gap + 0.5 * th, 0.5);
    for (const Tick& t : L.yaxis.ticks)
      draw_text(cr, t.label, p.left - tick_len - gap, Y(t.value), 1.0);
    if (!L.yaxis.offset.empty()) draw_text(cr, L.yaxis.offset, p.left, p.top - 0.8 * th, 0.0);
    if (!L.xaxis.offset.empty())
      draw_text(cr, L.xaxis.offset, p.right, p.bottom + tick_len + 2 * gap + 1.5 * th, 1.0);

    set_font(cr, L.label_font * s);
    set_color(cr, kInk);
    const double lh = L.label_font * s;
    if (!fig.xlabel.empty())
      draw_text(cr, fig.xlabel, 0.5 * (p.left + p.right),
                p.bottom + tick_len + gap + th + gap + 4 * s + 0.5 * lh, 0.5);
    if (!fig.ylabel.empty()) {
      double widest = 0;
      set_font(cr, L.tick_font * s);
      for (const Tick& t : L.yaxis.ticks) widest = std::max(widest, text_width(cr, t.label));
      set_font(cr, L.label_font * s);
      const double x = p.left - tick_len - gap - widest - gap - 3 * s - 0.5 * lh;
      draw_text(cr, fig.ylabel, x, 0.5 * (p.top + p.bottom), 0.5, -kPi / 2);
    }
    if (!fig.title.empty()) {
      set_font(cr, L.title_font * s, true);
      draw_text(cr, fig.title, 0.5 * (p.left + p.right), 0.5 * p.top, 0.5);
    }
  }

  void colorbar() const {
    if (!L.colorbar) return;
    const PlotLayout& p = L.plot;
    const double s = L.s, x = L.cbar_left, w = L.cbar_width, tick_len = 4 * s, gap = 5 * s;
    cairo_pattern_t* grad = cairo_pattern_create_linear(0, p.bottom, 0, p.top);
    for (int k = 0; k <= 32; ++k) {
      const Color c = colormap_color(L.colorbar->colormap, k / 32.0);
      cairo_pattern_add_color_stop_rgb(grad, k / 32.0, c.r, c.g, c.b);
    }
    cairo_rectangle(cr, x, p.top, w, p.bottom - p.top);
    cairo_set_source(cr, grad);
    cairo_fill(cr);
    cairo_pattern_destroy(grad);
    cairo_set_line_width(cr, 1.0 * s);
    set_color(cr, kAxis);
    cairo_rectangle(cr, snap(x), snap(p.top), std::round(w), std::round(p.bottom - p.top));
    auto cy = [&](double v) {
      return p.bottom - (v - L.vmin) / (L.vmax - L.vmin) * (p.bottom - p.top);
    };
    for (const Tick& t : L.caxis.ticks) {
      cairo_move_to(cr, snap(x + w), snap(cy(t.value)));
      cairo_line_to(cr, snap(x + w) + tick_len, snap(cy(t.value)));
    }
    cairo_stroke(cr);
    set_font(cr, L.tick_font * s);
    set_color(cr, kTickInk);
    double widest = 0;
    for (const Tick& t : L.caxis.ticks) {
      draw_text(cr, t.label, x + w + tick_len + gap, cy(t.value), 0.0);
      widest = std::max(widest, text_width(cr, t.label));
    }
    if (!L.caxis.offset.empty()) draw_text(cr, L.caxis.offset, x, p.top - 0.8 * L.tick_font * s, 0);
    if (!fig.colorbar_label.empty()) {
      set_font(cr, L.label_font * s);
      set_color(cr, kInk);
      draw_text(cr, fig.colorbar_label, x + w + tick_len + gap + widest + gap + 0.5 * L.label_font * s,
                0.5 * (p.top + p.bottom), 0.5, -kPi / 2);
    }
  }

  // Pixel positions of the data, for choosing the legend corner that hides the least.
  std::vector<std::pair<double, double>> data_pixels() const {
    std::vector<std::pair<double, double>> pts;
    for (const Series& s : fig.series) {
      if (s.kind == SeriesKind::Line || s.kind == SeriesKind::Scatter) {
        const size_t n = std::min(s.x.size(), s.y.size());
        for (size_t i = 0; i < n; ++i) {
          const double ty = fr.ty(s.y[i]);
          if (!std::isfinite(s.x[i]) || !std::isfinite(ty)) continue;
          pts.emplace_back(X(s.x[i]), Y(ty));
          if (s.kind == SeriesKind::Line && i + 1 < n && std::isfinite(s.x[i + 1]) &&
              std::isfinite(fr.ty(s.y[i + 1])))
            for (int k = 1; k < 8; ++k)   // a line covers the space between its points
              pts.emplace_back(X(s.x[i] + (s.x[i + 1] - s.x[i]) * k / 8.0),
                               Y(ty + (fr.ty(s.y[i + 1]) - ty) * k / 8.0));
        }
      } else if (s.kind == SeriesKind::VLine || s.kind == SeriesKind::HLine) {
        // The line and, generously, its label (which sits near the top or the right end).
        const PlotLayout& p = L.plot;
        const bool vertical = s.kind == SeriesKind::VLine;
        if (vertical ? s.x.empty() || !std::isfinite(s.x[0])
                     : s.y.empty() || !std::isfinite(fr.ty(s.y[0])))
          continue;
        const double pos = vertical ? X(s.x[0]) : Y(fr.ty(s.y[0]));
        const double len = vertical ? p.bottom - p.top : p.right - p.left;
        for (double t = 0; t <= len; t += 6 * L.s)
          pts.emplace_back(vertical ? pos : p.left + t, vertical ? p.top + t : pos);
        if (!s.label.empty()) {
          double tx, ty, w, h;
          marker_label_box(s, pos, tx, ty, w, h);
          for (double u = 0; u <= w; u += 4 * L.s)
            for (double v = -0.6 * h; v <= 0.6 * h; v += 0.6 * h) pts.emplace_back(tx + u, ty + v);
        }
      } else if (s.kind == SeriesKind::Histogram) {
        const size_t k = std::min(s.heights.size(), s.edges.size() ? s.edges.size() - 1 : 0);
        for (size_t i = 0; i < k; ++i) {
          const double h = fr.ty(s.heights[i]);
          if (!std::isfinite(h)) continue;
          const double xm = X(0.5 * (s.edges[i] + s.edges[i + 1]));
          for (int t = 0; t <= 6; ++t)   // the whole bar counts, not only its top
            pts.emplace_back(xm, Y(h) + (L.plot.bottom - Y(h)) * t / 6.0);
        }
      }
    }
    return pts;
  }

  void legend() const {
    const int n = legend_entries(fig);
    if (n == 0 || fig.legend == LegendPlace::None) return;
    const double s = L.s, margin = 8 * s;
    const PlotLayout& p = L.plot;
    double w, h, font = L.tick_font;
    legend_size(cr, fig, L, font, w, h);
    // A small chart: shrink the legend's text (to 65 % at most) until the box fits the plot.
    const double avail = p.right - p.left - 2 * margin;
    for (int i = 0; i < 3 && !L.legend_outside && w > avail && avail > 0 && font > 0.65 * L.tick_font; ++i) {
      font = std::max(0.65 * L.tick_font, font * avail / w);  // the swatches do not shrink
      legend_size(cr, fig, L, font, w, h);
    }
    double lx, ly;
    if (L.legend_outside) {
      lx = p.right + 12 * s + (L.colorbar ? 16 * s + L.cbar_width + 60 * s : 0.0);
      ly = p.top;
    } else {
      struct Corner { LegendPlace place; double x, y; };
      const Corner corners[] = {
          {LegendPlace::TopRight, p.right - margin - w, p.top + margin},
          {LegendPlace::TopLeft, p.left + margin, p.top + margin},
          {LegendPlace::BottomRight, p.right - margin - w, p.bottom - margin - h},
          {LegendPlace::BottomLeft, p.left + margin, p.bottom - margin - h}};
      const Corner* best = &corners[0];
      if (fig.legend == LegendPlace::Auto) {
        const auto pts = data_pixels();
        // Score: data under the box, plus a little for data close to it (prefer free space).
        double best_score = std::numeric_limits<double>::infinity();
        for (const Corner& c : corners) {
          auto inside = [&](double x, double y, double pad) {
            return x >= c.x - pad && x <= c.x + w + pad && y >= c.y - pad && y <= c.y + h + pad;
          };
          double score = 0.0;
          for (const auto& [x, y] : pts) score += inside(x, y, 4 * s) ? 1.0 : inside(x, y, 16 * s) ? 0.1 : 0.0;
          if (score < best_score) best_score = score, best = &c;
        }
      } else {
        for (const Corner& c : corners)
          if (c.place == fig.legend) best = &c;
      }
      lx = best->x, ly = best->y;
    }
    // Box.
    set_color(cr, 0xFFFFFF, 0.88);
    cairo_rectangle(cr, snap(lx), snap(ly), std::round(w), std::round(h));
    cairo_fill_preserve(cr);
    cairo_set_line_width(cr, 1.0 * s);
    set_color(cr, 0xCCCCCC);
    cairo_stroke(cr);
    // Entries: a sample of the series' look, then the label.
    set_font(cr, font * s);
    const double row = font * 1.45 * s;
    double y = ly + 4 * s + 0.5 * row;
    int palette = 0;
    for (const Series& ser : fig.series) {
      const bool uses_palette = !is_colormapped(ser) && ser.kind != SeriesKind::VLine &&
                                ser.kind != SeriesKind::HLine;
      const Color c = color_of(ser, palette);
      palette += uses_palette && !ser.color;
      if (ser.label.empty()) continue;
      const double x0 = lx + 8 * s, x1 = x0 + 24 * s, xm = 0.5 * (x0 + x1);
      switch (ser.kind) {
        case SeriesKind::Line:
        case SeriesKind::VLine:
        case SeriesKind::HLine:
          if (ser.kind == SeriesKind::Line && !ser.err.empty() &&
              ser.error_style == ErrorStyle::Band) {
            set_color(cr, Color{c.r, c.g, c.b, c.a * 0.2});
            cairo_rectangle(cr, x0, y - 0.3 * row, x1 - x0, 0.6 * row);
            cairo_fill(cr);
          }
          cairo_move_to(cr, x0, y);
          cairo_line_to(cr, x1, y);
          cairo_set_line_width(cr, ser.line_width * s);
          set_dash(ser.dash, ser.line_width);
          set_color(cr, c);
          cairo_stroke(cr);
          set_dash(Dash::Solid, 1.0);
          if (ser.markers) {
            cairo_arc(cr, xm, y, (1.2 * ser.line_width + 1.0) * s, 0, 2 * kPi);
            cairo_fill(cr);
          }
          break;
        case SeriesKind::Scatter: {
          const Color mc = ser.values.empty() ? c : colormap_color(ser.colormap, 0.6);
          set_color(cr, mc);
          cairo_arc(cr, xm, y, std::max(ser.marker_radius, 2.5) * s, 0, 2 * kPi);
          cairo_fill(cr);
          break;
        }
        case SeriesKind::Histogram:
          cairo_rectangle(cr, x0 + 3 * s, y - 0.3 * row, x1 - x0 - 6 * s, 0.6 * row);
          set_color(cr, Color{c.r, c.g, c.b, c.a * ser.alpha});
          cairo_fill_preserve(cr);
          cairo_set_line_width(cr, 0.8 * s);
          set_color(cr, c);
          cairo_stroke(cr);
          break;
        case SeriesKind::Heatmap:
          cairo_rectangle(cr, x0 + 3 * s, y - 0.3 * row, x1 - x0 - 6 * s, 0.6 * row);
          set_color(cr, colormap_color(ser.colormap, 0.6));
          cairo_fill(cr);
          break;
      }
      set_color(cr, kInk);
      draw_text(cr, ser.label, x1 + 6 * s, y, 0.0);
      y += row;
    }
    const bool swatches = n > int(fig.notes.size());
    set_color(cr, kInk);
    for (const std::string& note : fig.notes) {
      draw_text(cr, note, lx + 8 * s + (swatches ? (24 + 6) * s : 0.0), y, 0.0);
      y += row;
    }
  }

  void draw(int width, int height) {
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_rectangle(cr, 0, 0, width, height);
    cairo_fill(cr);
    grid();
    cairo_save(cr);
    clip_to_plot();
    std::vector<Color> colors;
    int palette = 0;
    for (const Series& s : fig.series) {
      const bool uses_palette = !is_colormapped(s) && s.kind != SeriesKind::VLine &&
                                s.kind != SeriesKind::HLine;
      colors.push_back(color_of(s, palette));
      palette += uses_palette && !s.color;
    }
    // Backgrounds first: heatmaps, then every error band — a translucent band drawn over
    // another series' line would tint it, so overlaid curves keep their true colours.
    // Then the rest in the order given.
    for (const Series& s : fig.series)
      if (s.kind == SeriesKind::Heatmap) heatmap(s);
    for (size_t i = 0; i < fig.series.size(); ++i) {
      const Series& s = fig.series[i];
      if (s.kind == SeriesKind::Line && !s.err.empty() && s.error_style == ErrorStyle::Band)
        errors(s, colors[i]);
    }
    for (size_t i = 0; i < fig.series.size(); ++i) {
      const Series& s = fig.series[i];
      const Color& c = colors[i];
      switch (s.kind) {
        case SeriesKind::Line: line(s, c); break;
        case SeriesKind::Scatter: scatter(s, c); break;
        case SeriesKind::Histogram: histogram(s, c); break;
        case SeriesKind::VLine:
        case SeriesKind::HLine: marker(s, c); break;
        case SeriesKind::Heatmap: break;
      }
    }
    cairo_restore(cr);
    frame_and_ticks();
    colorbar();
    legend();
  }
};

void configure_text(cairo_t* cr) {
  // Unhinted metrics: the same layout on screen and in vector files.
  cairo_font_options_t* fo = cairo_font_options_create();
  cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
  cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_SLIGHT);
  cairo_font_options_set_antialias(fo, CAIRO_ANTIALIAS_GRAY);
  cairo_set_font_options(cr, fo);
  cairo_font_options_destroy(fo);
}

void check_size(int width, int height, double scale) {
  if (width < 16 || height < 16 || width > 16384 || height > 16384)
    throw Error("figure size " + std::to_string(width) + "x" + std::to_string(height) +
                " is outside 16..16384");
  if (!(scale > 0.05 && scale < 50)) throw Error("figure scale must be in (0.05, 50)");
}

// Draws the figure on any surface.
void draw_on(cairo_surface_t* surface, const Figure& fig, int width, int height, double scale) {
  cairo_t* cr = cairo_create(surface);
  configure_text(cr);
  const Layout L = compute_layout(cr, fig, width, height, scale);
  Painter{cr, fig, L, Frame{fig.log_y}}.draw(width, height);
  const cairo_status_t st = cairo_status(cr);
  cairo_destroy(cr);
  if (st != CAIRO_STATUS_SUCCESS)
    throw Error(std::string("figure rendering failed: ") + cairo_status_to_string(st));
}

cairo_status_t append_to_string(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

using SurfacePtr = std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)>;

SurfacePtr image_surface(const Figure& fig, int width, int height, double scale) {
  check_size(width, height, scale);
  SurfacePtr surface(cairo_image_surface_create(CAIRO_FORMAT_ARGB32, width, height),
                     &cairo_surface_destroy);
  if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS)
    throw Error("figure: cannot allocate a " + std::to_string(width) + "x" +
                std::to_string(height) + " image");
  draw_on(surface.get(), fig, width, height, scale);
  cairo_surface_flush(surface.get());
  return surface;
}

std::string lower_extension(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  std::string out;
  for (char c : ext) out += char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

PlotLayout figure_layout(const Figure& fig, int width, int height, double scale) {
  check_size(width, height, scale);
  SurfacePtr probe(cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1), &cairo_surface_destroy);
  cairo_t* cr = cairo_create(probe.get());
  configure_text(cr);
  const Layout L = compute_layout(cr, fig, width, height, scale);
  cairo_destroy(cr);
  return L.plot;
}

std::vector<uint8_t> render_rgba(const Figure& fig, int width, int height, double scale) {
  SurfacePtr surface = image_surface(fig, width, height, scale);
  const unsigned char* data = cairo_image_surface_get_data(surface.get());
  const int stride = cairo_image_surface_get_stride(surface.get());
  std::vector<uint8_t> out(size_t(width) * size_t(height) * 4);
  for (int r = 0; r < height; ++r) {
    const auto* row = reinterpret_cast<const uint32_t*>(data + size_t(r) * size_t(stride));
    uint8_t* dst = out.data() + size_t(r) * size_t(width) * 4;
    for (int c = 0; c < width; ++c) {
      // Cairo stores premultiplied ARGB in a native-endian 32-bit word.
      const uint32_t px = row[c];
      const uint32_t a = px >> 24;
      auto un = [a](uint32_t v) { return uint8_t(a ? std::min<uint32_t>(255, (v * 255 + a / 2) / a) : 0); };
      dst[4 * c + 0] = un((px >> 16) & 0xff);
      dst[4 * c + 1] = un((px >> 8) & 0xff);
      dst[4 * c + 2] = un(px & 0xff);
      dst[4 * c + 3] = uint8_t(a);
    }
  }
  return out;
}

std::string render_figure(const Figure& fig, FigureFormat format, int width, int height,
                          double scale) {
  std::string bytes;
  if (format == FigureFormat::Png) {
    SurfacePtr surface = image_surface(fig, width, height, scale);
    if (cairo_surface_write_to_png_stream(surface.get(), append_to_string, &bytes) !=
        CAIRO_STATUS_SUCCESS)
      throw Error("figure: PNG encoding failed");
    return bytes;
  }
  check_size(width, height, scale);
  SurfacePtr surface(format == FigureFormat::Svg
                         ? cairo_svg_surface_create_for_stream(append_to_string, &bytes, width,
                                                               height)
                         : cairo_pdf_surface_create_for_stream(append_to_string, &bytes, width,
                                                               height),
                     &cairo_surface_destroy);
  if (format == FigureFormat::Svg) {
    cairo_svg_surface_set_document_unit(surface.get(), CAIRO_SVG_UNIT_PX);
  } else {
    cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_CREATOR, "diffpath");
    if (!fig.title.empty())
      cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_TITLE, fig.title.c_str());
  }
  draw_on(surface.get(), fig, width, height, scale);
  cairo_surface_finish(surface.get());
  if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS)
    throw Error(std::string("figure: ") + cairo_status_to_string(cairo_surface_status(surface.get())));
  return bytes;
}

FigureFormat figure_format_for_path(const std::string& path) {
  const std::string ext = lower_extension(path);
  if (ext == ".png") return FigureFormat::Png;
  if (ext == ".svg") return FigureFormat::Svg;
  if (ext == ".pdf") return FigureFormat::Pdf;
  throw Error("cannot save a figure as '" + path + "': use a .png, .svg or .pdf file name");
}

void save_figure(const Figure& fig, const std::string& path, int width, int height,
                 double scale) {
  const FigureFormat format = figure_format_for_path(path);
  const std::string bytes = render_figure(fig, format, width, height, scale);
  write_file_atomic(path, bytes);
}

}  // namespace diffpath
