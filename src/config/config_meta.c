/* Metadata configs: the `metadata:` section of `lamarck metadata generate` (output,
 * seed, K architectures, E epochs, the datasets) beside the experiment config's model,
 * training, preprocessing and augmentation sections, which keep their meaning. The
 * architecture space goes through lm__config_arch, the code path of model.space in
 * experiment configs, so the two cannot drift apart. */
#include "config_internal.h"

#include "lamarck/error.h"
#include "lamarck/meta.h"
#include "lamarck/strutil.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a) ((int)(sizeof a / sizeof *a))
#define PATH_MAX_LEN 4096
#define PARAM_KEYS_MAX 64

enum { S_METADATA, S_MODEL, S_TRAINING, S_PREPROCESSING, S_AUGMENTATION, N_SECTIONS };
static const char *const sections[N_SECTIONS] = {"metadata", "model", "training",
                                                 "preprocessing", "augmentation"};

enum { M_OUTPUT, M_SEED, M_ARCHS, M_EPOCHS, M_DATASETS, M_DIR, M_PROGRESS };
static const char *const meta_keys[] = {"output", "seed", "architectures", "epochs",
                                        "datasets", "dir", "progress_interval"};

enum { DS_DATASET, DS_VALIDATION, DS_TRAIN_SUBSET, DS_TEST_SUBSET };
static const char *const dataset_keys[] = {"dataset", "validation_fraction", "train_subset",
                                           "test_subset"};

static const char *const arch_keys[] = {"space", "architecture", "constraints", "mutation"};

/* Sections of an experiment config that have no place here, and where their content goes. */
static const struct {
    const char *section, *hint;
} elsewhere[] = {
    {"data", "list the datasets under metadata.datasets"},
    {"experiment", "seed and output are keys of metadata:"},
    {"search", "architectures are drawn at random: set metadata.architectures"},
    {"space", "the recipe is fixed; only model.space varies"},
    {"stopping", "every pair is trained for metadata.epochs"},
};

static int set_str(char **dst, const char *s) {
    char *d = lm_strdup(s);
    LM_CHECK_ALLOC(d);
    free(*dst);
    *dst = d;
    return LM_OK;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && !strcmp(s + n - m, suffix);
}

/* Whether a path has a ".." component. */
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

/* A string of at most cap - 1 bytes. */
static int get_string(const char *path, const lm__ynode *v, const char *kp, size_t cap,
                      const char **s) {
    LM_CALL(lm__yn_string(path, v, kp, s));
    if (strlen(*s) >= cap) LM__CFAIL(path, v, kp, "longer than %zu characters", cap - 1);
    return LM_OK;
}

