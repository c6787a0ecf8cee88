// Data sets and CSV I/O: sample moments against analytic values (bounds of 5 standard errors,
// computed from the same samples, so a fixed seed passes for any correct generator with
// probability ≈ 1 − 6e-7 per check), determinism by seed, and every CSV error path.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <sstream>
#include <string>
#include <unistd.h>

#include "diffpath/dataset.hpp"
#include "diffpath/io.hpp"

using namespace diffpath;
namespace fs = std::filesystem;

namespace {

constexpr double kPi = std::numbers::pi;

// A fresh directory per test binary run, removed at exit.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("diffpath_test_dataset_" + std::to_string(::getpid()));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name, const std::string& contents = "") const {
    const std::string p = (path / name).string();
    if (!contents.empty() || name.find("empty") != std::string::npos) std::ofstream(p) << contents;
    return p;
  }
};
const TempDir& tmp() {
  static TempDir dir;
  return dir;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Sample mean of coordinate j is within 5 standard errors of `mean`.
void check_mean(const Points& p, int j, double mean) {
  const Eigen::ArrayXd x = p.row(j).transpose().array();
  const double sd = std::sqrt((x - x.mean()).square().mean());
  INFO("coordinate " << j << ": sample mean " << x.mean() << " vs " << mean);
  CHECK(std::abs(x.mean() - mean) <= 5 * sd / std::sqrt(double(x.size())) + 1e-12);
}

// Sample (co)variance E[(x_i − m_i)(x_j − m_j)] around the known means is within 5 standard
// errors of `cov` (the standard error from the sample variance of the products).
void check_cov(const Points& p, int i, int j, double mean_i, double mean_j, double cov) {
  const Eigen::ArrayXd prod =
      (p.row(i).array() - mean_i).transpose() * (p.row(j).array() - mean_j).transpose();
  const double se = std::sqrt((prod - prod.mean()).square().mean() / double(prod.size()));
  INFO("cov(" << i << "," << j << "): sample " << prod.mean() << " vs " << cov << " (se " << se << ")");
  CHECK(std::abs(prod.mean() - cov) <= 5 * se + 1e-12);
}

// Composite Simpson rule on [0, 1] with 2000 intervals: error ≈ f⁽⁴⁾/(180 · 2000⁴) ≈ 1e-12
// for the swiss-roll integrands (f⁽⁴⁾ ≲ (3π)⁴ · 4.5π · ... ≈ 1e6).
template <class F>
double simpson01(F f) {
  const int n = 2000;
  double sum = f(0.0) + f(1.0);
  for (int i = 1; i < n; ++i) sum += (i % 2 ? 4.0 : 2.0) * f(double(i) / n);
  return sum / (3.0 * n);
}

void check_csv_error(const std::string& path, int line, const std::string& what) {
  INFO(path << " expecting '" << what << "' at line " << line);
  try {
    (void)read_points_csv(path);
    FAIL("no error");
  } catch (const Error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find(path) != std::string::npos);
    CHECK(msg.find("line " + std::to_string(line)) != std::string::npos);
    CHECK(msg.find(what) != std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
  }
}

}  // namespace

TEST_CASE("25gaussians: analytic moments, samples sit on the 25 modes") {
  const double scale = 2.828, noise = 0.05 / scale;
  // Centre coordinates 2i, i ∈ {−2..2}: E[(2i)²] = (16 + 4 + 0 + 4 + 16)/5 = 8.
  const double var = 8.0 / (scale * scale) + noise * noise;
  const GaussianMixture g = *dataset_mixture("25gaussians");
  CHECK(g.size() == 25);
  CHECK(g.weights.sum() == doctest::Approx(1.0).epsilon(1e-15));
  CHECK(g.means.rowwise().mean().norm() <= 1e-15);
  CHECK((g.means.array().square().rowwise().mean() + g.variances(0)).matrix().isApprox(
      Eigen::Vector2d::Constant(var), 1e-14));

  const Points p = make_dataset("25gaussians", 20000, 1).points;
  REQUIRE(p.rows() == 2);
  REQUIRE(p.cols() == 20000);
  for (int j = 0; j < 2; ++j) check_mean(p, j, 0.0);
  check_cov(p, 0, 0, 0, 0, var);
  check_cov(p, 1, 1, 0, 0, var);
  check_cov(p, 0, 1, 0, 0, 0.0);
  // Every point within 6 noise standard deviations of a centre (2i, 2j)/2.828.
  double worst = 0;
  for (Eigen::Index i = 0; i < p.cols(); ++i) {
    const Eigen::Vector2d raw = p.col(i) * scale / 2.0;
    const Eigen::Vector2d centre = raw.array().round().max(-2.0).min(2.0);
    worst = std::max(worst, (p.col(i) - 2.0 * centre / scale).cwiseAbs().maxCoeff());
  }
  CHECK(worst <= 6 * noise);
}

