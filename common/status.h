// common/status.h
//
// Error handling conventions. Anything the outside world can cause returns
// absl::Status / absl::StatusOr; CHECK is only for broken invariants.
// Conversion to and from grpc::Status lives in rpc/grpc_status.h, nowhere else.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define LUMEN_CONCAT_INNER(a, b) a##b
#define LUMEN_CONCAT(a, b) LUMEN_CONCAT_INNER(a, b)

// Returns from the enclosing function when `expr` (an absl::Status) fails.
#define RETURN_IF_ERROR(expr)                 \
  do {                                        \
    ::absl::Status _lumen_st = (expr);        \
    if (!_lumen_st.ok()) return _lumen_st;    \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, StatusOrExpr());`
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(LUMEN_CONCAT(_lumen_so_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()
