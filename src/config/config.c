/* Experiment configuration: the sections experiment, data, training, model and
 * search of the schema (space: is in config_space.c), loading files, defaults,
 * applying a point of the space and the dataset path. */
#include "config_internal.h"

#include "lamarck/error.h"
#include "lamarck/strutil.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 128
#define PATH_MAX_LEN 4096

enum {
    S_EXPERIMENT, S_DATA, S_TRAINING, S_MODEL, S_SEARCH, S_SPACE, S_STOPPING,
    S_PREPROCESSING, S_AUGMENTATION, S_REPLAY, N_SECTIONS
};

static const char *const sections[N_SECTIONS] = {
    "experiment", "data",     "training",      "model",       "search",
    "space",      "stopping", "preprocessing", "augmentation", "replay"};
enum { E_NAME, E_SEED, E_OUTPUT, E_OVERWRITE, E_PROGRESS, E_CACHE, E_CKPT, E_KEEP };
static const char *const experiment_keys[] = {"name",           "seed",
                                              "output",         "overwrite",
                                              "progress_interval", "snapshot_cache_mb",
                                              "checkpoint_interval", "checkpoints_keep"};
enum { D_DATASET, D_DIR, D_VALIDATION, D_SUBSET };
static const char *const data_keys[] = {"dataset", "dir", "validation_fraction", "train_subset"};
static const char *const search_keys[] = {"algorithm", "trials"};
enum { R_META, R_DATASET, R_WORKERS };
static const char *const replay_keys[] = {"meta", "dataset", "workers"};

#define COUNT(a) ((int)(sizeof a / sizeof *a))
#define PARAM_KEYS_MAX 64

static const char *const arch_keys[] = {"space", "architecture", "constraints", "mutation"};

static int is_arch_key(const char *name) {
    for (int i = 0; i < COUNT(arch_keys); i++)
        if (!strcmp(name, arch_keys[i])) return 1;
    return 0;
}

static struct {
    const char *const *keys;
    int n;
} section_keys[N_SECTIONS];

/* The sections of training parameters list what the nn module declares, so a new
 * parameter needs no change here; model: calls the "model" parameter "type". */
static const char *param_keys[N_SECTIONS][PARAM_KEYS_MAX];

static void init_sections(void) {
    if (section_keys[S_EXPERIMENT].keys) return;
    section_keys[S_EXPERIMENT].keys = experiment_keys;
    section_keys[S_EXPERIMENT].n = COUNT(experiment_keys);
    section_keys[S_DATA].keys = data_keys;
    section_keys[S_DATA].n = COUNT(data_keys);
    section_keys[S_SEARCH].keys = search_keys;
    section_keys[S_SEARCH].n = COUNT(search_keys);
    section_keys[S_REPLAY].keys = replay_keys;
    section_keys[S_REPLAY].n = COUNT(replay_keys);
    int n;
    const char *const *names = lm_train_params_names(&n);
    for (int sec = 0; sec < N_SECTIONS; sec++) {
        int k = 0;
        for (int i = 0; i < n && k < PARAM_KEYS_MAX; i++) {
            const char *in = lm_train_param_section(names[i]);
            if (!in || strcmp(in, sections[sec]) != 0) continue;
            param_keys[sec][k++] = !strcmp(names[i], "model") ? "type" : names[i];
        }
        /* The architecture space (config_arch.c) lives beside the model's parameters. */
        if (sec == S_MODEL)
            for (int i = 0; i < COUNT(arch_keys) && k < PARAM_KEYS_MAX; i++)
                param_keys[sec][k++] = arch_keys[i];
        if (k) {
            section_keys[sec].keys = param_keys[sec];
            section_keys[sec].n = k;
        }
    }
}

/* The section (other than self) that has key s, or -1: "depth" under training:
 * is a slip worth naming precisely. */
static int section_of(const char *s, int self) {
    for (int i = 0; i < N_SECTIONS; i++)
        for (int j = 0; j < section_keys[i].n && i != self; j++)
            if (!strcmp(s, section_keys[i].keys[j])) return i;
    return -1;
}

