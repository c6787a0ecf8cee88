// Training: the hand-written DSM gradient against finite differences, the float training path
// against the double reference, the batch sampler against the closed-form loss of the zero
// network, Adam against a hand computation, a short real training run (loss and W2²), and the
// background trainer's life cycle (pause/resume/stop, snapshots, rollback, reset, max_steps).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "diffpath/checkpoint.hpp"
#include "diffpath/dataset.hpp"
#include "diffpath/io.hpp"
#include "diffpath/rng.hpp"
#include "diffpath/sampler.hpp"
#include "diffpath/trainer.hpp"
#include "diffpath/transport.hpp"

using namespace diffpath;
using namespace std::chrono_literals;

namespace {

/// A fixed batch: x₀ from the data set, t on the training grid (including both ends), z ~ N(0,I).
struct Batch {
  Points x0, z;
  Vec t;
};

Batch make_batch(const std::string& data, const Schedule& schedule, int n, uint64_t seed) {
  Batch b;
  b.x0 = make_dataset(data, n, seed).points;
  Rng rng(stream_seed(seed, 7));
  b.z.resize(b.x0.rows(), n);
  b.t.resize(n);
  for (int j = 0; j < n; ++j) {
    const int k = j == 0 ? 0 : j == 1 ? kTrainTimeGrid - 1 : int(rng.next() % kTrainTimeGrid);
    b.t[j] = train_grid_time(schedule, k);
    for (int i = 0; i < b.z.rows(); ++i) b.z(i, j) = rng.normal();
  }
  return b;
}

double max_abs(const MlpParams& p) {
  double m = 0;
  for (auto& w : p.W) m = std::max(m, w.cwiseAbs().maxCoeff());
  for (auto& v : p.b) m = std::max(m, v.cwiseAbs().maxCoeff());
  return m;
}

/// Largest |a − b| over all weights and biases.
double max_diff(const MlpParams& a, const MlpParams& b) {
  double m = 0;
  for (size_t l = 0; l < a.W.size(); ++l) {
    m = std::max(m, (a.W[l] - b.W[l]).cwiseAbs().maxCoeff());
    m = std::max(m, (a.b[l] - b.b[l]).cwiseAbs().maxCoeff());
  }
  return m;
}

template <class Pred>
bool wait_for(Pred pred, std::chrono::milliseconds timeout = 20s) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

TrainConfig small_config(const std::string& data = "swissroll") {
  TrainConfig c;
  c.data_spec = data;
  c.n_data = 1000;
  c.batch = 128;
  c.hidden = {32, 32};
  c.seed = 5;
  c.threads = 2;
  c.snapshot_every_steps = 50;
  c.snapshot_every_ms = 1000;
  return c;
}

}  // namespace

TEST_CASE("the DSM gradient matches central finite differences of the loss (double)") {
  // Central differences with step h have truncation error h²/6 |∂³L| ≈ 1e-11 and rounding
  // error ε |L| / h ≈ 1e-16 · 1e3 / 1e-5 = 1e-8 (L reaches ~1e3 through the 1/σ² weight
  // at Tmin). A tolerance of 1e-6 · max(1, |∇L|∞) is far above both, and far below any
  // error of the backward pass (which would be of the size of the gradient itself).
  const double h = 1e-5;
  for (Activation act : {Activation::Swish, Activation::Tanh, Activation::Softplus}) {
    for (const char* sched : {"simple", "cosine"}) {
      CAPTURE(activation_name(act));
      CAPTURE(sched);
      const Schedule schedule = Schedule::parse(sched);
      MlpParams p = MlpParams::init(2, {7, 5}, act, 11);
      Rng rng(3);  // non-zero biases, so their gradient is exercised at a generic point
      for (auto& b : p.b)
        for (int i = 0; i < b.size(); ++i) b[i] = 0.3 * rng.normal();
      const Batch batch = make_batch("25gaussians", schedule, 9, 4);
      MlpParams grad;
      const double loss = dsm_loss(p, schedule, batch.x0, batch.t, batch.z, &grad);
      REQUIRE(std::isfinite(loss));
      const double tol = 1e-6 * std::max(1.0, max_abs(grad));
      double worst = 0;
      auto check = [&](double& param, double analytic) {
        const double keep = param;
        param = keep + h;
        const double up = dsm_loss(p, schedule, batch.x0, batch.t, batch.z);
        param = keep - h;
        const double down = dsm_loss(p, schedule, batch.x0, batch.t, batch.z);
        param = keep;
        worst = std::max(worst, std::abs((up - down) / (2 * h) - analytic));
      };
      for (size_t l = 0; l < p.W.size(); ++l) {
        for (int i = 0; i < p.W[l].size(); ++i) check(p.W[l].data()[i], grad.W[l].data()[i]);
        for (int i = 0; i < p.b[l].size(); ++i) check(p.b[l][i], grad.b[l][i]);
      }
      CHECK(worst < tol);
    }
  }
}

