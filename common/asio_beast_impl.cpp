// The one translation unit that compiles Boost.Asio's and Boost.Beast's non-template code
// (the scheduler, the epoll reactor, sockets, the HTTP parser and field tables). Every
// target that includes Asio or Beast links qmesh_asio, whose PUBLIC definitions
// BOOST_ASIO_SEPARATE_COMPILATION and BOOST_BEAST_SEPARATE_COMPILATION make the headers
// declare that code instead of compiling it again, inline, in each of ~60 translation
// units (under ASan it was most of their compile time: see bench/RESULTS.md, "Build time").
//
// Boost 1.74's awaitable.hpp uses std::exchange without including <utility> (router/net.h).
#include <utility>

#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
