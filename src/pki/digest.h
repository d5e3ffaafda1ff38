// SHA-256 of a stream fed in pieces (OpenSSL's EVP), for checks of what passed through berth (a
// volume's archive) and for keys that must not hold the bytes they stand for (TLS credentials).
//
// Thread-safety: one owner.
#pragma once

#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace berth::pki {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::string_view piece);
  // The digest of everything updated so far, as 64 lowercase hex digits. Call once.
  std::string hex();

 private:
  evp_md_ctx_st* ctx_;
};

}  // namespace berth::pki
