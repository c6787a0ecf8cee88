// safetensors reader and writer for the MLP score network (DESIGN §4). Everything in a file is
// checked before it is used: the header length against the file size, every tensor's byte
// range against the data section, its byte count against dtype × shape, and the layer chain.
#include "diffpath/checkpoint.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "diffpath/files.hpp"

namespace diffpath {

namespace {

using Bytes = std::vector<unsigned char>;

constexpr uint64_t kMaxHeaderBytes = 100u << 20;  // the safetensors reference limit (100 MB)
constexpr uint64_t kMaxFileBytes = uint64_t(1) << 30;

// Little-endian integers assembled byte by byte: independent of the host's byte order.
uint64_t read_le(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void write_le(Bytes& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<unsigned char>(v >> (8 * i)));
}

float half_to_float(uint16_t h) {
  const int sign = (h >> 15) ? -1 : 1, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  if (exponent == 0) return float(sign * std::ldexp(double(mantissa), -24));  // subnormal, ±0
  if (exponent == 31) return mantissa ? NAN : float(sign * INFINITY);
  return float(sign * std::ldexp(double(mantissa | 0x400), exponent - 25));
}

float bits_to_float(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

int dtype_bytes(const std::string& dtype) {
  if (dtype == "F64") return 8;
  if (dtype == "F32") return 4;
  if (dtype == "F16" || dtype == "BF16") return 2;
  return 0;
}

double decode(const std::string& dtype, const unsigned char* p) {
  if (dtype == "F64") {
    const uint64_t bits = read_le(p, 8);
    double v;
    std::memcpy(&v, &bits, 8);
    return v;
  }
  if (dtype == "F32") return bits_to_float(uint32_t(read_le(p, 4)));
  if (dtype == "BF16") return bits_to_float(uint32_t(read_le(p, 2)) << 16);
  return half_to_float(uint16_t(read_le(p, 2)));  // F16
}

// A tensor from the header: shape and its bytes in the data section, already range-checked.
struct RawTensor {
  std::string dtype;
  std::vector<int64_t> shape;
  const unsigned char* data = nullptr;
  uint64_t begin = 0, end = 0;  // byte range in the data section
};

class Reader {
 public:
  explicit Reader(std::string path) : path_(std::move(path)) {}

  [[noreturn]] void fail(const std::string& why) const {
    throw Error("checkpoint '" + path_ + "': " + why);
  }

  // Bounded: a checkpoint of the largest network anyone trains here is a few MB.
  Bytes read_file() const {
    const std::string text = read_regular_file(path_, "checkpoint", kMaxFileBytes);
    return Bytes(text.begin(), text.end());
  }

  RawTensor tensor(const std::string& name, const nlohmann::json& entry, const Bytes& file,
                   size_t data_begin) const {
    const std::string what = "tensor '" + name + "'";
    if (!entry.is_object()) fail(what + " is not a JSON object");
    if (!entry.contains("dtype") || !entry["dtype"].is_string()) fail(what + " has no dtype");
    if (!entry.contains("shape") || !entry["shape"].is_array()) fail(what + " has no shape");
    if (!entry.contains("data_offsets") || !entry["data_offsets"].is_array() ||
        entry["data_offsets"].size() != 2)
      fail(what + " has no data_offsets [begin, end]");
    RawTensor t;
    t.dtype = entry["dtype"].get<std::string>();
    const int elem = dtype_bytes(t.dtype);
    if (elem == 0) fail(what + " has unsupported dtype '" + t.dtype + "' (F64, F32, F16, BF16)");
    uint64_t count = 1;
    for (const auto& s : entry["shape"]) {
      if (!s.is_number_unsigned()) fail(what + " has a shape entry that is not a size");
      const uint64_t extent = s.get<uint64_t>();
      if (extent > (uint64_t(1) << 31)) fail(what + " has an absurd shape");
      t.shape.push_back(int64_t(extent));
      count *= extent;
      if (count > (uint64_t(1) << 40)) fail(what + " has an absurd shape");
    }
    const auto& off = entry["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      fail(what + " has non-integer data_offsets");
    const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    const uint64_t data_size = file.size() - data_begin;
    if (begin > end || end > data_size)
      fail(what + " data [" + std::to_string(begin) + ", " + std::to_string(end) +
           ") lies outside the " + std::to_string(data_size) + " data bytes (truncated file?)");
    if (end - begin != count * uint64_t(elem))
      fail(what + " has " + std::to_string(end - begin) + " bytes, its shape and dtype need " +
           std::to_string(count * elem));
    t.data = file.data() + data_begin + begin;
    t.begin = begin;
    t.end = end;
    return t;
  }

 private:
  std::string path_;
};

// "layers.12.weight" → (12, true); false if the name is not a layer tensor.
bool parse_layer_name(const std::string& name, int& index, bool& is_weight) {
  const std::string prefix = "layers.";
  if (name.rfind(prefix, 0) != 0) return false;
  const size_t dot = name.find('.', prefix.size());
  if (dot == std::string::npos || dot == prefix.size() || dot - prefix.size() > 6) return false;
  const std::string digits = name.substr(prefix.size(), dot - prefix.size());
  for (char c : digits)
    if (c < '0' || c > '9') return false;
  if (digits.size() > 1 && digits[0] == '0') return false;
  const std::string kind = name.substr(dot + 1);
  if (kind != "weight" && kind != "bias") return false;
  index = std::stoi(digits);
  is_weight = kind == "weight";
  return true;
}

// As in the safetensors reference reader: the tensors must tile the data section exactly, with
// no gaps or overlaps. This also catches a header length that is off by a few bytes, which
// could otherwise still parse (the header is padded with spaces) and shift every tensor.
void check_coverage(const Reader& reader, const std::map<int, RawTensor>& weights,
                    const std::map<int, RawTensor>& biases, uint64_t data_size) {
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto* group : {&weights, &biases})
    for (const auto& [i, t] : *group) ranges.emplace_back(t.begin, t.end);
  std::sort(ranges.begin(), ranges.end());
  uint64_t covered = 0;
  for (const auto& [begin, end] : ranges) {
    if (begin != covered)
      reader.fail("tensor data " + std::string(begin < covered ? "overlaps" : "has a gap") +
                  " at byte " + std::to_string(std::min(begin, covered)) +
                  " of the data section (corrupt header or header length)");
    covered = end;
  }
  if (covered != data_size)
    reader.fail("tensors cover " + std::to_string(covered) + " bytes but the data section has " +
                std::to_string(data_size) + " (corrupt header length or trailing bytes)");
}

std::string join_shape(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

std::string mlp_architecture(const MlpParams& params) {
  std::string s = "mlp:";
  s += std::to_string(params.dim + 1);
  for (int h : params.hidden()) s.append("-").append(std::to_string(h));
  s.append("-").append(std::to_string(params.dim));
  return s;
}

void save_checkpoint(const std::string& path, const MlpParams& params,
                     const std::map<std::string, std::string>& metadata, bool f64) {
  params.validate();
  const std::string dtype = f64 ? "F64" : "F32";
  const int elem = f64 ? 8 : 4;

  nlohmann::ordered_json header;
  nlohmann::ordered_json meta = nlohmann::ordered_json::object();
  for (const auto& [k, v] : metadata) meta[k] = v;
  meta["format"] = "diffpath-mlp";
  meta["architecture"] = mlp_architecture(params);
  meta["activation"] = activation_name(params.activation);
  meta["dim"] = std::to_string(params.dim);
  header["__metadata__"] = meta;

  Bytes data;
  auto put = [&](double v) {
    if (f64) {
      uint64_t bits;
      std::memcpy(&bits, &v, 8);
      write_le(data, bits, 8);
    } else {
      const float f = float(v);
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      write_le(data, bits, 4);
    }
  };
  auto add = [&](const std::string& name, std::vector<int64_t> shape, size_t count) {
    header[name] = {{"dtype", dtype},
                    {"shape", shape},
                    {"data_offsets", {data.size(), data.size() + count * elem}}};
  };
  for (size_t i = 0; i < params.W.size(); ++i) {
    const auto& W = params.W[i];
    const auto& b = params.b[i];
    add("layers." + std::to_string(i) + ".weight", {W.rows(), W.cols()}, size_t(W.size()));
    for (Eigen::Index r = 0; r < W.rows(); ++r)  // row-major, as PyTorch stores out × in
      for (Eigen::Index c = 0; c < W.cols(); ++c) put(W(r, c));
    add("layers." + std::to_string(i) + ".bias", {b.size()}, size_t(b.size()));
    for (Eigen::Index r = 0; r < b.size(); ++r) put(b(r));
  }

  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // align the data section to 8 bytes
  Bytes head;
  write_le(head, text.size(), 8);

  AtomicFile out(path);
  out.write(std::string_view(reinterpret_cast<const char*>(head.data()), head.size()));
  out.write(text);
  out.write(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
  out.commit();
}

Checkpoint load_checkpoint(const std::string& path) {
  const Reader reader(path);
  const Bytes file = reader.read_file();
  if (file.size() < 8)
    reader.fail("truncated: " + std::to_string(file.size()) +
                " bytes, shorter than the 8-byte header length");
  const uint64_t header_len = read_le(file.data(), 8);
  if (header_len < 2 || header_len > kMaxHeaderBytes || header_len > file.size() - 8)
    reader.fail("bad header length " + std::to_string(header_len) + " for a file of " +
                std::to_string(file.size()) + " bytes (not safetensors, or truncated)");

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(file.begin() + 8, file.begin() + 8 + std::ptrdiff_t(header_len));
  } catch (const nlohmann::json::exception& e) {
    reader.fail(std::string("header is not valid JSON (") + e.what() + ")");
  }
  if (!header.is_object()) reader.fail("header is not a JSON object");

  Checkpoint ck;
  std::map<int, RawTensor> weights, biases;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) reader.fail("__metadata__ is not a JSON object");
      for (const auto& [k, v] : entry.items())
        ck.metadata[k] = v.is_string() ? v.get<std::string>() : v.dump();
      continue;
    }
    int index = 0;
    bool is_weight = false;
    if (!parse_layer_name(name, index, is_weight))
      reader.fail("unexpected tensor '" + name + "' (expected layers.{i}.weight and .bias)");
    (is_weight ? weights : biases)[index] = reader.tensor(name, entry, file, 8 + header_len);
  }
  if (weights.empty()) reader.fail("no layers.{i}.weight tensors");
  check_coverage(reader, weights, biases, file.size() - 8 - header_len);

