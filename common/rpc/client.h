// common/rpc/client.h
//
// RpcClient<Service> is a channel and stub to one server that adds the
// cluster token to every call. Call() is asynchronous: the callback runs on
// `loop` when one was given (daemons), else on a gRPC thread. CallSync()
// blocks the calling thread (CLI, tests, simple drivers).
// Failure: transport errors and server errors both arrive as absl::Status;
// UNAVAILABLE means the server could not be reached.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "common/event_loop.h"
#include "common/rpc/auth.h"
#include "common/rpc/grpc_status.h"

namespace lumen::rpc {

// A channel with Lumen's settings (message sizes, fast reconnect).
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address);

template <typename Service>
class RpcClient {
 public:
  using Stub = typename Service::Stub;
  using AsyncStub = typename Service::Stub::async;

  RpcClient(const std::string& address, std::string token, EventLoop* loop = nullptr)
      : address_(address),
        token_(std::move(token)),
        loop_(loop),
        channel_(MakeChannel(address)),
        stub_(Service::NewStub(channel_)) {}

  const std::string& address() const { return address_; }

  // `timeout_ms` < 0: no deadline.
  template <typename Req, typename Reply>
  void Call(void (AsyncStub::*method)(grpc::ClientContext*, const Req*, Reply*,
                                      std::function<void(grpc::Status)>),
            const Req& request, std::function<void(absl::Status, Reply&&)> callback,
            int64_t timeout_ms = -1) {
    struct State {
      grpc::ClientContext ctx;
      Req request;
      Reply reply;
    };
    auto state = std::make_shared<State>();
    state->request = request;
    Prepare(state->ctx, timeout_ms);
    EventLoop* loop = loop_;
    (stub_->async()->*method)(
        &state->ctx, &state->request, &state->reply,
        [state, loop, callback = std::move(callback)](grpc::Status s) {
          auto deliver = [state, s, callback]() {
            callback(FromGrpcStatus(s), std::move(state->reply));
          };
          if (loop) loop->Post(std::move(deliver)); else deliver();
        });
  }

  template <typename Req, typename Reply>
  absl::StatusOr<Reply> CallSync(grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&,
                                                              Reply*),
                                 const Req& request, int64_t timeout_ms = 10000) {
    grpc::ClientContext ctx;
    Prepare(ctx, timeout_ms);
    Reply reply;
    grpc::Status s = (stub_.get()->*method)(&ctx, request, &reply);
    if (!s.ok()) return FromGrpcStatus(s);
    return reply;
  }

  // Waits up to `timeout_ms` for the channel to connect.
  bool WaitForConnected(int64_t timeout_ms) {
    return channel_->WaitForConnected(std::chrono::system_clock::now() +
                                      std::chrono::milliseconds(timeout_ms));
  }

 private:
  void Prepare(grpc::ClientContext& ctx, int64_t timeout_ms) {
    ctx.AddMetadata(kTokenMetadataKey, token_);
    if (timeout_ms >= 0) {
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
    }
  }

  std::string address_;
  std::string token_;
  EventLoop* loop_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<Stub> stub_;
};

}  // namespace lumen::rpc
