// `diffpath-cli table` end to end on a tiny budget: four rows in the paper's order, our numbers
// next to the paper's, Markdown and CSV written, JSON consistent with the CSV, and flag errors
// rejected. (The numbers of a 40-step model mean nothing; the structure and plumbing do.)
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string l; std::getline(ss, l);) out.push_back(l);
  return out;
}

TEST_CASE("table: tiny run writes the paper's four rows beside ours") {
  const fs::path dir = fs::temp_directory_path() / "diffpath-test-table";
  fs::remove_all(dir);
  const std::string cmd = std::string(DIFFPATH_CLI) + " table --steps 40 --n 16 --threads 2 --out-dir " +
                          dir.string() + " --json > " + (dir.string() + ".json") + " 2>/dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);

  const auto md = lines_of(read_file(dir / "table.md"));
  REQUIRE(md.size() == 6);  // header, rule, four rows
  CHECK(md[2].find("| swissroll | simple |") == 0);
  CHECK(md[3].find("| swissroll | cosine |") == 0);
  CHECK(md[4].find("| 25gaussians | simple |") == 0);
  CHECK(md[5].find("| 25gaussians | cosine |") == 0);
  CHECK(md[2].find("1.39 ± 0.05") != std::string::npos);    // the paper's values (DESIGN §2)
  CHECK(md[5].find("-19.65 ± 17.46") != std::string::npos);

  const auto csv = lines_of(read_file(dir / "table.csv"));
  REQUIRE(csv.size() == 5);
  CHECK(csv[0].rfind("data,schedule,nll,nll_se,nll_paper", 0) == 0);

  const auto j = nlohmann::json::parse(read_file(dir.string() + ".json"));
  REQUIRE(j["rows"].size() == 4);
  for (const auto& row : j["rows"]) {
    CHECK(row["train_steps"] == 40);
    const double nll = row["tol_1e-5"]["nll"]["mean"];
    CHECK(std::isfinite(nll));
    CHECK(row["tol_1e-5"]["n"].get<int>() + row["tol_1e-5"]["excluded"].get<int>() == 16);
    // The same model and points at two tolerances: NLLs agree to far better than their spread.
    const double nll3 = row["tol_1e-3"]["nll"]["mean"];
    CHECK(std::abs(nll - nll3) < 0.05);
    // The η columns (NLL of the η-sampler) and the robust statistics of −c.
    CHECK(std::isfinite(row["eta"]["0.1"]["mean"].get<double>()));
    CHECK(std::isfinite(row["eta"]["1"]["mean"].get<double>()));
    CHECK(row["eta"]["1"]["mc_se"].get<double>() >= 0);
    CHECK(std::isfinite(row["wkb_1e-5_robust"]["median"].get<double>()));
  }
  CHECK(md[0].find("NLL η=0.1") != std::string::npos);
  CHECK(csv[0].find("wkb_1e-5_median,wkb_1e-5_trimmed_mean,nll_eta_0.1") != std::string::npos);
  // Trained models are cached: a second run reuses them instead of training again.
  CHECK(fs::exists(dir / "models" / "swissroll-simple-40.safetensors"));

  // The paper's protocol on the same models: its own files, whole batches of 10 dropped.
  const std::string paper = std::string(DIFFPATH_CLI) + " table --steps 40 --n 16 --threads 2 " +
                            "--protocol paper --json --out-dir " + dir.string() + " > " +
                            dir.string() + ".paper.json";
  REQUIRE(std::system(paper.c_str()) == 0);
  const auto pmd = lines_of(read_file(dir / "table-paper-protocol.md"));
  REQUIRE(pmd.size() == 6);
  CHECK(pmd[0].find("dropped batches") != std::string::npos);
  const auto pj = nlohmann::json::parse(read_file(dir.string() + ".paper.json"));
  for (const auto& row : pj["rows"]) {
    CHECK(row["protocol"] == "paper");
    const int dropped = row["dropped_batches"];
    CHECK(dropped >= 0);
    CHECK(dropped < 2);  // 2 batches (10 + 6 points); all dropped would be an error
    const int used = row["tol_1e-5"]["n"].get<int>() + row["tol_1e-5"]["excluded"].get<int>();
    if (dropped == 0) CHECK(used == 16);
    else CHECK((used == 6 || used == 10));  // the batch of 10 or the batch of 6 went
  }
  fs::remove(dir.string() + ".paper.json");
  fs::remove_all(dir);
  fs::remove(dir.string() + ".json");
}

TEST_CASE("table: bad flags exit non-zero") {
  const std::string base = std::string(DIFFPATH_CLI) + " table";
  CHECK(std::system((base + " --quick --paper > /dev/null 2>&1").c_str()) != 0);
  CHECK(std::system((base + " --n 0 > /dev/null 2>&1").c_str()) != 0);
  CHECK(std::system((base + " --protocol theirs > /dev/null 2>&1").c_str()) != 0);
  CHECK(std::system((base + " --out-dir /proc/forbidden --steps 1 --n 2 > /dev/null 2>&1").c_str()) != 0);
}
