#include "common/rpc/server.h"

#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpcpp/resource_quota.h>

#include <string_view>

#include "common/logging.h"
#include "common/net.h"
#include "common/status.h"
#include "common/rpc/auth.h"
#include "common/rpc/fault_injection.h"
#include "common/rpc/grpc_status.h"
#include "common/rpc/limits.h"
#include "common/rpc/tls.h"

namespace lumen::rpc {
namespace {

constexpr char kRefusal[] = "missing or wrong cluster token";

bool HasValidToken(grpc::CallbackServerContext* ctx, const std::string& expected) {
  auto [begin, end] = ctx->client_metadata().equal_range(kTokenMetadataKey);
  for (auto it = begin; it != end; ++it) {
    if (TokenEquals(std::string(it->second.data(), it->second.size()), expected)) return true;
  }
  return false;
}

std::string_view View(const grpc_slice& slice) {
  return {reinterpret_cast<const char*>(GRPC_SLICE_START_PTR(slice)), GRPC_SLICE_LENGTH(slice)};
}

// gRPC core's auth metadata processor: called once per call with the
// request headers, before the request body is read; core holds the call
// until `done`. `state` is the expected token. Runs on a gRPC thread.
void CheckTokenBeforeBody(void* state, grpc_auth_context* /*peer*/, const grpc_metadata* md,
                          size_t num_md, grpc_process_auth_metadata_done_cb done,
                          void* user_data) {
  const std::string& expected = *static_cast<const std::string*>(state);
  std::string_view method = "a call";
  for (size_t i = 0; i < num_md; ++i) {
    std::string_view key = View(md[i].key);
    if (key == kTokenMetadataKey && TokenEquals(std::string(View(md[i].value)), expected)) {
      done(user_data, nullptr, 0, nullptr, 0, GRPC_STATUS_OK, nullptr);
      return;
    }
    if (key == ":path") method = View(md[i].value);
  }
  LOG_EVERY_N(WARNING, 100) << "refused " << method << " before reading it: " << kRefusal;
  done(user_data, nullptr, 0, nullptr, 0, GRPC_STATUS_UNAUTHENTICATED, kRefusal);
}

// Mutual TLS: the server presents `tls`'s certificate and accepts only
// clients whose certificate the CA signed (no certificate: no connection).
grpc_server_credentials* MutualTlsCore(const TlsCredentials& tls) {
  grpc_ssl_pem_key_cert_pair pair{tls.key_pem.c_str(), tls.cert_pem.c_str()};
  return grpc_ssl_server_credentials_create_ex(
      tls.ca_pem.c_str(), &pair, 1, GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY,
      nullptr);
}

// Credentials whose listening port runs CheckTokenBeforeBody: plaintext, or
// mutual TLS when `tls` is given. (grpc::InsecureServerCredentials() cannot
// carry a processor: in gRPC 1.51 its SetAuthMetadataProcessor aborts the
// process. Core's insecure and SSL credentials can, and with one the server
// auth filter is in the stack.)
class TokenCheckingCredentials final : public grpc::ServerCredentials {
 public:
  TokenCheckingCredentials(const std::string& token, const TlsCredentials* tls)
      : core_(tls ? MutualTlsCore(*tls) : grpc_insecure_server_credentials_create()) {
    grpc_auth_metadata_processor processor;
    processor.process = CheckTokenBeforeBody;
    processor.destroy = [](void* state) { delete static_cast<std::string*>(state); };
    processor.state = new std::string(token);
    grpc_server_credentials_set_auth_metadata_processor(core_, processor);
  }
  ~TokenCheckingCredentials() override { grpc_server_credentials_release(core_); }

  void SetAuthMetadataProcessor(const std::shared_ptr<grpc::AuthMetadataProcessor>&) override {
    LOG(FATAL) << "TokenCheckingCredentials has its processor: the cluster token check";
  }

 private:
  // The server takes its own reference on `core_`.
  int AddPortToServer(const std::string& addr, grpc_server* server) override {
    return grpc_server_add_http2_port(server, addr.c_str(), core_);
  }

  grpc_server_credentials* core_;
};

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
    LOG_EVERY_N(WARNING, 100) << "refused " << method << " from " << ctx->peer() << ": "
                              << kRefusal;
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, kRefusal));
    return reactor;
  }
  if (ShouldInjectFault(method, FaultPoint::kRequest)) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                 std::string("injected fault: request of ") + method + " dropped"));
    return reactor;
  }
  std::string name = method;
  metrics::Cell* latency = LatencyCell(method);
  Done done = [reactor, name, latency, start = std::chrono::steady_clock::now()](absl::Status status) {
    if (ShouldInjectFault(name, FaultPoint::kReply)) {
      status = absl::UnavailableError("injected fault: reply of " + name + " dropped");
    }
    if (latency) {
      latency->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
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

void CallGate::RecordLatency(metrics::Registry& registry, std::string service) {
  service_ = std::move(service);
  latency_ = registry.Histogram("ray_grpc_server_req_latency_seconds",
                                "Time from a gRPC request's arrival to its reply, by method.",
                                metrics::LatencyBucketsSeconds());
}

metrics::Cell* CallGate::LatencyCell(const char* method) {
  if (!latency_) return nullptr;
  absl::MutexLock lock(&cells_mu_);
  metrics::Cell*& cell = cells_[method];
  if (!cell) cell = &latency_->Get({{"Method", service_ + "." + method}});
  return cell;
}

GrpcServer::~GrpcServer() { Shutdown(); }

absl::StatusOr<int> GrpcServer::Start() {
  // gRPC happily shares a port with SO_REUSEPORT; check first so that a
  // port in use is a clear error instead of a silent second server.
  if (token_.empty()) {
    return absl::InvalidArgumentError("gRPC server on " + ip_ + ":" + std::to_string(port_) +
                                      " needs a cluster token; it has none");
  }
  if (port_ != 0) RETURN_IF_ERROR(CheckPortFree(ip_, port_));
  grpc::ServerBuilder builder;
  int bound = 0;
  builder.AddListeningPort(ip_ + ":" + std::to_string(port_),
                           std::make_shared<TokenCheckingCredentials>(token_, tls_.get()), &bound);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, kMaxMetadataBytes);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  grpc::ResourceQuota quota("lumen-grpc-server");
  quota.Resize(kServerMemoryQuotaBytes);
  builder.SetResourceQuota(quota);
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