TEST_CASE("dsm_loss is the g²-weighted denoising loss (hand evaluation for one sample)") {
  const Schedule schedule = Schedule::simple();
  const MlpParams p = MlpParams::init(2, {6}, Activation::Tanh, 2);
  Points x0(2, 1), z(2, 1);
  x0 << 0.3, -0.7;
  z << 1.1, 0.4;
  Vec t(1);
  t << 0.37;
  // s = W1 tanh(W0 (x_t, t) + b0) + b1 by hand.
  const double a = schedule.alpha(0.37), s = schedule.sigma(0.37);
  Eigen::Vector3d in;
  in << a * x0(0) + s * z(0), a * x0(1) + s * z(1), 0.37;
  const Eigen::VectorXd h = (p.W[0] * in + p.b[0]).array().tanh().matrix();
  const Eigen::Vector2d score = p.W[1] * h + p.b[1];
  const double expected = schedule.g2(0.37) * (score + z.col(0) / s).squaredNorm();
  CHECK(dsm_loss(p, schedule, x0, t, z) == doctest::Approx(expected).epsilon(1e-13));
}

TEST_CASE("the float training path (1 and 2 threads) matches the double reference") {
  // Float has ε = 6e-8; the loss and gradient are sums over a batch of 300 and over layers of
  // width 64, so accumulated relative errors of ~1e-5 are expected; 1e-3 is safe and still
  // catches any real mismatch (wrong sign, missing term, bad block split).
  for (int threads : {1, 2}) {
    CAPTURE(threads);
    TrainConfig c = small_config();
    c.hidden = {64, 64};
    c.threads = threads;
    c.batch = 512;
    DsmTrainer trainer(c);
    const Batch batch = make_batch("swissroll", c.schedule, 300, 9);
    MlpParams gf, gd;
    const double lf = trainer.loss_and_gradient(batch.x0, batch.t, batch.z, &gf);
    const double ld = dsm_loss(trainer.params(), c.schedule, batch.x0, batch.t, batch.z, &gd);
    CHECK(lf == doctest::Approx(ld).epsilon(1e-4));
    CHECK(max_diff(gf, gd) < 1e-3 * max_abs(gd));
  }
}

TEST_CASE("mini-batches sample t on the grid and z ~ N(0, I): zero network, closed form") {
  // With s ≡ 0 the per-sample loss is g²/σ² ‖z‖², so the batch loss has mean
  // d · mean_k g²(t_k)/σ²(t_k) and per-sample variance E[(g²/σ²)²] d(d+2) − mean².
  // Steps run with lr = 1e-30, so the network stays zero to within 1e-28.
  for (bool fresh : {false, true}) {
    CAPTURE(fresh);
    TrainConfig c = small_config("25gaussians");
    c.fresh_samples = fresh;
    c.lr = 1e-30;
    c.batch = 200;
    c.n_data = 700;  // not a multiple of the batch: exercises the short last batch of an epoch
    MlpParams zero = MlpParams::init(2, {8}, Activation::Swish, 1);
    for (auto& w : zero.W) w.setZero();
    DsmTrainer trainer(c, &zero);
    const int d = 2;
    double m1 = 0, m2 = 0;
    for (int k = 0; k < kTrainTimeGrid; ++k) {
      const double t = train_grid_time(c.schedule, k);
      const double r = c.schedule.g2(t) / c.schedule.sigma2(t);
      m1 += r / kTrainTimeGrid;
      m2 += r * r / kTrainTimeGrid;
    }
    const double mean = d * m1, var = m2 * d * (d + 2) - mean * mean;
    double sum = 0, samples = 0;
    for (int s = 0; s < 200; ++s) {
      const double size = fresh || s % 4 != 3 ? 200 : 100;  // 700 = 3 × 200 + 100
      sum += trainer.step() * size;
      samples += size;
    }
    const double se = std::sqrt(var / samples);
    CHECK(std::abs(sum / samples - mean) < 4.5 * se);  // 4.5σ: a false alarm once in 10⁵ runs
    CHECK(trainer.steps_done() == 200);
    CHECK(trainer.epochs_done() == doctest::Approx(fresh ? 200.0 * 200 / 700 : 50.0));
  }
}

