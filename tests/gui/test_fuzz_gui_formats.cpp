// Fuzzing the app's own file formats (issue 9) on a CI budget, like tests/test_fuzz_loaders.cpp
// does for CSV and checkpoints: fixed-seed mutations of the shipped preset (JSON) and of the
// demo script, each loaded as the app loads it (load_preset, parse_script). Every input loads
// or is rejected with a one-line Error naming the file, within a second. libFuzzer targets
// fuzz_preset and fuzz_script (tests/fuzz, README "Fuzzing") run the same contract for longer.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "diffpath/files.hpp"
#define DIFFPATH_FUZZ_GUI_FORMATS
#include "../fuzz/mutation_run.hpp"

namespace {

std::string source_file(const std::string& rel) {
  return diffpath::read_regular_file(std::string(DIFFPATH_SOURCE_DIR) + "/" + rel, "seed", 1 << 20);
}

}  // namespace

TEST_CASE("fuzz: the preset (JSON) loader") {
  fuzz::fuzz_loader("preset", source_file("assets/presets/default.json"),
                    {"{", "}", "[", "]", ",", ":", "\"", "null", "true", "false", "-1", "0",
                     "1e309", "1e-400", "nan", "2.5", "18446744073709551615", "\"drawn\":",
                     "[[0.1,null]]", "[[0.1,0.2],[1e308,-1e308]]", "\"data\":", "\"csv:\"",
                     "\"schedule\":", "\"linear:bmin=0,bmax=0\"", "\"model\":", "\"gaussian\"",
                     "\"compare\":", "\"checkpoint\":", "\"/dev/zero\"", "\\u0000", "\xff",
                     "\xEF\xBB\xBF", std::string(300, '['), "\"steps\":", "\"particles\":"},
                    fuzz::load_preset_file);
}

TEST_CASE("fuzz: the script loader") {
  fuzz::fuzz_loader("script", source_file("assets/demo.script"),
                    {"\n", " ", "\t", "#", "set ", "eta ", "-1", "1e309", "nan", "wait-eval",
                     "expect-error ", "expect-error wait-sample", "compare add cosine checkpoint ",
                     "timeout ", "frames ", "99999999999999999999", "screenshot ", "/proc/x.png",
                     "quit", "\r\n", std::string(1, '\0'), "\xff", "export-chart ", "nll-eta",
                     std::string(5000, 'a'), "view ", "train-steps 0"},
                    fuzz::load_script_file);
}
