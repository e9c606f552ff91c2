/*
 * h2repro -- send N JSON POSTs through ONE libcurl multi handle the way Sluice's
 * transport does (CurlMulti.swift / EasyHandle.swift / TransportLoop.swift), count the
 * results by CURLcode and HTTP version, and on failure print libcurl's error buffer,
 * CURLINFO_REQUEST_SIZE and the HTTP/2 frames that preceded the failure.
 *
 * Build (Debian 12: libcurl4-openssl-dev, libnghttp2-dev for the header only):
 *   gcc -O2 -Wall -rdynamic -o /tmp/h2repro tuning/h2repro/h2repro.c -lcurl -lnghttp2 -ldl
 *
 * -rdynamic matters: the program defines nghttp2_session_client_new() /
 * nghttp2_session_mem_recv() itself; the dynamic linker binds libcurl's calls to these
 * wrappers first, and they hook nghttp2's frame callbacks (frame tracing only, no
 * behaviour change; --no-frames disables the hooks' logging).
 *
 * Usage:
 *   h2repro --url https://127.0.0.1:9443/v21.0/1/messages --cacert /tmp/mockcert/mock-cert.pem \
 *           [-n 50000] [-p 400] [--reuse 1] [--conns 4] [--streams 100] [--pipewait 1] \
 *           [--http 2|1.1] [--timeout-ms 15000] [--max-seconds 120] [--verbose-errors] \
 *           [--verbose-all FILE] [--quiet-errors N]
 *
 *   -n             total requests
 *   -p             requests in flight (easy handles in the multi handle)
 *   --reuse        1: a finished handle is removed, re-prepared and re-added (product);
 *                  0: curl_easy_cleanup + a fresh curl_easy_init per request
 *   --conns        CURLMOPT_MAX_HOST_CONNECTIONS = MAX_TOTAL_CONNECTIONS = MAXCONNECTS
 *   --streams      CURLMOPT_MAX_CONCURRENT_STREAMS
 *   --pipewait     CURLOPT_PIPEWAIT
 *   --http         2 (CURL_HTTP_VERSION_2TLS) or 1.1
 *   --verbose-errors  keep each handle's libcurl verbose text (CURLOPT_DEBUGFUNCTION,
 *                  text lines only) and print it for failed requests
 *   --verbose-all FILE  write every handle's verbose text to FILE (small runs only)
 *   --dump-frames FILE  write every HTTP/2 frame event (sent/received/closed) to FILE
 *   --ignore-content-length  CURLOPT_IGNORE_CONTENT_LENGTH=1: the transfer ends at the
 *                  stream's END_STREAM, not when Content-Length bytes have arrived
 *                  (workaround, see tuning/h2repro/README.md)
 *   --maxlifetime-conn S  CURLOPT_MAXLIFETIME_CONN: no new requests on a connection older
 *                  than S seconds (rotates connections; workaround measurement)
 *   --retry-16     resend a request that failed with CURLE_HTTP2 (16) or 92 once
 *                  (workaround measurement; note: it may duplicate, see the report)
 *
 * The body carries the request number ("text":{"body":"h2repro <run>:<i>"}) and the
 * header X-Repro-Id: <run>:<i>, so a failed request can be looked up on the server.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <dlfcn.h>
#include <getopt.h>
#include <nghttp2/nghttp2.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}
static double t0;

/* ------------------------------------------------------------------ frame tracing */

enum { EV_RECV = 'R', EV_SEND = 'S', EV_CLOSE = 'C', EV_INVALID = 'I', EV_NOTSENT = 'N', EV_ERR = 'E', EV_MEMRECV = 'M' };
typedef struct {
    double t;
    void *session;
    void *easy; /* stream user data = libcurl easy handle */
    char kind;
    uint8_t type, flags;
    int32_t stream;
    uint32_t code;  /* RST_STREAM/GOAWAY error code, stream close code, lib error */
    int64_t extra;  /* GOAWAY last-stream-id, SETTINGS MAX_CONCURRENT_STREAMS, length */
} ev_t;
#define RING 65536
static ev_t ring[RING];
static unsigned long ring_n;
static int trace_frames = 1;
static FILE *dumpf; /* --dump-frames FILE: every frame event */
static void ev_print_to(FILE *o, const ev_t *e);
static char last_err_msg[256];

