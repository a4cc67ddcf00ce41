/* openloop: the open-loop fixed-rate HTTP/1.1 client of the benchmark (wrk2's model: no coordinated omission).

   Request i is due at t0 + i/rate whatever the server does. A due request goes to an idle keep-alive connection
   or, when every connection is busy, waits in a FIFO queue, and that wait counts in its latency: a stalled server
   cannot slow the clock down and hide its stall. Our own timer's lateness is not charged to the server: a
   request's clock starts when it is handed to a connection or queued (late_max_ms says how late the timer was).

   It shares the cores with the system under test, so it is cheap: one thread, epoll, non-blocking sockets, one
   request in flight per connection, a timerfd for sub-millisecond sleeps (never a busy loop). A connection the
   server closes is reopened (counted in "reconnects"); a request lost with it counts as an error.

       openloop --url URL --body JSON --rate R [--duration S] [--connections N]

   Prints one JSON object on stdout: the one bench/loadgen.py's former `rate` mode printed, plus "reconnects".
   bench/measure.py builds it into bench/.bin/openloop: cc -O2 -Wall -Wextra -Werror -std=c11 ... -lm */

#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define API_KEY "sk-bench-key"
#define BUF_SIZE 16384          /* per connection: must hold a response head (bodies are skipped, not kept) */
#define STRAGGLERS_NS 10000000000LL /* how long to wait for answers after the last send: 10 s */
#define MAX_EVENTS 256

enum conn_state { C_CONNECTING, C_IDLE, C_BUSY, C_DEAD };
enum parse_state { P_HEAD, P_LENGTH, P_CHUNK_SIZE, P_CHUNK_DATA, P_TRAILER, P_UNTIL_CLOSE, P_DONE };

struct conn {
    int fd;
    enum conn_state state;
    int64_t started;            /* ns: when the request in flight was handed to a connection or queued */
    size_t written;             /* bytes of the request sent so far */
    int want_out;               /* waiting for EPOLLOUT to send the rest */
    enum parse_state parse;     /* the response being read */
    int status;
    int close_after;            /* Connection: close, or a body that ends when the connection does */
    long long remaining;        /* body (P_LENGTH) or chunk + CRLF (P_CHUNK_DATA) bytes still to skip */
    struct conn *prev, *next;   /* in the idle FIFO */
    size_t len;                 /* bytes in buf */
    char buf[BUF_SIZE];
};

static int ep, timer, starting = 1;
static struct addrinfo *addr;
static char *request;
static size_t request_len;
static struct conn *idle_head, *idle_tail;
static int n_idle, live;
static int64_t *waiting, *latencies;   /* queued start times (FIFO), then the ok requests' latencies, ns */
static long wait_head, wait_tail, n_ok, errors, reconnects;
static int64_t t0;                     /* ns: when request 0 was due */
static double rate;                    /* requests per second */

/* When request i is due, ns. */
static int64_t due(long i) {
    return t0 + (int64_t)((double)i / rate * 1e9);
}