TEST_CASE("8gaussians: analytic moments") {
  const double scale = 1.414, noise = 0.5 / scale;
  // Centres 4(cos kπ/4, sin kπ/4): E[cos²] = E[sin²] = 1/2, E[cos sin] = 0.
  const double var = 16.0 * 0.5 / (scale * scale) + noise * noise;
  const GaussianMixture g = *dataset_mixture("8gaussians");
  CHECK(g.size() == 8);
  CHECK(g.means.col(2).isApprox(Eigen::Vector2d(0, 4 / scale), 1e-15));
  const Points p = make_dataset("8gaussians", 20000, 2).points;
  for (int j = 0; j < 2; ++j) check_mean(p, j, 0.0);
  check_cov(p, 0, 0, 0, 0, var);
  check_cov(p, 1, 1, 0, 0, var);
  check_cov(p, 0, 1, 0, 0, 0.0);
}

TEST_CASE("gaussian:d=3 and gaussian1d: moments and mixtures") {
  const Points p = make_dataset("gaussian:d=3,m=0.5,v=2", 20000, 3).points;
  REQUIRE(p.rows() == 3);
  for (int j = 0; j < 3; ++j) {
    check_mean(p, j, 0.5);
    check_cov(p, j, j, 0.5, 0.5, 2.0);
  }
  check_cov(p, 0, 2, 0.5, 0.5, 0.0);
  const GaussianMixture g = *dataset_mixture("gaussian:d=3,m=0.5,v=2");
  CHECK(g.dim() == 3);
  CHECK(g.size() == 1);
  CHECK(g.means.isApprox(Eigen::Vector3d::Constant(0.5)));
  CHECK(g.variances(0) == 2.0);

  const Points q = make_dataset("gaussian1d:m=-1,v=0.25", 20000, 4).points;
  REQUIRE(q.rows() == 1);
  check_mean(q, 0, -1.0);
  check_cov(q, 0, 0, -1, -1, 0.25);
  CHECK(dataset_dim("gaussian1d") == 1);
  CHECK(dataset_dim("gaussian:d=5") == 5);
  CHECK(dataset_dim("gaussian") == 2);
}

TEST_CASE("swissroll: mean and variance against a numeric integral over u") {
  // x = (τ cos τ + 0.5 z₁)/6.865, y = (τ sin τ + 0.5 z₂)/6.865, τ = 1.5π(1 + 2u).
  const double s = 6.865;
  auto tau = [](double u) { return 1.5 * kPi * (1 + 2 * u); };
  const double mx = simpson01([&](double u) { return tau(u) * std::cos(tau(u)); }) / s;
  const double my = simpson01([&](double u) { return tau(u) * std::sin(tau(u)); }) / s;
  const double exx = (simpson01([&](double u) { return std::pow(tau(u) * std::cos(tau(u)), 2); }) + 0.25) / (s * s);
  const double eyy = (simpson01([&](double u) { return std::pow(tau(u) * std::sin(tau(u)), 2); }) + 0.25) / (s * s);
  const double exy = simpson01([&](double u) { return tau(u) * tau(u) * std::cos(tau(u)) * std::sin(tau(u)); }) / (s * s);
  // Closed form of the first: ∫ τ cos τ dτ/(3π) over [1.5π, 4.5π] = 2.
  CHECK(mx == doctest::Approx(2.0 / s).epsilon(1e-10));

  const Points p = make_dataset("swissroll", 20000, 5).points;
  check_mean(p, 0, mx);
  check_mean(p, 1, my);
  check_cov(p, 0, 0, mx, mx, exx - mx * mx);
  check_cov(p, 1, 1, my, my, eyy - my * my);
  check_cov(p, 0, 1, mx, my, exy - mx * my);
}