/* per-run frame counters */
static long n_goaway_recv, n_rst_recv[16], n_rst_sent[16], n_refused_close, n_invalid, n_lib_err, n_memrecv_err;
static long n_settings_mcs_recv = -1;
static long n_data_recv, n_empty_eos_recv;

static void ev_add(char kind, nghttp2_session *s, const nghttp2_frame_hd *hd, uint32_t code, int64_t extra, int32_t stream) {
    if (!trace_frames) return;
    ev_t *e = &ring[ring_n++ % RING];
    e->t = now_s() - t0;
    e->session = s;
    e->kind = kind;
    e->type = hd ? hd->type : 0xff;
    e->flags = hd ? hd->flags : 0;
    e->stream = hd ? hd->stream_id : stream;
    e->code = code;
    e->extra = extra;
    e->easy = (s && e->stream > 0) ? nghttp2_session_get_stream_user_data(s, e->stream) : NULL;
    if (dumpf) ev_print_to(dumpf, e);
}

static const char *ftype(uint8_t t) {
    static const char *n[] = {"DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE", "PING", "GOAWAY", "WINDOW_UPDATE", "CONTINUATION"};
    return t < 10 ? n[t] : "?";
}

static void frame_extra(const nghttp2_frame *f, uint32_t *code, int64_t *extra) {
    *code = 0;
    *extra = (int64_t)f->hd.length;
    switch (f->hd.type) {
    case NGHTTP2_RST_STREAM: *code = f->rst_stream.error_code; break;
    case NGHTTP2_GOAWAY: *code = f->goaway.error_code; *extra = f->goaway.last_stream_id; break;
    case NGHTTP2_WINDOW_UPDATE: *extra = f->window_update.window_size_increment; break;
    case NGHTTP2_SETTINGS:
        *extra = -1;
        for (size_t i = 0; i < f->settings.niv; i++)
            if (f->settings.iv[i].settings_id == NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS) *extra = f->settings.iv[i].value;
        break;
    }
}

static nghttp2_on_frame_recv_callback real_recv;
static nghttp2_on_frame_send_callback real_send;
static nghttp2_on_stream_close_callback real_close;
static nghttp2_on_invalid_frame_recv_callback real_invalid;
static nghttp2_on_frame_not_send_callback real_notsent;

static int my_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
    uint32_t code; int64_t extra;
    frame_extra(f, &code, &extra);
    if (f->hd.type == NGHTTP2_GOAWAY) {
        n_goaway_recv++;
        if (trace_frames)
            fprintf(stderr, "[%.4f] GOAWAY received: session %p error_code=%u last_stream_id=%d debug=\"%.*s\" (streams open in session: %zu)\n",
                    now_s() - t0, (void *)s, code, f->goaway.last_stream_id, (int)f->goaway.opaque_data_len,
                    (const char *)f->goaway.opaque_data, nghttp2_session_get_outbound_queue_size(s));
    }
    if (f->hd.type == NGHTTP2_RST_STREAM) n_rst_recv[code < 16 ? code : 15]++;
    if (f->hd.type == NGHTTP2_SETTINGS && extra >= 0) n_settings_mcs_recv = extra;
    if (f->hd.type == NGHTTP2_DATA) { n_data_recv++; if (f->hd.length == 0 && (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) n_empty_eos_recv++; }
    ev_add(EV_RECV, s, &f->hd, code, extra, 0);
    return real_recv ? real_recv(s, f, ud) : 0;
}
/* consecutive zero-length DATA frames SENT on one session (swift-nio-http2's DoS
 * heuristic counts consecutive empty DATA frames received on the connection) */
