#pragma once
// The experiment a person sets up in the window: a small value type. Panels edit a copy; the
// session compares old and new values to decide which background work to restart. Presets
// are this value as JSON.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "diffpath/common.hpp"
#include "diffpath/schedule.hpp"

namespace diffpath::gui {

/// Mlp: trained live; Exact: the data's exact (mixture or empirical) score; Gaussian: linear
/// score with error knobs; Checkpoint: a fixed network loaded from a safetensors file.
enum class ModelKind { Mlp, Exact, Gaussian, Checkpoint };
const char* model_kind_name(ModelKind k);  // "mlp" | "exact" | "gaussian" | "checkpoint"
ModelKind parse_model_kind(const std::string& s);  // throws Error

/// One more model next to the main one (the "compare" list): same data, its own schedule and
/// score model. Mlp trains live in its own thread; Checkpoint with an empty path means the
/// checkpoint shipped in assets/ for this data set and schedule.
struct CompareSpec {
  Schedule schedule = Schedule::cosine();
  ModelKind model = ModelKind::Checkpoint;
  std::string checkpoint;
  bool operator==(const CompareSpec& o) const {
    return schedule == o.schedule && model == o.model && checkpoint == o.checkpoint;
  }
};

/// The checkpoint shipped for a data set and schedule, "assets/<data>-<schedule>.safetensors",
/// as an existing path (source tree or working directory), or "" when there is none.
std::string shipped_checkpoint(const std::string& data_spec, const Schedule& schedule);
/// `path` if it exists, else the same relative path under the source tree ("" if neither).
std::string resolve_asset(const std::string& path);

/// At most this many models next to the main one (each may train: a CPU core each).
inline constexpr size_t kMaxCompared = 4;
/// The η slider's fine range, where the paper looks (η itself may be anything in [0, 1]).
inline constexpr double kEtaFine = 0.2;

struct Experiment {
  // Data: a core data-set spec ("swissroll", "csv:PATH", ...) or "drawn" (points painted on
  // the canvas, kept in `drawn`).
  std::string data = "swissroll";
  Points drawn = Points(2, 0);
  int n_data = 3000;
  uint64_t data_seed = 0;

  Schedule schedule = Schedule::simple();

  // Score model. Gaussian: the data become N(gauss_m, gauss_v I) in 2D and the score is the
  // linear one with deliberate errors eps (variance) and delta (mean), DESIGN §1.7.
  ModelKind model = ModelKind::Mlp;
  double gauss_m = 0.0, gauss_v = 0.25, gauss_eps = 0.2, gauss_delta = 0.1;
  std::string checkpoint;   // Checkpoint: path of the .safetensors file

  // Training (MLP).
  double lr = 1e-3;
  int batch = 512;
  int width = 128;
  int depth = 3;
  uint64_t train_seed = 0;
  /// Start the live MLP from the shipped checkpoint of this data set and schedule when there
  /// is one (a good model at once; training fine-tunes it). Reset trains from scratch.
  bool warm_start = true;

  // Sampling (the viewport) — common random numbers: fixed seed ⇒ η morphs each path.
  double eta = 0.1;        // the paper's range is [0, 0.2]; 1 is the reverse SDE
  uint64_t seed = 0;
  // Interactive defaults: 200 Euler–Maruyama steps keep a full picture of a 128-wide MLP
  // under a second on two cores; the CLI reproduces the paper's 1000 steps.
  int particles = 2000;
  int steps = 200;
  int frame_stride = 2;   // keep every k-th step for the scrubber and trails (100 frames)
  int trail_every = 16;   // draw the trail of every k-th particle (125 of 2000: readable)

  // Models compared with the main one (charts overlay them; the viewport shows one).
  std::vector<CompareSpec> compare = {CompareSpec{}};   // the shipped cosine checkpoint

  // Evaluation (NLL(0), E[−c] per snapshot).
  int eval_points = 128;
  double eval_rtol = 1e-3;

  /// The only range check of the app (panels, script `set` and presets all end here): every
  /// setting of the parameter table (params.hpp) in its range, at most kMaxCompared compared
  /// models, none of them Gaussian. Throws Error naming the setting.
  void validate() const;

  /// The data spec the core sees (resolves the Gaussian model's data set).
  std::string data_spec() const;
  /// The score-model spec for the analytic kinds ("exact:..." / "gaussian:...").
  std::string analytic_model_spec() const;

  // Which parts of the pipeline a change invalidates.
  bool same_data(const Experiment& o) const;
  bool same_training(const Experiment& o) const;   // data, schedule, architecture, batch (not lr)
  bool same_model(const Experiment& o) const;      // same score model (kind + knobs + training)
  bool same_sampling(const Experiment& o) const;   // model + η, seed, particles, steps, stride
};

nlohmann::json to_json(const Experiment& e);
/// Missing keys keep their defaults; wrong types or values throw Error naming the key.
Experiment experiment_from_json(const nlohmann::json& j);
void save_preset(const Experiment& e, const std::string& path);
Experiment load_preset(const std::string& path);

}  // namespace diffpath::gui