static int parse_seed(const char *path, const lm__ynode *v, const char *kp, uint64_t *seed) {
    /* The full 64 bits, beyond what a double holds exactly. */
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

/* ---- metadata.datasets ---- */

/* The name a dataset is recorded under: a name as written; for a path, the file's base
 * name without ".h5". */
static int record_name(const char *path, const lm__ynode *v, const char *kp, const char *ds,
                       char **out) {
    const char *base = ds;
    size_t n = strlen(ds);
    if (ends_with(ds, ".h5")) {
        const char *slash = strrchr(ds, '/');
        base = slash ? slash + 1 : ds;
        n = strlen(base) - 3;
    }
    if (n == 0 || n > LM_META_NAME_MAX)
        LM__CFAIL(path, v, kp, "expected a dataset name of 1 to %d bytes, got '%.80s'",
                  LM_META_NAME_MAX, ds);
    *out = malloc(n + 1);
    LM_CHECK_ALLOC(*out);
    memcpy(*out, base, n);
    (*out)[n] = 0;
    return LM_OK;
}

static int parse_dataset(const char *path, const lm__ynode *item, int idx,
                         lm_meta_dataset_spec *d) {
    char sec[64];
    snprintf(sec, sizeof sec, "metadata.datasets[%d]", idx);
    d->validation_fraction = 0.1;
    if (item->kind == LM__YN_SCALAR && !lm__yn_is_null(item))
        LM__CFAIL(path, item, sec, "expected a mapping such as {dataset: %.60s}", item->str);
    const lm__ynode *m;
    LM_CALL(lm__yn_map(path, item, sec, &m));
    const lm__ynode *seen[COUNT(dataset_keys)] = {0};
    for (int i = 0; m && i < m->n; i += 2) {
        const lm__ynode *k = m->kid[i], *v = m->kid[i + 1];
        int key = lm__yn_key(path, k, sec, "key", dataset_keys, COUNT(dataset_keys), seen);
        LM_CALL(key);
        char kp[96];
        snprintf(kp, sizeof kp, "%s.%s", sec, dataset_keys[key]);
        const char *s;
        double x;
        long long n;
        switch (key) {
        case DS_DATASET:
            LM_CALL(get_string(path, v, kp, PATH_MAX_LEN, &s));
            /* A name becomes "<dir>/<name>.h5": it may not climb out of dir. */
            if (!ends_with(s, ".h5") && (has_dotdot(s) || strchr(s, '/')))
                LM__CFAIL(path, v, kp,
                          "expected a dataset name (no '/') or a path ending in .h5, got '%s'", s);
            LM_CALL(set_str(&d->dataset, s));
            LM_CALL(record_name(path, v, kp, s, &d->name));
            break;
        case DS_VALIDATION:
            LM_CALL(lm__yn_number(path, v, kp, &x));
            if (!(x > 0 && x <= 0.9))
                LM__CFAIL(path, v, kp, "expected a fraction in (0, 0.9], got %s", v->str);
            d->validation_fraction = x;
            break;
        case DS_TRAIN_SUBSET:
            LM_CALL(lm__yn_integer(path, v, kp, 0, 9007199254740992.0, &n));
            d->train_subset = n;
            break;
        default: /* DS_TEST_SUBSET */
            LM_CALL(lm__yn_integer(path, v, kp, 0, 9007199254740992.0, &n));
            d->test_subset = n;
            break;
        }
    }
    if (!d->dataset)
        LM__CFAIL(path, m ? m : item, sec,
                  "required key 'dataset' missing: expected e.g. {dataset: digits}");
    return LM_OK;
}

static int parse_datasets(const char *path, const lm__ynode *v, lm_meta_config *c) {
    const char *kp = "metadata.datasets";
    if (v->kind != LM__YN_SEQ || v->n == 0) {
        char got[128];
        lm__yn_describe(v, got, sizeof got);
        LM__CFAIL(path, v, kp, "expected a list of 1 to %d datasets ({dataset: NAME}), got %s",
                  LM_META_CONFIG_DATASETS_MAX, got);
    }
    if (v->n > LM_META_CONFIG_DATASETS_MAX)
        LM__CFAIL(path, v, kp, "%d datasets; at most %d are allowed", v->n,
                  LM_META_CONFIG_DATASETS_MAX);
    c->datasets = calloc((size_t)v->n, sizeof *c->datasets);
    LM_CHECK_ALLOC(c->datasets);
    for (int i = 0; i < v->n; i++) {
        c->n_datasets = i + 1;
        LM_CALL(parse_dataset(path, v->kid[i], i, &c->datasets[i]));
        for (int j = 0; j < i; j++)
            if (!strcmp(c->datasets[j].name, c->datasets[i].name)) {
                char ikp[64];
                snprintf(ikp, sizeof ikp, "metadata.datasets[%d].dataset", i);
                LM__CFAIL(path, v->kid[i], ikp,
                          "dataset '%s' is listed twice (also metadata.datasets[%d])",
                          c->datasets[i].name, j);
            }
    }
    return LM_OK;
}

/* ---- metadata: ---- */

static int parse_metadata(const char *path, const lm__ynode *root_key, const lm__ynode *m,
                          lm_meta_config *c) {
    const lm__ynode *seen[COUNT(meta_keys)] = {0};
    for (int i = 0; m && i < m->n; i += 2) {
        const lm__ynode *k = m->kid[i], *v = m->kid[i + 1];
        int key = lm__yn_key(path, k, "metadata", "key", meta_keys, COUNT(meta_keys), seen);
        LM_CALL(key);
        char kp[64];
        snprintf(kp, sizeof kp, "metadata.%s", meta_keys[key]);
        const char *s;
        long long n;
        double x;
        switch (key) {
        case M_OUTPUT:
            LM_CALL(get_string(path, v, kp, PATH_MAX_LEN, &s));
            if (has_dotdot(s) || !ends_with(s, ".h5"))
                LM__CFAIL(path, v, kp, "expected a path ending in .h5 without '..', got '%s'", s);
            LM_CALL(set_str(&c->output, s));
            break;
        case M_SEED: LM_CALL(parse_seed(path, v, kp, &c->seed)); break;
        case M_ARCHS:
            LM_CALL(lm__yn_integer(path, v, kp, 1, LM_META_ARCHS_MAX, &n));
            c->architectures = (int)n;
            break;
        case M_EPOCHS:
            LM_CALL(lm__yn_integer(path, v, kp, 1, LM_META_EPOCHS_MAX, &n));
            c->epochs = (int)n;
            break;
        case M_DATASETS: LM_CALL(parse_datasets(path, v, c)); break;
        case M_DIR:
            LM_CALL(get_string(path, v, kp, PATH_MAX_LEN, &s));
            LM_CALL(set_str(&c->base->data_dir, s));
            break;
        default: /* M_PROGRESS */
            LM_CALL(lm__yn_number(path, v, kp, &x));
            if (!(x > 0 && x <= 1e6))
                LM__CFAIL(path, v, kp, "expected seconds in (0, 1e6], got %s", v->str);
            c->progress_interval = x;
            break;
        }
    }
    /* The required keys, reported at the section's key. */
    const lm__ynode *at = root_key;
    static const int required[] = {M_OUTPUT, M_ARCHS, M_EPOCHS, M_DATASETS};
    static const char *const example[] = {"output: meta/mlp.h5", "architectures: 100",
                                          "epochs: 20", "datasets: [{dataset: digits}]"};
    for (int i = 0; i < COUNT(required); i++)
        if (!seen[required[i]]) {
            char kp[64];
            snprintf(kp, sizeof kp, "metadata.%s", meta_keys[required[i]]);
            LM__CFAIL(path, at, kp, "required key missing: expected e.g. %s", example[i]);
        }
    c->base->seed = c->seed;
    return LM_OK;
}

/* ---- model, training, preprocessing, augmentation ---- */

static int is_arch_key(const char *name) {
    for (int i = 0; i < COUNT(arch_keys); i++)
        if (!strcmp(name, arch_keys[i])) return 1;
    return 0;
}

/* The keys of a recipe section: the training parameters the nn module puts there (the
 * "model" parameter is called "type"), and the architecture keys under model:. */
static int section_keys(int sec, const char **keys) {
    int n, k = 0;
    const char *const *names = lm_train_params_names(&n);
    for (int i = 0; i < n && k < PARAM_KEYS_MAX; i++) {
        const char *in = lm_train_param_section(names[i]);
        if (in && !strcmp(in, sections[sec]))
            keys[k++] = !strcmp(names[i], "model") ? "type" : names[i];
    }
    if (sec == S_MODEL)
        for (int i = 0; i < COUNT(arch_keys) && k < PARAM_KEYS_MAX; i++) keys[k++] = arch_keys[i];
    return k;
}

/* One parameter through lm_train_params_set, as experiment configs read it: booleans
 * as true/false, plain numbers as numbers, words as labels; a quoted number is refused. */
static int set_param(const char *path, const lm__ynode *v, const char *name, const char *kp,
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
        char got[128];
        lm__yn_describe(v, got, sizeof got);
        LM__CFAIL(path, v, kp, "expected a number, got %s", got);
    } else if (!v->plain || !lm__yn_number_syntax(v->str, &x)) {
        label = v->str;
        x = NAN;
    }
    if (lm_train_params_set(p, name, x, label) < 0) LM__CWRAP(path, v, kp);
    return LM_OK;
}

