// The pure half of `lumen memory` (deploy/cli/memory_format.h).
#include "deploy/cli/memory_format.h"

#include <map>

#include "absl/container/flat_hash_map.h"
#include "common/id.h"

namespace lumen::cli {

const KindSpec& ObjectsKind() {
  static const KindSpec kind{
      "objects",
      "object_id",
      {"object_id", "pid", "size", "where", "reference_type"},
      {"object_id", "node_ip", "pid", "process", "worker_id", "size", "where", "reference_type", "source",
       "owned", "count", "local_refs", "task_args", "lineage", "contained_in", "borrowers"}};
  return kind;
}

namespace {

// The holds left once every counted kind is taken out: ObjectRef copies.
int64_t LocalRefs(const rpc::ReferenceInfo& ref, int contained_in) {
  return ref.count() - contained_in - ref.remote_holders_size() - ref.task_args() - ref.lineage();
}

}  // namespace

std::string ReferenceType(const rpc::ReferenceInfo& ref, int contained_in) {
  const int64_t borrowers = ref.remote_holders_size();
  const int64_t local = LocalRefs(ref, contained_in);
  const bool put = ObjectId::FromBinaryOrNil(ref.object_id()).Index() == 0;
  if (local > 0) {
    if (!ref.owned()) return "BORROWED";
    return put ? "PINNED_IN_MEMORY" : "LOCAL_REFERENCE";
  }
  if (ref.task_args() > 0) return "USED_BY_PENDING_TASK";
  if (ref.lineage() > 0) return "USED_BY_LINEAGE";
  if (!ref.owned()) return contained_in == 0 ? "BORROWED" : "CAPTURED_IN_OBJECT";
  if (contained_in > 0) return "CAPTURED_IN_OBJECT";
  if (borrowers > 0) return "BORROWED";
  return "LOCAL_REFERENCE";  // Owned, not referenced yet (being created).
}

std::vector<Row> ObjectRows(const RefProcess& process, const rpc::GetReferencesReply& reply) {
  // Holds that objects of this process take on the refs their value holds.
  absl::flat_hash_map<std::string, int> contained_in;
  for (const auto& ref : reply.references()) {
    for (const auto& inner : ref.contains()) ++contained_in[inner];
  }
  std::vector<Row> rows;
  for (const auto& ref : reply.references()) {
    auto it = contained_in.find(ref.object_id());
    const int contained = it == contained_in.end() ? 0 : it->second;
    Row row;
    row["object_id"] = HexOf(ref.object_id());
    row["node_ip"] = process.node_ip;
    row["pid"] = process.pid;
    row["process"] = process.is_driver ? "driver" : "worker";
    row["worker_id"] = process.worker_id;
    row["size"] = ref.size();
    row["where"] = ref.in_plasma() ? "plasma" : "in-process";
    row["reference_type"] = ReferenceType(ref, contained);
    row["source"] = ObjectId::FromBinaryOrNil(ref.object_id()).Index() == 0 ? "PUT" : "TASK_RETURN";
    row["owned"] = ref.owned();
    row["count"] = ref.count();
    row["local_refs"] = LocalRefs(ref, contained);
    row["task_args"] = ref.task_args();
    row["lineage"] = ref.lineage();
    row["contained_in"] = contained;
    row["borrowers"] = ref.remote_holders_size();
    rows.push_back(std::move(row));
  }
  return rows;
}

namespace {

std::string ProcessKey(const Row& row) {
  return "--- " + CellText(row, "process") + " pid " + CellText(row, "pid") + " on " + CellText(row, "node_ip") +
         " (" + CellText(row, "worker_id").substr(0, 12) + ") ---";
}

int64_t SizeOf(const Row& row) { return row.contains("size") ? row["size"].get<int64_t>() : 0; }

}  // namespace

std::string FormatMemory(const std::vector<Row>& rows, size_t width) {
  std::map<std::string, std::vector<Row>> groups;
  for (const Row& row : rows) groups[ProcessKey(row)].push_back(row);
  std::string out;
  int64_t bytes = 0;
  for (const auto& [key, group] : groups) {
    out += key + "\n";
    out += FormatTable({"object_id", "size", "where", "reference_type", "source"}, group, width);
    for (const Row& row : group) bytes += SizeOf(row);
  }
  out += "--- " + std::to_string(rows.size()) + " object refs in " + std::to_string(groups.size()) +
         " processes, " + std::to_string(bytes) + " bytes known ---\n";
  return out;
}

std::vector<Row> SummarizeObjects(const std::vector<Row>& rows) {
  std::map<std::string, std::pair<int64_t, int64_t>> by_type, by_owner;
  for (const Row& row : rows) {
    auto& type = by_type[CellText(row, "reference_type")];
    ++type.first;
    type.second += SizeOf(row);
    if (row.value("owned", false)) {
      auto& owner = by_owner[CellText(row, "process") + " pid " + CellText(row, "pid") + " on " +
                             CellText(row, "node_ip")];
      ++owner.first;
      owner.second += SizeOf(row);
    }
  }
  std::vector<Row> out;
  for (const auto& [group, totals_by_name] :
       {std::pair{"reference_type", &by_type}, std::pair{"owner", &by_owner}}) {
    for (const auto& [name, totals] : *totals_by_name) {
      Row row;
      row["group"] = group;
      row["name"] = name;
      row["refs"] = totals.first;
      row["bytes"] = totals.second;
      out.push_back(std::move(row));
    }
  }
  return out;
}

}  // namespace lumen::cli
