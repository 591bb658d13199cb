#include "workers/connection_poller.h"

#include <cmath>

#include "src/base/log.h"

namespace thriftd {
namespace {

constexpr timeval kTimerInterval = {0, 100 * 1000};  // heartbeat
constexpr timeval kRecheckInterval = {0, 5 * 1000};  // while declining to accept

}  // namespace

ConnectionPoller::ConnectionPoller(WorkerContext& context, event_base* base, Dispatcher& dispatcher)
    : context_(context), base_(base), dispatcher_(dispatcher) {
  if (context.client_timeout > 0) {
    double seconds = context.client_timeout;
    idle_timeout_.tv_sec = static_cast<time_t>(seconds);
    idle_timeout_.tv_usec = static_cast<suseconds_t>((seconds - std::floor(seconds)) * 1e6);
    has_idle_timeout_ = true;
  }
}

ConnectionPoller::~ConnectionPoller() {
  for (auto& [key, held] : held_) event_free(held->readable);
  held_.clear();
  for (event* e : listeners_) event_free(e);
  if (stop_event_) event_free(stop_event_);
  if (timer_) event_free(timer_);
  if (recheck_) event_free(recheck_);
  if (channel_event_) event_free(channel_event_);
}

void ConnectionPoller::Start() {
  for (int fd : context_.listen_fds)
    listeners_.push_back(event_new(base_, fd, EV_READ | EV_PERSIST, &OnListenerReady, this));
  stop_event_ = event_new(base_, context_.stop_fd(), EV_READ, &OnStop, this);
  event_add(stop_event_, nullptr);
  channel_event_ = event_new(base_, context_.channel_fd(), EV_READ | EV_PERSIST, &OnChannel, this);
  event_add(channel_event_, nullptr);
  recheck_ = evtimer_new(base_, &OnRecheck, this);
  timer_ = event_new(base_, -1, EV_PERSIST, &OnTimer, this);
  event_add(timer_, &kTimerInterval);
  context_.Heartbeat();
  UpdateAccepting();
}

void ConnectionPoller::UpdateAccepting() {
  bool want = !stopping_.load() && context_.ShouldAccept(static_cast<int>(held_.size()));
  // Declining (others hold fewer, or no descriptors left): look again soon,
  // not only at the next heartbeat, so a burst is not left in the backlog.
  if (!want && !stopping_.load() && !evtimer_pending(recheck_, nullptr))
    evtimer_add(recheck_, &kRecheckInterval);
  if (want == accepting_) return;
  accepting_ = want;
  for (event* e : listeners_) {
    if (want) {
      event_add(e, nullptr);
    } else {
      event_del(e);
    }
  }
}

void ConnectionPoller::OnListenerReady(evutil_socket_t fd, short, void* arg) {
  static_cast<ConnectionPoller*>(arg)->AcceptOne(fd);
}

void ConnectionPoller::AcceptOne(int listen_fd) {
  // One connection per wakeup, then ask again: the balance may have changed.
  int fd = context_.Accept(listen_fd);
  if (fd >= 0) Hold(context_.OpenConnection(fd));
  UpdateAccepting();
}

void ConnectionPoller::Hold(std::unique_ptr<ThriftConnection> connection) {
  if (!connection) return;
  auto owned = std::make_unique<HeldConnection>();
  HeldConnection* held = owned.get();
  int fd = connection->fd();
  held->connection = std::move(connection);
  held->poller = this;
  // Edge-triggered and persistent: registered once for the connection's
  // life, and told of every arrival, so a served turn needs no read to find
  // "nothing more" and no epoll_ctl to go idle again.
  held->readable = event_new(base_, fd, EV_READ | EV_PERSIST | EV_ET, &OnConnectionReady, held);
  held_.emplace(held, std::move(owned));
  context_.ReportConnections(static_cast<int>(held_.size()));
  WaitForData(held);
  if (stopping_.load()) {
    held->state.store(HeldConnection::kBusy);  // claimed: no turn starts on it
    Release(held);
  }
}

void ConnectionPoller::OnChannel(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<ConnectionPoller*>(arg);
  while (std::unique_ptr<ThriftConnection> adopted = self->context_.AdoptConnection())
    self->Hold(std::move(adopted));
  // The master is gone (end of file keeps the channel readable): stop watching.
  if (self->context_.stop_requested()) event_del(self->channel_event_);
  self->UpdateAccepting();
}

void ConnectionPoller::Release(HeldConnection* held) {
  context_.HandOver(*held->connection);  // When it went, what is dropped is empty.
  Drop(held);
}

void ConnectionPoller::WaitForData(HeldConnection* held) {
  event_add(held->readable, has_idle_timeout_ ? &idle_timeout_ : nullptr);
}

void ConnectionPoller::OnConnectionReady(evutil_socket_t, short what, void* arg) {
  auto* held = static_cast<HeldConnection*>(arg);
  ConnectionPoller* self = held->poller;
  int state = HeldConnection::kIdle;
  if (what & EV_TIMEOUT) {
    // A long call is not idleness: only an idle connection times out (the
    // end of each turn restarts the clock).
    if (!held->state.compare_exchange_strong(state, HeldConnection::kBusy)) return;
    THRIFTD_LOG(kDebug) << "closing an idle connection: idle past thrift_client_timeout";
    self->Drop(held);
    return;
  }
  for (;;) {
    if (held->state.compare_exchange_weak(state, HeldConnection::kBusy)) {
      self->Dispatch(held);
      return;
    }
    // Data came while the connection is out being served, and the server
    // may already have looked and found nothing: have it serve again.
    if (state == HeldConnection::kBusyPending) return;
    if (state == HeldConnection::kBusy &&
        held->state.compare_exchange_weak(state, HeldConnection::kBusyPending))
      return;
  }
}

void ConnectionPoller::Dispatch(HeldConnection* held) {
  busy_.fetch_add(1);
  dispatcher_.Dispatch(held);
}

ConnectionPoller::Next ConnectionPoller::Finish(HeldConnection* held,
                                                ThriftConnection::Outcome outcome) {
  if (outcome == ThriftConnection::Outcome::kClosed || stopping_.load()) return Next::kToLoop;
  if (has_idle_timeout_) WaitForData(held);  // restarts the idle clock
  int state = HeldConnection::kBusy;
  if (held->state.compare_exchange_strong(state, HeldConnection::kIdle)) {
    busy_.fetch_sub(1);
    return Next::kIdled;
  }
  held->state.store(HeldConnection::kBusy);  // was kBusyPending
  return Next::kServeAgain;
}

void ConnectionPoller::Done(HeldConnection* held, ThriftConnection::Outcome outcome) {
  busy_.fetch_sub(1);
  if (outcome == ThriftConnection::Outcome::kClosed) {
    Drop(held);
  } else {
    Release(held);  // Back at a message boundary while stopping: it goes now.
  }
  MaybeFinish();
}

void ConnectionPoller::Drop(HeldConnection* held) {
  event_free(held->readable);
  {
    std::mutex* mutex = dispatcher_.destruction_mutex();
    std::unique_lock<std::mutex> lock;
    if (mutex != nullptr) lock = std::unique_lock<std::mutex>(*mutex);
    held_.erase(held);  // Destroys the connection, closing its socket.
  }
  context_.ReportConnections(static_cast<int>(held_.size()));
  UpdateAccepting();
}

void ConnectionPoller::OnStop(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<ConnectionPoller*>(arg);
  self->stopping_.store(true);
  self->UpdateAccepting();
  // Idle connections go at once (claimed, so no turn starts on them); busy
  // ones when their call is answered.
  std::vector<HeldConnection*> idle;
  for (auto& [key, held] : self->held_) {
    int state = HeldConnection::kIdle;
    if (held->state.compare_exchange_strong(state, HeldConnection::kBusy))
      idle.push_back(held.get());
  }
  for (HeldConnection* held : idle) self->Release(held);
  self->MaybeFinish();
}

void ConnectionPoller::OnTimer(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<ConnectionPoller*>(arg);
  if (self->dispatcher_.Responsive()) self->context_.Heartbeat();
  self->UpdateAccepting();
}

void ConnectionPoller::OnRecheck(evutil_socket_t, short, void* arg) {
  static_cast<ConnectionPoller*>(arg)->UpdateAccepting();
}

void ConnectionPoller::MaybeFinish() {
  if (stopping_.load() && busy_.load() == 0) event_base_loopbreak(base_);
}

}  // namespace thriftd
