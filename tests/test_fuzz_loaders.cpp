// Fuzzing the file loaders (issue 9) on a CI budget: fixed-seed mutations of a valid CSV and of
// a valid safetensors checkpoint — byte flips, insertions of format tokens, deletions,
// duplications, truncations, a rewritten header length. For every input the loader keeps its
// contract (tests/fuzz/loader_contract.hpp): no crash, no hang (each input within a second), and
// a rejected input gets a one-line Error naming the file. Coverage-guided runs for longer:
// the libFuzzer targets in tests/fuzz (README, "Fuzzing").
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "diffpath/checkpoint.hpp"
#include "diffpath/files.hpp"
#include "diffpath/rng.hpp"
#include "fuzz/mutation_run.hpp"

using namespace diffpath;
using fuzz::fuzz_loader;
using fuzz::Mutator;

namespace {

std::string valid_checkpoint() {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("diffpath-fuzz-seed-" + std::to_string(getpid()))).string();
  save_checkpoint(path, MlpParams::init(2, {3, 3}, Activation::Swish, 7),
                  {{"schedule", "simple"}, {"dataset", "swissroll"}});
  const std::string bytes = read_regular_file(path, "seed", 1 << 20);
  std::remove(path.c_str());
  return bytes;
}

}  // namespace

TEST_CASE("fuzz: the CSV data-set loader") {
  fuzz_loader("csv", "x,y\n0.1,0.2\n-1.5,3e-2\n\"4\", 5 \n\n7,8\r\n",
              {",", "\n", "\r\n", "\"", " ", "1e309", "-1e308", "nan", "inf", "+", "-", "e",
               ".", "0x1p3", "\xEF\xBB\xBF", std::string(1, '\0'), "1e-400", "x", "1e7",
               std::string(1200, ','), "99999999999999999999999"},
              fuzz::load_csv_dataset);
}

TEST_CASE("fuzz: the safetensors checkpoint loader") {
  fuzz_loader(
      "checkpoint", valid_checkpoint(),
      {"{", "}", "[", "]", ",", ":", "\"", "null", "true", "-1", "1e400", "18446744073709551615",
       "\"F16\"", "\"BF16\"", "\"I32\"", "\"dtype\"", "\"shape\"", "\"data_offsets\"",
       "\"layers.0.weight\"", "\"layers.7.bias\"", "\"__metadata__\"", "\\u0000", "\xff", "0",
       "[0,0]", "[4294967296,2]", "{\"activation\":\"relu\"}"},
      fuzz::load_checkpoint_model, [](Mutator& m, std::string& s) {
        // Rewrite the 8-byte header length: off by a little, or anything at all.
        if (s.size() < 8) return;
        uint64_t len = 0;
        for (int i = 7; i >= 0; --i) len = (len << 8) | static_cast<unsigned char>(s[i]);
        len = m.below(2) ? len + m.below(17) - 8 : m.rng.next() >> m.below(64);
        for (int i = 0; i < 8; ++i) s[i] = char(len >> (8 * i));
      });
}
