#pragma once
// The score network of DESIGN §2: input (x, t) → hidden → ... → d, elementwise activation,
// LeCun-normal weights, zero biases. Evaluated batched (register-blocked products over chunks
// of particles, mlp.cpp) in float or double; x-derivatives up to third order by forward (Taylor) mode
// through the layers, in double, exact to round-off.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "diffpath/score_model.hpp"

namespace diffpath {

enum class Activation { Swish, Tanh, Softplus };
std::string activation_name(Activation a);
Activation parse_activation(const std::string& name);  // throws Error

/// Architecture and weights. Layer i maps h ↦ W[i] h + b[i]; the activation follows every
/// layer except the last. W[0] has d + 1 columns: the input is (x_1..x_d, t).
struct MlpParams {
  int dim = 2;                          // d
  Activation activation = Activation::Swish;
  std::vector<Eigen::MatrixXd> W;       // out × in, row-major in checkpoints
  std::vector<Eigen::VectorXd> b;

  /// LeCun-normal weights (std = 1/sqrt(fan_in)), zero biases; hidden = {128,128,128} is the
  /// paper's network.
  static MlpParams init(int dim, const std::vector<int>& hidden, Activation act, uint64_t seed);
  std::vector<int> hidden() const;      // widths of the hidden layers
  int64_t parameter_count() const;
  bool all_finite() const;
  /// Throws Error unless the layer chain is consistent: W[0] is h₁ × (d + 1), each W[i] takes
  /// the previous layer's outputs, b[i] matches W[i]'s rows, the last layer has d outputs.
  void validate() const;
};

enum class Precision { Float, Double };

template <class Scalar>
struct MlpForward;  // the forward pass's weight layout (mlp.cpp)

class Mlp final : public ScoreModel {
 public:
  /// `spec` is what spec() returns (e.g. "model:assets/swissroll-simple.safetensors").
  explicit Mlp(MlpParams params, std::string spec = "mlp");
  int dim() const override { return params_.dim; }
  std::string spec() const override { return spec_; }
  /// Batched forward pass in the evaluation precision (Float by default: sampling speed).
  void score(const Points& x, double t, Points& out) const override;
  /// Value and derivatives in x up to order 3, always double.
  void jet(const Points& x, double t, int order, ScoreJet& out) const override;
  /// The order-1 jet in the evaluation precision: in Float twice as fast as jet(x, t, 1),
  /// relative round-off ~1e-6 (the η-likelihood sums it over paths, in double).
  void score_jacobian(const Points& x, double t, ScoreJet& out) const override;

  void set_precision(Precision p) { precision_ = p; }
  Precision precision() const { return precision_; }
  const MlpParams& params() const { return params_; }

 private:
  MlpParams params_;
  std::shared_ptr<const MlpForward<float>> forward_f_;    // score() in each precision
  std::shared_ptr<const MlpForward<double>> forward_d_;
  std::string spec_;
  Precision precision_ = Precision::Float;
};

}  // namespace diffpath
