#pragma once
// A background worker that always works on the newest request ("latest wins"): submitting a
// request cancels the one running and replaces any waiting one. Results are published as
// immutable shared_ptr snapshots that the GUI thread reads without ever waiting on the work.
// Work may publish several results per request (progressive refinement: coarse, then full).
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "diffpath/parallel.hpp"

namespace diffpath::gui {

/// What a running task sees: its cancel flag, a progress sink and a way to publish results.
template <class Result>
class JobContext {
 public:
  const std::atomic<bool>* cancel_flag() const { return cancel_.get(); }
  bool cancelled() const { return cancel_->load(std::memory_order_relaxed); }
  void progress(double fraction) { progress_->store(fraction, std::memory_order_relaxed); }
  void publish(std::shared_ptr<const Result> r) { publish_(std::move(r)); }

 private:
  template <class, class> friend class LatestJob;
  std::shared_ptr<std::atomic<bool>> cancel_;
  std::atomic<double>* progress_ = nullptr;
  std::function<void(std::shared_ptr<const Result>)> publish_;
};

template <class Request, class Result>
class LatestJob {
 public:
  using Work = std::function<void(const Request&, JobContext<Result>&)>;

  /// `nice` > 0 lowers the worker's scheduling priority (Linux: per thread, inherited by the
  /// threads it spawns), so background numerics yield the cores to the GUI and the sampler.
  explicit LatestJob(Work work, int nice = 0)
      : work_(std::move(work)), nice_(nice), thread_([this] { run(); }) {}
  ~LatestJob() {
    {
      std::lock_guard lock(mutex_);
      quit_ = true;
      if (running_cancel_) running_cancel_->store(true);
    }
    wake_.notify_all();
    thread_.join();
  }
  LatestJob(const LatestJob&) = delete;
  LatestJob& operator=(const LatestJob&) = delete;

  /// Queues `r`; cancels the request being worked on (its partial results stay published).
  void submit(Request r) {
    {
      std::lock_guard lock(mutex_);
      pending_ = std::move(r);
      if (running_cancel_) running_cancel_->store(true);
    }
    wake_.notify_all();
  }
  /// Cancels the running request and drops a waiting one.
  void cancel() {
    std::lock_guard lock(mutex_);
    pending_.reset();
    if (running_cancel_) running_cancel_->store(true);
  }

  /// Newest published result (nullptr before the first).
  std::shared_ptr<const Result> latest() const {
    std::lock_guard lock(mutex_);
    return latest_;
  }
  /// Increments on every publish: cheap "has anything changed" check for the GUI.
  uint64_t version() const { return version_.load(std::memory_order_acquire); }
  bool busy() const {
    std::lock_guard lock(mutex_);
    return pending_.has_value() || running_cancel_ != nullptr;
  }
  /// True once every submitted request finished (or was superseded/cancelled).
  bool idle() const { return !busy(); }
  double progress() const { return progress_.load(std::memory_order_relaxed); }
  /// Message of the last request that threw (cleared when a request succeeds).
  std::string error() const {
    std::lock_guard lock(mutex_);
    return error_;
  }
  /// Number of requests finished without error or cancellation.
  uint64_t completed() const { return completed_.load(std::memory_order_acquire); }

 private:
  void run() {
    lower_thread_priority(nice_);
    for (;;) {
      Request req;
      auto cancel = std::make_shared<std::atomic<bool>>(false);
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return quit_ || pending_.has_value(); });
        if (quit_) return;
        req = std::move(*pending_);
        pending_.reset();
        running_cancel_ = cancel;
      }
      progress_.store(0.0);
      JobContext<Result> ctx;
      ctx.cancel_ = cancel;
      ctx.progress_ = &progress_;
      ctx.publish_ = [this](std::shared_ptr<const Result> r) {
        std::lock_guard lock(mutex_);
        latest_ = std::move(r);
        version_.fetch_add(1, std::memory_order_release);
      };
      std::string err;
      try {
        work_(req, ctx);
      } catch (const std::exception& e) {
        err = e.what();
      }
      std::lock_guard lock(mutex_);
      if (!cancel->load()) {
        error_ = err;
        if (err.empty()) completed_.fetch_add(1, std::memory_order_release);
      }
      running_cancel_.reset();
      progress_.store(1.0);
    }
  }

  Work work_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::optional<Request> pending_;
  std::shared_ptr<std::atomic<bool>> running_cancel_;
  std::shared_ptr<const Result> latest_;
  std::string error_;
  std::atomic<uint64_t> version_{0}, completed_{0};
  std::atomic<double> progress_{0.0};
  bool quit_ = false;
  int nice_ = 0;
  std::thread thread_;  // last: starts after every member above is constructed
};

}  // namespace diffpath::gui
