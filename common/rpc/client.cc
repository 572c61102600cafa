#include "common/rpc/client.h"

#include "common/rpc/limits.h"

namespace lumen::rpc {

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address,
                                           const std::shared_ptr<const TlsCredentials>& tls) {
  grpc::ChannelArguments args;
  // The servers' limit: a larger request fails here, before it is sent.
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  // Retry a lost connection quickly. (GRPC_ARG_MIN_RECONNECT_BACKOFF_MS is
  // left alone: gRPC also uses it as the connect timeout, and a loaded
  // 2-core machine can take longer than a short one to finish a handshake.)
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // Each client gets its own TCP connection (no subchannel sharing), so a
  // busy stream to one peer does not delay another.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  if (!tls) return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = tls->ca_pem;
  ssl.pem_private_key = tls->key_pem;
  ssl.pem_cert_chain = tls->cert_pem;
  return grpc::CreateCustomChannel(address, grpc::SslCredentials(ssl), args);
}

}  // namespace lumen::rpc
