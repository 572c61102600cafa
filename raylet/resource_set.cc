#include "raylet/resource_set.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace lumen::raylet {
namespace {

int64_t ToUnits(double amount) {
  return static_cast<int64_t>(std::llround(amount * ResourceSet::kUnitsPerWhole));
}

double FromUnits(int64_t units) { return static_cast<double>(units) / ResourceSet::kUnitsPerWhole; }

}  // namespace

double ResourceSet::Get(const std::string& name) const { return FromUnits(GetUnits(name)); }

int64_t ResourceSet::GetUnits(const std::string& name) const {
  auto it = units_.find(name);
  return it == units_.end() ? 0 : it->second;
}

void ResourceSet::Set(const std::string& name, double amount) {
  int64_t units = ToUnits(amount);
  SetUnits(name, units > 0 ? units : 0);
}

void ResourceSet::SetUnits(const std::string& name, int64_t units) {
  if (units == 0) {
    units_.erase(name);
  } else {
    units_[name] = units;
  }
}

bool ResourceSet::IsSubsetOf(const ResourceSet& other) const {
  for (const auto& [name, units] : units_) {
    if (units > other.GetUnits(name)) return false;
  }
  return true;
}

void ResourceSet::Add(const ResourceSet& other) {
  for (const auto& [name, units] : other.units_) SetUnits(name, GetUnits(name) + units);
}

void ResourceSet::Subtract(const ResourceSet& other) {
  for (const auto& [name, units] : other.units_) SetUnits(name, GetUnits(name) - units);
}

std::map<std::string, double> ResourceSet::ToMap() const {
  std::map<std::string, double> out;
  for (const auto& [name, units] : units_) out[name] = FromUnits(units);
  return out;
}

std::string ResourceSet::DebugString() const {
  std::string out = "{";
  for (const auto& [name, units] : units_) {
    if (out.size() > 1) out += ", ";
    absl::StrAppend(&out, name, ": ", FromUnits(units));
  }
  return out + "}";
}

}  // namespace lumen::raylet
