/* The space: section of a config. Each entry names a training parameter and gives
 * its distribution:
 *
 *     space:
 *       lr:        {type: float, low: 0.01, high: 0.3, log: true, grid: 4}
 *       width:     {type: categorical, values: [64, 128, 256]}
 *       step_size: {type: int, low: 1, high: 3, when: {schedule: [step]}}
 *
 * Every bound and choice is checked with lm_train_params_set for that parameter, so
 * a space can only produce points that train; errors point at the offending value. */
#include "config_internal.h"

#include "lamarck/error.h"
#include "lamarck/strutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { F_TYPE, F_LOW, F_HIGH, F_LOG, F_GRID, F_VALUES, F_WHEN, N_FIELDS };
static const char *const fields[N_FIELDS] = {"type", "low",    "high", "log",
                                             "grid", "values", "when"};
static const char *const types[] = {"float", "int", "categorical"};

#define INT_BOUND 9007199254740992.0 /* 2^53: integers stay exact in a double */
#define LABEL_MAX 256

/* What values a training parameter takes, for choosing among float, int and
 * categorical. Parameters not listed here are real-valued. */
typedef enum { P_REAL, P_INT, P_LABEL } param_kind;

static param_kind kind_of(const char *name) {
    static const char *const ints[] = {"epochs", "batch_size", "nesterov",
                                       "step_size", "depth", "width", "arch_index"};
    if (!strcmp(name, "schedule")) return P_LABEL;
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
        if (!strcmp(name, ints[i])) return P_INT;
    return P_REAL;
}

/* A categorical label as written, with YAML's boolean words read as true/false. */
static const char *label_of(const lm__ynode *n) {
    int b;
    if (lm__yn_bool_word(n, &b)) return b ? "true" : "false";
    return n->str;
}

/* Checks that the parameter accepts value v (num, or label with its numeric reading). */
static int check_value(const char *path, const lm__ynode *at, const char *kp, const char *name,
                       double num, const char *label) {
    /* arch_index (replay) indexes the meta-dataset; lm_exec_replay checks its range. */
    if (!strcmp(name, "arch_index")) {
        if (num < 0) LM__CFAIL(path, at, kp, "expected an index >= 0, got %g", num);
        return LM_OK;
    }
    lm_train_params scratch;
    lm_train_params_default(&scratch);
    if (lm__config_set_param(&scratch, name, num, label) < 0) LM__CWRAP(path, at, kp);
    return LM_OK;
}

static int parse_bound(const char *path, const lm__ynode *v, const char *kp, const char *name,
                       int is_int, double *out) {
    LM_CALL(lm__yn_number(path, v, kp, out));
    if (is_int && *out != floor(*out))
        LM__CFAIL(path, v, kp, "expected an integer, got %s (type: int)", v->str);
    if (is_int && fabs(*out) > INT_BOUND)
        LM__CFAIL(path, v, kp, "expected an integer within +-2^53, got %s", v->str);
    return check_value(path, v, kp, name, *out, NULL);
}

