// gcs/tables.h
//
// Names of the tables the GCS persists through StoreClient, and the keys of
// the counters. See docs/gcs.md for what each holds.
#pragma once

namespace lumen::gcs {

inline constexpr char kNodeTable[] = "NODE";        // node id hex -> rpc::NodeInfo
inline constexpr char kJobTable[] = "JOB";          // job id hex -> rpc::JobInfo
inline constexpr char kKvTable[] = "KV";            // "<len(ns)>:<ns><key>" -> value bytes
inline constexpr char kCounterTable[] = "COUNTER";  // counter name -> decimal text
inline constexpr char kActorTable[] = "ACTOR";      // actor id hex -> rpc::ActorInfo
inline constexpr char kPlacementGroupTable[] = "PLACEMENT_GROUP";  // id hex -> rpc::PlacementGroupInfo

inline constexpr char kJobIdCounter[] = "job_id";                   // Last job id handed out.
inline constexpr char kNodeChangeSeqCounter[] = "node_change_seq";  // Last pub/sub seq.

}  // namespace lumen::gcs
