#ifndef SLUICE_CCURL_SHIM_H
#define SLUICE_CCURL_SHIM_H
#include <curl/curl.h>
/* The transport drives libcurl from its own epoll loop, woken through an eventfd. */
#include <sys/epoll.h>
#include <sys/eventfd.h>

/* curl_easy_setopt, curl_multi_setopt and curl_easy_getinfo are C-variadic, which Swift
   cannot call: one typed wrapper per argument kind. */
static inline CURLcode sluice_easy_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode sluice_easy_setopt_ptr(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode sluice_easy_setopt_str(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode sluice_easy_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode sluice_easy_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
typedef size_t (*sluice_write_cb)(char *, size_t, size_t, void *);
static inline CURLcode sluice_easy_setopt_write(CURL *h, CURLoption o, sluice_write_cb v) { return curl_easy_setopt(h, o, v); }
/* CURLOPT_PREREQFUNCTION (libcurl ≥ 7.80): called once the connection is ready, just
   before the request is written. */
typedef int (*sluice_prereq_cb)(void *, char *, char *, int, int);
static inline CURLcode sluice_easy_setopt_prereq(CURL *h, sluice_prereq_cb v) { return curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, v); }
static inline CURLMcode sluice_multi_setopt_long(CURLM *m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }
/* Event-driven multi: libcurl says which sockets to watch and when its next timeout is. */
typedef int (*sluice_socket_cb)(CURL *, curl_socket_t, int, void *, void *);
typedef int (*sluice_timer_cb)(CURLM *, long, void *);
static inline CURLMcode sluice_multi_setopt_socket(CURLM *m, sluice_socket_cb f, void *userp) {
    CURLMcode c = curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, f);
    return c != CURLM_OK ? c : curl_multi_setopt(m, CURLMOPT_SOCKETDATA, userp);
}
static inline CURLMcode sluice_multi_setopt_timer(CURLM *m, sluice_timer_cb f, void *userp) {
    CURLMcode c = curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, f);
    return c != CURLM_OK ? c : curl_multi_setopt(m, CURLMOPT_TIMERDATA, userp);
}
static inline CURLcode sluice_easy_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode sluice_easy_getinfo_off(CURL *h, CURLINFO i, curl_off_t *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode sluice_easy_getinfo_ptr(CURL *h, CURLINFO i, void **v) { return curl_easy_getinfo(h, i, v); }
#endif
