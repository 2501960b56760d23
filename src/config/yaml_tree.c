/* YAML text -> a small tree of scalars, mappings and lists, through libyaml's event
 * API, with the limits that make untrusted files safe to read: no anchors or aliases
 * (so no "billion laughs" expansion), no tags, bounded depth, node count and scalar
 * length. Also the error helpers and scalar readers the schema code shares. */
#include "config_internal.h"

#include "lamarck/error.h"
#include "lamarck/strutil.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* ---- errors ---- */

int lm__config_error(const char *func, int src_line, const char *path, int line, int col,
                     const char *keypath, const char *fmt, ...) {
    char msg[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (keypath)
        return lm_error_set(__FILE__, src_line, func, LM_ECONFIG, "%s:%d:%d: %s: %s", path, line,
                            col, keypath, msg);
    return lm_error_set(__FILE__, src_line, func, LM_ECONFIG, "%s:%d:%d: %s", path, line, col,
                        msg);
}

int lm__config_wrap(const char *func, int src_line, const char *path, const lm__ynode *nd,
                    const char *keypath) {
    char inner[1024];
    lm_strlcpy(inner, lm_error_message(), sizeof inner);
    /* The inner message was recorded first; clear it so the positioned one wins. */
    lm_error_clear();
    return lm__config_error(func, src_line, path, nd->line, nd->col, keypath, "%s", inner);
}

/* ---- tree ---- */

typedef struct builder {
    yaml_parser_t parser;
    const char *path;
    const char *text;
    size_t len;
    int nodes;
} builder;

void lm__yaml_free(lm__ynode *n) {
    if (!n) return;
    for (int i = 0; i < n->n; i++) lm__yaml_free(n->kid[i]);
    free(n->kid);
    free(n->str);
    free(n);
}

/* 1-based line and column of a byte offset, for reader errors that carry only one. */
static void offset_position(const builder *b, size_t off, int *line, int *col) {
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < b->len; i++) {
        if (b->text[i] == '\n') {
            ++*line;
            *col = 1;
        } else {
            ++*col;
        }
    }
}