/* Key lookup in a section, with the "belongs in" hint before the generic error. */
static int find_key(const char *path, const lm__ynode *k, int sec, const lm__ynode **seen) {
    const char *const *keys = sec < 0 ? sections : section_keys[sec].keys;
    int n = sec < 0 ? N_SECTIONS : section_keys[sec].n;
    const char *prefix = sec < 0 ? NULL : sections[sec];
    if (k->kind == LM__YN_SCALAR) {
        int known = 0;
        for (int i = 0; i < n; i++) known |= !strcmp(k->str, keys[i]);
        int other = known ? -1 : section_of(k->str, sec);
        if (other >= 0) {
            char kp[192];
            snprintf(kp, sizeof kp, "%s%s%.80s", prefix ? prefix : "", prefix ? "." : "", k->str);
            LM__CFAIL(path, k, kp, "unknown %s '%.80s'; it belongs in %s: (%s.%s)",
                      sec < 0 ? "section" : "key", k->str, sections[other], sections[other],
                      k->str);
        }
    }
    return lm__yn_key(path, k, prefix, sec < 0 ? "section" : "key", keys, n, seen);
}

static int set_str(char **dst, const char *s) {
    char *d = lm_strdup(s);
    LM_CHECK_ALLOC(d);
    free(*dst);
    *dst = d;
    return LM_OK;
}

/* A string of at most cap - 1 bytes. */
static int get_string(const char *path, const lm__ynode *v, const char *kp, size_t cap,
                      const char **s) {
    LM_CALL(lm__yn_string(path, v, kp, s));
    if (strlen(*s) >= cap) LM__CFAIL(path, v, kp, "longer than %zu characters", cap - 1);
    return LM_OK;
}

/* Whether a relative or absolute path has a ".." component. */
static int has_dotdot(const char *p) {
    for (const char *s = p; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 2 && s[0] == '.' && s[1] == '.') return 1;
        s += n;
        while (*s == '/') s++;
    }
    return 0;
}

/* Letters, digits, '_', '-' and '.', not first: safe as one directory name. */
static int name_ok(const char *s) {
    if (s[0] == '.') return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.'))
            return 0;
    return 1;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && !strcmp(s + n - m, suffix);
}

static int parse_seed(const char *path, const lm__ynode *v, const char *kp, uint64_t *seed) {
    /* Seeds use the full 64 bits, beyond what a double holds exactly. */
    int ok = v->kind == LM__YN_SCALAR && v->plain && v->len > 0 && v->len <= 20;
    for (size_t i = 0; ok && i < v->len; i++) ok = v->str[i] >= '0' && v->str[i] <= '9';
    if (ok) {
        errno = 0;
        unsigned long long x = strtoull(v->str, NULL, 10);
        if (errno == 0) {
            *seed = (uint64_t)x;
            return LM_OK;
        }
    }
    char got[128];
    lm__yn_describe(v, got, sizeof got);
    LM__CFAIL(path, v, kp, "expected an integer in [0, 18446744073709551615], got %s", got);
}

/* ---- sections ---- */

