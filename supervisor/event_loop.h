// The supervisor's event loop must outlive any one handler: every llama-server dies with the
// supervisor (PR_SET_PDEATHSIG), so an exception escaping a handler would take the whole node
// down. Handlers catch what they can; this is the last line, not the error policy.
#pragma once

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <functional>

namespace qmesh {

// Runs `io` until it stops or runs out of work. An exception thrown by a handler is logged,
// counted in `exceptions`, and the loop resumes (Asio leaves the io_context usable: the
// throwing handler is gone, everything else is still queued).
void runResilient(boost::asio::io_context& io, uint64_t& exceptions);

}  // namespace qmesh
