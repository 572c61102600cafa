// Section 4 of the Ray Core tutorial ("Zero to Hero"), in C++ on Lumen:
// a Counter actor, a DataStore actor written by ten tasks, and the actor
// lifecycle: a regular actor killed, a named detached actor created by one
// driver process and reached by name from a second one after the first
// exited, then killed.
//
//   tutorial_actors                  Counter and DataStore (private cluster)
//   tutorial_actors lifecycle        the regular actor, then creates the
//                                    named detached "global_worker" and exits
//   tutorial_actors lifecycle-get    a later driver: finds "global_worker",
//                                    calls it, kills it
// The lifecycle modes join a running cluster (RAY_ADDRESS) in the namespace
// "tutorial", as Ray's detached actors need a namespace to be found again.
#include <ray/api.h>

#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

// Counter: state that persists across calls.
class Counter {
 public:
  explicit Counter(int start) : value_(start) {}
  static Counter* FactoryCreate(int start) { return new Counter(start); }
  int Increment() { return ++value_; }
  int Get() const { return value_; }

 private:
  int value_;
};
RAY_REMOTE(Counter::FactoryCreate, &Counter::Increment, &Counter::Get);

// DataStore: one dictionary shared by every task that holds the handle.
class DataStore {
 public:
  static DataStore* FactoryCreate() { return new DataStore(); }
  void Put(const std::string& key, int value) { data_[key] = value; }
  // std::nullopt plays Python's None.
  std::optional<int> Get(const std::string& key) const {
    auto it = data_.find(key);
    if (it == data_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::map<std::string, int> data_;
};
RAY_REMOTE(DataStore::FactoryCreate, &DataStore::Put, &DataStore::Get);

// A task that writes to the shared DataStore actor through its handle.
std::string Writer(ray::ActorHandle<DataStore> store, std::string key, int value) {
  ray::Get(store.Task(&DataStore::Put).Remote(key, value));  // Wait for the put.
  return "Stored " + key;
}
RAY_REMOTE(Writer);

// Worker: the lifecycle cell's actor.
class Worker {
 public:
  explicit Worker(std::string name) : name_(std::move(name)) {
    std::cout << "Worker " << name_ << " started" << std::endl;
  }
  static Worker* FactoryCreate(std::string name) { return new Worker(std::move(name)); }
  std::string Work() { return name_ + " did work"; }

 private:
  std::string name_;
};
RAY_REMOTE(Worker::FactoryCreate, &Worker::Work);

namespace {

std::string Show(const std::optional<int>& v) { return v ? std::to_string(*v) : "None"; }

void CounterCell() {
  std::cout << "== Counter ==" << std::endl;
  // Create a counter actor, starting value 10, and call methods on it.
  auto counter = ray::Actor(Counter::FactoryCreate).Remote(10);
  auto ref = counter.Task(&Counter::Increment).Remote();
  std::cout << "Counter after increment: " << *ray::Get(ref) << std::endl;
  // Multiple calls keep the state.
  std::vector<ray::ObjectRef<int>> refs;
  for (int i = 0; i < 5; ++i) refs.push_back(counter.Task(&Counter::Increment).Remote());
  std::cout << "[";
  auto values = ray::Get(refs);
  for (size_t i = 0; i < values.size(); ++i) std::cout << (i ? ", " : "") << *values[i];
  std::cout << "]" << std::endl;
}

void DataStoreCell() {
  std::cout << "== DataStore shared by ten tasks ==" << std::endl;
  auto store = ray::Actor(DataStore::FactoryCreate).Remote();
  std::vector<ray::ObjectRef<std::string>> refs;
  for (int i = 0; i < 10; ++i) {
    refs.push_back(ray::Task(Writer).Remote(store, "key_" + std::to_string(i), i));
  }
  ray::Get(refs);  // Wait for all writers.
  std::cout << Show(*ray::Get(store.Task(&DataStore::Get).Remote(std::string("key_5")))) << std::endl;
  std::cout << Show(*ray::Get(store.Task(&DataStore::Get).Remote(std::string("key_10")))) << std::endl;
}

void LifecycleCreate() {
  std::cout << "== Actor lifecycle (first driver) ==" << std::endl;
  // 1. A regular actor: it dies when this driver exits, or when killed.
  auto worker = ray::Actor(Worker::FactoryCreate).Remote(std::string("worker-1"));
  std::cout << *ray::Get(worker.Task(&Worker::Work).Remote()) << std::endl;
  // 2. Kill it.
  worker.Kill();
  // 3. A named, detached actor: it outlives this driver.
  auto named = ray::Actor(Worker::FactoryCreate)
                   .SetName("global_worker")
                   .SetLifetime(ray::ActorLifetime::DETACHED)
                   .Remote(std::string("global"));
  std::cout << *ray::Get(named.Task(&Worker::Work).Remote()) << std::endl;
  // 4. Found by name from anywhere in the cluster.
  auto same = ray::GetActor<Worker>("global_worker");
  std::cout << *ray::Get(same->Task(&Worker::Work).Remote()) << std::endl;
  std::cout << "first driver exits; global_worker stays alive" << std::endl;
}

void LifecycleGet() {
  std::cout << "== Actor lifecycle (a later driver) ==" << std::endl;
  auto same = ray::GetActor<Worker>("global_worker");
  if (!same) {
    std::cerr << "global_worker not found" << std::endl;
    std::exit(1);
  }
  std::cout << *ray::Get(same->Task(&Worker::Work).Remote()) << " (same actor, new driver)"
            << std::endl;
  // 5. Detached actors must be killed explicitly.
  same->Kill(/*no_restart=*/true);
  bool gone = !ray::GetActor<Worker>("global_worker");
  std::cout << "global_worker killed: " << (gone ? "yes" : "no") << std::endl;
  if (!gone) std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  ray::RayConfig config;
  if (mode.rfind("lifecycle", 0) == 0) config.ray_namespace = "tutorial";
  ray::Init(config, argc, argv);
  if (mode == "lifecycle") {
    LifecycleCreate();
  } else if (mode == "lifecycle-get") {
    LifecycleGet();
  } else {
    CounterCell();
    DataStoreCell();
  }
  ray::Shutdown();
  return 0;
}
