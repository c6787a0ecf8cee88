#pragma once
// Minimal data parallelism over index ranges. Work is split into contiguous chunks in a fixed
// way, so results never depend on scheduling.
#include <functional>

namespace diffpath {

/// Threads to use when the caller says 0: $DIFFPATH_THREADS if set, else the hardware count.
int default_threads();

/// Runs body(begin, end) over [0, n) split into at most `threads` contiguous chunks
/// (0 = default_threads()). The calling thread works too. Exceptions from any chunk are
/// rethrown on the caller after all chunks finished.
void parallel_for(int n, int threads, const std::function<void(int begin, int end)>& body);

}  // namespace diffpath
