// worker/scheduling_options.h
//
// Copies the scheduling strategy of a task's or actor's API options
// (ray::internal::TaskOptions / ActorOptions, plain fields) into its
// TaskSpec (docs/scheduling.md). Nothing set: the spec stays DEFAULT.
// The API has already checked the node id's form.
#pragma once

#include "common/id.h"
#include "proto/common.pb.h"

namespace lumen::worker {

template <typename Options>
void SetSchedulingStrategy(const Options& options, rpc::TaskSpec* spec) {
  if (options.scheduling_kind == 0) return;
  rpc::SchedulingStrategy* strategy = spec->mutable_scheduling_strategy();
  strategy->set_kind(static_cast<rpc::SchedulingStrategy::Kind>(options.scheduling_kind));
  if (!options.affinity_node_id.empty()) {
    strategy->set_node_id(NodeId::FromHex(options.affinity_node_id).value_or(NodeId::Nil()).Binary());
  }
  strategy->set_soft(options.affinity_soft);
}

}  // namespace lumen::worker
