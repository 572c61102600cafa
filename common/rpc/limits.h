// common/rpc/limits.h
//
// Sizes every Lumen gRPC server (common/rpc/server.h) and client channel
// (common/rpc/client.h) agree on. A request over kMaxMessageBytes is refused
// by Lumen's own clients before a byte is sent (RESOURCE_EXHAUSTED, "Sent
// message larger than max"), and by servers RESOURCE_EXHAUSTED as well.
// gRPC 1.51 checks a received message's size only once the whole message is
// buffered, so the server's limit bounds what an authenticated caller can
// make a server hold, not what an unauthenticated one can: that bound comes
// from the token check before the body (server.h). docs/security.md.
#pragma once

#include <cstddef>

namespace lumen::rpc {

// The largest request or reply. The largest legitimate one is PushTasks
// over gRPC (the fallback of the task channel) carrying by-value task
// arguments, which travel inline whatever their size; returns travel inline
// only up to 100 KiB each. Put larger values in the object store.
inline constexpr int kMaxMessageBytes = 64 << 20;

// Request headers (the token among them) are read before the token is
// checked; gRPC refuses a header block over this.
inline constexpr int kMaxMetadataBytes = 8 << 10;

// The memory gRPC's own buffers of one server may use (its ResourceQuota).
// A soft limit: gRPC's flow control shrinks its windows under pressure.
inline constexpr size_t kServerMemoryQuotaBytes = size_t{4} * kMaxMessageBytes;

}  // namespace lumen::rpc
