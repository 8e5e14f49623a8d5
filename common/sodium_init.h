// One libsodium initialisation for every file that draws randomness or uses a primitive.
#pragma once

namespace qmesh {

// sodium_init() before the first libsodium call: it picks the random source and the fastest
// implementations. Cheap and thread-safe once done, so callers call it at each entry point
// instead of relying on an order of static initialisers. Aborts when the system offers no
// usable randomness: no key, nonce or token is safe to make then.
void ensureSodium();

}  // namespace qmesh
