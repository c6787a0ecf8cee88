// Checked reading and atomic writing of files (files.hpp).
#include "diffpath/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace diffpath {
namespace fs = std::filesystem;

namespace {

std::string byte_size(uint64_t bytes) {
  if (bytes >= (uint64_t(1) << 30) && bytes % (uint64_t(1) << 30) == 0)
    return std::to_string(bytes >> 30) + " GiB";
  if (bytes >= (uint64_t(1) << 20)) return std::to_string(bytes >> 20) + " MiB";
  return std::to_string(bytes) + " bytes";
}

// A symlink chain followed to its end, even when the end does not exist yet (a new file
// written through a dangling link lands where the link points).
std::string follow_symlinks(const std::string& path) {
  fs::path p = path;
  std::error_code ec;
  for (int hops = 0; hops < 40 && fs::is_symlink(fs::symlink_status(p, ec)); ++hops) {
    const fs::path link = fs::read_symlink(p, ec);
    if (ec) break;
    p = link.is_absolute() ? link : p.parent_path() / link;
  }
  return p.string();
}

// Where a file that does not exist yet would be created: its directory must exist and be
// writable. Returns "" if so, else the reason.
std::string new_file_problem(const std::string& target) {
  fs::path dir = fs::path(target).parent_path();
  if (dir.empty()) dir = ".";
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0)
    return errno == ENOENT ? "directory '" + dir.string() + "' does not exist"
                           : "directory '" + dir.string() + "': " + errno_text(errno);
  if (!S_ISDIR(st.st_mode)) return "'" + dir.string() + "' is not a directory";
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    return "directory '" + dir.string() + "': " + errno_text(errno);
  return "";
}

}  // namespace

std::string errno_text(int err) { return std::strerror(err); }

std::string read_regular_file(const std::string& path, const std::string& what,
                              uint64_t max_bytes) {
  const auto fail = [&](const std::string& why) { throw Error(what + " '" + path + "': " + why); };
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below anyway.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) fail(errno_text(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) fail(errno_text(errno));
  if (S_ISDIR(st.st_mode)) fail("is a directory");
  if (!S_ISREG(st.st_mode)) fail("is not a regular file (a device, FIFO or socket)");
  if (uint64_t(st.st_size) > max_bytes)
    fail("is " + byte_size(uint64_t(st.st_size)) + ", more than the " + byte_size(max_bytes) +
         " this reader accepts");
  std::string bytes(size_t(st.st_size), '\0');
  size_t got = 0;
  while (got < bytes.size()) {  // a file that shrinks meanwhile ends early; one that grows is cut
    const ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("read error: " + errno_text(errno));
    if (n == 0) break;
    got += size_t(n);
  }
  bytes.resize(got);
  return bytes;
}

void check_output_path(const std::string& path) {
  const auto fail = [&](const std::string& why) { throw Error("cannot write '" + path + "': " + why); };
  if (path.empty()) fail("empty file name");
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) fail("is a directory");
    if (::access(path.c_str(), W_OK) != 0) fail(errno_text(errno));
    if (S_ISREG(st.st_mode)) {  // replaced through a temporary in its directory
      const std::string problem = new_file_problem(follow_symlinks(path));
      if (!problem.empty()) fail(problem);
    }
    return;
  }
  if (errno != ENOENT) fail(errno_text(errno));
  const std::string problem = new_file_problem(follow_symlinks(path));
  if (!problem.empty()) fail(problem);
}

AtomicFile::AtomicFile(const std::string& path) : path_(path) {
  if (path.empty()) throw Error("cannot write '': empty file name");
  struct stat st;
  const bool exists = ::stat(path.c_str(), &st) == 0;
  if (exists && S_ISDIR(st.st_mode)) fail(EISDIR);
  if (exists && !S_ISREG(st.st_mode)) {  // a device or FIFO: write into it, never replace it
    target_ = path;
    fd_ = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd_ < 0) fail(errno);
    return;
  }
  if (exists) {
    char resolved[PATH_MAX];
    target_ = ::realpath(path.c_str(), resolved) ? std::string(resolved) : path;
  } else {
    target_ = follow_symlinks(path);
  }
  static std::atomic<unsigned> counter{0};
  tmp_ = target_ + ".tmp" + std::to_string(::getpid()) + "." + std::to_string(counter++);
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd_ < 0) {
    const int err = errno;
    tmp_.clear();  // nothing to remove
    fail(err);
  }
  if (exists) {  // keep the replaced file's permissions (and owner, where allowed)
    if (::fchmod(fd_, st.st_mode & 07777) != 0) fail(errno);
    [[maybe_unused]] const int ignored = ::fchown(fd_, st.st_uid, st.st_gid);
  }
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !tmp_.empty()) ::unlink(tmp_.c_str());
}

void AtomicFile::fail(int err) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
  tmp_.clear();
  throw Error("cannot write '" + path_ + "': " + errno_text(err));
}

void AtomicFile::write(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(errno);
    bytes.remove_prefix(size_t(n));
  }
}

void AtomicFile::commit() {
  // fsync only for the temporary: a checkpoint must be on disk before it replaces the old one.
  if (!tmp_.empty() && ::fsync(fd_) != 0) fail(errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail(errno);
  if (!tmp_.empty() && std::rename(tmp_.c_str(), target_.c_str()) != 0) fail(errno);
  committed_ = true;
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  AtomicFile file(path);
  file.write(bytes);
  file.commit();
}

}  // namespace diffpath
