// TaskExecutor sets CUDA_VISIBLE_DEVICES for each task while another thread
// keeps reading the environment, as gRPC, libc and user threads do in a
// worker. The environment may only change by overwriting that variable's
// value: no variable may appear, vanish or move (see cuda_visible_devices.h).
// And a task whose result meets a node's object store that went away is the
// node's failure (the handler ends the worker), not the task's.
#include "worker/task_executor.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <set>
#include <thread>

#include "plasma/server.h"
#include "plasma/shm_segment.h"
#include "plasma/store.h"
#include "ray/api.h"
#include "worker/cuda_visible_devices.h"

extern char** environ;

namespace {

std::string SeenGpus() {
  const char* v = std::getenv("CUDA_VISIBLE_DEVICES");
  return v ? v : "<unset>";
}

// Too large to go back inline: stored in the node's object store.
std::string LargeResult() { return std::string(1 << 20, 'x'); }

}  // namespace

RAY_REMOTE(SeenGpus, LargeResult);

using namespace lumen;
using namespace lumen::worker;

namespace {

// The names in the environment, in order.
std::vector<std::string> EnvNames() {
  std::vector<std::string> names;
  for (char** e = environ; *e; ++e) names.emplace_back(*e, std::strchr(*e, '=') - *e);
  return names;
}

// Reads the environment in a loop on its own thread until destroyed, and
// counts what must never happen: CUDA_VISIBLE_DEVICES missing or holding a
// value no task was given, or another variable missing.
class EnvReader {
 public:
  explicit EnvReader(std::set<std::string> allowed) : allowed_(std::move(allowed)) {
#if defined(__SANITIZE_THREAD__)
    // Under ThreadSanitizer the reads are not concurrent: overwriting an
    // existing variable swaps one pointer in glibc's environ (the old
    // string is never freed), which is safe by glibc's implementation but
    // is a plain data race to TSan, which cannot see glibc's guarantees.
    // The values and the environment's shape are still checked.
    ReadOnce();
#else
    thread_ = std::thread([this] {
      while (!stop_.load()) ReadOnce();
    });
    while (reads_.load() == 0) std::this_thread::yield();  // Reading before any task runs.
#endif
  }
  void ReadOnce() {
    const char* cuda = std::getenv("CUDA_VISIBLE_DEVICES");
    if (!cuda || !allowed_.count(cuda)) ++bad_cuda_;
    if (!std::getenv("LUMEN_TEST_SENTINEL")) ++missing_sentinel_;
    ++reads_;
  }
  ~EnvReader() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int bad_cuda() const { return bad_cuda_; }
  int missing_sentinel() const { return missing_sentinel_; }

 private:
  const std::set<std::string> allowed_;
  std::atomic<bool> stop_{false};
  std::atomic<int> reads_{0}, bad_cuda_{0}, missing_sentinel_{0};
  std::thread thread_;
};

// The pieces a TaskExecutor needs; no task here has ObjectRef arguments,
// so the getter is not used; plasma (may be null) takes large results.
struct ExecutorFixture {
  EventLoop loop;
  MemoryStore store;
  ReferenceTable refs{[](const ObjectId&, bool, bool) {}};
  ClientPool owners{""};
  ObjectGetter getter{loop, store, refs, nullptr, owners, WorkerId::FromRandom(), nullptr};
  TaskExecutor executor;

  explicit ExecutorFixture(std::shared_ptr<plasma::PlasmaClient> plasma = nullptr,
                           std::function<void(const absl::Status&)> on_store_lost = nullptr)
      : executor(getter, std::move(plasma), NodeId::FromRandom(), "127.0.0.1") {
    if (on_store_lost) executor.SetStoreLostHandler(std::move(on_store_lost));
    executor.Start(nullptr);
  }

  // Pushes `spec` alone and waits for its reply.
  rpc::PushTaskReply Push(const rpc::TaskSpec& spec) {
    rpc::PushTasksRequest request;
    rpc::PushTasksReply reply;
    *request.add_tasks()->mutable_spec() = spec;
    std::promise<void> done;
    executor.EnqueueBatch(&request, &reply, [&done](absl::Status) { done.set_value(); });
    done.get_future().wait();
    REQUIRE(reply.replies_size() == 1);
    return reply.replies(0);
  }

