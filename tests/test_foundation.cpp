// Foundation: spec parsing, parallel_for and ThreadTeam, and the Dormand–Prince integrator against closed forms.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <numeric>
#include <vector>

#include "diffpath/common.hpp"
#include "diffpath/ode.hpp"
#include "diffpath/parallel.hpp"
#include "diffpath/rng.hpp"

using namespace diffpath;

TEST_CASE("format_number: shortest text that round-trips") {
  CHECK(format_number(0.3) == "0.3");
  CHECK(format_number(0.2) == "0.2");
  CHECK(format_number(20) == "20");
  CHECK(format_number(-1e-300) == "-1e-300");
  Rng rng(5);
  for (int i = 0; i < 10000; ++i) {
    const double v = (rng.uniform() - 0.5) * std::pow(10.0, int(rng.uniform() * 40) - 20);
    CHECK(parse_number(format_number(v), "v") == v);
  }
}

TEST_CASE("Spec parses names, key=value arguments and raw paths") {
  const Spec a = Spec::parse("gaussian:m=0.5,v=2,eps=-0.1");
  CHECK(a.name == "gaussian");
  CHECK(a.number("m", 0) == 0.5);
  CHECK(a.number("eps", 0) == -0.1);
  CHECK(a.number("delta", 7) == 7);
  CHECK_NOTHROW(a.expect_keys({"m", "v", "eps", "delta"}));
  CHECK_THROWS_AS(a.expect_keys({"m", "v"}), Error);

  const Spec p = Spec::parse("csv:/tmp/dir,with,commas/points.csv");
  CHECK(p.name == "csv");
  CHECK(p.rest == "/tmp/dir,with,commas/points.csv");
  CHECK(p.args.empty());

  CHECK(Spec::parse("swissroll").rest.empty());
  CHECK_THROWS_AS(Spec::parse("gaussian:m=abc").number("m", 0), Error);
  CHECK_THROWS_AS(Spec::parse("gaussian:m=nan").number("m", 0), Error);
}

TEST_CASE("parallel_for covers every index once and rethrows errors") {
  for (int threads : {1, 2, 7}) {
    std::vector<int> hits(1001, 0);
    parallel_for(1001, threads, [&](int b, int e) {
      for (int i = b; i < e; ++i) ++hits[i];
    });
    CHECK(std::accumulate(hits.begin(), hits.end(), 0) == 1001);
    CHECK(*std::min_element(hits.begin(), hits.end()) == 1);
  }
  CHECK_THROWS_AS(parallel_for(10, 2, [](int b, int) {
                    if (b > 0) throw Error("boom");
                  }),
                  Error);
}

TEST_CASE("ThreadTeam: parallel_for's chunks, many loops in a row, errors, no nesting") {
  for (int threads : {1, 2, 7}) {
    ThreadTeam team(threads);
    CHECK(team.size() == threads);
    std::vector<int> hits(1001, 0);
    for (int loop = 0; loop < 500; ++loop)  // short loops back to back: the team's use case
      team.run(loop % 2 ? 1001 : 3, [&](int b, int e) {
        for (int i = b; i < e; ++i) ++hits[i];
      });
    CHECK(hits[0] == 500);
    CHECK(hits[2] == 500);
    CHECK(hits[3] == 250);
    CHECK(hits[1000] == 250);
    // The same chunks as parallel_for (results that depend on the split stay the same).
    std::vector<std::pair<int, int>> a, b;
    std::mutex m;
    auto record = [&](std::vector<std::pair<int, int>>& v) {
      return [&](int begin, int end) {
        std::lock_guard lock(m);
        v.emplace_back(begin, end);
      };
    };
    team.run(10, record(a));
    parallel_for(10, threads, record(b));
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    CHECK(a == b);
  }
  ThreadTeam team(2);
  CHECK_THROWS_AS(team.run(10, [](int b, int) {
                    if (b > 0) throw Error("boom");
                  }),
                  Error);
  // After an error the team still works, and a run() inside a body runs inline.
  std::atomic<int> inner{0};
  team.run(4, [&](int b, int e) {
    team.run(e - b, [&](int ib, int ie) { inner += ie - ib; });
  });
  CHECK(inner == 4);
}

