#pragma once
// The shipped simple-schedule swiss-roll network (assets/swissroll-simple.safetensors), loaded
// once per benchmark process. The assets directory comes from CMake (DIFFPATH_ASSETS_DIR), not
// __FILE__: with ccache's base_dir, __FILE__ is relative to the build directory.
#include <memory>
#include <string>

#include "diffpath/checkpoint.hpp"

inline std::string shipped_asset(const std::string& name) {
  return std::string(DIFFPATH_ASSETS_DIR) + "/" + name;
}

inline const diffpath::ScoreModel& shipped_simple_network() {
  static const std::shared_ptr<const diffpath::ScoreModel> model(
      diffpath::load_mlp_model(shipped_asset("swissroll-simple.safetensors")));
  return *model;
}
