#include "core/sha256.hpp"

#include <array>
#include <cstdio>
#include <cstdlib>

#include <openssl/evp.h>
#include <openssl/opensslv.h>

namespace rein {
namespace {

// libcrypto fails here only when it cannot allocate or has no SHA-256 at all (a broken
// installation): nothing a caller could handle, and a wrong digest would break the audit chain.
[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "rein: libcrypto SHA-256: %s failed\n", what);
  std::abort();
}

const EVP_MD* sha256_md() {
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
  // Fetched once: EVP_sha256() would look the implementation up again on every digest.
  static const EVP_MD* md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (fetched == nullptr) fail("EVP_MD_fetch");
    return fetched;
  }();
  return md;
#else
  return EVP_sha256();
#endif
}

// Contexts are kept for reuse by the thread that finished with them: an audit entry is hashed
// on every step, and a fresh context is an allocation (and a free) each time.
class ContextCache {
 public:
  ~ContextCache();
  EVP_MD_CTX* take() {
    if (count_ == 0) return EVP_MD_CTX_new();
    return spare_[--count_];
  }
  void give_back(EVP_MD_CTX* ctx) {
    if (count_ < spare_.size()) {
      spare_[count_++] = ctx;
    } else {
      EVP_MD_CTX_free(ctx);
    }
  }

 private:
  std::array<EVP_MD_CTX*, 4> spare_{};
  std::size_t count_ = 0;
};

thread_local ContextCache contexts;
// Set when the thread's cache is gone (the thread is exiting): digests made later, from other
// thread-local or static destructors, allocate their own context. A plain bool, never
// destroyed, so it can be read then.
thread_local bool contexts_gone = false;

ContextCache::~ContextCache() {
  contexts_gone = true;
  for (std::size_t i = 0; i < count_; ++i)
    EVP_MD_CTX_free(spare_[i]);
}

}  // namespace

Sha256::Sha256() : ctx_(contexts_gone ? EVP_MD_CTX_new() : contexts.take()) {
  if (ctx_ == nullptr) fail("EVP_MD_CTX_new");
  if (EVP_DigestInit_ex(ctx_, sha256_md(), nullptr) != 1) fail("EVP_DigestInit_ex");
}

Sha256::~Sha256() {
  if (contexts_gone) {
    EVP_MD_CTX_free(ctx_);
  } else {
    contexts.give_back(ctx_);
  }
}

void Sha256::update(const void* data, std::size_t size) {
  if (size > 0 && EVP_DigestUpdate(ctx_, data, size) != 1) fail("EVP_DigestUpdate");
}

void Sha256::update(std::string_view data) {
  update(data.data(), data.size());
}

Sha256::Digest Sha256::finish() {
  Digest digest;
  unsigned int size = 0;
  if (EVP_DigestFinal_ex(ctx_, digest.data(), &size) != 1 || size != digest.size()) {
    fail("EVP_DigestFinal_ex");
  }
  return digest;
}

std::string Sha256::hex(const Digest& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(64, '0');
  for (std::size_t i = 0; i < digest.size(); ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  Sha256 h;
  h.update(data);
  return Sha256::hex(h.finish());
}

}  // namespace rein
