// common/rpc/test_pki.h
//
// For unit tests only: a throw-away PKI made by tests/make_tls_pki.sh (the
// openssl CLI) in a fresh directory (mkdtemp), removed with the object. See
// that script for the files. LUMEN_SOURCE_DIR must be defined by the build.
#pragma once

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "common/rpc/tls.h"

namespace lumen::rpc {

class TestPki {
 public:
  TestPki() {
    std::string pattern = (std::filesystem::temp_directory_path() / "lumen-pki-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    std::string command = std::string(LUMEN_SOURCE_DIR) + "/tests/make_tls_pki.sh " + dir_;
    if (std::system(command.c_str()) != 0) throw std::runtime_error("failed: " + command);
  }
  ~TestPki() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  // The cluster's node certificate, or one signed by the foreign CA.
  TlsConfig Node() const { return {Path("node.pem"), Path("node.key"), Path("ca.pem")}; }
  TlsConfig Foreign() const { return {Path("foreign.pem"), Path("foreign.key"), Path("foreign-ca.pem")}; }
  std::shared_ptr<const TlsCredentials> Load(const TlsConfig& config) const {
    auto loaded = LoadTlsCredentials(config);
    if (!loaded.ok()) throw std::runtime_error(std::string(loaded.status().message()));
    return *loaded;
  }

 private:
  std::string dir_;
};

}  // namespace lumen::rpc
