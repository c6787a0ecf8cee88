// make_score_model: score models from spec strings (score_model.hpp).
#include <cmath>

#include "diffpath/dataset.hpp"
#include "diffpath/score_model.hpp"
#include "diffpath/checkpoint.hpp"

namespace diffpath {
namespace {

constexpr const char* kForms =
    "exact:DATA, gaussian:m=..,v=..,eps=..,delta=..[,d=..], model:PATH";

// exact:DATA — the mixture itself where the data set is one, else the empirical score of
// n_data points drawn with data_seed (the "ideal" score of that training set).
ScoreModelPtr make_exact(const Spec& spec, const std::string& text, const Schedule& schedule,
                         const ScoreSpecOptions& options) {
  if (spec.rest.empty()) throw Error("score spec 'exact' needs a data set: exact:DATA");
  if (auto mixture = dataset_mixture(spec.rest))
    return std::make_shared<MixtureScore>(std::move(*mixture), schedule, text);
  const Dataset data = make_dataset(spec.rest, options.n_data, options.data_seed);
  return std::make_shared<MixtureScore>(GaussianMixture::empirical(data.points), schedule, text);
}

ScoreModelPtr make_gaussian(const Spec& spec, const Schedule& schedule) {
  spec.expect_keys({"m", "v", "eps", "delta", "d"});
  GaussianScoreParams p;
  const double d = spec.number("d", 1.0);
  if (d < 1 || d > 1000 || d != std::floor(d))
    throw Error("score spec 'gaussian': d must be an integer in [1, 1000]");
  p.d = int(d);
  p.m = spec.number("m", p.m);
  p.v = spec.number("v", p.v);
  p.eps = spec.number("eps", p.eps);
  p.delta = spec.number("delta", p.delta);
  return std::make_shared<GaussianScore>(p, schedule);
}

}  // namespace

ScoreModelPtr make_score_model(const std::string& text, const Schedule& schedule,
                               const ScoreSpecOptions& options) {
  const Spec spec = Spec::parse(text);
  if (spec.name == "exact") return make_exact(spec, text, schedule, options);
  if (spec.name == "gaussian") return make_gaussian(spec, schedule);
  if (spec.name == "model") {
    if (spec.rest.empty()) throw Error("model: needs a checkpoint path, e.g. model:assets/swissroll-simple.safetensors");
    return load_mlp_model(spec.rest);
  }
  throw Error("unknown score model '" + text + "' (use " + kForms + ")");
}

}  // namespace diffpath
