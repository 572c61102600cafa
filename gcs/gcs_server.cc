#include "gcs/gcs_server.h"

#include <future>

#include "common/logging.h"
#include "common/paths.h"
#include "common/status.h"
#include "gcs/store/in_memory_store_client.h"
#include "gcs/store/redis_store_client.h"

namespace lumen::gcs {

absl::StatusOr<std::unique_ptr<StoreClient>> GcsServer::OpenStore() const {
  if (options_.redis_address.empty()) {
    LOG(INFO) << "storage: in memory (tables are lost when the GCS exits)";
    return std::unique_ptr<StoreClient>(new InMemoryStoreClient());
  }
  RedisStoreOptions redis;
  RETURN_IF_ERROR(ParseRedisAddress(options_.redis_address, redis));
  redis.password = options_.redis_password;
  redis.cluster_namespace = options_.redis_namespace;
  ASSIGN_OR_RETURN(auto client, RedisStoreClient::Connect(redis));
  LOG(INFO) << "storage: Redis at " << options_.redis_address
            << ", keys lumen:" << options_.redis_namespace << ":<TABLE>";
  return std::unique_ptr<StoreClient>(std::move(client));
}

absl::StatusOr<int> GcsServer::Start() {
  CHECK(!started_) << "GcsServer::Start called twice";
  ASSIGN_OR_RETURN(store_, OpenStore());
  loop_ = std::make_unique<EventLoop>();
  mailbox_ = std::make_shared<LoopMailbox>(loop_.get());
  prober_ = std::make_unique<RayletProber>(options_.token, mailbox_);
  actor_rpc_ = std::make_unique<GrpcActorRpc>(options_.token, mailbox_);
  bundle_rpc_ = std::make_unique<GrpcBundleRpc>(options_.token, mailbox_);
  counting_prober_ = std::make_unique<CountingProber>(*prober_, metrics_);
  state_ = std::make_unique<GcsState>(*store_, clock_, *counting_prober_, options_.health_check,
                                      *actor_rpc_, bundle_rpc_.get());
  // The loop is not running yet: loading needs no hand-over.
  RETURN_IF_ERROR(state_->Load());
  gate_ = std::make_unique<rpc::CallGate>(loop_.get(), options_.token);
  gate_->RecordLatency(metrics_, "GcsService");
  service_ = std::make_unique<GcsServiceImpl>(*gate_, *state_, *loop_);
  grpc_ = std::make_unique<rpc::GrpcServer>(options_.host, options_.port, options_.token);
  task_events_ = std::make_unique<TaskEventStore>(options_.task_events);
  task_event_service_ = std::make_unique<TaskEventServiceImpl>(*gate_, *task_events_);
  grpc_->RegisterService(service_.get());
  grpc_->RegisterService(task_event_service_.get());
  ASSIGN_OR_RETURN(port_, grpc_->Start());
  rpc::Address self;  // The caller named in actor creation tasks.
  // Listening on every interface: the node's address ($LUMEN_NODE_IP, which
  // the launcher sets) is where workers on other nodes call back.
  self.set_ip(options_.host == "0.0.0.0" ? DefaultNodeIp() : options_.host);
  self.set_port(port_);
  actor_rpc_->set_caller(self);
  AddGcsCollector(metrics_, *state_);
  exporter_ = std::make_unique<metrics::MetricsExporter>(loop_->io_context(), metrics_);
  ASSIGN_OR_RETURN(metrics_port_,
                   metrics::ServeMetrics(*exporter_, {options_.metrics_export_port, options_.host,
                                                      options_.session_dir, "gcs"}));
  started_ = true;
  loop_->StartThread();
  loop_->Post([this] {
    ScheduleHealthChecks();
    ScheduleActorTicks();
  });
  LOG(INFO) << "GCS serving on " << address();
  return port_;
}

void GcsServer::ScheduleHealthChecks() {
  state_->health.Tick();
  loop_->RunEvery(std::chrono::milliseconds(state_->health.tick_interval_ms()), [this] {
    if (stopping_) return false;
    state_->health.Tick();
    return true;
  });
}

void GcsServer::ScheduleActorTicks() {
  state_->actors.Tick();  // Right away: recovers the actors loaded from the store.
  loop_->RunEvery(std::chrono::milliseconds(1000), [this] {
    if (stopping_) return false;
    state_->actors.Tick();
    state_->placement_groups.Tick();
    return true;
  });
}

void GcsServer::RunOnLoopAndWait(std::function<void()> fn) {
  std::promise<void> ran;
  loop_->Post([&] {
    fn();
    ran.set_value();
  });
  ran.get_future().wait();
}

void GcsServer::Stop() {
  if (!started_) return;
  started_ = false;
  RunOnLoopAndWait([this] {
    stopping_ = true;
    exporter_->Stop();
    state_->publisher.Close();
    state_->resources.Close();
    state_->actors.Close();
  });
  grpc_->Shutdown();
  mailbox_->Close();
  exporter_.reset();  // Before the loop: its acceptor belongs to the loop's io_context.
  loop_.reset();  // Stops and joins; queued work is dropped.
  if (metrics_port_ > 0 && !options_.session_dir.empty()) {
    (void)metrics::UnregisterMetricsTarget(options_.session_dir, "gcs");
  }
  grpc_.reset();
  service_.reset();
  task_event_service_.reset();
  task_events_.reset();
  gate_.reset();
  state_.reset();
  actor_rpc_.reset();
  bundle_rpc_.reset();
  counting_prober_.reset();
  prober_.reset();
  store_.reset();
  LOG(INFO) << "GCS stopped";
}

}  // namespace lumen::gcs