static void *seq_sess[64];
static int seq_len[64];
static long n_empty_data_sent, n_data_sent, n_empty_runs2, max_empty_run;
static int *seq_slot(void *s) {
    for (int i = 0; i < 64; i++) if (seq_sess[i] == s) return &seq_len[i];
    for (int i = 0; i < 64; i++) if (!seq_sess[i]) { seq_sess[i] = s; seq_len[i] = 0; return &seq_len[i]; }
    seq_sess[0] = s; seq_len[0] = 0; return &seq_len[0];
}
static int my_send(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
    uint32_t code; int64_t extra;
    frame_extra(f, &code, &extra);
    if (f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS) {
        int *run = seq_slot(s);
        if (f->hd.type == NGHTTP2_DATA) n_data_sent++;
        if (f->hd.type == NGHTTP2_DATA && f->hd.length == 0) {
            n_empty_data_sent++;
            (*run)++;
            if (*run > max_empty_run) max_empty_run = *run;
            if (*run == 2) n_empty_runs2++;
        } else {
            *run = 0;
        }
    }
    if (f->hd.type == NGHTTP2_RST_STREAM) n_rst_sent[code < 16 ? code : 15]++;
    ev_add(EV_SEND, s, &f->hd, code, extra, 0);
    return real_send ? real_send(s, f, ud) : 0;
}
static int my_close(nghttp2_session *s, int32_t stream, uint32_t code, void *ud) {
    if (code == NGHTTP2_REFUSED_STREAM) n_refused_close++;
    ev_add(EV_CLOSE, s, NULL, code, 0, stream);
    return real_close ? real_close(s, stream, code, ud) : 0;
}
static int my_invalid(nghttp2_session *s, const nghttp2_frame *f, int lib_error, void *ud) {
    n_invalid++;
    ev_add(EV_INVALID, s, &f->hd, (uint32_t)-lib_error, 0, 0);
    return real_invalid ? real_invalid(s, f, lib_error, ud) : 0;
}
static int my_notsent(nghttp2_session *s, const nghttp2_frame *f, int lib_error, void *ud) {
    ev_add(EV_NOTSENT, s, &f->hd, (uint32_t)-lib_error, 0, 0);
    return real_notsent ? real_notsent(s, f, lib_error, ud) : 0;
}
static int my_error(nghttp2_session *s, int lib_error, const char *msg, size_t len, void *ud) {
    (void)ud;
    n_lib_err++;
    snprintf(last_err_msg, sizeof last_err_msg, "%.*s (lib_error %d)", (int)len, msg, lib_error);
    ev_add(EV_ERR, s, NULL, (uint32_t)-lib_error, 0, 0);
    if (trace_frames) fprintf(stderr, "[%.3f] nghttp2 error callback: %s\n", now_s() - t0, last_err_msg);
    return 0;
}

/* Interposed: libcurl sets its callbacks on `cb` before creating the session. We cannot
 * read them back from the opaque struct, so we also interpose the setters. */
