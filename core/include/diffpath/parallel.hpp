#pragma once
// Minimal data parallelism over index ranges. Work is split into contiguous chunks in a fixed
// way, so results never depend on scheduling.
#include <functional>

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

}  // namespace diffpath