static int parse_numeric(const char *path, const char *name, const char *kp,
                         const lm__ynode *spec, const lm__ynode *const *fv,
                         const lm__ynode *const *fk, int is_int, lm_space *sp) {
    char fkp[160];
    if (fv[F_VALUES])
        LM__CFAIL(path, fk[F_VALUES], kp, "'values' applies to categorical only, not %s",
                  is_int ? "int" : "float");
    for (int f = F_LOW; f <= F_HIGH; f++)
        if (!fv[f])
            LM__CFAIL(path, spec, kp, "required key '%s' missing for type %s", fields[f],
                      is_int ? "int" : "float");
    double low, high;
    snprintf(fkp, sizeof fkp, "%s.low", kp);
    LM_CALL(parse_bound(path, fv[F_LOW], fkp, name, is_int, &low));
    snprintf(fkp, sizeof fkp, "%s.high", kp);
    LM_CALL(parse_bound(path, fv[F_HIGH], fkp, name, is_int, &high));
    if (low > high)
        LM__CFAIL(path, fv[F_HIGH], fkp, "expected high >= low (%s), got %s", fv[F_LOW]->str,
                  fv[F_HIGH]->str);
    int log = 0;
    if (fv[F_LOG]) {
        snprintf(fkp, sizeof fkp, "%s.log", kp);
        LM_CALL(lm__yn_bool(path, fv[F_LOG], fkp, &log));
        snprintf(fkp, sizeof fkp, "%s.low", kp);
        if (log && low <= 0)
            LM__CFAIL(path, fv[F_LOW], fkp, "log: true needs low > 0, got %s", fv[F_LOW]->str);
    }
    int rc = is_int ? lm_space_add_int(sp, name, (long)low, (long)high, log)
                    : lm_space_add_float(sp, name, low, high, log);
    if (rc < 0) LM__CWRAP(path, spec, kp);
    if (fv[F_GRID]) {
        long long g;
        snprintf(fkp, sizeof fkp, "%s.grid", kp);
        LM_CALL(lm__yn_integer(path, fv[F_GRID], fkp, 1, 10000, &g));
        if (lm_space_set_grid_points(sp, name, (int)g) < 0) LM__CWRAP(path, fv[F_GRID], fkp);
    }
    return LM_OK;
}

static int parse_categorical(const char *path, const char *name, const char *kp,
                             const lm__ynode *spec, const lm__ynode *const *fv,
                             const lm__ynode *const *fk, lm_space *sp) {
    char fkp[160];
    for (int f = F_LOW; f <= F_GRID; f++)
        if (fv[f])
            LM__CFAIL(path, fk[f], kp, "'%s' applies to float and int, not categorical",
                      fields[f]);
    const lm__ynode *vals = fv[F_VALUES];
    if (!vals) LM__CFAIL(path, spec, kp, "required key 'values' missing for type categorical");
    snprintf(fkp, sizeof fkp, "%s.values", kp);
    if (vals->kind != LM__YN_SEQ) {
        char got[128];
        lm__yn_describe(vals, got, sizeof got);
        LM__CFAIL(path, vals, fkp, "expected a list like [a, b, c], got %s", got);
    }
    if (vals->n < 1 || vals->n > LM_HP_CHOICES_MAX)
        LM__CFAIL(path, vals, fkp, "expected 1 to %d values, got %d", LM_HP_CHOICES_MAX, vals->n);
    const char *labels[LM_HP_CHOICES_MAX];
    for (int i = 0; i < vals->n; i++) {
        const lm__ynode *v = vals->kid[i];
        snprintf(fkp, sizeof fkp, "%s.values[%d]", kp, i);
        if (v->kind != LM__YN_SCALAR || lm__yn_is_null(v) || v->len == 0) {
            char got[128];
            lm__yn_describe(v, got, sizeof got);
            LM__CFAIL(path, v, fkp, "expected a value (a number or a label), got %s", got);
        }
        if (v->len >= LABEL_MAX)
            LM__CFAIL(path, v, fkp, "a value is at most %d characters", LABEL_MAX - 1);
        labels[i] = label_of(v);
        for (int j = 0; j < i; j++)
            if (!strcmp(labels[i], labels[j]))
                LM__CFAIL(path, v, fkp, "value '%s' is listed twice", labels[i]);
        double num;
        if (!lm__yn_number_syntax(labels[i], &num)) num = NAN;
        LM_CALL(check_value(path, v, fkp, name, num, labels[i]));
    }
    if (lm_space_add_categorical(sp, name, vals->n, labels) < 0) LM__CWRAP(path, spec, kp);
    return LM_OK;
}

