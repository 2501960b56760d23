/* Training parameters: defaults, setting by name (how a search space's point becomes
 * a trial's settings), range checks, the YAML section of each name and the
 * learning-rate schedules.
 *
 * One table describes every parameter: its name, section, kind, range and where it
 * lives in lm_train_params. Setting, checking and listing all read it, so a new
 * parameter is one line here and one field in nn.h. */
#include "lamarck/error.h"
#include "lamarck/nn.h"
#include "lamarck/strutil.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

typedef enum { K_INT, K_REAL, K_BOOL, K_CHOICE } kind;
enum { S_TRAINING, S_MODEL, S_PREPROCESSING, S_AUGMENTATION };
static const char *const section_names[] = {"training", "model", "preprocessing", "augmentation"};

/* Every enum field is stored through an int: the compiler gives these enums int's size. */
_Static_assert(sizeof(lm_schedule) == sizeof(int) && sizeof(lm_model) == sizeof(int) &&
                   sizeof(lm_init) == sizeof(int) &&
                   sizeof(lm_scaler) == sizeof(int) && sizeof(lm_impute) == sizeof(int),
               "enum fields are set through int pointers");

static const char *const schedules[] = {"constant", "step", "cosine", NULL};
static const char *const models[] = {"mlp", "cnn", NULL};
static const char *const inits[] = {"pytorch", "he", NULL};
static const char *const scalers[] = {"none", "standardize", "minmax", NULL};
static const char *const imputes[] = {"mean", "median", "most_frequent", NULL};

typedef struct param {
    const char *name;
    int section;
    kind k;
    size_t off;                  /* of the field in lm_train_params */
    double lo, hi;               /* K_INT, K_REAL */
    int open_lo, open_hi;        /* K_REAL: interval ends excluded */
    int odd;                     /* K_INT: odd values only */
    const char *const *choices;  /* K_CHOICE: labels, NULL-terminated, in enum order */
} param;

#define OFF(f) offsetof(lm_train_params, f)

static const param params[] = {
    {"epochs", S_TRAINING, K_INT, OFF(epochs), 1, 100000, 0, 0, 0, NULL},
    {"batch_size", S_TRAINING, K_INT, OFF(batch_size), 1, 1 << 20, 0, 0, 0, NULL},
    {"lr", S_TRAINING, K_REAL, OFF(lr), 0, 100, 1, 0, 0, NULL},
    {"momentum", S_TRAINING, K_REAL, OFF(momentum), 0, 1, 0, 1, 0, NULL},
    {"nesterov", S_TRAINING, K_BOOL, OFF(nesterov), 0, 1, 0, 0, 0, NULL},
    {"weight_decay", S_TRAINING, K_REAL, OFF(weight_decay), 0, 1, 0, 0, 0, NULL},
    {"schedule", S_TRAINING, K_CHOICE, OFF(schedule), 0, 0, 0, 0, 0, schedules},
    {"step_size", S_TRAINING, K_INT, OFF(step_size), 1, 100000, 0, 0, 0, NULL},
    {"gamma", S_TRAINING, K_REAL, OFF(gamma), 0, 1, 1, 0, 0, NULL},
    {"model", S_MODEL, K_CHOICE, OFF(model), 0, 0, 0, 0, 0, models},
    {"depth", S_MODEL, K_INT, OFF(depth), 0, 64, 0, 0, 0, NULL},
    {"width", S_MODEL, K_INT, OFF(width), 1, 1 << 16, 0, 0, 0, NULL},
    {"dropout", S_MODEL, K_REAL, OFF(dropout), 0, 1, 0, 1, 0, NULL},
    {"conv_layers", S_MODEL, K_INT, OFF(conv_layers), 1, 8, 0, 0, 0, NULL},
    {"filters", S_MODEL, K_INT, OFF(filters), 1, 1024, 0, 0, 0, NULL},
    {"kernel", S_MODEL, K_INT, OFF(kernel), 1, 11, 0, 0, 1, NULL},
    {"batchnorm", S_MODEL, K_BOOL, OFF(batchnorm), 0, 1, 0, 0, 0, NULL},
    {"init", S_MODEL, K_CHOICE, OFF(init), 0, 0, 0, 0, 0, inits},
    {"scaler", S_PREPROCESSING, K_CHOICE, OFF(preprocess.scaler), 0, 0, 0, 0, 0, scalers},
    {"impute", S_PREPROCESSING, K_CHOICE, OFF(preprocess.impute), 0, 0, 0, 0, 0, imputes},
    {"missing_indicator", S_PREPROCESSING, K_BOOL, OFF(preprocess.missing_indicator), 0, 1, 0, 0,
     0, NULL},
    {"one_hot", S_PREPROCESSING, K_BOOL, OFF(preprocess.one_hot), 0, 1, 0, 0, 0, NULL},
    {"crop_padding", S_AUGMENTATION, K_INT, OFF(augment.crop_padding), 0, 16, 0, 0, 0, NULL},
    {"flip", S_AUGMENTATION, K_BOOL, OFF(augment.flip), 0, 1, 0, 0, 0, NULL},
    {"cutout", S_AUGMENTATION, K_INT, OFF(augment.cutout), 0, 64, 0, 0, 0, NULL},
    {"mixup_alpha", S_AUGMENTATION, K_REAL, OFF(augment.mixup_alpha), 0, 10, 0, 0, 0, NULL},
    {"noise_std", S_AUGMENTATION, K_REAL, OFF(augment.noise_std), 0, 1, 0, 0, 0, NULL},
    {"contrast", S_AUGMENTATION, K_REAL, OFF(augment.contrast), 0, 1, 0, 0, 0, NULL},
    {"brightness", S_AUGMENTATION, K_REAL, OFF(augment.brightness), 0, 1, 0, 0, 0, NULL},
};
#define N_PARAMS ((int)(sizeof params / sizeof *params))

