// common/rpc/tls.h
//
// Optional mutual TLS between Lumen processes: the one place that decides
// whether a process speaks TLS and with which certificates. gRPC servers
// (common/rpc/server.h), gRPC channels (MakeChannel, common/rpc/client.h)
// and the task channel (worker/task_channel.h) take their credentials from
// here; the cluster token is still required on top.
//
// Settings: three files, from flags (--tls-cert, --tls-key, --tls-ca of
// lumen-gcs, lumen-raylet and `lumen start`/`lumen status`) or, field by
// field where a flag is absent, the environment (LUMEN_TLS_CERT,
// LUMEN_TLS_KEY, LUMEN_TLS_CA; drivers and the workers a raylet starts read
// only these). TLS is on when all three are set, off when none is; a partial
// setting is an error naming what is missing.
//   cert  this process's certificate chain (PEM); its subjectAltName must
//         hold the IP other processes reach it at (IP:127.0.0.1 for a
//         single machine): clients check it;
//   key   its private key (PEM): a regular file owned by this user that
//         group and others cannot read (CheckOwnedPrivate, kOwnerOnly);
//   ca    the cluster CA (PEM): peers are trusted when signed by it, both
//         ways (servers require a client certificate).
// Certificate and CA files must be regular files owned by this user or root
// and writable by nobody else: whoever can write the CA can join the
// cluster. The key must match the certificate. Every error is one line.
//
// Threading: InitProcessTls() before the process starts threads (it may
// setenv); ProcessTls() from any thread.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace lumen::rpc {

inline constexpr char kTlsCertEnv[] = "LUMEN_TLS_CERT";
inline constexpr char kTlsKeyEnv[] = "LUMEN_TLS_KEY";
inline constexpr char kTlsCaEnv[] = "LUMEN_TLS_CA";

// File names; empty means "not set".
struct TlsConfig {
  std::string cert_file;
  std::string key_file;
  std::string ca_file;
};

// The checked contents of a TlsConfig's files.
struct TlsCredentials {
  std::string cert_pem;
  std::string key_pem;
  std::string ca_pem;
};

// LUMEN_TLS_CERT, LUMEN_TLS_KEY, LUMEN_TLS_CA.
TlsConfig TlsConfigFromEnv();

// Each field from `flags`, else from `env`. Null when no field is set (TLS
// off); InvalidArgument when some but not all are, naming the missing ones
// ("TLS needs all three of ...: missing --tls-key (LUMEN_TLS_KEY)").
absl::StatusOr<std::unique_ptr<TlsConfig>> ResolveTlsConfig(const TlsConfig& flags,
                                                            const TlsConfig& env);

// Reads and checks the three files (see above) and that the key matches the
// certificate. PermissionDenied or NotFound naming the file, or
// InvalidArgument for a file that is not the PEM it should be.
absl::StatusOr<std::shared_ptr<const TlsCredentials>> LoadTlsCredentials(const TlsConfig& config);

// Resolves `flags` with the environment, loads the files and makes them the
// process's credentials (ProcessTls). When TLS is on, exports the files
// given as flags (absolute paths) to LUMEN_TLS_* so that processes started
// from here inherit them. Call once, before threads start when a flag is
// set (setenv). The error is one line.
absl::Status InitProcessTls(const TlsConfig& flags = {});

// The process's credentials, null when TLS is off. Without InitProcessTls,
// the first call loads them from the environment (workers started by a
// raylet, whose settings the raylet already checked); a bad setting there
// stops the process with that error.
std::shared_ptr<const TlsCredentials> ProcessTls();

}  // namespace lumen::rpc