static _Noreturn void die(const char *what, const char *why) {
    fprintf(stderr, "openloop: %s: %s\n", what, why);
    exit(1);
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Wakes epoll_wait at the absolute CLOCK_MONOTONIC time t (ns). Re-arming resets the timer's expiry count. */
static void arm(int64_t t) {
    struct itimerspec its = {.it_value = {.tv_sec = t / 1000000000, .tv_nsec = t % 1000000000}};
    if (timerfd_settime(timer, TFD_TIMER_ABSTIME, &its, NULL) < 0) die("timerfd_settime", strerror(errno));
}

static void watch(struct conn *c, uint32_t events) {
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl", strerror(errno));
}

/* The idle connections, oldest first, so that every connection stays in use and none idles out. */
static void idle_push(struct conn *c) {
    c->state = C_IDLE;
    c->next = NULL;
    c->prev = idle_tail;
    if (idle_tail) idle_tail->next = c; else idle_head = c;
    idle_tail = c;
    n_idle++;
}

static void idle_remove(struct conn *c) {
    if (c->prev) c->prev->next = c->next; else idle_head = c->next;
    if (c->next) c->next->prev = c->prev; else idle_tail = c->prev;
    n_idle--;
}

/* A connection that cannot be reopened (the server is gone, or the ports ran out) is given up; at the start, the
   whole run is. */
static void give_up(struct conn *c, int err) {
    if (starting) die("connect", strerror(err));
    fprintf(stderr, "openloop: reconnect failed, one connection fewer: %s\n", strerror(err));
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->state = C_DEAD;
    live--;
}

/* Opens the connection; epoll reports the socket writable when the handshake is over (on_connected). */
static void start_connect(struct conn *c) {
    int one = 1;
    c->state = C_CONNECTING;
    c->fd = socket(addr->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        give_up(c, errno);
        return;
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, addr->ai_addr, addr->ai_addrlen) < 0 && errno != EINPROGRESS) {
        give_up(c, errno);
        return;
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl", strerror(errno));
}

static void reconnect(struct conn *c) {
    if (c->state == C_IDLE) idle_remove(c);
    close(c->fd);
    reconnects++;
    start_connect(c);
}

static void record(struct conn *c, int64_t t, int ok) {
    if (ok) latencies[n_ok++] = t - c->started;
    else errors++;
}

/* The server closed the connection (or it broke): a body that runs until the close is complete now, any other
   request in flight failed. */
static void lost(struct conn *c, int64_t t) {
    if (c->state == C_BUSY) {
        record(c, t, c->parse == P_UNTIL_CLOSE && c->status == 200);
        c->state = C_CONNECTING;
    }
    reconnect(c);
}

/* Sends what is left of the request; waits for EPOLLOUT when the socket buffer is full. */
static void flush(struct conn *c) {
    while (c->written < request_len) {
        ssize_t n = send(c->fd, request + c->written, request_len - c->written, MSG_NOSIGNAL);
        if (n >= 0) {
            c->written += (size_t)n;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (!c->want_out) watch(c, EPOLLIN | EPOLLOUT);
            c->want_out = 1;
            return;
        } else if (errno != EINTR) {
            lost(c, now_ns());
            return;
        }
    }
    if (c->want_out) watch(c, EPOLLIN);
    c->want_out = 0;
}

static void dispatch(struct conn *c, int64_t started) {
    c->state = C_BUSY;
    c->started = started;
    c->written = 0;
    c->parse = P_HEAD;
    c->len = 0;
    flush(c);
}

/* A connection ready for a request takes the oldest waiting one, or joins the idle FIFO. */
static void make_free(struct conn *c) {
    if (wait_head < wait_tail) dispatch(c, waiting[wait_head++]);
    else idle_push(c);
}

static void on_connected(struct conn *c) {
    int err = 0;
    socklen_t size = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &size) < 0) err = errno;
    if (err) {
        give_up(c, err);
        return;
    }
    c->want_out = 0;
    watch(c, EPOLLIN);
    make_free(c);
}

/* Case-insensitive: does the n bytes at s hold `word`? */
static int contains(const char *s, size_t n, const char *word) {
    size_t w = strlen(word);
    for (size_t i = 0; i + w <= n; i++)
        if (strncasecmp(s + i, word, w) == 0) return 1;
    return 0;
}

