// Typed wrappers for libcurl's variadic setopt/getinfo, which Swift cannot call directly.
#ifndef BOK_CCURL_SHIM_H
#define BOK_CCURL_SHIM_H
#include <curl/curl.h>

static inline CURLcode bok_curl_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode bok_curl_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode bok_curl_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode bok_curl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode bok_curl_setopt_blob(CURL *h, CURLoption o, const void *data, size_t len) {
    struct curl_blob b; b.data = (void *)data; b.len = len; b.flags = CURL_BLOB_COPY;
    return curl_easy_setopt(h, o, &b);
}
static inline CURLcode bok_curl_setopt_off_t(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }

typedef size_t (*bok_curl_data_callback)(char *ptr, size_t size, size_t nmemb, void *userdata);
static inline CURLcode bok_curl_setopt_write_function(CURL *h, bok_curl_data_callback f) { return curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, f); }
static inline CURLcode bok_curl_setopt_header_function(CURL *h, bok_curl_data_callback f) { return curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, f); }
static inline CURLcode bok_curl_setopt_read_function(CURL *h, bok_curl_data_callback f) { return curl_easy_setopt(h, CURLOPT_READFUNCTION, f); }

static inline CURLcode bok_curl_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode bok_curl_getinfo_double(CURL *h, CURLINFO i, double *v) { return curl_easy_getinfo(h, i, v); }
#endif
