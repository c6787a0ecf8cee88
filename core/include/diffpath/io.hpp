#pragma once
// CSV input and output shared by the CLI, the app and the tests (DESIGN §4: header row, one
// row per sample; trajectories in long format). Writers go through an AtomicFile (files.hpp),
// so a failed write never leaves a half-written file behind.
#include <string>
#include <vector>

#include "diffpath/common.hpp"

namespace diffpath {

/// Reads a numeric CSV: one point per row, d = number of columns (d × n result). The header
/// row is optional (a first row without any number in it is a header); a UTF-8 byte-order
/// mark and blank lines are skipped; surrounding spaces and double quotes are ignored. Throws
/// Error naming the file (and the line) for: a missing file, anything but a regular file, a
/// file over 256 MiB, a row of 1000 columns or more, a non-numeric or empty cell, a value out
/// of a double's range (1e309), NaN/Inf, a row whose column count differs from the first row,
/// and a file without data rows.
Points read_points_csv(const std::string& path);

/// Writes points (d × n) with header "x,y" (d = 2), "x" (d = 1) or "x1,...,xd"; values as
/// %.17g so they read back bit-exactly.
void write_points_csv(const std::string& path, const Points& points);

/// Writes a table: the header, then one CSV row per row of `rows` (%.17g).
/// Throws Error if header.size() != rows.cols().
void write_table_csv(const std::string& path, const std::vector<std::string>& header,
                     const Eigen::MatrixXd& rows);

/// Writes trajectories in long format "particle,step,t,x,y" ("x" in 1D, "x1..xd" otherwise),
/// rows ordered by particle then frame. frames[f] is d × n (every frame the same shape),
/// recorded at sampler step steps[f] and time times[f]. With `action` (n values), an extra
/// column "action" repeats each particle's value on its rows.
void write_trajectories_csv(const std::string& path, const std::vector<int>& steps,
                            const std::vector<double>& times, const std::vector<Points>& frames,
                            const Vec* action = nullptr);

}  // namespace diffpath
