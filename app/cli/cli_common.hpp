#pragma once
// Shared plumbing of diffpath-cli: every subcommand lives in its own cmd_*.cpp and registers
// itself through one add_*_command function declared here.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "diffpath/schedule.hpp"
#include "diffpath/score_model.hpp"

namespace diffpath {
class DsmTrainer;
struct LikelihoodSummary;
}

namespace diffpath::cli {

void add_data_command(CLI::App& app);
void add_sample_command(CLI::App& app);
void add_gaussian_truth_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_score_command(CLI::App& app);
void add_nll_command(CLI::App& app);
void add_w2_command(CLI::App& app);
void add_table_command(CLI::App& app);
void add_kl_command(CLI::App& app);
void add_density_command(CLI::App& app);
void add_animate_command(CLI::App& app);

/// --eta values: "A:B:K" (K evenly spaced values from A to B inclusive), "a,b,c", or "a";
/// each in [0, 1]. Throws Error with a one-line reason.
std::vector<double> parse_eta_list(const std::string& text);
/// Checks every non-empty path with check_output_path (files.hpp): call it first thing in a
/// command, so a result that could not be saved is never computed (train --out nodir/m).
void check_outputs(std::initializer_list<std::string> paths);

/// CLI11 validators with messages people can read: "must be > 0, got 0" instead of CLI11's
/// "not in range 0.000000 to 17976931…" (a 309-digit number), and "'0.5abc' is not a number"
/// instead of "not in range". Bounds are inclusive except positive()'s.
CLI::Validator positive();
CLI::Validator non_negative();
CLI::Validator in_range(double lo, double hi);

/// Gives every option named --seed or --data-seed, in every subcommand, the check that it is
/// an integer in [0, 2^64 − 1]: CLI11 alone wraps "-1" to 18446744073709551615.
void check_seed_options(CLI::App& app);

/// Throws Error unless a likelihood evaluation used at least one point and its NLL mean is
/// finite: "0 used" or a NaN mean is not a result.
void check_usable(const LikelihoodSummary& s);

/// Prints one JSON object on stdout (followed by a newline).
void print_json(const nlohmann::json& j);

/// Ctrl-C, SIGTERM and SIGHUP as a request to stop: while an instance lives they set a flag
/// instead of ending the process, so a long command stops between steps, cleans up (saves
/// what it has, or leaves no partial file) and still fails, so scripts notice. Further signals
/// are absorbed until the instance is gone: a second Ctrl-C or a TERM right after the first
/// must not interrupt the clean-up.
class StopSignals {
 public:
  StopSignals();    // installs the handler for INT, TERM and HUP
  ~StopSignals();   // restores the previous handlers
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  static bool raised();
  static std::string name();                  // "Ctrl-C (SIGINT)", "SIGTERM" or "SIGHUP"
  static const std::atomic<bool>* flag();     // the core's cancel token (sample, animations)

 private:
  struct sigaction previous_[3];
};

/// A progress line on stderr: label, bar, percentage, free text, ETA. On a terminal it redraws
/// in place at most 10×/s; otherwise (logs, CI) it prints a plain line every 5 s.
class ProgressBar {
 public:
  explicit ProgressBar(std::string label, bool enabled = true);
  ~ProgressBar();
  /// fraction in [0, 1]; extra: e.g. "loss 0.812  412 steps/s".
  void update(double fraction, const std::string& extra = "");
  /// Final line (100 %, elapsed time).
  void finish(const std::string& extra = "");

 private:
  std::string label_;
  bool enabled_, tty_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

/// The score-model options every model-using subcommand shares: --score, --schedule,
/// --n-data, --data-seed. The schedule defaults to the one a checkpoint was trained with
/// (model:PATH), else simple — so a model is never evaluated under a schedule it did not learn
/// unless the user asks for it.
struct ScoreArgs {
  std::string score;
  std::string schedule;      // "" = the checkpoint's, else simple
  ScoreSpecOptions spec;

  void add_options(CLI::App* cmd);
  Schedule resolve_schedule() const;
  /// The model for `schedule` (analytic models depend on it; checkpoints do not).
  ScoreModelPtr make_model(const Schedule& schedule) const;
  /// A metadata entry of the checkpoint named by --score ("" if none or not a checkpoint).
  std::string checkpoint_metadata(const std::string& key) const;
};

/// Runs `steps` Adam steps of `trainer` with a progress bar (loss, steps/s, ETA) on stderr.
/// Returns the smoothed loss at the end. Shared by `train` and `table`.
double run_training(DsmTrainer& trainer, int64_t steps, const std::string& label,
                    bool show_progress = true);

}  // namespace diffpath::cli
