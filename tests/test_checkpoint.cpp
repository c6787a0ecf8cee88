// safetensors checkpoints: round trips, every corruption a clear error, half-precision dtypes,
// and a file written by an independent Python script evaluates to that script's own scores.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "diffpath/checkpoint.hpp"
#include "diffpath/rng.hpp"

using namespace diffpath;
namespace fs = std::filesystem;

namespace {

// A fresh directory per test process, removed at exit.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("diffpath-test-checkpoint-" + std::to_string(::getpid()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};
const TempDir tmp;

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = char((v >> (8 * i)) & 0xff);
  return s;
}

// A safetensors file from a header (JSON text, written verbatim) and a data section.
void write_raw(const std::string& path, const std::string& header, const std::string& data) {
  write_bytes(path, le64(header.size()) + header + data);
}

// The Error message of f(), or "" if it did not throw Error.
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

MlpParams random_params(int d, uint64_t seed) {
  MlpParams p = MlpParams::init(d, {16, 8}, Activation::Tanh, seed);
  Rng rng(seed);
  for (auto& b : p.b)
    for (Eigen::Index i = 0; i < b.size(); ++i) b(i) = rng.normal();
  return p;
}

// Hand-made files: tensors laid out back to back in the given order (data: 0.25 everywhere).
struct TensorSpec {
  std::string name, dtype;
  std::vector<int> shape;
};

std::pair<nlohmann::json, std::string> build(const std::vector<TensorSpec>& tensors) {
  nlohmann::json h;
  h["__metadata__"] = {{"activation", "swish"}};
  std::string data;
  for (const auto& t : tensors) {
    size_t count = 1;
    for (int e : t.shape) count *= size_t(e);
    const size_t begin = data.size();
    for (size_t i = 0; i < count; ++i) {
      if (t.dtype == "F64") { const double v = 0.25; data.append(reinterpret_cast<const char*>(&v), 8); }
      else if (t.dtype == "F32") { const float v = 0.25f; data.append(reinterpret_cast<const char*>(&v), 4); }
      else data.append(2, '\0');
    }
    h[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {begin, data.size()}}};
  }
  return {h, data};
}

// A well-formed 1-D network (d = 1: 2 → 3 → 1), the base for the corruptions.
std::vector<TensorSpec> tiny() {
  return {{"layers.0.weight", "F32", {3, 2}}, {"layers.0.bias", "F32", {3}},
          {"layers.1.weight", "F32", {1, 3}}, {"layers.1.bias", "F32", {1}}};
}

std::string load_error(const nlohmann::json& header, const std::string& data) {
  const std::string path = tmp.file("corrupt.safetensors");
  write_raw(path, header.dump(), data);
  return error_of([&] { load_checkpoint(path); });
}

}  // namespace

TEST_CASE("round trip in F64 is exact, in F32 exact up to the float rounding of the weights") {
  const MlpParams p = random_params(2, 5);
  const std::map<std::string, std::string> meta{
      {"schedule", "simple"}, {"dataset", "swissroll"}, {"steps", "16000"}, {"seed", "5"}};
  for (bool f64 : {true, false}) {
    CAPTURE(f64);
    const std::string path = tmp.file(f64 ? "rt64.safetensors" : "rt32.safetensors");
    save_checkpoint(path, p, meta, f64);
    CHECK_FALSE(fs::exists(path + ".tmp"));
    const Checkpoint ck = load_checkpoint(path);
    REQUIRE(ck.params.W.size() == p.W.size());
    CHECK(ck.params.dim == 2);
    CHECK(ck.params.activation == Activation::Tanh);
    for (size_t l = 0; l < p.W.size(); ++l) {
      if (f64) {
        CHECK(ck.params.W[l] == p.W[l]);
        CHECK(ck.params.b[l] == p.b[l]);
      } else {
        CHECK(ck.params.W[l] == p.W[l].cast<float>().cast<double>());
        CHECK(ck.params.b[l] == p.b[l].cast<float>().cast<double>());
      }
    }
    for (const auto& [k, v] : meta) CHECK(ck.metadata.at(k) == v);
    CHECK(ck.metadata.at("architecture") == "mlp:3-16-8-2");
    CHECK(ck.metadata.at("activation") == "tanh");
    CHECK(ck.metadata.at("dim") == "2");
    // Header length is a multiple of 8, so the data section is aligned.
    const std::string bytes = read_bytes(path);
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | uint8_t(bytes[i]);
    CHECK(n % 8 == 0);
    CHECK(bytes.size() == 8 + n + size_t(p.parameter_count()) * (f64 ? 8 : 4));
  }
  // Saving over an existing file replaces it.
  const std::string path = tmp.file("rt64.safetensors");
  save_checkpoint(path, MlpParams::init(1, {4}, Activation::Swish, 1), {}, true);
  CHECK(load_checkpoint(path).params.dim == 1);
}