/* when: {parent: value} or {parent: [values]}; parent an earlier space entry. */
static int parse_when(const char *path, const char *name, const char *kp, const lm__ynode *w,
                      const lm__ynode *space_map, lm_space *sp) {
    char wkp[160];
    snprintf(wkp, sizeof wkp, "%s.when", kp);
    if (w->kind != LM__YN_MAP || w->n != 2) {
        char got[128];
        lm__yn_describe(w, got, sizeof got);
        if (w->kind == LM__YN_MAP) snprintf(got, sizeof got, "%d entries", w->n / 2);
        LM__CFAIL(path, w, wkp, "expected one parent and its values, like {schedule: [step]}, "
                  "got %s", got);
    }
    const lm__ynode *pk = w->kid[0], *pv = w->kid[1];
    if (pk->kind != LM__YN_SCALAR) LM__CFAIL(path, pk, wkp, "expected the name of a parameter");
    const char *parent = pk->str;
    int p = lm_space_find(sp, parent);
    if (!strcmp(parent, name)) LM__CFAIL(path, pk, wkp, "'%s' cannot depend on itself", name);
    if (p < 0) {
        for (int i = 0; i < space_map->n; i += 2)
            if (space_map->kid[i]->kind == LM__YN_SCALAR && !strcmp(space_map->kid[i]->str, parent))
                LM__CFAIL(path, pk, wkp, "'%s' must come before '%s' in space: to be its parent",
                          parent, name);
        const char *names[LM_HP_MAX];
        int n = lm_space_size(sp);
        for (int i = 0; i < n; i++) names[i] = lm_space_hp(sp, i)->name;
        const char *near = lm_str_closest(parent, names, n);
        char hint[128] = "";
        if (near) snprintf(hint, sizeof hint, " (did you mean '%s'?)", near);
        LM__CFAIL(path, pk, wkp, "unknown parent '%.80s'%s; when: must name an earlier space entry",
                  parent, hint);
    }
    const lm_hp *ph = lm_space_hp(sp, p);
    if (ph->kind == LM_HP_FLOAT)
        LM__CFAIL(path, pk, wkp, "'%s' is a float; a condition needs an int or categorical parent",
                  parent);
    const lm__ynode *const *items = &pv;
    int n = 1;
    if (pv->kind == LM__YN_SEQ) {
        items = (const lm__ynode *const *)pv->kid;
        n = pv->n;
        if (n < 1 || n > LM_HP_CHOICES_MAX)
            LM__CFAIL(path, pv, wkp, "expected 1 to %d values of '%s', got %d", LM_HP_CHOICES_MAX,
                      parent, n);
    }
    const char *labels[LM_HP_CHOICES_MAX];
    for (int i = 0; i < n; i++) {
        const lm__ynode *v = items[i];
        char vkp[192];
        snprintf(vkp, sizeof vkp, "%s.%s", wkp, parent);
        if (v->kind != LM__YN_SCALAR || lm__yn_is_null(v)) {
            char got[128];
            lm__yn_describe(v, got, sizeof got);
            LM__CFAIL(path, v, vkp, "expected a value of '%s', got %s", parent, got);
        }
        labels[i] = label_of(v);
        if (ph->kind == LM_HP_CATEGORICAL) {
            int found = 0;
            for (int j = 0; j < ph->n_choices; j++) found |= !strcmp(labels[i], ph->choices[j]);
            if (!found) {
                char list[512] = "";
                size_t used = 0;
                for (int j = 0; j < ph->n_choices && used < sizeof list; j++)
                    used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
                                             j ? ", " : "", ph->choices[j]);
                LM__CFAIL(path, v, vkp, "expected one of the values of '%s' (%s), got '%.80s'",
                          parent, list, labels[i]);
            }
        } else {
            double x;
            if (!lm__yn_number_syntax(v->str, &x) || x != floor(x) || x < ph->low ||
                x > ph->high)
                LM__CFAIL(path, v, vkp, "expected an integer in [%.0f, %.0f] (the range of '%s'), "
                          "got '%.80s'", ph->low, ph->high, parent, v->str);
        }
    }
    if (lm_space_set_condition(sp, name, parent, n, labels) < 0) LM__CWRAP(path, w, wkp);
    return LM_OK;
}