/* The names in table order, for lm_train_params_names (the unit tests check that
 * each is the table's). */
static const char *const names[] = {
    "epochs",    "batch_size",  "lr",        "momentum",     "nesterov",  "weight_decay",
    "schedule",  "step_size",   "gamma",     "model",        "depth",     "width",
    "dropout",   "conv_layers", "filters",   "kernel",       "batchnorm", "init", "scaler",
    "impute",    "missing_indicator", "one_hot", "crop_padding", "flip",  "cutout",
    "mixup_alpha", "noise_std", "contrast",  "brightness"};
_Static_assert(sizeof names / sizeof *names == sizeof params / sizeof *params,
               "one name per parameter");

void lm_train_params_default(lm_train_params *p) {
    memset(p, 0, sizeof *p);
    p->epochs = 3;
    p->batch_size = 128;
    p->lr = 0.05;
    p->momentum = 0.9;
    p->nesterov = 0;
    p->weight_decay = 0;
    p->schedule = LM_SCHED_CONSTANT;
    p->step_size = 1;
    p->gamma = 0.1;
    p->model = LM_MODEL_MLP;
    p->depth = 2;
    p->width = 256;
    p->dropout = 0;
    p->conv_layers = 2;
    p->filters = 32;
    p->kernel = 3;
    p->batchnorm = 0;
    p->init = LM_INIT_PYTORCH;
    lm_preprocess_params_default(&p->preprocess);
    /* augment: all zero, every augmentation off */
}

const char *const *lm_train_params_names(int *n) {
    *n = N_PARAMS;
    return names;
}

static const param *find(const char *name) {
    for (int i = 0; i < N_PARAMS; i++)
        if (!strcmp(params[i].name, name)) return &params[i];
    return NULL;
}

const char *lm_train_param_section(const char *name) {
    const param *q = name ? find(name) : NULL;
    return q ? section_names[q->section] : NULL;
}

static int *int_field(lm_train_params *p, const param *q) {
    return (int *)(void *)((char *)p + q->off);
}

static double *real_field(lm_train_params *p, const param *q) {
    return (double *)(void *)((char *)p + q->off);
}

static int choice_list(const param *q, char *buf, size_t cap) {
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; q->choices[i] && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", q->choices[i]);
    return LM_OK;
}

