// Membership message decode (router/membership/messages.h): the plaintext of an opened
// gossip datagram, i.e. what any member holding the mesh key can send. Fuzzed directly, past
// the MAC. Beyond "no crash": whatever decodes re-encodes to a packet that decodes to the
// same messages, and every member record it yields respects the wire limits.
#include <variant>

#include "fuzz/fuzz_support.h"
#include "router/membership/envelope.h"
#include "router/membership/messages.h"

using namespace qmesh::membership;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > Envelope::kMaxPlaintext) return 0;  // no datagram carries more
  auto packet = decodePacket({data, size});
  if (!packet) return 0;
  for (const Message& m : packet->messages) {
    if (const auto* a = std::get_if<Alive>(&m)) FUZZ_CHECK(validateMember(a->member).ok());
    if (const auto* s = std::get_if<SyncState>(&m)) FUZZ_CHECK(validateMember(s->member).ok());
  }
  if (packet->messages.empty()) return 0;  // only unknown types: nothing to re-encode
  const std::vector<uint8_t> again = encodePacket(packet->messages);
  FUZZ_CHECK(again.size() <= size);  // the same frames, minus skipped unknown ones
  auto redecoded = decodePacket(again);
  FUZZ_CHECK(redecoded.ok());
  FUZZ_CHECK(redecoded->messages == packet->messages);
  FUZZ_CHECK(redecoded->unknownSkipped == 0);
  return 0;
}
