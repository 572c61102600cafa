// worker/task_channel.h
//
// The task channel: PushTasks over a plain TCP connection, framed by hand,
// for the one hot path of the system (a caller pushing tasks to the worker
// it leased). A gRPC unary call costs ~280 µs round trip on the 2-core
// machine this was measured on, against ~80 µs for a bare socket; tasks
// pay that on every push. Everything else stays on gRPC, and a caller that
// cannot open a channel falls back to the PushTasks RPC.
//
// Frame: u32 payload length | u8 kind | u64 request id | payload.
// The first frame of a connection is kHello with the cluster token; a
// wrong token, an unknown kind, a malformed payload or a frame over
// kMaxFrameBytes closes that connection only.
//
// Before it authenticates, a connection costs the server a socket and a
// few hundred bytes, whatever it announces: a hello over kMaxHelloBytes
// (or any other frame first) closes it before anything is allocated, the
// hello must arrive within options.hello_deadline (2 s), and at most
// options.max_unauthenticated (64) such connections are held at a time;
// more are closed at accept. Refusals are logged at most once per 10 s per
// reason, with a count of those suppressed, and never forwarded to a
// driver (kLocalOnlyLogMarker, worker/log_forwarder.h).
//
// Threading: the server runs one Asio loop thread for the listener and
// every connection; reads and writes are asynchronous. The handler is
// called on that thread (it may run the task there: nothing else is read
// or accepted meanwhile, and nothing is allocated for it); Reply may be
// called from any thread, also after the server is gone (it is then
// dropped), and is written from the loop. The destructor stops the loop
// and joins it. The client runs one reader thread that calls the
// callbacks; Push may be called from any thread. Failure: when a
// connection breaks, every pending push fails with UNAVAILABLE (the worker
// died or went away).
//
// TLS (common/rpc/tls.h, worker/task_channel_tls.h): when the process has
// TLS credentials, the server accepts only mutual TLS (the handshake, then
// the hello, both within hello_deadline; a connection that fails the
// handshake is refused like a wrong token) and the client handshakes in
// Connect within its timeout. Without credentials nothing changes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "common/rpc/tls.h"
#include "proto/worker.pb.h"

namespace lumen::worker {

inline constexpr uint32_t kMaxFrameBytes = 512u << 20;

inline constexpr uint32_t kMaxHelloBytes = 256;  // A token is 64 hex digits.
inline constexpr std::chrono::milliseconds kHelloDeadline{2000};
inline constexpr std::chrono::milliseconds kConnectTimeout{5000};

struct TaskChannelServerOptions {
  // How long a new connection has to deliver its hello.
  std::chrono::milliseconds hello_deadline = kHelloDeadline;
  // Connections not yet authenticated held at a time; more are closed.
  int max_unauthenticated = 64;
  // Null: plaintext.
  std::shared_ptr<const rpc::TlsCredentials> tls = rpc::ProcessTls();
};

class TaskChannelServer {
 public:
  using Reply = std::function<void(const rpc::PushTasksReply&)>;
  using Handler = std::function<void(std::shared_ptr<rpc::PushTasksRequest>, Reply)>;

  TaskChannelServer(std::string token, Handler handler, TaskChannelServerOptions options = {});
  ~TaskChannelServer();  // Closes every connection, stops and joins the loop.

  // Listens on `ip`:`port` (0: a free port); returns the port. Once.
  absl::StatusOr<int> Start(const std::string& ip, int port = 0);

 private:
  struct Impl;
  class Connection;
  std::unique_ptr<Impl> impl_;
};

class TaskChannelClient {
 public:
  using Callback = std::function<void(absl::Status, rpc::PushTasksReply&&)>;

  // Connects (giving up after `timeout`), with `tls` handshakes (the
  // server's certificate must name `ip`), and sends the hello.
  static absl::StatusOr<std::shared_ptr<TaskChannelClient>> Connect(
      const std::string& ip, int port, const std::string& token,
      std::chrono::milliseconds timeout = kConnectTimeout,
      const std::shared_ptr<const rpc::TlsCredentials>& tls = rpc::ProcessTls());
  ~TaskChannelClient();  // Close().

  // Closes the connection and joins the reader thread; pending pushes fail
  // (their callbacks run on the reader before this returns). Idempotent.
  void Close();

  void Push(const rpc::PushTasksRequest& request, Callback callback);

 private:
  struct State;
  explicit TaskChannelClient(std::shared_ptr<State> state) : state_(std::move(state)) {}
  static void ReadLoop(std::shared_ptr<State> state);

  std::shared_ptr<State> state_;
  std::mutex close_mu_;
  std::thread reader_;
};

}  // namespace lumen::worker
