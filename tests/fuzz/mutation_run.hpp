#pragma once
// A fixed-seed mutation run of one loader under doctest (issue 9): mutations of a valid input
// — byte flips, insertions of format tokens, deletions, duplications, truncations, runs of
// one byte — and for every input the loader keeps its contract (loader_contract.hpp), within
// a second. Shared by tests/test_fuzz_loaders.cpp (core loaders) and
// tests/gui/test_fuzz_gui_formats.cpp (presets, scripts).
#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "diffpath/rng.hpp"
#include "loader_contract.hpp"

namespace fuzz {

using diffpath::Error;
using diffpath::Rng;
using diffpath::stream_seed;

inline constexpr int kInputs = 600;  // per loader

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

inline void fuzz_loader(const std::string& name, const std::string& seed_bytes,
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
}  // namespace fuzz
