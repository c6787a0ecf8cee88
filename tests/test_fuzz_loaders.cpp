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
#include "fuzz/loader_contract.hpp"

using namespace diffpath;

namespace {

constexpr int kInputs = 600;  // per loader

struct Mutator {
  Rng rng;
  std::vector<std::string> tokens;  // format-specific pieces worth inserting

  size_t below(size_t n) { return n == 0 ? 0 : size_t(rng.next() % n); }

  std::string mutate(std::string s) {
    const int edits = 1 + int(below(4));
    for (int e = 0; e < edits; ++e) {
      const size_t at = below(s.size() + 1);
      switch (below(7)) {
        case 0:  // flip bits of one byte
          if (!s.empty()) s[std::min(at, s.size() - 1)] ^= char(1 + below(255));
          break;
        case 1:  // insert a token
          s.insert(at, tokens[below(tokens.size())]);
          break;
        case 2:  // delete a range
          s.erase(at, 1 + below(16));
          break;
        case 3: {  // duplicate a range
          const std::string piece = s.substr(at, 1 + below(64));
          s.insert(below(s.size() + 1), piece);
          break;
        }
        case 4:  // truncate
          s.resize(at);
          break;
        case 5:  // a random byte
          s.insert(at, 1, char(below(256)));
          break;
        default:  // overwrite a run with one repeated byte
          for (size_t i = at, n = 1 + below(12); i < s.size() && n > 0; ++i, --n) s[i] = char(below(256));
      }
    }
    return s;
  }
};

void fuzz_loader(const std::string& name, const std::string& seed_bytes,
                 std::vector<std::string> tokens, void (*load)(const std::string&),
                 void (*extra)(Mutator&, std::string&) = nullptr) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("diffpath-fuzz-" + name + "-" + std::to_string(getpid())))
                               .string();
  Mutator m{Rng(stream_seed(20260901, name.size())), std::move(tokens)};
  REQUIRE(fuzz::contract_violation(path, seed_bytes, load).empty());
  int rejected = 0;
  std::string current = seed_bytes;
  for (int i = 0; i < kInputs; ++i) {
    // Mostly one mutation step from the seed; sometimes keep walking from the last input.
    std::string input = m.mutate(m.below(4) == 0 ? current : seed_bytes);
    if (extra && m.below(3) == 0) extra(m, input);
    current = input;
    const auto start = std::chrono::steady_clock::now();
    const std::string problem = fuzz::contract_violation(path, input, load);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    CAPTURE(i);
    CHECK_MESSAGE(problem.empty(), problem);
    CHECK(seconds < 1.0);
    try {
      load(path);
    } catch (const Error&) {
      ++rejected;
    }
  }
  std::remove(path.c_str());
  MESSAGE(name << ": " << kInputs << " inputs, " << rejected << " rejected");
  CHECK(rejected > kInputs / 10);  // the mutations do reach the error paths
}

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
