// CSV reading and writing (io.hpp).
#include "diffpath/io.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string_view>

#include "diffpath/files.hpp"

namespace diffpath {
namespace {

// ---------------------------------------------------------------- reading

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

std::vector<std::string_view> split_cells(std::string_view line) {
  std::vector<std::string_view> cells;
  for (;;) {
    const size_t comma = line.find(',');
    cells.push_back(trim(line.substr(0, comma)));
    if (comma == std::string_view::npos) return cells;
    line.remove_prefix(comma + 1);
  }
}

constexpr uint64_t kMaxCsvBytes = uint64_t(256) << 20;  // a bound, so no input can exhaust memory
constexpr size_t kMaxCsvColumns = 1000;

// A cell of a CSV row. The whole cell must be a number (from_chars is locale-independent,
// unlike strtod). `looks_numeric` also holds for numbers a double cannot represent (1e309) and
// for nan/inf: such a row is data with a bad value, not a header.
struct Cell {
  std::optional<double> value;
  bool looks_numeric = false;
  bool out_of_range = false;
};

Cell parse_cell(std::string_view cell) {
  if (!cell.empty() && cell.front() == '+') cell.remove_prefix(1);
  Cell c;
  if (cell.empty()) return c;
  double value = 0.0;
  const auto [end, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), value);
  if (end != cell.data() + cell.size()) return c;
  c.looks_numeric = ec == std::errc() || ec == std::errc::result_out_of_range;
  c.out_of_range = ec == std::errc::result_out_of_range;
  if (ec == std::errc()) c.value = value;
  return c;
}

// A cell as it may appear in a one-line message: at most 32 characters, control and other
// non-ASCII bytes escaped.
std::string quoted(std::string_view cell) {
  std::string out = "'";
  for (size_t i = 0; i < cell.size() && i < 32; ++i) {
    const unsigned char ch = static_cast<unsigned char>(cell[i]);
    if (ch >= 0x20 && ch < 0x7f) {
      out += char(ch);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", ch);
      out += buf;
    }
  }
  return out + (cell.size() > 32 ? "...'" : "'");
}

[[noreturn]] void fail_at(const std::string& path, int line, const std::string& reason) {
  throw Error("bad CSV '" + path + "' line " + std::to_string(line) + ": " + reason);
}

// ---------------------------------------------------------------- writing

// An AtomicFile (files.hpp) with the output buffered in a string, so large trajectory files
// stay fast, and numbers written without printf's locale.
class AtomicWriter {
 public:
  explicit AtomicWriter(const std::string& path) : file_(path) {
    buffer_.reserve(kFlushBytes + 4096);
  }

  void text(std::string_view s) {
    buffer_.append(s);
    if (buffer_.size() >= kFlushBytes) flush();
  }
  void number(double v) {  // same digits as %.17g, without printf's locale and parsing
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 17);
    buffer_.append(buf, ec == std::errc() ? end : buf);
  }
  void integer(long long v) { buffer_.append(std::to_string(v)); }
  void commit() {
    flush();
    file_.commit();
  }

 private:
  static constexpr size_t kFlushBytes = 1 << 20;
  void flush() {
    file_.write(buffer_);
    buffer_.clear();
  }
  AtomicFile file_;
  std::string buffer_;
};

std::string coordinate_header(int d) {
  if (d == 1) return "x";
  if (d == 2) return "x,y";
  std::string h;
  for (int i = 1; i <= d; ++i) h += (i > 1 ? ",x" : "x") + std::to_string(i);
  return h;
}

}  // namespace