TEST_CASE("Adam matches a hand computation on a quadratic") {
  // f(p) = ½ Σ a_i p_i², ∇f = a ⊙ p; 10 steps of PyTorch's Adam evaluated in double by hand.
  // The float implementation agrees to float round-off (relative 1e-5 over 10 steps).
  const Eigen::Vector3d a(1.0, 10.0, 0.01);
  Eigen::Vector3d p(1.0, -2.0, 3.0), m = Eigen::Vector3d::Zero(), v = Eigen::Vector3d::Zero();
  Eigen::VectorXf pf = p.cast<float>();
  AdamState state;
  const AdamOptions opt{0.05, 0.9, 0.999, 1e-8};
  for (int t = 1; t <= 10; ++t) {
    const Eigen::Vector3d g = a.cwiseProduct(p);
    m = 0.9 * m + 0.1 * g;
    v = 0.999 * v + 0.001 * g.cwiseAbs2();
    const Eigen::Vector3d mh = m / (1 - std::pow(0.9, t)), vh = v / (1 - std::pow(0.999, t));
    p -= (0.05 * mh.array() / (vh.array().sqrt() + 1e-8)).matrix();
    const Eigen::VectorXf gf = a.cast<float>().cwiseProduct(pf);
    adam_step(pf, gf, state, opt);
    if (t == 1)  // the first step moves every coordinate by lr against the gradient's sign
      CHECK((pf.cast<double>() - Eigen::Vector3d(0.95, -1.95, 2.95)).cwiseAbs().maxCoeff() <
            1e-6);
  }
  CHECK(state.t == 10);
  for (int i = 0; i < 3; ++i) CHECK(pf[i] == doctest::Approx(p[i]).epsilon(1e-5));
}

TEST_CASE("a short training run lowers the loss and improves W2² of η = 1 samples") {
  // Swiss roll (simple schedule), hidden 64×64×64, 1500 steps of batch 512 at lr 5e-3: about
  // two seconds on 2 threads. W2² on 800 vs 800 points; the noise level (prior samples vs
  // data) is ≈ 0.28, this run reaches ≈ 0.05 (≈ 0.03 after 3000 steps).
  TrainConfig c;
  c.data_spec = "swissroll";
  c.n_data = 3000;
  c.batch = 512;
  c.hidden = {64, 64, 64};
  c.lr = 5e-3;
  c.seed = 1;
  c.threads = 2;
  DsmTrainer trainer(c);
  const Batch val = make_batch("swissroll", c.schedule, 4096, 99);
  const double loss0 = trainer.loss_and_gradient(val.x0, val.t, val.z);
  const MlpParams p0 = trainer.params();
  for (int s = 0; s < 1500; ++s) REQUIRE(std::isfinite(trainer.step()));
  const double loss1 = trainer.loss_and_gradient(val.x0, val.t, val.z);
  MESSAGE("validation loss " << loss0 << " -> " << loss1);
  CHECK(loss1 < 0.5 * loss0);

  SamplerOptions so;
  so.eta = 1.0;
  so.steps = 300;
  so.n = 800;
  so.seed = 3;
  so.record_action = false;
  const Points fresh = make_dataset("swissroll", 800, 1234).points;
  const Mlp untrained(p0), trained(trainer.params());
  const double w2_untrained = w2_squared(sample(untrained, c.schedule, so).samples, fresh);
  const double w2_trained = w2_squared(sample(trained, c.schedule, so).samples, fresh);
  const double w2_noise = w2_squared(prior_samples(2, 800, 3), fresh);
  MESSAGE("W2²: noise " << w2_noise << ", untrained " << w2_untrained << ", trained "
                        << w2_trained);
  CHECK(w2_trained < 0.5 * w2_untrained);
  CHECK(w2_trained < 0.4 * w2_noise);
}