static int parse_experiment(const char *path, const lm__ynode *m, lm_config *c) {
    const lm__ynode *seen[COUNT(experiment_keys)] = {0};
    for (int i = 0; m && i < m->n; i += 2) {
        const lm__ynode *k = m->kid[i], *v = m->kid[i + 1];
        int key = find_key(path, k, S_EXPERIMENT, seen);
        LM_CALL(key);
        char kp[64];
        snprintf(kp, sizeof kp, "experiment.%s", experiment_keys[key]);
        const char *s;
        double x;
        switch (key) {
        case E_NAME: /* becomes a directory name, so keep it to a safe alphabet */
            LM_CALL(get_string(path, v, kp, NAME_MAX_LEN + 1, &s));
            if (!name_ok(s))
                LM__CFAIL(path, v, kp,
                          "expected letters, digits, '_', '-' or '.' (not first), got '%s'", s);
            LM_CALL(set_str(&c->name, s));
            break;
        case E_SEED:
            LM_CALL(parse_seed(path, v, kp, &c->seed));
            break;
        case E_OUTPUT:
            LM_CALL(get_string(path, v, kp, PATH_MAX_LEN, &s));
            if (has_dotdot(s))
                LM__CFAIL(path, v, kp, "expected a path without '..' components, got '%s'", s);
            LM_CALL(set_str(&c->output, s));
            break;
        case E_OVERWRITE:
            LM_CALL(lm__yn_bool(path, v, kp, &c->overwrite));
            break;
        case E_CKPT:
            LM_CALL(lm__yn_number(path, v, kp, &x));
            if (!(x >= 0 && x <= 1e7))
                LM__CFAIL(path, v, kp, "expected seconds in [0, 1e7] (0: only at the end and "
                                       "on signals), got %s", v->str);
            c->checkpoint_interval = x;
            break;
        case E_KEEP: {
            long long keep;
            LM_CALL(lm__yn_integer(path, v, kp, 1, 100, &keep));
            c->checkpoints_keep = (int)keep;
            break;
        }
        case E_CACHE: {
            long long mb;
            LM_CALL(lm__yn_integer(path, v, kp, 0, 1 << 20, &mb));
            c->snapshot_cache_mb = (int)mb;
            break;
        }
        default: /* E_PROGRESS */
            LM_CALL(lm__yn_number(path, v, kp, &x));
            if (!(x > 0 && x <= 1e6))
                LM__CFAIL(path, v, kp, "expected seconds in (0, 1e6], got %s", v->str);
            c->progress_interval = x;
            break;
        }
    }
    return LM_OK;
}

static int parse_data(const char *path, const lm__ynode *m, lm_config *c) {
    const lm__ynode *seen[COUNT(data_keys)] = {0};
    for (int i = 0; m && i < m->n; i += 2) {
        const lm__ynode *k = m->kid[i], *v = m->kid[i + 1];
        int key = find_key(path, k, S_DATA, seen);
        LM_CALL(key);
        char kp[64];
        snprintf(kp, sizeof kp, "data.%s", data_keys[key]);
        const char *s;
        double x;
        long long n;
        switch (key) {
        case D_DATASET:
            LM_CALL(get_string(path, v, kp, PATH_MAX_LEN, &s));
            /* A name becomes "<dir>/<name>.h5": it may not climb out of dir. A path
             * to a .h5 file is the user's own choice of input. */
            if (!ends_with(s, ".h5") && has_dotdot(s))
                LM__CFAIL(path, v, kp, "expected a dataset name or .h5 path without '..', got '%s'",
                          s);
            LM_CALL(set_str(&c->dataset, s));
            break;
        case D_DIR:
            LM_CALL(get_string(path, v, kp, PATH_MAX_LEN, &s));
            LM_CALL(set_str(&c->data_dir, s));
            break;
        case D_VALIDATION:
            LM_CALL(lm__yn_number(path, v, kp, &x));
            if (!(x > 0 && x <= 0.9))
                LM__CFAIL(path, v, kp, "expected a fraction in (0, 0.9], got %s", v->str);
            c->validation_fraction = x;
            break;
        default: /* D_SUBSET */
            LM_CALL(lm__yn_integer(path, v, kp, 0, 9007199254740992.0, &n));
            c->train_subset = n;
            break;
        }
    }
    return LM_OK;
}

int lm__config_set_param(lm_train_params *p, const char *name, double num, const char *label) {
    /* Labels that read as numbers ("64", "1e-3") set numeric parameters; the others
     * ("cosine", "true") are passed as labels. */
    double x;
    if (label && lm__yn_number_syntax(label, &x)) return lm_train_params_set(p, name, x, NULL);
    return lm_train_params_set(p, name, label ? NAN : num, label);
}

/* A training or model key through lm_train_params_set, whose range message gets
 * the position and key path in front. */
