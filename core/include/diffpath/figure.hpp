#pragma once
// Charts (DESIGN §3): one small value-type description of a figure, rendered by Cairo both to
// a pixel buffer (the desktop app uploads it as an OpenGL texture) and to PNG / SVG / PDF
// files, so what you see is what you export, and export works headless.
//
//   Figure fig;
//   fig.title = "W₂² vs η"; fig.xlabel = "η"; fig.ylabel = "W₂²";
//   fig.series.push_back(Series::line(etas, means, "swiss roll").with_error(ses));
//   fig.series.push_back(Series::vline(0.05, "current η"));
//   save_figure(fig, "w2.svg");
//
// Units: sizes (line widths, marker radii, fonts) are in pixels at scale 1; SVG and PDF use
// the same numbers as points, so a file looks like the screen.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace diffpath {

/// Straight (not premultiplied) RGBA, components in [0, 1].
struct Color {
  double r = 0, g = 0, b = 0, a = 1;
  static Color rgb(uint32_t hex, double alpha = 1.0);   // Color::rgb(0x0072B2)
};

/// The default series colors: Okabe–Ito, distinguishable with the common color-vision
/// deficiencies. Cycles after 8.
Color palette_color(int index);

/// The project's two colormaps, defined here once for figures, the viewport's shaders and its
/// SVG export. The diverging map is ColorBrewer RdBu (not coolwarm): designed for print and the
/// common color-vision deficiencies, with a true white at 0 so "no effect" reads as nothing.
enum class Colormap {
  Viridis,    // sequential, perceptually uniform (matplotlib's)
  Diverging,  // blue – white – red (ColorBrewer RdBu): signed values such as c(x₀), 0 = white
  Magma,      // sequential, black – purple – yellow: the app's log-density overlay
};
/// u in [0, 1] (clamped, non-finite → 0); for Diverging u = 0.5 is the neutral middle.
Color colormap_color(Colormap map, double u);
/// The colormap sampled at n ≥ 2 equally spaced points: row k is colormap_color(map, k/(n−1))
/// as RGB in [0, 1]. For a GPU lookup (a 1D texture with linear filtering) or any other client
/// that needs the same colours as the figures. Throws Error for n < 2.
std::vector<std::array<float, 3>> colormap_table(Colormap map, int n);

enum class SeriesKind { Line, Scatter, Histogram, VLine, HLine, Heatmap };
enum class ErrorStyle { Band, Bars };
enum class Dash { Solid, Dashed, Dotted };

/// One thing drawn in the plot. Build with the named constructors; fields not used by a kind
/// are ignored. Non-finite values are skipped (a line breaks at them).
struct Series {
  SeriesKind kind = SeriesKind::Line;
  std::string label;                  // legend entry; "" = not in the legend
  std::optional<Color> color;         // default: palette_color(index among colored series)

  // Line and Scatter: the points. VLine: x[0]. HLine: y[0].
  std::vector<double> x, y;
  // Line: symmetric error ± err[i] (empty = none), drawn as a band or as error bars.
  std::vector<double> err;
  ErrorStyle error_style = ErrorStyle::Band;
  double line_width = 1.8;
  Dash dash = Dash::Solid;
  bool markers = false;               // Line: also draw a dot at every point

  // Scatter: per-point colormap values (empty = uniform color), marker radius, opacity.
  std::vector<double> values;
  double marker_radius = 2.5;
  double alpha = 1.0;                 // Scatter and Histogram fill opacity

  // Histogram: bin edges (k + 1, increasing) and bin heights (k), in y = counts or density.
  std::vector<double> edges, heights;

  // Heatmap: nx × ny cell values, row-major with row 0 at the BOTTOM (y = extent[2]);
  // extent = {x_min, x_max, y_min, y_max} are the outer cell edges. NaN cells are transparent.
  int nx = 0, ny = 0;
  std::vector<double> grid;
  std::array<double, 4> extent = {0, 1, 0, 1};
  bool smooth = true;                 // bilinear interpolation between cells when drawn

  // Scatter-with-values and Heatmap: colormap and its range (unset = data range; for
  // Diverging the default range is symmetric, ±max|v|).
  Colormap colormap = Colormap::Viridis;
  std::optional<double> vmin, vmax;