TEST_CASE("bad training configs are clear errors") {
  TrainConfig c = small_config();
  c.batch = 0;
  CHECK_THROWS_AS(DsmTrainer{c}, Error);
  c = small_config();
  c.lr = std::nan("");
  CHECK_THROWS_AS(DsmTrainer{c}, Error);
  c = small_config();
  c.data_spec = "nosuchdata";
  CHECK_THROWS_AS(DsmTrainer{c}, Error);
  c = small_config();
  c.data = Points::Constant(2, 10, 1.0);
  c.data(1, 3) = std::nan("");
  CHECK_THROWS_AS(DsmTrainer{c}, Error);
  c = small_config();
  c.data = Points::Random(2, 10);
  c.fresh_samples = true;
  CHECK_THROWS_AS(DsmTrainer{c}, Error);
  c = small_config();
  c.schedule.t_min = 0.0;  // σ(0) = 0: the loss would divide by zero
  CHECK_THROWS_AS(DsmTrainer{c}, Error);
}

TEST_CASE("user-drawn points train too (data given as Points)") {
  TrainConfig c = small_config();
  c.data_spec = "custom";
  c.data = make_dataset("8gaussians", 300, 2).points;
  DsmTrainer trainer(c);
  CHECK(trainer.data().cols() == 300);
  for (int s = 0; s < 20; ++s) CHECK(std::isfinite(trainer.step()));
  CHECK(trainer.steps_per_epoch() == 3);
}

TEST_CASE("divergence rolls back to the last good state and halves the learning rate") {
  DsmTrainer trainer(small_config());
  for (int s = 0; s < 30; ++s) trainer.step();
  REQUIRE(trainer.mark_good());
  const MlpParams good = trainer.params();
  for (int s = 0; s < 10; ++s) trainer.step();
  trainer.poison_for_testing();
  CHECK(std::isnan(trainer.step()));
  CHECK(trainer.rollbacks() == 1);
  CHECK(trainer.steps_done() == 30);
  CHECK(trainer.lr() == doctest::Approx(0.5e-3));
  CHECK(trainer.last_message() == "diverged at step 41: rolled back to step 30, lr → 0.0005");
  CHECK(max_diff(trainer.params(), good) == 0.0);
  CHECK(std::isfinite(trainer.step()));
  CHECK(trainer.steps_done() == 31);
}

TEST_CASE("loss monitor: batch noise passes, blow-ups and slow climbs do not") {
  LossMonitor m;
  Rng rng(3);
  for (int i = 0; i < 200; ++i) CHECK(m.accept(2.0 * std::exp(0.3 * rng.normal())));
  CHECK(m.level() == doctest::Approx(2.0).epsilon(0.2));
  CHECK(m.accept(6.0));      // 3× the level: noisy, but the run has seen such batches
  LossMonitor spike = m;
  CHECK(!spike.accept(2e3));  // a thousandfold jump is a blow-up, though finite
  // A steady climb of 2 % per step: accepted until the level is ten times its lowest.
  LossMonitor climb = m;
  int accepted = 0;
  for (double loss = 2.0; accepted < 1000 && climb.accept(loss); loss *= 1.02) ++accepted;
  CHECK(accepted > 50);
  CHECK(accepted < 1000);
}

TEST_CASE("a finite blow-up is rolled back; repeated ones stop with the last good model") {
  TrainConfig c = small_config();
  c.lr = 1e10;
  DsmTrainer trainer(c);
  const MlpParams initial = trainer.params();
  std::string error;
  int steps = 0;
  try {
    for (; steps < 100; ++steps) trainer.step();
  } catch (const Error& e) {
    error = e.what();
  }
  CHECK(error.find("training diverged 10 times without getting past step 0") == 0);
  CHECK(trainer.rollbacks() == 10);
  CHECK(trainer.steps_done() == 0);
  CHECK(max_diff(trainer.params(), initial) == 0.0);  // the last good model, to be saved
  CHECK(trainer.lr() == doctest::Approx(1e10 / 1024));
}

