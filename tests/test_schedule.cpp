// Schedules (DESIGN §1.1): the VP identities α' = f α, σ² = 1 − α², g² = −2f, the closed forms
// of the table, simple ≡ linear(0, 20), and spec parsing.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "diffpath/common.hpp"
#include "diffpath/schedule.hpp"

using namespace diffpath;

namespace {

constexpr double kPi = std::numbers::pi;

std::vector<Schedule> paper_and_linear() {
  return {Schedule::simple(), Schedule::cosine(), Schedule::linear(0.1, 20.0)};
}

// 20 times spread over [t_min, t_max], both ends included.
std::vector<double> grid(const Schedule& s) {
  std::vector<double> t;
  for (int i = 0; i < 20; ++i) t.push_back(s.t_min + (s.t_max - s.t_min) * i / 19.0);
  return t;
}

}  // namespace

TEST_CASE("alpha'(t) = f(t) alpha(t) by central finite differences") {
  for (const Schedule& s : paper_and_linear()) {
    INFO(s.spec());
    for (double t : grid(s)) {
      // Sixth-order stencil; h shrinks near the cosine pole at t = 1 so t ± 3h stays inside
      // the smooth range. Truncation ≈ h⁶ α⁽⁷⁾/140 and rounding ≈ 1e-16 α/h stay below
      // 1e-8 of |f α| for these h.
      const double h =
          s.kind == ScheduleKind::Cosine ? 1e-3 * std::min(1.0, (1.0 - t) * 10) : 1e-3;
      const double c[3] = {45.0 / 60, -9.0 / 60, 1.0 / 60};
      double derivative = 0;
      for (int m = 1; m <= 3; ++m) derivative += c[m - 1] * (s.alpha(t + m * h) - s.alpha(t - m * h));
      derivative /= h;
      INFO("t = " << t);
      CHECK(derivative == doctest::Approx(s.f(t) * s.alpha(t)).epsilon(1e-8));
    }
  }
}

TEST_CASE("alpha(t) = exp(integral of f) by Simpson quadrature") {
  for (const Schedule& s : paper_and_linear()) {
    INFO(s.spec());
    for (double t : {0.2, 0.55, 0.9}) {
      const int n = 2000;  // Simpson error ≈ t⁵ f⁽⁴⁾ / (180 n⁴) < 1e-12 here
      double sum = s.f(0.0) + s.f(t);
      for (int i = 1; i < n; ++i) sum += (i % 2 ? 4.0 : 2.0) * s.f(t * i / n);
      CHECK(s.alpha(t) == doctest::Approx(std::exp(sum * t / (3.0 * n))).epsilon(1e-10));
    }
  }
}

TEST_CASE("sigma^2 = 1 - alpha^2, g^2 = -2 f, sigma = sqrt(sigma^2)") {
  for (const Schedule& s : paper_and_linear()) {
    INFO(s.spec());
    for (double t : grid(s)) {
      const double a = s.alpha(t);
      CHECK(std::abs(s.sigma2(t) - (1 - a * a)) <= 4e-16);
      CHECK(s.g2(t) == -2 * s.f(t));
      CHECK(s.g2(t) > 0);
      CHECK(s.sigma(t) == doctest::Approx(std::sqrt(s.sigma2(t))).epsilon(1e-15));
    }
  }
  // No cancellation at tiny t, where 1 − α² would lose every digit.
  const double t = 1e-6;
  CHECK(Schedule::simple().sigma2(t) == doctest::Approx(-std::expm1(-10 * t * t)).epsilon(1e-14));
  CHECK(Schedule::cosine().sigma2(t) == doctest::Approx(std::pow(std::sin(kPi * t / 2), 2)).epsilon(1e-14));
  CHECK(Schedule::linear(0.1, 20).sigma2(t) ==
        doctest::Approx(-std::expm1(-(0.1 * t + 19.9 * t * t / 2))).epsilon(1e-14));
}

TEST_CASE("closed forms of the table and the paper's time ranges") {
  const Schedule simple = Schedule::simple(), cosine = Schedule::cosine();
  const Schedule linear = Schedule::linear(0.1, 20.0);
  for (double t : {0.01, 0.3, 0.77, 0.999}) {
    CHECK(simple.f(t) == doctest::Approx(-10 * t).epsilon(1e-15));
    CHECK(simple.g2(t) == doctest::Approx(20 * t).epsilon(1e-15));
    CHECK(simple.alpha(t) == doctest::Approx(std::exp(-5 * t * t)).epsilon(1e-15));
    CHECK(cosine.f(t) == doctest::Approx(-kPi / 2 * std::tan(kPi * t / 2)).epsilon(1e-14));
    CHECK(cosine.g2(t) == doctest::Approx(kPi * std::tan(kPi * t / 2)).epsilon(1e-14));
    CHECK(cosine.alpha(t) == doctest::Approx(std::cos(kPi * t / 2)).epsilon(1e-14));
    const double beta = 0.1 + t * 19.9;
    CHECK(linear.f(t) == doctest::Approx(-beta / 2).epsilon(1e-15));
    CHECK(linear.alpha(t) == doctest::Approx(std::exp(-(0.1 * t + 19.9 * t * t / 2) / 2)).epsilon(1e-14));
  }
  CHECK(simple.t_min == 0.01);
  CHECK(simple.t_max == 1.0);
  CHECK(cosine.t_min == 0.01);
  CHECK(cosine.t_max == 0.999);
}