TEST_CASE("moons, rings, checkerboard: documented moments and supports") {
  // moons (constants documented in dataset.cpp): raw var x = 0.76, var y = 0.5725 − 1/π,
  // divided by s² = (var x + var y)/2 so the average variance is 1.
  const double vx = 0.76, vy = 0.5725 - 1 / kPi, s2 = 0.5 * (vx + vy);
  const Points moons = make_dataset("moons", 20000, 6).points;
  check_mean(moons, 0, 0.0);
  check_mean(moons, 1, 0.0);
  check_cov(moons, 0, 0, 0, 0, vx / s2);
  check_cov(moons, 1, 1, 0, 0, vy / s2);

  // rings: radius uniform on {3, 2.25, 1.5, 0.75}, uniform angle, noise 0.08:
  // E[x²] = E[r²]/2 + 0.08², E[r²] = (9 + 5.0625 + 2.25 + 0.5625)/4.
  const Points rings = make_dataset("rings", 20000, 7).points;
  const double ring_var = 16.875 / 8 + 0.0064;
  check_mean(rings, 0, 0.0);
  check_cov(rings, 0, 0, 0, 0, ring_var);
  check_cov(rings, 1, 1, 0, 0, ring_var);
  check_cov(rings, 0, 1, 0, 0, 0.0);
  const Eigen::ArrayXd radius = rings.colwise().norm().transpose();
  const Eigen::ArrayXd off = (radius / 0.75 - (radius / 0.75).round()).abs() * 0.75;
  CHECK(off.maxCoeff() <= 6 * 0.08 * 1.5);  // radial noise stays within a few sd of a ring

  // checkerboard: inside [−4, 4]², only squares with even (column + row) of the 2×2-sized
  // board, x uniform (var 16/3), y mean 0.
  const Points board = make_dataset("checkerboard", 20000, 8).points;
  CHECK(board.cwiseAbs().maxCoeff() <= 4.0);
  int odd = 0;
  for (Eigen::Index i = 0; i < board.cols(); ++i)
    odd += (int(std::floor(board(0, i) / 2) + std::floor(board(1, i) / 2)) % 2) != 0;
  CHECK(odd == 0);
  check_mean(board, 0, 0.0);
  check_mean(board, 1, 0.0);
  check_cov(board, 0, 0, 0, 0, 16.0 / 3);
}

TEST_CASE("data sets are deterministic for a seed, differ across seeds, and prefixes agree") {
  for (const std::string& name : dataset_names()) {
    INFO(name);
    const Dataset a = make_dataset(name, 100, 42), b = make_dataset(name, 100, 42);
    const Dataset c = make_dataset(name, 100, 43), prefix = make_dataset(name, 10, 42);
    CHECK(a.spec == name);
    CHECK(a.dim() == dataset_dim(name));
    CHECK(a.size() == 100);
    CHECK(a.points.allFinite());
    CHECK(a.points == b.points);
    CHECK((a.points - c.points).cwiseAbs().maxCoeff() > 0.01);
    CHECK(prefix.points == a.points.leftCols(10));
  }
  CHECK_FALSE(dataset_mixture("swissroll").has_value());
  CHECK(dataset_names().size() == 8);
}

TEST_CASE("GaussianMixture: sample moments, diffused, empirical") {
  GaussianMixture g;
  g.weights = Eigen::Vector3d(0.2, 0.5, 0.3);
  g.means.resize(2, 3);
  g.means << -1.0, 0.5, 2.0,  //
      0.0, 1.0, -1.0;
  g.variances = Eigen::Vector3d(0.1, 0.4, 0.0);  // includes a point mass
  // Mean Σ w μ; covariance Σ w (μ μᵀ + v I) − mean meanᵀ.
  const Eigen::Vector2d mean = g.means * g.weights;
  Eigen::Matrix2d cov = -mean * mean.transpose();
  for (int k = 0; k < 3; ++k)
    cov += g.weights(k) * (g.means.col(k) * g.means.col(k).transpose() +
                           g.variances(k) * Eigen::Matrix2d::Identity());
  const Points p = g.sample(30000, 9);
  for (int i = 0; i < 2; ++i) {
    check_mean(p, i, mean(i));
    for (int j = 0; j < 2; ++j) check_cov(p, i, j, mean(i), mean(j), cov(i, j));
  }
  // The point mass at (2, −1) carries weight 0.3 exactly.
  const double at_mass = double(((p.colwise() - Eigen::Vector2d(2, -1)).colwise().norm().array() == 0).count());
  CHECK(std::abs(at_mass / 30000 - 0.3) <= 5 * std::sqrt(0.3 * 0.7 / 30000));
  CHECK(g.sample(50, 1) == g.sample(50, 1));

  const GaussianMixture d = g.diffused(0.6, 0.64);
  CHECK(d.means.isApprox(0.6 * g.means));
  CHECK(d.variances.isApprox(Eigen::Vector3d(0.036 + 0.64, 0.144 + 0.64, 0.64)));
  CHECK(d.weights == g.weights);

  const GaussianMixture e = GaussianMixture::empirical(g.means);
  CHECK(e.size() == 3);
  CHECK(e.weights.isApprox(Eigen::Vector3d::Constant(1.0 / 3)));
  CHECK(e.variances.isZero());
  CHECK_THROWS_AS(GaussianMixture::empirical(Points(2, 0)), Error);
}

