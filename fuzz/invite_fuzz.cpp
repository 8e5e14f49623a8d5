// Invite tokens (common/invite.h): pasted by users, from mail and chat. Input: [mode u8][bytes].
//   mode bit 0 clear: `bytes` is the token text as typed.
//   mode bit 0 set: `bytes` is a payload; the harness appends its valid checksum and wraps
//     it as "qmesh1." + base64url, so the fuzzer reaches the payload parser behind the
//     4-byte checksum it could never guess.
// Whatever decodes must encode again to a token that decodes to the same invite.
#include <sodium.h>

#include <cstring>
#include <string>
#include <vector>

#include "common/invite.h"
#include "fuzz/fuzz_support.h"

using namespace qmesh;

namespace {

std::string wrapPayload(std::vector<uint8_t> p) {
  // As common/invite.cpp computes it: a 16-byte BLAKE2b (its minimum), first 4 bytes kept.
  std::array<uint8_t, crypto_generichash_BYTES_MIN> sum{};
  crypto_generichash(sum.data(), sum.size(), p.data(), p.size(), nullptr, 0);
  p.insert(p.end(), sum.begin(), sum.begin() + 4);
  std::string b64(sodium_base64_ENCODED_LEN(p.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(b64.data(), b64.size(), p.data(), p.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  b64.resize(std::strlen(b64.c_str()));
  return std::string(kInvitePrefix) + b64;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string token = (data[0] & 1) ? wrapPayload({data + 1, data + size})
                                          : std::string(reinterpret_cast<const char*>(data + 1), size - 1);
  auto invite = decodeInvite(token);
  if (!invite) {
    FUZZ_CHECK(!invite.error().message.empty());
    return 0;
  }
  auto again = encodeInvite(*invite);
  FUZZ_CHECK(again.ok());
  auto back = decodeInvite(*again);
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(back->key == invite->key && back->seeds == invite->seeds);
  return 0;
}