TEST_CASE("background trainer: repeated blow-ups fail the trainer, the snapshot stays good") {
  TrainConfig c = small_config();
  c.lr = 1e10;
  BackgroundTrainer bg(c);
  const MlpParams initial = bg.snapshot().model->params();
  bg.start();
  REQUIRE(wait_for([&] { return bg.status_brief().state == TrainerState::Failed; }));
  const TrainerStatus st = bg.status();
  CHECK(st.message.find("failed: training diverged 10 times") == 0);
  CHECK(st.steps == 0);
  CHECK(max_diff(bg.snapshot().model->params(), initial) == 0.0);
  bg.stop();
}

TEST_CASE("background trainer: start, pause, resume, snapshots, stop") {
  BackgroundTrainer bg(small_config());
  CHECK(bg.status().state == TrainerState::Idle);
  const ModelSnapshot first = bg.snapshot();
  REQUIRE(first.model);
  CHECK(first.version == 1);
  bg.start();
  REQUIRE(wait_for([&] { return bg.status_brief().steps >= 200; }));
  CHECK(bg.status_brief().state == TrainerState::Running);

  bg.pause();
  CHECK(bg.status_brief().state == TrainerState::Paused);
  std::this_thread::sleep_for(20ms);  // let an in-flight step land
  const int64_t paused_at = bg.status_brief().steps;
  std::this_thread::sleep_for(50ms);
  CHECK(bg.status_brief().steps == paused_at);

  bg.resume();
  REQUIRE(wait_for([&] { return bg.status_brief().steps_per_second > 0; }));
  uint64_t last_version = bg.snapshot_version();
  int versions_seen = 0;
  REQUIRE(wait_for([&] {
    const ModelSnapshot s = bg.snapshot();
    CHECK(s.version >= last_version);
    if (s.version > last_version) ++versions_seen;
    last_version = s.version;
    return versions_seen >= 3;
  }));
  const TrainerStatus st = bg.status();
  CHECK(st.steps > paused_at);
  CHECK(std::isfinite(st.smoothed_loss));
  CHECK(!st.history.empty());
  for (size_t i = 1; i < st.history.size(); ++i) CHECK(st.history[i].step > st.history[i - 1].step);

  // A reader's model is immutable and evaluates while training goes on.
  const ModelSnapshot s = bg.snapshot();
  CHECK(s.step > 0);
  Points x = Points::Random(2, 64), out;
  s.model->score(x, 0.5, out);
  CHECK(out.allFinite());

  bg.stop();
  const TrainerStatus done = bg.status();
  CHECK(done.state == TrainerState::Stopped);
  CHECK(bg.snapshot().step == done.steps);  // the final state is published on stop
  std::this_thread::sleep_for(20ms);
  CHECK(bg.status_brief().steps == done.steps);
}

TEST_CASE("background trainer: injected NaN is rolled back and training continues") {
  BackgroundTrainer bg(small_config());
  bg.start();
  REQUIRE(wait_for([&] { return bg.status_brief().steps >= 120; }));
  bg.inject_nan_for_testing();
  REQUIRE(wait_for([&] { return bg.status_brief().rollbacks >= 1; }));
  const TrainerStatus st = bg.status();
  CHECK(st.message.find("diverged at step") == 0);
  CHECK(st.message.find("rolled back to step") != std::string::npos);
  CHECK(st.lr == doctest::Approx(0.5e-3));
  REQUIRE(wait_for([&] { return bg.status_brief().steps >= st.steps + 100; }));
  bg.stop();
  const ModelSnapshot s = bg.snapshot();
  CHECK(s.model->params().all_finite());
  CHECK(bg.status().state == TrainerState::Stopped);
}