static int parse_entry(const char *path, const char *name, const lm__ynode *spec,
                       const lm__ynode *space_map, lm_space *sp) {
    char kp[128];
    snprintf(kp, sizeof kp, "space.%s", name);
    if (spec->kind != LM__YN_MAP) {
        char got[128];
        lm__yn_describe(spec, got, sizeof got);
        LM__CFAIL(path, spec, kp,
                  "expected a mapping like {type: float, low: 0.01, high: 0.1}, got %s", got);
    }
    const lm__ynode *fk[N_FIELDS] = {0}, *fv[N_FIELDS] = {0};
    for (int i = 0; i < spec->n; i += 2) {
        int f = lm__yn_key(path, spec->kid[i], kp, "field", fields, N_FIELDS, fk);
        LM_CALL(f);
        fv[f] = spec->kid[i + 1];
    }
    char tkp[160];
    snprintf(tkp, sizeof tkp, "%s.type", kp);
    if (!fv[F_TYPE])
        LM__CFAIL(path, spec, tkp, "required key missing: expected float, int or categorical");
    const char *type;
    LM_CALL(lm__yn_string(path, fv[F_TYPE], tkp, &type));
    int t = -1;
    for (int i = 0; i < 3; i++)
        if (!strcmp(type, types[i])) t = i;
    if (t < 0) {
        const char *near = lm_str_closest(type, types, 3);
        char hint[64] = "";
        if (near) snprintf(hint, sizeof hint, " (did you mean '%s'?)", near);
        LM__CFAIL(path, fv[F_TYPE], tkp,
                  "unknown type '%.80s'%s; expected float, int or categorical", type, hint);
    }
    param_kind pk = kind_of(name);
    if (pk == P_LABEL && t != 2)
        LM__CFAIL(path, fv[F_TYPE], tkp, "'%s' takes labels: use type: categorical", name);
    if (pk == P_INT && t == 0)
        LM__CFAIL(path, fv[F_TYPE], tkp, "'%s' takes integers: use type: int or categorical",
                  name);
    if (t == 2)
        LM_CALL(parse_categorical(path, name, kp, spec, fv, fk, sp));
    else
        LM_CALL(parse_numeric(path, name, kp, spec, fv, fk, t == 1, sp));
    if (fv[F_WHEN]) LM_CALL(parse_when(path, name, kp, fv[F_WHEN], space_map, sp));
    return LM_OK;
}

int lm__config_space(const char *path, const lm__ynode *map, lm_space *sp, int allow_arch_index) {
    int n;
    const char *const *params = lm_train_params_names(&n);
    const lm__ynode *seen[LM_HP_MAX + 1] = {0};
    const char *names[LM_HP_MAX + 1];
    LM_CHECK(n <= LM_HP_MAX, LM_EINTERNAL, "more training parameters than a space holds");
    for (int j = 0; j < n; j++) names[j] = params[j];
    if (allow_arch_index) names[n++] = "arch_index";
    for (int i = 0; i < map->n; i += 2) {
        const lm__ynode *key = map->kid[i];
        int known = key->kind != LM__YN_SCALAR;
        for (int j = 0; j < n && !known; j++) known = !strcmp(key->str, names[j]);
        if (!known) {
            const char *near = lm_str_closest(key->str, names, n);
            char kp[128], hint[128] = "", list[512] = "";
            snprintf(kp, sizeof kp, "space.%.80s", key->str);
            if (near) snprintf(hint, sizeof hint, " (did you mean '%s'?)", near);
            size_t used = 0;
            for (int j = 0; j < n && used < sizeof list; j++)
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", j ? ", " : "",
                                         names[j]);
            LM__CFAIL(path, key, kp, "unknown training parameter '%.80s'%s; expected one of %s",
                      key->str, hint, list);
        }
        int k = lm__yn_key(path, key, "space", "key", names, n, seen);
        LM_CALL(k);
        LM_CALL(parse_entry(path, names[k], map->kid[i + 1], map, sp));
    }
    return LM_OK;
}
