// deploy/cli/status_format.h
//
// Renders `lumen status` from the GCS's node table and resource views, in
// the spirit of `ray status`: one block per node (id prefix, address,
// ALIVE/DEAD with the cause, used/total of every resource, memory in GiB),
// then the totals over alive nodes. Pure functions; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "proto/common.pb.h"

namespace lumen::cli {

// "1.50 GiB" style: GiB with two decimals.
std::string FormatGiB(double bytes);

// "used/total name", e.g. "0.0/4.0 CPU" or "0.00/2.00 GiB object_store_memory".
// "    object store: 0.05/0.50 GiB used (12 objects), 0.27 GiB spilled (17 objects)"
std::string FormatObjectStore(const rpc::ResourceView& view);
std::string FormatUsage(const std::string& resource, double used, double total);

// The whole report. `views` may lack nodes (shown as nothing used).
std::string FormatClusterStatus(const std::string& gcs_address,
                                const std::vector<rpc::NodeInfo>& nodes,
                                const std::vector<rpc::ResourceView>& views);

}  // namespace lumen::cli
