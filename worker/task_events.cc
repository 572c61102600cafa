#include "worker/task_events.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstdlib>
#include <new>

#include "common/id.h"

namespace lumen::worker {

namespace {

constexpr int kFlusherNice = 10;

// `a == b` for the short ids a record interns (8 to 32 bytes: task id
// tails, job, node and worker ids) in overlapping 8-byte words, inline:
// a record compares five or six of them with the last value of their
// field, and memcmp through the PLT was 1.4% of a burst's profile.
inline bool SameBytes(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  if (n != b.size()) return false;
  if (n < 8 || n > 32) return a == b;
  auto word = [](const char* p) {
    uint64_t w;
    std::memcpy(&w, p, sizeof(w));
    return w;
  };
  for (size_t i = 0; i + 8 < n; i += 8) {
    if (word(a.data() + i) != word(b.data() + i)) return false;
  }
  return word(a.data() + n - 8) == word(b.data() + n - 8);
}

int64_t EnvInt(const char* name, int64_t fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  char* end = nullptr;
  long long parsed = std::strtoll(value, &end, 10);
  return (end != nullptr && *end == '\0' && parsed >= 0) ? parsed : fallback;
}

// The task id its first return's id begins with (ObjectId::FromIndex);
// empty when it has none.
std::string_view TaskIdOfReturns(const rpc::PushTaskReply& reply) {
  if (reply.returns_size() == 0) return {};
  const std::string& object_id = reply.returns(0).object_id();
  if (object_id.size() != ObjectId::kSize) return {};
  return std::string_view(object_id).substr(0, TaskId::kSize);
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
  options.buffer_size = static_cast<size_t>(std::max<int64_t>(1, EnvInt("LUMEN_TASK_EVENTS_BUFFER", static_cast<int64_t>(options.buffer_size))));
  options.flush_interval_ms = static_cast<int>(std::max<int64_t>(10, EnvInt("LUMEN_TASK_EVENTS_FLUSH_MS", 1000)));
  options.running_after_ms =
      static_cast<int>(std::max<int64_t>(0, EnvInt("LUMEN_TASK_EVENTS_RUNNING_MS", options.running_after_ms)));
  return options;
}

int64_t TaskEventRecorder::NowNs() {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

namespace {
std::atomic<uint64_t> g_next_recorder_id{1};
}  // namespace

thread_local TaskEventRecorder::ThreadSlot TaskEventRecorder::t_slot_;

TaskEventRecorder::ThreadSlot::~ThreadSlot() {
  if (buffer) buffer->orphaned.store(true, std::memory_order_release);
}

TaskEventRecorder::TaskEventRecorder(TaskEventOptions options, Sender send)
    : options_(options),
      send_(std::move(send)),
      pid_(static_cast<int32_t>(::getpid())),
      id_(g_next_recorder_id.fetch_add(1, std::memory_order_relaxed)),
      recording_(options_.enabled) {}

void TaskEventRecorder::SetRecording(bool on) {
  if (options_.enabled) recording_.store(on, std::memory_order_relaxed);
}

void TaskEventRecorder::FlushNow() {
  if (options_.enabled) Flush();
}

TaskEventRecorder::ThreadBuffer& TaskEventRecorder::Mine() {
  ThreadSlot& slot = t_slot_;
  if (slot.owner == id_) return *slot.buffer;
  // First record of this thread here (or it recorded to another recorder
  // since): a buffer of its own; the one it leaves gets nothing more.
  if (slot.buffer) slot.buffer->orphaned.store(true, std::memory_order_release);
  auto buffer = std::make_shared<ThreadBuffer>();
  {
    std::lock_guard<std::mutex> lock(mu_);
    threads_.push_back(buffer);
  }
  slot.owner = id_;
  slot.buffer = std::move(buffer);
  return *slot.buffer;
}

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
  if (options_.enabled) Flush(/*final=*/true);
}

void TaskEventRecorder::Buffer::Clear() {
  records.clear();
  has_executor = false;
  index.clear();  // Before the strings it views.
  strings.resize(1);
  for (int i = 0; i < kFields; ++i) {
    last[i] = {};
    last_index[i] = 0;
  }
}

inline uint32_t TaskEventRecorder::Buffer::Intern(int field, std::string_view value) {
  if (value.empty()) return 0;
  if (last_index[field] != 0 && SameBytes(value, last[field])) return last_index[field];
  return InternSlow(field, value);
}

uint32_t TaskEventRecorder::Buffer::InternSlow(int field, std::string_view value) {
  auto it = index.find(value);
  if (it == index.end()) {
    const std::string& stored = strings.emplace_back(value);
    it = index.emplace(std::string_view(stored), static_cast<uint32_t>(strings.size() - 1)).first;
  }
  last[field] = it->first;
  last_index[field] = it->second;
  return it->second;
}

void TaskEventRecorder::Running(const rpc::TaskSpec& spec, int64_t received_ns) {
  if (!enabled()) return;
  const int64_t now = NowNs();
  std::lock_guard<std::mutex> lock(running_mu_);
  running_.push_back({&spec, received_ns, now, false});
  running_unreported_.fetch_add(1, std::memory_order_relaxed);
}

int64_t TaskEventRecorder::Executed(const rpc::TaskSpec& spec) {
  if (!options_.enabled) return 0;
  std::lock_guard<std::mutex> lock(running_mu_);
  for (size_t i = running_.size(); i-- > 0;) {
    if (running_[i].spec != &spec) continue;
    const int64_t running_ns = running_[i].running_ns;
    if (!running_[i].reported) running_unreported_.fetch_sub(1, std::memory_order_relaxed);
    running_[i] = running_.back();
    running_.pop_back();
    return running_ns;
  }
  return 0;
}

void TaskEventRecorder::StampExecutor(rpc::PushTasksReply* reply) const {
  if (!enabled()) return;
  reply->set_worker_pid(pid_);
  reply->set_node_id(node_id_);
  reply->set_worker_id(worker_id_);
}

void TaskEventRecorder::Replied(const rpc::TaskSpec& spec, const rpc::PushTaskReply& reply,
                                const rpc::PushTasksReply& batch) {
  if (!enabled()) return;
  // The end as the worker saw it, when it says when the task started.
  const int64_t ended_ns = reply.running_ns() != 0 ? reply.running_ns() + reply.exec_micros() * 1000 : 0;
  // Who the task is, from the reply, just read, rather than from `spec`,
  // which by now has left the caches: reading its task id, job and
  // attempt here cost four or five cache misses per task, most of the
  // caller's cost of task events (docs/observability.md). A return's id
  // begins with its task's id; the executor echoes the attempt; a caller's
  // tasks are of its own job (CoreWorker::PrepareSpec).
  Ident ident{TaskIdOfReturns(reply), job_id_, reply.attempt()};
  if (ident.task_id.empty()) ident.task_id = spec.task_id();
  if (ident.job_id.empty()) ident.job_id = spec.job_id();
  Record(spec, reply.error().type() == rpc::ErrorInfo::NONE ? rpc::FINISHED : rpc::FAILED, batch.node_id(),
         batch.worker_id(), batch.worker_pid(), &reply.error(), ended_ns, reply.received_ns(),
         reply.running_ns(), &ident);
}

int64_t TaskEventRecorder::RunningCutoffNs() const {
  return NowNs() - int64_t{options_.running_after_ms} * 1'000'000;
}

bool TaskEventRecorder::RunningDue(int64_t cutoff_ns) {
  if (running_unreported_.load(std::memory_order_relaxed) == 0) return false;
  std::lock_guard<std::mutex> lock(running_mu_);
  for (const RunningTask& task : running_) {
    if (!task.reported && task.running_ns <= cutoff_ns) return true;
  }
  return false;
}

void TaskEventRecorder::RecordRunning(int64_t cutoff_ns) {
  if (running_unreported_.load(std::memory_order_relaxed) == 0) return;
  std::lock_guard<std::mutex> lock(running_mu_);
  for (RunningTask& task : running_) {
    if (task.reported || task.running_ns > cutoff_ns) continue;
    Record(*task.spec, rpc::RUNNING, {}, {}, -1, nullptr, task.running_ns, task.received_ns,
           task.running_ns);
    task.reported = true;
    running_unreported_.fetch_sub(1, std::memory_order_relaxed);
  }
}

void TaskEventRecorder::Record(const rpc::TaskSpec& spec, rpc::TaskState state, std::string_view node_id,
                               std::string_view worker_id, int32_t pid, const rpc::ErrorInfo* error,
                               int64_t time_ns, int64_t received_ns, int64_t running_ns, const Ident* ident) {
  if (!enabled()) return;
  ThreadBuffer& mine = Mine();
  if (mine.full.load(std::memory_order_relaxed)) {
    mine.full_drops.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const int64_t now = time_ns != 0 ? time_ns : NowNs();
  bool half_full;
  {
    std::lock_guard<std::mutex> lock(mine.mu);
    half_full = Write(mine, ident != nullptr ? *ident : Ident::Of(spec), spec, state, node_id, worker_id, pid, error,
                      now, received_ns, running_ns);
  }
  if (half_full) WakeFlusher();
}

void TaskEventRecorder::WakeFlusher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = true;
  }
  cv_.notify_one();
}

void TaskEventRecorder::SubmittedAll(const rpc::TaskSpec* specs, size_t n, bool normal_only) {
  if (!enabled() || n == 0) return;
  ThreadBuffer& mine = Mine();
  if (mine.full.load(std::memory_order_relaxed)) {
    int64_t skipped = 0;
    for (size_t i = 0; i < n; ++i) skipped += normal_only && !specs[i].actor_id().empty() ? 0 : 1;
    mine.full_drops.fetch_add(skipped, std::memory_order_relaxed);
    return;
  }
  const int64_t now = NowNs();
  bool half_full = false;
  {
    std::lock_guard<std::mutex> lock(mine.mu);
    for (size_t i = 0; i < n; ++i) {
      if (normal_only && !specs[i].actor_id().empty()) continue;
      half_full |= Write(mine, Ident::Of(specs[i]), specs[i], rpc::PENDING_ARGS_AVAIL, {}, {}, 0, nullptr, now, 0, 0);
    }
  }
  if (half_full) WakeFlusher();
}

bool TaskEventRecorder::Write(ThreadBuffer& mine, const Ident& ident, const rpc::TaskSpec& spec,
                              rpc::TaskState state, std::string_view node_id, std::string_view worker_id,
                              int32_t pid, const rpc::ErrorInfo* error, int64_t now, int64_t received_ns,
                              int64_t running_ns) {
  static_assert(sizeof(Compact) == 48, "a recording thread's record grew");
  Buffer& buf = mine.active;
  if (buf.records.size() >= options_.buffer_size || buf.strings.size() + kStringsPerRecord > kMaxStrings) {
    mine.full.store(true, std::memory_order_relaxed);
    ++mine.dropped;
    return false;
  }
  if (buf.strings.empty()) buf.strings.emplace_back();
  const size_t strings_before = buf.strings.size();
  Compact& r = buf.records.emplace_back();
  ++mine.recorded;
  r.time_ns = now;
  // µs before `now`, +1 (0: not carried, or too long ago to say here).
  auto before = [now](int64_t ns) -> uint32_t {
    if (ns == 0) return 0;
    const int64_t us = (now - ns) / 1000;
    return us >= 0 && us < int64_t{0xFFFFFFFF} ? static_cast<uint32_t>(us + 1) : 0;
  };
  r.received_us = before(received_ns);
  r.running_us = before(running_ns);
  r.attempt = static_cast<uint16_t>(std::min<int64_t>(ident.attempt, 0xFFFF));
  r.state = static_cast<uint8_t>(state);
  const std::string_view task_id = ident.task_id;
  if (task_id.size() == TaskEventRecord::kInlineTaskId) {
    r.flags |= kSplitTaskId;
    std::memcpy(&r.task_lo, task_id.data(), sizeof(r.task_lo));
    r.task_rest = static_cast<uint16_t>(
        buf.Intern(kTaskRest, task_id.substr(sizeof(r.task_lo))));
  } else if (task_id.size() <= sizeof(r.task_lo)) {
    r.flags |= kShortTaskId;
    std::memcpy(&r.task_lo, task_id.data(), task_id.size());
    r.task_rest = static_cast<uint16_t>(task_id.size());
  } else {
    r.task_rest = static_cast<uint16_t>(buf.Intern(kTaskRest, task_id));
  }
  r.job = static_cast<uint16_t>(buf.Intern(kJob, ident.job_id));
  // The description travels with the caller's first record and the
  // executor's (a RUNNING one, its only kind): only these read `spec`.
  if (state == rpc::PENDING_ARGS_AVAIL || pid < 0) {
    r.flags |= TaskEventRecord::kDescribed;
    r.s[0] = static_cast<uint16_t>(buf.Intern(kFunction, spec.function_name()));
    if (!SameBytes(spec.name(), spec.function_name())) r.s[1] = static_cast<uint16_t>(buf.Intern(kName, spec.name()));
    r.s[2] = static_cast<uint16_t>(buf.Intern(kActor, spec.actor_id()));
    r.s[3] = static_cast<uint16_t>(buf.Intern(kParent, spec.parent_task_id()));
    r.type = static_cast<uint8_t>(TypeOf(spec));
  } else {
    r.s[0] = static_cast<uint16_t>(buf.Intern(kNode, node_id));
    r.s[1] = static_cast<uint16_t>(buf.Intern(kWorker, worker_id));
    if (error != nullptr && error->type() != rpc::ErrorInfo::NONE) {
      r.s[2] = static_cast<uint16_t>(buf.Intern(kError, rpc::ErrorInfo::Type_Name(error->type())));
      r.s[3] = static_cast<uint16_t>(buf.Intern(kError, error->message()));
    }
  }
  if (pid < 0) {
    r.flags |= TaskEventRecord::kExecutor;
    r.pid = pid_;
    buf.has_executor = true;
  } else if (state == rpc::PENDING_ARGS_AVAIL) {
    r.pid = pid_;  // The submitter.
  } else {
    r.pid = pid;
  }
  // Half full, by its records or by its side table (a burst of tasks with
  // names of their own fills the table first): this record crossed the half.
  return buf.records.size() == options_.buffer_size / 2 ||
         (strings_before * 2 < kMaxStrings && buf.strings.size() * 2 >= kMaxStrings);
}

void TaskEventRecorder::FlushLoop() {
  // Below the task threads: on a busy machine a flush waits, a task does not.
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), kFlusherNice);
  constexpr auto kTick = std::chrono::milliseconds(100);
  auto last_flush = std::chrono::steady_clock::now();
  uint64_t seen = 0;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, kTick, [this] { return stopping_ || wake_; });
    if (stopping_) break;
    wake_ = false;
    std::vector<std::shared_ptr<ThreadBuffer>> threads = threads_;
    bool pending = dropped_ > 0;
    lock.unlock();
    size_t most = 0, most_strings = 0;
    uint64_t recorded = 0;
    bool dropping = false;
    for (const auto& t : threads) {
      std::lock_guard<std::mutex> thread_lock(t->mu);
      most = std::max(most, t->active.records.size());
      most_strings = std::max(most_strings, t->active.strings.size());
      recorded += t->recorded;
      dropping |= t->full.load(std::memory_order_relaxed);
      pending |= !t->active.records.empty() || t->dropped > 0 ||
                 t->full_drops.load(std::memory_order_relaxed) > 0;
    }
    pending |= RunningDue(RunningCutoffNs());
    const auto now = std::chrono::steady_clock::now();
    const bool due = now - last_flush >= std::chrono::milliseconds(options_.flush_interval_ms);
    const bool half_full = most * 2 >= options_.buffer_size || most_strings * 2 >= kMaxStrings;
    const bool quiet = recorded == seen;  // Nothing new for a tick.
    seen = recorded;
    if (pending && (due || half_full || quiet || dropping)) {
      Flush();
      last_flush = std::chrono::steady_clock::now();
    }
    lock.lock();
  }
}