  // Runs `function` (no arguments) once; returns its reply.
  rpc::PushTaskReply RunOnce(const std::string& function) {
    rpc::TaskSpec spec;
    spec.set_task_id(TaskId::FromRandom().Binary());
    spec.set_function_name(function);
    return Push(spec);
  }

  // Runs SeenGpus once per entry of `gpu_ids_per_task` (the lease's GPU
  // indices) in one batch; returns what each task saw.
  std::vector<std::string> Run(const std::vector<std::vector<int>>& gpu_ids_per_task) {
    rpc::PushTasksRequest request;
    rpc::PushTasksReply reply;
    for (const auto& ids : gpu_ids_per_task) {
      rpc::TaskSpec* spec = request.add_tasks()->mutable_spec();
      spec->set_task_id(TaskId::FromRandom().Binary());
      spec->set_function_name("SeenGpus");
      for (int id : ids) spec->add_gpu_ids(id);
    }
    std::promise<void> done;
    executor.EnqueueBatch(&request, &reply, [&done](absl::Status) { done.set_value(); });
    done.get_future().wait();
    std::vector<std::string> seen;
    for (const auto& r : reply.replies()) {
      if (r.error().type() != rpc::ErrorInfo::NONE) {
        seen.push_back("error: " + r.error().message());
      } else {
        const std::string& data = r.returns(0).data();
        seen.push_back(
            ray::internal::Serializer::Deserialize<std::string>(data.data(), data.size()));
      }
    }
    return seen;
  }
};

}  // namespace

// Runs `gpus` (one task each) 50 times while a reader thread reads the
// environment; checks what each task saw, that the reader only ever saw
// `allowed` values, and that no variable was added, removed or moved.
static void CheckTasksSeeGpusWhileEnvIsRead(const std::vector<std::vector<int>>& gpus,
                                     const std::vector<std::string>& expected,
                                     const std::set<std::string>& allowed) {
  const std::vector<std::string> names = EnvNames();
  char** const env_array = environ;
  {
    ExecutorFixture fixture;
    EnvReader reader(allowed);
    for (int round = 0; round < 50; ++round) {
      CHECK(fixture.Run(gpus) == expected);
      CHECK(EnvNames() == names);
    }
    reader.Stop();
    CHECK(reader.bad_cuda() == 0);
    CHECK(reader.missing_sentinel() == 0);
  }
  CHECK(environ == env_array);
  CHECK(EnvNames() == names);
}

TEST_CASE("tasks see their own GPUs while other threads read the environment") {
  // As a worker of a node started with CUDA_VISIBLE_DEVICES=5,7 starts.
  ::setenv("LUMEN_TEST_SENTINEL", "1", 1);
  ::setenv("CUDA_VISIBLE_DEVICES", "5,7", 1);
  ClaimCudaVisibleDevices();
  CheckTasksSeeGpusWhileEnvIsRead({{0}, {1}, {}, {1, 0}, {3}}, {"5", "7", "5,7", "7,5", "3"},
                                  {"5,7", "5", "7", "7,5", "3"});
}

TEST_CASE("a worker started without CUDA_VISIBLE_DEVICES never adds or removes it") {
  ::setenv("LUMEN_TEST_SENTINEL", "1", 1);
  ::unsetenv("CUDA_VISIBLE_DEVICES");
  ClaimCudaVisibleDevices();  // Before any thread: the process start.
  CHECK(SeenGpus() == "");
  // Indices are device ids as they are: nothing inherited to map them.
  CheckTasksSeeGpusWhileEnvIsRead({{0}, {}, {1}, {}, {0, 1}}, {"0", "", "1", "", "0,1"},
                                  {"", "0", "1", "0,1"});
}

