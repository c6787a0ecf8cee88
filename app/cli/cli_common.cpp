#include "cli_common.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <iostream>
#include <optional>
#include <sstream>

#include "diffpath/checkpoint.hpp"
#include "diffpath/files.hpp"
#include "diffpath/likelihood.hpp"
#include "diffpath/trainer.hpp"

namespace diffpath::cli {

namespace {

constexpr int kStopSignals[] = {SIGINT, SIGTERM, SIGHUP};
volatile std::sig_atomic_t g_signal = 0;
std::atomic<bool> g_stop{false};  // lock-free, so the handler may set it
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void on_stop_signal(int signo) {
  g_signal = signo;
  g_stop.store(true, std::memory_order_relaxed);
}

}  // namespace

StopSignals::StopSignals() {
  g_signal = 0;
  g_stop = false;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (size_t i = 0; i < std::size(kStopSignals); ++i) sigaction(kStopSignals[i], &action, &previous_[i]);
}

StopSignals::~StopSignals() {
  for (size_t i = 0; i < std::size(kStopSignals); ++i) sigaction(kStopSignals[i], &previous_[i], nullptr);
}

bool StopSignals::raised() { return g_signal != 0; }

std::string StopSignals::name() {
  return g_signal == SIGINT ? "Ctrl-C (SIGINT)" : g_signal == SIGTERM ? "SIGTERM" : "SIGHUP";
}

const std::atomic<bool>* StopSignals::flag() { return &g_stop; }

void print_json(const nlohmann::json& j) { std::cout << j.dump(2) << std::endl; }

void check_outputs(std::initializer_list<std::string> paths) {
  for (const std::string& path : paths)
    if (!path.empty()) check_output_path(path);
}

void check_usable(const LikelihoodSummary& s) {
  if (s.n == 0)
    throw Error("no point could be evaluated: all " + std::to_string(s.excluded) +
                " were excluded (reasons above)");
  if (!std::isfinite(s.nll_mean))
    throw Error("the NLL of the " + std::to_string(s.n) + " evaluated points is not finite");
}

namespace {

// The whole text must be a number ("0.5abc" is not); std::nullopt otherwise.
std::optional<double> whole_number(const std::string& text) {
  double v = 0.0;
  const char* begin = text.data() + (!text.empty() && text[0] == '+');
  const auto [end, ec] = std::from_chars(begin, text.data() + text.size(), v);
  if (begin == text.data() + text.size() || ec != std::errc() || end != text.data() + text.size())
    return std::nullopt;
  return v;
}

CLI::Validator number_check(std::string description, std::function<bool(double)> ok,
                            std::string requirement) {
  return CLI::Validator(
      [ok = std::move(ok), requirement = std::move(requirement)](std::string& text) -> std::string {
        const auto v = whole_number(text);
        if (!v) return "'" + text + "' is not a number";
        return ok(*v) ? "" : "must be " + requirement + ", got " + text;
      },
      std::move(description));
}

}  // namespace

CLI::Validator positive() {
  return number_check("POSITIVE", [](double v) { return v > 0; }, "> 0");
}

CLI::Validator non_negative() {
  return number_check("NONNEGATIVE", [](double v) { return v >= 0; }, ">= 0");
}

CLI::Validator in_range(double lo, double hi) {
  const std::string range = "in [" + format_number(lo) + ", " + format_number(hi) + "]";
  return number_check(range, [lo, hi](double v) { return v >= lo && v <= hi; }, range);
}

void check_seed_options(CLI::App& app) {
  const CLI::Validator seed(
      [](std::string& text) -> std::string {
        uint64_t v = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (!text.empty() && text[0] == '-') return "a seed must be >= 0, got " + text;
        if (text.empty() || ec != std::errc() || end != text.data() + text.size())
          return "a seed must be an integer in [0, 2^64 - 1], got '" + text + "'";
        return "";
      },
      "SEED");
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    for (CLI::Option* option : sub->get_options())
      if (option->check_lname("seed") || option->check_lname("data-seed")) option->check(seed);
    check_seed_options(*sub);
  }
}

namespace {
std::string format_seconds(double s) {
  char buf[32];
  if (!std::isfinite(s) || s < 0) return "--";
  if (s < 60) std::snprintf(buf, sizeof buf, "%.0fs", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", int(s) / 60, int(s) % 60);
  else std::snprintf(buf, sizeof buf, "%dh%02dm", int(s) / 3600, (int(s) / 60) % 60);
  return buf;
}
}  // namespace

ProgressBar::ProgressBar(std::string label, bool enabled)
    : label_(std::move(label)), enabled_(enabled), tty_(isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()), last_(start_ - std::chrono::hours(1)) {}

ProgressBar::~ProgressBar() {
  if (enabled_ && tty_ && !finished_) std::fputc('\n', stderr);
}

void ProgressBar::update(double fraction, const std::string& extra) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  const double since_last = std::chrono::duration<double>(now - last_).count();
  if (since_last < (tty_ ? 0.1 : 5.0)) return;
  last_ = now;
  fraction = std::clamp(fraction, 0.0, 1.0);
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double eta = fraction > 1e-9 ? elapsed * (1 - fraction) / fraction : NAN;
  constexpr int width = 28;
  std::string bar(width, ' ');
  for (int i = 0; i < int(fraction * width + 0.5); ++i) bar[i] = '=';
  std::fprintf(stderr, "%s%s [%s] %5.1f%% %s  ETA %s%s", tty_ ? "\r" : "", label_.c_str(),
               bar.c_str(), 100 * fraction, extra.c_str(), format_seconds(eta).c_str(),
               tty_ ? "\x1b[K" : "\n");
  std::fflush(stderr);
}

