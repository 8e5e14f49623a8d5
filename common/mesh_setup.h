// What a node needs before it can gossip: its mesh keys and whom to contact. Run by
// `qmesh-supervisor start` before anything is spawned, and again by qmesh-router at its own
// start (the second run finds everything in place and changes nothing).
//
//   mesh disabled (mesh.gossip port 0)      -> enabled = false, no file touched
//   invite token (--join, else mesh.join)   -> its key becomes the primary, others kept:
//       key file absent                         write [token key]
//       present without the token's key         token key first, then the existing keys
//       present with it                         move it first
//     ... the first time only: the file records each invite key it applied, and a token seen
//     before changes nothing, so a token left in the config cannot undo a key rotation
//     (bring back a removed key, or take the primary back).
//   no token, no key file, no seeds         -> a new mesh: generate a key, write it
//   no token, no key file, seeds            -> error: nothing to talk to the seeds with
//
// Seeds = mesh.seeds, then the token's seeds, normalised (parseHostPort) and deduplicated.
#pragma once

#include <string>
#include <vector>

#include "common/mesh_keys.h"
#include "common/node_config.h"
#include "common/result.h"

namespace qmesh {

struct MeshBootstrap {
  bool enabled = false;
  std::vector<MeshKeyBytes> keys;  // primary first; empty when not enabled
  std::vector<std::string> seeds;  // HOST:PORT
  bool created_key = false;        // a new mesh: a key was generated and written (callers log it)
  bool invite_applied = false;     // the invite's key was written to the key file as primary
};

// `joinToken` is the CLI's --join; when non-empty it overrides mesh.join. Errors carry the
// message for the operator (what, where, what to do).
Result<MeshBootstrap> prepareMesh(const NodeConfig& config, const std::string& joinToken);

// The gossip address an invite from this node points at: mesh.advertise, else mesh.gossip
// unless its host is a wildcard (then an error asking for mesh.advertise).
Result<HostPort> inviteAddress(const NodeConfig& config);
// An invite token for this node's mesh: its key file's primary key, inviteAddress(), then
// mesh.seeds. Does not create keys: a node that never started has none to hand out.
Result<std::string> createInviteToken(const NodeConfig& config);

}  // namespace qmesh