TEST_CASE("Rng: streams are reproducible and normals have unit variance") {
  Rng a(stream_seed(1, 2)), b(stream_seed(1, 2)), c(stream_seed(1, 3));
  CHECK(a.next() == b.next());
  CHECK(a.next() != c.next());
  Rng r(42);
  double s = 0, s2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double z = r.normal();
    s += z;
    s2 += z * z;
  }
  // Standard errors: mean 1/sqrt(n) ≈ 0.0022, variance sqrt(2/n) ≈ 0.0032; allow 5 SE.
  CHECK(std::abs(s / n) < 0.011);
  CHECK(std::abs(s2 / n - 1) < 0.016);
}

TEST_CASE("Dormand-Prince: exponential decay, both directions, error shrinks with tolerance") {
  const OdeRhs F = [](double, const Vec& y, Vec& dy) { dy = -2.0 * y; };
  double previous_error = INFINITY;
  for (double tol : {1e-4, 1e-6, 1e-8, 1e-10}) {
    Vec y = Vec::Constant(3, 1.0);
    const OdeStats st = integrate_dopri5(F, 0.0, 3.0, y, {tol, tol});
    REQUIRE(st.ok);
    const double err = (y.array() - std::exp(-6.0)).abs().maxCoeff();
    // Global error is a modest multiple of the local tolerance for this contracting problem.
    CHECK(err < 10 * tol);
    CHECK(err < previous_error);
    previous_error = err;
  }
  // Backwards in time: y(0) from y(3).
  Vec y = Vec::Constant(1, std::exp(-6.0));
  REQUIRE(integrate_dopri5(F, 3.0, 0.0, y, {1e-10, 1e-14}).ok);
  CHECK(y(0) == doctest::Approx(1.0).epsilon(1e-8));
}

TEST_CASE("Dormand-Prince: harmonic oscillator over ten periods, time-dependent rhs") {
  const OdeRhs osc = [](double, const Vec& y, Vec& dy) {
    dy(0) = y(1);
    dy(1) = -y(0);
  };
  Vec y(2);
  y << 1, 0;
  const double T = 20 * M_PI;
  const OdeStats st = integrate_dopri5(osc, 0, T, y, {1e-10, 1e-10});
  REQUIRE(st.ok);
  CHECK(std::abs(y(0) - 1) < 1e-7);
  CHECK(std::abs(y(1)) < 1e-7);
  CHECK(st.steps > 50);

  // y' = t² ⇒ y(2) = 8/3, integrated exactly by a 5th-order method in a few steps.
  const OdeRhs poly = [](double t, const Vec&, Vec& dy) { dy(0) = t * t; };
  Vec z = Vec::Zero(1);
  REQUIRE(integrate_dopri5(poly, 0, 2, z, {1e-8, 1e-8}).ok);
  CHECK(z(0) == doctest::Approx(8.0 / 3).epsilon(1e-12));
}

TEST_CASE("Dormand-Prince: blow-up is reported, not crashed; cancel stops") {
  // y' = y², y(0) = 1 blows up at t = 1.
  const OdeRhs blow = [](double, const Vec& y, Vec& dy) { dy = y.array().square(); };
  Vec y = Vec::Ones(1);
  const OdeStats st = integrate_dopri5(blow, 0, 2, y, {1e-6, 1e-6});
  CHECK_FALSE(st.ok);
  CHECK_FALSE(st.error.empty());

  std::atomic<bool> cancel{true};
  Vec w = Vec::Ones(1);
  const OdeStats c = integrate_dopri5([](double, const Vec& v, Vec& d) { d = -v; }, 0, 1, w,
                                      {1e-6, 1e-6}, &cancel);
  CHECK_FALSE(c.ok);
  CHECK(c.error == "cancelled");
}

TEST_CASE("Dormand-Prince: the divergence guard stops a run-away solution early") {
  // y' = 50 y grows like e^{50 t}: |y| passes 1e8 near t = 0.37, long before t = 10 (e^500).
  const OdeRhs grow = [](double, const Vec& y, Vec& dy) { dy = 50.0 * y; };
  Vec y = Vec::Ones(1);
  OdeOptions o{1e-6, 1e-6};
  o.max_abs = 1e8;
  const OdeStats st = integrate_dopri5(grow, 0, 10, y, o);
  CHECK_FALSE(st.ok);
  CHECK(st.error.find("diverging") != std::string::npos);
  CHECK(st.steps < 200);
  CHECK(std::abs(y(0)) < 1e10);  // stopped at the first accepted step past the bound
}
