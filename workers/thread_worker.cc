#include "workers/thread_worker.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "src/unique_fd.h"
#include "workers/connection_poller.h"
#include "workers/poll_waiter.h"

namespace thriftd {
namespace {

// The pool: readable connections in. A thread serves a connection while data
// arrives and leaves it idle in the poller itself; only closed connections
// (and, when stopping, idle ones) go back to the loop thread, through an
// eventfd.
class ThreadPool final : public ConnectionPoller::Dispatcher {
 public:
  ThreadPool(WorkerContext& context, event_base* base)
      : context_(context), done_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    done_event_ = event_new(base, done_fd_.get(), EV_READ | EV_PERSIST, &OnDone, this);
    event_add(done_event_, nullptr);
  }

  ~ThreadPool() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      shutting_down_ = true;
    }
    work_ready_.notify_all();
    for (std::thread& thread : threads_) thread.join();
    event_free(done_event_);
  }

  void set_poller(ConnectionPoller* poller) { poller_ = poller; }

  void StartThreads(int count) {
    for (int i = 0; i < count; ++i) threads_.emplace_back([this] { Serve(); });
  }

  // Alive while a thread is free, or calls complete: a pool whose every
  // thread is stuck in a handler stops the heartbeat (issue: a hung worker).
  bool Responsive() override {
    std::uint64_t calls = context_.calls_served();
    bool progressed = calls != last_calls_;
    last_calls_ = calls;
    return progressed || idle_threads_.load(std::memory_order_relaxed) > 0;
  }

  void Dispatch(HeldConnection* held) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      work_.push_back(held);
    }
    work_ready_.notify_one();
  }

 private:
  // A pool thread: serve a connection while its data lasts, hand it back.
  void Serve() {
    PollWaiter waiter(context_, /*idle_between_messages=*/true);
    for (;;) {
      HeldConnection* held = nullptr;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        idle_threads_.fetch_add(1, std::memory_order_relaxed);
        work_ready_.wait(lock, [this] { return shutting_down_ || !work_.empty(); });
        idle_threads_.fetch_sub(1, std::memory_order_relaxed);
        if (work_.empty()) return;
        held = work_.front();
        work_.pop_front();
      }
      ThriftConnection::Outcome outcome;
      ConnectionPoller::Next next;
      do {
        outcome = held->connection->Serve(waiter);
        next = poller_->Finish(held, outcome);
      } while (next == ConnectionPoller::Next::kServeAgain);
      if (next == ConnectionPoller::Next::kIdled) continue;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        finished_.emplace_back(held, outcome);
      }
      uint64_t one = 1;
      ssize_t ignored = write(done_fd_.get(), &one, sizeof one);
      (void)ignored;
    }
  }

  static void OnDone(evutil_socket_t fd, short, void* arg) {
    auto* self = static_cast<ThreadPool*>(arg);
    uint64_t count;
    ssize_t ignored = read(fd, &count, sizeof count);
    (void)ignored;
    std::vector<std::pair<HeldConnection*, ThriftConnection::Outcome>> finished;
    {
      std::lock_guard<std::mutex> lock(self->mutex_);
      finished.swap(self->finished_);
    }
    for (auto& [held, outcome] : finished) self->poller_->Done(held, outcome);
  }

  WorkerContext& context_;
  ConnectionPoller* poller_ = nullptr;
  UniqueFd done_fd_;
  event* done_event_ = nullptr;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::deque<HeldConnection*> work_;
  std::vector<std::pair<HeldConnection*, ThriftConnection::Outcome>> finished_;
  bool shutting_down_ = false;
  std::atomic<int> idle_threads_{0};
  std::uint64_t last_calls_ = 0;  // loop thread only
};

struct EventBaseDeleter {
  void operator()(event_base* base) const { event_base_free(base); }
};

}  // namespace

bool ThreadWorker::InitProcess(WorkerContext& /*context*/, std::string* /*error*/) { return true; }

void ThreadWorker::Run(WorkerContext& context) {
  // Pool threads finish turns themselves (restarting a connection's idle
  // timer with event_add), so libevent must lock.
  evthread_use_pthreads();
  std::unique_ptr<event_base, EventBaseDeleter> base(event_base_new());
  ThreadPool pool(context, base.get());
  ConnectionPoller poller(context, base.get(), pool);
  pool.set_poller(&poller);
  pool.StartThreads(context.threads);
  poller.Start();
  event_base_dispatch(base.get());
}

}  // namespace thriftd