TEST_CASE("data set spec errors") {
  CHECK_THROWS_WITH_AS(make_dataset("nosuch", 10, 0), doctest::Contains("swissroll"), Error);
  CHECK_THROWS_WITH_AS(make_dataset("nosuch", 10, 0), doctest::Contains("csv:PATH"), Error);
  for (const char* bad : {"swissroll:x=1", "25gaussians:foo", "gaussian1d:v=0", "gaussian1d:d=2",
                          "gaussian:d=0", "gaussian:d=2.5", "gaussian:v=-1", "gaussian:m=abc",
                          "csv:", "nosuch"}) {
    INFO(bad);
    CHECK_THROWS_AS(make_dataset(bad, 10, 0), Error);
  }
  CHECK_THROWS_AS(make_dataset("swissroll", 0, 0), Error);
  CHECK_THROWS_AS(dataset_dim("nosuch"), Error);
}

TEST_CASE("CSV: points round trip bit-exactly, header optional, csv: data sets") {
  const Points two = make_dataset("swissroll", 50, 1).points;
  const std::string p2 = tmp().file("two.csv");
  write_points_csv(p2, two);
  CHECK(slurp(p2).rfind("x,y\n", 0) == 0);
  CHECK(read_points_csv(p2) == two);
  CHECK(!fs::exists(p2 + ".tmp"));
  const Dataset via_spec = make_dataset("csv:" + p2, 7, 99);  // n and seed ignored
  CHECK(via_spec.points == two);
  CHECK(dataset_dim("csv:" + p2) == 2);

  const Points one = make_dataset("gaussian1d", 20, 1).points;
  const std::string p1 = tmp().file("one.csv");
  write_points_csv(p1, one);
  CHECK(slurp(p1).rfind("x\n", 0) == 0);
  CHECK(make_dataset("csv:" + p1, 1, 0).points == one);

  Points three(3, 2);
  three << 1e-300, -0.1, 3.0, 1.0 / 3.0, 5e300, -0.0;
  const std::string p3 = tmp().file("three.csv");
  write_points_csv(p3, three);
  CHECK(slurp(p3).rfind("x1,x2,x3\n", 0) == 0);
  CHECK(read_points_csv(p3) == three);
  CHECK_THROWS_WITH_AS(make_dataset("csv:" + p3, 1, 0), doctest::Contains("columns"), Error);

  // No header, CRLF line ends, spaces, quotes, blank lines, a leading '+'.
  const std::string loose = tmp().file("loose.csv", "1, 2\r\n\n  +3.5 ,\"-4\"\r\n\n");
  Points expected(2, 2);
  expected << 1, 3.5, 2, -4;
  CHECK(read_points_csv(loose) == expected);
  const std::string quoted = tmp().file("quoted.csv", "\"x\",\"y\"\n0.5,1e-3\n");
  CHECK(read_points_csv(quoted) == Eigen::Vector2d(0.5, 1e-3));
}

