#include "worker/task_channel_tls.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace lumen::worker {
namespace {

namespace ssl = boost::asio::ssl;

int BioFd(BIO* bio) { return static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(bio))); }

bool Retryable(ssize_t n) { return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR); }

// A socket BIO that sends with MSG_NOSIGNAL: OpenSSL's own writes with
// write(2), and a peer gone would raise SIGPIPE in a driver.
BIO_METHOD* NoSigpipeSocketMethod() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "lumen socket");
    BIO_meth_set_write(m, [](BIO* bio, const char* data, int n) -> int {
      BIO_clear_retry_flags(bio);
      ssize_t w = ::send(BioFd(bio), data, n, MSG_NOSIGNAL);
      if (Retryable(w)) BIO_set_retry_write(bio);
      return static_cast<int>(w);
    });
    BIO_meth_set_read(m, [](BIO* bio, char* data, int n) -> int {
      BIO_clear_retry_flags(bio);
      ssize_t r = ::recv(BioFd(bio), data, n, 0);
      if (Retryable(r)) BIO_set_retry_read(bio);
      return static_cast<int>(r);
    });
    BIO_meth_set_ctrl(m, [](BIO*, int cmd, long, void*) -> long { return cmd == BIO_CTRL_FLUSH ? 1 : 0; });
    BIO_meth_set_create(m, [](BIO* bio) -> int {
      BIO_set_init(bio, 1);
      return 1;
    });
    return m;
  }();
  return method;
}

// Why the handshake of `ssl` failed, in words.
std::string HandshakeError(SSL* ssl, int err) {
  long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    return std::string("the server's certificate: ") + X509_verify_cert_error_string(verify);
  }
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code != 0) {
    char text[256];
    ERR_error_string_n(code, text, sizeof(text));
    return text;
  }
  return err == SSL_ERROR_SYSCALL || err == SSL_ERROR_ZERO_RETURN ? "the server closed the connection"
                                                                  : "error " + std::to_string(err);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ssl::context>> MakeTlsContext(const rpc::TlsCredentials& tls,
                                                             bool server) {
  auto context = std::make_unique<ssl::context>(server ? ssl::context::tls_server
                                                       : ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  context->use_certificate_chain(boost::asio::buffer(tls.cert_pem), ec);
  if (!ec) context->use_private_key(boost::asio::buffer(tls.key_pem), ssl::context::pem, ec);
  if (!ec) context->add_certificate_authority(boost::asio::buffer(tls.ca_pem), ec);
  if (!ec) {
    context->set_verify_mode(ssl::verify_peer | (server ? ssl::verify_fail_if_no_peer_cert : 0), ec);
  }
  if (ec) return absl::InvalidArgumentError("task channel TLS: " + ec.message());
  return context;
}

ClientWire::~ClientWire() {
  if (ssl_) SSL_free(ssl_);
  ::close(fd_);
}

absl::Status ClientWire::StartTls(ssl::context& context, const std::string& server_ip,
                                  std::chrono::milliseconds timeout) {
  ssl_ = SSL_new(context.native_handle());
  BIO* bio = BIO_new(NoSigpipeSocketMethod());
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<intptr_t>(fd_)));
  SSL_set_bio(ssl_, bio, bio);
  SSL_set_mode(ssl_, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), server_ip.c_str());
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    ERR_clear_error();
    int r = SSL_connect(ssl_);
    if (r == 1) return absl::OkStatus();
    int err = SSL_get_error(ssl_, r);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
      return absl::UnavailableError("TLS handshake failed: " + HandshakeError(ssl_, err));
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd_, static_cast<short>(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) == 0) {
      return absl::DeadlineExceededError("no TLS handshake within " +
                                         std::to_string(timeout.count()) + " ms");
    }
  }
}

bool ClientWire::Write(const char* data, size_t n) {
  if (ssl_) return TlsIo(false, const_cast<char*>(data), n);
  while (n > 0) {
    ssize_t w = ::send(fd_, data, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    n -= w;
  }
  return true;
}

bool ClientWire::Read(char* data, size_t n) {
  if (ssl_) return TlsIo(true, data, n);
  while (n > 0) {
    ssize_t r = ::recv(fd_, data, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    data += r;
    n -= r;
  }
  return true;
}

bool ClientWire::TlsIo(bool reading, char* data, size_t n) {
  while (n > 0) {
    int chunk = static_cast<int>(std::min<size_t>(n, 1 << 30));
    int r;
    int err = SSL_ERROR_NONE;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ERR_clear_error();
      r = reading ? SSL_read(ssl_, data, chunk) : SSL_write(ssl_, data, chunk);
      if (r <= 0) err = SSL_get_error(ssl_, r);
    }
    if (r > 0) {
      data += r;
      n -= r;
      continue;
    }
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) return false;
    // Wait outside the lock. A bounded wait: should the other thread's call
    // have taken the bytes we waited for into the session, we try again.
    pollfd p{fd_, static_cast<short>(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
    if (::poll(&p, 1, 1000) < 0 && errno != EINTR) return false;
    if (p.revents & (POLLERR | POLLNVAL)) return false;
  }
  return true;
}

void ClientWire::Shutdown() { ::shutdown(fd_, SHUT_RDWR); }

}  // namespace lumen::worker