static int parser_error(builder *b) {
    const yaml_parser_t *p = &b->parser;
    int line, col;
    if (p->error == YAML_MEMORY_ERROR)
        LM_FAIL(LM_ENOMEM, "%s: out of memory reading YAML", b->path);
    if (p->error == YAML_READER_ERROR) {
        offset_position(b, p->problem_offset, &line, &col);
        return lm__config_error(__func__, __LINE__, b->path, line, col, NULL,
                                "malformed YAML: %s",
                                p->problem ? p->problem : "unreadable input");
    }
    /* libyaml's marks count from 0. */
    line = (int)p->problem_mark.line + 1;
    col = (int)p->problem_mark.column + 1;
    if (p->context)
        return lm__config_error(__func__, __LINE__, b->path, line, col, NULL,
                                "malformed YAML: %s (%s, which starts at line %d column %d)",
                                p->problem ? p->problem : "error", p->context,
                                (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
    return lm__config_error(__func__, __LINE__, b->path, line, col, NULL, "malformed YAML: %s",
                            p->problem ? p->problem : "error");
}

static int next_event(builder *b, yaml_event_t *ev) {
    if (!yaml_parser_parse(&b->parser, ev)) return parser_error(b);
    return LM_OK;
}

static int mark_line(const yaml_event_t *ev) { return (int)ev->start_mark.line + 1; }
static int mark_col(const yaml_event_t *ev) { return (int)ev->start_mark.column + 1; }

static int refuse(builder *b, const yaml_event_t *ev, const char *what) {
    return lm__config_error(__func__, __LINE__, b->path, mark_line(ev), mark_col(ev), NULL,
                            "%s are not supported in lamarck configs (write the value out)", what);
}

static int new_node(builder *b, const yaml_event_t *ev, lm__ynode_kind kind, lm__ynode **out) {
    if (++b->nodes > LM__YAML_MAX_NODES)
        return lm__config_error(__func__, __LINE__, b->path, mark_line(ev), mark_col(ev), NULL,
                                "more than %d YAML nodes in one config", LM__YAML_MAX_NODES);
    lm__ynode *n = calloc(1, sizeof *n);
    LM_CHECK_ALLOC(n);
    n->kind = kind;
    n->line = mark_line(ev);
    n->col = mark_col(ev);
    *out = n;
    return LM_OK;
}

static int add_kid(lm__ynode *parent, lm__ynode *kid) {
    if (parent->n == parent->cap) {
        int cap = parent->cap ? 2 * parent->cap : 8;
        lm__ynode **k = realloc(parent->kid, (size_t)cap * sizeof *k);
        LM_CHECK_ALLOC(k);
        parent->kid = k;
        parent->cap = cap;
    }
    parent->kid[parent->n++] = kid;
    return LM_OK;
}

/* Builds the node that starts with event ev (which the caller deletes). */
static int build(builder *b, yaml_event_t *ev, int depth, lm__ynode **out) {
    *out = NULL;
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        return refuse(b, ev, "YAML aliases (*name)");
    case YAML_SCALAR_EVENT: {
        if (ev->data.scalar.anchor) return refuse(b, ev, "YAML anchors (&name)");
        if (ev->data.scalar.tag) return refuse(b, ev, "YAML tags (!tag)");
        size_t len = ev->data.scalar.length;
        if (len > LM__YAML_MAX_SCALAR)
            return lm__config_error(__func__, __LINE__, b->path, mark_line(ev), mark_col(ev),
                                    NULL, "value longer than %d bytes", LM__YAML_MAX_SCALAR);
        lm__ynode *n;
        LM_CALL(new_node(b, ev, LM__YN_SCALAR, &n));
        n->str = malloc(len + 1);
        if (!n->str) {
            free(n);
            LM_FAIL(LM_ENOMEM, "out of memory");
        }
        memcpy(n->str, ev->data.scalar.value, len);
        n->str[len] = 0;
        n->len = len;
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        *out = n;
        return LM_OK;
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int is_map = ev->type == YAML_MAPPING_START_EVENT;
        const yaml_char_t *anchor = is_map ? ev->data.mapping_start.anchor
                                           : ev->data.sequence_start.anchor;
        const yaml_char_t *tag = is_map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
        if (anchor) return refuse(b, ev, "YAML anchors (&name)");
        if (tag) return refuse(b, ev, "YAML tags (!tag)");
        if (depth >= LM__YAML_MAX_DEPTH)
            return lm__config_error(__func__, __LINE__, b->path, mark_line(ev), mark_col(ev),
                                    NULL, "nested deeper than %d levels", LM__YAML_MAX_DEPTH);
        lm__ynode *n;
        LM_CALL(new_node(b, ev, is_map ? LM__YN_MAP : LM__YN_SEQ, &n));
        yaml_event_type_t end = is_map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
        int rc = LM_OK;
        for (;;) {
            yaml_event_t kev;
            rc = next_event(b, &kev);
            if (rc < 0) break;
            if (kev.type == end) {
                yaml_event_delete(&kev);
                break;
            }
            lm__ynode *kid;
            rc = build(b, &kev, depth + 1, &kid);
            yaml_event_delete(&kev);
            if (rc < 0) break;
            rc = add_kid(n, kid);
            if (rc < 0) {
                lm__yaml_free(kid);
                break;
            }
        }
        if (rc < 0) {
            lm__yaml_free(n);
            return lm_error_trace(__FILE__, __LINE__, __func__, rc);
        }
        *out = n;
        return LM_OK;
    }
    default:
        return lm__config_error(__func__, __LINE__, b->path, mark_line(ev), mark_col(ev), NULL,
                                "malformed YAML: unexpected event");
    }
}

/* Expects an event of the given type; returns LM_OK and deletes it. */
static int expect_event(builder *b, yaml_event_type_t type, int *got_stream_end) {
    yaml_event_t ev;
    LM_CALL(next_event(b, &ev));
    yaml_event_type_t t = ev.type;
    int line = mark_line(&ev), col = mark_col(&ev);
    yaml_event_delete(&ev);
    if (got_stream_end && t == YAML_STREAM_END_EVENT) {
        *got_stream_end = 1;
        return LM_OK;
    }
    if (t == type) return LM_OK;
    if (t == YAML_DOCUMENT_START_EVENT)
        return lm__config_error(__func__, __LINE__, b->path, line, col, NULL,
                                "a config holds one YAML document; found a second one");
    return lm__config_error(__func__, __LINE__, b->path, line, col, NULL,
                            "malformed YAML: unexpected content");
}

static int load_stream(builder *b, lm__ynode **root) {
    int ended = 0;
    LM_CALL(expect_event(b, YAML_STREAM_START_EVENT, NULL));
    LM_CALL(expect_event(b, YAML_DOCUMENT_START_EVENT, &ended));
    if (ended) return LM_OK; /* no document at all */
    yaml_event_t ev;
    LM_CALL(next_event(b, &ev));
    int rc = build(b, &ev, 0, root);
    yaml_event_delete(&ev);
    LM_CALL(rc);
    LM_CALL(expect_event(b, YAML_DOCUMENT_END_EVENT, NULL));
    LM_CALL(expect_event(b, YAML_STREAM_END_EVENT, NULL));
    return LM_OK;
}

int lm__yaml_load(const char *text, size_t len, const char *path, lm__ynode **root) {
    *root = NULL;
    builder b = {.path = path, .text = text, .len = len};
    LM_CHECK(yaml_parser_initialize(&b.parser), LM_ENOMEM, "out of memory starting libyaml");
    yaml_parser_set_input_string(&b.parser, (const unsigned char *)text, len);
    int rc = load_stream(&b, root);
    yaml_parser_delete(&b.parser);
    if (rc < 0) {
        lm__yaml_free(*root);
        *root = NULL;
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    return LM_OK;
}

/* ---- scalar readers ---- */

int lm__yn_is_null(const lm__ynode *n) {
    if (n->kind != LM__YN_SCALAR || !n->plain) return 0;
    const char *s = n->str;
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

int lm__yn_number_syntax(const char *s, double *v) {
    /* Decimal notation only: strtod alone would also take hex, "inf", "nan" and
     * leading spaces. */
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    int digits = 0;
    while (isdigit((unsigned char)*p)) p++, digits++;
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) p++, digits++;
    }
    if (!digits) return 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!isdigit((unsigned char)*p)) return 0;
        while (isdigit((unsigned char)*p)) p++;
    }
    if (*p) return 0;
    char *end;
    double x = strtod(s, &end);
    if (*end || !isfinite(x)) return 0;
    *v = x;
    return 1;
}

