// common/rpc/fault_injection.h
//
// Test-only chaos in the RPC layer. LUMEN_RPC_FAULTS names methods and the
// probability of dropping their request (the handler never runs) or their
// reply (the handler runs, the caller sees a failure):
//   LUMEN_RPC_FAULTS="RegisterNode=0.5:0,PushTask=0:0.1,*=0.01:0"
// A dropped call fails with UNAVAILABLE "injected fault: ...". Parsed once
// per process; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace lumen::rpc {

enum class FaultPoint { kRequest, kReply };

// True when this call of `method` should be dropped at `point`.
bool ShouldInjectFault(std::string_view method, FaultPoint point);

// For tests: replaces the spec as if LUMEN_RPC_FAULTS held `spec`.
void SetFaultSpecForTesting(const std::string& spec);

}  // namespace lumen::rpc