TEST_CASE("model:PATH loads as an Mlp whose spec names the file") {
  const std::string path = tmp.file("model.safetensors");
  const MlpParams p = random_params(2, 8);
  save_checkpoint(path, p, {}, true);
  const auto model = load_mlp_model(path);
  CHECK(model->spec() == "model:" + path);
  CHECK(model->dim() == 2);
  CHECK(model->params().W[1] == p.W[1]);
}

TEST_CASE("truncation anywhere is a clear error") {
  const std::string path = tmp.file("full.safetensors");
  save_checkpoint(path, random_params(2, 3), {{"dataset", "25gaussians"}});
  const std::string bytes = read_bytes(path);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | uint8_t(bytes[i]);
  for (size_t cut : {size_t(0), size_t(3), size_t(8), size_t(20), size_t(8 + header_len - 1),
                     size_t(8 + header_len), size_t(8 + header_len + 13), bytes.size() - 1}) {
    CAPTURE(cut);
    const std::string cut_path = tmp.file("cut.safetensors");
    write_bytes(cut_path, bytes.substr(0, cut));
    const std::string msg = error_of([&] { load_checkpoint(cut_path); });
    CAPTURE(msg);
    CHECK(msg.find(cut_path) != std::string::npos);  // names the file
    CHECK((msg.find("truncated") != std::string::npos ||
           msg.find("header length") != std::string::npos));
  }
}

TEST_CASE("a corrupt header length or header is a clear error") {
  const std::string path = tmp.file("hdr.safetensors");
  save_checkpoint(path, random_params(1, 4), {});
  const std::string bytes = read_bytes(path);
  auto with = [&](const std::string& b) {
    write_bytes(tmp.file("bad.safetensors"), b);
    return error_of([&] { load_checkpoint(tmp.file("bad.safetensors")); });
  };
  std::string b = bytes;
  b[7] = char(0x40);  // header length ≈ 4.6e18
  CHECK(with(b).find("bad header length") != std::string::npos);
  b = bytes;
  b[0] = char(uint8_t(b[0]) + 1);  // one byte long: a data byte joins the JSON
  CHECK(with(b).find("not valid JSON") != std::string::npos);
  b = bytes;
  b[0] = char(uint8_t(b[0]) - 1);  // one byte short: padding or the closing brace is lost
  CHECK_FALSE(with(b).empty());
  b = bytes;
  b[0] = char(uint8_t(b[0]) - 8);  // 8 short: still valid JSON (space padding), data shifted
  CHECK_FALSE(with(b).empty());
  b = bytes;
  b[8] = '#';
  CHECK(with(b).find("not valid JSON") != std::string::npos);
  b = le64(7) + "[1,2,3]";
  CHECK(with(b).find("not a JSON object") != std::string::npos);
  CHECK(error_of([&] { load_checkpoint(tmp.file("does-not-exist.safetensors")); })
            .find("No such file or directory") != std::string::npos);
}