static int parse_recipe(const char *path, const lm__ynode *m, int sec, lm_config *b) {
    const char *keys[PARAM_KEYS_MAX];
    int nk = section_keys(sec, keys);
    const lm__ynode *seen[PARAM_KEYS_MAX] = {0};
    for (int i = 0; m && i < m->n; i += 2) {
        const lm__ynode *k = m->kid[i], *v = m->kid[i + 1];
        if (sec == S_TRAINING && k->kind == LM__YN_SCALAR && !strcmp(k->str, "epochs"))
            LM__CFAIL(path, k, "training.epochs",
                      "every pair trains metadata.epochs epochs: set it there");
        int key = lm__yn_key(path, k, sections[sec], "key", keys, nk, seen);
        LM_CALL(key);
        const char *name = keys[key];
        char kp[96];
        snprintf(kp, sizeof kp, "%s.%s", sections[sec], name);
        if (sec == S_MODEL && is_arch_key(name)) continue; /* lm__config_arch, later */
        if (sec == S_MODEL && !strcmp(name, "type")) {
            const char *s;
            LM_CALL(lm__yn_string(path, v, kp, &s));
            LM_CALL(set_param(path, v, "model", kp, &b->train));
            LM_CALL(set_str(&b->model_type, s));
            continue;
        }
        LM_CALL(set_param(path, v, name, kp, &b->train));
    }
    return LM_OK;
}

