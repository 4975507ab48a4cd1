// The one "path is under" check and lexical path helpers every eci check uses. Purely lexical:
// callers resolve symlinks first (resolving is a host question, see eci-runc's SpecContext).
#pragma once

#include <string>
#include <string_view>

namespace eci::paths {

// `path` is `dir` or lies below it ("/a/b" is under "/a", "/ab" is not; everything is under "/").
// Both must be normalised absolute paths (normalize()).
bool isUnder(std::string_view path, std::string_view dir);

// Lexical normalisation of an absolute path: "/a/./b/../c/" -> "/a/c", "//" -> "/", ".." at the
// root stays at the root. A relative path is taken as relative to "/".
std::string normalize(std::string_view path);

}  // namespace eci::paths
