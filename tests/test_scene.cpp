// The viewport's scene (core scene.hpp), drawn by Cairo: pixels against the colours the scene
// defines, blended over the background by hand — the background, a particle, trails coloured
// by time and by action, only the travelled part of a trail ending at its particle; the
// camera fit; the legend; the same scene as SVG.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "diffpath/scene.hpp"

using namespace diffpath;

namespace {

constexpr int kSize = 64;

// 64 × 64 pixels, 16 pixels per unit, the world origin at the centre of pixel (32, 32).
SceneCamera test_camera() {
  SceneCamera c;
  c.width = c.height = kSize;
  c.half_height = 2.0;
  c.cx = -0.5 / 16;
  c.cy = 0.5 / 16;
  return c;
}

int column_of(double x) { return int(std::floor(32.5 + x * 16)); }

std::array<int, 3> pixel(const std::vector<uint8_t>& rgba, int x, int y) {
  const size_t i = (size_t(y) * kSize + size_t(x)) * 4;
  return {rgba[i], rgba[i + 1], rgba[i + 2]};
}

// `c` with opacity a over the background, in 0..255.
std::array<int, 3> over_background(double r, double g, double b, double a) {
  auto mix = [a](double fg, float bg) { return int(std::lround(255 * (a * fg + (1 - a) * bg))); };
  return {mix(r, kSceneBackground[0]), mix(g, kSceneBackground[1]), mix(b, kSceneBackground[2])};
}

void check_near(const std::array<int, 3>& got, const std::array<int, 3>& want, int tol = 2) {
  INFO("got " << got[0] << " " << got[1] << " " << got[2] << ", want " << want[0] << " " << want[1] << " " << want[2]);
  for (int c = 0; c < 3; ++c) CHECK(std::abs(got[c] - want[c]) <= tol);
}

// One particle's path along y = 0 from x = −1.5 (t = 1) to x = 1.5 (t = 0), 9 frames: each
// of the 8 trail pieces is one segment of 6 pixels.
SampleResult straight_path() {
  SampleResult r;
  for (int f = 0; f <= 8; ++f) {
    Points p(2, 1);
    p << -1.5 + 3.0 * f / 8, 0.0;
    r.frames.push_back(p);
    r.frame_times.push_back(1.0 - f / 8.0);
  }
  r.samples = r.frames.back();
  return r;
}

Scene trail_scene(const SampleResult& r) {
  Scene s;
  s.paths = &r;
  s.t = 0, s.t_min = 0, s.t_max = 1;
  s.camera = test_camera();
  s.style.trail_every = 1;
  s.style.trail_alpha = 1.0f;
  return s;
}

}  // namespace

TEST_CASE("an empty scene is the background; a particle is its colour over it") {
  Scene s;
  s.camera = test_camera();
  const std::vector<uint8_t> empty = render_scene_rgba(s);
  REQUIRE(empty.size() == size_t(kSize) * kSize * 4);
  check_near(pixel(empty, 0, 0), over_background(0, 0, 0, 0), 1);
  check_near(pixel(empty, 40, 17), over_background(0, 0, 0, 0), 1);
  CHECK(empty[3] == 255);

  Points p(2, 1);
  p << 0.0, 0.0;
  s.particles = &p;
  const std::vector<uint8_t> one = render_scene_rgba(s);
  const auto& c = kSceneParticle;
  check_near(pixel(one, 32, 32), over_background(c[0], c[1], c[2], c[3]));
  check_near(pixel(one, 36, 32), over_background(0, 0, 0, 0), 1);  // 3.5 px wide: not 4 px off
  s.style.particles = false;
  CHECK(render_scene_rgba(s) == empty);
}

TEST_CASE("trails: coloured by time along the path, or by the particle's action") {
  SampleResult r = straight_path();
  Scene s = trail_scene(r);
  const std::vector<uint8_t> img = render_scene_rgba(s);
  for (int b : {0, 3, 7}) {
    CAPTURE(b);
    // The middle of piece b; its colour is that of its mid time, progress (b + ½)/8.
    const int x = column_of(-1.5 + 0.375 * (b + 0.5));
    const Color c = trail_color(TrailColor::Time, (b + 0.5) / 8, 0.5, 1.0);
    CHECK(c.a == doctest::Approx(kTrailFade + (1 - kTrailFade) * (b + 0.5) / 8));
    check_near(pixel(img, x, 32), over_background(c.r, c.g, c.b, c.a));
    check_near(pixel(img, x, 30), over_background(0, 0, 0, 0), 1);  // a 1-pixel line
  }
  r.action = Vec::Constant(1, 4.0);
  s.action_lo = 1.0, s.action_hi = 5.0;  // u = 0.75
  s.style.trail_color = TrailColor::Action;
  const std::vector<uint8_t> by_action = render_scene_rgba(s);
  const Color c = trail_color(TrailColor::Action, 7.5 / 8, 0.75, 1.0);
  const Color want = colormap_color(Colormap::Diverging, 0.75);
  CHECK(c.r == doctest::Approx(want.r));
  check_near(pixel(by_action, column_of(1.3), 32), over_background(c.r, c.g, c.b, c.a));
}