TEST_CASE("background trainer: reset with a new schedule restarts at step 0") {
  BackgroundTrainer bg(small_config());
  bg.start();
  REQUIRE(wait_for([&] { return bg.status_brief().steps >= 100; }));
  TrainConfig c = small_config("8gaussians");
  c.schedule = Schedule::cosine();
  TrainConfig bad = c;
  bad.batch = -1;
  CHECK_THROWS_AS(bg.reset(bad), Error);          // rejected, the old run goes on
  CHECK(bg.status_brief().generation == 0);
  bg.reset(c);
  const TrainerStatus st = bg.status();
  CHECK(st.generation == 1);
  CHECK(st.steps < 100);  // cleared at once (maybe a first step of the new run already)
  CHECK(bg.snapshot().generation == 1);
  CHECK(bg.config().schedule == Schedule::cosine());
  CHECK(bg.config().data_spec == "8gaussians");
  REQUIRE(wait_for([&] { return bg.status_brief().steps >= 50; }));
  CHECK(bg.status_brief().state == TrainerState::Running);
  bg.stop();
}

TEST_CASE("background trainer: max_steps finishes, calls back, and publishes the final model") {
  TrainConfig c = small_config();
  c.max_steps = 300;
  BackgroundTrainer bg(c);
  std::atomic<int> calls{0};
  bg.set_on_finished([&] { ++calls; });
  bg.start();
  REQUIRE(wait_for([&] { return bg.status_brief().state == TrainerState::Finished; }));
  CHECK(calls == 1);
  CHECK(bg.status_brief().steps == 300);
  CHECK(bg.snapshot().step == 300);
  bg.set_max_steps(350);
  bg.start();
  REQUIRE(wait_for([&] { return bg.status_brief().state == TrainerState::Finished; }));
  CHECK(calls == 2);
  CHECK(bg.status_brief().steps == 350);
}  // destructor stops and joins

TEST_CASE("diffpath-cli train writes a checkpoint with its recipe and a loss curve") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("diffpath-test-train-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string model = (dir / "m.safetensors").string(), csv = (dir / "loss.csv").string();
  const auto run = [&](const std::string& args) {
    return std::system((std::string(DIFFPATH_CLI) + " train " + args + " >/dev/null 2>&1").c_str());
  };
  CHECK(run("--data 8gaussians --schedule cosine --epochs 3 --n-data 600 --batch 256 --hidden 16 "
            "--depth 2 --activation tanh --seed 4 --threads 1 --quiet --loss-csv " + csv +
            " --out " + model) == 0);
  const Checkpoint ck = load_checkpoint(model);
  CHECK(ck.params.hidden() == std::vector<int>{16, 16});
  CHECK(ck.params.activation == Activation::Tanh);
  CHECK(ck.metadata.at("steps") == "9");  // 3 epochs × ceil(600 / 256)
  CHECK(ck.metadata.at("schedule") == Schedule::cosine().spec());
  CHECK(ck.metadata.at("dataset") == "8gaussians");
  CHECK(ck.metadata.at("seed") == "4");
  CHECK(std::isfinite(std::stod(ck.metadata.at("final_loss"))));
  const Points rows = read_points_csv(csv);  // step, epoch, loss, lr
  REQUIRE(rows.rows() == 4);
  CHECK(rows.cols() == 9);
  CHECK(rows(0, 8) == 9);
  CHECK(rows(1, 8) == doctest::Approx(3.0));

  // The same seed gives the same network as the library (threads = 1: same float sums).
  TrainConfig c;
  c.data_spec = "8gaussians";
  c.schedule = Schedule::cosine();
  c.n_data = 600;
  c.batch = 256;
  c.hidden = {16, 16};
  c.activation = Activation::Tanh;
  c.seed = c.data_seed = 4;
  c.threads = 1;
  DsmTrainer trainer(c);
  for (int s = 0; s < 9; ++s) trainer.step();
  CHECK(max_diff(trainer.params(), ck.params) == 0.0);  // float weights stored as F32: exact

  CHECK(run("--data nosuch --schedule simple --out " + model) != 0);
  CHECK(run("--data swissroll --schedule simple --steps 5 --epochs 5 --out " + model) != 0);
  CHECK(run("--data swissroll --schedule nosuch --steps 5 --out " + model) != 0);
  CHECK(run("--data swissroll --schedule simple --steps 5 --lr -1 --out " + model) != 0);
  CHECK(run("--data swissroll --schedule simple --steps 5") != 0);  // --out is required
  CHECK(run("--data swissroll --schedule simple --steps 5 --out " +
            (dir / "nodir" / "m.safetensors").string()) != 0);
  fs::remove_all(dir);
}
