#pragma once
// Minimal data parallelism over index ranges. Work is split into contiguous chunks in a fixed
// way, so results never depend on scheduling.
#include <functional>
#include <memory>

namespace diffpath {

/// Threads to use when the caller says 0: $DIFFPATH_THREADS if set, else the hardware count.
int default_threads();

/// Lowers the calling thread's scheduling priority by `nice` (> 0; Linux: per thread, and
/// inherited by the threads it starts), so background numerics yield the cores to
/// interactive work. A no-op elsewhere or for nice <= 0.
void lower_thread_priority(int nice);

/// Runs body(begin, end) over [0, n) split into at most `threads` contiguous chunks
/// (0 = default_threads()). The calling thread works too. Exceptions from any chunk are
/// rethrown on the caller after all chunks finished.
void parallel_for(int n, int threads, const std::function<void(int begin, int end)>& body);

/// parallel_for for many short loops in a row (a PDE solver's substeps): the worker threads are
/// started once and live as long as the team. Starting and joining threads costs tens of µs per
/// loop (measured: over half the run time of a 96² Fokker–Planck solve went to it), far more
/// than a loop over a small grid. run() has parallel_for's contract: the same chunks (so the
/// same results), the calling thread works too, exceptions are rethrown after every chunk
/// finished. One thread drives a team; a run() from inside a body runs inline (no nesting).
class ThreadTeam {
 public:
  explicit ThreadTeam(int threads);  // 0 = default_threads()
  ~ThreadTeam();
  ThreadTeam(const ThreadTeam&) = delete;
  ThreadTeam& operator=(const ThreadTeam&) = delete;
  int size() const { return size_; }
  void run(int n, const std::function<void(int begin, int end)>& body);

 private:
  struct Shared;
  int size_ = 1;
  std::unique_ptr<Shared> shared_;
};

}  // namespace diffpath
