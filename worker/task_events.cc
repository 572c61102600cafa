#include "worker/task_events.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

#include "google/protobuf/arena.h"

namespace lumen::worker {
namespace {

constexpr int kFlusherNice = 10;

int64_t WallNs() {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

int64_t EnvInt(const char* name, int64_t fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  char* end = nullptr;
  long long parsed = std::strtoll(value, &end, 10);
  return (end != nullptr && *end == '\0' && parsed >= 0) ? parsed : fallback;
}

rpc::TaskType TypeOf(const rpc::TaskSpec& spec) {
  if (spec.actor_creation()) return rpc::ACTOR_CREATION_TASK;
  return spec.actor_id().empty() ? rpc::NORMAL_TASK : rpc::ACTOR_TASK;
}

}  // namespace

TaskEventOptions TaskEventOptions::FromEnv() {
  TaskEventOptions options;
  const char* on = std::getenv("LUMEN_TASK_EVENTS");
  if (on != nullptr && (std::string(on) == "0" || std::string(on) == "false")) options.enabled = false;
  options.buffer_size = static_cast<size_t>(std::max<int64_t>(1, EnvInt("LUMEN_TASK_EVENTS_BUFFER", 10'000)));
  options.flush_interval_ms = static_cast<int>(std::max<int64_t>(10, EnvInt("LUMEN_TASK_EVENTS_FLUSH_MS", 1000)));
  return options;
}

TaskEventRecorder::TaskEventRecorder(TaskEventOptions options, Sender send)
    : options_(options), send_(std::move(send)), pid_(static_cast<int32_t>(::getpid())) {}

TaskEventRecorder::~TaskEventRecorder() { Stop(); }

void TaskEventRecorder::SetProcess(const std::string& job_id, const std::string& node_id,
                                   const std::string& worker_id) {
  job_id_ = job_id;
  node_id_ = node_id;
  worker_id_ = worker_id;
}

void TaskEventRecorder::Start() {
  if (!options_.enabled || flusher_.joinable()) return;
  flusher_ = std::thread([this] { FlushLoop(); });
}

void TaskEventRecorder::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();
  if (options_.enabled) Flush();
}

void TaskEventRecorder::Record(const rpc::TaskSpec& spec, rpc::TaskState state,
                               const rpc::Address* worker, int32_t pid, const rpc::ErrorInfo* error) {
  if (!options_.enabled) return;
  const int64_t now = WallNs();
  std::lock_guard<std::mutex> lock(mu_);
  if (used_ >= options_.buffer_size) {
    ++dropped_;
    ++dropped_total_;
    return;
  }
  if (used_ == active_.size()) active_.emplace_back();
  Slot& slot = active_[used_++];
  ++recorded_;
  slot.task_id.assign(spec.task_id());
  slot.job_id.assign(spec.job_id());
  slot.attempt = spec.attempt();
  slot.state = state;
  slot.time_ns = now;
  // The description travels with the first event of each side only.
  slot.described = state == rpc::PENDING_ARGS_AVAIL || state == rpc::RUNNING;
  if (slot.described) {
    slot.function_name.assign(spec.function_name());
    slot.name.assign(spec.name() == spec.function_name() ? std::string_view() : spec.name());
    slot.actor_id.assign(spec.actor_id());
    slot.parent_task_id.assign(spec.parent_task_id());
    slot.type = TypeOf(spec);
  }
  slot.executor = pid < 0;
  slot.node_id.clear();
  slot.worker_id.clear();
  slot.worker_pid = pid > 0 ? pid : 0;
  if (worker != nullptr) {
    slot.node_id.assign(worker->node_id());
    slot.worker_id.assign(worker->worker_id());
  }
  slot.error_type.clear();
  slot.error_message.clear();
  if (error != nullptr && error->type() != rpc::ErrorInfo::NONE) {
    slot.error_type.assign(rpc::ErrorInfo::Type_Name(error->type()));
    slot.error_message.assign(error->message());
  }
}

void TaskEventRecorder::FlushLoop() {
  // Below the task threads: on a busy machine a flush waits, a task does not.
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), kFlusherNice);
  constexpr auto kTick = std::chrono::milliseconds(100);
  auto last_flush = std::chrono::steady_clock::now();
  uint64_t seen = 0;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, kTick, [this] { return stopping_; });
    if (stopping_) break;
    const auto now = std::chrono::steady_clock::now();
    const bool due = now - last_flush >= std::chrono::milliseconds(options_.flush_interval_ms);
    const bool half_full = used_ * 2 >= options_.buffer_size;
    const bool quiet = recorded_ == seen;  // Nothing new for a tick.
    seen = recorded_;
    if ((used_ == 0 && dropped_ == 0) || !(due || half_full || quiet)) continue;
    lock.unlock();
    Flush();
    last_flush = std::chrono::steady_clock::now();
    lock.lock();
  }
}