  const int layers = int(weights.size());
  MlpParams& p = ck.params;
  for (int i = 0; i < layers; ++i) {
    const std::string name = "layers." + std::to_string(i);
    if (!weights.count(i)) reader.fail("missing tensor " + name + ".weight");
    if (!biases.count(i)) reader.fail("missing tensor " + name + ".bias");
    const RawTensor& w = weights[i];
    const RawTensor& b = biases[i];
    if (w.shape.size() != 2 || w.shape[0] < 1 || w.shape[1] < 1)
      reader.fail(name + ".weight has shape " + join_shape(w.shape) + ", expected [out, in]");
    if (b.shape.size() != 1 || b.shape[0] != w.shape[0])
      reader.fail(name + ".bias has shape " + join_shape(b.shape) + ", expected [" +
                  std::to_string(w.shape[0]) + "]");
    const int wb = dtype_bytes(w.dtype), bb = dtype_bytes(b.dtype);
    Eigen::MatrixXd W(w.shape[0], w.shape[1]);
    for (Eigen::Index r = 0; r < W.rows(); ++r)
      for (Eigen::Index c = 0; c < W.cols(); ++c)
        W(r, c) = decode(w.dtype, w.data + (r * W.cols() + c) * wb);
    Eigen::VectorXd bias(b.shape[0]);
    for (Eigen::Index r = 0; r < bias.size(); ++r) bias(r) = decode(b.dtype, b.data + r * bb);
    p.W.push_back(std::move(W));
    p.b.push_back(std::move(bias));
  }
  if (biases.size() != weights.size())
    reader.fail("bias tensors without a matching weight (" + std::to_string(biases.size()) +
                " biases, " + std::to_string(weights.size()) + " weights)");

  p.dim = int(p.W.back().rows());
  try {
    p.validate();
  } catch (const Error& e) {
    reader.fail(e.what());
  }
  if (!p.all_finite()) reader.fail("weights contain NaN or Inf");

  if (auto it = ck.metadata.find("activation"); it != ck.metadata.end()) {
    try {
      p.activation = parse_activation(it->second);
    } catch (const Error& e) {
      reader.fail(e.what());
    }
  }
  if (auto it = ck.metadata.find("dim"); it != ck.metadata.end() && it->second != std::to_string(p.dim))
    reader.fail("metadata dim = " + it->second + " but the layers give d = " + std::to_string(p.dim));
  if (auto it = ck.metadata.find("architecture");
      it != ck.metadata.end() && it->second.rfind("mlp:", 0) == 0 && it->second != mlp_architecture(p))
    reader.fail("metadata architecture " + it->second + " but the tensors give " +
                mlp_architecture(p));
  return ck;
}

std::shared_ptr<const Mlp> load_mlp_model(const std::string& path) {
  return std::make_shared<const Mlp>(load_checkpoint(path).params, "model:" + path);
}

}  // namespace diffpath
