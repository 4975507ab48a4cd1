#include "eci/agent/oidc.h"

#include <thread>

namespace eci::agent {
namespace {

Result<nlohmann::json> jsonBody(const HttpResponse& r, const std::string& what) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error(what + ": HTTP " + std::to_string(r.status) + ", response is not a JSON object");
  }
  return j;
}

Result<std::string> httpsField(const nlohmann::json& j, const char* key, const std::string& what) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) {
    return Error(what + ": '" + key + "' missing or not a string");
  }
  auto s = it->get<std::string>();
  // A discovery document must not downgrade any endpoint to plain HTTP.
  if (s.rfind("https://", 0) != 0) return Error(what + ": '" + key + "' is not an https:// URL");
  return s;
}

std::string oauthError(const nlohmann::json& j) {
  std::string e = j.value("error", std::string("unknown_error"));
  if (j.contains("error_description") && j["error_description"].is_string()) {
    e += " (" + j["error_description"].get<std::string>() + ")";
  }
  return e;
}

}  // namespace

nlohmann::json TokenSet::toJson() const {
  return {{"id_token", idToken},
          {"refresh_token", refreshToken},
          {"access_token", accessToken},
          {"expires_at", expiresAt}};
}

Result<TokenSet> TokenSet::fromJson(const nlohmann::json& j) {
  try {
    if (!j.is_object() || !j.contains("id_token") || !j["id_token"].is_string()) {
      return Error("token store: missing id_token");
    }
    TokenSet t;
    t.idToken = j["id_token"].get<std::string>();
    t.refreshToken = j.value("refresh_token", std::string());
    t.accessToken = j.value("access_token", std::string());
    t.expiresAt = j.value("expires_at", int64_t{0});
    return t;
  } catch (const nlohmann::json::exception& e) {
    // A value of an unexpected type (or a number out of range) in input we do not control.
    return Error(std::string("identity provider: unexpected JSON: ") + e.what());
  }
}

Result<std::string> checkOrgMembership(const nlohmann::json& claims, const std::string& orgClaim,
                                       const std::vector<std::string>& allowedOrgs) {
  try {
    std::vector<std::string> userOrgs;
    if (auto it = claims.find(orgClaim); it != claims.end()) {
      if (it->is_string()) userOrgs.push_back(it->get<std::string>());
      if (it->is_array()) {
        for (const auto& o : *it)
          if (o.is_string()) userOrgs.push_back(o.get<std::string>());
      }
    }
    for (const auto& o : userOrgs) {
      for (const auto& a : allowedOrgs) {
        // Case-sensitive on purpose: registry.json is documented as case-sensitive.
        if (o == a) return o;
      }
    }
    std::string allowed, mine;
    for (const auto& a : allowedOrgs) allowed += (allowed.empty() ? "" : ", ") + a;
    for (const auto& o : userOrgs) mine += (mine.empty() ? "" : ", ") + o;
    std::string who = claims.value("email", claims.value("sub", std::string("?")));
    return Error("signed-in user " + who +
                 " is not a member of an allowed organisation (allowedOrgs: " + allowed +
                 "; the user's '" + orgClaim + "' claim: " + (mine.empty() ? "none" : mine) + ")");
  } catch (const nlohmann::json::exception& e) {
    // A value of an unexpected type (or a number out of range) in input we do not control.
    return Error(std::string("identity provider: unexpected JSON: ") + e.what());
  }
}

OidcClient::OidcClient(AgentConfig config) : config_(std::move(config)) {
  http_.caFile = config_.caFile;
}