/* The status line and the headers that say where the body ends; `end` is where the blank line starts. */
static int parse_head(struct conn *c, const char *p, const char *end) {
    if (end - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' || !isdigit((unsigned char)p[9])
        || !isdigit((unsigned char)p[10]) || !isdigit((unsigned char)p[11]))
        return -1;
    c->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    long long length = -1;
    int chunked = 0;
    c->close_after = 0;
    const char *line = (const char *)memmem(p, (size_t)(end + 2 - p), "\r\n", 2) + 2;
    while (line < end) {  /* "Name: value\r\n" */
        const char *eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
        const char *colon = memchr(line, ':', (size_t)(eol - line));
        if (colon) {
            const char *value = colon + 1;
            while (value < eol && (*value == ' ' || *value == '\t')) value++;
            size_t name_len = (size_t)(colon - line), value_len = (size_t)(eol - value);
            if (name_len == 14 && strncasecmp(line, "content-length", 14) == 0) {
                if (!isdigit((unsigned char)*value)) return -1;
                length = strtoll(value, NULL, 10);  /* stops at the CR */
            } else if (name_len == 17 && strncasecmp(line, "transfer-encoding", 17) == 0) {
                chunked = contains(value, value_len, "chunked");
            } else if (name_len == 10 && strncasecmp(line, "connection", 10) == 0) {
                c->close_after = contains(value, value_len, "close");
            }
        }
        line = eol + 2;
    }
    if (c->status >= 100 && c->status < 200) {
        c->parse = P_HEAD;  /* an interim answer: the real one follows */
    } else if (c->status == 204 || c->status == 304 || (!chunked && length == 0)) {
        c->parse = P_DONE;
    } else if (chunked) {
        c->parse = P_CHUNK_SIZE;
    } else if (length > 0) {
        c->parse = P_LENGTH;
        c->remaining = length;
    } else {
        c->parse = P_UNTIL_CLOSE;
        c->close_after = 1;
    }
    return 0;
}

/* Reads what it can of the response in c->buf: 1 when it is complete, 0 when more bytes are needed, -1 when it
   is malformed. Consumed bytes leave the buffer; bytes after a complete response are dropped. */
static int parse(struct conn *c) {
    char *p = c->buf, *end = c->buf + c->len;
    int result = 0;
    while (result == 0) {
        size_t avail = (size_t)(end - p);
        if (c->parse == P_DONE) {
            result = 1;
        } else if (c->parse == P_UNTIL_CLOSE) {
            p = end;  /* complete when the server closes (lost) */
            break;
        } else if (c->parse == P_LENGTH || c->parse == P_CHUNK_DATA) {
            size_t n = (long long)avail < c->remaining ? avail : (size_t)c->remaining;
            p += n;
            c->remaining -= (long long)n;
            if (c->remaining > 0) break;
            c->parse = c->parse == P_LENGTH ? P_DONE : P_CHUNK_SIZE;
        } else {  /* a line: the head (up to the blank line), a chunk size, or a trailer */
            char *eol = c->parse == P_HEAD ? memmem(p, avail, "\r\n\r\n", 4) : memmem(p, avail, "\r\n", 2);
            if (eol == NULL) {
                if (p == c->buf && c->len == BUF_SIZE) result = -1;  /* a line longer than the buffer */
                break;
            }
            if (c->parse == P_HEAD) {
                result = parse_head(c, p, eol);
                p = eol + 4;
            } else if (c->parse == P_CHUNK_SIZE) {  /* hex digits, maybe ";extensions" */
                long long size = isxdigit((unsigned char)*p) ? strtoll(p, NULL, 16) : -1;
                if (size < 0 || size > (1LL << 40)) result = -1;
                else if (size == 0) c->parse = P_TRAILER;
                else {
                    c->parse = P_CHUNK_DATA;
                    c->remaining = size + 2;  /* the data and its CRLF */
                }
                p = eol + 2;
            } else {  /* P_TRAILER: lines up to an empty one */
                if (eol == p) c->parse = P_DONE;
                p = eol + 2;
            }
        }
    }
    if (result != 0) {
        c->len = 0;
    } else {
        c->len = (size_t)(end - p);
        memmove(c->buf, p, c->len);
    }
    return result;
}

static void on_readable(struct conn *c) {
    ssize_t n = recv(c->fd, c->buf + c->len, BUF_SIZE - c->len, 0);
    int64_t t = now_ns();
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (n <= 0) {
        lost(c, t);
        return;
    }
    if (c->state != C_BUSY) return;  /* nothing was asked: ignore it */
    c->len += (size_t)n;
    int done = parse(c);
    if (done == 0) return;
    record(c, t, done > 0 && c->status == 200);
    if (done < 0 || c->close_after || c->written < request_len) {
        c->state = C_CONNECTING;
        reconnect(c);
    } else {
        make_free(c);
    }
}

