#include "experiment.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace diffpath::gui {

const char* model_kind_name(ModelKind k) {
  switch (k) {
    case ModelKind::Mlp: return "mlp";
    case ModelKind::Exact: return "exact";
    case ModelKind::Gaussian: return "gaussian";
    case ModelKind::Checkpoint: return "checkpoint";
  }
  return "mlp";
}

ModelKind parse_model_kind(const std::string& s) {
  if (s == "mlp") return ModelKind::Mlp;
  if (s == "exact") return ModelKind::Exact;
  if (s == "gaussian") return ModelKind::Gaussian;
  if (s == "checkpoint") return ModelKind::Checkpoint;
  throw Error("unknown model kind '" + s + "' (expected mlp, exact, gaussian or checkpoint)");
}

static std::string num(double v) { return format_number(v); }

std::string Experiment::data_spec() const {
  if (model == ModelKind::Gaussian)
    return "gaussian:d=2,m=" + num(gauss_m) + ",v=" + num(gauss_v);
  return data;
}

std::string Experiment::analytic_model_spec() const {
  if (model == ModelKind::Gaussian)
    return "gaussian:d=2,m=" + num(gauss_m) + ",v=" + num(gauss_v) + ",eps=" + num(gauss_eps) +
           ",delta=" + num(gauss_delta);
  if (model == ModelKind::Checkpoint) return "model:" + checkpoint;
  return "exact:" + data_spec();
}

std::string resolve_asset(const std::string& path) {
  if (path.empty()) return {};
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) return path;
#ifdef DIFFPATH_ASSET_DIR
  if (std::filesystem::path(path).is_relative()) {
    const auto in_tree = std::filesystem::path(DIFFPATH_ASSET_DIR).parent_path() / path;
    if (std::filesystem::exists(in_tree, ec)) return in_tree.string();
  }
#endif
  return {};
}

std::string shipped_checkpoint(const std::string& data_spec, const Schedule& schedule) {
  // Only the paper's named schedules have shipped checkpoints.
  if (schedule.kind == ScheduleKind::Linear) return {};
  if (data_spec.find_first_of(":/") != std::string::npos) return {};
  return resolve_asset("assets/" + data_spec + "-" + schedule.spec() + ".safetensors");
}

bool Experiment::same_data(const Experiment& o) const {
  return data_spec() == o.data_spec() && n_data == o.n_data && data_seed == o.data_seed &&
         (data != "drawn" || (drawn.cols() == o.drawn.cols() && drawn == o.drawn));
}

bool Experiment::same_training(const Experiment& o) const {
  return same_data(o) && schedule == o.schedule && batch == o.batch &&
         width == o.width && depth == o.depth && train_seed == o.train_seed &&
         warm_start == o.warm_start;
}

bool Experiment::same_model(const Experiment& o) const {
  if (model != o.model || !same_data(o) || !(schedule == o.schedule)) return false;
  switch (model) {
    case ModelKind::Mlp: return same_training(o);
    case ModelKind::Exact: return true;
    case ModelKind::Gaussian: return gauss_eps == o.gauss_eps && gauss_delta == o.gauss_delta;
    case ModelKind::Checkpoint: return checkpoint == o.checkpoint;
  }
  return true;
}

bool Experiment::same_sampling(const Experiment& o) const {
  return same_model(o) && eta == o.eta && seed == o.seed && particles == o.particles &&
         steps == o.steps && frame_stride == o.frame_stride;
}

nlohmann::json to_json(const Experiment& e) {
  nlohmann::json j;
  j["data"] = e.data;
  if (e.data == "drawn") {
    nlohmann::json pts = nlohmann::json::array();
    for (int i = 0; i < e.drawn.cols(); ++i) pts.push_back({e.drawn(0, i), e.drawn(1, i)});
    j["drawn"] = pts;
  }
  j["n_data"] = e.n_data;
  j["data_seed"] = e.data_seed;
  j["schedule"] = e.schedule.spec();
  j["model"] = model_kind_name(e.model);
  if (!e.checkpoint.empty()) j["checkpoint"] = e.checkpoint;
  j["gaussian"] = {{"m", e.gauss_m}, {"v", e.gauss_v}, {"eps", e.gauss_eps}, {"delta", e.gauss_delta}};
  j["training"] = {{"lr", e.lr}, {"batch", e.batch}, {"width", e.width}, {"depth", e.depth},
                   {"seed", e.train_seed}, {"warm_start", e.warm_start}};
  nlohmann::json cmp = nlohmann::json::array();
  for (const auto& c : e.compare) {
    nlohmann::json item = {{"schedule", c.schedule.spec()}, {"model", model_kind_name(c.model)}};
    if (!c.checkpoint.empty()) item["checkpoint"] = c.checkpoint;
    cmp.push_back(item);
  }
  j["compare"] = cmp;
  j["sampling"] = {{"eta", e.eta}, {"seed", e.seed}, {"particles", e.particles},
                   {"steps", e.steps}, {"frame_stride", e.frame_stride},
                   {"trail_every", e.trail_every}};
  j["evaluation"] = {{"points", e.eval_points}, {"rtol", e.eval_rtol}};
  return j;
}

namespace {

template <class T>
void read(const nlohmann::json& j, const char* key, T& out, const std::string& where) {
  if (!j.contains(key)) return;
  try {
    out = j.at(key).get<T>();
  } catch (const std::exception&) {
    throw Error("preset: '" + where + key + "' has the wrong type");
  }
}

void check(bool ok, const std::string& what) {
  if (!ok) throw Error("preset: " + what);
}

}  // namespace

