#pragma once
// The experiment's numeric settings as one table: script key, preset JSON place, the
// Experiment member, range, help text (the default is the member's initial value in
// experiment.hpp). The panels, the script's `set` command and the preset JSON all go through
// it, and Experiment::validate() — the only range check — reads the ranges from it.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "experiment.hpp"

namespace diffpath::gui {

struct Param {
  const char* key;       // script: `set KEY VALUE`
  const char* section;   // preset JSON: j[section][name] ("" = top level)
  const char* name;
  double lo, hi;         // inclusive range
  bool integer;
  const char* help;      // one line, for tooltips and error messages
  // Exactly one member pointer is set.
  double Experiment::*real = nullptr;
  int Experiment::*count = nullptr;
  uint64_t Experiment::*seed = nullptr;

  double get(const Experiment& e) const;
  /// Stores v (no range check: that is validate()'s) and applies the row's coupled rule (the
  /// scrubber's frame stride follows the step count).
  void set(Experiment& e, double v) const;
  /// "steps must be an integer in [2, 100000]".
  std::string range_text() const;
  /// A value of this row as text (integers without exponent).
  std::string value_text(double v) const;
};

std::span<const Param> params();
/// The row for script key `key`, or nullptr.
const Param* find_param(std::string_view key);

}  // namespace diffpath::gui
