#include "supervisor/join_token.h"

#include <cerrno>
#include <cstring>
#include <fstream>

namespace qmesh {

namespace {

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

std::string firstNonBlankLine(std::istream& in) {
  std::string line;
  while (std::getline(in, line))
    if (const std::string t = trim(line); !t.empty()) return t;
  return "";
}

constexpr const char* kAlternatives =
    "pass it with --join-file PATH, --join - (reads it from stdin), or the QMESH_JOIN "
    "environment variable";

}  // namespace

Result<std::string> resolveJoinToken(const JoinFlags& flags, std::istream& in, const char* env) {
  if (flags.join && *flags.join != "-")
    return makeError(std::string("--join TOKEN would put the invite token, which holds the mesh key, "
                                 "in the process list for every user of this machine to read: ") +
                     kAlternatives);
  if (flags.join && flags.join_file) return makeError("--join - and --join-file: give only one of them");
  if (flags.join) {
    const std::string token = firstNonBlankLine(in);
    if (token.empty()) return makeError("--join -: stdin ended without a token");
    return token;
  }
  if (flags.join_file) {
    std::ifstream file(*flags.join_file);
    if (!file)
      return makeError("--join-file " + *flags.join_file + ": cannot read it (" + std::strerror(errno) + ")");
    const std::string token = firstNonBlankLine(file);
    if (token.empty()) return makeError("--join-file " + *flags.join_file + ": the file holds no token");
    return token;
  }
  return env ? trim(env) : std::string();
}

}  // namespace qmesh
