#include "diffpath/parallel.hpp"

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <thread>
#include <vector>

#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace diffpath {

void lower_thread_priority(int nice) {
#ifdef __linux__
  if (nice > 0) setpriority(PRIO_PROCESS, id_t(syscall(SYS_gettid)), nice);
#else
  (void)nice;
#endif
}

int default_threads() {
  if (const char* env = std::getenv("DIFFPATH_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

void parallel_for(int n, int threads, const std::function<void(int, int)>& body) {
  if (n <= 0) return;
  const int k = std::clamp(threads > 0 ? threads : default_threads(), 1, n);
  if (k == 1) {
    body(0, n);
    return;
  }
  std::vector<std::exception_ptr> errors(k);
  auto run = [&](int c) {
    const int begin = int(int64_t(n) * c / k), end = int(int64_t(n) * (c + 1) / k);
    try {
      body(begin, end);
    } catch (...) {
      errors[c] = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(k - 1);
  for (int c = 1; c < k; ++c) pool.emplace_back(run, c);
  run(0);
  for (auto& t : pool) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace diffpath