  static Series line(std::vector<double> x, std::vector<double> y, std::string label = "");
  static Series scatter(std::vector<double> x, std::vector<double> y, std::string label = "");
  /// Points colored by `values` through `map`.
  static Series scatter_colored(std::vector<double> x, std::vector<double> y,
                                std::vector<double> values, Colormap map = Colormap::Viridis);
  static Series histogram(std::vector<double> edges, std::vector<double> heights,
                          std::string label = "");
  /// Histogram of raw samples with `bins` equal bins over their finite range; density = true
  /// normalizes to unit area.
  static Series histogram_of(const std::vector<double>& samples, int bins, bool density = false,
                             std::string label = "");
  static Series vline(double x, std::string label = "");
  static Series hline(double y, std::string label = "");
  static Series heatmap(int nx, int ny, std::vector<double> grid, double x_min, double x_max,
                        double y_min, double y_max, Colormap map = Colormap::Viridis);

  // Small fluent setters for the common tweaks.
  Series& with_error(std::vector<double> e, ErrorStyle s = ErrorStyle::Band) {
    err = std::move(e); error_style = s; return *this;
  }
  Series& with_color(Color c) { color = c; return *this; }
  Series& with_dash(Dash d) { dash = d; return *this; }
  Series& with_label(std::string l) { label = std::move(l); return *this; }
};

enum class LegendPlace { Auto, TopRight, TopLeft, BottomRight, BottomLeft, Outside, None };

struct Figure {
  std::string title, xlabel, ylabel;
  std::vector<Series> series;
  std::optional<double> xmin, xmax, ymin, ymax;   // fixed limits; unset = auto (padded)
  bool log_y = false;                 // base-10 y axis (non-positive values are skipped)
  bool aspect_equal = false;          // one data unit is as long in x as in y (2D maps)
  bool grid = true;
  LegendPlace legend = LegendPlace::Auto;   // Auto: the corner covering the fewest data
  /// Lines of text in the legend box under the entries: the numbers a chart stands for.
  std::vector<std::string> notes;
  std::string colorbar_label;         // shown when a series uses a colormap
  double font_size = 12.5;            // axis labels; ticks are ~0.88×, the title ~1.1×
};

/// Where the plot area landed and which data limits it shows, in output pixels (origin top
/// left): for mapping the mouse to data coordinates in the app.
struct PlotLayout {
  double left = 0, top = 0, right = 0, bottom = 0;   // plot rectangle in pixels
  double x0 = 0, x1 = 1, y0 = 0, y1 = 1;             // data limits (log_y: of log10 y)
  bool log_y = false;
  double x_to_px(double x) const { return left + (x - x0) / (x1 - x0) * (right - left); }
  double px_to_x(double px) const { return x0 + (px - left) / (right - left) * (x1 - x0); }
  double y_to_px(double y) const;     // takes y itself, also on a log axis
  double px_to_y(double py) const;
};

/// The layout render_rgba(fig, width, height, scale) uses.
PlotLayout figure_layout(const Figure& fig, int width, int height, double scale = 1.0);

/// Renders to width × height pixels: straight (non-premultiplied) RGBA8, row-major, top row
/// first, 4·width bytes per row — ready for glTexImage2D(GL_RGBA, GL_UNSIGNED_BYTE) (with
/// the texture's v flipped or the quad's texcoords swapped). The background is opaque white.
/// `scale` multiplies every size (fonts, lines, margins): 2 for a high-DPI screen.
/// Throws Error if width or height is not in [16, 16384].
std::vector<uint8_t> render_rgba(const Figure& fig, int width, int height, double scale = 1.0);

enum class FigureFormat { Png, Svg, Pdf };

/// The encoded file contents (PNG: width × height pixels; SVG/PDF: width × height points).
std::string render_figure(const Figure& fig, FigureFormat format, int width = 800,
                          int height = 560, double scale = 1.0);

/// Format from the extension (.png, .svg, .pdf; case-insensitive); Error otherwise.
FigureFormat figure_format_for_path(const std::string& path);

/// Writes the figure atomically (a temporary file in the same directory, then rename), so a
/// reader never sees half a file. Throws Error on an unknown extension or if the file cannot
/// be written (naming the path and the reason).
void save_figure(const Figure& fig, const std::string& path, int width = 800, int height = 560,
                 double scale = 1.0);

}  // namespace diffpath