#define SETTER(fn, type, realvar, mine)                                              \
    void fn(nghttp2_session_callbacks *cb, type f) {                                 \
        static void (*real)(nghttp2_session_callbacks *, type);                      \
        if (!real) real = (void (*)(nghttp2_session_callbacks *, type))dlsym(RTLD_NEXT, #fn); \
        realvar = f;                                                                 \
        real(cb, mine);                                                              \
    }
SETTER(nghttp2_session_callbacks_set_on_frame_recv_callback, nghttp2_on_frame_recv_callback, real_recv, my_recv)
SETTER(nghttp2_session_callbacks_set_on_frame_send_callback, nghttp2_on_frame_send_callback, real_send, my_send)
SETTER(nghttp2_session_callbacks_set_on_stream_close_callback, nghttp2_on_stream_close_callback, real_close, my_close)
SETTER(nghttp2_session_callbacks_set_on_invalid_frame_recv_callback, nghttp2_on_invalid_frame_recv_callback, real_invalid, my_invalid)
SETTER(nghttp2_session_callbacks_set_on_frame_not_send_callback, nghttp2_on_frame_not_send_callback, real_notsent, my_notsent)

/* libcurl 7.88 creates its session with nghttp2_session_client_new2 (older ones with
 * _new); wrap both and install our callbacks (they forward to libcurl's, if it set any). */
static void install_hooks(nghttp2_session_callbacks *c) {
    static void (*set_err2)(nghttp2_session_callbacks *, nghttp2_error_callback2);
    static void (*set_recv)(nghttp2_session_callbacks *, nghttp2_on_frame_recv_callback);
    static void (*set_send)(nghttp2_session_callbacks *, nghttp2_on_frame_send_callback);
    static void (*set_close)(nghttp2_session_callbacks *, nghttp2_on_stream_close_callback);
    static void (*set_invalid)(nghttp2_session_callbacks *, nghttp2_on_invalid_frame_recv_callback);
    static void (*set_notsent)(nghttp2_session_callbacks *, nghttp2_on_frame_not_send_callback);
    if (!set_err2) {
        set_err2 = dlsym(RTLD_NEXT, "nghttp2_session_callbacks_set_error_callback2");
        set_recv = dlsym(RTLD_NEXT, "nghttp2_session_callbacks_set_on_frame_recv_callback");
        set_send = dlsym(RTLD_NEXT, "nghttp2_session_callbacks_set_on_frame_send_callback");
        set_close = dlsym(RTLD_NEXT, "nghttp2_session_callbacks_set_on_stream_close_callback");
        set_invalid = dlsym(RTLD_NEXT, "nghttp2_session_callbacks_set_on_invalid_frame_recv_callback");
        set_notsent = dlsym(RTLD_NEXT, "nghttp2_session_callbacks_set_on_frame_not_send_callback");
    }
    set_err2(c, my_error);
    set_recv(c, my_recv);
    set_send(c, my_send);
    set_close(c, my_close);
    set_invalid(c, my_invalid);
    set_notsent(c, my_notsent);
}
static long n_sessions;
int nghttp2_session_client_new(nghttp2_session **s, const nghttp2_session_callbacks *cb, void *ud) {
    static int (*real)(nghttp2_session **, const nghttp2_session_callbacks *, void *);
    if (!real) real = dlsym(RTLD_NEXT, "nghttp2_session_client_new");
    install_hooks((nghttp2_session_callbacks *)cb);
    n_sessions++;
    return real(s, cb, ud);
}
int nghttp2_session_client_new2(nghttp2_session **s, const nghttp2_session_callbacks *cb, void *ud, const nghttp2_option *o) {
    static int (*real)(nghttp2_session **, const nghttp2_session_callbacks *, void *, const nghttp2_option *);
    if (!real) real = dlsym(RTLD_NEXT, "nghttp2_session_client_new2");
    install_hooks((nghttp2_session_callbacks *)cb);
    n_sessions++;
    return real(s, cb, ud, o);
}

ssize_t nghttp2_session_mem_recv(nghttp2_session *s, const uint8_t *in, size_t len) {
    static ssize_t (*real)(nghttp2_session *, const uint8_t *, size_t);
    if (!real) real = dlsym(RTLD_NEXT, "nghttp2_session_mem_recv");
    ssize_t r = real(s, in, len);
    if (r < 0) {
        n_memrecv_err++;
        ev_add(EV_MEMRECV, s, NULL, (uint32_t)-r, (int64_t)len, 0);
        if (trace_frames)
            fprintf(stderr, "[%.3f] nghttp2_session_mem_recv(%zu bytes) = %zd (%s)\n", now_s() - t0, len, r, nghttp2_strerror((int)r));
    }
    return r;
}

static void ev_print(const ev_t *e) { ev_print_to(stderr, e); }
static void ev_print_to(FILE *o, const ev_t *e) {
    fprintf(o, "    %9.4f sess=%p %c ", e->t, e->session, e->kind);
    switch (e->kind) {
    case EV_CLOSE: fprintf(o, "stream_close stream=%d code=%u%s", e->stream, e->code, e->code == 7 ? " (REFUSED_STREAM)" : ""); break;
    case EV_ERR: fprintf(o, "lib_error=%d (%s)", -(int)e->code, nghttp2_strerror(-(int)e->code)); break;
    case EV_MEMRECV: fprintf(o, "mem_recv failed %d (%s) len=%lld", -(int)e->code, nghttp2_strerror(-(int)e->code), (long long)e->extra); break;
    default:
        fprintf(o, "%s stream=%d flags=0x%x", ftype(e->type), e->stream, e->flags);
        if (e->type == NGHTTP2_RST_STREAM) fprintf(o, " error_code=%u", e->code);
        if (e->type == NGHTTP2_GOAWAY) fprintf(o, " error_code=%u last_stream_id=%lld", e->code, (long long)e->extra);
        if (e->type == NGHTTP2_SETTINGS && e->extra >= 0) fprintf(o, " MAX_CONCURRENT_STREAMS=%lld", (long long)e->extra);
        if (e->type == NGHTTP2_WINDOW_UPDATE) fprintf(o, " increment=%lld", (long long)e->extra);
        if (e->kind == EV_INVALID || e->kind == EV_NOTSENT) fprintf(o, " lib_error=%d (%s)", -(int)e->code, nghttp2_strerror(-(int)e->code));
    }
    fprintf(o, "\n");
}

/* print the last `max` events of the session that carried `easy` */
static void ev_dump_for(void *easy, int max) {
    if (!trace_frames || ring_n == 0) return;
    unsigned long lo = ring_n > RING ? ring_n - RING : 0;
    void *sess = NULL;
    unsigned long i;
    for (i = ring_n; i > lo; i--)
        if (ring[(i - 1) % RING].easy == easy) { sess = ring[(i - 1) % RING].session; break; }
    fprintf(stderr, "  frames (session %p, last %d events of that session; '*' = this handle's stream):\n", sess, max);
    if (!sess) return;
    int shown = 0;
    unsigned long j = ring_n;
    while (j > lo && shown < max) { if (ring[(j - 1) % RING].session == sess) shown++; j--; }
    for (; j < ring_n; j++) {
        const ev_t *e = &ring[j % RING];
        if (e->session != sess) continue;
        if (e->easy == easy) fputc('*', stderr);
        ev_print(e);
    }
}

/* ------------------------------------------------------------------ transfers */

typedef struct {
    CURL *easy;
    long idx;
    int retried;
    char body[256];
    size_t body_len;
    char errbuf[CURL_ERROR_SIZE];
    size_t resp_len;
    char resp[512];
    char vtext[8192]; /* verbose text of this request (--verbose-errors) */
    size_t vlen;
    double started;
} xfer_t;

static struct {
    const char *url, *cacert, *verbose_all;
    long total, inflight, conns, streams, timeout_ms, max_seconds, quiet_errors;
    int reuse, pipewait, http2, verbose_errors, retry16, ignore_cl;
    long maxlifetime;
} opt = {NULL, NULL, NULL, 10000, 200, 4, 100, 15000, 120, 20, 1, 1, 1, 0, 0, 0, 0};

static FILE *vall;
static struct curl_slist *headers;
static char run_id[32];

static int debug_cb(CURL *h, curl_infotype type, char *data, size_t size, void *ud) {
    (void)h;
    xfer_t *x = ud;
    if (type != CURLINFO_TEXT) return 0;
    if (vall) fprintf(vall, "[%.4f] #%ld %.*s", now_s() - t0, x->idx, (int)size, data);
    if (opt.verbose_errors) {
        char stamp[24];
        int sl = snprintf(stamp, sizeof stamp, "[%.4f] ", now_s() - t0);
        if (x->vlen + sl + size < sizeof x->vtext) {
            memcpy(x->vtext + x->vlen, stamp, sl); x->vlen += sl;
            memcpy(x->vtext + x->vlen, data, size); x->vlen += size;
        }
    }
    return 0;
}

static size_t write_cb(char *p, size_t sz, size_t n, void *ud) {
    xfer_t *x = ud;
    size_t b = sz * n;
    size_t c = b < sizeof x->resp - 1 - x->resp_len ? b : sizeof x->resp - 1 - x->resp_len;
    memcpy(x->resp + x->resp_len, p, c);
    x->resp_len += c;
    x->resp[x->resp_len] = 0;
    return b;
}

static int prereq_cb(void *ud, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port, int conn_local_port) {
    (void)ud; (void)conn_primary_ip; (void)conn_local_ip; (void)conn_primary_port; (void)conn_local_port;
    return CURL_PREREQFUNC_OK;
}

static void setup_easy(xfer_t *x) {
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, opt.timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    if (opt.http2) {
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
        curl_easy_setopt(e, CURLOPT_PIPEWAIT, (long)opt.pipewait);
    } else {
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    }
    if (opt.cacert) curl_easy_setopt(e, CURLOPT_CAINFO, opt.cacert);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, prereq_cb);
    curl_easy_setopt(e, CURLOPT_PREREQDATA, x);
    curl_easy_setopt(e, CURLOPT_URL, opt.url);
    if (opt.ignore_cl) curl_easy_setopt(e, CURLOPT_IGNORE_CONTENT_LENGTH, 1L);
    if (opt.maxlifetime > 0) curl_easy_setopt(e, CURLOPT_MAXLIFETIME_CONN, opt.maxlifetime);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    if (opt.verbose_errors || vall) {
        curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
        curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, debug_cb);
        curl_easy_setopt(e, CURLOPT_DEBUGDATA, x);
    }
}