/* ---- the document ---- */

static int make_base(const char *path, const char *text, size_t len, lm_config **out) {
    lm_config *b = calloc(1, sizeof *b);
    LM_CHECK_ALLOC(b);
    *out = b;
    b->path = lm_strdup(path);
    b->text = malloc(len + 1);
    LM_CHECK_ALLOC(b->path);
    LM_CHECK_ALLOC(b->text);
    memcpy(b->text, text, len);
    b->text[len] = 0;
    b->text_len = len;
    const char *env = getenv("LAMARCK_DATA");
    LM_CALL(set_str(&b->data_dir, env && *env ? env : "data"));
    LM_CALL(set_str(&b->name, "metadata"));
    LM_CALL(set_str(&b->model_type, "mlp"));
    LM_CALL(set_str(&b->algorithm, "random"));
    LM_CALL(set_str(&b->stopping, "none"));
    b->validation_fraction = 0.1;
    b->progress_interval = 10;
    b->trials = 1;
    lm_train_params_default(&b->train);
    LM_CALL(lm_space_create(&b->space));
    return LM_OK;
}

static int parse_root(const char *path, const lm__ynode *root, lm_meta_config *c) {
    if (!root || lm__yn_is_null(root))
        return lm__config_error(__func__, __LINE__, path, root ? root->line : 1,
                                root ? root->col : 1, NULL,
                                "empty configuration: expected metadata: {output, architectures, "
                                "epochs, datasets} and model: {space: ...}");
    if (root->kind != LM__YN_MAP) {
        char got[128];
        lm__yn_describe(root, got, sizeof got);
        LM__CFAIL(path, root, NULL,
                  "expected a mapping of sections (metadata, model, training, preprocessing, "
                  "augmentation), got %s", got);
    }
    const lm__ynode *seen[N_SECTIONS] = {0}, *model = NULL;
    for (int i = 0; i < root->n; i += 2) {
        const lm__ynode *k = root->kid[i], *v = root->kid[i + 1], *m;
        for (int j = 0; k->kind == LM__YN_SCALAR && j < COUNT(elsewhere); j++)
            if (!strcmp(k->str, elsewhere[j].section))
                LM__CFAIL(path, k, k->str, "section '%s' is not used by metadata generation: %s",
                          k->str, elsewhere[j].hint);
        int sec = lm__yn_key(path, k, NULL, "section", sections, N_SECTIONS, seen);
        LM_CALL(sec);
        LM_CALL(lm__yn_map(path, v, sections[sec], &m));
        if (sec == S_METADATA)
            LM_CALL(parse_metadata(path, k, m, c));
        else
            LM_CALL(parse_recipe(path, m, sec, c->base));
        if (sec == S_MODEL) model = m;
    }
    if (!seen[S_METADATA])
        LM__CFAIL(path, root, "metadata",
                  "required section missing: expected metadata: {output, architectures, epochs, "
                  "datasets}");
    if (model) LM_CALL(lm__config_arch(path, model, c->base));
    if (!c->base->has_arch) {
        const lm__ynode *at = model ? model : seen[S_MODEL] ? seen[S_MODEL] : root;
        LM__CFAIL(path, at, "model.space",
                  "required: the architecture space to sample from (mlp, chain, cell or gcnn)");
    }
    if (c->base->max_latency > 0) {
        const lm__ynode *cv = lm__config_lookup(model, "constraints");
        LM__CFAIL(path, cv ? cv : model, "model.constraints.max_latency_ms",
                  "not supported by metadata generation (latency depends on the machine); "
                  "use max_params or max_flops");
    }
    lm_config *b = c->base;
    b->train.epochs = c->epochs;
    LM_CALL(set_str(&b->dataset, c->datasets[0].dataset));
    LM_CALL(set_str(&b->output, c->output));
    b->validation_fraction = c->datasets[0].validation_fraction;
    b->train_subset = c->datasets[0].train_subset;
    if (lm_train_params_check(&b->train) < 0) {
        const lm__ynode *at = seen[S_TRAINING] ? seen[S_TRAINING] : root;
        LM__CWRAP(path, at, "training");
    }
    return LM_OK;
}

