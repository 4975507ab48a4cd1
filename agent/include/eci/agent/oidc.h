// OpenID Connect sign-in for the agent: discovery, the device authorization grant (RFC 8628),
// token refresh, and ID token verification against the issuer's JWKS. Tokens never reach a log.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "eci/agent/config.h"
#include "eci/agent/http.h"
#include "eci/agent/jwt.h"
#include "eci/error.h"

namespace eci::agent {

struct Discovery {
  std::string issuer;
  std::string deviceAuthorizationEndpoint;
  std::string tokenEndpoint;
  std::string jwksUri;
};

struct DeviceAuthorization {
  std::string deviceCode;  // secret: never shown or logged
  std::string userCode;
  std::string verificationUri;
  std::string verificationUriComplete;
  int64_t expiresAt = 0;
  int interval = 5;
};

struct TokenSet {
  std::string idToken;
  std::string refreshToken;
  std::string accessToken;
  int64_t expiresAt = 0;  // of the ID token (its exp claim)
  nlohmann::json toJson() const;
  static Result<TokenSet> fromJson(const nlohmann::json& j);
};

// Membership of `claims[orgClaim]` (a string or an array of strings) in `allowedOrgs`.
// Error names the orgs checked: "signed-in user alice is not a member of an allowed organisation
// (allowedOrgs: myorg, other; the user's 'orgs' claim: [...])".
Result<std::string> checkOrgMembership(const nlohmann::json& claims, const std::string& orgClaim,
                                       const std::vector<std::string>& allowedOrgs);

class OidcClient {
 public:
  explicit OidcClient(AgentConfig config);

  Result<Discovery> discover();
  Result<DeviceAuthorization> startDeviceAuthorization();
  // Polls the token endpoint at the server's interval until the user approves, denies or the code
  // expires; `cancelled` stops it early.
  Result<TokenSet> waitForDeviceToken(const DeviceAuthorization& auth,
                                      const std::atomic<bool>& cancelled);
  Result<TokenSet> refresh(const std::string& refreshToken);
  // Verified claims. An unknown kid refetches the JWKS once (key rotation).
  Result<nlohmann::json> verify(const std::string& idToken);

  const AgentConfig& config() const { return config_; }
  HttpOptions& http() { return http_; }

 private:
  Result<TokenSet> tokenFromResponse(const nlohmann::json& j);
  Result<Jwks*> jwks(bool forceRefresh);

  AgentConfig config_;
  HttpOptions http_;
  std::mutex mu_;
  std::optional<Discovery> discovery_;
  std::optional<Jwks> jwks_;
};

}  // namespace eci::agent
