#include "common/rpc/tls.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/logging.h"
#include "common/paths.h"

namespace lumen::rpc {
namespace {

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

// A public file that decides trust (certificate, CA): a regular file owned by
// this user or root that nobody else may write. Symbolic links are followed
// (/etc/ssl/certs is made of them); the file checked is the file read.
absl::StatusOr<std::string> ReadTrustedPublicFile(const std::string& path, const std::string& what) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    std::string message = "cannot read the TLS " + what + " " + path + ": " + std::strerror(errno);
    return errno == ENOENT ? absl::NotFoundError(message) : absl::PermissionDeniedError(message);
  }
  struct stat st {};
  std::string refusing = "refusing the TLS " + what + " " + path + ": ";
  absl::Status checked;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    checked = absl::PermissionDeniedError(refusing + "not a regular file");
  } else if (st.st_uid != ::getuid() && st.st_uid != 0) {
    checked = absl::PermissionDeniedError(refusing + "owned by uid " + std::to_string(st.st_uid) +
                                          ", neither you (uid " + std::to_string(::getuid()) +
                                          ") nor root");
  } else if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    checked = absl::PermissionDeniedError(refusing + "writable by group or others; chmod go-w it");
  }
  std::string contents;
  char buffer[4096];
  ssize_t n;
  while (checked.ok() && (n = ::read(fd, buffer, sizeof(buffer))) > 0) {
    contents.append(buffer, n);
    if (contents.size() > (1u << 20)) checked = absl::InvalidArgumentError(refusing + "over 1 MiB");
  }
  ::close(fd);
  if (!checked.ok()) return checked;
  return contents;
}

// OpenSSL's last error as text, clearing its queue.
std::string OpenSslError() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "no PEM data found";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

std::unique_ptr<BIO, BioFree> Bio(const std::string& pem) {
  return std::unique_ptr<BIO, BioFree>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

absl::StatusOr<std::unique_ptr<X509, X509Free>> ParseCertificate(const std::string& pem,
                                                                 const std::string& what) {
  std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(Bio(pem).get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return absl::InvalidArgumentError(what + " is not a PEM certificate (" + OpenSslError() + ")");
  }
  return cert;
}

// The PEM contents parse, and the key belongs to the certificate.
absl::Status CheckPem(const TlsCredentials& pem, const TlsConfig& config) {
  auto cert = ParseCertificate(pem.cert_pem, "the TLS certificate " + config.cert_file);
  if (!cert.ok()) return cert.status();
  auto ca = ParseCertificate(pem.ca_pem, "the TLS CA " + config.ca_file);
  if (!ca.ok()) return ca.status();
  std::unique_ptr<EVP_PKEY, KeyFree> key(
      PEM_read_bio_PrivateKey(Bio(pem.key_pem).get(), nullptr, nullptr, nullptr));
  if (!key) {
    return absl::InvalidArgumentError("the TLS key " + config.key_file +
                                      " is not an unencrypted PEM private key (" + OpenSslError() + ")");
  }
  if (X509_check_private_key(cert->get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("the TLS key " + config.key_file +
                                      " does not belong to the certificate " + config.cert_file);
  }
  return absl::OkStatus();
}

struct ProcessState {
  absl::Mutex mu;
  bool initialized ABSL_GUARDED_BY(mu) = false;
  std::shared_ptr<const TlsCredentials> credentials ABSL_GUARDED_BY(mu);
};

ProcessState& State() {
  static auto* state = new ProcessState();
  return *state;
}

}  // namespace

TlsConfig TlsConfigFromEnv() { return {Env(kTlsCertEnv), Env(kTlsKeyEnv), Env(kTlsCaEnv)}; }

absl::StatusOr<std::unique_ptr<TlsConfig>> ResolveTlsConfig(const TlsConfig& flags,
                                                            const TlsConfig& env) {
  auto config = std::make_unique<TlsConfig>();
  config->cert_file = flags.cert_file.empty() ? env.cert_file : flags.cert_file;
  config->key_file = flags.key_file.empty() ? env.key_file : flags.key_file;
  config->ca_file = flags.ca_file.empty() ? env.ca_file : flags.ca_file;
  std::vector<std::string> missing;
  if (config->cert_file.empty()) missing.push_back(std::string("--tls-cert (") + kTlsCertEnv + ")");
  if (config->key_file.empty()) missing.push_back(std::string("--tls-key (") + kTlsKeyEnv + ")");
  if (config->ca_file.empty()) missing.push_back(std::string("--tls-ca (") + kTlsCaEnv + ")");
  if (missing.size() == 3) return std::unique_ptr<TlsConfig>();
  if (!missing.empty()) {
    std::string names;
    for (const auto& name : missing) names += (names.empty() ? "" : ", ") + name;
    return absl::InvalidArgumentError(
        "TLS needs all three of a certificate, its key and the cluster CA: missing " + names);
  }
  return config;
}

absl::StatusOr<std::shared_ptr<const TlsCredentials>> LoadTlsCredentials(const TlsConfig& config) {
  auto pem = std::make_shared<TlsCredentials>();
  auto cert = ReadTrustedPublicFile(config.cert_file, "certificate");
  if (!cert.ok()) return cert.status();
  auto ca = ReadTrustedPublicFile(config.ca_file, "CA");
  if (!ca.ok()) return ca.status();
  auto key = ReadOwnedPrivateFile(config.key_file, Privacy::kOwnerOnly);
  if (!key.ok()) {
    return absl::Status(key.status().code(), "TLS key: " + std::string(key.status().message()));
  }
  pem->cert_pem = std::move(*cert);
  pem->ca_pem = std::move(*ca);
  pem->key_pem = std::move(*key);
  if (absl::Status s = CheckPem(*pem, config); !s.ok()) return s;
  return std::shared_ptr<const TlsCredentials>(std::move(pem));
}

absl::Status InitProcessTls(const TlsConfig& flags) {
  auto config = ResolveTlsConfig(flags, TlsConfigFromEnv());
  if (!config.ok()) return config.status();
  std::shared_ptr<const TlsCredentials> credentials;
  if (*config) {
    auto loaded = LoadTlsCredentials(**config);
    if (!loaded.ok()) return loaded.status();
    credentials = *loaded;
    // Only what came from flags: the environment is already there.
    auto export_flag = [](const char* name, const std::string& flag) {
      std::error_code ec;
      if (!flag.empty()) ::setenv(name, std::filesystem::absolute(flag, ec).c_str(), 1);
    };
    export_flag(kTlsCertEnv, flags.cert_file);
    export_flag(kTlsKeyEnv, flags.key_file);
    export_flag(kTlsCaEnv, flags.ca_file);
  }
  ProcessState& state = State();
  absl::MutexLock lock(&state.mu);
  state.initialized = true;
  state.credentials = std::move(credentials);
  return absl::OkStatus();
}

std::shared_ptr<const TlsCredentials> ProcessTls() {
  ProcessState& state = State();
  absl::MutexLock lock(&state.mu);
  if (!state.initialized) {
    state.initialized = true;
    auto config = ResolveTlsConfig({}, TlsConfigFromEnv());
    absl::StatusOr<std::shared_ptr<const TlsCredentials>> loaded =
        std::shared_ptr<const TlsCredentials>();
    if (!config.ok()) loaded = config.status();
    else if (*config) loaded = LoadTlsCredentials(**config);
    if (!loaded.ok()) LOG(FATAL) << "TLS settings in the environment: " << loaded.status().message();
    state.credentials = *loaded;
  }
  return state.credentials;
}

}  // namespace lumen::rpc