Result<Discovery> OidcClient::discover() {
  try {
    std::lock_guard<std::mutex> lock(mu_);
    if (discovery_) return *discovery_;
    std::string base = config_.issuer;
    while (!base.empty() && base.back() == '/') base.pop_back();
    const std::string url = base + "/.well-known/openid-configuration";
    ECI_ASSIGN_OR_RETURN(resp, httpGet(url, http_));
    if (resp.status != 200) {
      return Error(resp.status >= 500 ? ErrorKind::kUnavailable : ErrorKind::kOther,
                   "OIDC discovery " + url + ": HTTP " + std::to_string(resp.status));
    }
    ECI_ASSIGN_OR_RETURN(j, jsonBody(resp, "OIDC discovery " + url));
    Discovery d;
    d.issuer = j.value("issuer", std::string());
    // OpenID Connect Discovery §4.3: the document's issuer must equal the configured one exactly,
    // or a provider could vouch for another's tokens.
    if (d.issuer != config_.issuer) {
      return Error("OIDC discovery " + url + ": issuer '" + d.issuer +
                   "' does not match the configured issuer '" + config_.issuer + "'");
    }
    const std::string what = "OIDC discovery " + url;
    ECI_ASSIGN_OR_RETURN(dev, httpsField(j, "device_authorization_endpoint", what));
    ECI_ASSIGN_OR_RETURN(tok, httpsField(j, "token_endpoint", what));
    ECI_ASSIGN_OR_RETURN(jw, httpsField(j, "jwks_uri", what));
    d.deviceAuthorizationEndpoint = dev;
    d.tokenEndpoint = tok;
    d.jwksUri = jw;
    discovery_ = d;
    return d;
  } catch (const nlohmann::json::exception& e) {
    // A value of an unexpected type (or a number out of range) in input we do not control.
    return Error(std::string("identity provider: unexpected JSON: ") + e.what());
  }
}

Result<Jwks*> OidcClient::jwks(bool forceRefresh) {
  ECI_ASSIGN_OR_RETURN(d, discover());
  std::lock_guard<std::mutex> lock(mu_);
  if (jwks_ && !forceRefresh) return &*jwks_;
  ECI_ASSIGN_OR_RETURN(resp, httpGet(d.jwksUri, http_));
  if (resp.status != 200) {
    return Error(resp.status >= 500 ? ErrorKind::kUnavailable : ErrorKind::kOther,
                 "JWKS " + d.jwksUri + ": HTTP " + std::to_string(resp.status));
  }
  ECI_ASSIGN_OR_RETURN(set, Jwks::parse(resp.body));
  jwks_ = std::move(set);
  return &*jwks_;
}

Result<nlohmann::json> OidcClient::verify(const std::string& idToken) {
  ECI_ASSIGN_OR_RETURN(kid, tokenKid(idToken));
  ECI_ASSIGN_OR_RETURN(keys, jwks(false));
  if (!kid.empty() && !keys->hasKid(kid)) {
    ECI_ASSIGN_OR_RETURN(fresh, jwks(true));
    keys = fresh;
  }
  VerifyOptions opts{config_.issuer, config_.audience, unixNow(), 60};
  return verifyIdToken(idToken, *keys, opts);
}

Result<TokenSet> OidcClient::tokenFromResponse(const nlohmann::json& j) {
  try {
    TokenSet t;
    if (!j.contains("id_token") || !j["id_token"].is_string()) {
      return Error("token response has no id_token (is 'openid' in the scope?)");
    }
    t.idToken = j["id_token"].get<std::string>();
    t.refreshToken = j.value("refresh_token", std::string());
    t.accessToken = j.value("access_token", std::string());
    ECI_ASSIGN_OR_RETURN(claims, verify(t.idToken));
    t.expiresAt = claims.value("exp", int64_t{0});
    return t;
  } catch (const nlohmann::json::exception& e) {
    // A value of an unexpected type (or a number out of range) in input we do not control.
    return Error(std::string("identity provider: unexpected JSON: ") + e.what());
  }
}