void ProgressBar::finish(const std::string& extra) {
  if (!enabled_ || finished_) return;
  finished_ = true;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::fprintf(stderr, "%s%s done in %s %s%s\n", tty_ ? "\r" : "", label_.c_str(),
               format_seconds(elapsed).c_str(), extra.c_str(), tty_ ? "\x1b[K" : "");
}

void ScoreArgs::add_options(CLI::App* cmd) {
  cmd->add_option("--score", score,
                  "Score model: model:PATH | exact:DATA | gaussian:m=..,v=..,eps=..,delta=..")
      ->required();
  cmd->add_option("--schedule", schedule,
                  "simple | cosine | linear[:...] (default: the checkpoint's, else simple)");
  cmd->add_option("--n-data", spec.n_data, "Training-set size for exact:<empirical data set>")
      ->capture_default_str()
      ->check(positive());
  cmd->add_option("--data-seed", spec.data_seed, "Seed of that training set")
      ->capture_default_str();
}

std::string ScoreArgs::checkpoint_metadata(const std::string& key) const {
  const Spec s = Spec::parse(score);
  if (s.name != "model" || s.rest.empty()) return "";
  const Checkpoint ck = load_checkpoint(s.rest);
  const auto it = ck.metadata.find(key);
  return it == ck.metadata.end() ? "" : it->second;
}

Schedule ScoreArgs::resolve_schedule() const {
  if (!schedule.empty()) return Schedule::parse(schedule);
  const std::string trained = checkpoint_metadata("schedule");
  return Schedule::parse(trained.empty() ? "simple" : trained);
}

ScoreModelPtr ScoreArgs::make_model(const Schedule& s) const {
  return make_score_model(score, s, spec);
}

double run_training(DsmTrainer& trainer, int64_t steps, const std::string& label,
                    bool show_progress) {
  ProgressBar bar(label, show_progress);
  const auto start = std::chrono::steady_clock::now();
  double smoothed = NAN;
  for (int64_t i = 0; i < steps; ++i) {
    const double loss = trainer.step();
    // Rollbacks return NaN: keep the average over the good steps only.
    if (std::isfinite(loss)) smoothed = std::isfinite(smoothed) ? 0.99 * smoothed + 0.01 * loss : loss;
    if ((i & 15) == 0 || i + 1 == steps) {
      const double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      char extra[128];
      std::snprintf(extra, sizeof extra, "step %lld/%lld  loss %.4f  %.0f steps/s",
                    (long long)(i + 1), (long long)steps, smoothed, (i + 1) / std::max(secs, 1e-9));
      bar.update(double(i + 1) / double(steps), extra);
    }
  }
  char extra[96];
  std::snprintf(extra, sizeof extra, "(loss %.4f, %lld rollbacks)", smoothed,
                (long long)trainer.rollbacks());
  bar.finish(extra);
  return smoothed;
}

// "A:B:K" → K evenly spaced values from A to B; "a,b,c" → the list; "a" → {a}.
std::vector<double> parse_eta_list(const std::string& text) {
  std::vector<double> etas;
  if (text.find(':') != std::string::npos) {
    std::vector<std::string> parts;
    std::stringstream ss(text);
    for (std::string p; std::getline(ss, p, ':');) parts.push_back(p);
    if (parts.size() != 3) throw Error("--eta: expected A:B:K, got '" + text + "'");
    const double a = parse_number(parts[0], "--eta start"), b = parse_number(parts[1], "--eta end");
    const double k = parse_number(parts[2], "--eta count");
    if (k < 1 || k > 10000 || k != std::floor(k))
      throw Error("--eta: the count K in A:B:K must be an integer in [1, 10000]");
    for (int i = 0; i < int(k); ++i) {
      const double v = k == 1 ? a : a + (b - a) * i / (k - 1);
      // Snapped to 12 digits: 0:1:11 gives 0.3, not 0.30000000000000004 (η values are keys).
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.12g", v);
      etas.push_back(std::strtod(buf, nullptr));
    }
  } else {
    std::stringstream ss(text);
    for (std::string p; std::getline(ss, p, ',');) etas.push_back(parse_number(p, "--eta value"));
  }
  if (etas.empty()) throw Error("--eta: no values in '" + text + "'");
  for (double e : etas)
    if (e < 0.0 || e > 1.0) throw Error("--eta: values must be in [0, 1]");
  return etas;
}

}  // namespace diffpath::cli