int lm_meta_config_parse(const char *text, size_t len, const char *path, lm_meta_config **out) {
    *out = NULL;
    if (!path) path = "<string>";
    LM_CHECK(text || len == 0, LM_EINVAL, "%s: no config text", path);
    LM_CHECK(len <= LM_CONFIG_MAX_BYTES, LM_ECONFIG,
             "%s: config is %zu bytes; the limit is %d bytes", path, len, LM_CONFIG_MAX_BYTES);
    lm_meta_config *c = calloc(1, sizeof *c);
    LM_CHECK_ALLOC(c);
    c->progress_interval = 10;
    lm__ynode *root = NULL;
    int rc;
    c->path = lm_strdup(path);
    if (!c->path) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
        goto fail;
    }
    LM_CALL_GOTO(rc, make_base(path, text, len, &c->base), fail);
    LM_CALL_GOTO(rc, lm__yaml_load(text, len, path, &root), fail);
    LM_CALL_GOTO(rc, parse_root(path, root, c), fail);
    lm__yaml_free(root);
    *out = c;
    return LM_OK;
fail:
    lm__yaml_free(root);
    lm_meta_config_destroy(&c);
    return rc;
}

int lm_meta_config_load(const char *path, lm_meta_config **out) {
    *out = NULL;
    char *buf;
    size_t len;
    LM_CALL(lm__config_read(path, &buf, &len));
    int rc = lm_meta_config_parse(buf, len, path, out);
    free(buf);
    return rc < 0 ? lm_error_trace(__FILE__, __LINE__, __func__, rc) : LM_OK;
}

void lm_meta_config_destroy(lm_meta_config **cp) {
    if (!cp || !*cp) return;
    lm_meta_config *c = *cp;
    for (int i = 0; i < c->n_datasets; i++) {
        free(c->datasets[i].dataset);
        free(c->datasets[i].name);
    }
    free(c->datasets);
    free(c->path);
    free(c->output);
    lm_config_destroy(&c->base);
    free(c);
    *cp = NULL;
}

void lm_meta_config_dataset(const lm_meta_config *c, int i, lm_config *out) {
    *out = *c->base;
    out->dataset = c->datasets[i].dataset;
    out->validation_fraction = c->datasets[i].validation_fraction;
    out->train_subset = c->datasets[i].train_subset;
}