static int set_param(const char *path, const lm__ynode *v, const char *key, const char *kp,
                     lm_train_params *p) {
    if (v->kind != LM__YN_SCALAR || lm__yn_is_null(v)) {
        char got[128];
        lm__yn_describe(v, got, sizeof got);
        LM__CFAIL(path, v, kp, "expected a number, a word or true/false, got %s", got);
    }
    double x = NAN;
    const char *label = NULL;
    int b;
    if (lm__yn_bool_word(v, &b)) {
        label = b ? "true" : "false";
    } else if (!v->plain && lm__yn_number_syntax(v->str, &x)) {
        /* Quoted "0.1" is a string: say so rather than accept it or puzzle the user. */
        char got[128];
        lm__yn_describe(v, got, sizeof got);
        LM__CFAIL(path, v, kp, "expected a number, got %s", got);
    } else if (!v->plain || !lm__yn_number_syntax(v->str, &x)) {
        char *end;
        double y = strtod(v->str, &end);
        if (v->plain && end != v->str && !*end && !isfinite(y))
            LM__CFAIL(path, v, kp, "expected a finite number, got '%s'", v->str);
        label = v->str;
        x = NAN;
    }
    if (lm_train_params_set(p, key, x, label) < 0) LM__CWRAP(path, v, kp);
    return LM_OK;
}

static int parse_params(const char *path, const lm__ynode *m, int sec, lm_config *c) {
    const lm__ynode *seen[PARAM_KEYS_MAX] = {0};
    for (int i = 0; m && i < m->n; i += 2) {
        const lm__ynode *k = m->kid[i], *v = m->kid[i + 1];
        int key = find_key(path, k, sec, seen);
        LM_CALL(key);
        const char *name = section_keys[sec].keys[key];
        char kp[64];
        snprintf(kp, sizeof kp, "%s.%s", sections[sec], name);
        if (sec == S_MODEL && !strcmp(name, "type")) {
            const char *s;
            LM_CALL(lm__yn_string(path, v, kp, &s));
            LM_CALL(set_param(path, v, "model", kp, &c->train));
            LM_CALL(set_str(&c->model_type, s));
            continue;
        }
        if (sec == S_MODEL && is_arch_key(name)) continue; /* after the space: section */
        LM_CALL(set_param(path, v, name, kp, &c->train));
    }
    return LM_OK;
}

/* replay: {meta, dataset, workers}: the replay transport (lm_exec_replay) trains
 * nothing; it plays recorded learning curves back to the searcher. */
static int parse_replay(const char *path, const lm__ynode *m, lm_config *c) {
    const lm__ynode *seen[COUNT(replay_keys)] = {0};
    for (int i = 0; m && i < m->n; i += 2) {
        const lm__ynode *k = m->kid[i], *v = m->kid[i + 1];
        int key = find_key(path, k, S_REPLAY, seen);
        LM_CALL(key);
        char kp[64];
        snprintf(kp, sizeof kp, "replay.%s", replay_keys[key]);
        const char *s;
        long long n;
        switch (key) {
        case R_META:
            LM_CALL(get_string(path, v, kp, PATH_MAX_LEN, &s));
            LM_CALL(set_str(&c->replay_meta, s));
            break;
        case R_DATASET:
            LM_CALL(get_string(path, v, kp, NAME_MAX_LEN, &s));
            LM_CALL(set_str(&c->replay_dataset, s));
            break;
        default:
            LM_CALL(lm__yn_integer(path, v, kp, 1, 1 << 20, &n));
            c->replay_workers = (int)n;
            break;
        }
    }
    if (!c->replay_meta || !c->replay_dataset) {
        const lm__ynode *at = m ? m : NULL;
        if (!at) return lm__config_error(__func__, __LINE__, path, 1, 1, "replay",
                                         "expected {meta: FILE, dataset: NAME, workers: N}");
        LM__CFAIL(path, at, "replay", "required key '%s' missing: expected {meta: FILE, dataset: "
                  "NAME, workers: N}", c->replay_meta ? "dataset" : "meta");
    }
    return LM_OK;
}

struct search_ctx {
    const char *path;
    lm_config *c;
    int *have_trials;
};

static int search_fixed(void *ctx, int key, const lm__ynode *v) {
    struct search_ctx *x = ctx;
    if (key == 0) return LM_OK; /* algorithm: read before the options */
    long long n;
    LM_CALL(lm__yn_integer(x->path, v, "search.trials", 0, 1e9, &n));
    x->c->trials = (int)n;
    *x->have_trials = 1;
    return LM_OK;
}

