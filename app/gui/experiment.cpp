#include "experiment.hpp"

#include <cmath>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "diffpath/files.hpp"
#include "params.hpp"

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

void Experiment::validate() const {
  for (const Param& p : params()) {
    const double v = p.get(*this);
    if (!(v >= p.lo && v <= p.hi)) throw Error(p.range_text() + " (got " + p.value_text(v) + ")");
  }
  if (compare.size() > kMaxCompared)
    throw Error("at most " + std::to_string(kMaxCompared) + " compared models");
  for (const CompareSpec& c : compare)
    if (c.model == ModelKind::Gaussian) throw Error("compare: gaussian is only a main model");
}

namespace {

nlohmann::json& place(nlohmann::json& j, const Param& p) {
  return *p.section ? j[p.section][p.name] : j[p.name];
}

}  // namespace

nlohmann::json to_json(const Experiment& e) {
  nlohmann::json j;
  j["data"] = e.data;
  if (e.data == "drawn") {
    nlohmann::json pts = nlohmann::json::array();
    for (int i = 0; i < e.drawn.cols(); ++i) pts.push_back({e.drawn(0, i), e.drawn(1, i)});
    j["drawn"] = pts;
  }
  j["schedule"] = e.schedule.spec();
  j["model"] = model_kind_name(e.model);
  if (!e.checkpoint.empty()) j["checkpoint"] = e.checkpoint;
  for (const Param& p : params()) {
    if (p.real) place(j, p) = e.*p.real;
    else if (p.count) place(j, p) = e.*p.count;
    else place(j, p) = e.*p.seed;
  }
  j["training"]["warm_start"] = e.warm_start;
  nlohmann::json cmp = nlohmann::json::array();
  for (const auto& c : e.compare) {
    nlohmann::json item = {{"schedule", c.schedule.spec()}, {"model", model_kind_name(c.model)}};
    if (!c.checkpoint.empty()) item["checkpoint"] = c.checkpoint;
    cmp.push_back(item);
  }
  j["compare"] = cmp;
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
      check(pts[i].is_array() && pts[i].size() == 2 && pts[i][0].is_number() && pts[i][1].is_number(),
            "'drawn[" + std::to_string(i) + "]' must be [x, y] with two numbers");
      e.drawn(0, Eigen::Index(i)) = pts[i][0].get<double>();
      e.drawn(1, Eigen::Index(i)) = pts[i][1].get<double>();
    }
  }
  std::string sched = e.schedule.spec();
  read(j, "schedule", sched, "");
  e.schedule = Schedule::parse(sched);
  std::string kind = model_kind_name(e.model);
  read(j, "model", kind, "");
  e.model = parse_model_kind(kind);
  read(j, "checkpoint", e.checkpoint, "");
  for (const Param& p : params()) {
    const std::string where = std::string(p.section) + (*p.section ? "." : "") + p.name;
    const nlohmann::json* v = *p.section ? (j.contains(p.section) && j[p.section].is_object() &&
                                                    j[p.section].contains(p.name)
                                                ? &j[p.section][p.name]
                                                : nullptr)
                                         : (j.contains(p.name) ? &j[p.name] : nullptr);
    if (!v) continue;
    check(v->is_number(), "'" + where + "' must be a number");
    const double x = v->get<double>();
    check(!p.integer || x == std::floor(x), "'" + where + "' must be an integer");
    p.set(e, x);
  }
  if (j.contains("training") && j["training"].is_object())
    read(j["training"], "warm_start", e.warm_start, "training.");
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
      e.compare.push_back(c);
    }
  }
  // (frame_stride follows steps in Param::set; its own row comes later, so a preset that
  // gives both keeps its stride.)
  try {
    e.validate();
  } catch (const Error& ex) {
    throw Error(std::string("preset: ") + ex.what());
  }
  return e;
}

void save_preset(const Experiment& e, const std::string& path) {
  // Atomic (a crash mid-save keeps the old preset), through symlinks, keeping the file's mode.
  write_file_atomic(path, to_json(e).dump(2) + "\n");
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
  } catch (const std::exception& ex) {  // Error, or a JSON type error the checks missed
    throw Error(path + ": " + ex.what());
  }
}

}  // namespace diffpath::gui
