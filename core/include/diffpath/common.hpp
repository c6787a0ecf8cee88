#pragma once
// Small shared vocabulary of the core: point batches, the user-facing error type, and the
// "name:key=value,..." spec strings used for schedules, data sets and score models.
#include <Eigen/Core>
#include <map>
#include <stdexcept>
#include <string>

namespace diffpath {

/// A batch of points, one point per column (d × n). Column-major storage keeps each point
/// contiguous, and a network layer over the batch is one matrix product W · X.
using Points = Eigen::MatrixXd;
using Vec = Eigen::VectorXd;

/// Every error a user can cause (bad spec, bad file, bad numbers). what() is one line that
/// says what was wrong and where.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A parsed spec string "name:key=value,key=value" (or "name:rest" for path-like arguments,
/// e.g. "csv:data/points.csv"). Keys are looked up strictly: unknown keys are an error so a
/// typo never silently falls back to a default.
struct Spec {
  std::string name;                          // text before the first ':'
  std::string rest;                          // raw text after the first ':' ("" if none)
  std::map<std::string, std::string> args;   // rest split as key=value pairs (if it parses so)

  static Spec parse(const std::string& text);
  /// Numeric argument `key`, or `fallback` when absent. Throws Error if not a finite number.
  double number(const std::string& key, double fallback) const;
  bool has(const std::string& key) const { return args.count(key) != 0; }
  /// Throws Error naming the first key that is not in `allowed`.
  void expect_keys(std::initializer_list<const char*> allowed) const;
};

/// Parses a finite double; throws Error mentioning `what` otherwise.
double parse_number(const std::string& text, const std::string& what);

/// The shortest decimal text that parses back to exactly `v` ("0.3", not
/// "0.29999999999999999"): for spec strings and labels people read.
std::string format_number(double v);

}  // namespace diffpath
