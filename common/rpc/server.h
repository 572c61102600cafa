// common/rpc/server.h
//
// GrpcServer owns one gRPC server and the callback services registered on
// it. Services derive from the generated `Service::CallbackService` and
// implement each method as a one-liner through HandleInLoop(), which checks
// the cluster token, applies injected faults, and posts the handler into the
// daemon's EventLoop, where daemon state lives without locks:
//
//   grpc::ServerUnaryReactor* KvGet(grpc::CallbackServerContext* ctx,
//                                   const KvGetRequest* req, KvGetReply* reply) override {
//     return HandleInLoop(ctx, "KvGet", [=](Done done) { ...; done(absl::OkStatus()); });
//   }
//
// `done` may be called later, from any thread, exactly once.
//
// The token before the body: gRPC reads and parses a unary request whole
// before any C++ code (handler or interceptor) sees the call, so a check in
// the handler alone lets anyone make a server hold a request of any allowed
// size. GrpcServer therefore checks the token from the request headers
// inside gRPC core (an auth metadata processor on the listening port's
// credentials), before the body is read: a refused call costs its headers
// (at most kMaxMetadataBytes) and one flow-control window, whatever size
// it announces. CallGate checks the token again (same answer), so a
// handler never runs for a call without it. Sizes: common/rpc/limits.h.
// Failure: a missing or wrong token finishes the call UNAUTHENTICATED
// ("missing or wrong cluster token") without reading the request or
// running the handler; a request over kMaxMessageBytes finishes
// RESOURCE_EXHAUSTED.
// TLS (common/rpc/tls.h): with credentials, the port speaks only mutual TLS;
// a client without a certificate signed by the cluster CA fails its
// handshake before any call, and the token is still checked as above.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/event_loop.h"
#include "common/metrics.h"
#include "common/rpc/tls.h"

namespace lumen::rpc {

using Done = std::function<void(absl::Status)>;

// Shared by every service of one server: the loop and the expected token.
class CallGate {
 public:
  // `loop` may be null: handlers then run on the gRPC thread.
  CallGate(EventLoop* loop, std::string token) : loop_(loop), token_(std::move(token)) {}

  // Checks, then runs `handler(done)` on the loop.
  grpc::ServerUnaryReactor* HandleInLoop(grpc::CallbackServerContext* ctx, const char* method,
                                         std::function<void(Done)> handler);
  // Same checks, but runs `handler` on the calling gRPC thread (for handlers
  // that only hand work to another thread).
  grpc::ServerUnaryReactor* HandleInline(grpc::CallbackServerContext* ctx, const char* method,
                                         std::function<void(Done)> handler);

  // From now on, every call through this gate is timed from its arrival to
  // its `done` into the histogram ray_grpc_server_req_latency_seconds
  // {Method="<service>.<method>"} of `registry` (docs/metrics.md). Before
  // the server starts; `registry` must outlive the gate.
  void RecordLatency(metrics::Registry& registry, std::string service);

 private:
  grpc::ServerUnaryReactor* Handle(grpc::CallbackServerContext* ctx, const char* method,
                                   std::function<void(Done)> handler, bool in_loop);
  metrics::Cell* LatencyCell(const char* method);
  EventLoop* loop_;
  std::string token_;
  metrics::Family* latency_ = nullptr;
  std::string service_;
  absl::Mutex cells_mu_;
  // By the method's name pointer: callers pass string literals.
  absl::flat_hash_map<const char*, metrics::Cell*> cells_ ABSL_GUARDED_BY(cells_mu_);
};

class GrpcServer {
 public:
  // Listens on `ip:port` (port 0 picks a free one) and serves only calls
  // carrying `token`; with `tls` (by default the process's, ProcessTls())
  // only over mutual TLS, to clients with a certificate signed by its CA.
  GrpcServer(std::string ip, int port, std::string token,
             std::shared_ptr<const TlsCredentials> tls = ProcessTls())
      : ip_(std::move(ip)), port_(port), token_(std::move(token)), tls_(std::move(tls)) {}
  ~GrpcServer();

  // `service` is not owned and must outlive the server.
  void RegisterService(grpc::Service* service) { services_.push_back(service); }
  // Starts serving; returns the bound port, or an error such as a port in
  // use or an empty token (InvalidArgument).
  absl::StatusOr<int> Start();
  void Shutdown();
  int port() const { return port_; }

 private:
  std::string ip_;
  int port_;
  std::string token_;
  std::shared_ptr<const TlsCredentials> tls_;  // Null: plaintext.
  std::vector<grpc::Service*> services_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace lumen::rpc
