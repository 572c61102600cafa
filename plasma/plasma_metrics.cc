#include "plasma/plasma_metrics.h"

namespace lumen::plasma {

void AddPlasmaCollector(metrics::Registry& registry, const PlasmaStore& store,
                        const PlasmaServer& server) {
  auto gauge = [&](const char* name, const char* help) { return &registry.Gauge(name, help)->Get(); };
  metrics::Cell* used = gauge("ray_plasma_memory_used_bytes", "Bytes allocated in the store's arena (slabs included).");
  metrics::Cell* capacity = gauge("ray_plasma_memory_capacity_bytes", "Size of the store's arena.");
  metrics::Cell* objects = gauge("ray_plasma_objects", "Objects in memory (created or sealed).");
  metrics::Cell* pinned = gauge("ray_plasma_pinned_bytes", "Bytes of primary copies pinned in memory.");
  metrics::Cell* evictable = gauge("ray_plasma_evictable_bytes", "Bytes of sealed, unreferenced objects LRU eviction may free.");
  metrics::Cell* spilled = gauge("ray_plasma_spilled_bytes", "Bytes of objects whose only copy is on disk.");
  metrics::Cell* spilled_objects = gauge("ray_plasma_spilled_objects", "Objects whose only copy is on disk.");
  metrics::Cell* spilling = gauge("ray_plasma_spilling_objects", "Objects ordered to disk, not yet written.");
  metrics::Cell* clients = gauge("ray_plasma_clients", "Connected clients (raylet, workers, drivers).");
  registry.AddCollector([=, &store, &server] {
    const StatsReply stats = store.Stats();
    used->Set(static_cast<double>(stats.in_use()));
    capacity->Set(static_cast<double>(stats.capacity()));
    objects->Set(static_cast<double>(stats.object_count()));
    pinned->Set(static_cast<double>(stats.pinned_bytes()));
    evictable->Set(static_cast<double>(store.evictable_bytes()));
    spilled->Set(static_cast<double>(stats.spilled_bytes()));
    spilled_objects->Set(static_cast<double>(stats.spilled_objects()));
    spilling->Set(static_cast<double>(stats.spilling_objects()));
    clients->Set(static_cast<double>(server.client_count()));
  });
}

}  // namespace lumen::plasma
