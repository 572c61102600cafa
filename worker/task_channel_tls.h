// worker/task_channel_tls.h
//
// TLS for the task channel (worker/task_channel.h), with the process's
// certificates (common/rpc/tls.h). Mutual: the server requires a client
// certificate signed by the cluster CA, the client checks that the server's
// certificate, signed by the CA, names the IP it dialled. TLS 1.2 or later.
// The server side runs on Asio (ssl::stream over the connection's socket);
// the client side is ClientWire, the blocking socket of TaskChannelClient.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "absl/status/statusor.h"
#include "common/rpc/tls.h"

typedef struct ssl_st SSL;

namespace lumen::worker {

// An OpenSSL context holding `tls`'s certificate, key and CA, verifying the
// peer (a server: and requiring its certificate).
absl::StatusOr<std::unique_ptr<boost::asio::ssl::context>> MakeTlsContext(
    const rpc::TlsCredentials& tls, bool server);

// The client's end of one connection: blocking, whole-buffer reads and
// writes, in plaintext or, after StartTls, through TLS. One reader thread
// and one writer at a time (the caller serializes writers) may use it at
// once: under TLS the socket is non-blocking and every OpenSSL call holds
// `mu_` (OpenSSL forbids concurrent calls on one session), so a reader
// waiting for data never holds the session. Writes never raise SIGPIPE.
class ClientWire {
 public:
  explicit ClientWire(int fd) : fd_(fd) {}
  ~ClientWire();  // Closes the socket.
  ClientWire(const ClientWire&) = delete;
  ClientWire& operator=(const ClientWire&) = delete;

  int fd() const { return fd_; }
  // The TLS handshake as the client of `server_ip`, within `timeout`.
  absl::Status StartTls(boost::asio::ssl::context& context, const std::string& server_ip,
                        std::chrono::milliseconds timeout);
  // False on EOF or error.
  bool Write(const char* data, size_t n);
  bool Read(char* data, size_t n);
  // Ends both directions: a blocked Read returns false.
  void Shutdown();

 private:
  bool TlsIo(bool reading, char* data, size_t n);

  int fd_;
  std::mutex mu_;
  SSL* ssl_ = nullptr;  // Set once by StartTls, before the reader starts.
};

}  // namespace lumen::worker