/* search: {algorithm, trials, and the algorithm's own options}. */
static int parse_search(const char *path, const lm__ynode *m, lm_config *c, int *have_trials) {
    const lm__ynode *v = lm__config_lookup(m, "algorithm");
    if (v) {
        const char *s;
        LM_CALL(lm__yn_string(path, v, "search.algorithm", &s));
        int n;
        const char *const *names = lm_searcher_names(&n);
        LM_CALL(lm__config_choice(path, v, "search.algorithm", "algorithm", s, names, n));
        LM_CALL(set_str(&c->algorithm, s));
    }
    struct search_ctx x = {path, c, have_trials};
    return lm__config_options(path, m, "search", search_keys, COUNT(search_keys),
                              lm_searcher_options(c->algorithm), &c->search_options,
                              search_fixed, &x);
}

struct stopping_ctx {
    const char *path;
    lm_config *c;
};

static int stopping_fixed(void *ctx, int key, const lm__ynode *v) {
    if (key == 0) return LM_OK; /* rule: read before the options */
    struct stopping_ctx *x = ctx;
    const char *s;
    LM_CALL(get_string(x->path, v, "stopping.model", PATH_MAX_LEN, &s));
    return set_str(&x->c->stopping_model, s);
}

/* stopping: {rule, and the rule's own options}. */
static int parse_stopping(const char *path, const lm__ynode *m, lm_config *c) {
    const lm__ynode *v = lm__config_lookup(m, "rule");
    if (v) {
        const char *s;
        LM_CALL(lm__yn_string(path, v, "stopping.rule", &s));
        int n;
        const char *const *names = lm_stopper_names(&n);
        LM_CALL(lm__config_choice(path, v, "stopping.rule", "stopping rule", s, names, n));
        LM_CALL(set_str(&c->stopping, s));
    }
    /* model: a file the rule reads (the ranking model of rule rank). */
    static const char *const fixed[] = {"rule", "model"};
    struct stopping_ctx x = {path, c};
    return lm__config_options(path, m, "stopping", fixed, 2, lm_stopper_options(c->stopping),
                              &c->stopping_options, stopping_fixed, &x);
}

/* ---- the document ---- */

static int set_defaults(lm_config *c) {
    LM_CALL(set_str(&c->name, "experiment"));
    LM_CALL(set_str(&c->model_type, "mlp"));
    LM_CALL(set_str(&c->algorithm, "random"));
    LM_CALL(set_str(&c->stopping, "none"));
    const char *env = getenv("LAMARCK_DATA");
    LM_CALL(set_str(&c->data_dir, env && *env ? env : "data"));
    c->progress_interval = 10;
    c->snapshot_cache_mb = 1024;
    c->checkpoint_interval = 300;
    c->checkpoints_keep = 2;
    c->validation_fraction = 0.1;
    c->trials = 10;
    c->replay_workers = 64;
    lm_train_params_default(&c->train);
    LM_CALL(lm_space_create(&c->space));
    return LM_OK;
}

