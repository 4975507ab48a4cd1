#include "eci/agent/http.h"

#include <curl/curl.h>

#include <mutex>
#include <thread>

namespace eci::agent {
namespace {

struct Sink {
  std::string body;
  size_t max;
  bool overflow = false;
};

size_t onData(char* ptr, size_t size, size_t nmemb, void* userdata) {
  auto* s = static_cast<Sink*>(userdata);
  const size_t n = size * nmemb;
  if (s->body.size() + n > s->max) {
    s->overflow = true;
    return 0;  // aborts the transfer
  }
  s->body.append(ptr, n);
  return n;
}

void globalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// One attempt. `transient` tells the caller whether retrying can help.
Result<HttpResponse> once(const std::string& url, const std::string* postBody,
                          const HttpOptions& opts, bool& transient) {
  transient = false;
  CURL* c = curl_easy_init();
  if (!c) return Error("curl_easy_init() failed");
  Sink sink{{}, opts.maxBody};
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!opts.caFile.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, opts.caFile.c_str());
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opts.connectTimeout.count()));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(opts.timeout.count()));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, onData);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "eci-agent/0.1");
  struct curl_slist* headers = curl_slist_append(nullptr, "Accept: application/json");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  if (postBody) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, postBody->c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(postBody->size()));
  }
  CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  // The URL (never a token: tokens travel in POST bodies) names what failed.
  if (sink.overflow) {
    return Error("GET/POST " + url + ": response larger than " + std::to_string(opts.maxBody) +
                 " bytes");
  }
  if (rc != CURLE_OK) {
    // TLS and certificate errors are not transient: retrying cannot fix a wrong CA.
    transient = rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT ||
                rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_RECV_ERROR ||
                rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING;
    // kUnavailable marks "the provider could not be reached" for callers that keep the last
    // state in that case (as opposed to a definite refusal).
    return Error(transient ? ErrorKind::kUnavailable : ErrorKind::kOther,
                 url + ": " + (errbuf[0] ? errbuf : curl_easy_strerror(rc)));
  }
  transient = status == 429 || status >= 500;
  return HttpResponse{status, std::move(sink.body)};
}

Result<HttpResponse> withRetry(const std::string& url, const std::string* body,
                               const HttpOptions& opts) {
  globalInit();
  auto delay = opts.initialBackoff;
  Result<HttpResponse> last = Error(url + ": no attempt made");
  for (int attempt = 1; attempt <= std::max(1, opts.attempts); ++attempt) {
    bool transient = false;
    last = once(url, body, opts, transient);
    if (!transient) return last;
    if (attempt < opts.attempts) {
      std::this_thread::sleep_for(delay);
      delay = std::min(delay * 2, std::chrono::milliseconds(8000));
    }
  }
  if (last.ok()) return last;  // a 5xx after the last attempt: the caller reads the status
  return last.error().withMessage(
      last.error().message() + " (after " + std::to_string(opts.attempts) + " attempts)",
      last.error().hint());
}

}  // namespace

Result<HttpResponse> httpGet(const std::string& url, const HttpOptions& opts) {
  return withRetry(url, nullptr, opts);
}

Result<HttpResponse> httpPostForm(const std::string& url,
                                  const std::map<std::string, std::string>& form,
                                  const HttpOptions& opts) {
  globalInit();
  std::string body;
  for (const auto& [k, v] : form) {
    char* ek = curl_easy_escape(nullptr, k.c_str(), static_cast<int>(k.size()));
    char* ev = curl_easy_escape(nullptr, v.c_str(), static_cast<int>(v.size()));
    if (!body.empty()) body += '&';
    body += std::string(ek ? ek : "") + "=" + (ev ? ev : "");
    curl_free(ek);
    curl_free(ev);
  }
  return withRetry(url, &body, opts);
}

}  // namespace eci::agent
