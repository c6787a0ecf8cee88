// diffpath-cli train: denoising score matching (DESIGN §1.2) of an MLP score network, saved as
// a safetensors checkpoint with its training recipe in the metadata.
#include <cmath>
#include <cstdio>
#include <deque>
#include <iterator>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "cli_common.hpp"
#include "diffpath/checkpoint.hpp"
#include "diffpath/common.hpp"
#include "diffpath/io.hpp"
#include "diffpath/trainer.hpp"

namespace diffpath::cli {
namespace {

struct TrainArgs {
  std::string data = "swissroll";
  std::string schedule = "simple";
  int64_t steps = 0;
  int64_t epochs = 0;
  int batch = 512;
  double lr = 1e-3;
  int n_data = 3000;
  int hidden = 128;
  int depth = 3;
  std::string activation = "swish";
  uint64_t seed = 0;
  int threads = 0;
  bool fresh = false;
  std::string out;
  std::string loss_csv;
  int loss_every = 1;
  bool f64 = false;
  bool quiet = false;
  bool json = false;
};

// Ctrl-C, SIGTERM and SIGHUP (StopSignals) stop training between steps; the model so far is
// saved (atomically) and the command still fails, so scripts notice.

std::string fmt(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

/// Mean of the last ≤ 100 batch losses: the "final loss" of a run, less noisy than one batch.
class RecentLoss {
 public:
  void add(double loss) {
    window_.push_back(loss);
    if (window_.size() > 100) window_.pop_front();
  }
  double mean() const {
    return window_.empty() ? NAN
                           : std::accumulate(window_.begin(), window_.end(), 0.0) / window_.size();
  }

 private:
  std::deque<double> window_;
};

void run_train(const TrainArgs& a) {
  check_outputs({a.out, a.loss_csv});
  if (a.hidden < 1 || a.depth < 1) throw Error("--hidden and --depth must be ≥ 1");
  if (a.loss_every < 1) throw Error("--loss-every must be ≥ 1");
  TrainConfig config;
  config.data_spec = a.data;
  config.n_data = a.n_data;
  config.data_seed = a.seed;
  config.schedule = Schedule::parse(a.schedule);
  config.batch = a.batch;
  config.lr = a.lr;
  config.hidden.assign(a.depth, a.hidden);
  config.activation = parse_activation(a.activation);
  config.seed = a.seed;
  config.threads = a.threads;
  config.fresh_samples = a.fresh;
  DsmTrainer trainer(config);

  const int64_t total = a.epochs > 0 ? a.epochs * trainer.steps_per_epoch()
                                     : (a.steps > 0 ? a.steps : 5000);
  constexpr int64_t kGoodEvery = 100;        // rollback point refreshed every 100 steps

  ProgressBar bar("train", !a.quiet);
  RecentLoss recent;
  std::vector<double> csv_rows;  // step, epoch, loss, lr (flattened)
  double csv_sum = 0.0;
  int csv_count = 0;
  std::string failure;  // the trainer gave up diverging; it is at its last good state
  const auto start = std::chrono::steady_clock::now();

  StopSignals signals;  // until the model is saved
  while (trainer.steps_done() < total && !StopSignals::raised()) {
    const int64_t rollbacks = trainer.rollbacks();
    double loss = NAN;
    try {
      loss = trainer.step();
    } catch (const Error& e) {
      failure = e.what();
    }
    if (trainer.rollbacks() != rollbacks) {
      std::fprintf(stderr, "\ndiffpath-cli train: %s\n", trainer.last_message().c_str());
      // Drop CSV rows of the steps that were undone.
      while (!csv_rows.empty() && csv_rows[csv_rows.size() - 4] > double(trainer.steps_done()))
        csv_rows.resize(csv_rows.size() - 4);
      csv_sum = 0.0;
      csv_count = 0;
      if (!failure.empty()) break;
      continue;
    }
    recent.add(loss);
    const int64_t step = trainer.steps_done();
    if (step % kGoodEvery == 0) trainer.mark_good();
    if (!a.loss_csv.empty()) {
      csv_sum += loss;
      if (++csv_count == a.loss_every || step == total) {
        csv_rows.insert(csv_rows.end(),
                        {double(step), trainer.epochs_done(), csv_sum / csv_count, trainer.lr()});
        csv_sum = 0.0;
        csv_count = 0;
      }
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    bar.update(double(step) / double(total),
               "step " + std::to_string(step) + "/" + std::to_string(total) + "  loss " +
                   fmt("%.4g", recent.mean()) + "  " + fmt("%.0f", step / seconds) + " steps/s");
  }
  const int64_t steps = trainer.steps_done();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const bool interrupted = StopSignals::raised() && failure.empty();
  if (interrupted || !failure.empty())
    std::fprintf(stderr, "\n");
  else
    bar.finish("loss " + fmt("%.4g", recent.mean()));

  std::map<std::string, std::string> metadata{
      {"format", "diffpath-mlp"},
      {"schedule", config.schedule.spec()},
      {"dataset", a.data},
      {"n_data", std::to_string(trainer.data().cols())},
      {"data_seed", std::to_string(a.seed)},
      {"fresh_samples", a.fresh ? "true" : "false"},
      {"loss", "dsm: E_t g(t)^2 |s(a x0 + s z, t) + z/s|^2, t on a 1000-point grid"},
      {"optimizer", "adam(beta1=0.9,beta2=0.999,eps=1e-8)"},
      {"steps", std::to_string(steps)},
      {"epochs", fmt("%.6g", trainer.epochs_done())},
      {"seed", std::to_string(a.seed)},
      {"lr", fmt("%.6g", a.lr)},
      {"final_lr", fmt("%.6g", trainer.lr())},
      {"batch", std::to_string(a.batch)},
      {"final_loss", fmt("%.8g", recent.mean())},
      {"rollbacks", std::to_string(trainer.rollbacks())},
      {"train_seconds", fmt("%.3f", seconds)},
  };
  if (interrupted) metadata["interrupted"] = "true";
  if (!failure.empty()) metadata["diverged"] = "true";
  save_checkpoint(a.out, trainer.params(), metadata, a.f64);

  if (!a.loss_csv.empty()) {
    const Eigen::Index n = Eigen::Index(csv_rows.size() / 4);
    const Eigen::MatrixXd rows =
        Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, 4, Eigen::RowMajor>>(csv_rows.data(), n, 4);
    write_table_csv(a.loss_csv, {"step", "epoch", "loss", "lr"}, rows);
  }
  if (!failure.empty())
    throw Error(failure + " (step " + std::to_string(steps) + ", saved in " + a.out + ")");
  if (interrupted)
    throw Error("interrupted by " + StopSignals::name() + " at step " + std::to_string(steps) +
                " (the model so far is in " + a.out + ")");
  if (a.json) {
    print_json({{"out", a.out},
                {"steps", steps},
                {"epochs", trainer.epochs_done()},
                {"final_loss", recent.mean()},
                {"lr", trainer.lr()},
                {"rollbacks", trainer.rollbacks()},
                {"seconds", seconds},
                {"steps_per_second", steps / seconds},
                {"parameters", trainer.params().parameter_count()}});
  }
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand(
      "train",
      "Train an MLP score network by denoising score matching (g²-weighted, t on a 1000-point "
      "grid, Adam) and save it as a safetensors checkpoint");
  cmd->add_option("--data", args->data, "Data set spec (swissroll, 25gaussians, csv:PATH, ...)")
      ->capture_default_str();
  cmd->add_option("--schedule", args->schedule, "Noise schedule (simple, cosine, linear:...)")
      ->capture_default_str();
  auto* steps = cmd->add_option("--steps", args->steps, "Adam steps (default 5000)")
                    ->check(positive());
  cmd->add_option("--epochs", args->epochs,
                  "Passes over the training set instead of --steps (paper: 16000)")
      ->check(positive())
      ->excludes(steps);
  cmd->add_option("--batch", args->batch, "Mini-batch size")->capture_default_str()->check(positive());
  cmd->add_option("--lr", args->lr, "Adam learning rate")->capture_default_str()->check(positive());
  cmd->add_option("--n-data", args->n_data, "Training-set size")
      ->capture_default_str()
      ->check(positive());
  cmd->add_option("--hidden", args->hidden, "Width of the hidden layers")->capture_default_str();
  cmd->add_option("--depth", args->depth, "Number of hidden layers")->capture_default_str();
  cmd->add_option("--activation", args->activation, "swish, tanh or softplus")
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "Seed of the data set, the weights and the batches")
      ->capture_default_str();
  cmd->add_option("--threads", args->threads, "Threads (0: all cores)")
      ->capture_default_str()
      ->check(non_negative());
  cmd->add_flag("--fresh", args->fresh, "Fresh data samples every step (no fixed training set)");
  cmd->add_option("--out", args->out, "Checkpoint to write (.safetensors)")->required();
  cmd->add_option("--loss-csv", args->loss_csv, "Write the loss curve (step,epoch,loss,lr)");
  cmd->add_option("--loss-every", args->loss_every, "Average this many steps per CSV row")
      ->capture_default_str();
  cmd->add_flag("--f64", args->f64, "Store the weights as F64 (default F32)");
  cmd->add_flag("--quiet", args->quiet, "No progress bar");
  cmd->add_flag("--json", args->json, "Print a JSON summary on stdout");
  cmd->callback([args] { run_train(*args); });
}

}  // namespace diffpath::cli
