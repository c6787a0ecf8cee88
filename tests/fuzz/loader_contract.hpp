#pragma once
// The contract every file loader keeps on arbitrary bytes (issue 9), shared by the fixed-seed
// doctest run (tests/test_fuzz_loaders.cpp) and the libFuzzer entry points (tests/fuzz/):
// the load returns, or throws diffpath::Error whose what() is one line naming the file.
// Crashes and sanitizer reports end the process; hangs are caught by the callers' clocks.
#include <fstream>
#include <string>
#include <string_view>

#include "diffpath/checkpoint.hpp"
#include "diffpath/dataset.hpp"
#ifdef DIFFPATH_FUZZ_GUI_FORMATS
#include "experiment.hpp"
#include "script.hpp"
#endif

namespace fuzz {

/// The loaders under test, each as the app uses it.
inline void load_csv_dataset(const std::string& path) { diffpath::make_dataset("csv:" + path, 1, 0); }
inline void load_checkpoint_model(const std::string& path) { diffpath::load_mlp_model(path); }
#ifdef DIFFPATH_FUZZ_GUI_FORMATS  // the app's formats: link diffpath_gui_formats
inline void load_preset_file(const std::string& path) { diffpath::gui::load_preset(path); }
inline void load_script_file(const std::string& path) { diffpath::gui::parse_script(path); }
#endif

/// Writes `bytes` to `path` and runs `load(path)`: "" if the contract held, else what broke it.
template <class Load>
std::string contract_violation(const std::string& path, std::string_view bytes, Load&& load) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size()));
  }
  try {
    load(path);
    return "";
  } catch (const diffpath::Error& e) {
    const std::string what = e.what();
    if (what.find('\n') != std::string::npos) return "multi-line error: " + what;
    if (what.find(path) == std::string::npos) return "error without the file name: " + what;
    return "";
  } catch (const std::exception& e) {
    return std::string("not a diffpath::Error: ") + e.what();
  }
}

}  // namespace fuzz