void TaskEventRecorder::Flush(bool final) {
  std::lock_guard<std::mutex> flush_lock(flush_mu_);
  RecordRunning(final ? INT64_MAX : RunningCutoffNs());
  std::vector<std::shared_ptr<ThreadBuffer>> threads;
  int64_t dropped;  // To report with the first message of this flush.
  {
    std::lock_guard<std::mutex> lock(mu_);
    threads = threads_;
    dropped = dropped_;
    dropped_ = 0;
  }
  bool all_sent = true;
  bool sent_any = false;
  int64_t lost_events = 0;   // In messages the GCS did not take.
  int64_t lost_dropped = 0;  // The dropped count, when its message was not taken.
  std::vector<const ThreadBuffer*> emptied;  // Orphaned, and sent: to forget.
  for (const auto& t : threads) {
    // Read before the swap: an orphaned buffer gets no more records.
    const bool orphaned = t->orphaned.load(std::memory_order_acquire);
    int64_t thread_dropped;
    {
      std::lock_guard<std::mutex> thread_lock(t->mu);
      std::swap(t->active, sending_);
      t->active.Clear();  // Keeps the capacity of the buffer sent last time.
      // Records dropped from here on count in t->dropped (under its mu)
      // until the buffer fills again.
      t->full.store(false, std::memory_order_relaxed);
      thread_dropped = t->dropped + t->full_drops.exchange(0, std::memory_order_relaxed);
      t->dropped = 0;
    }
    if (thread_dropped > 0) {
      std::lock_guard<std::mutex> lock(mu_);
      dropped_total_ += thread_dropped;
    }
    dropped += thread_dropped;
    if (orphaned) emptied.push_back(t.get());
    if (sending_.records.empty()) continue;
    Send(dropped, all_sent, lost_events, lost_dropped);
    sent_any = true;
    dropped = 0;
  }
  sending_.Clear();
  if (dropped > 0) {  // Nothing to send but the count.
    Send(dropped, all_sent, lost_events, lost_dropped);
    sent_any = true;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!emptied.empty()) {
    threads_.erase(std::remove_if(threads_.begin(), threads_.end(),
                                  [&](const std::shared_ptr<ThreadBuffer>& t) {
                                    return std::find(emptied.begin(), emptied.end(), t.get()) != emptied.end();
                                  }),
                   threads_.end());
  }
  if (sent_any && all_sent) ++batches_sent_;
  // Lost: counted, and reported with the next batch.
  dropped_ += lost_events + lost_dropped;
  dropped_total_ += lost_events;
}