TEST_CASE("wrong shapes, dtypes, offsets and names are clear errors") {
  // Edit the tensor list (offsets stay consistent) or the finished header, and expect `needle`.
  auto expect_tensors = [](std::vector<TensorSpec> tensors, const std::string& needle) {
    auto [h, data] = build(tensors);
    const std::string msg = load_error(h, data);
    CAPTURE(msg);
    CHECK(msg.find(needle) != std::string::npos);
  };
  auto expect_header = [](const std::function<void(nlohmann::json&)>& edit, const std::string& needle) {
    auto [h, data] = build(tiny());
    edit(h);
    const std::string msg = load_error(h, data);
    CAPTURE(msg);
    CHECK(msg.find(needle) != std::string::npos);
  };
  {
    auto [h, data] = build(tiny());
    CHECK(load_error(h, data).empty());  // the base case is valid
  }
  auto with = [](std::function<void(std::vector<TensorSpec>&)> edit) {
    auto t = tiny();
    edit(t);
    return t;
  };
  // The layer chain.
  expect_tensors(with([](auto& t) { t[2].shape = {1, 4}; }), "layer 1 takes 4 inputs, expected 3");
  expect_tensors(with([](auto& t) { t[0].shape = {3, 3}; }), "layer 0 takes 3 inputs, expected 2");
  expect_tensors(with([](auto& t) { t[2].shape = {2, 3}; t[3].shape = {2}; }),
                 "layer 0 takes 2 inputs, expected 3");  // d = 2 needs 3 = d + 1 inputs
  expect_tensors(with([](auto& t) { t[1].shape = {2}; }), "layers.0.bias has shape [2], expected [3]");
  expect_tensors(with([](auto& t) { t[0].shape = {3, 2, 1}; }), "expected [out, in]");
  expect_tensors(with([](auto& t) { t[3].shape = {1, 1}; }), "layers.1.bias has shape [1, 1]");
  expect_tensors(with([](auto& t) { t.pop_back(); }), "missing tensor layers.1.bias");
  expect_tensors(with([](auto& t) { t[2].name = "layers.2.weight"; t[3].name = "layers.2.bias"; }),
                 "missing tensor layers.1.weight");
  expect_tensors(with([](auto& t) { t.push_back({"layers.7.bias", "F32", {1}}); }),
                 "bias tensors without");
  expect_tensors(with([](auto& t) { t.push_back({"net.0.weight", "F32", {1}}); }),
                 "unexpected tensor 'net.0.weight'");
  expect_tensors(with([](auto& t) { t.push_back({"layers.01.weight", "F32", {1}}); }),
                 "unexpected tensor");
  expect_tensors({{"layers.0.bias", "F32", {3}}}, "no layers.{i}.weight");
  // dtypes and byte ranges.
  expect_header([](auto& h) { h["layers.0.weight"]["dtype"] = "I32"; }, "unsupported dtype 'I32'");
  expect_header([](auto& h) { h["layers.0.weight"]["dtype"] = "F64"; }, "bytes, its shape and dtype need");
  expect_header([](auto& h) { h["layers.1.bias"]["data_offsets"] = {48, 56}; }, "outside the 52 data bytes");
  expect_header([](auto& h) { h["layers.1.bias"]["data_offsets"] = {52, 48}; }, "outside the 52 data bytes");
  expect_header([](auto& h) { h["layers.1.bias"]["data_offsets"] = {-4, 0}; }, "non-integer data_offsets");
  expect_header([](auto& h) { h["layers.1.bias"]["data_offsets"] = {0, 4}; }, "overlaps");
  expect_header([](auto& h) { h["layers.1.bias"]["data_offsets"] = {0}; }, "no data_offsets");
  expect_header([](auto& h) { h["layers.1.bias"].erase("dtype"); }, "has no dtype");
  expect_header([](auto& h) { h["layers.1.bias"]["shape"] = {-1}; }, "not a size");
  expect_header([](auto& h) { h["layers.1.bias"] = 3; }, "not a JSON object");
  {
    auto [h, data] = build(tiny());
    CHECK(load_error(h, data + "xxxx").find("tensors cover 52 bytes but the data section has 56") !=
          std::string::npos);
  }
  // Metadata.
  expect_header([](auto& h) { h["__metadata__"]["activation"] = "relu"; }, "unknown activation 'relu'");
  expect_header([](auto& h) { h["__metadata__"]["dim"] = "2"; }, "metadata dim = 2");
  expect_header([](auto& h) { h["__metadata__"]["architecture"] = "mlp:2-4-1"; }, "architecture");
  expect_header([](auto& h) { h["__metadata__"] = "swish"; }, "__metadata__ is not a JSON object");
  // Non-finite weights.
  auto [h, data] = build(tiny());
  const float nan = NAN;
  std::memcpy(data.data() + 40, &nan, 4);
  CHECK(load_error(h, data).find("NaN or Inf") != std::string::npos);
}

