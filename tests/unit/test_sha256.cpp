#include <catch2/catch.hpp>

#include "rein/sha256.hpp"

TEST_CASE("SHA-256 matches the FIPS 180-4 test vectors, in software and in hardware", "[sha256]") {
  for (auto engine : {rein::Sha256::Engine::portable, rein::Sha256::Engine::automatic}) {
    INFO((engine == rein::Sha256::Engine::portable ? "portable" : "automatic"));
    CHECK(rein::sha256_hex("", engine) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(rein::sha256_hex("abc", engine) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(rein::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", engine) ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    CHECK(rein::sha256_hex(std::string(1'000'000, 'a'), engine) ==
          "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  }
  WARN("SHA-256 hardware instructions " << (rein::Sha256::hardware_available() ? "available" : "not available"));
}

TEST_CASE("both SHA-256 engines agree on every length up to three blocks", "[sha256]") {
  std::string text;
  for (int n = 0; n <= 200; ++n) {
    REQUIRE(rein::sha256_hex(text, rein::Sha256::Engine::portable) == rein::sha256_hex(text));
    text += static_cast<char>(n * 37 + 11);
  }
}

TEST_CASE("SHA-256 gives the same digest however the input is split", "[sha256]") {
  std::string text;
  for (int i = 0; i < 300; ++i) text += static_cast<char>('a' + i % 26);
  const std::string whole = rein::sha256_hex(text);
  for (std::size_t split : {1u, 55u, 56u, 63u, 64u, 65u, 128u, 299u}) {
    rein::Sha256 h;
    h.update(std::string_view(text).substr(0, split));
    h.update(std::string_view(text).substr(split));
    CHECK(rein::Sha256::hex(h.finish()) == whole);
  }
}
