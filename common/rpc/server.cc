#include "common/rpc/server.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "common/logging.h"
#include "common/net.h"
#include "common/status.h"
#include "common/rpc/auth.h"
#include "common/rpc/fault_injection.h"
#include "common/rpc/grpc_status.h"

namespace lumen::rpc {
namespace {

bool HasValidToken(grpc::CallbackServerContext* ctx, const std::string& expected) {
  const auto& md = ctx->client_metadata();
  auto it = md.find(kTokenMetadataKey);
  if (it == md.end()) return false;
  return TokenEquals(std::string(it->second.data(), it->second.size()), expected);
}

}  // namespace

grpc::ServerUnaryReactor* CallGate::HandleInLoop(grpc::CallbackServerContext* ctx,
                                                 const char* method,
                                                 std::function<void(Done)> handler) {
  return Handle(ctx, method, std::move(handler), loop_ != nullptr);
}

grpc::ServerUnaryReactor* CallGate::HandleInline(grpc::CallbackServerContext* ctx,
                                                 const char* method,
                                                 std::function<void(Done)> handler) {
  return Handle(ctx, method, std::move(handler), false);
}

grpc::ServerUnaryReactor* CallGate::Handle(grpc::CallbackServerContext* ctx, const char* method,
                                           std::function<void(Done)> handler, bool in_loop) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (!HasValidToken(ctx, token_)) {
    LOG_EVERY_N(WARNING, 100) << "refused " << method << " from " << ctx->peer()
                              << ": missing or wrong cluster token";
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                 "missing or wrong cluster token"));
    return reactor;
  }
  if (ShouldInjectFault(method, FaultPoint::kRequest)) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                 std::string("injected fault: request of ") + method + " dropped"));
    return reactor;
  }
  std::string name = method;
  Done done = [reactor, name](absl::Status status) {
    if (ShouldInjectFault(name, FaultPoint::kReply)) {
      status = absl::UnavailableError("injected fault: reply of " + name + " dropped");
    }
    reactor->Finish(ToGrpcStatus(status));
  };
  if (in_loop) {
    loop_->Post([handler = std::move(handler), done = std::move(done)]() { handler(done); });
  } else {
    handler(std::move(done));
  }
  return reactor;
}

GrpcServer::~GrpcServer() { Shutdown(); }

absl::StatusOr<int> GrpcServer::Start() {
  // gRPC happily shares a port with SO_REUSEPORT; check first so that a
  // port in use is a clear error instead of a silent second server.
  if (port_ != 0) RETURN_IF_ERROR(CheckPortFree(ip_, port_));
  grpc::ServerBuilder builder;
  int bound = 0;
  builder.AddListeningPort(ip_ + ":" + std::to_string(port_), grpc::InsecureServerCredentials(),
                           &bound);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(512 * 1024 * 1024);
  builder.SetMaxSendMessageSize(512 * 1024 * 1024);
  for (auto* s : services_) builder.RegisterService(s);
  server_ = builder.BuildAndStart();
  if (!server_ || bound == 0) {
    server_.reset();
    return absl::UnavailableError("cannot listen on " + ip_ + ":" + std::to_string(port_));
  }
  port_ = bound;
  return bound;
}

void GrpcServer::Shutdown() {
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
    server_.reset();
  }
}

}  // namespace lumen::rpc
