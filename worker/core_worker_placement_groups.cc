// ray::internal's placement group calls (include/ray/api/runtime.h): plain
// GCS RPCs (gcs/placement_group_manager.h) through the CoreWorker's GCS
// client. Ids cross the API as hex. Local mode has no placement groups.
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include "absl/strings/escaping.h"
#include "common/id.h"
#include "common/rpc/retry.h"
#include "proto/gcs.grpc.pb.h"
#include "ray/api/ray_exception.h"
#include "ray/api/runtime.h"
#include "worker/local_runtime.h"
#include "worker/runtime_state.h"

namespace ray::internal {

namespace {

constexpr int64_t kPlacementGroupRpcTimeoutMs = 10000;
constexpr size_t kPlacementGroupIdBytes = 16;
constexpr auto kWaitPollInterval = std::chrono::milliseconds(100);

lumen::worker::CoreWorker& ClusterCore(const char* what) {
  if (lumen::worker::ActiveLocalRuntime() != nullptr) {
    throw RayException(std::string(what) + ": placement groups need a cluster; local mode has none");
  }
  lumen::worker::Runtime* rt = lumen::worker::g_runtime;
  if (!rt || !rt->core) throw RayException("Lumen is not initialized: call ray::Init() first");
  return *rt->core;
}

std::string BinaryId(const std::string& hex) {
  if (hex.size() != 2 * kPlacementGroupIdBytes ||
      hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
    throw std::invalid_argument("\"" + hex + "\" is not a placement group id (32 hex digits)");
  }
  return absl::HexStringToBytes(hex);
}

PlacementGroupData ToData(const lumen::rpc::PlacementGroupInfo& info) {
  PlacementGroupData data;
  data.id = absl::BytesToHexString(info.placement_group_id());
  data.name = info.name();
  for (const auto& bundle : info.bundles()) {
    data.bundles.emplace_back(bundle.resources().begin(), bundle.resources().end());
  }
  data.strategy = static_cast<int>(info.strategy());
  data.state = static_cast<int>(info.state());
  return data;
}

template <typename Method, typename Request>
auto Call(lumen::worker::CoreWorker& core, Method method, const Request& request,
          const std::string& what) {
  auto reply = lumen::rpc::RetryLost(
      [&] { return core.gcs().CallSync(method, request, kPlacementGroupRpcTimeoutMs); });
  if (!reply.ok()) throw RayException(what + ": " + reply.status().ToString());
  return *std::move(reply);
}

}  // namespace

std::string CreatePlacementGroup(const std::string& name,
                                 const std::vector<std::unordered_map<std::string, double>>& bundles,
                                 int strategy) {
  if (bundles.empty()) throw std::invalid_argument("a placement group needs at least one bundle");
  if (strategy < 0 || strategy > 3) {
    throw std::invalid_argument("unknown placement strategy " + std::to_string(strategy));
  }
  for (size_t i = 0; i < bundles.size(); ++i) {
    bool any = false;
    for (const auto& [resource, amount] : bundles[i]) {
      CheckResource(resource, amount);
      any = any || amount > 0;
    }
    if (!any) {
      throw std::invalid_argument("bundle " + std::to_string(i) +
                                  " of the placement group asks for no resources");
    }
  }
  lumen::worker::CoreWorker& core = ClusterCore("CreatePlacementGroup");
  std::string id(kPlacementGroupIdBytes, '\0');
  lumen::FillRandom(reinterpret_cast<uint8_t*>(id.data()), id.size());
  lumen::rpc::CreatePlacementGroupRequest request;
  lumen::rpc::PlacementGroupInfo* group = request.mutable_group();
  group->set_placement_group_id(id);
  group->set_name(name);
  group->set_strategy(static_cast<lumen::rpc::PlacementGroupInfo::Strategy>(strategy));
  group->set_job_id(core.job_id().Binary());
  group->set_ray_namespace(core.GetNamespace());
  for (size_t i = 0; i < bundles.size(); ++i) {
    lumen::rpc::Bundle* bundle = group->add_bundles();
    bundle->set_index(static_cast<int>(i));
    for (const auto& [resource, amount] : bundles[i]) (*bundle->mutable_resources())[resource] = amount;
  }
  Call(core, &lumen::rpc::GcsService::Stub::CreatePlacementGroup, request,
       "cannot create the placement group" + (name.empty() ? "" : " '" + name + "'"));
  return absl::BytesToHexString(id);
}

void RemovePlacementGroup(const std::string& id) {
  lumen::worker::CoreWorker& core = ClusterCore("RemovePlacementGroup");
  lumen::rpc::RemovePlacementGroupRequest request;
  request.set_placement_group_id(BinaryId(id));
  Call(core, &lumen::rpc::GcsService::Stub::RemovePlacementGroup, request,
       "cannot remove placement group " + id);
}

PlacementGroupData GetPlacementGroup(const std::string& id, const std::string& name) {
  lumen::worker::CoreWorker& core = ClusterCore("GetPlacementGroup");
  lumen::rpc::GetPlacementGroupRequest request;
  if (!id.empty()) {
    request.set_placement_group_id(BinaryId(id));
  } else {
    request.set_name(name);
    request.set_ray_namespace(core.GetNamespace());
  }
  auto reply = Call(core, &lumen::rpc::GcsService::Stub::GetPlacementGroup, request,
                    "cannot look up placement group " + (id.empty() ? "'" + name + "'" : id));
  return reply.found() ? ToData(reply.group()) : PlacementGroupData{};
}

std::vector<PlacementGroupData> GetAllPlacementGroups() {
  lumen::worker::CoreWorker& core = ClusterCore("GetAllPlacementGroups");
  auto reply = Call(core, &lumen::rpc::GcsService::Stub::ListPlacementGroups,
                    lumen::rpc::ListPlacementGroupsRequest(), "cannot list placement groups");
  std::vector<PlacementGroupData> out;
  for (const auto& group : reply.groups()) out.push_back(ToData(group));
  return out;
}

bool WaitPlacementGroupReady(const std::string& id, int64_t timeout_seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  while (true) {
    PlacementGroupData data = GetPlacementGroup(id, "");
    if (data.id.empty()) throw RayException("no placement group " + id);
    if (data.state == 1) return true;   // CREATED
    if (data.state == 2) return false;  // REMOVED
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kWaitPollInterval);
  }
}

}  // namespace ray::internal
