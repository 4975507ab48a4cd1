// HTTPS for sign-in (libcurl). TLS verification is always on — there is deliberately no switch to
// turn it off; a private issuer is trusted through a CA file. Only https:// URLs, no redirects,
// bounded bodies, timeouts, and retry with exponential backoff on transport errors, 429 and 5xx.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "eci/error.h"

namespace eci::agent {

struct HttpOptions {
  std::string caFile;  // PEM bundle; empty: the system store
  std::chrono::milliseconds connectTimeout{5000};
  std::chrono::milliseconds timeout{15000};
  int attempts = 4;  // first try + retries
  std::chrono::milliseconds initialBackoff{500};
  size_t maxBody = 1u << 20;
};

struct HttpResponse {
  long status = 0;
  std::string body;
};

Result<HttpResponse> httpGet(const std::string& url, const HttpOptions& opts);
// application/x-www-form-urlencoded POST; values are escaped here.
Result<HttpResponse> httpPostForm(const std::string& url,
                                  const std::map<std::string, std::string>& form,
                                  const HttpOptions& opts);

}  // namespace eci::agent