static int parse_root(const char *path, const lm__ynode *root, lm_config *c) {
    init_sections();
    if (!root || lm__yn_is_null(root))
        return lm__config_error(__func__, __LINE__, path, root ? root->line : 1,
                                root ? root->col : 1, NULL,
                                "empty configuration: expected a mapping of sections with at "
                                "least data: {dataset: NAME}");
    if (root->kind != LM__YN_MAP) {
        char got[128];
        lm__yn_describe(root, got, sizeof got);
        LM__CFAIL(path, root, NULL,
                  "expected a mapping of sections (experiment, data, training, model, "
                  "preprocessing, augmentation, search, stopping, space), got %s",
                  got);
    }
    const lm__ynode *seen[N_SECTIONS] = {0}, *model = NULL;
    int have_trials = 0;
    /* A replay's space names recorded architectures (arch_index), whichever section
     * comes first. */
    int replay = lm__config_lookup(root, "replay") != NULL;
    for (int i = 0; i < root->n; i += 2) {
        const lm__ynode *k = root->kid[i], *v = root->kid[i + 1], *m;
        int sec = find_key(path, k, -1, seen);
        LM_CALL(sec);
        LM_CALL(lm__yn_map(path, v, sections[sec], &m));
        switch (sec) {
        case S_EXPERIMENT: LM_CALL(parse_experiment(path, m, c)); break;
        case S_DATA: LM_CALL(parse_data(path, m, c)); break;
        case S_MODEL:
            model = m;
            LM_CALL(parse_params(path, m, sec, c));
            break;
        case S_TRAINING:
        case S_PREPROCESSING:
        case S_AUGMENTATION: LM_CALL(parse_params(path, m, sec, c)); break;
        case S_SEARCH: LM_CALL(parse_search(path, m, c, &have_trials)); break;
        case S_STOPPING: LM_CALL(parse_stopping(path, m, c)); break;
        case S_REPLAY: LM_CALL(parse_replay(path, m, c)); break;
        default:
            if (m) LM_CALL(lm__config_space(path, m, c->space, replay));
            break;
        }
    }
    if (model) LM_CALL(lm__config_arch(path, model, c));
    if (!c->dataset && c->replay_dataset) LM_CALL(set_str(&c->dataset, c->replay_dataset));
    if (!c->dataset) {
        const lm__ynode *at = seen[S_DATA] ? seen[S_DATA] : root;
        LM__CFAIL(path, at, "data.dataset",
                  "required key missing: expected the dataset to train on, e.g. "
                  "data: {dataset: fashion-mnist}");
    }
    /* A grid without a cap runs every point; Hyperband without one runs one pass of
     * its brackets. */
    if (!have_trials && (!strcmp(c->algorithm, "grid") || !strcmp(c->algorithm, "hyperband") ||
                         !strcmp(c->algorithm, "sha") || !strcmp(c->algorithm, "bohb")))
        c->trials = 0;
    if (!c->output) {
        size_t n = strlen(c->name) + sizeof "runs/";
        c->output = malloc(n);
        LM_CHECK_ALLOC(c->output);
        snprintf(c->output, n, "runs/%s", c->name);
    }
    LM_CALL(lm_train_params_check(&c->train));
    /* What a searcher refuses when it is made is an error of this file.
     * Options that conflict with each other or with the space (inheritance outside a
     * chain or mlp space, say) are reported at the search section, not when the run
     * starts. */
    if (seen[S_SEARCH]) {
        lm_search_params sp = {.space = c->space, .seed = c->seed, .max_trials = c->trials,
                               .epochs = c->train.epochs, .options = c->search_options};
        lm_searcher *s = NULL;
        int rc = lm_searcher_create(c->algorithm, &sp, &s);
        lm_searcher_destroy(&s);
        if (rc == LM_ECONFIG) LM__CWRAP(path, seen[S_SEARCH], "search");
        LM_CALL(rc);
    }
    return LM_OK;
}

int lm_config_parse(const char *text, size_t len, const char *path, lm_config **out) {
    *out = NULL;
    if (!path) path = "<string>";
    LM_CHECK(text || len == 0, LM_EINVAL, "%s: no config text", path);
    LM_CHECK(len <= LM_CONFIG_MAX_BYTES, LM_ECONFIG,
             "%s: config is %zu bytes; the limit is %d bytes", path, len, LM_CONFIG_MAX_BYTES);
    lm_config *c = calloc(1, sizeof *c);
    LM_CHECK_ALLOC(c);
    int rc = LM_ENOMEM;
    lm__ynode *root = NULL;
    c->path = lm_strdup(path);
    c->text = malloc(len + 1);
    if (!c->path || !c->text) {
        lm_config_destroy(&c);
        LM_FAIL(LM_ENOMEM, "out of memory");
    }
    memcpy(c->text, text, len);
    c->text[len] = 0;
    c->text_len = len;
    LM_CALL_GOTO(rc, set_defaults(c), fail);
    LM_CALL_GOTO(rc, lm__yaml_load(text, len, path, &root), fail);
    LM_CALL_GOTO(rc, parse_root(path, root, c), fail);
    lm__yaml_free(root);
    *out = c;
    return LM_OK;
fail:
    lm__yaml_free(root);
    lm_config_destroy(&c);
    return rc;
}