Experiment experiment_from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw Error("preset: expected a JSON object");
  Experiment e;
  read(j, "data", e.data, "");
  if (j.contains("drawn")) {
    const auto& pts = j["drawn"];
    check(pts.is_array(), "'drawn' must be an array of [x, y]");
    e.drawn.resize(2, Eigen::Index(pts.size()));
    for (size_t i = 0; i < pts.size(); ++i) {
      check(pts[i].is_array() && pts[i].size() == 2, "'drawn' must be an array of [x, y]");
      e.drawn(0, Eigen::Index(i)) = pts[i][0].get<double>();
      e.drawn(1, Eigen::Index(i)) = pts[i][1].get<double>();
    }
  }
  read(j, "n_data", e.n_data, "");
  read(j, "data_seed", e.data_seed, "");
  std::string sched = e.schedule.spec();
  read(j, "schedule", sched, "");
  e.schedule = Schedule::parse(sched);
  std::string kind = model_kind_name(e.model);
  read(j, "model", kind, "");
  e.model = parse_model_kind(kind);
  read(j, "checkpoint", e.checkpoint, "");
  if (j.contains("gaussian")) {
    const auto& g = j["gaussian"];
    read(g, "m", e.gauss_m, "gaussian.");
    read(g, "v", e.gauss_v, "gaussian.");
    read(g, "eps", e.gauss_eps, "gaussian.");
    read(g, "delta", e.gauss_delta, "gaussian.");
  }
  if (j.contains("training")) {
    const auto& t = j["training"];
    read(t, "lr", e.lr, "training.");
    read(t, "batch", e.batch, "training.");
    read(t, "width", e.width, "training.");
    read(t, "depth", e.depth, "training.");
    read(t, "seed", e.train_seed, "training.");
    read(t, "warm_start", e.warm_start, "training.");
  }
  // A preset lists its compared models explicitly (none when the key is absent).
  e.compare.clear();
  if (j.contains("compare")) {
    const auto& cmp = j["compare"];
    check(cmp.is_array(), "'compare' must be an array of {schedule, model, checkpoint}");
    for (const auto& item : cmp) {
      check(item.is_object(), "'compare' must be an array of {schedule, model, checkpoint}");
      CompareSpec c;
      std::string sched = c.schedule.spec(), kind = model_kind_name(c.model);
      read(item, "schedule", sched, "compare[].");
      read(item, "model", kind, "compare[].");
      read(item, "checkpoint", c.checkpoint, "compare[].");
      c.schedule = Schedule::parse(sched);
      c.model = parse_model_kind(kind);
      check(c.model != ModelKind::Gaussian, "compare[].model: gaussian is only a main model");
      e.compare.push_back(c);
    }
    check(e.compare.size() <= 4, "at most 4 models in 'compare'");
  }
  if (j.contains("sampling")) {
    const auto& s = j["sampling"];
    read(s, "eta", e.eta, "sampling.");
    read(s, "seed", e.seed, "sampling.");
    read(s, "particles", e.particles, "sampling.");
    read(s, "steps", e.steps, "sampling.");
    read(s, "frame_stride", e.frame_stride, "sampling.");
    read(s, "trail_every", e.trail_every, "sampling.");
  }
  if (j.contains("evaluation")) {
    read(j["evaluation"], "points", e.eval_points, "evaluation.");
    read(j["evaluation"], "rtol", e.eval_rtol, "evaluation.");
  }
  check(e.n_data >= 2 && e.n_data <= 200000, "n_data must be in [2, 200000]");
  check(e.gauss_v > 0, "gaussian.v must be positive");
  check(e.gauss_eps > -1, "gaussian.eps must be > -1");
  check(e.lr > 0 && e.lr < 1, "training.lr must be in (0, 1)");
  check(e.batch >= 1 && e.batch <= 65536, "training.batch must be in [1, 65536]");
  check(e.width >= 4 && e.width <= 1024, "training.width must be in [4, 1024]");
  check(e.depth >= 1 && e.depth <= 8, "training.depth must be in [1, 8]");
  check(e.eta >= 0 && e.eta <= 1, "sampling.eta must be in [0, 1]");
  check(e.particles >= 1 && e.particles <= 100000, "sampling.particles must be in [1, 100000]");
  check(e.steps >= 2 && e.steps <= 100000, "sampling.steps must be in [2, 100000]");
  check(e.frame_stride >= 1, "sampling.frame_stride must be >= 1");
  check(e.trail_every >= 1, "sampling.trail_every must be >= 1");
  check(e.eval_points >= 1 && e.eval_points <= 20000, "evaluation.points must be in [1, 20000]");
  check(e.eval_rtol > 0 && e.eval_rtol < 1, "evaluation.rtol must be in (0, 1)");
  return e;
}

void save_preset(const Experiment& e, const std::string& path) {
  std::ofstream out(path);
  if (!out) throw Error("cannot write preset " + path);
  out << to_json(e).dump(2) << "\n";
  if (!out) throw Error("cannot write preset " + path);
}

Experiment load_preset(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot open preset " + path);
  nlohmann::json j;
  try {
    in >> j;
  } catch (const std::exception& ex) {
    throw Error("preset " + path + " is not valid JSON: " + ex.what());
  }
  try {
    return experiment_from_json(j);
  } catch (const Error& ex) {
    throw Error(path + ": " + ex.what());
  }
}

}  // namespace diffpath::gui
