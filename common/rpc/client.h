// common/rpc/client.h
//
// RpcClient<Service> is a channel and stub to one server that adds the
// cluster token to every call. Call() is asynchronous: the callback runs on
// `loop` when one was given (daemons), else on a gRPC thread. CallSync()
// blocks the calling thread (CLI, tests, simple drivers).
// Lifetime: the client may be destroyed with calls in flight: the
// destructor cancels them and waits (up to 2 s) until gRPC is done with
// them, and their callbacks are dropped (never posted into a loop that may
// be gone). So no call outlives its client into the process's exit.
// Failure: transport errors and server errors both arrive as absl::Status;
// UNAVAILABLE means the server could not be reached (also when a TLS
// handshake fails: gRPC reports both alike).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <condition_variable>
#include <mutex>
#include <unordered_set>
#include <string>
#include <type_traits>
#include <utility>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "common/event_loop.h"
#include "common/rpc/auth.h"
#include "common/rpc/grpc_status.h"
#include "common/rpc/tls.h"

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif

namespace lumen::rpc {

// ThreadSanitizer builds: libgrpc is not instrumented, so TSan cannot see
// that a call's completion callback (on a gRPC thread) comes after the code
// that started the call; these state that edge. No-ops otherwise.
#if defined(__SANITIZE_THREAD__)
inline void TsanRelease(void* addr) { __tsan_release(addr); }
inline void TsanAcquire(void* addr) { __tsan_acquire(addr); }
#else
inline void TsanRelease(void*) {}
inline void TsanAcquire(void*) {}
#endif

// A channel with Lumen's settings (message sizes, fast reconnect): over
// mutual TLS with `tls` (by default the process's, ProcessTls(); the server
// must present a certificate for its IP signed by the CA), else plaintext.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address,
                                           const std::shared_ptr<const TlsCredentials>& tls =
                                               ProcessTls());

template <typename Service>
class RpcClient {
 public:
  using Stub = typename Service::Stub;
  // The stub's `class async` (named through its async() accessor: the
  // member function hides the class for Clang's `typename`).
  using AsyncStub = std::remove_pointer_t<decltype(std::declval<Stub&>().async())>;

  RpcClient(const std::string& address, std::string token, EventLoop* loop = nullptr)
      : address_(address),
        token_(std::move(token)),
        loop_(std::make_shared<LoopRef>()),
        channel_(MakeChannel(address)),
        stub_(Service::NewStub(channel_)) {
    loop_->loop = loop;
  }
  ~RpcClient() {
    std::unique_lock<std::recursive_mutex> lock(loop_->mu);
    loop_->alive = false;
    for (grpc::ClientContext* ctx : loop_->in_flight) ctx->TryCancel();
    // Until every call's callback is not just done but destroyed: its state
    // (whose context holds a reference to channel_) is then gone, and the
    // channel is freed here, not on one of gRPC's threads.
    // (Destroyed from inside one of its own callbacks, that callback's hold
    // is still there and goes after this returns.)
    const int own = CurrentCallbackOf() == loop_.get() ? 1 : 0;
    loop_->done.wait_for(lock, std::chrono::seconds(2),
                         [this, own] { return loop_->in_flight.empty() && loop_->holds <= own; });
  }
  RpcClient(const RpcClient&) = delete;
  RpcClient& operator=(const RpcClient&) = delete;

  const std::string& address() const { return address_; }

  // Starts connecting now, in the background, rather than at the first call.
  void Connect() { (void)channel_->GetState(/*try_to_connect=*/true); }

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
    // The callback's own reference to the call: released (on gRPC's thread)
    // when gRPC destroys the callback, which the destructor waits for.
    struct Hold {
      std::shared_ptr<LoopRef> loop;
      std::shared_ptr<State> state;
      ~Hold() {
        state.reset();
        std::lock_guard<std::recursive_mutex> lock(loop->mu);
        --loop->holds;
        loop->done.notify_all();
      }
    };
    auto state = std::make_shared<State>();
    state->request = request;
    Prepare(state->ctx, timeout_ms);
    {
      std::lock_guard<std::recursive_mutex> lock(loop_->mu);
      loop_->in_flight.insert(&state->ctx);
      ++loop_->holds;
    }
    auto hold = std::shared_ptr<Hold>(new Hold{loop_, state});
    // The edge must be keyed by an address the callback knows before it
    // reads anything this thread wrote (its captures, hold->state): one per
    // method. So every earlier Call of the method, not only this one, comes
    // before the callback in TSan's eyes; it finds fewer races, never false
    // ones. (Keyed by state.get(), the read of hold->state that gave the
    // key was itself reported.)
    static char edge;
    TsanRelease(&edge);
    (stub_->async()->*method)(
        &state->ctx, &state->request, &state->reply,
        [hold, loop = loop_, callback = std::move(callback)](grpc::Status s) {
          TsanAcquire(&edge);
          const std::shared_ptr<State>& state = hold->state;
          InCallback in_callback(loop.get());
          auto deliver = [state, s, callback]() {
            callback(FromGrpcStatus(s), std::move(state->reply));
          };
          std::lock_guard<std::recursive_mutex> lock(loop->mu);
          loop->in_flight.erase(&state->ctx);
          loop->done.notify_all();
          if (!loop->alive) return;  // The client is gone: so is its owner.
          if (loop->loop) {
            loop->loop->Post(std::move(deliver));
          } else {
            deliver();
          }
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

  // Where callbacks go, and whether the client still exists; shared with
  // the calls in flight.
  // Recursive: a callback run without a loop may destroy its own client.
  // The client whose callback this thread is running, if any.
  static const void*& CurrentCallbackOf() {
    static thread_local const void* current = nullptr;
    return current;
  }
  struct InCallback {
    const void* saved;
    explicit InCallback(const void* loop) : saved(CurrentCallbackOf()) { CurrentCallbackOf() = loop; }
    ~InCallback() { CurrentCallbackOf() = saved; }
  };
  struct LoopRef {
    std::recursive_mutex mu;
    std::condition_variable_any done;  // Signalled as calls complete.
    EventLoop* loop = nullptr;
    bool alive = true;
    std::unordered_set<grpc::ClientContext*> in_flight;
    int holds = 0;  // Callbacks not yet destroyed.
  };

  std::string address_;
  std::string token_;
  std::shared_ptr<LoopRef> loop_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<Stub> stub_;
};

}  // namespace lumen::rpc
