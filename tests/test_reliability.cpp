// Issue 9, the command-line side: no silent garbage, no hangs, nothing lost. Each case runs the
// real diffpath-cli (or the core call behind it) on an input that, before the fix, ended
// "successfully" with NaN, hung, or lost the work: now it is an error with a one-line reason
// naming what was wrong, found before the work starts where it can be.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "diffpath/checkpoint.hpp"
#include "diffpath/files.hpp"
#include "diffpath/io.hpp"
#include "diffpath/schedule.hpp"
#include "run_command.hpp"

using namespace diffpath;
namespace fs = std::filesystem;

namespace {

const fs::path& dir() {
  static const fs::path d = [] {
    const fs::path p = fs::temp_directory_path() / ("diffpath-test-rel-" + std::to_string(getpid()));
    fs::remove_all(p);
    fs::create_directories(p);
    return p;
  }();
  return d;
}

std::string file(const std::string& name) { return (dir() / name).string(); }

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

CommandResult cli(const std::string& args, int timeout_s = 120) {
  return run_capture(std::string(DIFFPATH_CLI) + " " + args, timeout_s);
}

/// The CLI's error contract (DESIGN §4): a non-zero exit and, as the last stderr line, one
/// line "diffpath-cli: error: ..." containing `needle`.
void check_error(const CommandResult& r, const std::string& needle) {
  CAPTURE(r.err);
  CHECK(r.code != 0);
  CHECK(r.code != 124);  // not killed by the timeout
  std::string last = r.err;
  while (!last.empty() && last.back() == '\n') last.pop_back();
  last = last.substr(last.rfind('\n') == std::string::npos ? 0 : last.rfind('\n') + 1);
  CHECK(last.rfind("diffpath-cli: error: ", 0) == 0);
  CHECK(last.find(needle) != std::string::npos);
  CHECK(last.size() < 400);  // no 309-digit numbers
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

const std::string kHugeCsv = "x,y\n1e308,-1e308\n-1e308,1e308\n1e308,1e308\n";

}  // namespace

// ------------------------------------------------------------------- 1: training blow-ups

TEST_CASE("train: a hopeless blow-up stops with an error and keeps the last good model") {
  const std::string out = file("diverged.safetensors");
  const CommandResult r = cli("train --data swissroll --steps 300 --hidden 16 --depth 2 "
                              "--n-data 256 --batch 128 --lr 1e10 --quiet --out " + out);
  check_error(r, "training diverged 10 times");
  CHECK(r.err.find("saved in " + out) != std::string::npos);
  const Checkpoint ck = load_checkpoint(out);  // written, and a valid (untrained) model
  CHECK(ck.params.all_finite());
  CHECK(ck.metadata.at("diverged") == "true");
  CHECK(ck.metadata.at("steps") == "0");
}

TEST_CASE("train: lr = 10 is not a silent success with a useless model") {
  // The case: loss 29 → 3.2e8, exit 0. Now every blow-up is rolled back (lowering the
  // lr); the run either recovers to a sane loss or fails with a reason.
  const std::string out = file("lr10.safetensors");
  const CommandResult r = cli("train --data swissroll --steps 300 --hidden 64 --lr 10 --quiet "
                              "--out " + out);
  CAPTURE(r.err);
  if (r.code == 0) {
    const Checkpoint ck = load_checkpoint(out);
    CHECK(std::stod(ck.metadata.at("final_loss")) < 50.0);
    CHECK(std::stoi(ck.metadata.at("rollbacks")) >= 1);
  } else {
    check_error(r, "training diverged");
  }
}

// ------------------------------------------------------------------- 2: NaN-producing inputs

TEST_CASE("inputs that would make every number NaN are refused with a reason") {
  const std::string huge = file("huge.csv");
  write_text(huge, kHugeCsv);
  SUBCASE("sample with the exact score of ±1e308 data") {
    check_error(cli("sample --score exact:csv:" + huge + " --n 10 --steps 10 --out " +
                    file("s.csv")),
                "CSV data set '" + huge + "': point 1 has coordinate 1e+308");
    CHECK(!fs::exists(file("s.csv")));
  }
  SUBCASE("nll on ±1e308 data: no NaN result, no 310-digit x0") {
    const CommandResult r = cli("nll --score exact:swissroll --data csv:" + huge + " --no-error");
    check_error(r, "rescale it");
    CHECK(r.out.find("nan") == std::string::npos);
  }
  SUBCASE("train on ±1e308 data names the data as the cause") {
    check_error(cli("train --data csv:" + huge + " --steps 5 --quiet --out " + file("m.safetensors")),
                "diffusion models need data of order one");
  }
  SUBCASE("a schedule without noise, for sample and train alike") {
    const std::string why = "schedule 'linear:bmin=0,bmax=0,tmin=0.001,tmax=1': the noise vanishes";
    check_error(cli("sample --score exact:25gaussians --schedule linear:bmin=0,bmax=0 --n 10 "
                    "--steps 10 --out " + file("s.csv")),
                why);
    check_error(cli("train --schedule linear:bmin=0,bmax=0 --steps 5 --quiet --out " +
                    file("m.safetensors")),
                why);
    CHECK_THROWS_WITH_AS(Schedule::linear(0, 0).validate(), doctest::Contains("noise vanishes"),
                         Error);
  }
}

TEST_CASE("a result that is NaN, or uses no points, is an error with a reason") {
  // A network whose output is ~1e300: every sample overflows. One with output 1e12: every
  // probability-flow path runs away, so the NLL has no point to average.
  MlpParams p = MlpParams::init(2, {4}, Activation::Swish, 1);
  p.W.back().setConstant(1e300);
  p.b.back().setConstant(1e300);
  const std::string overflowing = file("overflowing.safetensors");
  save_checkpoint(overflowing, p, {}, /*f64=*/true);
  check_error(cli("sample --score model:" + overflowing + " --n 10 --steps 50 --out " + file("w.csv")),
              "sampling gave non-finite values for 10 of 10 particles");
  CHECK(!fs::exists(file("w.csv")));

  p.W.back().setConstant(0.1);
  p.b.back().setConstant(1e12);
  const std::string runaway = file("runaway.safetensors");
  save_checkpoint(runaway, p, {}, true);
  check_error(cli("nll --score model:" + runaway + " --data swissroll --n 4 --no-error"),
              "no point could be evaluated: all 4 were excluded");
}

// ------------------------------------------------------------------- 3: hangs

TEST_CASE("devices, directories and impossible headers are refused before reading") {
  const std::string pts = file("pts.csv");
  write_text(pts, "0.1,0.2\n");
  const auto start = std::chrono::steady_clock::now();
  check_error(cli("score --score model:/dev/zero --t 0.5 --in " + pts + " --out " + file("o.csv"), 20),
              "checkpoint '/dev/zero': is not a regular file");
  check_error(cli("score --score model:/dev/urandom --t 0.5 --in " + pts + " --out " + file("o.csv"), 20),
              "checkpoint '/dev/urandom': is not a regular file");
  check_error(cli("data --data csv:/dev/zero --out " + file("o.csv"), 20),
              "CSV file '/dev/zero': is not a regular file");
  check_error(cli("score --score model:" + dir().string() + " --t 0.5 --in " + pts + " --out " +
                  file("o.csv"), 20),
              "checkpoint '" + dir().string() + "': is a directory");
  CHECK(seconds_since(start) < 20);

  // A header length far beyond the file: refused from the 8 bytes, nothing else is read.
  const std::string bad = file("bad-header.safetensors");
  write_text(bad, std::string("\xff\xff\xff\xff\xff\xff\xff\x0f", 8) + "{}");
  CHECK_THROWS_WITH_AS(load_checkpoint(bad), doctest::Contains("bad header length"), Error);
}

// ------------------------------------------------------------------- 7: outputs checked first

TEST_CASE("every output path is checked before the work starts, with the reason") {
  const std::string missing = file("nodir") + "/x";
  const auto start = std::chrono::steady_clock::now();
  // Each of these would run for minutes before writing anything.
  check_error(cli("train --steps 1000000 --out " + missing + ".safetensors"),
              "cannot write '" + missing + ".safetensors': directory '" + file("nodir") +
                  "' does not exist");
  check_error(cli("train --steps 1000000 --out " + file("m.safetensors") + " --loss-csv " +
                  missing + ".csv"),
              "cannot write '" + missing + ".csv'");
  check_error(cli("sample --score exact:25gaussians --n 10000000 --out " + missing + ".csv"),
              "does not exist");
  check_error(cli("sample --score exact:25gaussians --n 10000000 --out " + file("s.csv") +
                  " --plot " + file("s.txt")),
              "use a .png, .svg or .pdf file name");
  const CommandResult nll =
      cli("nll --score exact:25gaussians --data 25gaussians --n 1000000 --csv " + missing);
  check_error(nll, "cannot write '" + missing + "'");
  check_error(cli("data --data swissroll --out " + dir().string()), "is a directory");
  CHECK(seconds_since(start) < 30);
}

// ------------------------------------------------------------------- 8: atomic writes

TEST_CASE("atomic writes follow symlinks, keep the mode, and write through to devices") {
  const Points p = Points::Constant(2, 3, 0.5);
  SUBCASE("a symlink stays a symlink; its target gets the new content") {
    const std::string target = file("target.csv"), link = file("link.csv");
    write_text(target, "old\n");
    fs::remove(link);
    fs::create_symlink(target, link);
    write_points_csv(link, p);
    CHECK(fs::is_symlink(link));
    CHECK(read_points_csv(target).cols() == 3);
  }
  SUBCASE("the mode of a replaced file is kept") {
    const std::string f = file("private.csv");
    write_text(f, "old\n");
    fs::permissions(f, fs::perms::owner_read | fs::perms::owner_write);
    write_points_csv(f, p);
    CHECK(fs::status(f).permissions() == (fs::perms::owner_read | fs::perms::owner_write));
    CHECK(read_points_csv(f).cols() == 3);
  }
  SUBCASE("/dev/full: the error says why, and the device stays a device") {
    CHECK_THROWS_WITH_AS(write_points_csv("/dev/full", p),
                         "cannot write '/dev/full': No space left on device", Error);
    struct stat st;
    REQUIRE(stat("/dev/full", &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
    write_points_csv("/dev/null", p);  // written through, no rename attempted
    REQUIRE(stat("/dev/null", &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
  }
  SUBCASE("a failed write leaves no temporary behind") {
    const std::string f = file("sub/none.csv");
    CHECK_THROWS_WITH_AS(write_points_csv(f, p), doctest::Contains("No such file or directory"),
                         Error);
    for (const auto& entry : fs::directory_iterator(dir()))
      CHECK(entry.path().filename().string().find(".tmp") == std::string::npos);
  }
}

// ------------------------------------------------------------------- 9: signals

TEST_CASE("train saves on SIGTERM, and a second signal during the save does not lose it") {
  for (const std::string signal : {"TERM", "INT", "HUP"}) {
    CAPTURE(signal);
    const std::string out = file("signalled.safetensors"), err = file("train.err");
    fs::remove(out);
    // Removed here, not by the shell's 2> (which truncates in the child, possibly after the
    // wait loop below has read the previous run's "step" and signalled too early).
    fs::remove(err);
    // Wait for the first progress line (training is under way), then signal twice at once.
    const std::string script =
        std::string(DIFFPATH_CLI) + " train --steps 100000000 --hidden 16 --depth 1 --out " +
        out + " 2>" + err + " & p=$!; for i in $(seq 600); do grep -q step " + err +
        " && break; sleep 0.1; done; kill -s " + signal + " $p; kill -s " + signal +
        " $p; wait $p; echo $?";
    const CommandResult r = run_capture(script, 120);
    CAPTURE(read_text(err));
    CHECK(r.out == "1\n");  // failed (interrupted), not killed by the signal (143 / 130)
    REQUIRE(fs::exists(out));
    const Checkpoint ck = load_checkpoint(out);
    CHECK(ck.metadata.at("interrupted") == "true");
    CHECK(read_text(err).find("interrupted by") != std::string::npos);
  }
}

// ------------------------------------------------------------------- 10: clear messages

TEST_CASE("option errors say what is wrong without 309-digit numbers") {
  const std::string s = file("s.csv");
  check_error(cli("nll --score exact:25gaussians --data 25gaussians --rtol 0"),
              "--rtol: must be > 0, got 0");
  check_error(cli("train --steps 0 --out " + file("m.safetensors")), "--steps: must be > 0, got 0");
  check_error(cli("sample --score exact:25gaussians --out " + s + " --trajectories " +
                  file("t.csv") + " --stride 0"),
              "--stride: must be > 0, got 0");
  check_error(cli("sample --score exact:25gaussians --out " + s + " --threads -1"),
              "--threads: must be >= 0, got -1");
  check_error(cli("sample --score exact:25gaussians --out " + s + " --eta 0.5abc"),
              "'0.5abc' is not a number");
  check_error(cli("sample --score exact:25gaussians --out " + s + " --eta 2"),
              "--eta: must be in [0, 1], got 2");
}

TEST_CASE("CSV values out of a double's range, and a byte-order mark") {
  const std::string f = file("range.csv");
  write_text(f, "0.1,0.2\n1e309,0.3\n");
  CHECK_THROWS_WITH_AS(read_points_csv(f),
                       ("bad CSV '" + f + "' line 2: value '1e309' out of range of a double in column 1").c_str(),
                       Error);
  write_text(f, "\xEF\xBB\xBF" "0.1,0.2\n0.3,0.4\n");
  const Points p = read_points_csv(f);
  REQUIRE(p.cols() == 2);
  CHECK(p(0, 0) == 0.1);
  write_text(f, "\xEF\xBB\xBF" "x,y\n0.3,0.4\n");
  CHECK(read_points_csv(f).cols() == 1);
}

// ------------------------------------------------------------------- 11: --n and seeds

TEST_CASE("nll --n limits a CSV data set; negative seeds are refused, not wrapped") {
  const std::string f = file("ten.csv");
  std::string text = "x,y\n";
  for (int i = 0; i < 10; ++i) text += std::to_string(0.1 * i) + "," + std::to_string(-0.1 * i) + "\n";
  write_text(f, text);
  const CommandResult r =
      cli("nll --score exact:25gaussians --data csv:" + f + " --n 3 --no-wkb --no-error --json");
  CAPTURE(r.err);
  REQUIRE(r.code == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["n"].get<int>() + j["excluded"].get<int>() == 3);

  check_error(cli("data --data swissroll --seed -1 --out " + file("d.csv")),
              "--seed: a seed must be >= 0, got -1");
  check_error(cli("sample --score exact:swissroll --data-seed -5 --out " + file("d.csv")),
              "--data-seed: a seed must be >= 0, got -5");
  CHECK(cli("data --data swissroll --n 5 --seed 18446744073709551615 --out " + file("d.csv")).code == 0);
}