int lm__config_read(const char *path, char **text, size_t *len) {
    *text = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    LM_CHECK(f, LM_ENOENT, "%s: cannot open: %s", path, strerror(errno));
    /* Read at most one byte past the limit: that is enough to refuse, whatever the
     * file is (a pipe has no size to check beforehand). */
    size_t cap = LM_CONFIG_MAX_BYTES + 1;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        LM_FAIL(LM_ENOMEM, "out of memory");
    }
    size_t n = fread(buf, 1, cap, f);
    int err = ferror(f) ? (errno ? errno : EIO) : 0;
    fclose(f);
    if (err) {
        free(buf);
        LM_FAIL(LM_ENOENT, "%s: cannot read: %s", path, strerror(err));
    }
    if (n > LM_CONFIG_MAX_BYTES) {
        free(buf);
        LM_FAIL(LM_ECONFIG, "%s: config is larger than the limit of %d bytes", path,
                LM_CONFIG_MAX_BYTES);
    }
    *text = buf;
    *len = n;
    return LM_OK;
}

int lm_config_load(const char *path, lm_config **out) {
    *out = NULL;
    char *buf;
    size_t len;
    LM_CALL(lm__config_read(path, &buf, &len));
    int rc = lm_config_parse(buf, len, path, out);
    free(buf);
    return rc < 0 ? lm_error_trace(__FILE__, __LINE__, __func__, rc) : LM_OK;
}

void lm_config_destroy(lm_config **cp) {
    if (!cp || !*cp) return;
    lm_config *c = *cp;
    free(c->path);
    free(c->text);
    free(c->name);
    free(c->output);
    free(c->dataset);
    free(c->data_dir);
    free(c->model_type);
    free(c->replay_meta);
    free(c->stopping_model);
    free(c->replay_dataset);
    free(c->algorithm);
    free(c->stopping);
    lm_space_destroy(&c->space);
    free(c);
    *cp = NULL;
}

/* ---- using a config ---- */

int lm_config_apply(const lm_config *c, const double *x, lm_train_params *out) {
    lm_train_params p = c->train;
    const lm_space *sp = c->space;
    int first, n_arch;
    lm_space_arch(sp, &first, &n_arch);
    for (int i = 0; i < lm_space_size(sp); i++) {
        if (!lm_space_active(sp, x, i)) continue;
        if (i >= first && i < first + n_arch) continue; /* the architecture: not a parameter */
        if (!strcmp(lm_space_hp(sp, i)->name, "arch_index")) continue; /* replay's */
        const lm_hp *h = lm_space_hp(sp, i);
        LM_CHECK(!isnan(x[i]), LM_EINVAL, "'%s' is active but has no value", h->name);
        if (h->kind != LM_HP_CATEGORICAL) {
            LM_CALL(lm_train_params_set(&p, h->name, x[i], NULL));
            continue;
        }
        LM_CHECK(x[i] >= 0 && x[i] < h->n_choices && x[i] == floor(x[i]), LM_EINVAL,
                 "'%s': choice index %g is not in [0, %d)", h->name, x[i], h->n_choices);
        LM_CALL(lm__config_set_param(&p, h->name, NAN, h->choices[(int)x[i]]));
    }
    LM_CALL(lm_train_params_check(&p));
    *out = p;
    return LM_OK;
}

int lm_config_dataset_path(const lm_config *c, char *buf, size_t cap) {
    int w;
    if (ends_with(c->dataset, ".h5"))
        w = snprintf(buf, cap, "%s", c->dataset);
    else
        w = snprintf(buf, cap, "%s/%s.h5", c->data_dir, c->dataset);
    LM_CHECK(w >= 0 && (size_t)w < cap, LM_ERANGE,
             "dataset path for '%s' does not fit in %zu bytes", c->dataset, cap);
    return LM_OK;
}