/* per-request preparation (the product's EasyHandle.prepare) */
static void prepare(xfer_t *x, long idx) {
    x->idx = idx;
    x->errbuf[0] = 0;
    x->resp_len = 0;
    x->resp[0] = 0;
    x->vlen = 0;
    x->started = now_s();
    x->body_len = (size_t)snprintf(x->body, sizeof x->body,
        "{\"messaging_product\":\"whatsapp\",\"to\":\"49151%08ld\",\"type\":\"text\",\"text\":{\"body\":\"h2repro %s:%ld\"}}",
        idx % 100000000L, run_id, idx);
    curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
    curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->body);
}

#define MAXCODE 100
static long by_code[MAXCODE][4]; /* [CURLcode][0=none/unknown,1=1.1,2=2,3=other] */
static long non200, err_printed, retries, req_size_zero_err, req_size_pos_err;

static int ver_slot(long v) {
    if (v == CURL_HTTP_VERSION_1_1 || v == CURL_HTTP_VERSION_1_0) return 1;
    if (v == CURL_HTTP_VERSION_2_0) return 2;
    return v == 0 ? 0 : 3;
}

int main(int argc, char **argv) {
    static struct option lo[] = {
        {"url", 1, 0, 'u'}, {"cacert", 1, 0, 'c'}, {"reuse", 1, 0, 'r'}, {"conns", 1, 0, 'C'},
        {"streams", 1, 0, 's'}, {"pipewait", 1, 0, 'w'}, {"http", 1, 0, 'h'}, {"timeout-ms", 1, 0, 't'},
        {"max-seconds", 1, 0, 'm'}, {"verbose-errors", 0, 0, 'v'}, {"verbose-all", 1, 0, 'V'},
        {"quiet-errors", 1, 0, 'q'}, {"no-frames", 0, 0, 'F'}, {"retry-16", 0, 0, 'R'}, {"dump-frames", 1, 0, 'D'}, {"ignore-content-length", 0, 0, 'I'}, {"maxlifetime-conn", 1, 0, 'L'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "n:p:", lo, NULL)) != -1) {
        switch (c) {
        case 'n': opt.total = atol(optarg); break;
        case 'p': opt.inflight = atol(optarg); break;
        case 'u': opt.url = optarg; break;
        case 'c': opt.cacert = optarg; break;
        case 'r': opt.reuse = atoi(optarg); break;
        case 'C': opt.conns = atol(optarg); break;
        case 's': opt.streams = atol(optarg); break;
        case 'w': opt.pipewait = atoi(optarg); break;
        case 'h': opt.http2 = strcmp(optarg, "2") == 0; break;
        case 't': opt.timeout_ms = atol(optarg); break;
        case 'm': opt.max_seconds = atol(optarg); break;
        case 'v': opt.verbose_errors = 1; break;
        case 'V': opt.verbose_all = optarg; break;
        case 'q': opt.quiet_errors = atol(optarg); break;
        case 'F': trace_frames = 0; break;
        case 'R': opt.retry16 = 1; break;
        case 'D': dumpf = fopen(optarg, "w"); break;
        case 'I': opt.ignore_cl = 1; break;
        case 'L': opt.maxlifetime = atol(optarg); break;
        default: fprintf(stderr, "see the header comment of h2repro.c for usage\n"); return 2;
        }
    }
    if (!opt.url) { fprintf(stderr, "--url required\n"); return 2; }
    if (opt.inflight > opt.total) opt.inflight = opt.total;
    t0 = now_s();
    snprintf(run_id, sizeof run_id, "%lx", (unsigned long)time(NULL) ^ (unsigned long)getpid());
    if (opt.verbose_all) vall = fopen(opt.verbose_all, "w");

    curl_global_init(CURL_GLOBAL_ALL);
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_PIPELINING, opt.http2 ? (long)CURLPIPE_MULTIPLEX : (long)CURLPIPE_NOTHING);
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, opt.conns);
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, opt.conns);
    curl_multi_setopt(m, CURLMOPT_MAX_CONCURRENT_STREAMS, opt.streams);
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, opt.conns);

    headers = curl_slist_append(NULL, "Authorization: Bearer x");
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:");

    xfer_t *xs = calloc((size_t)opt.inflight, sizeof *xs);
    long next = 0, done = 0;
    for (long i = 0; i < opt.inflight; i++) {
        xs[i].easy = curl_easy_init();
        setup_easy(&xs[i]);
        prepare(&xs[i], next++);
        curl_multi_add_handle(m, xs[i].easy);
    }
    long running_handles = opt.inflight;
    double deadline = t0 + opt.max_seconds;
    int timed_out = 0;
    while (running_handles > 0) {
        int still = 0;
        curl_multi_perform(m, &still);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            CURL *e = msg->easy_handle;
            CURLcode rc = msg->data.result;
            xfer_t *x;
            curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
            long ver = 0, status = 0, reqsize = 0, lport = 0;
            curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &ver);
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
            curl_easy_getinfo(e, CURLINFO_REQUEST_SIZE, &reqsize);
            curl_easy_getinfo(e, CURLINFO_LOCAL_PORT, &lport);
            by_code[rc < MAXCODE ? rc : MAXCODE - 1][ver_slot(ver)]++;
            if (rc == CURLE_OK && status != 200) non200++;
            if (rc != CURLE_OK) {
                if (reqsize > 0) req_size_pos_err++; else req_size_zero_err++;
                if (err_printed++ < opt.quiet_errors) {
                    fprintf(stderr, "[%.4f] request %s:%ld FAILED curl=%d (%s) errbuf=\"%s\" request_size=%ld http_version=%ld status=%ld local_port=%ld age=%.3fs resp=%zu bytes\n",
                            now_s() - t0, run_id, x->idx, rc, curl_easy_strerror(rc), x->errbuf, reqsize, ver, status, lport,
                            now_s() - x->started, x->resp_len);
                    if (opt.verbose_errors) fprintf(stderr, "  verbose text of this request:\n%.*s", (int)x->vlen, x->vtext);
                    ev_dump_for(e, 40);
                }
            }
            done++;
            curl_multi_remove_handle(m, e);
            int resend = opt.retry16 && !x->retried && (rc == CURLE_HTTP2 || rc == CURLE_HTTP2_STREAM);
            if (resend) retries++;
            if (resend || next < opt.total) {
                long idx = resend ? x->idx : next++;
                int was_retry = resend;
                if (!opt.reuse) {
                    curl_easy_cleanup(e);
                    x->easy = curl_easy_init();
                    setup_easy(x);
                }
                prepare(x, idx);
                x->retried = was_retry;
                if (resend) done--; /* the retry's outcome is what counts */
                if (resend) by_code[rc < MAXCODE ? rc : MAXCODE - 1][ver_slot(ver)]--;
                curl_multi_add_handle(m, x->easy);
            } else {
                running_handles--;
            }
        }
        if (now_s() > deadline) { timed_out = 1; break; }
        curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
    double el = now_s() - t0;

    printf("h2repro run=%s url=%s http=%s n=%ld inflight=%ld reuse=%d conns=%ld streams=%ld pipewait=%d retry16=%d ignore_cl=%d maxlifetime_conn=%ld\n",
           run_id, opt.url, opt.http2 ? "2" : "1.1", opt.total, opt.inflight, opt.reuse, opt.conns, opt.streams, opt.pipewait, opt.retry16, opt.ignore_cl, opt.maxlifetime);
    printf("  finished %ld in %.2f s (%.0f req/s)%s\n", done, el, done / el, timed_out ? "  ** stopped at --max-seconds **" : "");
    for (int code = 0; code < MAXCODE; code++) {
        long tot = by_code[code][0] + by_code[code][1] + by_code[code][2] + by_code[code][3];
        if (!tot) continue;
        printf("  CURLcode %2d %-40s %7ld  (HTTP/1.1 %ld, HTTP/2 %ld, none %ld)\n", code, curl_easy_strerror((CURLcode)code), tot,
               by_code[code][1], by_code[code][2], by_code[code][0]);
    }
    printf("  failed with request_size>0: %ld, request_size==0: %ld; non-200 answers: %ld; retries: %ld\n", req_size_pos_err, req_size_zero_err, non200, retries);
    if (trace_frames && opt.http2) {
        printf("  frames: HTTP/2 sessions %ld; GOAWAY recv %ld; RST_STREAM recv", n_sessions, n_goaway_recv);
        for (int i = 0; i < 16; i++) if (n_rst_recv[i]) printf(" code%d=%ld", i, n_rst_recv[i]);
        printf("; RST_STREAM sent");
        for (int i = 0; i < 16; i++) if (n_rst_sent[i]) printf(" code%d=%ld", i, n_rst_sent[i]);
        printf("; streams closed REFUSED %ld; invalid frames %ld; nghttp2 errors %ld; mem_recv errors %ld; server MAX_CONCURRENT_STREAMS %ld\n",
               n_refused_close, n_invalid, n_lib_err, n_memrecv_err, n_settings_mcs_recv);
        printf("  received: DATA frames %ld, of them zero-length with END_STREAM %ld\n", n_data_recv, n_empty_eos_recv);
        printf("  sent: DATA frames %ld, of them zero-length %ld; runs of >=2 consecutive zero-length DATA on a connection %ld (longest %ld)\n",
               n_data_sent, n_empty_data_sent, n_empty_runs2, max_empty_run);
    }
    if (vall) fclose(vall);
    return 0;
}
