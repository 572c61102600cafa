#include "common/rpc/server.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "common/logging.h"
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

// gRPC happily shares a port with SO_REUSEPORT; check first so that a port
// in use is a clear error instead of a silent second server.
absl::Status CheckPortFree(const std::string& ip, int port) {
  if (port == 0) return absl::OkStatus();
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = ip == "0.0.0.0" ? INADDR_ANY : inet_addr(ip.c_str());
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  int err = errno;
  ::close(fd);
  if (rc != 0) {
    return absl::AlreadyExistsError("port " + std::to_string(port) + " on " + ip +
                                    " is already in use (" + strerror(err) + ")");
  }
  return absl::OkStatus();
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
  if (auto st = CheckPortFree(ip_, port_); !st.ok()) return st;
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