void TaskEventRecorder::Flush() {
  std::lock_guard<std::mutex> flush_lock(flush_mu_);
  size_t n;
  int64_t dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (used_ == 0 && dropped_ == 0) return;
    active_.swap(sending_);
    n = used_;
    used_ = 0;
    dropped = dropped_;
    dropped_ = 0;
  }
  // Sent in messages of at most kEventsPerMessage task events (a flush at
  // half a buffer is one message: fewer, larger calls cost less than many
  // small ones), each built on an arena whose first block is kept across
  // flushes: no malloc per event.
  bool all_sent = true;
  int64_t lost_events = 0;   // In messages the GCS did not take.
  int64_t lost_dropped = 0;  // The dropped count, when its message was not taken.
  for (size_t begin = 0; begin < n || (begin == 0 && dropped > 0);) {
    google::protobuf::ArenaOptions arena_options;
    arena_options.initial_block = arena_block_.get();
    arena_options.initial_block_size = kArenaBlockBytes;
    google::protobuf::Arena arena(arena_options);
    auto* request = google::protobuf::Arena::CreateMessage<rpc::AddTaskEventDataRequest>(&arena);
    request->set_job_id(job_id_);
    if (begin == 0) request->set_dropped(dropped);
    // One event per task attempt and side: the GCS merges each task once per
    // message, and ids travel once. Keys point into the slots (no copies).
    fold_.clear();
    size_t i = begin;
    for (; i < n && fold_.size() < kEventsPerMessage; ++i) {
      const Slot& slot = sending_[i];
      const int64_t attempt_side = (static_cast<int64_t>(slot.attempt) << 1) | (slot.executor ? 1 : 0);
      auto [it, added] = fold_.try_emplace({std::string_view(slot.task_id), attempt_side}, nullptr);
      if (added) {
        it->second = request->add_events();
        it->second->set_task_id(slot.task_id);
        it->second->set_attempt(slot.attempt);
        it->second->set_job_id(slot.job_id);
      }
      AddTo(slot, it->second);
    }
    if (!send_(*request).ok()) {
      all_sent = false;
      lost_events += static_cast<int64_t>(i - begin);
      if (begin == 0) lost_dropped = dropped;
    }
    if (i == begin) break;  // Only the dropped count: sent.
    begin = i;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (all_sent) ++batches_sent_;
  // Lost: counted, and reported with the next batch.
  dropped_ += lost_events + lost_dropped;
  dropped_total_ += lost_events;
}

void TaskEventRecorder::AddTo(const Slot& slot, rpc::TaskEvent* event) const {
  rpc::TaskStateTime* change = event->add_states();
  change->set_state(slot.state);
  change->set_time_ns(slot.time_ns);
  if (slot.described) {
    event->set_function_name(slot.function_name);
    event->set_name(slot.name);
    event->set_type(slot.type);
    event->set_actor_id(slot.actor_id);
    event->set_parent_task_id(slot.parent_task_id);
  }
  if (slot.executor) {
    event->set_node_id(node_id_);
    event->set_worker_id(worker_id_);
    event->set_worker_pid(pid_);
  } else {
    if (slot.state == rpc::PENDING_ARGS_AVAIL) event->set_submitter_pid(pid_);
    if (!slot.node_id.empty()) event->set_node_id(slot.node_id);
    if (!slot.worker_id.empty()) event->set_worker_id(slot.worker_id);
    if (slot.worker_pid != 0) event->set_worker_pid(slot.worker_pid);
  }
  if (!slot.error_type.empty()) {
    event->set_error_type(slot.error_type);
    event->set_error_message(slot.error_message);
  }
}

int64_t TaskEventRecorder::dropped_total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_total_;
}

int64_t TaskEventRecorder::batches_sent() const {
  std::lock_guard<std::mutex> lock(mu_);
  return batches_sent_;
}

}  // namespace lumen::worker