TEST_CASE("missing activation metadata means swish; F16 and BF16 tensors load") {
  // layers.0.weight in F16, layers.1.weight in BF16, values 0.5, −1.25, 3.0 repeated.
  auto [h, data] = build({{"layers.0.weight", "F16", {3, 2}}, {"layers.0.bias", "F32", {3}},
                          {"layers.1.weight", "BF16", {1, 3}}, {"layers.1.bias", "F64", {1}}});
  h.erase("__metadata__");
  const uint16_t f16[3] = {0x3800, 0xBD00, 0x4200}, bf16[3] = {0x3F00, 0xBFA0, 0x4040};
  auto put16 = [&data = data](size_t at, uint16_t v) {
    data[at] = char(v & 0xff);
    data[at + 1] = char(v >> 8);
  };
  for (int i = 0; i < 6; ++i) put16(2 * i, f16[i % 3]);
  const size_t w1 = h["layers.1.weight"]["data_offsets"][0].get<size_t>();
  for (int i = 0; i < 3; ++i) put16(w1 + 2 * i, bf16[i]);
  const std::string path = tmp.file("half.safetensors");
  write_raw(path, h.dump(), data);
  const Checkpoint ck = load_checkpoint(path);
  CHECK(ck.params.activation == Activation::Swish);
  CHECK(ck.metadata.empty());
  Eigen::MatrixXd W0(3, 2), W1(1, 3);
  W0 << 0.5, -1.25, 3.0, 0.5, -1.25, 3.0;  // row-major in the file
  W1 << 0.5, -1.25, 3.0;
  CHECK(ck.params.W[0] == W0);
  CHECK(ck.params.W[1] == W1);
  CHECK(ck.params.b[0] == Eigen::Vector3d::Constant(0.25));
  CHECK(ck.params.b[1](0) == 0.25);
}

TEST_CASE("a checkpoint from an independent Python writer evaluates to the writer's scores") {
  const std::string python = "/usr/bin/python3";
  const std::string script = std::string(DIFFPATH_SOURCE_DIR) + "/tests/scripts/write_checkpoint.py";
  if (std::system((python + " -c 'import numpy' >/dev/null 2>&1").c_str()) != 0)
    FAIL("this test needs " << python << " with numpy (scripts/install-deps.sh installs python3-numpy)");

  struct Case {
    int dim;
    std::string dtype, hidden, activation;
    bool metadata;
  };
  const Case cases[] = {{2, "F32", "32,32", "swish", true},
                        {1, "F64", "24,24,24", "swish", true},
                        {2, "F32", "128,128,128", "swish", false},  // swish by default
                        {2, "F64", "16", "tanh", true},
                        {1, "F32", "20,20", "softplus", true}};
  int seed = 100;
  for (const Case& c : cases) {
    CAPTURE(c.dim);
    CAPTURE(c.dtype);
    CAPTURE(c.hidden);
    CAPTURE(c.activation);
    const std::string ckpt = tmp.file("py.safetensors"), csv = tmp.file("py.csv");
    std::ostringstream cmd;
    cmd << python << " " << script << " --out " << ckpt << " --csv " << csv << " --seed " << ++seed
        << " --dim " << c.dim << " --dtype " << c.dtype << " --hidden " << c.hidden
        << " --activation " << c.activation << (c.metadata ? "" : " --no-metadata");
    REQUIRE_MESSAGE(std::system(cmd.str().c_str()) == 0, "failed: " << cmd.str());

    // CSV rows: t, x0..x{d-1}, s0..s{d-1}.
    std::ifstream in(csv);
    std::string line;
    std::getline(in, line);  // header
    std::vector<std::vector<double>> rows;
    while (std::getline(in, line)) {
      std::vector<double> row;
      std::stringstream ss(line);
      for (std::string cell; std::getline(ss, cell, ',');) row.push_back(std::stod(cell));
      REQUIRE(row.size() == size_t(1 + 2 * c.dim));
      rows.push_back(row);
    }
    REQUIRE(rows.size() == 64);

    Mlp model(load_checkpoint(ckpt).params);
    double err_double = 0, err_float = 0;
    for (const auto& row : rows) {
      Points x(c.dim, 1), expected(c.dim, 1), s;
      for (int j = 0; j < c.dim; ++j) {
        x(j, 0) = row[1 + j];
        expected(j, 0) = row[1 + c.dim + j];
      }
      const double scale = 1.0 + expected.cwiseAbs().maxCoeff();
      model.set_precision(Precision::Double);
      model.score(x, row[0], s);
      err_double = std::max(err_double, (s - expected).cwiseAbs().maxCoeff() / scale);
      model.set_precision(Precision::Float);
      model.score(x, row[0], s);
      err_float = std::max(err_float, (s - expected).cwiseAbs().maxCoeff() / scale);
    }
    // Same stored weights, both sides in double: only summation order differs (observed
    // ≤ 1.1e-15). Float evaluation: float round-off, ~1e-7 per layer (observed ≤ 3.7e-7).
    CHECK(err_double < 1e-13);
    CHECK(err_float < 5e-6);
  }
}