/* Checks v against q's range; LM_ERANGE with the interval as checked. */
static int check_value(const param *q, double v) {
    switch (q->k) {
    case K_INT:
    case K_BOOL:
        LM_CHECK(isfinite(v) && v == floor(v), LM_ERANGE, "'%s' must be an integer, got %g", q->name,
                 v);
        LM_CHECK(v >= q->lo && v <= q->hi, LM_ERANGE, "'%s' must be in [%g, %g], got %g", q->name,
                 q->lo, q->hi, v);
        LM_CHECK(!q->odd || fmod(v, 2.0) != 0.0, LM_ERANGE, "'%s' must be odd, got %g", q->name, v);
        return LM_OK;
    case K_REAL: {
        int ok = isfinite(v) && (q->open_lo ? v > q->lo : v >= q->lo) &&
                 (q->open_hi ? v < q->hi : v <= q->hi);
        LM_CHECK(ok, LM_ERANGE, "'%s' must be in %c%g, %g%c, got %g", q->name, q->open_lo ? '(' : '[',
                 q->lo, q->hi, q->open_hi ? ')' : ']', v);
        return LM_OK;
    }
    case K_CHOICE: {
        int n = 0;
        while (q->choices[n]) n++;
        char list[128];
        choice_list(q, list, sizeof list);
        LM_CHECK(v == floor(v) && v >= 0 && v < n, LM_ERANGE, "'%s' must be one of %s", q->name,
                 list);
        return LM_OK;
    }
    }
    LM_FAIL(LM_EINTERNAL, "parameter '%s' has an unknown kind", q->name);
}

int lm_train_params_set(lm_train_params *p, const char *name, double num, const char *label) {
    const param *q = find(name);
    if (!q) {
        const char *near = lm_str_closest(name, names, N_PARAMS);
        if (near) LM_FAIL(LM_EINVAL, "unknown training parameter '%s' (did you mean '%s'?)", name, near);
        LM_FAIL(LM_EINVAL, "unknown training parameter '%s'", name);
    }
    if (q->k == K_CHOICE) {
        char list[128];
        choice_list(q, list, sizeof list);
        LM_CHECK(label, LM_ERANGE, "'%s' must be one of %s", name, list);
        for (int i = 0; q->choices[i]; i++)
            if (!strcmp(label, q->choices[i])) {
                *int_field(p, q) = i;
                return LM_OK;
            }
        LM_FAIL(LM_ERANGE, "'%s' must be one of %s, got '%s'", name, list, label);
    }
    if (q->k == K_BOOL && label && (!strcmp(label, "true") || !strcmp(label, "false"))) {
        *int_field(p, q) = !strcmp(label, "true");
        return LM_OK;
    }
    /* A label with a finite num is the number's text (a YAML scalar): num counts. */
    LM_CHECK(!label || isfinite(num), LM_ERANGE,
             q->k == K_BOOL ? "'%s': expected true or false, got '%s'"
                            : "'%s': expected a number, got '%s'",
             name, label);
    LM_CALL(check_value(q, num));
    if (q->k == K_REAL)
        *real_field(p, q) = num;
    else
        *int_field(p, q) = (int)num;
    return LM_OK;
}

int lm_train_params_check(const lm_train_params *p) {
    lm_train_params q = *p;
    for (int i = 0; i < N_PARAMS; i++) {
        const param *r = &params[i];
        double v = r->k == K_REAL ? *real_field(&q, r) : (double)*int_field(&q, r);
        LM_CALL(check_value(r, v));
    }
    return LM_OK;
}

double lm_lr_at(const lm_train_params *p, long it, long iters_per_epoch, long total) {
    switch (p->schedule) {
    case LM_SCHED_STEP: {
        long epoch = iters_per_epoch > 0 ? it / iters_per_epoch : 0;
        return p->lr * pow(p->gamma, (double)(epoch / p->step_size));
    }
    case LM_SCHED_COSINE:
        /* SGDR without restarts (Loshchilov and Hutter 2017), annealed to 0 at total;
         * past the horizon (training on after it) the rate stays 0 rather than rising
         * back along the cosine. */
        if (total <= 0) return p->lr;
        if (it >= total) return 0.0;
        return 0.5 * p->lr * (1.0 + cos(3.141592653589793 * (double)it / (double)total));
    case LM_SCHED_CONSTANT:
        break;
    }
    return p->lr;
}