// A real object store in this process, on its own loop thread, that can be
// stopped (every client's connection closed) as a dying store would be.
class InProcessStore {
 public:
  InProcessStore() {
    char dir[] = "/tmp/lumen-executor-test.XXXXXX";
    REQUIRE(::mkdtemp(dir) != nullptr);
    dir_ = dir;
    auto segment = plasma::ShmSegment::Create(dir_, 16 << 20);
    REQUIRE(segment.ok());
    segment_ = std::move(*segment);
    store_ = std::make_unique<plasma::PlasmaStore>(segment_->base(), segment_->size());
    server_ = std::make_unique<plasma::PlasmaServer>(loop_.io_context(), *store_, segment_->fd(),
                                                     segment_->size());
    REQUIRE(server_->Listen(dir_ + "/plasma.sock").ok());
    loop_.StartThread();
    auto client = plasma::PlasmaClient::Connect(dir_ + "/plasma.sock");
    REQUIRE(client.ok());
    client_ = std::move(*client);
  }
  ~InProcessStore() {
    Stop();
    loop_.StopAndJoin();
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::shared_ptr<plasma::PlasmaClient> client() const { return client_; }
  // Closes the listener and every client connection, as the store's death does.
  void Stop() {
    std::promise<void> stopped;
    loop_.Post([&] {
      server_->Stop();
      stopped.set_value();
    });
    stopped.get_future().wait();
  }

 private:
  std::string dir_;
  EventLoop loop_;
  std::unique_ptr<plasma::ShmSegment> segment_;
  std::unique_ptr<plasma::PlasmaStore> store_;
  std::unique_ptr<plasma::PlasmaServer> server_;
  std::shared_ptr<plasma::PlasmaClient> client_;
};

// Seen in the chaos suite: a task whose node's store died as it stored its
// result failed with the user's kind of error (ObjectStoreError) and was
// not retried. The store's loss is the node failing: the worker's handler
// runs (in a worker process it exits, so the caller retries the task).
TEST_CASE("a store gone when a task stores its result is the node's failure and not the task's") {
  InProcessStore plasma;
  std::vector<absl::Status> lost;
  ExecutorFixture fixture(plasma.client(), [&](const absl::Status& status) { lost.push_back(status); });
  rpc::PushTaskReply stored = fixture.RunOnce("LargeResult");
  REQUIRE(stored.error().type() == rpc::ErrorInfo::NONE);
  REQUIRE(stored.returns_size() == 1);
  CHECK(stored.returns(0).in_plasma());
  CHECK(lost.empty());

  plasma.Stop();
  rpc::PushTaskReply failed = fixture.RunOnce("LargeResult");
  REQUIRE(lost.size() == 1);
  CHECK(absl::IsUnavailable(lost[0]));
  INFO(failed.error().message());
  CHECK(failed.error().type() == rpc::ErrorInfo::WORKER_DIED);
  CHECK(failed.error().message().find("object store of this node went away") != std::string::npos);
  CHECK(failed.returns_size() == 0);
}

TEST_CASE("without a store-lost handler the store's failure is reported as the task's") {
  InProcessStore plasma;
  ExecutorFixture fixture(plasma.client());
  plasma.Stop();
  rpc::PushTaskReply failed = fixture.RunOnce("LargeResult");
  INFO(failed.error().message());
  CHECK(failed.error().type() == rpc::ErrorInfo::TASK_EXCEPTION);
  CHECK(failed.error().exception_type() == "ObjectStoreError");
}

// The caller records a task's end from its reply, with the attempt the
// reply echoes (task_events.h): every reply carries it, whichever path
// ended the task here, a run or a refusal.
TEST_CASE("every reply echoes its task's attempt, a refused actor call's too") {
  ExecutorFixture fixture;
  rpc::TaskSpec run;
  run.set_task_id(TaskId::FromRandom().Binary());
  run.set_function_name("SeenGpus");
  run.set_attempt(2);
  const rpc::PushTaskReply ran = fixture.Push(run);
  CHECK(ran.error().type() == rpc::ErrorInfo::NONE);
  CHECK(ran.attempt() == 2);

  // A retried call of an actor this worker does not host: refused unrun.
  rpc::TaskSpec call;
  call.set_task_id(TaskId::FromRandom().Binary());
  call.set_actor_id(ActorId::Of(JobId::FromInt(1)).Binary());
  call.set_function_name("Counter::Add");
  call.set_attempt(3);
  const rpc::PushTaskReply refused = fixture.Push(call);
  CHECK(refused.error().type() == rpc::ErrorInfo::ACTOR_DIED);
  CHECK(refused.attempt() == 3);
}
