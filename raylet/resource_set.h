// raylet/resource_set.h
//
// ResourceSet is a bag of named quantities ("CPU": 2, "GPU": 0.5,
// "node:10.0.0.1": 1, ...). Quantities are fractional but stored in fixed
// point (1/10000 units, like Ray) so that acquiring and releasing 0.1 CPU a
// thousand times never drifts. NodeResources pairs the node's total with
// what is available now and answers the two scheduling questions: does a
// request fit now (Fits), and could it ever fit (IsFeasible).
// Plain values: no threading rules, no I/O, no failure beyond CHECKs on
// misuse.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace lumen::raylet {

class ResourceSet {
 public:
  static constexpr int64_t kUnitsPerWhole = 10000;

  ResourceSet() = default;
  // Quantities <= 0 are dropped: a request for 0 GPU asks for nothing.
  template <typename Map>
  static ResourceSet FromMap(const Map& quantities) {
    ResourceSet set;
    for (const auto& [name, amount] : quantities) set.Set(std::string(name), amount);
    return set;
  }

  double Get(const std::string& name) const;
  int64_t GetUnits(const std::string& name) const;
  // Sets `name` to `amount`; amount <= 0 removes it.
  void Set(const std::string& name, double amount);
  bool IsEmpty() const { return units_.empty(); }

  // True when every quantity here is <= the same quantity in `other`.
  bool IsSubsetOf(const ResourceSet& other) const;
  void Add(const ResourceSet& other);
  // May leave negative quantities (an unblocked worker oversubscribes).
  void Subtract(const ResourceSet& other);

  std::map<std::string, double> ToMap() const;
  // "{CPU: 1, GPU: 0.5}", sorted by name: stable, usable as a map key.
  std::string DebugString() const;

  friend bool operator==(const ResourceSet& a, const ResourceSet& b) {
    return a.units_ == b.units_;
  }
  friend bool operator!=(const ResourceSet& a, const ResourceSet& b) { return !(a == b); }

 private:
  void SetUnits(const std::string& name, int64_t units);
  // Never holds zero entries; may hold negative ones (see Subtract).
  std::map<std::string, int64_t> units_;
};

// The node's total resources and what is free now.
class NodeResources {
 public:
  NodeResources() = default;
  explicit NodeResources(ResourceSet total) : total_(total), available_(std::move(total)) {}

  const ResourceSet& total() const { return total_; }
  const ResourceSet& available() const { return available_; }

  bool Fits(const ResourceSet& request) const { return request.IsSubsetOf(available_); }
  bool IsFeasible(const ResourceSet& request) const { return request.IsSubsetOf(total_); }
  // Callers check Fits first; Acquire itself never refuses (see unblocking).
  void Acquire(const ResourceSet& request) { available_.Subtract(request); }
  void Release(const ResourceSet& request) { available_.Add(request); }
  // Placement group bundles (raylet/bundle_book.h) add and take away names.
  void AddCapacity(const ResourceSet& extra) { total_.Add(extra); available_.Add(extra); }
  void RemoveCapacity(const ResourceSet& gone) { total_.Subtract(gone); available_.Subtract(gone); }

 private:
  ResourceSet total_;
  ResourceSet available_;
};

}  // namespace lumen::raylet