TEST_CASE("a diverged path point (NaN, 1e300) breaks its trail there; the rest is drawn") {
  SampleResult r = straight_path();
  r.frames[2](0, 0) = NAN;
  r.frames[5](1, 0) = 1e300;
  const Scene s = trail_scene(r);
  std::vector<uint8_t> img;
  REQUIRE_NOTHROW(img = render_scene_rgba(s));
  const Color c = trail_color(TrailColor::Time, 7.5 / 8, 0.5, 1.0);
  check_near(pixel(img, column_of(1.3), 32), over_background(c.r, c.g, c.b, c.a));
  int stray = 0;  // nothing off the trail's row: no line towards a non-point
  for (int y = 0; y < kSize; ++y)
    for (int x = 0; x < kSize; ++x) stray += (y < 31 || y > 33) && pixel(img, x, y) != pixel(img, 0, 0);
  CHECK(stray == 0);
  CHECK_NOTHROW(render_scene_svg(s));
}

TEST_CASE("a trail shows the part travelled by t and ends at its particle") {
  SampleResult r = straight_path();
  Scene s = trail_scene(r);
  s.t = 0.5;  // frame 4 (x = 0) is the last one travelled
  const std::vector<uint8_t> cut = render_scene_rgba(s);
  CHECK(pixel(cut, column_of(-0.2), 32) != pixel(cut, 60, 60));
  check_near(pixel(cut, column_of(0.15), 32), over_background(0, 0, 0, 0), 1);
  // With the particle at x = 0.2 (between frames 4 and 5) the trail runs on to it, as the
  // window's shader cuts the line at t.
  Points p(2, 1);
  p << 0.2, 0.0;
  s.particles = &p;
  s.style.particles = false;
  const std::vector<uint8_t> to_particle = render_scene_rgba(s);
  CHECK(pixel(to_particle, column_of(0.1), 32) != pixel(to_particle, 60, 60));
  check_near(pixel(to_particle, column_of(0.3), 32), over_background(0, 0, 0, 0), 1);
}

TEST_CASE("the camera fit shows the rectangle whole; the legend; sizes; SVG") {
  const SceneCamera wide = fit_camera(-4, 4, -1, 1, 200, 100);
  CHECK(wide.half_height == doctest::Approx(2.0));  // the width decides: 8 units over 200 px
  const SceneCamera tall = fit_camera(-1, 3, -3, 3, 200, 100);
  CHECK(tall.half_height == doctest::Approx(3.0));
  CHECK(tall.cx == doctest::Approx(1.0));
  CHECK(tall.cy == doctest::Approx(0.0));
  // Below a 20-pixel band at the top (the legend): the square fills the 100 pixels under it,
  // y = 1 lands on row 20 and y = −1 on the bottom edge.
  const SceneCamera band = fit_camera(-1, 1, -1, 1, 200, 120, 20);
  const double k = band.height / (2 * band.half_height);
  CHECK(k == doctest::Approx(50.0));
  CHECK(60 - (1 - band.cy) * k == doctest::Approx(20.0));
  CHECK(60 - (-1 - band.cy) * k == doctest::Approx(120.0));
  CHECK(legend_height(240, 2) >= 2 * 13);
  CHECK(legend_height(240, 0) == 0);

  const std::vector<std::string> legend = scene_legend("swissroll · simple · mlp", 0.5, 0.001);
  REQUIRE(legend.size() == 2u);
  CHECK(legend[0] == "swissroll · simple · mlp");
  CHECK(legend[1] == "η = 0.50   t = 0.001");
  Scene s;
  s.camera = fit_camera(-1, 1, -1, 1, 320, 240);
  const std::vector<uint8_t> plain = render_scene_rgba(s);
  s.legend = legend;
  const std::vector<uint8_t> with_legend = render_scene_rgba(s);
  int changed_top_left = 0, changed_elsewhere = 0;
  for (int y = 0; y < 240; ++y)
    for (int x = 0; x < 320; ++x) {
      const size_t i = (size_t(y) * 320 + size_t(x)) * 4;
      const bool differs = plain[i] != with_legend[i] || plain[i + 1] != with_legend[i + 1];
      (x < 220 && y < 50 ? changed_top_left : changed_elsewhere) += differs;
    }
  CHECK(changed_top_left > 500);
  CHECK(changed_elsewhere == 0);
  for (int x = 0; x < 320; ++x) {  // the box ends above legend_height
    const size_t i = (size_t(legend_height(240, 2)) * 320 + size_t(x)) * 4;
    CHECK(plain[i] == with_legend[i]);
  }

  s.camera.width = 8;
  CHECK_THROWS_AS(render_scene_rgba(s), Error);
  s.camera.width = 320;

  Points p = Points::Zero(2, 10);
  for (int i = 0; i < 10; ++i) p(0, i) = 0.1 * i;
  s.particles = &p;
  auto count = [](const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t k = text.find(what); k != std::string::npos; k = text.find(what, k + 1)) ++n;
    return n;
  };
  const std::string svg = render_scene_svg(s);
  CHECK(svg.find("<svg") != std::string::npos);
  CHECK(svg.find("</svg>") != std::string::npos);
  s.style.particles = false;
  CHECK(count(svg, "<path") >= count(render_scene_svg(s), "<path") + 10);  // a disc per particle
}
