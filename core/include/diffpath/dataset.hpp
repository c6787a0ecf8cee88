#pragma once
// Data sets (DESIGN §2): synthetic 2D sets, Gaussians in any dimension, and CSV files.
// Everything is deterministic for a given seed.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "diffpath/common.hpp"

namespace diffpath {

/// Σ_k w_k N(μ_k, v_k I). A component variance of 0 is a point mass (empirical data set).
struct GaussianMixture {
  Vec weights;     // K, non-negative, sums to 1
  Points means;    // d × K
  Vec variances;   // K, isotropic variance per component (≥ 0)

  int dim() const { return int(means.rows()); }
  int size() const { return int(means.cols()); }
  /// n samples (d × n), deterministic for `seed`.
  Points sample(int n, uint64_t seed) const;
  /// The law of α x₀ + σ z for x₀ from this mixture: means·α, variances·α² + σ².
  GaussianMixture diffused(double alpha, double sigma2) const;
  /// The empirical distribution of a point set: weights 1/n, variance 0.
  static GaussianMixture empirical(const Points& points);
};

struct Dataset {
  std::string spec;   // the spec it was made from
  Points points;      // d × n

  int dim() const { return int(points.rows()); }
  int size() const { return int(points.cols()); }
};

/// Makes n points of the data set named by `spec`:
///   swissroll | 25gaussians | 8gaussians | moons | rings | checkerboard
///   | gaussian1d:m=M,v=V | gaussian:d=D,m=M,v=V | csv:PATH
/// For csv:PATH the file's points are returned as they are (n and seed are ignored), after
/// check_data_points.
/// Throws Error on an unknown name or bad arguments; CSV problems name the file and line.
Dataset make_dataset(const std::string& spec, int n, uint64_t seed);

/// The largest |coordinate| a data point may have. Diffusion models assume data of order one
/// (the prior is N(0, I)); far beyond it losses, scores and likelihoods overflow to NaN, so a
/// data set outside ±1e6 is refused with a reason instead of producing garbage.
inline constexpr double kMaxDataMagnitude = 1e6;

/// Throws Error("<source>: point k ...: rescale the data") unless every coordinate of
/// `points` is finite and within ±kMaxDataMagnitude, and there is at least one point.
void check_data_points(const Points& points, const std::string& source);

/// Dimension of the data set without generating it (reads a CSV's first row).
int dataset_dim(const std::string& spec);

/// The data distribution as a Gaussian mixture where it is one (25gaussians, 8gaussians,
/// gaussian1d, gaussian); std::nullopt for the others.
std::optional<GaussianMixture> dataset_mixture(const std::string& spec);

/// Names of the built-in data sets, for menus and --help.
std::vector<std::string> dataset_names();

}  // namespace diffpath
