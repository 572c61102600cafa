// include/ray/api/scheduling_strategy.h
//
// Where a task or actor may run (Lumen addition, as Ray Python's
// scheduling_strategy; docs/scheduling.md). Set with
// ray::Task(f).SetSchedulingStrategy(...) or ray::Actor(f).SetSchedulingStrategy(...):
//   Default()            the caller's node until it is busy, then the least
//                        utilized node that can run it;
//   Spread()             the least utilized node that can run it;
//   NodeAffinity(id)     only node `id` (hex, as the LUMEN_NODE_ID of its
//                        workers and `lumen status`); a task for a dead or
//                        unfit node fails. With soft = true, another node
//                        when that one is dead or can never run it.
// Plain value; NodeAffinity throws std::invalid_argument for an id that is
// not 56 hex digits.
#pragma once

#include <cctype>
#include <stdexcept>
#include <string>

namespace ray {

struct SchedulingStrategy {
  enum class Kind { DEFAULT = 0, SPREAD = 1, NODE_AFFINITY = 2 };
  Kind kind = Kind::DEFAULT;
  std::string node_id;  // NODE_AFFINITY: hex.
  bool soft = false;

  static SchedulingStrategy Default() { return {}; }
  static SchedulingStrategy Spread() { return {Kind::SPREAD, "", false}; }
  static SchedulingStrategy NodeAffinity(const std::string& node_id, bool soft = false) {
    bool hex = node_id.size() == 56;
    for (char c : node_id) hex = hex && std::isxdigit(static_cast<unsigned char>(c));
    if (!hex) {
      throw std::invalid_argument("NodeAffinity needs a node id of 56 hex digits, not \"" +
                                  node_id + "\"");
    }
    return {Kind::NODE_AFFINITY, node_id, soft};
  }
};

}  // namespace ray