Result<DeviceAuthorization> OidcClient::startDeviceAuthorization() {
  try {
    ECI_ASSIGN_OR_RETURN(d, discover());
    ECI_ASSIGN_OR_RETURN(
        resp, httpPostForm(d.deviceAuthorizationEndpoint,
                           {{"client_id", config_.clientId}, {"scope", config_.scope}}, http_));
    ECI_ASSIGN_OR_RETURN(j, jsonBody(resp, "device authorization"));
    if (resp.status != 200) {
      return Error("device authorization refused: HTTP " + std::to_string(resp.status) + " " +
                   oauthError(j));
    }
    DeviceAuthorization a;
    a.deviceCode = j.value("device_code", std::string());
    a.userCode = j.value("user_code", std::string());
    a.verificationUri = j.value("verification_uri", std::string());
    a.verificationUriComplete = j.value("verification_uri_complete", std::string());
    if (a.deviceCode.empty() || a.userCode.empty() || a.verificationUri.empty()) {
      return Error("device authorization: response lacks device_code/user_code/verification_uri");
    }
    a.expiresAt = unixNow() + j.value("expires_in", int64_t{600});
    a.interval = std::clamp(j.value("interval", 5), 1, 60);
    return a;
  } catch (const nlohmann::json::exception& e) {
    // A value of an unexpected type (or a number out of range) in input we do not control.
    return Error(std::string("identity provider: unexpected JSON: ") + e.what());
  }
}

Result<TokenSet> OidcClient::waitForDeviceToken(const DeviceAuthorization& auth,
                                                const std::atomic<bool>& cancelled) {
  try {
    ECI_ASSIGN_OR_RETURN(d, discover());
    int interval = auth.interval;
    while (!cancelled.load()) {
      if (unixNow() >= auth.expiresAt) return Error("sign-in code expired; run the login again");
      ECI_ASSIGN_OR_RETURN(
          resp, httpPostForm(d.tokenEndpoint,
                             {{"grant_type", "urn:ietf:params:oauth:grant-type:device_code"},
                              {"device_code", auth.deviceCode},
                              {"client_id", config_.clientId}},
                             http_));
      ECI_ASSIGN_OR_RETURN(j, jsonBody(resp, "token endpoint"));
      if (resp.status == 200) return tokenFromResponse(j);
      const std::string err = j.value("error", std::string());
      if (err == "authorization_pending") {
      } else if (err == "slow_down") {
        interval += 5;  // RFC 8628 §3.5
      } else if (err == "access_denied") {
        return Error("sign-in was denied at the identity provider");
      } else if (err == "expired_token") {
        return Error("sign-in code expired; run the login again");
      } else {
        return Error("token endpoint: HTTP " + std::to_string(resp.status) + " " + oauthError(j));
      }
      for (int i = 0; i < interval * 10 && !cancelled.load(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    return Error(ErrorKind::kCancelled, "sign-in cancelled");
  } catch (const nlohmann::json::exception& e) {
    // A value of an unexpected type (or a number out of range) in input we do not control.
    return Error(std::string("identity provider: unexpected JSON: ") + e.what());
  }
}

Result<TokenSet> OidcClient::refresh(const std::string& refreshToken) {
  try {
    if (refreshToken.empty()) return Error("no refresh token; sign in again");
    ECI_ASSIGN_OR_RETURN(d, discover());
    ECI_ASSIGN_OR_RETURN(resp, httpPostForm(d.tokenEndpoint,
                                            {{"grant_type", "refresh_token"},
                                             {"refresh_token", refreshToken},
                                             {"client_id", config_.clientId}},
                                            http_));
    ECI_ASSIGN_OR_RETURN(j, jsonBody(resp, "token refresh"));
    if (resp.status != 200) {
      return Error("token refresh refused: HTTP " + std::to_string(resp.status) + " " +
                   oauthError(j));
    }
    ECI_ASSIGN_OR_RETURN(t, tokenFromResponse(j));
    // Providers may not rotate the refresh token; keep the old one then.
    if (t.refreshToken.empty()) t.refreshToken = refreshToken;
    return t;
  } catch (const nlohmann::json::exception& e) {
    // A value of an unexpected type (or a number out of range) in input we do not control.
    return Error(std::string("identity provider: unexpected JSON: ") + e.what());
  }
}

}  // namespace eci::agent