namespace {

// Runs diffpath-cli with `args`; returns the exit status, stderr in `err`.
int run_cli(const std::string& args, std::string& err) {
  const std::string err_path = tmp.file("cli.err");
  const int status = std::system((std::string(DIFFPATH_CLI) + " " + args + " 2>" + err_path).c_str());
  err = read_bytes(err_path);
  return status;
}

// A CSV with a header row: every row parsed as numbers.
std::vector<std::vector<double>> read_csv(const std::string& path, std::string& header) {
  std::ifstream in(path);
  std::getline(in, header);
  std::vector<std::vector<double>> rows;
  for (std::string line; std::getline(in, line);) {
    std::vector<double> row;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) row.push_back(std::stod(cell));
    rows.push_back(row);
  }
  return rows;
}

}  // namespace

TEST_CASE("score CLI: the exact score of N(0, 1) data is −x at every t") {
  // VP diffusion keeps N(0, 1) fixed: α²·1 + σ² = 1, so s(x, t) = −x exactly.
  const std::string in = tmp.file("pts1.csv"), out = tmp.file("s1.csv");
  write_bytes(in, "x\n0.5\n-2\n3.25\n");
  std::string err;
  REQUIRE(run_cli("score --score gaussian:m=0,v=1 --t 0.3 --in " + in + " --out " + out, err) == 0);
  std::string header;
  const auto rows = read_csv(out, header);
  CHECK(header == "sx");
  REQUIRE(rows.size() == 3);
  CHECK(rows[0][0] == doctest::Approx(-0.5).epsilon(1e-14));
  CHECK(rows[1][0] == doctest::Approx(2.0).epsilon(1e-14));
  CHECK(rows[2][0] == doctest::Approx(-3.25).epsilon(1e-14));
  // A 2-column file for a 1-D model is a one-line error, not a crash.
  write_bytes(in, "x,y\n0.5,1\n");
  CHECK(run_cli("score --score gaussian:m=0,v=1 --t 0.3 --in " + in + " --out " + out, err) != 0);
  CHECK(err.find("column") != std::string::npos);
  CHECK(run_cli("score --score gaussian:m=0,v=1 --t -1 --in " + in + " --out " + out, err) != 0);
  CHECK(err.find("--t") != std::string::npos);
}

TEST_CASE("score CLI: model:PATH evaluates the checkpoint like the library") {
  const std::string ckpt = tmp.file("cli.safetensors"), in = tmp.file("pts2.csv"),
                    out = tmp.file("s2.csv");
  const MlpParams p = random_params(2, 31);
  save_checkpoint(ckpt, p, {{"schedule", "simple"}}, true);
  const Points x = Points::Random(2, 1500) * 2.0;  // more than one 1024-point CLI chunk
  {
    std::ofstream f(in);
    f << "x,y\n";
    f.precision(17);
    for (int q = 0; q < x.cols(); ++q) f << x(0, q) << "," << x(1, q) << "\n";
  }
  std::string err;
  REQUIRE_MESSAGE(run_cli("score --score model:" + ckpt + " --t 0.42 --threads 2 --in " + in +
                              " --out " + out, err) == 0, err);
  std::string header;
  const auto rows = read_csv(out, header);
  CHECK(header == "sx,sy");
  REQUIRE(rows.size() == size_t(x.cols()));
  Mlp model(p);
  model.set_precision(Precision::Double);  // the CLI's default: it is for checking
  Points s;
  model.score(x, 0.42, s);
  double err_max = 0;
  for (int q = 0; q < x.cols(); ++q)
    for (int i = 0; i < 2; ++i) err_max = std::max(err_max, std::abs(rows[q][i] - s(i, q)));
  CHECK(err_max < 1e-13 * (1 + s.cwiseAbs().maxCoeff()));  // %.17g round trip, same arithmetic
}