TEST_CASE("CSV: every malformed file is an error naming the file and the line") {
  check_csv_error(tmp().file("nonnum.csv", "x,y\n1,2\n3,abc\n"), 3, "non-numeric");
  check_csv_error(tmp().file("nan.csv", "x,y\n1,2\n3,4\nnan,1\n"), 4, "non-finite");
  check_csv_error(tmp().file("inf.csv", "1,2\n3,-inf\n"), 2, "non-finite");
  check_csv_error(tmp().file("huge.csv", "1,2\n3,1e999\n"), 2, "out of range");
  check_csv_error(tmp().file("columns.csv", "x,y\n1,2\n3,4\n5,6\n7,8,9\n"), 5, "column");
  check_csv_error(tmp().file("short.csv", "1,2\n3\n"), 2, "column");
  check_csv_error(tmp().file("emptycell.csv", "x,y\n1,\n"), 2, "empty cell");
  check_csv_error(tmp().file("mixedhead.csv", "x,1\n1,2\n"), 1, "non-numeric");
  check_csv_error(tmp().file("empty.csv"), 1, "empty file");
  check_csv_error(tmp().file("headeronly.csv", "x,y\n\n"), 2, "no data rows");

  const std::string missing = (tmp().path / "missing.csv").string();
  CHECK_THROWS_WITH_AS(read_points_csv(missing), doctest::Contains(missing.c_str()), Error);
  CHECK_THROWS_WITH_AS(make_dataset("csv:" + missing, 1, 0), doctest::Contains(missing.c_str()), Error);
}

TEST_CASE("CSV writers: tables, trajectories, failures leave no file") {
  Eigen::MatrixXd rows(2, 3);
  rows << 0.1, 2, 3, 4, 5, 6.5;
  const std::string table = tmp().file("table.csv");
  write_table_csv(table, {"eta", "nll", "se"}, rows);
  CHECK(slurp(table) == "eta,nll,se\n0.10000000000000001,2,3\n4,5,6.5\n");
  CHECK_THROWS_AS(write_table_csv(table, {"a"}, rows), Error);

  std::vector<Points> frames = {Points::Zero(2, 3), Points::Ones(2, 3)};
  frames[1](1, 2) = -2.5;
  const Vec action = Eigen::Vector3d(0.5, 1.5, 2.5);
  const std::string traj = tmp().file("traj.csv");
  write_trajectories_csv(traj, {0, 10}, {1.0, 0.5}, frames, &action);
  const std::string text = slurp(traj);
  CHECK(text.rfind("particle,step,t,x,y,action\n0,0,1,0,0,0.5\n0,10,0.5,1,1,0.5\n", 0) == 0);
  CHECK(text.find("2,10,0.5,1,-2.5,2.5\n") != std::string::npos);
  CHECK(std::count(text.begin(), text.end(), '\n') == 1 + 3 * 2);
  write_trajectories_csv(traj, {0}, {1.0}, {Points::Constant(1, 2, 0.25)});
  CHECK(slurp(traj) == "particle,step,t,x\n0,0,1,0.25\n1,0,1,0.25\n");
  CHECK_THROWS_AS(write_trajectories_csv(traj, {0, 1}, {1.0}, frames), Error);
  const Vec short_action = Eigen::Vector2d(1, 2);
  CHECK_THROWS_AS(write_trajectories_csv(traj, {0, 10}, {1.0, 0.5}, frames, &short_action), Error);

  const std::string bad = (tmp().path / "no_such_dir" / "out.csv").string();
  CHECK_THROWS_WITH_AS(write_points_csv(bad, frames[0]), doctest::Contains(bad.c_str()), Error);
  CHECK_THROWS_WITH_AS(write_table_csv(bad, {"a", "b", "c"}, rows), doctest::Contains(bad.c_str()), Error);
  CHECK_THROWS_WITH_AS(write_trajectories_csv(bad, {0}, {1.0}, {frames[0]}), doctest::Contains(bad.c_str()), Error);
  CHECK(!fs::exists(bad));
  CHECK(!fs::exists(bad + ".tmp"));
}

TEST_CASE("diffpath-cli data writes the data set and fails cleanly on bad input") {
  const std::string out = tmp().file("cli.csv");
  const std::string cli = DIFFPATH_CLI;
  const auto run = [&](const std::string& args) {
    return std::system((cli + " data " + args + " >/dev/null 2>&1").c_str());
  };
  CHECK(run("--data 8gaussians --n 123 --seed 7 --out " + out) == 0);
  CHECK(read_points_csv(out) == make_dataset("8gaussians", 123, 7).points);
  CHECK(run("--data gaussian1d:m=1,v=2 --n 10 --out " + out) == 0);
  CHECK(slurp(out).rfind("x\n", 0) == 0);
  CHECK(run("--data nosuch --out " + out) != 0);
  CHECK(run("--data swissroll --n 0 --out " + out) != 0);
  CHECK(run("--data swissroll --out " + (tmp().path / "nodir" / "x.csv").string()) != 0);
  CHECK(run("--data swissroll") != 0);  // --out is required
}