Points read_points_csv(const std::string& path) {
  std::string_view text;
  const std::string bytes = read_regular_file(path, "cannot read CSV file", kMaxCsvBytes);
  text = bytes;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // a UTF-8 byte-order mark

  std::vector<double> values;  // row-major while reading
  int columns = 0, rows = 0, line_no = 0;
  bool seen_first_row = false;
  std::vector<Cell> parsed;
  while (!text.empty()) {
    const size_t newline = text.find('\n');
    const std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    ++line_no;
    if (trim(line).empty()) continue;
    if (size_t(std::count(line.begin(), line.end(), ',')) >= kMaxCsvColumns)
      fail_at(path, line_no, "more than " + std::to_string(kMaxCsvColumns) + " columns");
    const auto cells = split_cells(line);
    parsed.clear();
    int numeric = 0;
    for (auto cell : cells) {
      parsed.push_back(parse_cell(cell));
      numeric += parsed.back().looks_numeric;
    }
    if (!seen_first_row) {
      seen_first_row = true;
      columns = int(cells.size());
      if (numeric == 0) continue;  // a header row: names only
    }
    if (int(cells.size()) != columns)
      fail_at(path, line_no, "expected " + std::to_string(columns) + " column(s), found " +
                                 std::to_string(cells.size()));
    for (size_t c = 0; c < cells.size(); ++c) {
      const std::string column = " in column " + std::to_string(c + 1);
      if (cells[c].empty()) fail_at(path, line_no, "empty cell" + column);
      if (parsed[c].out_of_range)
        fail_at(path, line_no, "value " + quoted(cells[c]) + " out of range of a double" + column);
      if (!parsed[c].value) fail_at(path, line_no, "non-numeric cell " + quoted(cells[c]) + column);
      if (!std::isfinite(*parsed[c].value))
        fail_at(path, line_no, "non-finite value " + quoted(cells[c]) + column);
      values.push_back(*parsed[c].value);
    }
    ++rows;
  }
  if (rows == 0)
    fail_at(path, std::max(line_no, 1), line_no == 0 ? "empty file (no data rows)" : "no data rows");
  return Eigen::Map<const Eigen::MatrixXd>(values.data(), columns, rows);
}

void write_points_csv(const std::string& path, const Points& points) {
  AtomicWriter out(path);
  out.text(coordinate_header(int(points.rows())));
  out.text("\n");
  for (Eigen::Index i = 0; i < points.cols(); ++i) {
    for (Eigen::Index j = 0; j < points.rows(); ++j) {
      if (j) out.text(",");
      out.number(points(j, i));
    }
    out.text("\n");
  }
  out.commit();
}

void write_table_csv(const std::string& path, const std::vector<std::string>& header,
                     const Eigen::MatrixXd& rows) {
  if (Eigen::Index(header.size()) != rows.cols())
    throw Error("cannot write '" + path + "': " + std::to_string(header.size()) +
                " header names for " + std::to_string(rows.cols()) + " columns");
  AtomicWriter out(path);
  for (size_t c = 0; c < header.size(); ++c) {
    if (c) out.text(",");
    out.text(header[c]);
  }
  out.text("\n");
  for (Eigen::Index r = 0; r < rows.rows(); ++r) {
    for (Eigen::Index c = 0; c < rows.cols(); ++c) {
      if (c) out.text(",");
      out.number(rows(r, c));
    }
    out.text("\n");
  }
  out.commit();
}

void write_trajectories_csv(const std::string& path, const std::vector<int>& steps,
                            const std::vector<double>& times, const std::vector<Points>& frames,
                            const Vec* action) {
  const auto bad = [&](const std::string& why) {
    throw Error("cannot write trajectories '" + path + "': " + why);
  };
  if (steps.size() != frames.size() || times.size() != frames.size())
    bad("steps, times and frames differ in length");
  const Eigen::Index d = frames.empty() ? 2 : frames[0].rows();
  const Eigen::Index n = frames.empty() ? 0 : frames[0].cols();
  for (const Points& f : frames)
    if (f.rows() != d || f.cols() != n) bad("frames differ in shape");
  if (action && action->size() != n) bad("action has a value count different from particles");

  AtomicWriter out(path);
  out.text("particle,step,t,");
  out.text(coordinate_header(int(d)));
  out.text(action ? ",action\n" : "\n");
  for (Eigen::Index p = 0; p < n; ++p) {
    for (size_t f = 0; f < frames.size(); ++f) {
      out.integer(p);
      out.text(",");
      out.integer(steps[f]);
      out.text(",");
      out.number(times[f]);
      for (Eigen::Index j = 0; j < d; ++j) {
        out.text(",");
        out.number(frames[f](j, p));
      }
      if (action) {
        out.text(",");
        out.number((*action)(p));
      }
      out.text("\n");
    }
  }
  out.commit();
}

}  // namespace diffpath