static void handle(const struct epoll_event *ev) {
    struct conn *c = ev->data.ptr;
    if (c == NULL) {  /* the timer: the main loop looks at the clock */
        uint64_t ticks;
        if (read(timer, &ticks, sizeof ticks) < 0 && errno != EAGAIN) die("timerfd read", strerror(errno));
        return;
    }
    if (c->state == C_CONNECTING) {
        on_connected(c);
        return;
    }
    if ((ev->events & EPOLLOUT) && c->state == C_BUSY) flush(c);
    if ((ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && (c->state == C_BUSY || c->state == C_IDLE)) on_readable(c);
}

/* The nearest-rank percentile of an ascending array, as bench/loadgen.py's percentile (round half to even). */
static double percentile(const double *sorted, long n, double pct) {
    if (n == 0) return 0.0;
    long rank = (long)rint(pct / 100 * (double)n + 0.5) - 1;
    return sorted[rank < 0 ? 0 : rank > n - 1 ? n - 1 : rank];
}

/* A float as Python's json writes it: the fewest digits that read back the same, positional unless the exponent
   is below -4 or 16 and up, ".0" when integral. */
static const char *num(double v) {
    static char bufs[16][48];
    static int next;
    char *out = bufs[next++ % 16];
    int digits;  /* after the point, in scientific notation: 16 always reads back the same */
    for (digits = 0; digits <= 16; digits++) {
        snprintf(out, 48, "%.*e", digits, v);
        if (strtod(out, NULL) == v) break;
    }
    int exponent = isfinite(v) ? atoi(strchr(out, 'e') + 1) : 99;
    if (exponent >= -4 && exponent < 16) {
        snprintf(out, 48, "%.*f", digits > exponent ? digits - exponent : 0, v);
        if (strchr(out, '.') == NULL) strcat(out, ".0");
    }
    return out;
}

static int by_value(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static _Noreturn void usage(FILE *to, int code) {
    fprintf(to, "usage: openloop --url URL --body JSON --rate R [--duration S=10] [--connections N=64]\n");
    exit(code);
}

int main(int argc, char **argv) {
    const char *url = NULL, *body = NULL;
    double duration = 10;
    int connections = 64;
    for (int i = 1; i < argc; i++) {  /* --flag value or --flag=value */
        char *flag = argv[i], *value, *eq = strchr(flag, '=');
        if (strcmp(flag, "-h") == 0 || strcmp(flag, "--help") == 0) usage(stdout, 0);
        if (eq) *eq = '\0', value = eq + 1;
        else if (i + 1 < argc) value = argv[++i];
        else usage(stderr, 2);
        if (strcmp(flag, "--url") == 0) url = value;
        else if (strcmp(flag, "--body") == 0) body = value;
        else if (strcmp(flag, "--rate") == 0) rate = strtod(value, NULL);
        else if (strcmp(flag, "--duration") == 0) duration = strtod(value, NULL);
        else if (strcmp(flag, "--connections") == 0) connections = atoi(value);
        else usage(stderr, 2);
    }
    if (url == NULL || body == NULL || !(rate > 0) || !(duration >= 0) || connections < 1) usage(stderr, 2);

    /* http://host[:port]/path: the address, and the request bytes loadgen.py built */
    if (strncmp(url, "http://", 7) != 0) die(url, "only http:// URLs");
    const char *authority = url + 7, *slash = strchr(authority, '/'), *path = slash ? slash : "/";
    size_t authority_len = slash ? (size_t)(slash - authority) : strlen(authority);
    char host[256], port[16] = "80";
    if (authority_len >= sizeof host) die(url, "host too long");
    memcpy(host, authority, authority_len);
    host[authority_len] = '\0';
    char *colon = strrchr(host, ':');
    if (colon && strchr(colon, ']') == NULL) {  /* not inside an [IPv6] address */
        snprintf(port, sizeof port, "%s", colon + 1);
        *colon = '\0';
    }
    size_t body_len = strlen(body);
    request = malloc(1024 + strlen(path) + strlen(host) + body_len);
    if (request == NULL) die("malloc", "out of memory");
    request_len = (size_t)sprintf(request,
        "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
        "Authorization: Bearer " API_KEY "\r\nContent-Length: %zu\r\n\r\n%s", path, host, port, body_len, body);
    if (host[0] == '[') {  /* [::1] -> ::1 for getaddrinfo */
        memmove(host, host + 1, strlen(host));
        host[strcspn(host, "]")] = '\0';
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int gai = getaddrinfo(host, port, &hints, &addr);
    if (gai != 0) die(host, gai_strerror(gai));

    long total = (long)(rate * duration);
    waiting = malloc(sizeof *waiting * (size_t)(total + 1));
    latencies = malloc(sizeof *latencies * (size_t)(total + 1));
    struct conn *conns = calloc((size_t)connections, sizeof *conns);
    if (waiting == NULL || latencies == NULL || conns == NULL) die("malloc", "out of memory");
    ep = epoll_create1(EPOLL_CLOEXEC);
    timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (ep < 0 || timer < 0) die("epoll/timerfd", strerror(errno));
    struct epoll_event tev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, timer, &tev) < 0) die("epoll_ctl", strerror(errno));
    struct epoll_event events[MAX_EVENTS];

    /* every connection open before the clock starts */
    for (int i = 0; i < connections; i++) start_connect(&conns[i]);
    live = connections;
    while (n_idle < connections) {
        int n = epoll_wait(ep, events, MAX_EVENTS, 10000);
        if (n == 0) die(url, "timed out connecting");
        for (int i = 0; i < n; i++) handle(&events[i]);
    }
    starting = 0;

    /* request i is due at t0 + i/rate; sleep on the timer until the next one is due, answers wake us meanwhile */
    t0 = now_ns();
    int64_t send_end = t0, deadline = t0, late_max = 0;
    long sent = 0;
    for (;;) {
        int64_t t = now_ns();
        if (sent < total && due(sent) <= t) {
            if (t - due(sent) > late_max) late_max = t - due(sent);
            for (; sent < total && due(sent) <= t; sent++) {
                if (idle_head) {
                    struct conn *c = idle_head;
                    idle_remove(c);
                    dispatch(c, t);
                } else {
                    waiting[wait_tail++] = t;
                }
            }
            if (sent == total) {  /* then wait up to 10 s for the stragglers */
                send_end = now_ns();
                deadline = send_end + STRAGGLERS_NS;
                arm(deadline);
            } else {
                arm(due(sent));
            }
        }
        if (sent == total && (n_ok + errors >= total || t >= deadline || live == 0)) break;
        int n = epoll_wait(ep, events, MAX_EVENTS, -1);
        if (n < 0 && errno != EINTR) die("epoll_wait", strerror(errno));
        for (int i = 0; i < n; i++) handle(&events[i]);
    }
    double elapsed = (double)(now_ns() - t0) / 1e9, sending = (double)(send_end - t0) / 1e9;

    qsort(latencies, (size_t)n_ok, sizeof *latencies, by_value);
    double *ms = malloc(sizeof *ms * (size_t)(n_ok + 1)), sum = 0;
    if (ms == NULL) die("malloc", "out of memory");
    for (long i = 0; i < n_ok; i++) sum += ms[i] = (double)latencies[i] / 1e6;
    printf("{\"target_rate\": %s, \"duration_s\": %s, \"connections\": %d, \"sent\": %ld, \"ok\": %ld, "
           "\"errors\": %ld, \"unfinished\": %ld, \"achieved_rate\": %s, \"send_rate\": %s, \"late_max_ms\": %s, "
           "\"latency_ms\": {\"mean\": %s, \"p50\": %s, \"p90\": %s, \"p99\": %s, \"p999\": %s, \"max\": %s}, "
           "\"reconnects\": %ld}\n",
           num(rate), num(duration), connections, sent, n_ok, errors, sent - n_ok - errors,
           num(elapsed > 0 ? (double)n_ok / elapsed : 0.0), num(sending > 0 ? (double)sent / sending : 0.0),
           num((double)late_max / 1e6), num(n_ok ? sum / (double)n_ok : 0.0), num(percentile(ms, n_ok, 50)),
           num(percentile(ms, n_ok, 90)), num(percentile(ms, n_ok, 99)), num(percentile(ms, n_ok, 99.9)),
           num(n_ok ? ms[n_ok - 1] : 0.0), reconnects);
    return 0;
}
