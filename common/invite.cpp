#include "common/invite.h"

#include <sodium.h>

#include <cstdlib>
#include <cstring>

#include "common/node_config.h"
#include "common/sodium_init.h"

namespace qmesh {

namespace {

constexpr std::size_t kChecksumBytes = 4;
constexpr std::size_t kMinPayload = 1 + 32 + 1 + kChecksumBytes;
constexpr const char* kMistyped = "the token was mistyped or truncated: copy it again from "
                                  "`qmesh-supervisor invite` on a node of the mesh";

std::array<uint8_t, kChecksumBytes> checksum(const uint8_t* data, std::size_t size) {
  ensureSodium();
  std::array<uint8_t, crypto_generichash_BYTES_MIN> hash{};
  crypto_generichash(hash.data(), hash.size(), data, size, nullptr, 0);
  std::array<uint8_t, kChecksumBytes> out{};
  std::memcpy(out.data(), hash.data(), out.size());
  return out;
}

bool checksumMatches(const std::vector<uint8_t>& p) {
  const std::size_t body = p.size() - kChecksumBytes;
  const auto want = checksum(p.data(), body);
  return std::memcmp(want.data(), p.data() + body, want.size()) == 0;
}

std::string stripWhitespace(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token)
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') out += c;
  return out;
}

Result<std::vector<uint8_t>> base64urlDecode(const std::string& text) {
  std::vector<uint8_t> bin(text.size() + 1);  // decoded is shorter; +1: never a null buffer
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(bin.data(), bin.size(), text.data(), text.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != text.data() + text.size())
    return makeError(std::string("not valid base64url after '") + std::string(kInvitePrefix) +
                     "' (only A-Z a-z 0-9 - _ may follow): " + kMistyped);
  bin.resize(len);
  return bin;
}

// The payload after its checksum was verified: version, key, seeds, nothing more.
Result<Invite> parsePayload(const std::vector<uint8_t>& p) {
  const std::size_t end = p.size() - kChecksumBytes;
  if (p[0] != kInviteVersion)
    return makeError("invite format version " + std::to_string(p[0]) +
                     " is not supported (this qmesh reads version " +
                     std::to_string(kInviteVersion) + "): upgrade this node's qmesh");
  Invite invite;
  std::memcpy(invite.key.data(), p.data() + 1, invite.key.size());
  std::size_t at = 1 + invite.key.size();
  const std::size_t count = p[at++];
  for (std::size_t i = 0; i < count; ++i) {
    if (at >= end) return makeError("seed " + std::to_string(i + 1) + " is cut short: " + kMistyped);
    const std::size_t len = p[at++];
    if (at + len > end) return makeError("seed " + std::to_string(i + 1) + " is cut short: " + kMistyped);
    std::string seed(reinterpret_cast<const char*>(p.data() + at), len);
    at += len;
    if (auto hp = parseHostPort(seed); !hp)
      return makeError("seed " + std::to_string(i + 1) + ": " + hp.error().message);
    invite.seeds.push_back(std::move(seed));
  }
  if (at != end) return makeError("unexpected bytes after the seeds: " + std::string(kMistyped));
  return invite;
}

}  // namespace

Result<std::string> encodeInvite(const Invite& invite) {
  ensureSodium();
  if (invite.seeds.size() > 255)
    return makeError("an invite holds at most 255 seeds, got " + std::to_string(invite.seeds.size()));
  std::vector<uint8_t> p;
  p.push_back(kInviteVersion);
  p.insert(p.end(), invite.key.begin(), invite.key.end());
  p.push_back(static_cast<uint8_t>(invite.seeds.size()));
  for (const auto& seed : invite.seeds) {
    if (auto hp = parseHostPort(seed); !hp) return makeError("invite seed " + hp.error().message);
    if (seed.size() > 255) return makeError("invite seed '" + seed + "' is longer than 255 bytes");
    p.push_back(static_cast<uint8_t>(seed.size()));
    p.insert(p.end(), seed.begin(), seed.end());
  }
  const auto sum = checksum(p.data(), p.size());
  p.insert(p.end(), sum.begin(), sum.end());
  std::string out(sodium_base64_ENCODED_LEN(p.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), p.data(), p.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(std::strlen(out.c_str()));
  sodium_memzero(p.data(), p.size());
  return std::string(kInvitePrefix) + out;
}

Result<Invite> decodeInvite(std::string_view token) {
  ensureSodium();
  const std::string text = stripWhitespace(token);
  if (text.empty()) return makeError("the invite token is empty");
  if (text.rfind(kInvitePrefix, 0) != 0) {
    if (text.rfind("qmesh", 0) == 0 && text.find('.') != std::string::npos)
      return makeError("invite token format '" + text.substr(0, text.find('.')) +
                       "' is not supported (this qmesh reads '" +
                       std::string(kInvitePrefix.substr(0, kInvitePrefix.size() - 1)) +
                       "'): upgrade this node's qmesh");
    return makeError("not a qmesh invite token: a token starts with '" + std::string(kInvitePrefix) +
                     "' (print one with `qmesh-supervisor invite` on a node of the mesh)");
  }
  auto payload = base64urlDecode(text.substr(kInvitePrefix.size()));
  if (!payload) return payload.error();
  auto& p = *payload;
  Result<Invite> out = makeError("");
  if (p.size() < kMinPayload) {
    out = makeError("the token is too short (" + std::to_string(p.size()) + " bytes, at least " +
                    std::to_string(kMinPayload) + "): " + kMistyped);
  } else if (!checksumMatches(p)) {
    out = makeError(std::string("bad checksum: ") + kMistyped);
  } else {
    out = parsePayload(p);
  }
  sodium_memzero(p.data(), p.size());
  return out;
}

}  // namespace qmesh