void TaskEventRecorder::Send(int64_t dropped, bool& all_sent, int64_t& lost_events, int64_t& lost_dropped) {
  if (sending_.strings.empty()) sending_.strings.emplace_back();
  // The executor's node and worker are this process: in the table once,
  // when an executor's record is there.
  uint32_t self_node = 0, self_worker = 0;
  if (sending_.has_executor) {
    self_node = sending_.Intern(kNode, node_id_);
    self_worker = sending_.Intern(kWorker, worker_id_);
  }
  const size_t n = sending_.records.size();
  // Reused: its records' string keeps its capacity, so a flush does not
  // allocate (and fault in) a fresh megabyte for each message.
  rpc::AddTaskEventDataRequest& request = request_;
  request.clear_strings();
  request.set_job_id(job_id_);
  request.set_record_size(static_cast<int32_t>(sizeof(Compact)));
  request.set_self_node(self_node);
  request.set_self_worker(self_worker);
  for (const std::string& str : sending_.strings) request.add_strings(str);
  for (size_t begin = 0; begin < n || (begin == 0 && dropped > 0);) {
    const size_t end = std::min(n, begin + kRecordsPerMessage);
    request.set_dropped(begin == 0 ? dropped : 0);
    request.set_records(reinterpret_cast<const char*>(sending_.records.data() + begin),
                        (end - begin) * sizeof(Compact));
    if (!send_(request).ok()) {
      all_sent = false;
      lost_events += static_cast<int64_t>(end - begin);
      if (begin == 0) lost_dropped += dropped;
    }
    if (end == begin) break;  // Only the dropped count: sent.
    begin = end;
  }
}

int64_t TaskEventRecorder::dropped_total() const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t total = dropped_total_;
  for (const auto& t : threads_) {
    std::lock_guard<std::mutex> thread_lock(t->mu);
    total += t->dropped + t->full_drops.load(std::memory_order_relaxed);
  }
  return total;
}

int64_t TaskEventRecorder::batches_sent() const {
  std::lock_guard<std::mutex> lock(mu_);
  return batches_sent_;
}

size_t TaskEventRecorder::thread_buffers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return threads_.size();
}

}  // namespace lumen::worker
