// Figures: every series kind renders to PNG, SVG and PDF; pixels land where the data says
// (checked on the RGBA buffer the app uploads, drawn by the same code as the files); errors for
// bad paths, extensions and sizes.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>
#include <string>
#include <unistd.h>
#include <vector>

#include "diffpath/common.hpp"
#include "diffpath/figure.hpp"

using namespace diffpath;
namespace fs = std::filesystem;

namespace {

constexpr int W = 400, H = 300;

struct Rgb {
  int r, g, b;
};

// The pixel containing the point (x, y): pixel (i, j) covers [i, i + 1) × [j, j + 1).
Rgb pixel(const std::vector<uint8_t>& img, double x, double y) {
  const size_t i = (size_t(std::floor(y)) * W + size_t(std::floor(x))) * 4;
  return {img[i], img[i + 1], img[i + 2]};
}

Rgb to_rgb(const Color& c) {
  return {int(std::lround(c.r * 255)), int(std::lround(c.g * 255)), int(std::lround(c.b * 255))};
}

// Colors within `tol` per channel (antialiasing and 8-bit rounding).
bool near(Rgb a, Rgb b, int tol = 6) {
  return std::abs(a.r - b.r) <= tol && std::abs(a.g - b.g) <= tol && std::abs(a.b - b.b) <= tol;
}

bool is_white(Rgb a) { return near(a, {255, 255, 255}, 2); }

Figure unit_figure() {
  Figure f;
  f.title = "test";
  f.xlabel = "x";
  f.ylabel = "y";
  f.xmin = 0, f.xmax = 1, f.ymin = 0, f.ymax = 1;
  f.grid = false;
  f.legend = LegendPlace::None;
  return f;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

fs::path temp_dir() {
  const fs::path dir = fs::temp_directory_path() / ("diffpath_test_figure_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

// One figure with every kind of series.
Figure every_kind() {
  Figure f;
  f.title = "all kinds: η, W₂², c(x₀)";
  f.xlabel = "η";
  f.ylabel = "value";
  f.colorbar_label = "c(x₀)";
  f.series.push_back(Series::heatmap(3, 2, {0, 1, 2, 3, 4, 5}, 0, 1, 0, 1));
  f.series.push_back(Series::line({0, 0.5, 1}, {0.2, 0.5, 0.4}, "line").with_error({0.05, 0.1, 0.05}));
  f.series.push_back(Series::line({0, 0.5, 1}, {0.3, 0.6, 0.5}, "bars")
                         .with_error({0.05, 0.1, 0.05}, ErrorStyle::Bars));
  f.series.push_back(Series::scatter({0.1, 0.2}, {0.8, 0.9}, "scatter"));
  f.series.push_back(Series::scatter_colored({0.3, 0.4}, {0.7, 0.6}, {-1.0, 2.0},
                                             Colormap::Diverging));
  f.series.push_back(Series::histogram({0, 0.25, 0.5}, {0.1, 0.3}, "hist"));
  f.series.push_back(Series::vline(0.7, "η = 0.7"));
  f.series.push_back(Series::hline(0.45, "bound"));
  return f;
}

}  // namespace

TEST_CASE("every series kind renders to PNG, SVG and PDF with the right signatures") {
  const Figure f = every_kind();
  const std::string png = render_figure(f, FigureFormat::Png, W, H);
  REQUIRE(png.size() > 24);
  CHECK(png.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
  // IHDR: big-endian width and height at bytes 16..23.
  auto be32 = [&](size_t at) {
    return (uint32_t(uint8_t(png[at])) << 24) | (uint32_t(uint8_t(png[at + 1])) << 16) |
           (uint32_t(uint8_t(png[at + 2])) << 8) | uint32_t(uint8_t(png[at + 3]));
  };
  CHECK(be32(16) == uint32_t(W));
  CHECK(be32(20) == uint32_t(H));
  const std::string svg = render_figure(f, FigureFormat::Svg, W, H);
  CHECK(svg.find("<svg") != std::string::npos);
  CHECK(svg.find("</svg>") != std::string::npos);
  const std::string pdf = render_figure(f, FigureFormat::Pdf, W, H);
  CHECK(pdf.compare(0, 5, "%PDF-") == 0);
  CHECK(pdf.find("%%EOF") != std::string::npos);

  // The same through save_figure, and nothing but the three files is left behind.
  const fs::path dir = temp_dir();
  for (const char* name : {"all.png", "all.SVG", "all.pdf"}) save_figure(f, (dir / name).string(), W, H);
  CHECK(read_file(dir / "all.png").compare(0, 4, "\x89PNG") == 0);
  CHECK(read_file(dir / "all.SVG").find("<svg") != std::string::npos);
  CHECK(read_file(dir / "all.pdf").compare(0, 4, "%PDF") == 0);
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 3);
  fs::remove_all(dir);
}

TEST_CASE("render_rgba: size, opaque white background, straight RGBA") {
  const std::vector<uint8_t> img = render_rgba(unit_figure(), W, H);
  REQUIRE(img.size() == size_t(W) * H * 4);
  for (size_t i = 3; i < img.size(); i += 4) REQUIRE(img[i] == 255);
  CHECK(is_white(pixel(img, 1, 1)));
  CHECK(is_white(pixel(img, W - 2, H - 2)));
  // Scale 2 doubles the buffer and keeps the picture (same relative layout).
  const PlotLayout a = figure_layout(unit_figure(), W, H), b = figure_layout(unit_figure(), 2 * W, 2 * H, 2.0);
  CHECK(b.left == doctest::Approx(2 * a.left));
  CHECK(b.bottom == doctest::Approx(2 * a.bottom));
  CHECK(render_rgba(unit_figure(), 2 * W, 2 * H, 2.0).size() == size_t(4) * W * H * 4);
}

TEST_CASE("a line from (0,0) to (1,1) crosses the plot diagonally in the first palette color") {
  Figure f = unit_figure();
  f.series.push_back(Series::line({0, 1}, {0, 1}));
  f.series.back().line_width = 3;
  const std::vector<uint8_t> img = render_rgba(f, W, H);
  const PlotLayout L = figure_layout(f, W, H);
  const Rgb blue = to_rgb(palette_color(0));
  for (double t : {0.2, 0.4, 0.5, 0.6, 0.8}) {
    INFO("t = " << t);
    CHECK(near(pixel(img, L.x_to_px(t), L.y_to_px(t)), blue));
    CHECK(is_white(pixel(img, L.x_to_px(t), L.y_to_px(1 - t + (t == 0.5 ? 0.3 : 0.0)))));
  }
}

TEST_CASE("error bands are backgrounds: a later series' band does not tint an earlier line") {
  // Two overlaid models (the NLL(η) chart): line 0 runs inside the wide band of line 1.
  Figure f = unit_figure();
  f.series.push_back(Series::line({0, 1}, {0.5, 0.5}).with_error({0.05, 0.05}));
  f.series.back().line_width = 3;
  f.series.push_back(Series::line({0, 1}, {0.2, 0.2}).with_error({0.45, 0.45}));
  const std::vector<uint8_t> img = render_rgba(f, W, H);
  const PlotLayout L = figure_layout(f, W, H);
  for (double x : {0.2, 0.5, 0.8}) {
    INFO("x = " << x);
    CHECK(near(pixel(img, L.x_to_px(x), L.y_to_px(0.5)), to_rgb(palette_color(0))));
    CHECK(near(pixel(img, L.x_to_px(x), L.y_to_px(0.2)), to_rgb(palette_color(1))));
    // Inside band 1 only: band 1's tint, not white and not line colour.
    const Rgb band = pixel(img, L.x_to_px(x), L.y_to_px(0.0));
    CHECK(!is_white(band));
    CHECK(!near(band, to_rgb(palette_color(1)), 40));
  }
}

TEST_CASE("scatter, histogram, heatmap and marker lines put their colors where the data is") {
  SUBCASE("scatter with colormap values") {
    Figure f = unit_figure();
    Series s = Series::scatter_colored({0.25, 0.75}, {0.5, 0.5}, {0.0, 1.0});
    s.marker_radius = 6;
    f.series.push_back(s);
    const auto img = render_rgba(f, W, H);
    const PlotLayout L = figure_layout(f, W, H);
    CHECK(near(pixel(img, L.x_to_px(0.25), L.y_to_px(0.5)), to_rgb(colormap_color(Colormap::Viridis, 0))));
    CHECK(near(pixel(img, L.x_to_px(0.75), L.y_to_px(0.5)), to_rgb(colormap_color(Colormap::Viridis, 1))));
    CHECK(L.right < W - 40);   // room was made for the colorbar
  }
  SUBCASE("histogram bars are filled with the series color at its opacity over white") {
    Figure f = unit_figure();
    f.series.push_back(Series::histogram({0.0, 0.5, 1.0}, {0.8, 0.3}));
    const auto img = render_rgba(f, W, H);
    const PlotLayout L = figure_layout(f, W, H);
    const Color c = palette_color(0);
    const double a = f.series[0].alpha;
    const Rgb blended = to_rgb({1 - a * (1 - c.r), 1 - a * (1 - c.g), 1 - a * (1 - c.b), 1});
    CHECK(near(pixel(img, L.x_to_px(0.25), L.y_to_px(0.6)), blended));
    CHECK(near(pixel(img, L.x_to_px(0.75), L.y_to_px(0.2)), blended));
    CHECK(is_white(pixel(img, L.x_to_px(0.75), L.y_to_px(0.6))));   // above the second bar
  }
  SUBCASE("heatmap rows start at the bottom") {
    Figure f = unit_figure();
    Series h = Series::heatmap(2, 2, {0, 1, 2, 3}, 0, 1, 0, 1);
    h.smooth = false;
    f.series.push_back(h);
    const auto img = render_rgba(f, W, H);
    const PlotLayout L = figure_layout(f, W, H);
    auto at = [&](double x, double y) { return pixel(img, L.x_to_px(x), L.y_to_px(y)); };
    auto vir = [](double u) { return to_rgb(colormap_color(Colormap::Viridis, u)); };
    CHECK(near(at(0.25, 0.25), vir(0.0)));
    CHECK(near(at(0.75, 0.25), vir(1.0 / 3)));
    CHECK(near(at(0.25, 0.75), vir(2.0 / 3)));
    CHECK(near(at(0.75, 0.75), vir(1.0)));
  }
  SUBCASE("marker lines") {
    Figure f = unit_figure();
    f.series.push_back(Series::vline(0.5).with_dash(Dash::Solid).with_color(Color::rgb(0xD55E00)));
    f.series.push_back(Series::hline(0.25).with_dash(Dash::Solid).with_color(Color::rgb(0x009E73)));
    f.series[0].line_width = f.series[1].line_width = 3;
    const auto img = render_rgba(f, W, H);
    const PlotLayout L = figure_layout(f, W, H);
    for (double y : {0.1, 0.6, 0.9})
      CHECK(near(pixel(img, L.x_to_px(0.5), L.y_to_px(y)), {0xD5, 0x5E, 0x00}));
    for (double x : {0.1, 0.3, 0.9})
      CHECK(near(pixel(img, L.x_to_px(x), L.y_to_px(0.25)), {0x00, 0x9E, 0x73}));
  }
}

TEST_CASE("log y: an exponential is a straight line") {
  Figure f = unit_figure();
  f.ymin = 1, f.ymax = 1000;
  f.log_y = true;
  f.series.push_back(Series::line({0, 0.5, 1}, {1, std::sqrt(1000.0), 1000}));
  f.series.back().line_width = 3;
  const auto img = render_rgba(f, W, H);
  const PlotLayout L = figure_layout(f, W, H);
  CHECK(L.y_to_px(std::sqrt(1000.0)) == doctest::Approx(0.5 * (L.top + L.bottom)));
  CHECK(L.px_to_y(L.y_to_px(42.0)) == doctest::Approx(42.0));
  CHECK(near(pixel(img, L.x_to_px(0.25), L.y_to_px(std::pow(10.0, 0.75))), to_rgb(palette_color(0))));
}

TEST_CASE("automatic limits contain the data; aspect_equal gives equal units") {
  Figure f;
  f.series.push_back(Series::scatter({-3, 5}, {10, 12}));
  PlotLayout L = figure_layout(f, W, H);
  CHECK(L.x0 < -3);
  CHECK(L.x1 > 5);
  CHECK(L.y0 < 10);
  CHECK(L.y1 > 12);
  f.aspect_equal = true;
  L = figure_layout(f, W, H);
  const double ux = (L.x1 - L.x0) / (L.right - L.left), uy = (L.y1 - L.y0) / (L.bottom - L.top);
  CHECK(ux == doctest::Approx(uy).epsilon(1e-9));
  CHECK(L.x0 < -3);
  CHECK(L.y1 > 12);
}

TEST_CASE("histogram_of counts and densities; colormap anchors") {
  const std::vector<double> v = {0, 0.1, 0.2, 0.5, 0.9, 1.0, NAN};
  const Series counts = Series::histogram_of(v, 4);
  CHECK(std::accumulate(counts.heights.begin(), counts.heights.end(), 0.0) == 6.0);
  CHECK(counts.edges.front() == 0.0);
  CHECK(counts.edges.back() == 1.0);
  const Series dens = Series::histogram_of(v, 4, true);
  double area = 0;
  for (size_t k = 0; k < dens.heights.size(); ++k) area += dens.heights[k] * (dens.edges[k + 1] - dens.edges[k]);
  CHECK(area == doctest::Approx(1.0));
  CHECK(near(to_rgb(colormap_color(Colormap::Viridis, 0)), {0x44, 0x01, 0x54}, 0));
  CHECK(near(to_rgb(colormap_color(Colormap::Viridis, 1)), {0xFD, 0xE7, 0x25}, 0));
  CHECK(near(to_rgb(colormap_color(Colormap::Diverging, 0.5)), {0xF7, 0xF7, 0xF7}, 0));
  CHECK(near(to_rgb(colormap_color(Colormap::Viridis, 7.0)), {0xFD, 0xE7, 0x25}, 0));   // clamped
}

TEST_CASE("dotted lines are visible: marker lines, lines and legend swatches") {
  // Dots are zero-length dashes; with butt caps they would not draw at all.
  Figure f = unit_figure();
  f.legend = LegendPlace::TopLeft;
  f.series.push_back(Series::vline(0.7, "").with_dash(Dash::Dotted).with_color(Color::rgb(0xFF0000)));
  f.series.push_back(Series::hline(0.3, "").with_dash(Dash::Dotted).with_color(Color::rgb(0x00C000)));
  f.series.push_back(Series::line({0, 1}, {0.6, 0.6}, "dots").with_dash(Dash::Dotted)
                         .with_color(Color::rgb(0x0000FF)));
  const std::vector<uint8_t> img = render_rgba(f, W, H);
  const PlotLayout L = figure_layout(f, W, H);
  int red = 0, green = 0, blue = 0;
  // Antialiased dots of ~1.5 px: count tinted pixels within a pixel of the line.
  for (int y = int(L.top) + 1; y < int(L.bottom) - 1; ++y)
    for (int dx : {-1, 0, 1}) {
      const Rgb p = pixel(img, L.x_to_px(0.7) + dx, y);
      red += p.r - p.g > 40;
    }
  for (int x = int(L.left) + 1; x < int(L.right) - 1; ++x)
    for (int dy : {-1, 0, 1}) {
      const Rgb p = pixel(img, x, L.y_to_px(0.3) + dy), q = pixel(img, x, L.y_to_px(0.6) + dy);
      green += p.g - p.r > 40;
      blue += q.b - q.r > 40;
    }
  CHECK(red > 0.15 * (L.bottom - L.top));
  CHECK(green > 0.15 * (L.right - L.left));
  CHECK(blue > 0.15 * (L.right - L.left));
}

TEST_CASE("legend notes: text lines in the legend box, in files too") {
  Figure f = unit_figure();
  f.legend = LegendPlace::TopLeft;
  f.series.push_back(Series::line({0, 1}, {0, 0.1}, "a line with a long label"));
  const std::vector<uint8_t> plain = render_rgba(f, W, H);
  f.notes = {"KL = 0.12 ± 0.01", "second note"};  // narrower: the box only grows down
  const std::vector<uint8_t> noted = render_rgba(f, W, H);
  // The box grows downwards by two rows of text: pixels change only below the first entry.
  const PlotLayout L = figure_layout(f, W, H);
  int changed_upper = 0, changed_lower = 0;
  for (int y = int(L.top); y < int(L.bottom); ++y)
    for (int x = int(L.left); x < int(L.left + 0.6 * (L.right - L.left)); ++x) {
      const size_t i = (size_t(y) * W + size_t(x)) * 4;
      const bool differs = plain[i] != noted[i] || plain[i + 1] != noted[i + 1];
      (y < L.top + 26 ? changed_upper : changed_lower) += differs;
    }
  CHECK(changed_upper < 30);   // the first entry (and the box's top) stay where they were
  CHECK(changed_lower > 200);  // two lines of text
  CHECK(render_figure(f, FigureFormat::Svg, W, H).find("<svg") != std::string::npos);
  // Notes alone make a legend.
  Figure only = unit_figure();
  only.legend = LegendPlace::TopLeft;
  only.notes = {"just a note"};
  const std::vector<uint8_t> img = render_rgba(only, W, H);
  int ink = 0;
  for (size_t i = 0; i < img.size(); i += 4) ink += img[i] < 128;
  CHECK(ink > 20);
}

TEST_CASE("robust to odd input: empty figure, non-finite values, one point") {
  Figure f;
  CHECK(render_rgba(f, 64, 48).size() == size_t(64) * 48 * 4);
  f.series.push_back(Series::line({0, 1, NAN, 3}, {1, INFINITY, 2, 3}, "gaps"));
  f.series.push_back(Series::line({2}, {2}, "one point"));
  f.series.push_back(Series::scatter({}, {}, "empty"));
  f.series.push_back(Series::histogram({}, {}));
  f.log_y = true;
  CHECK_NOTHROW(render_figure(f, FigureFormat::Svg, W, H));
  CHECK_NOTHROW(render_rgba(f, W, H));
  CHECK_THROWS_AS(Series::heatmap(2, 2, {1, 2, 3}, 0, 1, 0, 1), Error);
}

TEST_CASE("bad extension, unwritable path and bad size are clear errors") {
  const Figure f = unit_figure();
  const fs::path dir = temp_dir();
  CHECK_THROWS_AS(save_figure(f, (dir / "plot.jpg").string()), Error);
  CHECK_THROWS_AS(save_figure(f, (dir / "plot").string()), Error);
  CHECK_THROWS_AS(save_figure(f, (dir / "no_such_dir" / "plot.png").string()), Error);
  CHECK_THROWS_WITH_AS(save_figure(f, "/proc/diffpath_cannot_write.svg"),
                       doctest::Contains("cannot write"), Error);
  CHECK_THROWS_AS(render_rgba(f, 0, 100), Error);
  CHECK_THROWS_AS(render_rgba(f, 100, 100000), Error);
  CHECK(fs::is_empty(dir));   // no temporary file left behind
  // Overwriting an existing file replaces it.
  const fs::path p = dir / "over.svg";
  { std::ofstream(p) << "old"; }
  save_figure(f, p.string(), W, H);
  CHECK(read_file(p).find("<svg") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("colormap_table samples the one colormap definition (for the GUI's shaders)") {
  for (const Colormap map : {Colormap::Viridis, Colormap::Diverging}) {
    const auto table = colormap_table(map, 256);
    REQUIRE(table.size() == 256);
    for (int k : {0, 1, 100, 127, 200, 255}) {
      const Color c = colormap_color(map, k / 255.0);
      CHECK(table[size_t(k)][0] == float(c.r));
      CHECK(table[size_t(k)][1] == float(c.g));
      CHECK(table[size_t(k)][2] == float(c.b));
    }
  }
  // RdBu ends: blue for negative, red for positive, white in the middle of an odd table.
  const auto rdbu = colormap_table(Colormap::Diverging, 3);
  CHECK(rdbu[0][2] > rdbu[0][0]);
  CHECK(rdbu[2][0] > rdbu[2][2]);
  CHECK(rdbu[1][0] == doctest::Approx(0xF7 / 255.0));
  CHECK_THROWS_AS(colormap_table(Colormap::Viridis, 1), Error);
}