int lm__yn_bool_word(const lm__ynode *n, int *v) {
    if (n->kind != LM__YN_SCALAR || !n->plain || n->len > 5) return 0;
    char w[8];
    for (size_t i = 0; i <= n->len; i++) w[i] = (char)tolower((unsigned char)n->str[i]);
    if (!strcmp(w, "true") || !strcmp(w, "yes")) {
        *v = 1;
        return 1;
    }
    if (!strcmp(w, "false") || !strcmp(w, "no")) {
        *v = 0;
        return 1;
    }
    return 0;
}

void lm__yn_describe(const lm__ynode *n, char *buf, size_t cap) {
    if (n->kind == LM__YN_MAP)
        snprintf(buf, cap, "a mapping");
    else if (n->kind == LM__YN_SEQ)
        snprintf(buf, cap, "a list");
    else if (lm__yn_is_null(n))
        snprintf(buf, cap, "nothing (null)");
    else if (!n->plain)
        snprintf(buf, cap, "the quoted string \"%.60s%s\"", n->str, n->len > 60 ? "..." : "");
    else
        snprintf(buf, cap, "'%.60s%s'", n->str, n->len > 60 ? "..." : "");
}

int lm__yn_number(const char *path, const lm__ynode *n, const char *kp, double *v) {
    if (n->kind == LM__YN_SCALAR && n->plain) {
        if (lm__yn_number_syntax(n->str, v)) return LM_OK;
        char *end;
        double x = strtod(n->str, &end);
        if (n->len > 0 && !*end && !isfinite(x))
            LM__CFAIL(path, n, kp, "expected a finite number, got '%.60s'", n->str);
    }
    char got[128];
    lm__yn_describe(n, got, sizeof got);
    LM__CFAIL(path, n, kp, "expected a number, got %s", got);
}

