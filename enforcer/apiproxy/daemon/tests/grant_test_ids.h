// Ids the grant record tests share (reserve_test.cc, grant_migrate_test.cc): a socket token as
// freshToken makes them, a container id and an image ID of the engine's shapes.
#pragma once

#include <string>

namespace eci::apiproxy::grant_ids {

inline const std::string kTok = "0123456789abcdef0123456789abcdef";
inline const std::string kId = std::string(64, 'a');
inline const std::string kImage = "sha256:" + std::string(64, 'b');

}  // namespace eci::apiproxy::grant_ids
