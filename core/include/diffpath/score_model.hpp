#pragma once
// The score-model interface s_θ(x, t) ≈ ∇log p_t(x), with exact x-derivatives up to third
// order (DESIGN §1.6), and the analytic models: a Gaussian linear score with error knobs and
// the exact score of a Gaussian mixture (or of an empirical point set).
#include <memory>
#include <string>

#include "diffpath/common.hpp"
#include "diffpath/dataset.hpp"
#include "diffpath/schedule.hpp"

namespace diffpath {

/// Rows of ScoreJet's flat layouts in dimension d: the one place the index arithmetic lives.
struct JetIndex {
  int d;
  int J(int i, int j) const { return i * d + j; }                           // ∂_j s_i
  int H(int i, int j, int k) const { return (i * d + j) * d + k; }          // ∂_j ∂_k s_i
  int T(int i, int j, int k, int l) const { return ((i * d + j) * d + k) * d + l; }  // ∂_j ∂_k ∂_l s_i
};

/// A score and its x-derivatives for a batch of n points at one time t. Flat layouts,
/// one column per point, d = dimension, rows given by JetIndex{d}:
///   s(i)                         = s_i
///   J(i*d + j)                   = ∂_j s_i
///   H((i*d + j)*d + k)           = ∂_j ∂_k s_i
///   T(((i*d + j)*d + k)*d + l)   = ∂_j ∂_k ∂_l s_i
struct ScoreJet {
  int order = 0;        // highest derivative order filled
  Points s;             // d   × n
  Eigen::MatrixXd J;    // d²  × n (order ≥ 1)
  Eigen::MatrixXd H;    // d³  × n (order ≥ 2)
  Eigen::MatrixXd T;    // d⁴  × n (order ≥ 3)
};

class ScoreModel {
 public:
  virtual ~ScoreModel() = default;
  virtual int dim() const = 0;
  /// A spec that recreates the model where possible ("exact:25gaussians", "model:PATH", ...).
  virtual std::string spec() const = 0;
  /// s(x, t) for x (d × n); out is resized to d × n. Const and thread-safe.
  virtual void score(const Points& x, double t, Points& out) const = 0;
  /// s and its derivatives up to `order` (0..max_order()), always in double precision.
  virtual void jet(const Points& x, double t, int order, ScoreJet& out) const = 0;
  /// s and ∇s (a jet of order 1) in the precision of score(), not necessarily double: what
  /// the η-sampler's likelihood needs at every step of every path (likelihood_eta.cpp).
  virtual void score_jacobian(const Points& x, double t, ScoreJet& out) const {
    jet(x, t, 1, out);
  }
  virtual int max_order() const { return 3; }
};

using ScoreModelPtr = std::shared_ptr<const ScoreModel>;

namespace detail {
struct MixtureBlocks;  // score_model.cpp: the equal-variance fast path's component layout
}

/// Linear score for Gaussian data N(m, v I) in d dimensions, with deliberate errors:
/// s = −(x − a(t)) / b(t), a = α m + delta, b = (1 + eps)(α² v + σ²).
/// eps = delta = 0 is the exact score of the data.
struct GaussianScoreParams {
  int d = 1;
  double m = 0.0, v = 1.0, eps = 0.0, delta = 0.0;
};

class GaussianScore final : public ScoreModel {
 public:
  GaussianScore(GaussianScoreParams params, Schedule schedule);
  int dim() const override { return params_.d; }
  std::string spec() const override;
  void score(const Points& x, double t, Points& out) const override;
  void jet(const Points& x, double t, int order, ScoreJet& out) const override;
  double a(double t) const;
  double b(double t) const;
  const GaussianScoreParams& params() const { return params_; }
  const Schedule& schedule() const { return schedule_; }

 private:
  GaussianScoreParams params_;
  Schedule schedule_;
};

/// The exact score ∇log p_t of data distributed as a Gaussian mixture (point masses allowed:
/// the empirical "ideal" score of a training set), p_t = data.diffused(α(t), σ(t)²).
/// Log-sum-exp stable at any distance from the data; derivatives are the mixture's cumulants.
class MixtureScore final : public ScoreModel {
 public:
  MixtureScore(GaussianMixture data, Schedule schedule, std::string spec);
  int dim() const override { return data_.dim(); }
  std::string spec() const override { return spec_; }
  void score(const Points& x, double t, Points& out) const override;
  void jet(const Points& x, double t, int order, ScoreJet& out) const override;
  const GaussianMixture& data() const { return data_; }

 private:
  GaussianMixture data_;
  Schedule schedule_;
  std::string spec_;
  // Components sorted into spatially compact blocks, built when all variances are equal
  // (empirical data sets, most analytic mixtures); null otherwise (the general path).
  std::shared_ptr<const detail::MixtureBlocks> blocks_;
};

/// Options for building models from specs that need data.
struct ScoreSpecOptions {
  int n_data = 3000;        // training-set size for exact:<empirical data set>
  uint64_t data_seed = 0;
};

/// Builds a score model from a spec:
///   exact:DATA                       exact mixture score (25gaussians, 8gaussians, gaussian...),
///                                    or the empirical score of n_data points of DATA
///   gaussian:m=..,v=..,eps=..,delta=..[,d=..]
///   model:PATH                       a safetensors checkpoint (see checkpoint.hpp)
/// Throws Error with a one-line reason on a bad spec or file.
ScoreModelPtr make_score_model(const std::string& spec, const Schedule& schedule,
                               const ScoreSpecOptions& options = {});

}  // namespace diffpath
