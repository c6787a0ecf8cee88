#include "diffpath/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
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

// The team: workers 1 … k−1 wait for a new generation, run their chunk of it, and report.
// Chunk c of a loop over n is [n c / k, n (c + 1) / k) with k = min(size, n), as parallel_for.
//
// Waiting spins first, then sleeps. A solver's loops follow each other within microseconds,
// and a sleep and wake-up through the kernel costs ~25 µs a loop in this VM (measured: a
// 256² Fokker–Planck solve at η = 1 runs ~30 000 loops, so ~0.8 s went to waking threads).
// The spin is bounded (kSpin): on a busy machine a waiter gives its core back soon, and an
// unbounded spin was measured 2× slower there. Generation and pending are atomics so the spin
// can read them; they change under the mutex (generation) or are followed by a notify under
// it (pending), so a waiter that goes to sleep cannot miss its wake-up.
namespace {
thread_local bool t_in_team = false;  // set while a thread runs a team's body: no nesting

constexpr auto kSpin = std::chrono::microseconds(50);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Spins until ready() or kSpin has passed; returns ready().
template <class Ready>
bool spin_until(const Ready& ready) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  for (int i = 0;; ++i) {
    if (ready()) return true;
    cpu_relax();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) return ready();
  }
}
}  // namespace

struct ThreadTeam::Shared {
  std::mutex m;
  std::condition_variable start, done;
  std::atomic<uint64_t> generation{0};
  std::atomic<int> pending{0};   // workers not yet finished with the current generation
  std::atomic<bool> quit{false};
  int n = 0, k = 1;
  const std::function<void(int, int)>* body = nullptr;
  std::vector<std::exception_ptr> errors;
  std::vector<std::thread> workers;

  void run_chunk(int c) {
    if (c >= k) return;
    const int begin = int(int64_t(n) * c / k), end = int(int64_t(n) * (c + 1) / k);
    try {
      (*body)(begin, end);
    } catch (...) {
      errors[size_t(c)] = std::current_exception();
    }
  }
  void worker(int c) {
    t_in_team = true;
    uint64_t seen = 0;
    for (;;) {
      auto ready = [&] {
        return quit.load(std::memory_order_acquire) || generation.load(std::memory_order_acquire) != seen;
      };
      if (!spin_until(ready)) {
        std::unique_lock lock(m);
        start.wait(lock, ready);
      }
      if (quit.load(std::memory_order_acquire)) return;
      seen = generation.load(std::memory_order_acquire);
      run_chunk(c);
      if (pending.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard lock(m);  // the caller may be between its check and its wait
        done.notify_one();
      }
    }
  }
};

ThreadTeam::ThreadTeam(int threads)
    : size_(std::max(1, threads > 0 ? threads : default_threads())), shared_(std::make_unique<Shared>()) {
  shared_->errors.resize(size_t(size_));
  for (int c = 1; c < size_; ++c) shared_->workers.emplace_back([s = shared_.get(), c] { s->worker(c); });
}

ThreadTeam::~ThreadTeam() {
  {
    std::lock_guard lock(shared_->m);
    shared_->quit.store(true, std::memory_order_release);
  }
  shared_->start.notify_all();
  for (auto& t : shared_->workers) t.join();
}

void ThreadTeam::run(int n, const std::function<void(int, int)>& body) {
  if (n <= 0) return;
  if (size_ == 1 || n == 1 || t_in_team) {
    body(0, n);
    return;
  }
  Shared& s = *shared_;
  {
    std::lock_guard lock(s.m);
    s.n = n;
    s.k = std::min(size_, n);
    s.body = &body;
    std::fill(s.errors.begin(), s.errors.end(), nullptr);
    s.pending.store(size_ - 1, std::memory_order_relaxed);
    s.generation.fetch_add(1, std::memory_order_release);  // publishes the fields above
  }
  s.start.notify_all();
  t_in_team = true;
  s.run_chunk(0);
  t_in_team = false;
  auto finished = [&] { return s.pending.load(std::memory_order_acquire) == 0; };
  if (!spin_until(finished)) {
    std::unique_lock lock(s.m);
    s.done.wait(lock, finished);
  }
  for (auto& e : s.errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace diffpath