int lm__yn_integer(const char *path, const lm__ynode *n, const char *kp, double lo, double hi,
                   long long *v) {
    double x;
    LM_CALL(lm__yn_number(path, n, kp, &x));
    if (x != floor(x) || x < lo || x > hi)
        LM__CFAIL(path, n, kp, "expected an integer in [%.0f, %.0f], got %s", lo, hi, n->str);
    *v = (long long)x;
    return LM_OK;
}

int lm__yn_bool(const char *path, const lm__ynode *n, const char *kp, int *v) {
    if (lm__yn_bool_word(n, v)) return LM_OK;
    char got[128];
    lm__yn_describe(n, got, sizeof got);
    LM__CFAIL(path, n, kp, "expected a boolean (true/false/yes/no), got %s", got);
}

int lm__yn_string(const char *path, const lm__ynode *n, const char *kp, const char **s) {
    if (n->kind == LM__YN_SCALAR && !lm__yn_is_null(n) && n->len > 0) {
        *s = n->str;
        return LM_OK;
    }
    char got[128];
    lm__yn_describe(n, got, sizeof got);
    if (n->kind == LM__YN_SCALAR && n->len == 0 && !n->plain)
        LM__CFAIL(path, n, kp, "expected a non-empty string, got an empty string");
    LM__CFAIL(path, n, kp, "expected a string, got %s", got);
}

int lm__yn_map(const char *path, const lm__ynode *n, const char *kp, const lm__ynode **map) {
    if (n->kind == LM__YN_MAP) {
        *map = n;
        return LM_OK;
    }
    if (lm__yn_is_null(n)) {
        *map = NULL;
        return LM_OK;
    }
    char got[128];
    lm__yn_describe(n, got, sizeof got);
    LM__CFAIL(path, n, kp, "expected a mapping (key: value lines or {key: value}), got %s", got);
}

int lm__yn_key(const char *path, const lm__ynode *n, const char *section, const char *what,
               const char *const *keys, int nkeys, const lm__ynode **seen) {
    if (n->kind != LM__YN_SCALAR) {
        char got[128];
        lm__yn_describe(n, got, sizeof got);
        LM__CFAIL(path, n, section, "expected a key name, got %s", got);
    }
    char kp[192];
    if (section)
        snprintf(kp, sizeof kp, "%s.%.80s", section, n->str);
    else
        snprintf(kp, sizeof kp, "%.80s", n->str);
    for (int i = 0; i < nkeys; i++) {
        if (strcmp(n->str, keys[i]) != 0) continue;
        if (seen[i])
            LM__CFAIL(path, n, kp, "duplicate key '%s' (first at line %d column %d)", keys[i],
                      seen[i]->line, seen[i]->col);
        seen[i] = n;
        return i;
    }
    char list[512] = "";
    size_t used = 0;
    for (int i = 0; i < nkeys && used < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", keys[i]);
    const char *near = lm_str_closest(n->str, keys, nkeys);
    char hint[128] = "";
    if (near) snprintf(hint, sizeof hint, " (did you mean '%s'?)", near);
    LM__CFAIL(path, n, kp, "unknown %s '%.80s'%s; expected one of %s", what, n->str, hint,
              list);
}
