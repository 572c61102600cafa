// plasma/plasma_metrics.h
//
// The object store's Prometheus metrics (names in docs/metrics.md), read
// from the store at each scrape: bytes used and capacity, objects in
// memory, pinned (primary) bytes, evictable bytes, spilled bytes and
// objects, objects being spilled, connected clients.
// Threading: it reads loop-owned state, so the registry must be rendered on
// the store's loop (the exporter runs there).
#pragma once

#include "common/metrics.h"
#include "plasma/server.h"
#include "plasma/store.h"

namespace lumen::plasma {

// `store` and `server` must outlive the registry's renders.
void AddPlasmaCollector(metrics::Registry& registry, const PlasmaStore& store,
                        const PlasmaServer& server);

}  // namespace lumen::plasma
