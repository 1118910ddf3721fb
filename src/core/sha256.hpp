// Internal: the SHA-256 digest (FIPS 180-4) that chains audit entries, derives trace ids, and
// keys the LLM cache and memory records, computed by OpenSSL's libcrypto. Not part of rein's
// API.
//
// libcrypto rather than rein's own code (which it replaced: SHA-NI intrinsics behind a CPUID
// probe, with a portable fallback), because rein's code was not faster. Measured side by side
// on a 2-vCPU AMD EPYC with SHA-NI (a machine shared with other builds, hence the spread), GCC 12
// -O2, OpenSSL 3.0.19; ns per digest, best of 5-7 repetitions, eight runs:
//                                                  100 B        4 KiB
//   rein's code, SHA-NI                            148-230      2,885-5,387
//   rein's code, portable                          439-887      14,066-26,456
//   libcrypto, SHA256 fetched once (used here)     123-240      3,137-6,772
//   libcrypto, EVP_sha256() on every digest        312-453      3,056-7,209
// Run against run, libcrypto with the digest fetched once was level or faster at 100 B in 7 of
// the 8 runs (up to 33% faster), and at 4 KiB 15-18% faster in 5 of 8, slower in 3 (7-8%
// twice, and once by half in a run disturbed by a build).
// Looking the digest up on every call (EVP_sha256(), EVP_Digest) costs about twice as much at
// 100 B, hence the one fetch. libcrypto also follows newer CPUs without rein maintaining
// intrinsics, and it is already on every system with libcurl's OpenSSL flavour.
//
// Thread safety: a Sha256 object is used by one thread at a time; sha256_hex is reentrant.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX

namespace rein {

class Sha256 {
 public:
  using Digest = std::array<std::uint8_t, 32>;

  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::string_view data);
  void update(const void* data, std::size_t size);
  // Finishes the digest; the object must not be updated afterwards.
  Digest finish();

  static std::string hex(const Digest& digest);

 private:
  evp_md_ctx_st* ctx_;
};

// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

}  // namespace rein
