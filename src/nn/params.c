/* Training parameters: defaults, setting by name (how a search space's point becomes
 * a trial's settings), range checks and the learning-rate schedules. */
#include "lamarck/error.h"
#include "lamarck/nn.h"
#include "lamarck/strutil.h"

#include <math.h>
#include <string.h>

static const char *const names[] = {"epochs", "batch_size", "lr",        "momentum",
                                    "nesterov", "weight_decay", "schedule", "step_size",
                                    "gamma",  "depth",      "width",     "dropout"};
#define N_NAMES ((int)(sizeof names / sizeof *names))

static const char *const schedules[] = {"constant", "step", "cosine"};

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
    p->depth = 2;
    p->width = 256;
    p->dropout = 0;
}

const char *const *lm_train_params_names(int *n) {
    *n = N_NAMES;
    return names;
}

static int set_int(int *field, const char *name, double v, double lo, double hi) {
    LM_CHECK(isfinite(v) && v == floor(v), LM_ERANGE, "'%s' must be an integer, got %g", name, v);
    LM_CHECK(v >= lo && v <= hi, LM_ERANGE, "'%s' must be in [%g, %g], got %g", name, lo, hi, v);
    *field = (int)v;
    return LM_OK;
}

/* Closed bounds unless open_lo/open_hi: the message states the interval as checked. */
static int set_real(double *field, const char *name, double v, double lo, double hi, int open_lo,
                    int open_hi) {
    int ok = isfinite(v) && (open_lo ? v > lo : v >= lo) && (open_hi ? v < hi : v <= hi);
    LM_CHECK(ok, LM_ERANGE, "'%s' must be in %c%g, %g%c, got %g", name, open_lo ? '(' : '[', lo,
             hi, open_hi ? ')' : ']', v);
    *field = v;
    return LM_OK;
}

int lm_train_params_set(lm_train_params *p, const char *name, double num, const char *label) {
    if (!strcmp(name, "schedule")) {
        LM_CHECK(label, LM_ERANGE, "'schedule' must be one of constant, step, cosine");
        for (int i = 0; i < 3; i++)
            if (!strcmp(label, schedules[i])) {
                p->schedule = (lm_schedule)i;
                return LM_OK;
            }
        LM_FAIL(LM_ERANGE, "'schedule' must be one of constant, step, cosine, got '%s'", label);
    }
    if (!strcmp(name, "nesterov")) {
        if (label && (!strcmp(label, "true") || !strcmp(label, "false"))) {
            p->nesterov = !strcmp(label, "true");
            return LM_OK;
        }
        return set_int(&p->nesterov, name, num, 0, 1);
    }
    LM_CHECK(!label || isfinite(num), LM_ERANGE, "'%s' takes a number, got '%s'", name, label);
    if (!strcmp(name, "epochs")) return set_int(&p->epochs, name, num, 1, 100000);
    if (!strcmp(name, "batch_size")) return set_int(&p->batch_size, name, num, 1, 1 << 20);
    if (!strcmp(name, "lr")) return set_real(&p->lr, name, num, 0, 100, 1, 0);
    if (!strcmp(name, "momentum")) return set_real(&p->momentum, name, num, 0, 1, 0, 1);
    if (!strcmp(name, "weight_decay")) return set_real(&p->weight_decay, name, num, 0, 1, 0, 0);
    if (!strcmp(name, "step_size")) return set_int(&p->step_size, name, num, 1, 100000);
    if (!strcmp(name, "gamma")) return set_real(&p->gamma, name, num, 0, 1, 1, 0);
    if (!strcmp(name, "depth")) return set_int(&p->depth, name, num, 0, 64);
    if (!strcmp(name, "width")) return set_int(&p->width, name, num, 1, 1 << 16);
    if (!strcmp(name, "dropout")) return set_real(&p->dropout, name, num, 0, 1, 0, 1);
    const char *near = lm_str_closest(name, names, N_NAMES);
    if (near) LM_FAIL(LM_EINVAL, "unknown training parameter '%s' (did you mean '%s'?)", name, near);
    LM_FAIL(LM_EINVAL, "unknown training parameter '%s'", name);
}

int lm_train_params_check(const lm_train_params *p) {
    lm_train_params q = *p;
    LM_CALL(set_int(&q.epochs, "epochs", p->epochs, 1, 100000));
    LM_CALL(set_int(&q.batch_size, "batch_size", p->batch_size, 1, 1 << 20));
    LM_CALL(set_real(&q.lr, "lr", p->lr, 0, 100, 1, 0));
    LM_CALL(set_real(&q.momentum, "momentum", p->momentum, 0, 1, 0, 1));
    LM_CALL(set_int(&q.nesterov, "nesterov", p->nesterov, 0, 1));
    LM_CALL(set_real(&q.weight_decay, "weight_decay", p->weight_decay, 0, 1, 0, 0));
    LM_CHECK((unsigned)p->schedule <= LM_SCHED_COSINE, LM_ERANGE, "'schedule' is invalid");
    LM_CALL(set_int(&q.step_size, "step_size", p->step_size, 1, 100000));
    LM_CALL(set_real(&q.gamma, "gamma", p->gamma, 0, 1, 1, 0));
    LM_CALL(set_int(&q.depth, "depth", p->depth, 0, 64));
    LM_CALL(set_int(&q.width, "width", p->width, 1, 1 << 16));
    LM_CALL(set_real(&q.dropout, "dropout", p->dropout, 0, 1, 0, 1));
    return LM_OK;
}

double lm_lr_at(const lm_train_params *p, long it, long iters_per_epoch, long total) {
    switch (p->schedule) {
    case LM_SCHED_STEP: {
        long epoch = iters_per_epoch > 0 ? it / iters_per_epoch : 0;
        return p->lr * pow(p->gamma, (double)(epoch / p->step_size));
    }
    case LM_SCHED_COSINE:
        /* SGDR without restarts (Loshchilov and Hutter 2017), annealed to 0 at total. */
        if (total <= 0) return p->lr;
        return 0.5 * p->lr * (1.0 + cos(3.141592653589793 * (double)it / (double)total));
    case LM_SCHED_CONSTANT:
        break;
    }
    return p->lr;
}
