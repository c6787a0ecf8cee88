#pragma once
// Files the program reads and writes, checked before they are used, so that no input hangs the
// program and no output is lost (issue 9):
//   read_regular_file   reads a regular file of bounded size; a device (model:/dev/zero), FIFO
//                       or directory is refused before a byte is read, so it cannot hang.
//   check_output_path   says *before* a long computation whether its output can be written.
//   AtomicFile          replaces a regular file atomically (a temporary next to it, then a
//                       rename), following symlinks and keeping the file's mode and owner; a
//                       target that is not a regular file (/dev/null, /dev/full, a FIFO) is
//                       written through instead of being replaced by a plain file.
// Every error is an Error whose one-line what() names the path and says why (errno text).
#include <cstdint>
#include <string>
#include <string_view>

#include "diffpath/common.hpp"

namespace diffpath {

/// The text of an errno value ("No such file or directory").
std::string errno_text(int err);

/// The whole content of `path`. Throws Error("<what> '<path>': <reason>") if it cannot be
/// opened, is not a regular file, is larger than `max_bytes`, or a read fails.
std::string read_regular_file(const std::string& path, const std::string& what,
                              uint64_t max_bytes);

/// Throws Error("cannot write '<path>': <reason>") unless `path` could be written now: it is
/// not a directory, an existing file is writable, and for a new file the directory exists and
/// is writable. Call it for every output before the work that produces the output starts.
void check_output_path(const std::string& path);

/// One output file, replaced only when commit() succeeds. Regular (or absent) targets: the
/// bytes go to a unique temporary in the target's directory (symlinks resolved first), which
/// gets the old file's mode (new files: 0666 minus umask) and is renamed over the target.
/// Other targets (character devices, FIFOs) are opened and written directly. If commit() is
/// never reached (an exception), the temporary is removed and the target is untouched.
class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(std::string_view bytes);
  /// Flushes to disk and moves the file into place.
  void commit();

 private:
  [[noreturn]] void fail(int err);
  std::string path_, target_, tmp_;  // tmp_ empty: writing through to target_
  int fd_ = -1;
  bool committed_ = false;
};

/// Writes `bytes` to `path` through an AtomicFile.
void write_file_atomic(const std::string& path, std::string_view bytes);

}  // namespace diffpath
