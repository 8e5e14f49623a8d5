// The rules of mesh key rotation, once, for the two places that keep an ordered key list:
// the key file `qmesh-supervisor keys` edits (supervisor/mesh_key_edits.cpp) and the
// router's in-memory keyring (router/membership/keyring.cpp). Rotation, as in Serf:
//   1. install the new key on every node   (opens; the node still seals with the old one)
//   2. use it: make it primary everywhere   (everyone can already open it)
//   3. remove the old key from every node   (never the primary: a node must always speak)
// The list is primary first. Each caller says where the key is and applies the verdict to
// its own storage, with its own words for the errors.
#pragma once

#include <cstddef>
#include <optional>

namespace qmesh {

enum class KeyEditVerdict {
  kApply,         // make the change
  kAlreadySo,     // nothing to do: installed already, or primary already
  kNotInstalled,  // use/remove of a key the list does not hold
  kIsPrimary,     // remove of the key this node seals with
};

// `at`: the key's position in the list (0 = primary), nullopt when absent.
KeyEditVerdict installVerdict(std::optional<std::size_t> at);
KeyEditVerdict useVerdict(std::optional<std::size_t> at);     // kApply: move it to the front
KeyEditVerdict removeVerdict(std::optional<std::size_t> at);  // kApply: erase it

}  // namespace qmesh