TEST_CASE("simple equals linear(0, 20) numerically") {
  const Schedule simple = Schedule::simple(), linear = Schedule::linear(0.0, 20.0, 0.01, 1.0);
  for (double t : grid(simple)) {
    CHECK(simple.f(t) == doctest::Approx(linear.f(t)).epsilon(1e-15));
    CHECK(simple.g2(t) == doctest::Approx(linear.g2(t)).epsilon(1e-15));
    CHECK(simple.alpha(t) == doctest::Approx(linear.alpha(t)).epsilon(1e-15));
    CHECK(simple.sigma2(t) == doctest::Approx(linear.sigma2(t)).epsilon(1e-15));
  }
}

TEST_CASE("parse and spec round trip") {
  CHECK(Schedule::parse("simple") == Schedule::simple());
  CHECK(Schedule::parse("cosine") == Schedule::cosine());
  const Schedule lin = Schedule::parse("linear");
  CHECK(lin.kind == ScheduleKind::Linear);
  CHECK(lin.beta_min == 0.1);
  CHECK(lin.beta_max == 20.0);
  const Schedule custom = Schedule::parse("linear:bmin=0.05,bmax=12.5,tmin=0.002,tmax=0.95");
  CHECK(custom.beta_min == 0.05);
  CHECK(custom.beta_max == 12.5);
  CHECK(custom.t_min == 0.002);
  CHECK(custom.t_max == 0.95);
  CHECK(Schedule::parse("cosine:tmin=0.02").t_min == 0.02);
  for (const Schedule& s : {Schedule::simple(), Schedule::cosine(), Schedule::linear(0.1, 20.0), custom,
                            Schedule::parse("simple:tmax=0.9"), Schedule::parse("cosine:tmin=0.003")}) {
    INFO(s.spec());
    CHECK(Schedule::parse(s.spec()) == s);
  }
  CHECK(Schedule::simple().spec() == "simple");
  CHECK(Schedule::cosine().spec() == "cosine");
}

TEST_CASE("bad schedule specs throw Error") {
  for (const char* bad : {"", "nosuch", "simple:bmin=1", "linear:bmin=-1", "linear:bmin=5,bmax=1",
                          "linear:bmin=abc", "simple:tmin=0", "simple:tmin=0.5,tmax=0.4",
                          "cosine:tmax=1", "cosine:tmax=1.5", "linear:tmin=nan", "simple:oops"}) {
    INFO(bad);
    CHECK_THROWS_AS(Schedule::parse(bad), Error);
  }
  CHECK_THROWS_WITH_AS(Schedule::parse("nosuch"), doctest::Contains("cosine"), Error);
}

TEST_CASE("time_at_sigma2 inverts sigma^2 in closed form") {
  for (const Schedule& s : paper_and_linear()) {
    CAPTURE(s.spec());
    for (double t = s.t_min; t < s.t_max; t += 0.0371) {
      CAPTURE(t);
      CHECK(s.time_at_sigma2(s.sigma2(t)) == doctest::Approx(t).epsilon(1e-12));
    }
    CHECK(s.time_at_sigma2(0.0) == 0.0);
    // Tiny noise levels keep full relative precision (log1p, no cancellation in the root).
    CHECK(s.time_at_sigma2(s.sigma2(1e-6)) == doctest::Approx(1e-6).epsilon(1e-10));
    CHECK_THROWS_AS(s.time_at_sigma2(1.0), Error);
    CHECK_THROWS_AS(s.time_at_sigma2(-1e-3), Error);
    CHECK_THROWS_AS(s.time_at_sigma2(NAN), Error);
  }
  CHECK(Schedule::simple().time_at_sigma2(-std::expm1(-10.0 * 0.25)) ==
        doctest::Approx(0.5).epsilon(1e-14));  // σ² = 1 − exp(−10 t²) at t = 0.5
  CHECK(Schedule::cosine().time_at_sigma2(0.5) == doctest::Approx(0.5).epsilon(1e-14));
  CHECK(Schedule::linear(0.0, 0.0).time_at_sigma2(0.3) == INFINITY);
}
